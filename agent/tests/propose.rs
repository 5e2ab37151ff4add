//! One propose path for every origin: a rollback filed from the CLI waits out the kill
//! switch, and, like a planner's proposal, supersedes what it replaces, is superseded by a
//! like change already waiting, and waits out the back-off after a denial. The CLI is the
//! real binary; the daemon runs in-process on the same store, on both backends.

mod common;

use std::sync::Arc;

use common::{stderr, stdout, Workdir};
use steward_agent::service::Filing;
use steward_agent::testing::Harness;
use steward_memory::testing::TestDb;
use steward_memory::{both, ProposalRecord, ProposalState};
use steward_sim::{GroupSpec, Load};
use steward_tools::{Environment, GroupKind, ScaleGroup, ToolCall};

/// `api` (staging) at 3,250 requests a minute: 65 % CPU on five instances, 54 % on six,
/// both inside the target tracker's band, so no planner touches it and every change below
/// is one a person filed.
fn fleet() -> Vec<GroupSpec> {
    vec![GroupSpec {
        name: "api".into(),
        kind: GroupKind::AutoScaling,
        environment: Environment::Staging,
        instance_type: "m6i.large".into(),
        min: 1,
        max: 20,
        desired: 5,
        requests_per_instance: 1000.0,
        launch_delay_minutes: 1,
        minutes_per_job: 0,
        unmanaged: 0,
        pool: Default::default(),
        load: Load::Step { before: 3250.0, after: 3250.0, at_minute: 0, noise: 0.0 },
    }]
}

fn scale(from: u32, to: u32) -> Filing {
    Filing {
        call: ToolCall::ScaleGroup(ScaleGroup { group: "api".into(), current_desired: from, desired: to }),
        proposer: "person:ops".into(),
        rationale: format!("api {from} → {to}"),
        tainted: false,
        rollback_of: None,
        requested_by: Some("ops".into()),
    }
}

async fn steward(work: &Arc<Workdir>, url: &str, args: &[&str]) -> std::process::Output {
    let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    args.extend(["--store".to_string(), url.to_string()]);
    let work = work.clone();
    tokio::task::spawn_blocking(move || work.run(&args.iter().map(String::as_str).collect::<Vec<_>>()))
        .await
        .expect("blocking task")
}

/// File the rollback of `id` from the CLI; the new proposal.
async fn rollback(work: &Arc<Workdir>, db: &TestDb, id: i64) -> ProposalRecord {
    let out = steward(work, &db.url, &["rollback", &id.to_string()]).await;
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    db.store.recent_proposals(1).await.expect("proposals").remove(0)
}

async fn state(db: &TestDb, id: i64) -> ProposalRecord {
    db.store.proposal(id).await.expect("read").expect("exists")
}

async fn desired(h: &Harness) -> u32 {
    let o = steward_tools::CloudProvider::observe(h.sim.as_ref()).await.expect("observe");
    o.group("api").map(|g| g.desired).unwrap_or_default()
}

async fn a_rollback_filed_while_paused_runs_only_after_resume(db: &TestDb) {
    let work = Arc::new(Workdir::new());
    let h = Harness::new(&db.store, fleet());
    let config = "mode = \"autonomous\"\n[limits]\nscale_in_cooldown_minutes = 0\n";
    let service = h.service(config);
    let up = service.file(scale(5, 6)).await.expect("file");
    h.run(config, 1).await.expect("tick");
    assert_eq!(state(db, up.id).await.state, ProposalState::Succeeded);
    assert_eq!(desired(&h).await, 6);

    assert!(steward(&work, &db.url, &["pause", "--reason", "drill"]).await.status.success());
    let back = rollback(&work, db, up.id).await;
    assert_eq!((back.state, back.call.to_string()), (ProposalState::Proposed, "scale_group api 6→5".to_string()));
    h.run(config, 2).await.expect("ticks");
    let held = state(db, back.id).await;
    assert_eq!(held.state, ProposalState::Approved, "policy allows it, the kill switch holds it: {:?}", held.outcome);
    let kinds: Vec<String> =
        db.store.audit_for_proposal(back.id).await.expect("audit").into_iter().map(|e| e.kind).collect();
    assert!(!kinds.iter().any(|k| k == "proposal.executing"), "nothing ran while paused: {kinds:?}");
    assert_eq!(desired(&h).await, 6);

    assert!(steward(&work, &db.url, &["resume"]).await.status.success());
    h.run(config, 1).await.expect("tick");
    let done = state(db, back.id).await;
    assert_eq!(done.state, ProposalState::Succeeded, "{:?}", done.outcome);
    assert_eq!(desired(&h).await, 5);
}
both!(a_rollback_filed_while_paused_runs_only_after_resume);

async fn a_filed_rollback_supersedes_and_is_superseded_like_any_proposal(db: &TestDb) {
    let work = Arc::new(Workdir::new());
    let h = Harness::new(&db.store, fleet());
    let cfg = "[limits]\nscale_in_cooldown_minutes = 0\n";
    let service = h.service(cfg);
    // Supervised: ops's scale-out is approved from the CLI and runs.
    let up = service.file(scale(5, 6)).await.expect("file");
    h.run(cfg, 1).await.expect("tick");
    assert!(steward(&work, &db.url, &["approve", &up.id.to_string()]).await.status.success());
    h.run(cfg, 1).await.expect("tick");
    assert_eq!(state(db, up.id).await.state, ProposalState::Succeeded);
    // Another change for api waits for approval…
    let more = service.file(scale(6, 7)).await.expect("file");
    h.run(cfg, 1).await.expect("tick");
    let more = state(db, more.id).await;
    assert_eq!(more.state, ProposalState::PendingApproval, "{}", more.reason_line());

    // …and the rollback, filed from the CLI, replaces it, its approvals void.
    let back = rollback(&work, db, up.id).await;
    h.run(cfg, 1).await.expect("tick");
    let replaced = state(db, more.id).await;
    assert_eq!(replaced.state, ProposalState::Superseded);
    assert_eq!(replaced.outcome.as_deref(), Some("re-planned as scale_group api 6→5"));
    assert_eq!(state(db, back.id).await.state, ProposalState::PendingApproval);

    // The same rollback filed again is superseded by the one already waiting.
    let again = rollback(&work, db, up.id).await;
    h.run(cfg, 1).await.expect("tick");
    let again = state(db, again.id).await;
    assert_eq!(again.state, ProposalState::Superseded);
    assert_eq!(again.outcome, Some(format!("the same change already waits for approval as #{}", back.id)));
    assert_eq!(state(db, back.id).await.state, ProposalState::PendingApproval, "the first keeps its place");
}
both!(a_filed_rollback_supersedes_and_is_superseded_like_any_proposal);

async fn a_filed_rollback_waits_out_the_back_off_after_a_denial(db: &TestDb) {
    let work = Arc::new(Workdir::new());
    let h = Harness::new(&db.store, fleet());
    let open = "mode = \"autonomous\"\n[limits]\nscale_in_cooldown_minutes = 0\n";
    let up = h.service(open).file(scale(5, 6)).await.expect("file");
    h.run(open, 1).await.expect("tick");
    assert_eq!(state(db, up.id).await.state, ProposalState::Succeeded);

    // A freeze on api: a scale-in filed first is denied; the rollback filed right after it
    // (a like change) waits, still filed, for the back-off; then it is decided, and denied.
    let frozen = format!(
        "{open}[planner]\ndenied_backoff = \"3m\"\n[[freeze]]\nname = \"audit\"\ngroups = [\"api\"]\n\
         days = [\"mon\",\"tue\",\"wed\",\"thu\",\"fri\",\"sat\",\"sun\"]\nfrom = \"00:00\"\nto = \"24:00\"\n"
    );
    let first = h.service(&frozen).file(scale(6, 5)).await.expect("file");
    let back = rollback(&work, db, up.id).await;
    h.run(&frozen, 5).await.expect("ticks");
    let denied_at = |entries: Vec<steward_memory::AuditEntry>| {
        entries.into_iter().find(|e| e.kind == "proposal.denied").map(|e| e.at_ms).expect("a denial")
    };
    let first_denied = denied_at(db.store.audit_for_proposal(first.id).await.expect("audit"));
    let decided = state(db, back.id).await;
    assert_eq!(decided.state, ProposalState::Denied, "{:?}", decided.outcome);
    assert!(decided.reason_line().contains("limit:freeze:audit"), "{}", decided.reason_line());
    let back_denied = denied_at(db.store.audit_for_proposal(back.id).await.expect("audit"));
    assert_eq!(back_denied - first_denied, 3 * 60_000, "held, still filed, until the 3-minute back-off passed");
    assert_eq!(desired(&h).await, 6);
}
both!(a_filed_rollback_waits_out_the_back_off_after_a_denial);
