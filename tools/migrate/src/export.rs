//! The plan's target as OpenTofu (or Terraform) files: the SSM parameters, the RDS instance,
//! the ECS cluster, task definitions and services, the web load balancer and the DNS
//! records. Secret values are never written: each config var is a `sensitive` variable to
//! be given at apply time (`TF_VAR_…`), as is the database's password.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use steward_tools::StepAction;

use crate::plan::{Plan, WEB_PORT};

/// A string literal in HCL: quotes, backslashes and template sequences escaped.
fn s(text: &str) -> String {
    let escaped =
        text.replace('\\', "\\\\").replace('"', "\\\"").replace("${", "$${").replace("%{", "%%{").replace('\n', "\\n");
    format!("\"{escaped}\"")
}

/// A name usable as an HCL identifier.
fn ident(text: &str) -> String {
    let mut out: String = text.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    if out.chars().next().is_none_or(|c| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// The files, by name.
pub fn files(plan: &Plan) -> Vec<(String, String)> {
    let app = &plan.app;
    let mut vars = String::new();
    let mut secrets = String::new();
    let mut database = String::new();
    let mut services = String::new();
    let mut dns = String::new();
    let _ = writeln!(
        vars,
        "variable \"region\" {{\n  type    = string\n  default = {}\n}}\n\nvariable \"vpc_id\" {{\n  type = string\n}}\n\nvariable \"subnet_ids\" {{\n  type = list(string)\n}}\n\nvariable \"security_group_ids\" {{\n  type    = list(string)\n  default = []\n}}\n\nvariable \"execution_role_arn\" {{\n  description = \"The role ECS pulls images and reads the SSM parameters with.\"\n  type        = string\n}}",
        s(&plan.aws_region)
    );
    let mut has_web = false;
    for step in &plan.steps {
        match &step.action {
            StepAction::StoreSecrets { prefix, copy, repoint } => {
                for name in copy {
                    let v = ident(&format!("secret_{name}"));
                    let _ = writeln!(
                        vars,
                        "\nvariable \"{v}\" {{\n  description = {}\n  type        = string\n  sensitive   = true\n}}",
                        s(&format!("The value of {name} (from `heroku config:get {name} -a {app}`)."))
                    );
                    let _ = writeln!(
                        secrets,
                        "resource \"aws_ssm_parameter\" \"{}\" {{\n  name  = {}\n  type  = \"SecureString\"\n  value = var.{v}\n}}\n",
                        ident(name),
                        s(&format!("{prefix}{name}"))
                    );
                }
                let creates_database = plan.steps.iter().any(|s| matches!(s.action, StepAction::CreateDatabase { .. }));
                for name in repoint {
                    if name == "DATABASE_URL" && creates_database {
                        continue; // database.tf writes it from the new instance
                    }
                    // An existing target database, or another add-on's var: given at apply time.
                    let v = ident(&format!("secret_{name}"));
                    let _ = writeln!(
                        vars,
                        "\nvariable \"{v}\" {{\n  description = {}\n  type        = string\n  sensitive   = true\n}}",
                        s(&format!("{name} on the new side (Heroku's points at the add-on it came from)."))
                    );
                    let _ = writeln!(
                        secrets,
                        "resource \"aws_ssm_parameter\" \"{}\" {{\n  name  = {}\n  type  = \"SecureString\"\n  value = var.{v}\n}}\n",
                        ident(name),
                        s(&format!("{prefix}{name}"))
                    );
                }
            }
            StepAction::CreateDatabase {
                identifier,
                instance_class,
                storage_gb,
                engine_version,
                multi_az,
                url_parameter,
            } => {
                let _ = writeln!(vars, "\nvariable \"db_password\" {{\n  description = \"The RDS master password.\"\n  type        = string\n  sensitive   = true\n}}");
                let _ = writeln!(
                    database,
                    "resource \"aws_db_instance\" \"main\" {{\n  identifier                = {}\n  engine                    = \"postgres\"\n  engine_version            = {}\n  instance_class            = {}\n  allocated_storage         = {storage_gb}\n  storage_type              = \"gp3\"\n  multi_az                  = {multi_az}\n  username                  = \"steward\"\n  password                  = var.db_password\n  skip_final_snapshot       = false\n  final_snapshot_identifier = {}\n  vpc_security_group_ids    = var.security_group_ids\n}}\n\nresource \"aws_ssm_parameter\" \"database_url\" {{\n  name  = {}\n  type  = \"SecureString\"\n  value = \"postgres://steward:${{var.db_password}}@${{aws_db_instance.main.address}}:${{aws_db_instance.main.port}}/postgres?sslmode=require\"\n}}",
                    s(identifier),
                    s(engine_version),
                    s(instance_class),
                    s(&crate::target::final_snapshot(identifier)),
                    s(url_parameter)
                );
            }
            StepAction::DeployService(spec) => {
                let name = ident(&spec.process_type);
                let secrets_list: Vec<String> = spec
                    .secrets
                    .iter()
                    .map(|v| {
                        format!("{{ name = {}, valueFrom = {} }}", s(v), s(&format!("{}{v}", spec.secrets_prefix)))
                    })
                    .collect();
                let port_mappings = if spec.web {
                    format!("[{{ containerPort = {WEB_PORT}, protocol = \"tcp\" }}]")
                } else {
                    "[]".into()
                };
                let _ = writeln!(
                    services,
                    "resource \"aws_ecs_task_definition\" \"{name}\" {{\n  family                   = {}\n  requires_compatibilities = [\"FARGATE\"]\n  network_mode             = \"awsvpc\"\n  cpu                      = {}\n  memory                   = {}\n  execution_role_arn       = var.execution_role_arn\n  container_definitions = jsonencode([{{\n    name         = {}\n    image        = {}\n    command      = [\"sh\", \"-c\", {}]\n    essential    = true\n    environment  = [{{ name = \"PORT\", value = \"{WEB_PORT}\" }}]\n    secrets      = [{}]\n    portMappings = {port_mappings}\n  }}])\n}}\n",
                    s(&format!("{app}-{}", spec.process_type)),
                    s(&spec.cpu.to_string()),
                    s(&spec.memory_mb.to_string()),
                    s(&spec.process_type),
                    s(&spec.image),
                    s(&spec.command),
                    secrets_list.join(", ")
                );
                let lb = if spec.web {
                    has_web = true;
                    format!("\n  load_balancer {{\n    target_group_arn = aws_lb_target_group.web.arn\n    container_name   = {}\n    container_port   = {WEB_PORT}\n  }}\n\n  depends_on = [aws_lb_listener.http]", s(&spec.process_type))
                } else {
                    String::new()
                };
                let _ = writeln!(
                    services,
                    "resource \"aws_ecs_service\" \"{name}\" {{\n  name            = {}\n  cluster         = aws_ecs_cluster.main.id\n  task_definition = aws_ecs_task_definition.{name}.arn\n  desired_count   = {}\n  launch_type     = \"FARGATE\"\n\n  network_configuration {{\n    subnets          = var.subnet_ids\n    security_groups  = var.security_group_ids\n    assign_public_ip = true\n  }}{lb}\n}}\n",
                    s(&format!("{app}-{}", spec.process_type)),
                    spec.desired_count
                );
                if !services.contains("aws_ecs_cluster\" \"main\"") {
                    services.insert_str(
                        0,
                        &format!("resource \"aws_ecs_cluster\" \"main\" {{\n  name = {}\n}}\n\n", s(&spec.cluster)),
                    );
                }
            }
            StepAction::CutOverDns { domain } => {
                // The zone is taken to be the domain less its first label (`www.shop.example`
                // in `shop.example`); a two-label domain is its zone's apex: an alias record.
                let r = ident(domain);
                let record = match domain.split_once('.').filter(|(_, rest)| rest.contains('.')) {
                    Some((_, zone)) => format!(
                        "data \"aws_route53_zone\" \"{r}\" {{\n  name = {}\n}}\n\nresource \"aws_route53_record\" \"{r}\" {{\n  zone_id = data.aws_route53_zone.{r}.zone_id\n  name    = {}\n  type    = \"CNAME\"\n  ttl     = 60\n  records = [aws_lb.web.dns_name]\n}}\n",
                        s(zone),
                        s(domain)
                    ),
                    None => format!(
                        "data \"aws_route53_zone\" \"{r}\" {{\n  name = {}\n}}\n\nresource \"aws_route53_record\" \"{r}\" {{\n  zone_id = data.aws_route53_zone.{r}.zone_id\n  name    = {}\n  type    = \"A\"\n\n  alias {{\n    name                   = aws_lb.web.dns_name\n    zone_id                = aws_lb.web.zone_id\n    evaluate_target_health = true\n  }}\n}}\n",
                        s(domain),
                        s(domain)
                    ),
                };
                dns.push_str(&record);
                dns.push('\n');
            }
            _ => {}
        }
    }
    if has_web {
        let lb = crate::aws::lb_name(app);
        let _ = writeln!(
            services,
            "resource \"aws_lb\" \"web\" {{\n  name               = {}\n  load_balancer_type = \"application\"\n  subnets            = var.subnet_ids\n  security_groups    = var.security_group_ids\n}}\n\nresource \"aws_lb_target_group\" \"web\" {{\n  name        = {}\n  port        = {WEB_PORT}\n  protocol    = \"HTTP\"\n  target_type = \"ip\"\n  vpc_id      = var.vpc_id\n}}\n\nresource \"aws_lb_listener\" \"http\" {{\n  load_balancer_arn = aws_lb.web.arn\n  port              = 80\n  protocol          = \"HTTP\"\n\n  default_action {{\n    type             = \"forward\"\n    target_group_arn = aws_lb_target_group.web.arn\n  }}\n}}\n\noutput \"load_balancer_dns_name\" {{\n  value = aws_lb.web.dns_name\n}}",
            s(&lb),
            s(&crate::aws::target_group_name(app))
        );
    }
    let header = format!(
        "# {app}: moved off Heroku by Steward. Generated from the typed migration plan; apply with\n# `tofu init && tofu apply`, the secrets given as TF_VAR_… variables.\n\n"
    );
    let main = format!(
        "{header}terraform {{\n  required_version = \">= 1.6\"\n  required_providers {{\n    aws = {{\n      source  = \"hashicorp/aws\"\n      version = \">= 5.0\"\n    }}\n  }}\n}}\n\nprovider \"aws\" {{\n  region = var.region\n}}\n"
    );
    let mut out = vec![("main.tf".to_string(), main), ("variables.tf".to_string(), vars)];
    for (name, text) in [("secrets.tf", secrets), ("database.tf", database), ("services.tf", services), ("dns.tf", dns)]
    {
        if !text.trim().is_empty() {
            out.push((name.to_string(), text));
        }
    }
    out
}

/// Write the files into `dir` (created if missing). Returns their paths.
pub fn write(plan: &Plan, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for (name, text) in files(plan) {
        let path = dir.join(name);
        std::fs::write(&path, text)?;
        written.push(path);
    }
    Ok(written)
}
