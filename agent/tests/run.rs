//! `steward run` end to end through the binary: the demo in each mode, on SQLite and
//! PostgreSQL, and the start-up errors an operator can hit.

mod common;

use common::{stderr, stdout, Workdir};

fn count(text: &str, needle: &str) -> usize {
    text.lines().filter(|l| l.contains(needle)).count()
}

#[test]
fn autonomous_demo_allows_queues_and_denies() {
    let work = Workdir::new();
    let out = work.run(&["run", "--ticks", "120", "--mode", "autonomous", "--listen", "127.0.0.1:0"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert_eq!(count(&text, " observe "), 120, "one observation line per tick");
    assert!(count(&text, "→ runs now") >= 3, "{text}");
    assert!(count(&text, "done:") >= 3, "{text}");
    assert!(count(&text, "queued for approval") >= 1, "{text}");
    assert!(count(&text, "→ denied") >= 1, "{text}");
    assert!(text.contains("Summary: 120 ticks"), "{text}");
    assert!(text.contains("cost $1.90/h →"), "{text}");
    assert!(work.path().join("steward.db").exists(), "the default store is created in the working directory");

    let verify = work.run(&["audit", "verify"]);
    assert!(verify.status.success(), "{}", stdout(&verify));
    assert!(stdout(&verify).contains("chain intact"), "{}", stdout(&verify));
    assert!(stdout(&verify).contains("checkpoints: "), "{}", stdout(&verify));
}

#[test]
fn supervised_by_default_executes_nothing_and_queues() {
    let work = Workdir::new();
    let out = work.run(&["run", "--ticks", "60", "--listen", "127.0.0.1:0"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("mode supervised"), "{text}");
    assert_eq!(count(&text, "execute "), 0, "{text}");
    assert!(count(&text, "supervised mode") >= 1, "{text}");
    let queue = work.run(&["queue", "--json"]);
    let pending: serde_json::Value = serde_json::from_slice(&queue.stdout).expect("queue json");
    assert!(!pending.as_array().expect("array").is_empty());
    let tail = stdout(&work.run(&["audit", "tail", "-n", "2000"]));
    assert!(!tail.contains("proposal.executing"), "supervised mode executed something:\n{tail}");
}

#[test]
fn dry_run_decides_but_never_executes() {
    let work = Workdir::new();
    let out = work.run(&["run", "--ticks", "60", "--mode", "dry-run", "--listen", "127.0.0.1:0"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(count(&text, "dry-run: recorded, not executed") >= 1, "{text}");
    assert_eq!(count(&text, "execute "), 0, "{text}");
    let queue = stdout(&work.run(&["queue"]));
    assert!(queue.contains("No proposals are waiting"), "{queue}");
    let tail = stdout(&work.run(&["audit", "tail", "-n", "2000"]));
    assert!(tail.contains("proposal.dry_run") && !tail.contains("proposal.executing"), "{tail}");
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let run = || {
        let work = Workdir::new();
        let out = work.run(&["run", "--ticks", "90", "--mode", "autonomous", "--seed", "7", "--listen", "127.0.0.1:0"]);
        // Drop the banner and the summary (dates differ run to run); keep the ticks.
        stdout(&out)
            .lines()
            .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(run(), run());
}

#[test]
fn json_logs_replace_the_console_report() {
    let work = Workdir::new();
    let out =
        work.run(&["run", "--ticks", "20", "--mode", "autonomous", "--log-format", "json", "--listen", "127.0.0.1:0"]);
    assert!(out.status.success());
    let text = stdout(&out);
    let lines: Vec<serde_json::Value> =
        text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}"))).collect();
    assert!(lines.iter().any(|l| l["message"] == "Proposal decided."), "{text}");
}

#[test]
fn the_postgres_store_runs_the_same_loop() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let db = runtime.block_on(steward_memory::testing::postgres());
    let work = Workdir::new();
    let out =
        work.run(&["run", "--ticks", "60", "--mode", "autonomous", "--listen", "127.0.0.1:0", "--store", &db.url]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("done:"));
    assert!(!work.path().join("steward.db").exists(), "no SQLite file when PostgreSQL is the store");
    let verify = work.run(&["audit", "verify", "--store", &db.url]);
    assert!(verify.status.success(), "{}", stdout(&verify));
    runtime.block_on(db.cleanup());
}

#[test]
fn start_up_errors_are_one_line_and_exit_non_zero() {
    let work = Workdir::new();
    let out = work.run(&["run", "--ticks", "1", "--store", "postgres://steward:s3cret@127.0.0.1:1/prod"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.starts_with("error: cannot open the store at postgres://steward:***@127.0.0.1:1/prod"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");

    work.file("steward.toml", "mode = \"yolo\"\n");
    let out = work.run(&["run", "--ticks", "1"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("steward.toml line 1"), "{}", stderr(&out));

    work.file("steward.toml", "[policies]\ndir = \"empty-policies\"\n");
    std::fs::create_dir(work.path().join("empty-policies")).expect("mkdir");
    let out = work.run(&["run", "--ticks", "1", "--listen", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("refusing to run with an empty guardrail set"), "{}", stderr(&out));

    std::fs::write(
        work.path().join("empty-policies/bad.cedar"),
        "@id(\"x\") permit(principal, action, resource) when { resource.colour == 1 };",
    )
    .expect("write");
    let out = work.run(&["run", "--ticks", "1", "--listen", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("does not validate"), "{}", stderr(&out));
}
