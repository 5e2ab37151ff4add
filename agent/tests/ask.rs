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
    // It was decided as needing a person (whatever the planners proposed after it) and
    // never ran.
    let id: String = text
        .split("Filed proposal #")
        .nth(1)
        .map(|rest| rest.chars().take_while(char::is_ascii_digit).collect())
        .unwrap_or_default();
    let w = work.clone();
    let out = blocking(move || w.run(&["audit", "tail", "--proposal", &id, "--json"])).await;
    let trail = stdout(&out);
    assert!(trail.contains("proposal.pending_approval") && trail.contains("tainted-needs-approval"), "{trail}");
    assert!(!trail.contains("proposal.executing"), "a tainted proposal never runs without a person: {trail}");

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
async fn migrate_plan_explain_sends_the_plan_never_config_values_and_files_nothing() {
    let server = std::sync::Arc::new(
        ScriptedServer::start(Script::Sequence(vec![
            Reply::tools("Reading the plan.", &[("plan_migration", r#"{"app":"demo-shop"}"#)]),
            Reply::answer("Seven steps; the copy puts the app in maintenance for about ten minutes."),
        ]))
        .await
        .expect("server"),
    );
    let work = std::sync::Arc::new(Workdir::new());
    let w = work.clone();
    let out = blocking(move || w.run(&["run", "--ticks", "2", "--listen", "127.0.0.1:0"])).await;
    assert!(out.status.success(), "{}", stderr(&out));

    // An app the account does not have: one line, exit 1, nothing asked of the model.
    let (w, s) = (work.clone(), server.clone());
    let out = blocking(move || ask(&w, &s, &["migrate", "plan", "no-such-app", "--explain"])).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("no-such-app"), "{}", stderr(&out));
    assert_eq!(stderr(&out).trim().lines().count(), 1, "{}", stderr(&out));
    assert!(server.requests().is_empty(), "the model is not asked about an app that is not there");

    let (w, s) = (work.clone(), server.clone());
    let out = blocking(move || ask(&w, &s, &["migrate", "plan", "demo-shop", "--explain"])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("copy_data") && text.contains("Seven steps"), "the plan, then the model's words: {text}");
    let sent: String = server.requests().iter().map(ToString::to_string).collect();
    assert!(sent.contains("copy_data") && sent.contains("SECRET_KEY_BASE"), "the plan's shape reaches the model");
    for secret in ["demo-secret-key-base", "demo-stripe-key", "postgres://demo:demo"] {
        assert!(!sent.contains(secret), "{secret} must not reach the model");
    }
    // The model explains; it never files a step (only the typed planner does, once a
    // person starts the migration).
    let w = work.clone();
    let out = blocking(move || w.run(&["queue", "--json"])).await;
    let queue: serde_json::Value = serde_json::from_slice(&out.stdout).expect("queue json");
    let steps = queue.as_array().map_or(0, |q| q.iter().filter(|p| p["tool_call"]["tool"] == "migration_step").count());
    assert_eq!(steps, 0, "{queue}");
}
