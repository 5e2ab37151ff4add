//! Proposals and approvals on both backends: transitions are compare-and-set with one audit
//! entry each, N distinct approvals are counted, and the approval path refuses unknown,
//! decided, expired and duplicate decisions without touching the log.

use steward_memory::both;

use serde_json::json;
use steward_memory::testing::TestDb;
use steward_memory::{NewProposal, Patch, ProposalState, StoreError, Vote};
use steward_tools::{ScaleGroup, ToolCall};

fn vote(approver: &str, approve: bool, reason: &str, at_ms: i64) -> Vote {
    Vote { approver: approver.into(), approve, reason: reason.into(), at_ms, via: json!("cli"), proof: None }
}

fn scale(desired: u32) -> NewProposal {
    NewProposal {
        at_ms: 1_000,
        call: ToolCall::ScaleGroup(ScaleGroup { group: "web".into(), current_desired: 4, desired }),
        proposer: "planner:target-tracking".into(),
        rationale: "cpu 81% > 60%".into(),
        tainted: false,
        rollback_of: None,
        requested_by: None,
    }
}

async fn pending(db: &TestDb, approvals: u32, expires_ms: i64) -> i64 {
    let p = db.store.insert_proposal(&scale(6)).await.expect("insert");
    let patch = Patch {
        verdict: Some("needs_approval".into()),
        approvals_required: Some(approvals),
        expires_ms: Some(expires_ms),
        ..Patch::default()
    };
    let moved = db
        .store
        .transition(
            p.id,
            &[ProposalState::Proposed],
            ProposalState::PendingApproval,
            &patch,
            1_000,
            "steward",
            json!({}),
        )
        .await
        .expect("transition");
    assert!(moved);
    p.id
}

async fn entries(db: &TestDb) -> i64 {
    db.store.verify().await.expect("verify").entries
}

async fn transitions_are_compare_and_set_with_one_entry_each(db: &TestDb) {
    let p = db.store.insert_proposal(&scale(6)).await.expect("insert");
    assert_eq!(p.state, ProposalState::Proposed);
    assert_eq!(p.call_hash, p.call.canonical_hash());
    let patch = Patch {
        verdict: Some("allow".into()),
        decision: Some(json!({"reasons": [{"policy": "p", "message": "m"}]})),
        ..Patch::default()
    };
    let first = db
        .store
        .transition(p.id, &[ProposalState::Proposed], ProposalState::Approved, &patch, 2_000, "steward", json!({}))
        .await;
    let second = db
        .store
        .transition(p.id, &[ProposalState::Proposed], ProposalState::Denied, &patch, 2_000, "steward", json!({}))
        .await;
    assert_eq!((first.expect("first"), second.expect("second")), (true, false));
    let stored = db.store.proposal(p.id).await.expect("read").expect("exists");
    assert_eq!(stored.state, ProposalState::Approved);
    assert_eq!(stored.reason_line(), "p: m");
    let kinds: Vec<String> =
        db.store.audit_for_proposal(p.id).await.expect("audit").into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, vec!["proposal.proposed", "proposal.approved"]);
}
both!(transitions_are_compare_and_set_with_one_entry_each);

async fn two_approvals_are_counted_from_distinct_people(db: &TestDb) {
    let id = pending(db, 2, 100_000).await;
    let tally = db.store.decide_approval(id, &vote("alice", true, "", 2_000)).await.expect("alice");
    assert_eq!((tally.approvals, tally.required, tally.state), (1, 2, ProposalState::PendingApproval));
    let again = db.store.decide_approval(id, &vote("alice", true, "", 2_500)).await;
    assert!(matches!(again, Err(StoreError::AlreadyDecided { .. })), "{again:?}");
    let tally = db.store.decide_approval(id, &vote("bob", true, "", 3_000)).await.expect("bob");
    assert_eq!(tally.state, ProposalState::Approved);
    let approvals = db.store.approvals(id).await.expect("approvals");
    assert_eq!(approvals.len(), 2);
    assert!(approvals.iter().all(|a| a.call_hash == scale(6).call.canonical_hash()));
    let late = db.store.decide_approval(id, &vote("carol", true, "", 3_500)).await;
    assert!(matches!(late, Err(StoreError::NotPending { .. })), "{late:?}");
}
both!(two_approvals_are_counted_from_distinct_people);

async fn a_reject_ends_it_with_the_reason(db: &TestDb) {
    let id = pending(db, 1, 100_000).await;
    let tally =
        db.store.decide_approval(id, &vote("alice", false, "not during the sale", 2_000)).await.expect("reject");
    assert_eq!(tally.state, ProposalState::Rejected);
    let log = db.store.audit_for_proposal(id).await.expect("audit");
    let last = log.last().expect("entries");
    assert_eq!((last.kind.as_str(), last.actor.as_str()), ("proposal.rejected", "alice"));
    assert!(last.data.contains("not during the sale"));
}
both!(a_reject_ends_it_with_the_reason);

async fn refusals_leave_the_log_alone(db: &TestDb) {
    let id = pending(db, 1, 5_000).await;
    let before = entries(db).await;
    let unknown = db.store.decide_approval(9_999, &vote("alice", true, "", 2_000)).await;
    assert!(matches!(unknown, Err(StoreError::UnknownProposal(9_999))), "{unknown:?}");
    let expired = db.store.decide_approval(id, &vote("alice", true, "", 5_000)).await;
    assert!(matches!(expired, Err(StoreError::Expired { .. })), "{expired:?}");
    assert_eq!(entries(db).await, before, "no audit entry for a refused decision");
    assert_eq!(db.store.approvals(id).await.expect("approvals").len(), 0);
}
both!(refusals_leave_the_log_alone);

async fn concurrent_clicks_decide_once(db: &TestDb) {
    let id = pending(db, 1, 100_000).await;
    let mut tasks = Vec::new();
    for who in ["alice", "bob", "carol", "dave"] {
        let store = db.store.clone();
        tasks.push(tokio::spawn(async move { store.decide_approval(id, &vote(who, true, "", 2_000)).await }));
    }
    let mut approved = 0;
    for task in tasks {
        if let Ok(tally) = task.await.expect("task") {
            approved += usize::from(tally.state == ProposalState::Approved);
        }
    }
    assert_eq!(approved, 1, "exactly one click approves");
    let kinds: Vec<String> =
        db.store.audit_for_proposal(id).await.expect("audit").into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds.iter().filter(|k| *k == "proposal.approved").count(), 1, "{kinds:?}");
    assert_eq!(db.store.verify().await.expect("verify").problem, None);
}
both!(concurrent_clicks_decide_once);

async fn history_counts_executed_changes(db: &TestDb) {
    let id = pending(db, 1, 100_000).await;
    db.store.decide_approval(id, &vote("alice", true, "", 2_000)).await.expect("approve");
    let patch = Patch { action_id: Some("act-1".into()), ..Patch::default() };
    db.store
        .transition(id, &[ProposalState::Approved], ProposalState::Executing, &patch, 3_000, "steward", json!({}))
        .await
        .expect("executing");
    db.store
        .transition(
            id,
            &[ProposalState::Executing],
            ProposalState::Succeeded,
            &Patch::default(),
            4_000,
            "steward",
            json!({}),
        )
        .await
        .expect("done");
    assert_eq!(db.store.change_history("web", 0).await.expect("history"), (Some(4_000), 1));
    assert_eq!(db.store.change_history("web", 5_000).await.expect("history"), (Some(4_000), 0));
    assert_eq!(db.store.change_history("gpu", 0).await.expect("history"), (None, 0));
    let listed = db.store.proposals_in(&[ProposalState::Succeeded]).await.expect("list");
    assert_eq!(listed.iter().map(|p| p.action_id.clone()).collect::<Vec<_>>(), vec![Some("act-1".to_string())]);
}
both!(history_counts_executed_changes);

async fn control_values_and_observations_round_trip(db: &TestDb) {
    assert!(!db.store.paused().await.expect("paused"));
    let entry = steward_memory::NewEntry::new(1, "alice", "control.paused", None, json!({}));
    db.store.set_control_audited("paused", "true", entry).await.expect("pause");
    assert!(db.store.paused().await.expect("paused"));
    let sim = steward_sim::SimCloud::new(steward_sim::demo_fleet(), 60_000, 1);
    let observation = steward_tools::CloudProvider::observe(&sim).await.expect("observe");
    db.store.record_observation(&observation).await.expect("record");
    db.store.record_observation(&observation).await.expect("recording twice is harmless");
    let rows = db.store.observations("web", 0, 120_000).await.expect("rows");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].desired, 4);
    assert_eq!(db.store.prune_observations(120_000).await.expect("prune"), 3);
}
both!(control_values_and_observations_round_trip);

async fn a_tick_reads_what_its_stages_must_act_on(db: &TestDb) {
    let cloud = steward_sim::SimCloud::new(steward_sim::demo_fleet(), 0, 42);
    let observation = steward_tools::CloudProvider::observe(&cloud).await.expect("observe");
    let state = |db: &TestDb| {
        let (store, observation) = (db.store.clone(), observation.clone());
        async move { store.record_tick(&observation, 60_000, 0).await.expect("tick") }
    };
    let quiet = state(db).await;
    assert!(!quiet.paused);
    assert_eq!(
        (quiet.proposed, quiet.pending_approval, quiet.approved, quiet.executing, quiet.migrations_moving),
        (0, 0, 0, 0, 0)
    );
    db.store.insert_proposal(&scale(5)).await.expect("filed");
    pending(db, 1, 10_000).await;
    pending(db, 1, 10_000).await;
    let approved = pending(db, 1, 10_000).await;
    let tally = db.store.decide_approval(approved, &vote("ana", true, "", 2_000)).await.expect("approve");
    assert_eq!(tally.state, ProposalState::Approved);
    let entry = steward_memory::NewEntry::new(3_000, "ana", "control.paused", None, json!({}));
    db.store.set_control_audited("paused", "true", entry).await.expect("pause");
    let busy = state(db).await;
    assert_eq!((busy.paused, busy.proposed, busy.pending_approval, busy.approved, busy.executing), (true, 1, 2, 1, 0));
}
both!(a_tick_reads_what_its_stages_must_act_on);
