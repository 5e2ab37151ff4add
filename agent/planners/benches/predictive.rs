//! The predictive planner's share of a tick over a large fleet with a full memory: 1,000
//! groups, each remembering eight days of one-minute load (the most it keeps), planned at
//! 18:00 on a falling evening. A quarter sit at their target (nothing to do), a quarter a
//! little over it (a trusted settle: the day's check of both history terms, about 24,000
//! ring reads), a quarter at twice it (a scale-in) and a quarter under it (a scale-out: the
//! due check and the sustained level too). The observation is the same each iteration and
//! no change is applied, so every iteration does the same work.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use steward_planners::{Planner, Predictive, PredictiveConfig};
use steward_tools::{Environment, GroupKind, GroupSnapshot, InstanceSnapshot, InstanceState, Observation};

const MINUTE_MS: i64 = 60_000;
const DAY: i64 = 1_440;
const GROUPS: usize = 1_000;

/// Requests per minute at `minute` of a daily cycle peaking at 14:00 (10,000 at the peak,
/// 2,000 at the trough), one instance serving 1,000 at 100 % CPU.
fn load(minute: i64) -> f64 {
    let phase = (minute % DAY) as f64 / DAY as f64 * std::f64::consts::TAU - 14.0 / 24.0 * std::f64::consts::TAU;
    2_000.0 + 8_000.0 * (1.0 + phase.cos()) / 2.0
}

fn group(i: usize, now: i64) -> GroupSnapshot {
    let requests = load(now);
    // 8,000 req/min at 18:00: 12 instances at the 72 % target; 14 (57 %) settles, 24
    // (33 %) scales in, 9 (89 %) scales out.
    let at_target = (requests / 720.0).ceil() as u32;
    let desired = [at_target, at_target + 2, at_target * 2, at_target * 3 / 4][i % 4];
    GroupSnapshot {
        name: format!("group-{i:04}"),
        kind: GroupKind::AutoScaling,
        environment: Environment::Prod,
        instance_type: "m6i.large".into(),
        min: 1,
        max: 100,
        desired,
        instances: (0..desired)
            .map(|n| InstanceSnapshot {
                id: format!("i-{i}-{n}"),
                instance_type: "m6i.large".into(),
                state: InstanceState::Running,
                managed: true,
                busy: false,
                launched_by: None,
                capacity: None,
            })
            .collect(),
        cpu_percent: Some(requests / (f64::from(desired) * 1_000.0) * 100.0),
        requests_per_minute: Some(requests),
        queue_depth: None,
        hourly_price: 0.096,
        tags: Default::default(),
        pool: None,
    }
}

fn bench(c: &mut Criterion) {
    let now = 8 * DAY + 18 * 60;
    let mut planner = Predictive::new(PredictiveConfig::default());
    for i in 0..GROUPS {
        let name = format!("group-{i:04}");
        for minute in now - 8 * DAY..now {
            planner.remember_load(&name, minute * MINUTE_MS, load(minute));
        }
    }
    let observation =
        Observation { at_ms: now * MINUTE_MS, complete: true, groups: (0..GROUPS).map(|i| group(i, now)).collect() };
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
