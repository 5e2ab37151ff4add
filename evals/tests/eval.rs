//! A short eval over every built-in scenario: the invariants hold (no violation executed,
//! every safety scenario stopped, every figure finite), the run is deterministic for a
//! seed, and the figures make sense against each other.

use steward_evals::{run, EvalOptions, ReplaySettings, Score};
use steward_planners::PredictiveConfig;

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
    assert_eq!(
        card.web.len(),
        10 * (2 + 5 * 5),
        "six load shapes and four robustness scenarios × (static, the oracle, five planners at five knobs)"
    );
    assert_eq!(card.gpu.len(), 8 * 6, "eight GPU scenarios × (five planners, KEDA with and without reuse)");
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
    for trace in card.gpu.iter().map(|g| g.trace.clone()).collect::<std::collections::BTreeSet<_>>() {
        let row = |planner: &str| card.gpu.iter().find(|g| g.trace == trace && g.planner == planner).expect(planner);
        let (spot, on_demand) = (row("gpu-queue"), row("gpu-queue-on-demand"));
        assert!(spot.cost_usd < on_demand.cost_usd * 0.6, "{trace}: spot {} vs {}", spot.cost_usd, on_demand.cost_usd);
        assert!(card.gpu.iter().filter(|g| g.trace == trace).all(|g| g.budget_overruns == 0), "{trace}");
    }
    // The shortage hits the first option; the planner on every option falls back, the
    // per-job scaler on the first alone waits it out.
    let shortage = |planner: &str| {
        card.gpu.iter().find(|g| g.trace == "gpu-capacity-shortage" && g.planner == planner).expect(planner).clone()
    };
    let calm = |planner: &str| {
        card.gpu.iter().find(|g| g.trace == "gpu-bursts" && g.planner == planner).expect(planner).clone()
    };
    assert!(shortage("keda-scaled-job").failed_launches > 0, "the first option alone has no capacity for an hour");
    assert_eq!(calm("keda-scaled-job").failed_launches, 0);
    assert_eq!(shortage("gpu-queue").failed_launches, 0, "the next option takes over");
    assert_eq!(shortage("gpu-queue-on-demand").failed_launches, 0, "the next zone takes over");
    for name in [
        "planner",
        "trace",
        "gpu_hours_paid",
        "wait_p95_minutes",
        "cost_usd",
        "budget_overruns",
        "policy_violations_executed",
    ] {
        assert!(json_has(&card.json()["gpu"][0], name), "gpu row lacks {name}");
    }
    let json = card.json();
    for name in [
        "planner",
        "knob",
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
    // Every planner with a knob at every knob value, on every trace; drawn and checked.
    for trace in ["daily-cycle", "flash-crowd"] {
        for planner in
            ["aws-target-tracking", "aws-predictive-scaling", "kubernetes-hpa", "target-tracking", "predictive"]
        {
            let knobs: Vec<f64> =
                card.web.iter().filter(|s| s.trace == trace && s.planner == planner).filter_map(|s| s.knob).collect();
            assert_eq!(knobs, steward_evals::frontier::KNOBS, "{trace} {planner}");
        }
        let svg = steward_evals::frontier::svg(trace, &card.web);
        assert_eq!(svg.matches("<polyline").count(), 5, "one line per swept planner");
        assert_eq!(svg.matches("<circle").count(), 2 + 5 * 5, "one point per row");
    }
    let checks = steward_evals::frontier::checks(&card.web, &card.floors);
    assert_eq!(checks.len(), 10 * 2 + 4, "two bars per trace, a third on each robustness scenario: {checks:#?}");
    for trace in steward_evals::scenarios::ROBUSTNESS_SCENARIOS {
        assert!(checks.iter().any(|l| l.contains(&format!("{trace}: Steward's SLO-violation minutes"))), "{trace}");
    }
    assert!(checks.iter().all(|l| l.starts_with("OK") || l.starts_with("MISS")));
    // The tally counts what the check lines print.
    let tally = steward_evals::frontier::tally(&card.web);
    let counted = |of: fn(&str) -> Option<(usize, usize)>| {
        checks.iter().filter_map(|l| of(l)).fold((0, 0), |(a, b), (x, y)| (a + x, b + y))
    };
    let dominated = counted(|l| {
        let (n, rest) = l.split_once(": ")?.1.split_once('/')?;
        Some((n.parse().ok()?, rest.split_once(' ')?.0.parse().ok()?))
    });
    assert_eq!((tally.dominated, tally.points), dominated);
    assert_eq!(tally.points, 10 * 20);
    let robust = counted(|l| {
        let figures = l.split_once("at the same knob (≤): ")?.1;
        let knobs: Vec<(u64, u64)> = figures
            .split(", ")
            .filter_map(|k| {
                let (s, a) = k.split_once(": ")?.1.split_once(" vs ")?;
                Some((s.parse().ok()?, a.split_once(' ')?.0.parse().ok()?))
            })
            .collect();
        Some((knobs.iter().filter(|(s, a)| s <= a).count(), knobs.len()))
    });
    assert_eq!((tally.robust, tally.robust_knobs), robust);
    assert_eq!(tally.robust_knobs, 4 * 5);
    let steward: Vec<&Score> = card.web.iter().filter(|s| s.planner == "predictive").collect();
    assert_eq!(tally.scaling_actions, steward.iter().map(|s| s.scaling_actions).sum::<u64>());
    assert_eq!(tally.knobs, steward.len());
    // The floor is the least anyone pays: the oracle's cost at no SLO-violation minutes,
    // and no replayed planner under it for as many minutes as it violated, nor under the
    // capped floor for as many minutes and as many changes as it made.
    assert_eq!(card.floors.len(), 10);
    for floor in &card.floors {
        let rows: Vec<&Score> = card.web.iter().filter(|s| s.trace == floor.trace).collect();
        let oracle = rows.iter().find(|s| s.planner == "oracle").expect("oracle row");
        assert!((floor.least_cost(0) - oracle.cost_usd).abs() < 1e-6, "{} vs {}", floor.least_cost(0), oracle.cost_usd);
        assert!(floor.least_cost(60) < floor.least_cost(0));
        assert!(floor.least_cost_within(0, 4) > floor.least_cost(0), "four changes cannot follow {}", floor.trace);
        for s in rows {
            let least = floor.least_cost(s.slo_violation_minutes);
            assert!(
                s.cost_usd >= least - 1e-6,
                "{} on {} paid ${:.2} under the floor ${least:.2}",
                s.planner,
                s.trace,
                s.cost_usd
            );
            let capped = floor.least_cost_within(s.slo_violation_minutes, s.scaling_actions);
            assert!(
                s.cost_usd >= capped - 1e-6 && capped >= least - 1e-6,
                "{} on {} paid ${:.2} with {} actions, under the capped floor ${capped:.2}",
                s.planner,
                s.trace,
                s.cost_usd,
                s.scaling_actions
            );
        }
    }
    let predictive = EvalOptions::default().predictive;
    let section = steward_evals::frontier::section(&card.web, &card.floors, &predictive);
    for line in steward_evals::frontier::parameters(&predictive) {
        assert!(section.contains(&line), "{section}");
    }
}

#[tokio::test]
async fn the_predictive_planner_runs_as_configured() {
    // A hold ten times the frozen one: fewer scale-ins on the daily cycle, and the printed
    // parameters say so.
    let daily = || EvalOptions { scenarios: Some(vec!["daily-cycle".into()]), ..options(42) };
    let frozen = EvalOptions::default().predictive;
    let held = PredictiveConfig { hold_minutes: frozen.hold_minutes * 10, ..frozen.clone() };
    let actions = |card: &steward_evals::Scorecard| -> u64 {
        card.web.iter().filter(|s| s.planner == "predictive").map(|s| s.scaling_actions).sum()
    };
    let as_frozen = run(&daily()).await.expect("eval");
    let longer = run(&EvalOptions { predictive: held.clone(), ..daily() }).await.expect("eval");
    assert!(actions(&longer) < actions(&as_frozen), "{} against {}", actions(&longer), actions(&as_frozen));
    let baselines = |card: &steward_evals::Scorecard| -> Vec<u64> {
        card.web.iter().filter(|s| s.planner != "predictive").map(|s| s.scaling_actions).collect()
    };
    assert_eq!(baselines(&longer), baselines(&as_frozen), "only Steward's rows move");
    let printed = steward_evals::frontier::parameters(&held).join("\n");
    assert!(printed.contains("hold 300 min"), "{printed}");
    assert!(steward_evals::frontier::parameters(&frozen).join("\n").contains("hold 30 min"));
}

fn json_has(row: &serde_json::Value, name: &str) -> bool {
    row.get(name).is_some()
}

#[tokio::test]
async fn the_same_seed_gives_the_same_scorecard() {
    // A load shape, the seeded CPU noise, and seeded spot interruptions.
    let some = |seed| EvalOptions {
        scenarios: Some(["daily-cycle", "noisy-cpu", "gpu-spot-storm"].map(String::from).to_vec()),
        ..options(seed)
    };
    let a = run(&some(7)).await.expect("a").json();
    let b = run(&some(7)).await.expect("b").json();
    let c = run(&some(8)).await.expect("c").json();
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
    assert_eq!(card.web.len(), 2 + 5 * 5);
    assert!(card.web.iter().all(|s| s.minutes == 2_880));
}

/// The GPU issue's bars, on every GPU scenario at full length (the figures the README
/// prints): Steward's planner pays at most 0.85 times the KEDA-style baseline's GPU-hours
/// at no worse p95 wait, spot at most 0.6 times on demand, no overrun or violation.
#[tokio::test]
async fn gpu_bars_hold_on_every_gpu_scenario() {
    let options = EvalOptions {
        scenarios: Some(steward_evals::scenarios::GPU_SCENARIOS.iter().map(|s| s.to_string()).collect()),
        ..EvalOptions::default()
    };
    let card = run(&options).await.expect("eval runs");
    let checks = steward_evals::gpu_checks(&card.gpu);
    assert_eq!(checks.iter().filter(|l| l.starts_with("OK")).count(), 8 * 3, "{checks:#?}");
    let missed: Vec<&String> = checks.iter().filter(|l| l.starts_with("MISS")).collect();
    assert!(missed.is_empty(), "{missed:#?}");
}
