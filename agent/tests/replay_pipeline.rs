//! `steward eval --pipeline` decides what the fast replay decides: the same trace through
//! the real daemon (propose path, policy, limits, executor, store and audit on SQLite)
//! gives the same executed changes at the same minutes, and the same scorecard row, on a
//! load shape and on three of the robustness scenarios.

use steward_agent::replay::{replay, PipelineRun};
use steward_evals::replay::{initial_capacity, replay_web, Disturbance};
use steward_evals::scenarios::{disturbance, generate};
use steward_evals::{eval_guardrails, ReplaySettings};
use steward_planners::{Predictive, PredictiveConfig};

async fn both(name: &str, days: usize, knob: f64) {
    let settings = ReplaySettings::default();
    let trace = settings.normalise(&generate(name, days, 42).expect("scenario"));
    let shown = disturbance(name, trace.per_minute.len());
    let initial = initial_capacity(&settings, &trace, Some(knob));

    let mut planner = Predictive::new(PredictiveConfig::at_target(knob));
    let guardrails = eval_guardrails().expect("guardrails");
    let (mut fast, series) = replay_web(&settings, &guardrails, (&trace, &shown), &mut planner, initial).await;
    fast.knob = Some(knob);

    let dir = tempfile::tempdir().expect("tempdir");
    let run = PipelineRun::at(&settings, &trace, &shown, knob);
    let (piped, decisions) = replay(run, dir.path()).await.expect("pipeline replay");

    assert!(!series.decisions.is_empty(), "{name}: the planner acts");
    assert_eq!(decisions, series.decisions, "{name}: the same changes at the same minutes");
    assert_eq!(piped.score.scaling_actions, fast.scaling_actions);
    assert_eq!(piped.score.slo_violation_minutes, fast.slo_violation_minutes, "{name}");
    assert!(
        (piped.score.cost_usd - fast.cost_usd).abs() < 1e-6,
        "{name}: {} vs {}",
        piped.score.cost_usd,
        fast.cost_usd
    );
    assert!((piped.score.over_provisioning_percent - fast.over_provisioning_percent).abs() < 1e-9);
    assert_eq!((piped.score.policy_denials, piped.score.policy_violations_executed), (0, 0));
    assert_eq!(piped.ticks, trace.per_minute.len() as u64);
    // Each executed change is several audit entries (proposed, decided, executing, done).
    assert!(piped.audit_entries >= 3 * decisions.len() as i64, "{} entries", piped.audit_entries);
    assert!(piped.ticks_per_second > 0.0);
}

#[tokio::test]
async fn the_daemon_decides_what_the_fast_replay_decides() {
    both("daily-cycle", 2, 60.0).await;
}

#[tokio::test]
async fn with_metric_gaps_and_noisy_cpu_too() {
    both("metric-gaps", 1, 70.0).await;
    both("noisy-cpu", 1, 50.0).await;
}

#[tokio::test]
async fn through_a_level_shift_at_the_highest_knob() {
    both("level-shift", 1, 80.0).await;
}

#[tokio::test]
async fn an_undisturbed_replay_is_the_default() {
    assert_eq!(disturbance("daily-cycle", 100), Disturbance::default());
}

/// Supervised: every change waits for the scripted approver, who approves through the
/// service core once a proposal has waited the delay, and not before; each approved change
/// is then carried out by the daemon, and the audit log still verifies.
#[tokio::test]
async fn supervised_changes_wait_for_the_scripted_approver() {
    let settings = ReplaySettings::default();
    let trace = settings.normalise(&generate("daily-cycle", 1, 42).expect("scenario"));
    let dir = tempfile::tempdir().expect("tempdir");
    let calm = Disturbance::default();
    let run = PipelineRun {
        approve_after_ms: 10 * 60_000,
        supervised: true,
        ..PipelineRun::at(&settings, &trace, &calm, 60.0)
    };
    let (piped, decisions) = replay(run, dir.path()).await.expect("pipeline replay");
    let store = steward_memory::Store::connect(&format!("sqlite://{}", dir.path().join("steward.db").display()))
        .await
        .expect("the replay's store");
    assert!(piped.score.approvals_requested > 0, "every change asked for approval");
    assert!(!decisions.is_empty(), "approved changes ran");
    assert!(piped.score.approvals_requested >= piped.score.scaling_actions);

    let done = store.proposals_in(&[steward_memory::ProposalState::Succeeded]).await.expect("proposals");
    assert_eq!(done.len() as u64, piped.score.scaling_actions);
    for p in &done {
        let votes = store.approvals(p.id).await.expect("votes");
        let vote = votes.iter().find(|v| v.decision == "approve").expect("approved by someone");
        assert_eq!(vote.approver, "eval-approver");
        assert!(vote.at_ms - p.created_ms >= 10 * 60_000, "#{} approved after {} ms", p.id, vote.at_ms - p.created_ms);
    }
    let report = store.verify().await.expect("verify");
    assert!(report.problem.is_none(), "{report:?}");
}
