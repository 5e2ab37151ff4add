//! Moving an app off Heroku, end to end through the real `steward` binary: the Platform API
//! stand-in as Heroku, two real PostgreSQL databases with the real `pg_dump`/`pg_restore`,
//! the AWS API emulator through the SDK, approvals from the CLI (an operator's key) and from
//! Slack (a signed interaction on the daemon's listener). Then the rollback restores the
//! start, the audit chain verifies, and no config var value appears anywhere it must not.
//! On both store backends.

mod common;

use std::time::Duration;

use common::migration::{heroku_record, step, Fixture, HEROKU_CNAME, MARKERS};
use common::{http_get, os_user, stderr};
use serde_json::Value;
use steward_memory::both;
use steward_memory::testing::TestDb;
use steward_migrate::target::Target;

/// Approve whatever the migration waits for, alternating the CLI and Slack for steps that
/// need one person and using both for those that need two, until `done` holds.
async fn approve_until(f: &Fixture, address: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut turn = 0;
    loop {
        let status = f.status().await;
        if done(&status) {
            return status;
        }
        assert!(!["failed", "rollback_failed"].contains(&status["state"].as_str().unwrap_or("")), "{status:#}");
        let waiting = status["steps"].as_array().and_then(|steps| {
            steps.iter().find_map(|s| match (s["state"].as_str(), s["undo"].as_array()) {
                (_, Some(undo)) if undo[1] == "pending_approval" => undo[0].as_i64(),
                (Some("pending_approval"), None) => s["proposal"].as_i64(),
                _ => None,
            })
        });
        if let Some(id) = waiting {
            let queued = f.queued(id).await;
            let hash = queued["call_hash"].as_str().expect("call hash").to_string();
            if queued["approvals_required"] == 2 {
                assert_eq!(queued["approvers"], serde_json::json!(["platform"]), "{queued}");
                f.approve_as_alice(id).await;
                f.approve_in_slack(address, id, &hash).await;
            } else if turn % 2 == 0 {
                f.approve_as_alice(id).await;
            } else {
                f.approve_in_slack(address, id, &hash).await;
            }
            turn += 1;
            // Wait for it to leave the queue before looking again.
            f.wait("the approval to be acted on", |s| {
                !s["steps"].as_array().is_some_and(|steps| {
                    steps.iter().any(|st| {
                        (st["proposal"].as_i64() == Some(id) && st["state"] == "pending_approval")
                            || st["undo"]
                                .as_array()
                                .is_some_and(|u| u[0].as_i64() == Some(id) && u[1] == "pending_approval")
                    })
                })
            })
            .await;
        } else {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

async fn moves_an_app_off_heroku_and_back(db: &TestDb) {
    let name = format!("e2e_{}", if db.url.starts_with("sqlite") { "lite" } else { "pg" });
    let f = Fixture::new(&name, &db.url, "").await;
    let app = f.app.clone();
    let target_url = f.target.url.clone();
    let choices = ["--environment", "prod", "--target-database-url", &target_url, "--health-url", &f.health_url];

    // The plan, read from the stand-in (paged: two items a page).
    let mut plan_args = vec!["migrate", "plan", &app, "--json"];
    plan_args.extend(choices);
    let plan: Value = serde_json::from_str(&f.ok(&plan_args).await).expect("plan JSON");
    let kinds: Vec<&str> = plan["steps"].as_array().expect("steps").iter().filter_map(|s| s["kind"].as_str()).collect();
    assert_eq!(
        kinds,
        ["store_secrets", "deploy_service", "deploy_service", "copy_data", "cut_over_dns", "scale_down_heroku"],
        "an existing target database: no RDS step"
    );

    let mut start = vec!["migrate", "start", &app];
    start.extend(choices);
    f.ok(&start).await;
    let again = f.steward(&start).await;
    assert_eq!(again.status.code(), Some(1), "one migration of an app at a time");
    assert!(stderr(&again).contains("already"), "{}", stderr(&again));

    let mut daemon = f.daemon("supervised", &[]);
    let address = daemon.address();
    // The starter may not approve a prod step they asked for.
    let first = f.wait("step 1 to wait for approval", |s| step(s, 1)["state"] == "pending_approval").await;
    let id = step(&first, 1)["proposal"].as_i64().expect("proposal");
    let own = f.steward(&["approve", &id.to_string()]).await;
    assert_eq!(own.status.code(), Some(1));
    assert!(stderr(&own).contains(&os_user()) && stderr(&own).contains("asked for"), "{}", stderr(&own));

    let done = approve_until(&f, &address, |s| s["state"] == "completed").await;
    for n in 1..=6 {
        assert_eq!(step(&done, n)["state"], "succeeded", "{done:#}");
    }
    let deciders: Vec<&str> = done["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .flat_map(|s| s["decisions"].as_array().into_iter().flatten())
        .filter_map(|d| d[0].as_str())
        .collect();
    assert!(deciders.contains(&"alice") && deciders.contains(&"slack:UBOB"), "{deciders:?}");
    assert_eq!(step(&done, 4)["decisions"].as_array().map(Vec::len), Some(2), "the data copy took two people");

    // Where things stand: data verified, traffic on the new load balancer, Heroku down.
    assert!(f.data_matches().await, "every table's rows and keys");
    let lb = f.aws.load_balancer(&app).await.expect("lb").expect("the web load balancer");
    assert_eq!(f.dns().await.iter().map(|r| r.values.clone()).collect::<Vec<_>>(), [vec![lb.dns_name.clone()]]);
    let heroku = f.heroku.app(&app).expect("app");
    assert!(heroku.maintenance && heroku.formation.iter().all(|p| p.quantity == 0), "{heroku:?}");
    let secret = f.aws.get_secret(&format!("/steward/{app}/SECRET_KEY_BASE")).await.expect("ssm").expect("stored");
    assert_eq!(secret.expose(), MARKERS[0]);
    let url = f.aws.get_secret(&format!("/steward/{app}/DATABASE_URL")).await.expect("ssm").expect("re-pointed");
    assert_eq!(url.expose(), &target_url, "DATABASE_URL points at the new database");
    assert_eq!(f.aws.service(&app, &name, "web").await.expect("ecs"), Some(2));
    assert_eq!(f.aws.service(&app, &name, "worker").await.expect("ecs"), Some(1));

    // Back to the start, through policy and approval again.
    f.ok(&["migrate", "rollback", &app]).await;
    let back = approve_until(&f, &address, |s| s["state"] == "rolled_back").await;
    for n in 1..=6 {
        assert_eq!(step(&back, n)["undo"][1], "succeeded", "{back:#}");
    }
    assert_eq!(f.dns().await, [heroku_record(&f.domain)], "DNS back to {HEROKU_CNAME}");
    let heroku = f.heroku.app(&app).expect("app");
    assert!(!heroku.maintenance, "maintenance off");
    let formation: Vec<(String, u32)> = heroku.formation.iter().map(|p| (p.process_type.clone(), p.quantity)).collect();
    assert_eq!(formation, [("web".to_string(), 2), ("worker".to_string(), 1)], "formation restored");
    assert_eq!(f.aws.load_balancer(&app).await.expect("lb"), None);
    assert_eq!(f.aws.service(&app, &name, "web").await.expect("ecs"), None);
    assert_eq!(f.aws.service(&app, &name, "worker").await.expect("ecs"), None);
    for var in ["SECRET_KEY_BASE", "STRIPE_API_KEY", "RAILS_ENV", "DATABASE_URL", &format!(".dns/{}", f.domain)] {
        assert!(f.aws.get_secret(&format!("/steward/{app}/{var}")).await.expect("ssm").is_none(), "{var} deleted");
    }
    let verify = f.ok(&["audit", "verify"]).await;
    assert!(verify.contains("chain intact"), "{verify}");
    assert!(verify.contains("signed by an operator's key, verified"), "{verify}");

    // The canary: the config var values went to SSM and nowhere else.
    let (_, metrics) = http_get(&address, "/metrics");
    assert!(metrics.contains("steward_"), "{metrics}");
    let audit = f.ok(&["audit", "tail", "-n", "100000", "--json"]).await;
    let queue = f.ok(&["queue", "--json"]).await;
    let (_, lines) = daemon.terminate();
    let slack: Vec<String> = ["chat.postMessage", "chat.update", "chat.postEphemeral"]
        .iter()
        .flat_map(|m| f.slack.calls(m))
        .map(|c| c.body.to_string())
        .collect();
    let outputs = f.outputs.lock().expect("outputs").join("\n");
    for (where_, text) in [
        ("the daemon's output and logs", lines.join("\n")),
        ("the CLI's output", outputs),
        ("the audit log", audit),
        ("the queue", queue),
        ("the metrics", metrics),
        ("Slack", slack.join("\n")),
    ] {
        for marker in MARKERS {
            assert!(!text.contains(marker), "{marker} in {where_}");
        }
    }
}
both!(moves_an_app_off_heroku_and_back);

/// The LLM planner explains a plan from the typed planner; the prompt carries the names of
/// the config vars, never their values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_sees_the_plan_but_never_a_config_value() {
    use steward_llm::testing::{Reply, Script, ScriptedServer};
    let db = steward_memory::testing::sqlite().await;
    let f = Fixture::new("e2e_explain", &db.url, "").await;
    let model = ScriptedServer::start(Script::Sequence(vec![
        Reply::tools("", &[("plan_migration", &format!(r#"{{"app":"{}"}}"#, f.app))]),
        Reply::answer("Six steps; the copy keeps Heroku in maintenance while the data moves."),
    ]))
    .await
    .expect("model");
    let out = {
        let mut command = f.command(&["migrate", "plan", &f.app, "--explain"]);
        command.env("STEWARD_LLM_MODEL", "scripted").env("OPENAI_BASE_URL", &model.base_url);
        tokio::task::spawn_blocking(move || command.output().expect("run")).await.expect("join")
    };
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(common::stdout(&out).contains("Six steps"));
    let prompts: String = model.requests().iter().map(ToString::to_string).collect();
    assert!(prompts.contains("SECRET_KEY_BASE") && prompts.contains("copy_data"), "the plan reaches the model");
    for marker in MARKERS {
        assert!(!prompts.contains(marker), "{marker} reached the model");
    }
    assert!(!prompts.contains(&f.source.url), "nor the database URL");
}

/// Run the daemon ten simulated minutes at a time, approving every migration step that
/// waits (its starter may, outside prod), until the migration of `demo-shop` is `state`.
async fn drive_demo(work: &std::sync::Arc<common::Workdir>, state: &str) -> Value {
    for _ in 0..8 {
        let w = work.clone();
        let out = tokio::task::spawn_blocking(move || {
            w.run(&["run", "--ticks", "10", "--mode", "autonomous", "--listen", "127.0.0.1:0"])
        })
        .await
        .expect("join");
        assert!(out.status.success(), "{}", stderr(&out));
        let queue: Value = serde_json::from_str(&sim_ok(work, &["queue", "--json"]).await).expect("queue");
        for p in queue.as_array().into_iter().flatten().filter(|p| p["tool_call"]["tool"] == "migration_step") {
            sim_ok(work, &["approve", &p["id"].to_string()]).await;
        }
        let status: Value =
            serde_json::from_str(&sim_ok(work, &["migrate", "status", "demo-shop", "--json"]).await).expect("status");
        if status["state"] == state {
            return status;
        }
    }
    panic!("demo-shop never reached {state}: {}", sim_ok(work, &["migrate", "status", "demo-shop"]).await);
}

async fn sim_ok(work: &std::sync::Arc<common::Workdir>, args: &[&str]) -> String {
    let (w, args): (_, Vec<String>) = (work.clone(), args.iter().map(|a| a.to_string()).collect());
    let out = tokio::task::spawn_blocking(move || w.run(&args.iter().map(String::as_str).collect::<Vec<_>>()))
        .await
        .expect("join");
    assert!(out.status.success(), "steward: {}{}", common::stdout(&out), stderr(&out));
    common::stdout(&out)
}

fn sim_state(work: &common::Workdir, file: &str) -> Value {
    let text = std::fs::read_to_string(work.path().join("steward-sim").join(file)).expect("the simulated state");
    serde_json::from_str(&text).expect("JSON")
}

/// The README's first five minutes: the demo account's `demo-shop` moved onto the simulated
/// cloud and back, one `steward run` after another, the state kept in `steward-sim/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_app_moves_on_the_simulated_cloud_across_runs_and_back() {
    let work = std::sync::Arc::new(common::Workdir::new());
    let plan = sim_ok(&work, &["migrate", "plan", "demo-shop"]).await;
    assert!(plan.contains("copy_data") && plan.contains("www.demo-shop.example"), "{plan}");
    sim_ok(&work, &["migrate", "start", "demo-shop", "--environment", "staging"]).await;
    drive_demo(&work, "completed").await;
    let cloud = sim_state(&work, "cloud.json");
    assert!(cloud["load_balancers"]["demo-shop"].is_array(), "{cloud:#}");
    assert!(cloud["parameters"]["/steward/demo-shop/SECRET_KEY_BASE"].is_string(), "{cloud:#}");

    sim_ok(&work, &["migrate", "rollback", "demo-shop"]).await;
    drive_demo(&work, "rolled_back").await;
    let cloud = sim_state(&work, "cloud.json");
    for kind in ["parameters", "databases", "services", "load_balancers"] {
        assert_eq!(cloud[kind], serde_json::json!({}), "{kind} left: {cloud:#}");
    }
    assert_eq!(cloud["zones"]["demo-shop.example."][0]["values"][0], "vast-sunset-4821.herokudns.com");
    let heroku = sim_state(&work, "heroku.json");
    assert_eq!((heroku["maintenance"].as_bool(), heroku["formation"][0]["quantity"].as_u64()), (Some(false), Some(2)));
    let verify = sim_ok(&work, &["audit", "verify"]).await;
    assert!(verify.contains("chain intact"), "{verify}");
}

/// A step that fails stops the migration with its reason and the offer of a rollback; the
/// next step is never filed. Here the new service's health check answers 503, so Heroku is
/// not scaled down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_health_check_stops_the_migration_before_heroku_is_scaled_down() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let health = format!("http://{}/healthz", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        let app = axum::Router::new().route(
            "/healthz",
            axum::routing::get(|| async { (axum::http::StatusCode::SERVICE_UNAVAILABLE, "starting") }),
        );
        let _ = axum::serve(listener, app).await;
    });
    let work = std::sync::Arc::new(common::Workdir::new());
    sim_ok(&work, &["migrate", "start", "demo-shop", "--environment", "staging", "--health-url", &health]).await;
    let failed = drive_demo(&work, "failed").await;
    let outcome = failed["outcome"].as_str().unwrap_or_default();
    assert!(outcome.contains("scale_down_heroku") && outcome.contains("503"), "{outcome}");
    assert!(outcome.contains("steward migrate rollback demo-shop"), "{outcome}");
    assert_eq!(failed["steps"][6]["state"], "failed", "{failed:#}");
    let heroku = sim_state(&work, "heroku.json");
    assert_eq!(heroku["formation"][0]["quantity"], 2, "Heroku still serves: {heroku}");

    sim_ok(&work, &["migrate", "rollback", "demo-shop"]).await;
    let back = drive_demo(&work, "rolled_back").await;
    assert!(back["steps"][6]["undo"].is_null(), "nothing to undo for the step that failed: {back:#}");
    assert_eq!(sim_state(&work, "heroku.json")["maintenance"], false);
}
