//! A running daemon and the CLI beside it: approvals are picked up within a tick, the kill
//! switch holds execution, rollbacks go through the same pipeline, the HTTP endpoints
//! answer, and SIGTERM stops it cleanly with everything audited.

mod common;

use std::time::Duration;

use common::{eventually, http_get, os_user, stdout, Workdir};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

fn pending(work: &Workdir, call_prefix: &str) -> Option<String> {
    let out = work.run(&["queue", "--json"]);
    let rows: Value = serde_json::from_slice(&out.stdout).ok()?;
    rows.as_array()?
        .iter()
        .find(|r| r["call"].as_str().is_some_and(|c| c.starts_with(call_prefix)))
        .map(|r| r["id"].to_string())
}

fn kinds(work: &Workdir, id: &str) -> Vec<(String, String)> {
    let out = work.run(&["audit", "tail", "--proposal", id, "--json"]);
    stdout(&out)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|e| (e["kind"].as_str().unwrap_or("").to_string(), e["actor"].as_str().unwrap_or("").to_string()))
        .collect()
}

const LIVE: &[&str] = &["run", "--realtime", "--tick-interval", "250ms", "--listen", "127.0.0.1:0"];

#[test]
fn approvals_are_picked_up_and_the_kill_switch_holds() {
    let work = Workdir::new();
    let mut daemon = work.spawn(LIVE);
    let address = daemon.address();
    assert_eq!(http_get(&address, "/healthz"), (200, "ok\n".to_string()));
    eventually("readiness", WAIT, || (http_get(&address, "/readyz").0 == 200).then_some(()));

    daemon.wait_for("queued for approval", WAIT);
    let id = eventually("a pending worker scale-out", WAIT, || pending(&work, "scale_group worker 3→4"));

    let me = os_user();
    let paused = work.run(&["pause", "--reason", "drill"]);
    assert!(paused.status.success(), "{}", stdout(&paused));
    let approved = work.run(&["approve", &id]);
    assert!(stdout(&approved).contains(&format!("approved by {me}")), "{}", stdout(&approved));
    daemon.wait_for(&format!("hold     #{id}: the kill switch is on"), WAIT);
    let (_, metrics) = http_get(&address, "/metrics");
    assert!(metrics.contains("steward_paused 1"), "{metrics}");
    assert!(!kinds(&work, &id).iter().any(|(k, _)| k == "proposal.executing"), "nothing runs while paused");

    assert!(work.run(&["resume"]).status.success());
    daemon.wait_for(&format!("execute  #{id} done: worker desired 3 → 4 (verified)"), WAIT);
    let (status, metrics) = http_get(&address, "/metrics");
    assert_eq!(status, 200);
    assert!(metrics.contains("steward_actions_total{outcome=\"succeeded\"} 1"), "{metrics}");
    assert!(metrics.contains("# TYPE steward_ticks_total counter"), "{metrics}");
    assert!(metrics.contains("steward_paused 0"), "{metrics}");

    let (status, lines) = daemon.terminate();
    assert!(status.success(), "SIGTERM is a clean stop: {status:?}");
    assert!(lines.iter().any(|l| l.starts_with("Summary:")), "{lines:?}");

    let events = kinds(&work, &id);
    let names: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "proposal.proposed",
            "proposal.pending_approval",
            "approval.approved",
            "proposal.approved",
            "proposal.executing",
            "proposal.succeeded"
        ]
    );
    assert!(events.contains(&("approval.approved".to_string(), me.clone())));
    let tail = stdout(&work.run(&["audit", "tail", "-n", "500"]));
    for kind in ["control.paused", "control.resumed", "daemon.started", "enforcement.changed", "daemon.stopped"] {
        assert!(tail.contains(kind), "{kind} missing from\n{tail}");
    }
    assert!(work.run(&["audit", "verify"]).status.success());
}

#[test]
fn rollbacks_go_through_the_pipeline_and_nobody_approves_their_own() {
    let work = Workdir::new();
    let (alice_key, alice) = work.operator("alice");
    work.file("steward.toml", &format!("[limits]\nscale_in_cooldown_minutes = 0\n[approvals.operators]\n{alice}\n"));
    let mut daemon = work.spawn(LIVE);
    daemon.wait_for("queued for approval", WAIT);
    let first = eventually("a pending worker scale-out", WAIT, || pending(&work, "scale_group worker 3→4"));
    let alice_key = alice_key.display().to_string();
    assert!(work.run(&["approve", &first, "--key", &alice_key]).status.success());
    daemon.wait_for(&format!("execute  #{first} done"), WAIT);

    let me = os_user();
    let filed = work.run(&["rollback", &first]);
    assert!(filed.status.success(), "{}", stdout(&filed));
    assert!(stdout(&filed).contains("scale_group worker 4→3"), "{}", stdout(&filed));
    let second = eventually("the rollback in the queue", WAIT, || pending(&work, "scale_group worker 4→3"));

    let own = work.run(&["approve", &second]);
    assert_eq!(own.status.code(), Some(1));
    assert!(common::stderr(&own).contains(&format!("{me} proposed")), "{}", common::stderr(&own));
    assert!(work.run(&["approve", &second, "--key", &alice_key]).status.success());
    daemon.wait_for(&format!("execute  #{second} done: worker desired 4 → 3"), WAIT);

    let not_done = work.run(&["rollback", "99999"]);
    assert_eq!(not_done.status.code(), Some(1));
    drop(daemon);
}
