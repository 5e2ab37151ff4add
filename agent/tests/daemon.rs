//! The daemon in-process, on both store backends, against the simulated cloud: crash
//! reconciliation, re-checks before execution, the incomplete-inventory rule, failures that
//! degrade a tick without losing anything, retries of what the cloud refused for now, and
//! audited enforcement changes.

use serde_json::json;
use steward_agent::config::{PlannerConfig, PlannerFileConfig};
use steward_agent::daemon::planners::Planners;
use steward_agent::testing::{Harness, START};
use steward_memory::testing::{executing_intent, TestDb};
use steward_memory::{both, NewProposal, ProposalRecord, ProposalState, Store, Vote};
use steward_sim::{demo_fleet, Failure, GroupSpec, Load};
use steward_tools::provider::CloudProvider;
use steward_tools::{validate, ApprovedCall, Environment, Grant, GroupKind, ProvisionGpuWorkers, ScaleGroup, ToolCall};

/// A vote as the store records it (the service core's rules are tested elsewhere).
fn vote(approver: &str) -> Vote {
    Vote {
        approver: approver.into(),
        approve: true,
        reason: String::new(),
        at_ms: START,
        via: json!("test"),
        proof: None,
    }
}

async fn only(store: &Store, state: ProposalState) -> Vec<ProposalRecord> {
    store.proposals_in(&[state]).await.expect("list")
}

async fn a_crash_between_intent_and_outcome_is_reconciled_never_retried(db: &TestDb) {
    let setup = Harness::new(&db.store, demo_fleet());
    let provision = ToolCall::ProvisionGpuWorkers(ProvisionGpuWorkers {
        pool: "gpu".into(),
        count: 2,
        instance_type: Some("g5.xlarge".into()),
        market: None,
    });
    // One intent whose call reached the cloud before the crash, one that never did.
    let ran = executing_intent(&db.store, provision.clone(), "act-ran", START).await;
    let lost = executing_intent(&db.store, provision.clone(), "act-lost", START).await;
    let observation = setup.sim.observe().await.expect("observe");
    let approved =
        ApprovedCall::grant(validate(provision, &observation).expect("valid"), Grant::Policy { policies: vec![] });
    setup.sim.execute("act-ran", &approved).await.expect("the call before the crash");
    let workers = setup.sim.instance_count("gpu");

    setup.run("mode = \"dry-run\"", 1).await.expect("restart");

    let ran = db.store.proposal(ran).await.expect("read").expect("exists");
    let lost = db.store.proposal(lost).await.expect("read").expect("exists");
    assert_eq!(ran.state, ProposalState::Succeeded);
    assert!(ran.outcome.as_deref().unwrap_or("").contains("the cloud shows it ran"), "{:?}", ran.outcome);
    assert!(matches!(ran.inverse, Some(ToolCall::TerminateWorkers(_))), "the inverse is recorded: {:?}", ran.inverse);
    assert_eq!(lost.state, ProposalState::Failed);
    assert!(lost.outcome.as_deref().unwrap_or("").contains("not retried"), "{:?}", lost.outcome);
    assert_eq!(setup.sim.instance_count("gpu"), workers, "nothing was launched a second time");
    assert_eq!(db.store.verify().await.expect("verify").problem, None);
}
both!(a_crash_between_intent_and_outcome_is_reconciled_never_retried);

async fn an_approval_is_rechecked_against_policy_before_it_runs(db: &TestDb) {
    let setup = Harness::new(&db.store, demo_fleet());
    setup.run("", 1).await.expect("first tick");
    let pending = only(&db.store, ProposalState::PendingApproval).await;
    let worker = pending.iter().find(|p| p.target == "worker").expect("worker scale-out queued");
    db.store.decide_approval(worker.id, &vote("alice")).await.expect("approve");

    // Before the daemon acts, a freeze that also holds back scale-out comes into force.
    let freeze = "[[freeze]]\nname = \"incident\"\ndays = [\"mon\",\"tue\",\"wed\",\"thu\",\"fri\",\"sat\",\"sun\"]\n\
                  from = \"00:00\"\nto = \"24:00\"\nblock_scale_out = true\n";
    setup.run(freeze, 1).await.expect("second tick");
    let after = db.store.proposal(worker.id).await.expect("read").expect("exists");
    assert_eq!(after.state, ProposalState::Denied);
    assert!(after.outcome.as_deref().unwrap_or("").contains("limit:freeze:incident"), "{:?}", after.outcome);
    assert_eq!(setup.sim.observe().await.expect("observe").group("worker").map(|g| g.desired), Some(3));
    let kinds: Vec<String> = db.store.audit_tail(500).await.expect("tail").into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds.iter().filter(|k| *k == "enforcement.changed").count(), 2, "the limits changed between runs");
}
both!(an_approval_is_rechecked_against_policy_before_it_runs);

async fn a_stale_approval_is_not_executed(db: &TestDb) {
    let setup = Harness::new(&db.store, demo_fleet());
    setup.run("", 1).await.expect("first tick");
    let pending = only(&db.store, ProposalState::PendingApproval).await;
    let worker = pending.iter().find(|p| p.target == "worker").expect("queued");
    db.store.decide_approval(worker.id, &vote("alice")).await.expect("approve");
    // Someone else changes the group first.
    let observation = setup.sim.observe().await.expect("observe");
    let other = ToolCall::ScaleGroup(ScaleGroup { group: "worker".into(), current_desired: 3, desired: 5 });
    let approved =
        ApprovedCall::grant(validate(other, &observation).expect("valid"), Grant::Policy { policies: vec![] });
    setup.sim.execute("act-other", &approved).await.expect("other change");

    setup.run("", 1).await.expect("second tick");
    let after = db.store.proposal(worker.id).await.expect("read").expect("exists");
    assert_eq!(after.state, ProposalState::Invalid, "{:?}", after.outcome);
    assert!(after.outcome.as_deref().unwrap_or("").contains("has desired capacity 5, not 3"), "{:?}", after.outcome);
    assert_eq!(setup.sim.observe().await.expect("observe").group("worker").map(|g| g.desired), Some(5));
}
both!(a_stale_approval_is_not_executed);

fn quiet_fleet() -> Vec<GroupSpec> {
    let group = |name: &str, desired: u32| GroupSpec {
        name: name.into(),
        kind: GroupKind::AutoScaling,
        environment: Environment::Staging,
        instance_type: "m6i.large".into(),
        min: 1,
        max: 20,
        desired,
        requests_per_instance: 1000.0,
        launch_delay_minutes: 2,
        minutes_per_job: 0,
        unmanaged: 0,
        pool: Default::default(),
        load: Load::Step { before: 1000.0, after: 1000.0, at_minute: 0, noise: 0.0 },
    };
    vec![group("api", 10), group("batch", 2)]
}

async fn nothing_is_removed_on_an_incomplete_inventory(db: &TestDb) {
    let setup = Harness::new(&db.store, quiet_fleet());
    let extra = "mode = \"autonomous\"\n[limits]\nscale_in_cooldown_minutes = 0\n";
    setup.sim.inject(Failure::PartialObservation);
    setup.run(extra, 1).await.expect("tick");
    let denied = only(&db.store, ProposalState::Denied).await;
    assert_eq!(denied.len(), 1, "{denied:?}");
    assert!(denied[0].reason_line().contains("inventory-incomplete"), "{}", denied[0].reason_line());
    assert_eq!(setup.sim.observe().await.expect("observe").group("api").map(|g| g.desired), Some(10));

    // With the whole inventory (and the denial back-off over) the same scale-in runs.
    setup.run(&format!("{extra}[planner]\ndenied_backoff = \"1s\"\n"), 1).await.expect("ticks");
    assert_eq!(setup.sim.observe().await.expect("observe").group("api").map(|g| g.desired), Some(5));
}
both!(nothing_is_removed_on_an_incomplete_inventory);

async fn a_call_refused_for_now_is_retried_with_the_same_action_and_recorded(db: &TestDb) {
    let setup = Harness::new(&db.store, demo_fleet());
    setup.sim.inject(Failure::Unreachable);
    setup.sim.inject(Failure::Throttle);
    let summary = setup.run("mode = \"autonomous\"\n", 3).await.expect("the daemon keeps going");
    assert_eq!(summary.ticks, 3);
    let retries = db.store.audit_of_kind("execution.retry").await.expect("audit");
    assert_eq!(retries.len(), 1, "one retryable failure, recorded once: {retries:?}");
    let data: serde_json::Value = serde_json::from_str(&retries[0].data).expect("json");
    assert!(data["error"].as_str().unwrap_or("").contains("throttled"), "{data}");
    assert_eq!(data["attempt"], 1);
    let retried = db.store.proposal(retries[0].proposal_id.expect("a proposal")).await.expect("read").expect("exists");
    assert_eq!(retried.state, ProposalState::Succeeded, "the next tick tried again and it ran: {:?}", retried.outcome);
    assert_eq!(data["action_id"].as_str(), retried.action_id.as_deref(), "the retry carried the same action id");
    assert!(only(&db.store, ProposalState::Failed).await.is_empty(), "nothing failed for good");
    assert_eq!(db.store.verify().await.expect("verify").problem, None);
}
both!(a_call_refused_for_now_is_retried_with_the_same_action_and_recorded);

async fn a_permanent_refusal_fails_the_action_once_and_retries_give_up(db: &TestDb) {
    let setup = Harness::new(&db.store, demo_fleet());
    setup.sim.inject(Failure::Refuse);
    setup.run("mode = \"autonomous\"\n", 1).await.expect("tick");
    let failed = only(&db.store, ProposalState::Failed).await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].outcome.as_deref().unwrap_or("").contains("AccessDenied"), "{:?}", failed[0].outcome);
    let entry = db.store.audit_for_proposal(failed[0].id).await.expect("audit").pop().expect("entry");
    assert!(entry.data.contains("\"retryable\":false"), "{}", entry.data);
    assert!(db.store.audit_of_kind("execution.retry").await.expect("audit").is_empty(), "a refusal is not retried");

    // Retryable, but past the attempts allowed: it fails, saying how often it was tried.
    let setup = Harness::new(&db.store, quiet_fleet());
    setup.sim.inject(Failure::Throttle);
    setup.sim.inject(Failure::Throttle);
    let extra = "mode = \"autonomous\"\n[execution]\nmax_attempts = 2\n[limits]\nscale_in_cooldown_minutes = 0\n";
    setup.run(extra, 2).await.expect("ticks");
    let failed = only(&db.store, ProposalState::Failed).await;
    let gave_up = failed.iter().find(|p| p.target == "api").expect("the api scale-in failed");
    assert!(gave_up.outcome.as_deref().unwrap_or("").contains("gave up after 2 attempts"), "{:?}", gave_up.outcome);
    assert_eq!(db.store.audit_of_kind("execution.retry").await.expect("audit").len(), 1);
}
both!(a_permanent_refusal_fails_the_action_once_and_retries_give_up);

async fn a_proposal_for_an_unknown_group_is_recorded_as_invalid(db: &TestDb) {
    let setup = Harness::new(&db.store, demo_fleet());
    let ghost = db
        .store
        .insert_proposal(&NewProposal {
            at_ms: START,
            call: ToolCall::ScaleGroup(ScaleGroup { group: "ghost".into(), current_desired: 1, desired: 2 }),
            proposer: "person:alice".into(),
            rationale: "typo".into(),
            tainted: false,
            rollback_of: None,
            requested_by: None,
        })
        .await
        .expect("insert");
    setup.run("mode = \"autonomous\"", 1).await.expect("tick");
    let after = db.store.proposal(ghost.id).await.expect("read").expect("exists");
    assert_eq!(after.state, ProposalState::Invalid);
    assert_eq!(after.outcome.as_deref(), Some("unknown group `ghost`: not in the managed inventory"));
}
both!(a_proposal_for_an_unknown_group_is_recorded_as_invalid);

async fn the_predictive_planner_can_scale_the_fleet(db: &TestDb) {
    let setup = Harness::new(&db.store, demo_fleet());
    let extra = "mode = \"autonomous\"\n[planner]\nscaling = \"predictive\"\n";
    setup.run(extra, 50).await.expect("first run");
    // A restart preloads what the store remembers; the planner keeps working from it.
    setup.run(extra, 10).await.expect("second run");
    let done = only(&db.store, ProposalState::Succeeded).await;
    assert!(done.iter().any(|p| p.proposer == "planner:predictive" && p.target == "web"), "{done:?}");
    let remembered = db.store.observations("web", 0, i64::MAX).await.expect("observations");
    assert_eq!(remembered.len(), 60, "one remembered observation per tick");
}
both!(the_predictive_planner_can_scale_the_fleet);

async fn the_gpu_planner_starts_from_the_job_times_the_store_remembers(db: &TestDb) {
    // The demo pool's jobs take 5 minutes; the configured starting figure says 1.
    let mut fleet = demo_fleet();
    let pool = fleet.iter_mut().find(|g| g.kind == GroupKind::GpuPool).expect("the demo pool");
    // Three workers kept busy, no launch (a launch waits for a person).
    (pool.min, pool.desired, pool.max) = (3, 3, 3);
    pool.load = Load::Jobs { per_minute: 1.0, bursts: Vec::new() };
    let setup = Harness::new(&db.store, fleet);
    setup.run("mode = \"autonomous\"", 90).await.expect("run");
    let rows = db.store.observations("gpu", 0, i64::MAX).await.expect("observations");
    assert!(
        rows.iter().any(|r| r.busy.is_some_and(|b| b > 0)),
        "busy workers remembered: {:?}",
        rows.iter().map(|r| (r.queue_depth, r.running, r.busy, r.jobs_started)).collect::<Vec<_>>()
    );
    assert!(rows.last().and_then(|r| r.jobs_started).is_some_and(|n| n >= 20), "{:?}", rows.last());
    assert!(db.store.observations("web", 0, i64::MAX).await.expect("web").iter().all(|r| r.busy.is_none()));

    // A queue of five and no worker: the planner's reason says what it takes a job to be.
    let mut observation = db.store.latest_observation().await.expect("read").expect("observed");
    observation.at_ms += 60_000;
    let gpu = observation.groups.iter_mut().find(|g| g.name == "gpu").expect("the pool");
    gpu.queue_depth = Some(5);
    gpu.instances.clear();
    let file = PlannerFileConfig { gpu_minutes_per_job: 1.0, ..PlannerFileConfig::default() };
    let config = PlannerConfig::resolve(&file).expect("config");
    let minutes_a_job = |planners: &mut Planners| -> f64 {
        let plans = planners.plan(&observation);
        let (_, plan) = plans.iter().find(|(name, _)| *name == "gpu-queue").expect("a GPU plan");
        let before = plan.rationale.split(" min a job").next().expect("reason");
        before.rsplit('(').next().expect("figure").parse().expect("a number")
    };
    assert_eq!(minutes_a_job(&mut Planners::new(&config)), 1.0, "nothing remembered: the configured figure");
    let mut preloaded = Planners::new(&config);
    preloaded.load_history_once(&db.store, &observation, observation.at_ms).await.expect("history");
    let learnt = minutes_a_job(&mut preloaded);
    assert!((4.5..=5.5).contains(&learnt), "learnt from the store: {learnt}");
}
both!(the_gpu_planner_starts_from_the_job_times_the_store_remembers);
