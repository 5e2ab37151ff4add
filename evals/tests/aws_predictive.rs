//! AWS predictive scaling (forecast and scale) against target tracking alone: on a load
//! that jumps at the same hour every day, it has the capacity in place before the jump
//! from the second day on, so the jump costs fewer SLO-violation minutes; on the first day
//! (no forecast before 24 hours of history) it does what target tracking does.

use steward_evals::aws_predictive::AwsPredictiveScaling;
use steward_evals::baselines::AwsTargetTracking;
use steward_evals::replay::{replay_web, Disturbance};
use steward_evals::{eval_guardrails, ReplaySettings, Trace};
use steward_planners::Planner;

const DAY: usize = 1440;

/// Quiet, then five times the load from 10:00 to 12:00, every day for three days.
fn jumps() -> Trace {
    let per_minute = (0..3 * DAY).map(|m| if (600..720).contains(&(m % DAY)) { 5.0 } else { 1.0 }).collect();
    Trace { name: "daily-jump".into(), per_minute }
}

async fn violations_by_day(make: impl Fn() -> Box<dyn Planner>, trace: &Trace) -> Vec<u64> {
    let settings = ReplaySettings::default();
    let guardrails = eval_guardrails().expect("guardrails");
    let mut out = Vec::new();
    for days in 1..=3 {
        let part = Trace { name: trace.name.clone(), per_minute: trace.per_minute[..days * DAY].to_vec() };
        let part = settings.normalise(&part);
        let (score, _) =
            replay_web(&settings, &guardrails, (&part, &Disturbance::default()), make().as_mut(), 10).await;
        out.push(score.slo_violation_minutes);
    }
    out
}

#[tokio::test]
async fn capacity_is_in_place_before_a_daily_jump_once_a_day_is_seen() {
    let trace = jumps();
    let predictive = violations_by_day(|| Box::new(AwsPredictiveScaling::new(60.0)), &trace).await;
    let tracking = violations_by_day(|| Box::new(AwsTargetTracking::new(60.0)), &trace).await;
    // Day one: no forecast yet, the same as target tracking.
    assert_eq!(predictive[0], tracking[0], "{predictive:?} vs {tracking:?}");
    assert!(tracking[0] > 0, "target tracking reacts late to the jump: {tracking:?}");
    // Days two and three: the jump is forecast and met.
    let later = |v: &[u64]| v[2] - v[0];
    assert!(later(&predictive) < later(&tracking), "{predictive:?} vs {tracking:?}");
}
