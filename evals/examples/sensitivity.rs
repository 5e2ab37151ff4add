//! What each of the predictive planner's frozen parameters is worth: the web eval (every
//! scenario, and the traces given) run once as frozen and once with each parameter moved a
//! step either way, the others as frozen, and the bars counted each time:
//! `cargo run --release -p steward-evals --example sensitivity [-- [--seed N] TRACE.csv ...]`.
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
use steward_planners::PredictiveConfig;

/// One row: the parameter, its frozen value and the value tried, and the config.
type Variant = (&'static str, f64, f64, PredictiveConfig);

/// A parameter: its name, how to read and set it, and the two values tried.
type Step = (&'static str, fn(&PredictiveConfig) -> f64, fn(&mut PredictiveConfig, f64), &'static [f64; 2]);

#[rustfmt::skip]
const STEPS: &[Step] = &[
    ("scale-out line at the default target 72, % (moves with the knob)", |c| c.high_percent, |c, v| c.high_percent = v, &[80.0, 84.0]),
    ("scale-in line at the default target 72, % (moves with the knob)", |c| c.low_percent, |c, v| c.low_percent = v, &[46.0, 54.0]),
    ("horizon, min", |c| f64::from(c.horizon_minutes), |c, v| c.horizon_minutes = v as u32, &[20.0, 40.0]),
    ("hold, min", |c| f64::from(c.hold_minutes), |c, v| c.hold_minutes = v as u32, &[20.0, 45.0]),
    ("scale-out ceiling, %", |c| c.tuning.scale_out_ceiling_percent, |c, v| c.tuning.scale_out_ceiling_percent = v, &[80.0, 84.0]),
    ("busiest minutes set aside", |c| c.tuning.burst_minutes_set_aside as f64, |c, v| c.tuning.burst_minutes_set_aside = v as usize, &[1.0, 3.0]),
    ("scale-out due within the lead +, min", |c| c.tuning.scale_out_due_minutes as f64, |c, v| c.tuning.scale_out_due_minutes = v as i64, &[3.0, 8.0]),
    ("capacity readings before a scale-in", |c| f64::from(c.tuning.scale_in_after_readings), |c, v| c.tuning.scale_in_after_readings = v as u32, &[3.0, 8.0]),
    ("capacity reading weight", |c| c.tuning.capacity_reading_weight, |c, v| c.tuning.capacity_reading_weight = v, &[0.05, 0.2]),
    ("settle: points under the target", |c| c.tuning.settle_points_under_target, |c, v| c.tuning.settle_points_under_target = v, &[7.0, 13.0]),
    ("settle after, holds", |c| f64::from(c.tuning.settle_after_holds), |c, v| c.tuning.settle_after_holds = v as u32, &[3.0, 5.0]),
    ("history held: tolerance", |c| c.tuning.forecast_tolerance, |c, v| c.tuning.forecast_tolerance = v, &[0.07, 0.15]),
    ("held: scale-out reach, min", |c| c.tuning.combine_reach_minutes as f64, |c, v| c.tuning.combine_reach_minutes = v as i64, &[120.0, 240.0]),
    ("held: level sustained for, min", |c| c.tuning.sustain_minutes as f64, |c, v| c.tuning.sustain_minutes = v as i64, &[45.0, 90.0]),
    ("held: no scale-in below the next, min", |c| c.tuning.trusted_ahead_minutes as f64, |c, v| c.tuning.trusted_ahead_minutes = v as i64, &[30.0, 90.0]),
    ("held: settle after, holds", |c| f64::from(c.tuning.settle_after_holds_trusted), |c, v| c.tuning.settle_after_holds_trusted = v as u32, &[4.0, 8.0]),
];

/// The frozen configuration first, then each step's two tries.
fn variants() -> Vec<Variant> {
    let frozen = PredictiveConfig::default();
    let mut out: Vec<Variant> = vec![("(as frozen)", f64::NAN, f64::NAN, frozen.clone())];
    for (name, get, set, tries) in STEPS {
        for &tried in *tries {
            let mut config = frozen.clone();
            set(&mut config, tried);
            out.push((*name, get(&frozen), tried, config));
        }
    }
    out
}

fn main() {
    let given = common::options_from_args();
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
                    let options = EvalOptions { predictive: config.clone(), ..given.clone() };
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
        let show = |v: &f64| if v.is_nan() { String::new() } else { format!("{v}") };
        println!(
            "| {name} | {} | {} | {}/{} | {}/{} | {}/{} | {:.2} | {} | {} |",
            show(frozen),
            show(tried),
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
