//! The predictive planner's share of a tick over a large fleet with a full memory: 1,000
//! groups, each remembering eight days of one-minute load (the most it keeps), planned at
//! 18:00 on a falling evening. A quarter sit at their target (nothing to do), a quarter a
//! little over it (a trusted settle: the day's check of both history terms, about 18,000
//! ring reads), a quarter at twice it (a scale-in) and a quarter under it (a scale-out: the
//! due check and the sustained level too). The observation is the same each iteration and
//! no change is applied, so every iteration does the same work.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use steward_planners::{Planner, Predictive, PredictiveConfig};
use steward_sim::{demo_fleet, GroupSpec, Load, SimCloud};
use steward_tools::provider::CloudProvider;

const MINUTE_MS: i64 = 60_000;
const DAY: i64 = 1_440;
const GROUPS: usize = 1_000;

/// Every group's load: a daily cycle from 2,000 req/min to 10,000 at 14:00, no noise.
fn daily() -> Load {
    Load::Daily { trough: 2_000.0, peak: 10_000.0, peak_minute: 14 * 60, spike: None, noise: 0.0 }
}

/// 8,000 req/min at 18:00 on instances serving 1,000 each: 12 are the 72 % target; 14
/// (57 %) settles, 24 (33 %) scales in, 9 (89 %) scales out.
fn fleet() -> Vec<GroupSpec> {
    let web = demo_fleet().swap_remove(0);
    (0..GROUPS)
        .map(|i| GroupSpec {
            name: format!("group-{i:04}"),
            max: 100,
            desired: [12, 14, 24, 9][i % 4],
            requests_per_instance: 1_000.0,
            load: daily(),
            ..web.clone()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let now = 20_458 * DAY + 18 * 60;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let observe =
        |minute: i64| runtime.block_on(SimCloud::new(fleet(), minute * MINUTE_MS, 1).observe()).expect("observe");
    let observation = observe(now);
    // The history the simulated cloud would have shown: the same curve, minute by minute.
    let (load, mut rng) = (daily(), ChaCha8Rng::seed_from_u64(1));
    let history: Vec<(i64, f64)> =
        (now - 8 * DAY..now).map(|minute| (minute, load.at(0, minute.rem_euclid(DAY) as u32, &mut rng))).collect();
    let config = PredictiveConfig::default();
    let readings = config.tuning.scale_in_after_readings;
    let mut planner = Predictive::new(config);
    for group in &observation.groups {
        for &(minute, requests) in &history {
            planner.remember_load(&group.name, minute * MINUTE_MS, requests);
        }
    }
    // A running daemon has read the fleet's CPU every minute before this one: a scale-in
    // waits for that many readings.
    for minute in now - i64::from(readings) + 1..now {
        planner.plan(&observe(minute));
    }
    let plans = planner.plan(&observation).len();
    assert_eq!(plans, GROUPS * 3 / 4, "all but the quarter at the target change");
    let mut bench = c.benchmark_group("predictive");
    bench.sample_size(20).measurement_time(Duration::from_secs(10));
    bench.bench_function("plan 1,000 groups with 8 days of history each", |b| {
        b.iter(|| black_box(planner.plan(black_box(&observation)).len()))
    });
    bench.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
