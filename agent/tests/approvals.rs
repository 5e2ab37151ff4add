//! The approval queue through the CLI, without a running daemon: who may approve, rejects
//! with reasons, and refusals (unknown, decided, expired) that leave the audit log alone.

mod common;

use common::{stderr, stdout, Workdir};
use serde_json::Value;

fn queue(work: &Workdir) -> Vec<Value> {
    let out = work.run(&["queue", "--json"]);
    serde_json::from_slice::<Value>(&out.stdout).expect("json").as_array().cloned().unwrap_or_default()
}

fn entries(work: &Workdir) -> usize {
    stdout(&work.run(&["audit", "tail", "-n", "100000"])).lines().count()
}

fn id_of(rows: &[Value], prefix: &str) -> String {
    rows.iter()
        .find(|r| r["call"].as_str().is_some_and(|c| c.starts_with(prefix)))
        .map(|r| r["id"].to_string())
        .unwrap_or_else(|| panic!("no {prefix} in {rows:?}"))
}

#[test]
fn approver_groups_reasons_and_refusals() {
    let work = Workdir::new();
    work.file("steward.toml", "[approvals.groups]\ngpu-owners = [\"alice\"]\n");
    assert!(work.run(&["run", "--ticks", "80", "--listen", "127.0.0.1:0"]).status.success());
    let rows = queue(&work);
    let gpu = id_of(&rows, "provision_gpu_workers");
    let worker = id_of(&rows, "scale_group worker");
    let gpu_row = rows.iter().find(|r| r["id"].as_i64().map(|i| i.to_string()).as_ref() == Some(&gpu)).expect("row");
    assert_eq!(gpu_row["approvers"], serde_json::json!(["gpu-owners"]));
    assert!(gpu_row["why"].as_str().unwrap_or("").contains("gpu-spend-needs-approval"), "{gpu_row}");
    let human = stdout(&work.run(&["queue"]));
    assert!(human.contains("provision_gpu_workers gpu +") && human.contains("gpu-owners"), "{human}");

    let before = entries(&work);
    let bob = work.run(&["approve", &gpu, "--as", "bob"]);
    assert_eq!(bob.status.code(), Some(1));
    assert!(stderr(&bob).contains("bob may not approve"), "{}", stderr(&bob));
    let unknown = work.run(&["approve", "424242", "--as", "alice"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert_eq!(stderr(&unknown).trim(), "error: no proposal #424242");
    let no_reason = work.run(&["reject", &worker, "--reason", " "]);
    assert_eq!(no_reason.status.code(), Some(2));
    assert_eq!(entries(&work), before, "refused decisions write nothing");

    assert!(work.run(&["approve", &gpu, "--as", "alice"]).status.success());
    let again = work.run(&["approve", &gpu, "--as", "alice"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("is approved, not waiting for approval"), "{}", stderr(&again));

    let rejected = work.run(&["reject", &worker, "--reason", "not during the sale", "--as", "carol"]);
    assert!(stdout(&rejected).contains("rejected by carol"), "{}", stdout(&rejected));
    let trail = stdout(&work.run(&["audit", "tail", "--proposal", &worker]));
    assert!(trail.contains("proposal.rejected") && trail.contains("not during the sale"), "{trail}");
    assert!(trail.contains("carol"), "{trail}");
}

#[test]
fn unanswered_proposals_expire_and_cannot_be_approved_after() {
    let work = Workdir::new();
    work.file("steward.toml", "[approvals]\nexpire_after = \"10m\"\n");
    let out = work.run(&["run", "--ticks", "30", "--listen", "127.0.0.1:0"]);
    assert!(stdout(&out).contains("expired"), "{}", stdout(&out));
    let tail = stdout(&work.run(&["audit", "tail", "-n", "100000", "--json"]));
    let expired = tail
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["kind"] == "proposal.expired")
        .and_then(|e| e["proposal_id"].as_i64())
        .expect("an expired proposal")
        .to_string();
    let before = entries(&work);
    let late = work.run(&["approve", &expired, "--as", "alice"]);
    assert_eq!(late.status.code(), Some(1));
    assert!(stderr(&late).contains("is expired"), "{}", stderr(&late));
    assert_eq!(entries(&work), before);
}
