//! GPU replays: a job-arrival trace drained by a GPU pool. Scored on how long jobs waited
//! (p50, p95), GPU-hours paid and GPU-hours idle.

use std::sync::Arc;

use serde::Serialize;
use steward_planners::Planner;
use steward_policies::Guardrails;
use steward_sim::{GroupSpec, Load, SimCloud};
use steward_tools::provider::CloudProvider;
use steward_tools::{Environment, GroupKind, InstanceState};

use crate::replay::{Gate, START_MS};
use crate::trace::Trace;

pub const GPU_TYPE: &str = "g5.xlarge";
pub const MINUTES_PER_JOB: u32 = 5;
pub const GPU_LAUNCH_DELAY: u32 = 4;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GpuScore {
    pub planner: String,
    pub trace: String,
    pub minutes: usize,
    pub jobs_started: usize,
    pub wait_p50_minutes: f64,
    pub wait_p95_minutes: f64,
    pub gpu_hours_paid: f64,
    pub gpu_hours_idle: f64,
    pub cost_usd: f64,
    pub scaling_actions: u64,
    pub approvals_requested: u64,
    pub policy_denials: u64,
    pub policy_violations_executed: u64,
}

/// Scale a job trace so its peak minute needs `peak_workers` workers to keep up.
pub fn normalise_jobs(trace: &Trace, peak_workers: u32) -> Trace {
    let scaled = trace.scaled_to_peak(f64::from(peak_workers) / f64::from(MINUTES_PER_JOB));
    Trace { name: scaled.name, per_minute: scaled.per_minute }
}

/// Workers that keep up with the trace's peak minute.
pub fn peak_workers(trace: &Trace) -> u32 {
    (trace.peak() * f64::from(MINUTES_PER_JOB)).ceil() as u32
}

fn percentile(sorted: &[i64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)] as f64 / 60_000.0
}

/// Replay a (normalised) job trace through `planner`, starting with `initial` workers.
pub async fn replay_gpu(
    guardrails: &Guardrails,
    trace: &Trace,
    planner: &mut dyn Planner,
    initial: u32,
    max_workers: u32,
    seed: u64,
) -> GpuScore {
    // Whole jobs: carry the fractions so the total number of jobs is kept.
    let mut carry = 0.0;
    let jobs: Vec<f64> = trace
        .per_minute
        .iter()
        .map(|v| {
            carry += v;
            let whole = carry.floor();
            carry -= whole;
            whole
        })
        .collect();
    let spec = GroupSpec {
        name: "gpu".into(),
        kind: GroupKind::GpuPool,
        environment: Environment::Staging,
        instance_type: GPU_TYPE.into(),
        min: 0,
        max: max_workers,
        desired: initial,
        requests_per_instance: 0.0,
        launch_delay_minutes: GPU_LAUNCH_DELAY,
        minutes_per_job: MINUTES_PER_JOB,
        unmanaged: 0,
        load: Load::Series(Arc::new(jobs)),
    };
    let cloud = SimCloud::new(vec![spec], START_MS, seed);
    let mut gate = Gate::new(guardrails, planner.name());
    let price = steward_tools::prices::hourly_price(GPU_TYPE).unwrap_or(0.0);
    let (mut paid, mut idle) = (0.0, 0.0);
    let mut waits = Vec::new();
    for _ in &trace.per_minute {
        let Ok(observation) = cloud.observe().await else { break };
        let Some(pool) = observation.group("gpu") else { break };
        paid += pool.instances.len() as f64 / 60.0;
        idle += pool.instances.iter().filter(|i| i.state == InstanceState::Running && !i.busy).count() as f64 / 60.0;
        gate.step(&cloud, planner, &observation).await;
        cloud.advance_clock(60_000).await;
        waits.extend(cloud.take_job_waits());
    }
    waits.sort_unstable();
    GpuScore {
        planner: planner.name().to_string(),
        trace: trace.name.clone(),
        minutes: trace.per_minute.len(),
        jobs_started: waits.len(),
        wait_p50_minutes: percentile(&waits, 0.5),
        wait_p95_minutes: percentile(&waits, 0.95),
        gpu_hours_paid: paid,
        gpu_hours_idle: idle,
        cost_usd: paid * price,
        scaling_actions: gate.actions,
        approvals_requested: gate.approvals,
        policy_denials: gate.denials,
        policy_violations_executed: gate.violations,
    }
}
