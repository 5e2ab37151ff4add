//! Policy decision latency: from a validated tool call to a decision (Cedar access and
//! approval rules, shadow policies, stateful limits), for one proposal. Criterion measures
//! the mean; a second pass times 200,000 single decisions to report p50 and p99.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use steward_policies::{defaults, DecisionInput, Guardrails, Limits, Proposer};
use steward_tools::{
    validate, Environment, GroupKind, GroupSnapshot, Observation, ScaleGroup, ToolCall, ValidatedCall,
};

fn setup() -> (Guardrails, ValidatedCall, DecisionInput) {
    let guardrails = Guardrails::load(defaults::SCHEMA, &defaults::policies(), Limits::default()).expect("policies");
    let observation = Observation {
        at_ms: 1_767_614_400_000,
        complete: true,
        groups: vec![GroupSnapshot {
            name: "web".into(),
            kind: GroupKind::AutoScaling,
            environment: Environment::Prod,
            instance_type: "m6i.large".into(),
            min: 2,
            max: 40,
            desired: 8,
            instances: Vec::new(),
            cpu_percent: Some(80.0),
            requests_per_minute: None,
            queue_depth: None,
            hourly_price: 0.096,
            tags: Default::default(),
            pool: None,
        }],
    };
    let call = ToolCall::ScaleGroup(ScaleGroup { group: "web".into(), current_desired: 8, desired: 6 });
    let validated = validate(call, &observation).expect("valid");
    let input = DecisionInput {
        proposer: Proposer::planner("target-tracking"),
        now_ms: observation.at_ms,
        hourly_burn_usd: 4.0,
        month_to_date_usd: 0.0,
        group_month_to_date_usd: 0.0,
        last_change_ms: Some(observation.at_ms - 600_000),
        changes_last_hour: 2,
        tainted: false,
        idle_only: false,
    };
    (guardrails, validated, input)
}

fn bench(c: &mut Criterion) {
    let (guardrails, validated, input) = setup();
    c.bench_function("policy decision (one proposal)", |b| b.iter(|| black_box(guardrails.decide(&validated, &input))));

    let mut samples: Vec<u128> = (0..200_000)
        .map(|_| {
            let start = Instant::now();
            black_box(guardrails.decide(black_box(&validated), black_box(&input)));
            start.elapsed().as_nanos()
        })
        .collect();
    samples.sort_unstable();
    let at = |p: f64| samples[((samples.len() - 1) as f64 * p) as usize] as f64 / 1_000.0;
    println!("policy decision latency over {} decisions: p50 {:.1} µs, p99 {:.1} µs", samples.len(), at(0.5), at(0.99));
}

criterion_group!(benches, bench);
criterion_main!(benches);
