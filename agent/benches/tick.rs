//! One full tick without execution over a large fleet: observe 10,000 instances in 1,000
//! groups on the simulated cloud, plan (target tracking and GPU queue), validate and decide
//! every proposal.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use steward_planners::{GpuQueue, Planner, TargetTracking};
use steward_policies::{defaults, DecisionInput, Guardrails, Limits, Proposer};
use steward_sim::{GroupSpec, Load, SimCloud};
use steward_tools::provider::CloudProvider;
use steward_tools::{validate, Environment, GroupKind};

fn fleet() -> Vec<GroupSpec> {
    (0..1_000)
        .map(|i| GroupSpec {
            name: format!("group-{i:04}"),
            kind: GroupKind::AutoScaling,
            environment: if i % 3 == 0 { Environment::Prod } else { Environment::Staging },
            instance_type: "m6i.large".into(),
            min: 1,
            max: 100,
            desired: 10,
            requests_per_instance: 1000.0,
            launch_delay_minutes: 3,
            minutes_per_job: 0,
            unmanaged: 0,
            pool: Default::default(),
            // A third above target, a third below, a third on it: every tick has work.
            load: Load::Step {
                before: [9_000.0, 3_000.0, 6_000.0][i % 3],
                after: 6_000.0,
                at_minute: 10_000,
                noise: 0.0,
            },
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let cloud = Arc::new(SimCloud::new(fleet(), 1_767_614_400_000, 1));
    let guardrails = Guardrails::load(defaults::SCHEMA, &defaults::policies(), Limits::default()).expect("policies");
    let mut planners: Vec<Box<dyn Planner>> =
        vec![Box::new(TargetTracking::new(60.0, 0)), Box::new(GpuQueue::new(Default::default()))];
    let proposer = Proposer::planner("bench");
    let mut group = c.benchmark_group("tick");
    group.sample_size(20).measurement_time(Duration::from_secs(10));
    group.bench_function("observe + plan + decide, 10,000 instances in 1,000 groups", |b| {
        b.iter(|| {
            let observation = runtime.block_on(cloud.observe()).expect("observe");
            let mut decided = 0;
            for planner in &mut planners {
                for plan in planner.plan(&observation) {
                    if let Ok(validated) = validate(plan.call, &observation) {
                        let input = DecisionInput {
                            proposer: proposer.clone(),
                            now_ms: observation.at_ms,
                            hourly_burn_usd: observation.hourly_burn(),
                            month_to_date_usd: 0.0,
                            group_month_to_date_usd: 0.0,
                            last_change_ms: None,
                            changes_last_hour: 0,
                            tainted: false,
                            idle_only: false,
                        };
                        black_box(guardrails.decide(&validated, &input));
                        decided += 1;
                    }
                }
            }
            assert!(decided >= 600, "two thirds of the groups want a change: {decided}");
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
