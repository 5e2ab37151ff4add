//! The typed planner (pure: the app and the options in, the steps out) and the OpenTofu
//! export of a plan: parsed as HCL here always, and checked by `tofu`/`terraform` when one
//! is installed.

use std::collections::BTreeSet;
use std::process::Command;

use steward_heroku::{Addon, DemoHeroku, HerokuApp, HerokuSource};
use steward_migrate::export;
use steward_migrate::{plan, Plan, PlanOptions};
use steward_tools::{Environment, StepAction};

async fn demo_app() -> HerokuApp {
    DemoHeroku::new().app("demo-shop").await.expect("the demo app")
}

fn kinds(plan: &Plan) -> Vec<&'static str> {
    plan.steps.iter().map(|s| s.action.kind()).collect()
}

#[tokio::test]
async fn the_demo_app_becomes_six_kinds_of_step_in_order_with_the_facts_policy_needs() {
    let app = demo_app().await;
    let plan = plan(&app, &PlanOptions { environment: Environment::Staging, ..PlanOptions::default() });
    assert_eq!(
        kinds(&plan),
        [
            "store_secrets",
            "create_database",
            "deploy_service",
            "deploy_service",
            "copy_data",
            "cut_over_dns",
            "scale_down_heroku"
        ]
    );
    assert!(plan.blockers.is_empty(), "{:?}", plan.blockers);
    assert_eq!((plan.heroku_region.as_str(), plan.aws_region.as_str()), ("us", "us-east-1"));
    match &plan.steps[0].action {
        StepAction::StoreSecrets { prefix, copy, repoint } => {
            assert_eq!(prefix, "/steward/demo-shop/");
            assert_eq!(copy, &["RAILS_ENV", "SECRET_KEY_BASE", "STRIPE_API_KEY"], "add-on vars are not copied");
            assert_eq!(repoint, &["DATABASE_URL"], "they are re-pointed");
        }
        other => panic!("{other:?}"),
    }
    match &plan.steps[1].action {
        StepAction::CreateDatabase { instance_class, storage_gb, multi_az, .. } => {
            assert_eq!((instance_class.as_str(), *storage_gb, *multi_az), ("db.t4g.micro", 20, false));
        }
        other => panic!("{other:?}"),
    }
    match &plan.steps[2].action {
        StepAction::DeployService(web) => {
            assert!(web.web && web.desired_count == 2 && (web.cpu, web.memory_mb) == (256, 512), "{web:?}");
            assert_eq!(web.image, "registry.heroku.com/demo-shop/web");
            assert_eq!(web.secrets.len(), 4, "every var reaches the task from SSM");
        }
        other => panic!("{other:?}"),
    }
    let copy = &plan.steps[4];
    assert!(copy.data_at_risk && copy.downtime_minutes > 0, "the copy is the risky step");
    assert!(plan.steps.iter().filter(|s| s.data_at_risk).count() == 1);
    let scale_down = plan.steps.last().expect("steps");
    assert!(scale_down.cost_cents_per_hour < 0, "the scale-down saves money");
    let (added, saved) = plan.costs();
    assert!(added > 0.0 && saved > 0.0);
    // Every call names the app, its migration and the environment.
    for call in plan.calls(7) {
        let step = call.migration_step().expect("a migration step");
        assert_eq!((step.app.as_str(), step.migration, step.environment), ("demo-shop", 7, Environment::Staging));
        step.check().expect("well-formed");
    }
    assert_eq!(
        plan,
        steward_migrate::plan(&app, &PlanOptions { environment: Environment::Staging, ..PlanOptions::default() }),
        "pure"
    );
}

#[tokio::test]
async fn sizes_images_and_databases_follow_the_app_and_the_options() {
    let mut app = demo_app().await;
    // A build-pack app: it needs an image first.
    app.stack = "heroku-24".into();
    app.buildpacks = Some("Ruby".into());
    let blocked = plan(&app, &PlanOptions::default());
    assert!(
        blocked.blockers.iter().any(|b| b.contains("build packs") && b.contains("--image")),
        "{:?}",
        blocked.blockers
    );
    let with_image = plan(
        &app,
        &PlanOptions { image: Some("123.dkr.ecr.us-east-1.amazonaws.com/shop:v42".into()), ..PlanOptions::default() },
    );
    assert!(with_image.blockers.is_empty());

    // An existing target database: no RDS step; DATABASE_URL is still re-pointed.
    let existing =
        plan(&app, &PlanOptions { existing_database: true, image: Some("i".into()), ..PlanOptions::default() });
    assert!(!kinds(&existing).contains(&"create_database"));
    assert!(kinds(&existing).contains(&"copy_data"));

    // Bigger dynos and a premium database.
    app.formation[0].size = "performance-l".into();
    app.addons[0].plan = "heroku-postgresql:premium-2".into();
    app.addons.push(Addon {
        name: "redis-shiny-1".into(),
        service: "heroku-redis".into(),
        plan: "heroku-redis:premium-0".into(),
        config_vars: vec!["REDIS_URL".into()],
    });
    let big = plan(&app, &PlanOptions { image: Some("i".into()), ..PlanOptions::default() });
    let web = big.steps.iter().find_map(|s| match &s.action {
        StepAction::DeployService(spec) if spec.web => Some(spec.clone()),
        _ => None,
    });
    assert_eq!(web.map(|w| (w.cpu, w.memory_mb)), Some((4096, 16384)));
    let db = big.steps.iter().find_map(|s| match &s.action {
        StepAction::CreateDatabase { instance_class, multi_az, .. } => Some((instance_class.clone(), *multi_az)),
        _ => None,
    });
    assert_eq!(db, Some(("db.m6g.large".to_string(), true)));
    assert!(big.notes.iter().any(|n| n.contains("redis-shiny-1") && n.contains("REDIS_URL")), "{:?}", big.notes);

    // No database, no web: no copy, no cutover, and notes saying so.
    app.addons.clear();
    app.config_vars.remove("DATABASE_URL");
    app.formation.retain(|p| p.process_type != "web");
    let worker_only = plan(&app, &PlanOptions { image: Some("i".into()), ..PlanOptions::default() });
    assert_eq!(kinds(&worker_only), ["store_secrets", "deploy_service", "scale_down_heroku"]);
    assert!(worker_only.notes.iter().any(|n| n.contains("no data to copy")));
    assert!(worker_only.notes.iter().any(|n| n.contains("custom domains are left")));
}

/// Every block of every file, as `kind label label`.
fn blocks(files: &[(String, String)]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (name, text) in files {
        let body: hcl::Body = hcl::from_str(text).unwrap_or_else(|e| panic!("{name} is not HCL: {e}\n{text}"));
        for block in body.blocks() {
            let labels: Vec<&str> = block.labels().iter().map(|l| l.as_str()).collect();
            out.insert(format!("{} {}", block.identifier(), labels.join(" ")).trim().to_string());
        }
    }
    out
}

/// `tofu` or `terraform`, if one is installed.
fn tool() -> Option<&'static str> {
    ["tofu", "terraform"]
        .into_iter()
        .find(|t| Command::new(t).arg("version").output().is_ok_and(|o| o.status.success()))
}

#[tokio::test]
async fn the_export_is_hcl_with_every_resource_and_no_secret_value() {
    let app = demo_app().await;
    let plan = plan(&app, &PlanOptions::default());
    let files = export::files(&plan);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["main.tf", "variables.tf", "secrets.tf", "database.tf", "services.tf", "dns.tf"]);
    let found = blocks(&files);
    for wanted in [
        "terraform",
        "provider aws",
        "variable secret_SECRET_KEY_BASE",
        "variable db_password",
        "resource aws_ssm_parameter SECRET_KEY_BASE",
        "resource aws_ssm_parameter database_url",
        "resource aws_db_instance main",
        "resource aws_ecs_cluster main",
        "resource aws_ecs_service web",
        "resource aws_ecs_service worker",
        "resource aws_lb web",
        "resource aws_lb_target_group web",
        "resource aws_lb_listener http",
        "data aws_route53_zone www_demo_shop_example",
        "resource aws_route53_record www_demo_shop_example",
    ] {
        assert!(found.contains(wanted), "{wanted} missing from {found:#?}");
    }
    let all: String = files.iter().map(|(_, t)| t.as_str()).collect();
    for value in app.config_vars.values() {
        assert!(!all.contains(value.expose()), "a config var's value is in the export");
    }

    // An existing database and an apex domain.
    let mut apex = app.clone();
    apex.domains[0].hostname = "shop.example".into();
    let existing = steward_migrate::plan(&apex, &PlanOptions { existing_database: true, ..PlanOptions::default() });
    let files = export::files(&existing);
    let found = blocks(&files);
    assert!(!found.contains("resource aws_db_instance main"));
    assert!(found.contains("variable secret_DATABASE_URL"), "the existing database's URL is given at apply time");
    let dns = &files.iter().find(|(n, _)| n == "dns.tf").expect("dns.tf").1;
    assert!(dns.contains("alias {") && dns.contains("type    = \"A\""), "an apex is an alias record: {dns}");

    // With OpenTofu or Terraform installed: its formatter accepts the files as they are
    // (syntax and canonical layout; it needs no provider), and `validate` too when `init`
    // can fetch the AWS provider.
    if let Some(tool) = tool() {
        let dir = tempfile::tempdir().expect("tempdir");
        export::write(&plan, dir.path()).expect("write");
        let fmt = Command::new(tool).args(["fmt", "-check", "-diff"]).current_dir(dir.path()).output().expect("fmt");
        assert!(
            fmt.status.success(),
            "{tool} fmt: {}{}",
            String::from_utf8_lossy(&fmt.stdout),
            String::from_utf8_lossy(&fmt.stderr)
        );
        let init = Command::new(tool)
            .args(["init", "-backend=false", "-input=false"])
            .current_dir(dir.path())
            .output()
            .expect("init");
        if init.status.success() {
            let validate = Command::new(tool).arg("validate").current_dir(dir.path()).output().expect("validate");
            assert!(validate.status.success(), "{tool} validate: {}", String::from_utf8_lossy(&validate.stderr));
        } else {
            eprintln!("{tool} init could not fetch the AWS provider (no registry here); checked with {tool} fmt and the HCL parser");
        }
    }
}
