//! The daemon in-process, on both store backends, against the simulated cloud: crash
//! reconciliation, re-checks before execution, the incomplete-inventory rule, failures that
//! degrade a tick without losing anything, and audited enforcement changes.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use serde_json::json;
use steward_agent::config::{Config, FileConfig, Overrides};
use steward_agent::daemon::{Daemon, DaemonClock, RunOptions, Telemetry};
use steward_memory::testing::{executing_intent, TestDb};
use steward_memory::{both, NewProposal, ProposalRecord, ProposalState, Store};
use steward_sim::{demo_fleet, demo_start_ms, Failure, GroupSpec, Load, SimCloud};
use steward_tools::provider::CloudProvider;
use steward_tools::{validate, ApprovedCall, Environment, Grant, GroupKind, ProvisionGpuWorkers, ScaleGroup, ToolCall};

const START: i64 = 1_800_000_000_000;

fn config(dir: &std::path::Path, extra: &str) -> Config {
    let text = format!(
        "{extra}\n[audit]\ncheckpoint_dir = \"{0}/checkpoints\"\ncheckpoint_key = \"{0}/checkpoint.key\"\n",
        dir.display()
    );
    let file: FileConfig = toml::from_str(&text).expect("config");
    Config::resolve(file, Overrides::default(), None).expect("resolve")
}

struct Setup {
    _dir: tempfile::TempDir,
    sim: Arc<SimCloud>,
}

impl Setup {
    fn new(fleet: Vec<GroupSpec>) -> Setup {
        Setup {
            _dir: tempfile::tempdir().expect("tempdir"),
            sim: Arc::new(SimCloud::new(fleet, demo_start_ms(START), 1)),
        }
    }

    async fn run(&self, store: &Store, extra: &str, ticks: u64) -> anyhow::Result<()> {
        let config = Arc::new(config(self._dir.path(), extra));
        let clock = DaemonClock::starting_at(self.sim.now_ms());
        let daemon = Daemon::start(
            config,
            store.clone(),
            self.sim.clone(),
            clock,
            Arc::new(Telemetry::new(false)),
            Arc::new(AtomicBool::new(false)),
        )
        .await?;
        daemon.run(RunOptions { ticks: Some(ticks), realtime: false }, std::future::pending()).await?;
        Ok(())
    }
}

async fn only(store: &Store, state: ProposalState) -> Vec<ProposalRecord> {
    store.proposals_in(&[state]).await.expect("list")
}

async fn a_crash_between_intent_and_outcome_is_reconciled_never_retried(db: &TestDb) {
    let setup = Setup::new(demo_fleet());
    let provision = ToolCall::ProvisionGpuWorkers(ProvisionGpuWorkers {
        pool: "gpu".into(),
        count: 2,
        instance_type: "g5.xlarge".into(),
    });
    // One intent whose call reached the cloud before the crash, one that never did.
    let ran = executing_intent(&db.store, provision.clone(), "act-ran", START).await;
    let lost = executing_intent(&db.store, provision.clone(), "act-lost", START).await;
    let observation = setup.sim.observe().await.expect("observe");
    let approved =
        ApprovedCall::grant(validate(provision, &observation).expect("valid"), Grant::Policy { policies: vec![] });
    setup.sim.execute("act-ran", &approved).await.expect("the call before the crash");
    let workers = setup.sim.instance_count("gpu");

    setup.run(&db.store, "mode = \"dry-run\"", 1).await.expect("restart");

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
    let setup = Setup::new(demo_fleet());
    setup.run(&db.store, "", 1).await.expect("first tick");
    let pending = only(&db.store, ProposalState::PendingApproval).await;
    let worker = pending.iter().find(|p| p.target == "worker").expect("worker scale-out queued");
    db.store.decide_approval(worker.id, "alice", true, "", START, json!("test")).await.expect("approve");

    // Before the daemon acts, a freeze that also holds back scale-out comes into force.
    let freeze = "[[freeze]]\nname = \"incident\"\ndays = [\"mon\",\"tue\",\"wed\",\"thu\",\"fri\",\"sat\",\"sun\"]\n\
                  from = \"00:00\"\nto = \"24:00\"\nblock_scale_out = true\n";
    setup.run(&db.store, freeze, 1).await.expect("second tick");
    let after = db.store.proposal(worker.id).await.expect("read").expect("exists");
    assert_eq!(after.state, ProposalState::Denied);
    assert!(after.outcome.as_deref().unwrap_or("").contains("limit:freeze:incident"), "{:?}", after.outcome);
    assert_eq!(setup.sim.observe().await.expect("observe").group("worker").map(|g| g.desired), Some(3));
    let kinds: Vec<String> = db.store.audit_tail(500).await.expect("tail").into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds.iter().filter(|k| *k == "enforcement.changed").count(), 2, "the limits changed between runs");
}
both!(an_approval_is_rechecked_against_policy_before_it_runs);

async fn a_stale_approval_is_not_executed(db: &TestDb) {
    let setup = Setup::new(demo_fleet());
    setup.run(&db.store, "", 1).await.expect("first tick");
    let pending = only(&db.store, ProposalState::PendingApproval).await;
    let worker = pending.iter().find(|p| p.target == "worker").expect("queued");
    db.store.decide_approval(worker.id, "alice", true, "", START, json!("test")).await.expect("approve");
    // Someone else changes the group first.
    let observation = setup.sim.observe().await.expect("observe");
    let other = ToolCall::ScaleGroup(ScaleGroup { group: "worker".into(), current_desired: 3, desired: 5 });
    let approved =
        ApprovedCall::grant(validate(other, &observation).expect("valid"), Grant::Policy { policies: vec![] });
    setup.sim.execute("act-other", &approved).await.expect("other change");

    setup.run(&db.store, "", 1).await.expect("second tick");
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
        load: Load::Step { before: 1000.0, after: 1000.0, at_minute: 0, noise: 0.0 },
    };
    vec![group("api", 10), group("batch", 2)]
}

async fn nothing_is_removed_on_an_incomplete_inventory(db: &TestDb) {
    let setup = Setup::new(quiet_fleet());
    let extra = "mode = \"autonomous\"\n[limits]\nscale_in_cooldown_minutes = 0\n";
    setup.sim.inject(Failure::PartialObservation);
    setup.run(&db.store, extra, 1).await.expect("tick");
    let denied = only(&db.store, ProposalState::Denied).await;
    assert_eq!(denied.len(), 1, "{denied:?}");
    assert!(denied[0].reason_line().contains("inventory-incomplete"), "{}", denied[0].reason_line());
    assert_eq!(setup.sim.observe().await.expect("observe").group("api").map(|g| g.desired), Some(10));

    // With the whole inventory (and the denial back-off over) the same scale-in runs.
    setup.run(&db.store, &format!("{extra}[planner]\ndenied_backoff = \"1s\"\n"), 1).await.expect("ticks");
    assert_eq!(setup.sim.observe().await.expect("observe").group("api").map(|g| g.desired), Some(5));
}
both!(nothing_is_removed_on_an_incomplete_inventory);

async fn failures_degrade_a_tick_and_lose_nothing(db: &TestDb) {
    let setup = Setup::new(demo_fleet());
    let extra = "mode = \"autonomous\"\n";
    setup.sim.inject(Failure::Unreachable);
    setup.sim.inject(Failure::Throttle);
    setup.run(&db.store, extra, 3).await.expect("the daemon keeps going");
    let failed = only(&db.store, ProposalState::Failed).await;
    assert_eq!(failed.len(), 1, "the throttled call failed once: {failed:?}");
    assert!(failed[0].outcome.as_deref().unwrap_or("").contains("throttled"), "{:?}", failed[0].outcome);
    let entry = db.store.audit_for_proposal(failed[0].id).await.expect("audit").pop().expect("entry");
    assert!(entry.data.contains("\"retryable\":true"), "{}", entry.data);
    let succeeded = only(&db.store, ProposalState::Succeeded).await;
    assert!(succeeded.iter().any(|p| p.target == "worker"), "the next tick planned it again and it ran");
    assert_eq!(db.store.verify().await.expect("verify").problem, None);
}
both!(failures_degrade_a_tick_and_lose_nothing);

async fn a_proposal_for_an_unknown_group_is_recorded_as_invalid(db: &TestDb) {
    let setup = Setup::new(demo_fleet());
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
    setup.run(&db.store, "mode = \"autonomous\"", 1).await.expect("tick");
    let after = db.store.proposal(ghost.id).await.expect("read").expect("exists");
    assert_eq!(after.state, ProposalState::Invalid);
    assert_eq!(after.outcome.as_deref(), Some("unknown group `ghost`: not in the managed inventory"));
}
both!(a_proposal_for_an_unknown_group_is_recorded_as_invalid);

async fn the_predictive_planner_can_scale_the_fleet(db: &TestDb) {
    let setup = Setup::new(demo_fleet());
    let extra = "mode = \"autonomous\"\n[planner]\nscaling = \"predictive\"\n";
    setup.run(&db.store, extra, 50).await.expect("first run");
    // A restart preloads what the store remembers; the planner keeps working from it.
    setup.run(&db.store, extra, 10).await.expect("second run");
    let done = only(&db.store, ProposalState::Succeeded).await;
    assert!(done.iter().any(|p| p.proposer == "planner:predictive" && p.target == "web"), "{done:?}");
    let remembered = db.store.observations("web", 0, i64::MAX).await.expect("observations");
    assert_eq!(remembered.len(), 60, "one remembered observation per tick");
}
both!(the_predictive_planner_can_scale_the_fleet);
