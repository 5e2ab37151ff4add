//! The typed migration planner: what Heroku says about an app, turned into ordered steps,
//! each a tool call of its own with the facts policy needs (environment, $/h, data at risk,
//! downtime). Pure: the same app and options always give the same plan.
//!
//! 1. secrets: every config var to SSM Parameter Store (SecureString, under
//!    `/steward/APP/`); the vars an add-on manages are re-pointed at the new target;
//! 2. database: an RDS PostgreSQL instance sized from the Heroku Postgres plan (or the
//!    existing target given with `--target-database-url`: no step);
//! 3. compute: an ECS Fargate service per process type, CPU and memory from the dyno size,
//!    the count from the formation, `web` behind a load balancer;
//! 4. data copy: maintenance mode on at Heroku, `pg_dump` → `pg_restore`, verified;
//! 5. cutover: each custom domain's DNS to the load balancer;
//! 6. Heroku's formation to zero once the new service answers its health check.

use serde::{Deserialize, Serialize};
use steward_heroku::HerokuApp;
use steward_tools::{Environment, FormationEntry, MigrationStep, ServiceSpec, StepAction, ToolCall};

use crate::prices;

/// What the person starting a migration chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanOptions {
    pub environment: Environment,
    /// The image to run (default for a container app: its image in Heroku's registry).
    pub image: Option<String>,
    /// An existing PostgreSQL target was given (`--target-database-url`): no RDS instance.
    pub existing_database: bool,
    /// What the scale-down waits for (default: the load balancer's address).
    pub health_url: Option<String>,
    /// The ECS cluster the services run in.
    pub cluster: String,
    /// `pg_dump`/`pg_restore` parallel jobs.
    pub copy_jobs: u32,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            environment: Environment::Prod,
            image: None,
            existing_database: false,
            health_url: None,
            cluster: "steward".into(),
            copy_jobs: 2,
        }
    }
}

/// One step as planned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedStep {
    pub action: StepAction,
    pub cost_cents_per_hour: i64,
    pub data_at_risk: bool,
    pub downtime_minutes: u32,
    /// Why the step looks as it does (the plan or size it was mapped from).
    pub why: String,
}

/// The plan for one app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub app: String,
    pub environment: Environment,
    /// The Heroku region, and the AWS region it maps to.
    pub heroku_region: String,
    pub aws_region: String,
    pub steps: Vec<PlannedStep>,
    /// What a person should know (add-ons without a target, the image used).
    pub notes: Vec<String>,
    /// Why the plan cannot start as it stands (a build-pack app with no image).
    pub blockers: Vec<String>,
}

/// Fargate CPU units and memory (MB) for a dyno size: the memory the dyno has, on the
/// smallest Fargate size that holds it.
pub fn fargate_size(dyno: &str) -> (u32, u32) {
    match dyno.to_ascii_lowercase().as_str() {
        "eco" | "basic" | "free" | "hobby" | "standard-1x" => (256, 512),
        "standard-2x" => (512, 1024),
        "performance-m" | "private-m" | "shield-m" => (1024, 3072),
        "performance-l" | "private-l" | "shield-l" => (4096, 16384),
        "performance-l-ram" | "private-l-ram" | "shield-l-ram" => (4096, 30720),
        "performance-xl" | "private-xl" | "shield-xl" => (8192, 61440),
        "performance-2xl" | "private-2xl" | "shield-2xl" => (16384, 122880),
        _ => (512, 1024),
    }
}

/// The RDS instance class, storage (GB) and Multi-AZ for a Heroku Postgres plan.
pub fn rds_size(plan: &str) -> (&'static str, u32, bool) {
    let tier = plan.rsplit(':').next().unwrap_or(plan);
    let multi_az = tier.starts_with("premium") || tier.starts_with("private") || tier.starts_with("shield");
    let level = tier.rsplit('-').next().unwrap_or("0");
    let (class, gb) = match (tier.split('-').next().unwrap_or(""), level) {
        ("mini" | "basic" | "hobby" | "essential", "0" | "dev" | "basic" | "mini") => ("db.t4g.micro", 20),
        ("essential", "1") => ("db.t4g.micro", 20),
        ("essential", _) => ("db.t4g.small", 40),
        (_, "0") => ("db.t4g.medium", 64),
        (_, "2") => ("db.m6g.large", 256),
        (_, "3") => ("db.m6g.xlarge", 512),
        (_, "4") => ("db.m6g.2xlarge", 768),
        (_, "5") => ("db.m6g.4xlarge", 1024),
        (_, "6" | "7" | "8" | "9" | "10") => ("db.m6g.8xlarge", 1536),
        _ => ("db.t4g.medium", 64),
    };
    (class, gb, multi_az)
}

/// The AWS region a Heroku region runs in.
pub fn aws_region(heroku_region: &str) -> &'static str {
    match heroku_region {
        "eu" | "dublin" => "eu-west-1",
        "tokyo" => "ap-northeast-1",
        "sydney" => "ap-southeast-2",
        "frankfurt" => "eu-central-1",
        "oregon" => "us-west-2",
        "montreal" => "ca-central-1",
        "mumbai" => "ap-south-1",
        "singapore" => "ap-southeast-1",
        _ => "us-east-1",
    }
}

/// The SSM prefix of an app's parameters.
pub fn secrets_prefix(app: &str) -> String {
    format!("/steward/{app}/")
}

/// The port a web process listens on (`PORT` is set to it, as Heroku does).
pub const WEB_PORT: u16 = 5000;

/// Plan moving `app` with `options`.
pub fn plan(app: &HerokuApp, options: &PlanOptions) -> Plan {
    let prefix = secrets_prefix(&app.name);
    let mut notes = Vec::new();
    let mut blockers = Vec::new();
    let mut steps = Vec::new();
    let postgres = app.postgres();
    let repoint: Vec<String> = postgres.map(|p| p.config_vars.clone()).unwrap_or_default();
    let addon_vars = app.addon_vars();
    let copy: Vec<String> = app.config_vars.keys().filter(|k| !addon_vars.contains(*k)).cloned().collect();
    for addon in app.addons.iter().filter(|a| a.service != "heroku-postgresql") {
        notes.push(format!(
            "add-on {} ({}) has no AWS target in this plan: {} is neither copied nor set; provide one and set it",
            addon.name,
            addon.plan,
            addon.config_vars.join(", ")
        ));
    }
    steps.push(PlannedStep {
        why: format!("{} config vars copied; {} managed by Heroku Postgres, re-pointed", copy.len(), repoint.len()),
        action: StepAction::StoreSecrets { prefix: prefix.clone(), copy: copy.clone(), repoint: repoint.clone() },
        cost_cents_per_hour: 0,
        data_at_risk: false,
        downtime_minutes: 0,
    });
    let url_parameter = format!("{prefix}DATABASE_URL");
    if let (Some(pg), false) = (postgres, options.existing_database) {
        let (class, gb, multi_az) = rds_size(&pg.plan);
        let hour = prices::rds_hour(class) * if multi_az { 2.0 } else { 1.0 } + prices::storage_hour(gb);
        steps.push(PlannedStep {
            why: format!("from {}", pg.plan),
            action: StepAction::CreateDatabase {
                identifier: format!("steward-{}", app.name),
                instance_class: class.to_string(),
                storage_gb: gb,
                engine_version: "16".into(),
                multi_az,
                url_parameter: url_parameter.clone(),
            },
            cost_cents_per_hour: prices::cents(hour),
            data_at_risk: false,
            downtime_minutes: 0,
        });
    }
    let image_for = |process_type: &str| -> Option<String> {
        options
            .image
            .clone()
            .or_else(|| app.is_container().then(|| format!("registry.heroku.com/{}/{process_type}", app.name)))
    };
    if options.image.is_none() {
        if app.is_container() {
            notes.push(format!(
                "images: the app's own in Heroku's registry (registry.heroku.com/{}/TYPE); ECS needs credentials to pull them, or push them to ECR and pass --image",
                app.name
            ));
        } else {
            blockers.push(format!(
                "{} is built by build packs ({}); Steward runs images: build one (`pack build`, or a Dockerfile and `heroku container:push`) and pass --image REF",
                app.name,
                app.buildpacks.as_deref().unwrap_or("unknown")
            ));
        }
    }
    let mut formation: Vec<&steward_heroku::Process> = app.formation.iter().collect();
    formation.sort_by_key(|p| (p.process_type != "web", p.process_type.clone()));
    let secrets: Vec<String> = copy.iter().chain(repoint.iter()).cloned().collect();
    for p in &formation {
        let (cpu, memory) = fargate_size(&p.size);
        let web = p.process_type == "web";
        let hour = prices::fargate_hour(cpu, memory) * f64::from(p.quantity) + if web { prices::ALB_HOUR } else { 0.0 };
        steps.push(PlannedStep {
            why: format!("{}×{} at Heroku", p.quantity, p.size),
            action: StepAction::DeployService(ServiceSpec {
                cluster: options.cluster.clone(),
                process_type: p.process_type.clone(),
                image: image_for(&p.process_type).unwrap_or_else(|| "(build an image first)".into()),
                command: p.command.clone(),
                cpu,
                memory_mb: memory,
                desired_count: p.quantity,
                web,
                port: WEB_PORT,
                secrets: secrets.clone(),
                secrets_prefix: prefix.clone(),
            }),
            cost_cents_per_hour: prices::cents(hour),
            data_at_risk: false,
            downtime_minutes: 0,
        });
    }
    if postgres.is_some() {
        steps.push(PlannedStep {
            why: "maintenance mode at Heroku while the data moves; every table's rows and keys checked".into(),
            action: StepAction::CopyData {
                source_var: "DATABASE_URL".into(),
                target_parameter: url_parameter.clone(),
                jobs: options.copy_jobs.clamp(1, 16),
            },
            cost_cents_per_hour: 0,
            data_at_risk: true,
            downtime_minutes: 10,
        });
    } else {
        notes.push("no Heroku Postgres add-on: no data to copy".into());
    }
    let has_web = formation.iter().any(|p| p.process_type == "web");
    for d in app.custom_domains() {
        if has_web {
            steps.push(PlannedStep {
                why: format!("now a CNAME to {}", d.cname.as_deref().unwrap_or("Heroku")),
                action: StepAction::CutOverDns { domain: d.hostname.clone() },
                cost_cents_per_hour: 0,
                data_at_risk: false,
                downtime_minutes: 0,
            });
        }
    }
    if !has_web && app.custom_domains().next().is_some() {
        notes.push("no web process: the custom domains are left as they are".into());
    }
    let processes: Vec<FormationEntry> = app
        .formation
        .iter()
        .map(|p| FormationEntry { process_type: p.process_type.clone(), quantity: p.quantity, size: p.size.clone() })
        .collect();
    let saved: f64 = app.formation.iter().map(|p| prices::dyno_hour(&p.size) * f64::from(p.quantity)).sum();
    steps.push(PlannedStep {
        why: format!("after {} answers 2xx", options.health_url.as_deref().unwrap_or("the new load balancer")),
        action: StepAction::ScaleDownHeroku { processes, health_url: options.health_url.clone() },
        cost_cents_per_hour: -prices::cents(saved),
        data_at_risk: false,
        downtime_minutes: 0,
    });
    Plan {
        app: app.name.clone(),
        environment: options.environment,
        heroku_region: app.region.clone(),
        aws_region: aws_region(&app.region).to_string(),
        steps,
        notes,
        blockers,
    }
}

impl Plan {
    /// The steps as tool calls of migration `migration`.
    pub fn calls(&self, migration: i64) -> Vec<ToolCall> {
        self.steps.iter().map(|s| ToolCall::MigrationStep(Box::new(self.step(migration, s)))).collect()
    }

    pub fn step(&self, migration: i64, s: &PlannedStep) -> MigrationStep {
        MigrationStep {
            app: self.app.clone(),
            migration,
            environment: self.environment,
            action: s.action.clone(),
            cost_cents_per_hour: s.cost_cents_per_hour,
            data_at_risk: s.data_at_risk,
            downtime_minutes: s.downtime_minutes,
        }
    }

    /// What the new side costs an hour, and what the scale-down saves, USD.
    pub fn costs(&self) -> (f64, f64) {
        let added = self.steps.iter().map(|s| s.cost_cents_per_hour.max(0)).sum::<i64>() as f64 / 100.0;
        let saved = -self.steps.iter().map(|s| s.cost_cents_per_hour.min(0)).sum::<i64>() as f64 / 100.0;
        (added, saved)
    }
}
