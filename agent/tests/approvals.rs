//! The approval queue through the real `steward` binary: who may decide, proved; refusals
//! that record nothing; rejections with reasons; expiry. On both store backends, with the
//! daemon in-process beside the CLI on the same store.

mod common;

use common::{os_user, stderr, stdout, Workdir};
use serde_json::Value;
use steward_agent::testing::{prod_data_copy, Harness};
use steward_memory::testing::TestDb;
use steward_memory::{both, NewProposal, ProposalState};
use steward_sim::demo_fleet;

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("blocking task")
}

/// `steward ARGS --store URL` in `work`.
async fn steward(work: &std::sync::Arc<Workdir>, url: &str, args: &[&str]) -> std::process::Output {
    let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    args.extend(["--store".to_string(), url.to_string()]);
    let work = work.clone();
    blocking(move || work.run(&args.iter().map(String::as_str).collect::<Vec<_>>())).await
}

async fn audit_entries(db: &TestDb) -> usize {
    db.store.audit_tail(1_000_000).await.expect("audit").len()
}

async fn proves_who_decides(db: &TestDb) {
    let work = std::sync::Arc::new(Workdir::new());
    let (alice_key, alice) = work.operator("alice");
    let (bob_key, bob) = work.operator("bob");
    let (carol_key, carol) = work.operator("carol");
    let config = format!(
        "[approvals.groups]\nplatform = [\"alice\", \"bob\"]\n[approvals.operators]\n{alice}\n{bob}\n{carol}\n"
    );
    work.file("steward.toml", &config);
    let key = |path: &std::path::Path| path.display().to_string();
    let (alice_key, bob_key, carol_key) = (key(&alice_key), key(&bob_key), key(&carol_key));

    // A prod data copy waits for two people of `platform`.
    let daemon = Harness::new(&db.store, demo_fleet());
    let filed = db
        .store
        .insert_proposal(&NewProposal {
            at_ms: daemon.sim.now_ms(),
            call: prod_data_copy("shop"),
            proposer: "planner:test".into(),
            rationale: "move shop".into(),
            tainted: false,
            rollback_of: None,
            requested_by: None,
        })
        .await
        .expect("insert");
    daemon.run(&config, 1).await.expect("tick");
    let p = db.store.proposal(filed.id).await.expect("read").expect("exists");
    assert_eq!((p.state, p.approvals_required), (ProposalState::PendingApproval, 2));
    let id = p.id.to_string();

    // A name without its key is refused, and nothing is recorded.
    let before = audit_entries(db).await;
    let out = steward(&work, &db.url, &["approve", &id, "--as", "bob"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("cannot act as bob") && err.trim_end().lines().count() == 1, "{err}");
    // `$USER` says mallory; Steward asks the kernel.
    let out = steward(&work, &db.url, &["approve", &id, "--as", "mallory"]).await;
    assert!(stderr(&out).contains(&format!("this is {}'s account", os_user())), "{}", stderr(&out));
    // Someone else's key under one's own name.
    let out = steward(&work, &db.url, &["approve", &id, "--as", "alice", "--key", &bob_key]).await;
    assert!(stderr(&out).contains("the key given is bob's"), "{}", stderr(&out));
    // An unprivileged reject is refused like an unprivileged approval.
    let out = steward(&work, &db.url, &["reject", &id, "--reason", "no", "--key", &carol_key]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("carol may not decide"), "{}", stderr(&out));
    assert_eq!(audit_entries(db).await, before, "refusals record nothing");
    assert!(db.store.approvals(p.id).await.expect("approvals").is_empty());

    // One person twice is one approval.
    let out = steward(&work, &db.url, &["approve", &id, "--key", &alice_key]).await;
    assert!(stdout(&out).contains("approval 1/2 recorded for alice"), "{}{}", stdout(&out), stderr(&out));
    let out = steward(&work, &db.url, &["approve", &id, "--as", "alice", "--key", &alice_key]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("alice already decided"), "{}", stderr(&out));
    let p = db.store.proposal(p.id).await.expect("read").expect("exists");
    assert_eq!(p.state, ProposalState::PendingApproval, "two approvals by one identity are one");

    let out = steward(&work, &db.url, &["approve", &id, "--key", &bob_key]).await;
    assert!(stdout(&out).contains("approved by bob (2/2)"), "{}{}", stdout(&out), stderr(&out));
    let votes = db.store.approvals(p.id).await.expect("approvals");
    let approvers: Vec<&str> = votes.iter().map(|v| v.approver.as_str()).collect();
    assert_eq!(approvers.len(), 2);
    assert!(approvers.contains(&"alice") && approvers.contains(&"bob"), "{approvers:?}");

    // Each approval's audit entry carries the signature; an auditor checks it offline.
    let trail = stdout(&steward(&work, &db.url, &["audit", "tail", "--proposal", &id, "--json"]).await);
    let signed: Vec<Value> = trail
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["kind"] == "approval.approved")
        .collect();
    assert_eq!(signed.len(), 2);
    for entry in &signed {
        let data: Value = serde_json::from_str(entry["data"].as_str().unwrap_or("{}")).expect("data");
        assert!(data["via"]["cli"]["signature"].as_str().is_some_and(|s| s.len() == 128), "{data}");
        assert_eq!(data["via"]["cli"]["operation"]["call_hash"], data["call_hash"]);
    }
    let out = steward(&work, &db.url, &["audit", "verify"]).await;
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(stdout(&out).contains("approvals: 2 signed by an operator's key, verified"), "{}", stdout(&out));

    // Someone who can write the store swaps bob's proof for an unsigned one: the daemon
    // checks every proof before it counts a vote, and puts the proposal back in the queue.
    let proof = serde_json::json!({ "kind": "os_user", "name": "bob" }).to_string();
    let sql = format!("UPDATE approvals SET proof = '{proof}' WHERE proposal_id = {} AND approver = 'bob'", p.id);
    db.raw(&sql).await.expect("tamper");
    daemon.run(&config, 1).await.expect("tick");
    let p = db.store.proposal(p.id).await.expect("read").expect("exists");
    assert_eq!(p.state, ProposalState::PendingApproval, "{:?}", p.outcome);
    assert!(p.outcome.as_deref().unwrap_or("").contains("1 do"), "{:?}", p.outcome);
}
both!(proves_who_decides);

async fn the_os_user_decides_with_no_setup_and_rejections_need_a_reason(db: &TestDb) {
    let work = std::sync::Arc::new(Workdir::new());
    let daemon = Harness::new(&db.store, demo_fleet());
    daemon.run("", 20).await.expect("ticks");
    let queue: Value =
        serde_json::from_slice(&steward(&work, &db.url, &["queue", "--json"]).await.stdout).expect("queue json");
    let rows = queue.as_array().cloned().unwrap_or_default();
    let open: Vec<String> =
        rows.iter().filter(|r| r["approvers"] == serde_json::json!([])).map(|r| r["id"].to_string()).collect();
    assert!(open.len() >= 2, "{rows:?}");
    let me = os_user();

    let out = steward(&work, &db.url, &["approve", &open[0]]).await;
    assert!(stdout(&out).contains(&format!("approved by {me}")), "{}{}", stdout(&out), stderr(&out));
    let out = steward(&work, &db.url, &["approve", &open[0], "--as", &me]).await;
    assert!(stderr(&out).contains("is approved, not waiting for approval"), "{}", stderr(&out));

    let out = steward(&work, &db.url, &["reject", &open[1], "--reason", " "]).await;
    assert_eq!(out.status.code(), Some(2), "a rejection needs a reason");
    let out = steward(&work, &db.url, &["reject", &open[1], "--reason", "not during the sale"]).await;
    assert!(stdout(&out).contains(&format!("rejected by {me}: not during the sale")), "{}", stdout(&out));
    let trail = stdout(&steward(&work, &db.url, &["audit", "tail", "--proposal", &open[1], "--json"]).await);
    assert!(trail.contains("proposal.rejected") && trail.contains("not during the sale"), "{trail}");
    assert!(trail.contains("os_user"), "the audit entry says how the rejecter was proved: {trail}");
    let unknown = steward(&work, &db.url, &["approve", "424242"]).await;
    assert_eq!((unknown.status.code(), stderr(&unknown).trim()), (Some(1), "error: no proposal #424242"));
}
both!(the_os_user_decides_with_no_setup_and_rejections_need_a_reason);

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
    let entries = |work: &Workdir| stdout(&work.run(&["audit", "tail", "-n", "100000"])).lines().count();
    let before = entries(&work);
    let late = work.run(&["approve", &expired]);
    assert_eq!(late.status.code(), Some(1));
    assert!(stderr(&late).contains("is expired"), "{}", stderr(&late));
    assert_eq!(entries(&work), before);
}
