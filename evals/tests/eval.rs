//! A short eval over every built-in scenario: the invariants hold (no violation executed,
//! every safety scenario stopped, every figure finite), the run is deterministic for a
//! seed, and the figures make sense against each other.

use steward_evals::{run, EvalOptions, ReplaySettings};

fn options(seed: u64) -> EvalOptions {
    EvalOptions {
        days: 2,
        max_minutes: Some(1_800),
        settings: ReplaySettings { seed, ..ReplaySettings::default() },
        ..EvalOptions::default()
    }
}

#[tokio::test]
async fn invariants_hold_and_figures_make_sense() {
    let card = run(&options(42)).await.expect("eval runs");
    card.invariants_hold().expect("invariants");
    assert_eq!(card.web.len(), 6 * 6, "six scenarios × (five planners + the oracle)");
    assert_eq!(card.gpu.len(), 3);
    assert_eq!(card.safety.len(), 6);
    assert!(card.safety.iter().all(|s| !s.executed));
    for trace in card.web.iter().map(|s| s.trace.clone()).collect::<std::collections::BTreeSet<_>>() {
        let rows: Vec<_> = card.web.iter().filter(|s| s.trace == trace).collect();
        let oracle = rows.iter().find(|s| s.planner == "oracle").expect("oracle");
        for row in &rows {
            assert!(row.cost_usd + 1e-9 >= oracle.cost_usd, "{} beats the oracle on {trace}", row.planner);
            assert!(row.minutes == 1_800);
        }
        let fixed = rows.iter().find(|s| s.planner == "static-peak").expect("static");
        assert_eq!(fixed.scaling_actions, 0);
        assert_eq!(fixed.slo_violation_minutes, 0, "static peak provisioning never runs short");
    }
    let gpu_static = card.gpu.iter().find(|g| g.planner == "static-peak").expect("gpu static");
    let gpu_queue = card.gpu.iter().find(|g| g.planner == "gpu-queue").expect("gpu queue");
    assert!(gpu_queue.gpu_hours_paid < gpu_static.gpu_hours_paid);
    assert!(gpu_queue.gpu_hours_idle < gpu_static.gpu_hours_idle);
    assert_eq!(gpu_static.jobs_started, gpu_queue.jobs_started, "both drain the same jobs");
    let json = card.json();
    for name in [
        "cost_usd",
        "slo_violation_minutes",
        "over_provisioning_percent",
        "scaling_actions",
        "approvals_requested",
        "policy_denials",
        "policy_violations_executed",
    ] {
        assert!(json["web"][0].get(name).is_some(), "{name} missing");
    }
}

#[tokio::test]
async fn the_same_seed_gives_the_same_scorecard() {
    let a = run(&options(7)).await.expect("a").json();
    let b = run(&options(7)).await.expect("b").json();
    let c = run(&options(8)).await.expect("c").json();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[tokio::test]
async fn unknown_scenarios_and_broken_traces_are_named() {
    let bad = EvalOptions { scenarios: Some(vec!["tsunami".into()]), ..options(1) };
    let err = run(&bad).await.expect_err("unknown scenario").to_string();
    assert!(err.starts_with("unknown scenario `tsunami`"), "{err}");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("broken.csv");
    std::fs::write(&path, "timestamp,requests\n2026-01-05T00:00:00Z,10\n2026-01-05T00:01:00Z,ten\n").expect("write");
    let bad = EvalOptions { scenarios: Some(vec![]), traces: vec![path], ..options(1) };
    let err = run(&bad).await.expect_err("broken trace").to_string();
    assert!(err.ends_with("broken.csv line 3: `ten` is not a number"), "{err}");
}

/// The shared traces: `STEWARD_TRACES`, else `../shared/traces` beside the checkout (where a
/// development checkout and CI have them; the README says where to get them).
fn traces() -> std::path::PathBuf {
    std::env::var_os("STEWARD_TRACES")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/traces"))
}

#[tokio::test]
async fn a_real_trace_replays() {
    let path = traces().join("nasa-http-1995-07-per-minute.csv");
    assert!(
        path.exists(),
        "{} is missing: set STEWARD_TRACES to the directory of the shared traces (see the README's evals section)",
        path.display()
    );
    let options = EvalOptions { scenarios: Some(vec![]), traces: vec![path], max_minutes: Some(2_880), ..options(42) };
    let card = run(&options).await.expect("eval");
    card.invariants_hold().expect("invariants");
    assert_eq!(card.web.len(), 6);
    assert!(card.web.iter().all(|s| s.minutes == 2_880));
}
