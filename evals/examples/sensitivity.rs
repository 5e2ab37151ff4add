//! What each of the predictive planner's frozen parameters is worth: the web eval (every
//! scenario, and the traces given) run once as frozen and once with each parameter moved a
//! step either way, the others as frozen, and the bars counted each time:
//! `cargo run --release -p steward-evals --example sensitivity [-- TRACE.csv ...]`.
//!
//! Not the launch lead (it is the cloud's launch delay plus a tick, not a choice) nor the
//! UTC offset (a fact about the users). Each eval runs on its own thread, as many at once
//! as there are cores.

#[path = "common/mod.rs"]
mod common;

use std::sync::{Arc, Mutex};

use steward_evals::frontier::{self, Tally};
use steward_evals::scenarios::{ROBUSTNESS_SCENARIOS, WEB_SCENARIOS};
use steward_evals::EvalOptions;
use steward_planners::{PredictiveConfig, Tuning};

/// One row: the parameter, its frozen value and the value tried, and the config.
type Variant = (&'static str, String, String, PredictiveConfig);

fn variants() -> Vec<Variant> {
    let d = PredictiveConfig::default();
    let t = d.tuning;
    let mut out: Vec<Variant> = vec![("(as frozen)", String::new(), String::new(), d.clone())];
    let mut add = |name: &'static str, frozen: String, tries: Vec<(String, PredictiveConfig)>| {
        for (tried, config) in tries {
            out.push((name, frozen.clone(), tried, config));
        }
    };
    let band = |f: fn(&mut PredictiveConfig, f64), values: [f64; 2]| {
        values.map(|v| {
            let mut c = d.clone();
            f(&mut c, v);
            (format!("{v}"), c)
        })
    };
    let tuned = |f: fn(&mut Tuning, f64), values: [f64; 2]| {
        values.map(|v| {
            let mut tuning = t;
            f(&mut tuning, v);
            (format!("{v}"), PredictiveConfig { tuning, ..d.clone() })
        })
    };
    add(
        "scale-out line at the default target 72, % (moves with the knob)",
        format!("{}", d.high_percent),
        band(|c, v| c.high_percent = v, [80.0, 84.0]).into(),
    );
    add(
        "scale-in line at the default target 72, % (moves with the knob)",
        format!("{}", d.low_percent),
        band(|c, v| c.low_percent = v, [46.0, 54.0]).into(),
    );
    add(
        "horizon, min",
        format!("{}", d.horizon_minutes),
        band(|c, v| c.horizon_minutes = v as u32, [20.0, 40.0]).into(),
    );
    add("hold, min", format!("{}", d.hold_minutes), band(|c, v| c.hold_minutes = v as u32, [20.0, 45.0]).into());
    add(
        "scale-out ceiling, %",
        format!("{}", t.scale_out_ceiling_percent),
        tuned(|t, v| t.scale_out_ceiling_percent = v, [80.0, 84.0]).into(),
    );
    add(
        "busiest minutes set aside",
        format!("{}", t.burst_minutes_set_aside),
        tuned(|t, v| t.burst_minutes_set_aside = v as usize, [1.0, 3.0]).into(),
    );
    add(
        "scale-out due within the lead +, min",
        format!("{}", t.scale_out_due_minutes),
        tuned(|t, v| t.scale_out_due_minutes = v as i64, [3.0, 8.0]).into(),
    );
    add(
        "capacity readings before a scale-in",
        format!("{}", t.scale_in_after_readings),
        tuned(|t, v| t.scale_in_after_readings = v as u32, [3.0, 8.0]).into(),
    );
    add(
        "capacity reading weight",
        format!("{}", t.capacity_reading_weight),
        tuned(|t, v| t.capacity_reading_weight = v, [0.05, 0.2]).into(),
    );
    add(
        "settle: points under the target",
        format!("{}", t.settle_points_under_target),
        tuned(|t, v| t.settle_points_under_target = v, [7.0, 13.0]).into(),
    );
    add(
        "settle after, holds",
        format!("{}", t.settle_after_holds),
        tuned(|t, v| t.settle_after_holds = v as u32, [3.0, 5.0]).into(),
    );
    add(
        "history held: tolerance",
        format!("{}", t.forecast_tolerance),
        tuned(|t, v| t.forecast_tolerance = v, [0.07, 0.15]).into(),
    );
    add(
        "held: scale-out reach, min",
        format!("{}", t.combine_reach_minutes),
        tuned(|t, v| t.combine_reach_minutes = v as i64, [120.0, 240.0]).into(),
    );
    add(
        "held: level sustained for, min",
        format!("{}", t.sustain_minutes),
        tuned(|t, v| t.sustain_minutes = v as i64, [45.0, 90.0]).into(),
    );
    add(
        "held: no scale-in below the next, min",
        format!("{}", t.trusted_ahead_minutes),
        tuned(|t, v| t.trusted_ahead_minutes = v as i64, [30.0, 90.0]).into(),
    );
    add(
        "held: settle after, holds",
        format!("{}", t.settle_after_holds_trusted),
        tuned(|t, v| t.settle_after_holds_trusted = v as u32, [4.0, 8.0]).into(),
    );
    out
}

fn main() {
    let traces: Vec<std::path::PathBuf> = std::env::args().skip(1).map(Into::into).collect();
    let scenarios: Vec<&'static str> = WEB_SCENARIOS.iter().chain(&ROBUSTNESS_SCENARIOS).copied().collect();
    let variants = variants();
    let results: Arc<Mutex<Vec<Option<Tally>>>> = Arc::new(Mutex::new(vec![None; variants.len()]));
    let next = Arc::new(Mutex::new(0usize));
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(variants.len());
    let started = std::time::Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
                loop {
                    let i = {
                        let mut next = next.lock().expect("the queue");
                        *next += 1;
                        *next - 1
                    };
                    let Some((_, _, _, config)) = variants.get(i) else { break };
                    let options =
                        EvalOptions { traces: traces.clone(), predictive: config.clone(), ..EvalOptions::default() };
                    let (card, _) = runtime.block_on(common::run_or_exit(&scenarios, options));
                    results.lock().expect("the results")[i] = Some(frontier::tally(&card.web));
                }
            });
        }
    });
    let results = results.lock().expect("the results");
    println!("| parameter | frozen | tried | dominated | ≥ 5× fewer actions | robust | Steward's cost $ | SLO-violation min | actions |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for ((name, frozen, tried, _), tally) in variants.iter().zip(results.iter()) {
        let Some(t) = tally else { continue };
        println!(
            "| {name} | {frozen} | {tried} | {}/{} | {}/{} | {}/{} | {:.2} | {} | {} |",
            t.dominated,
            t.points,
            t.fewer_actions,
            t.knobs,
            t.robust,
            t.robust_knobs,
            t.cost_usd,
            t.slo_violation_minutes,
            t.scaling_actions
        );
    }
    println!("({:.1} s, {workers} at once)", started.elapsed().as_secs_f64());
}
