//! `steward ask` and `steward cost` through the real binary, with the scripted
//! OpenAI-compatible server standing in for the model.

mod common;

use common::{stderr, stdout, Workdir};
use steward_llm::testing::{Reply, Script, ScriptedServer};

const KEY: &str = "sk-test-ask-0123456789abcdef";

fn ask(work: &Workdir, server: &ScriptedServer, args: &[&str]) -> std::process::Output {
    work.command(args)
        .env("STEWARD_LLM_MODEL", "scripted")
        .env("OPENAI_BASE_URL", &server.base_url)
        .env("OPENAI_API_KEY", KEY)
        .output()
        .expect("run steward")
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("blocking task")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ask_answers_from_the_tools_and_files_changes_as_tainted_proposals() {
    let server = std::sync::Arc::new(
        ScriptedServer::start(Script::ByPrompt(vec![
            (
                "why did cost go up".into(),
                vec![
                    Reply::tools("", &[("get_cost", "{}")]),
                    Reply::answer("Cost went up because web scaled out for the morning peak."),
                ],
            ),
            (
                "jobs are waiting".into(),
                vec![
                    Reply::tools(
                        "One more GPU worker drains the queue.",
                        &[("provision_gpu_workers", r#"{"pool":"gpu","count":1,"instance_type":"g5.xlarge"}"#)],
                    ),
                    Reply::answer("Proposed one more GPU worker."),
                ],
            ),
        ]))
        .await
        .expect("server"),
    );
    let work = std::sync::Arc::new(Workdir::new());

    let w = work.clone();
    let out = blocking(move || w.run(&["ask", "why did cost go up?"])).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("the LLM planner is not configured"), "{}", stderr(&out));

    let (w, s) = (work.clone(), server.clone());
    let out = blocking(move || ask(&w, &s, &["ask", "why did cost go up?"])).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no observation in the store yet"), "{}", stderr(&out));

    let w = work.clone();
    let out = blocking(move || w.run(&["run", "--ticks", "30", "--listen", "127.0.0.1:0"])).await;
    assert!(out.status.success(), "{}", stderr(&out));

    let (w, s) = (work.clone(), server.clone());
    let out = blocking(move || ask(&w, &s, &["ask", "why did cost go up?"])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("Cost went up because web scaled out"), "{text}");
    assert!(text.contains("episode #1: answered, 2 turns, 240 tokens"), "{text}");
    let cost_reply = server.requests()[1]["messages"].as_array().and_then(|m| m.last().cloned()).unwrap_or_default();
    assert!(cost_reply["content"].as_str().unwrap_or_default().contains("today_usd"), "{cost_reply}");

    let (w, s) = (work.clone(), server.clone());
    let out = blocking(move || ask(&w, &s, &["ask", "jobs are waiting, what should we do?"])).await;
    let text = stdout(&out);
    assert!(text.contains("Filed proposal #"), "{text}");
    assert!(
        text.contains("provision_gpu_workers gpu +1 g5.xlarge; it read untrusted text, so a person must approve it"),
        "{text}"
    );

    // The daemon decides it on its next tick: even in autonomous mode, a person approves.
    let w = work.clone();
    let out =
        blocking(move || w.run(&["run", "--ticks", "1", "--mode", "autonomous", "--listen", "127.0.0.1:0"])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let w = work.clone();
    let out = blocking(move || w.run(&["queue", "--json"])).await;
    let queue: serde_json::Value = serde_json::from_slice(&out.stdout).expect("queue json");
    let mine = queue
        .as_array()
        .and_then(|q| q.iter().find(|p| p["proposer"] == "model:scripted").cloned())
        .expect("the model's proposal waits");
    assert!(mine["why"].as_str().unwrap_or_default().contains("tainted-needs-approval"), "{mine}");

    let w = work.clone();
    let out = blocking(move || w.run(&["audit", "tail", "-n", "500", "--json"])).await;
    let audit = stdout(&out);
    assert!(audit.contains(&format!("{} asked: why did cost go up?", common::os_user())), "the question is audited");
    assert!(audit.contains("llm.episode"));
    assert!(!audit.contains(KEY), "the API key never reaches the audit log");

    let w = work.clone();
    let out = blocking(move || w.run(&["cost"])).await;
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    for needle in [
        "GROUP",
        "web",
        "gpu",
        "total",
        "LLM planner this month: 2 episodes, 4 requests, 400 prompt + 80 completion tokens",
    ] {
        assert!(text.contains(needle), "{needle} in {text}");
    }
    let w = work.clone();
    let out = blocking(move || w.run(&["cost", "--json"])).await;
    let cost: serde_json::Value = serde_json::from_slice(&out.stdout).expect("cost json");
    let total = &cost["total"];
    let mtd = total["month_to_date_usd"].as_f64().unwrap_or_default();
    let forecast = total["month_end_forecast_usd"].as_f64().unwrap_or_default();
    assert!(mtd > 0.0 && forecast > mtd, "{cost}");
    assert_eq!(cost["llm"]["episodes"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_endpoint_is_one_line_and_exit_1() {
    let work = std::sync::Arc::new(Workdir::new());
    let w = work.clone();
    let out = blocking(move || w.run(&["run", "--ticks", "2", "--listen", "127.0.0.1:0"])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let w = work.clone();
    let out = blocking(move || {
        w.command(&["ask", "anything?"])
            .env("STEWARD_LLM_MODEL", "m")
            .env("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
            .output()
            .expect("run")
    })
    .await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("error: the model did not answer: could not reach the endpoint"), "{err}");
    assert_eq!(err.trim().lines().filter(|l| l.starts_with("error")).count(), 1, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_plans_from_the_app_shape_and_never_sends_config_values() {
    let migrate = r#"{"app":"shop","target_environment":"prod","instance_type":"m6i.large","min":2,"max":6}"#;
    let server = std::sync::Arc::new(
        ScriptedServer::start(Script::Sequence(vec![
            Reply::tools("Two standard-2x web dynos map to m6i.large.", &[("migrate_app", migrate)]),
            Reply::answer("Proposed moving shop to 2–6 m6i.large instances in prod."),
        ]))
        .await
        .expect("server"),
    );
    let work = std::sync::Arc::new(Workdir::new());
    work.file(
        "shop.json",
        r#"{"app": {"name": "shop", "region": {"name": "eu"}, "stack": {"name": "heroku-24"}},
            "formation": [{"type": "web", "quantity": 2, "size": "Standard-2X", "command": "bin/web"}],
            "addons": [{"plan": {"name": "heroku-postgresql:standard-0"}}],
            "config_vars": {"DATABASE_URL": "postgres://u:hunter2@db/shop", "SECRET_KEY_BASE": "s3cr3t"}}"#,
    );
    work.file("broken.json", "{not json");
    let w = work.clone();
    let out = blocking(move || w.run(&["run", "--ticks", "2", "--listen", "127.0.0.1:0"])).await;
    assert!(out.status.success(), "{}", stderr(&out));

    let (w, s) = (work.clone(), server.clone());
    let out = blocking(move || ask(&w, &s, &["migrate", "shop", "--from", "broken.json"])).await;
    assert_eq!(out.status.code(), Some(2), "bad input: {}", stderr(&out));
    assert!(stderr(&out).contains("broken.json: not JSON"), "{}", stderr(&out));

    let (w, s) = (work.clone(), server.clone());
    let out = blocking(move || ask(&w, &s, &["migrate", "shop", "--from", "shop.json"])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("Filed proposal #") && text.contains("migrate_app shop → prod m6i.large (2..6)"), "{text}");
    let sent = server.requests()[0].to_string();
    assert!(sent.contains("DATABASE_URL") && sent.contains("Standard-2X"), "the app's shape reaches the model");
    for secret in ["hunter2", "s3cr3t", "bin/web"] {
        assert!(!sent.contains(secret), "{secret} must not reach the model");
    }
    // Two people approve a migration, and the model's word is tainted by the app's text.
    let w = work.clone();
    let out =
        blocking(move || w.run(&["run", "--ticks", "1", "--mode", "autonomous", "--listen", "127.0.0.1:0"])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let w = work.clone();
    let out = blocking(move || w.run(&["queue", "--json"])).await;
    let queue: serde_json::Value = serde_json::from_slice(&out.stdout).expect("queue json");
    let plan = queue.as_array().and_then(|q| q.iter().find(|p| p["tool_call"]["tool"] == "migrate_app").cloned());
    let plan = plan.expect("the migration waits for approval");
    assert_eq!(plan["approvals_required"], 2, "{plan}");
}
