//! GPU replays: a job-arrival trace drained by a GPU pool on the simulated cloud, with the
//! pool's launch options (capacity shortages, spot interruptions) and a budget. Scored on
//! how long jobs waited (p50, p95), GPU-hours paid and idle, cost, budget overruns and
//! interruptions.
//!
//! Every planner runs the same jobs through the same executor (the one launch loop, with
//! its fallback and cool-off), each on the options its kind of scaler would have:
//! - `keda-scaled-job`: KEDA ScaledJob (one job, one worker; polling 30 s): the pool's
//!   first option only, as one node group (no fallback);
//! - `skypilot-failover`: SkyPilot managed jobs (one job, one cluster, on demand, failing
//!   over to the next zone or type in order);
//! - `gpu-queue-on-demand`: Steward's planner on the on-demand options;
//! - `gpu-queue`: Steward's planner on every option, spot first.

use std::sync::Arc;

use serde::Serialize;
use steward_planners::Planner;
use steward_policies::Guardrails;
use steward_sim::{GroupSpec, Load, SimCloud, SimOption, SimPool};
use steward_tools::provider::CloudProvider;
use steward_tools::{Budget, Environment, GroupKind, InstanceState, LaunchOption, Market};

use crate::replay::{Gate, START_MS};
use crate::trace::Trace;

pub const GPU_TYPE: &str = "g5.xlarge";
pub const MINUTES_PER_JOB: u32 = 5;
pub const GPU_LAUNCH_DELAY: u32 = 4;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GpuScore {
    pub planner: String,
    /// The scenario or trace.
    pub trace: String,
    pub minutes: usize,
    pub jobs_started: usize,
    pub wait_p50_minutes: f64,
    pub wait_p95_minutes: f64,
    pub gpu_hours_paid: f64,
    pub gpu_hours_idle: f64,
    pub cost_usd: f64,
    /// Minutes the pool burned above its hourly budget.
    pub budget_overruns: u64,
    /// Workers reclaimed by spot interruptions, and the jobs they were running (re-queued).
    pub workers_interrupted: u64,
    pub jobs_interrupted: u64,
    pub scaling_actions: u64,
    /// Launches that failed: no option the planner's scaler may use had capacity.
    pub failed_launches: u64,
    pub approvals_requested: u64,
    pub policy_denials: u64,
    pub policy_violations_executed: u64,
}

/// What a GPU scenario does to the pool's options beyond the jobs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Conditions {
    /// The first option has no capacity over these minutes.
    pub shortage: Option<(u32, u32)>,
    /// Spot workers interrupted within a month (the Spot Advisor's frequency).
    pub spot_interruptions_per_month: f64,
    /// A storm `(from minute, minutes, share)`: that share of spot workers is reclaimed.
    pub storm: Option<(u32, u32, f64)>,
}

impl Conditions {
    pub const CALM: Conditions = Conditions { shortage: None, spot_interruptions_per_month: 0.05, storm: None };
}

/// The GPU planners and the options each runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Options {
    /// The first option only.
    First,
    OnDemand,
    All,
}

fn option(zone: &str, market: Market, conditions: &Conditions, first: bool) -> SimOption {
    let mut o = SimOption::new(LaunchOption {
        instance_type: GPU_TYPE.into(),
        zone: Some(zone.into()),
        market,
        max_price: None,
    });
    if first {
        o.shortages.extend(conditions.shortage);
    }
    if market == Market::Spot {
        o.interruptions_per_month = conditions.spot_interruptions_per_month;
        o.storms.extend(conditions.storm);
    }
    o
}

/// The pool's options: spot in two zones, then on demand in the same two (the first of
/// each kind is the one a shortage hits), narrowed to what `which` allows.
pub fn pool(which: Options, conditions: &Conditions, budget: Budget) -> SimPool {
    let spot_first = which == Options::All;
    let mut options = Vec::new();
    if spot_first {
        options.push(option("us-east-1a", Market::Spot, conditions, true));
        options.push(option("us-east-1b", Market::Spot, conditions, false));
    }
    options.push(option("us-east-1a", Market::OnDemand, conditions, !spot_first));
    options.push(option("us-east-1b", Market::OnDemand, conditions, false));
    if which == Options::First {
        options.truncate(1);
    }
    SimPool { options, budget, one_job_per_worker: false }
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

/// A short trace (under six hours) as a long replay: `copies` of it, each followed by as
/// long with no arrivals, so scaling up from nothing and letting go is replayed each time.
pub fn tiled(trace: &Trace, copies: usize) -> Trace {
    let mut per_minute = Vec::with_capacity(trace.per_minute.len() * copies * 2);
    for _ in 0..copies {
        per_minute.extend_from_slice(&trace.per_minute);
        per_minute.extend(std::iter::repeat_n(0.0, trace.per_minute.len()));
    }
    Trace { name: format!("{} (×{copies}, idle hour between)", trace.name), per_minute }
}

fn percentile(sorted: &[i64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)] as f64 / 60_000.0
}

/// One GPU replay's set-up.
#[derive(Debug, Clone)]
pub struct GpuRun<'a> {
    pub trace: &'a Trace,
    pub pool: SimPool,
    pub initial: u32,
    pub max_workers: u32,
    pub seed: u64,
    /// The name the row carries (the planner's, unless a variant is named).
    pub label: Option<String>,
}

/// Replay a (normalised) job trace through `planner`.
pub async fn replay_gpu(guardrails: &Guardrails, run: GpuRun<'_>, planner: &mut dyn Planner) -> GpuScore {
    // Whole jobs: carry the fractions so the total number of jobs is kept.
    let mut carry = 0.0;
    let jobs: Vec<f64> = run
        .trace
        .per_minute
        .iter()
        .map(|v| {
            carry += v;
            let whole = carry.floor();
            carry -= whole;
            whole
        })
        .collect();
    let cap = run.pool.budget.max_usd_per_hour;
    let spec = GroupSpec {
        name: "gpu".into(),
        kind: GroupKind::GpuPool,
        environment: Environment::Staging,
        instance_type: GPU_TYPE.into(),
        min: 0,
        max: run.max_workers,
        desired: run.initial,
        requests_per_instance: 0.0,
        launch_delay_minutes: GPU_LAUNCH_DELAY,
        minutes_per_job: MINUTES_PER_JOB,
        unmanaged: 0,
        load: Load::Series(Arc::new(jobs)),
        pool: run.pool,
    };
    let cloud = SimCloud::new(vec![spec], START_MS, run.seed);
    let mut gate = Gate::new(guardrails, planner.name());
    let (mut paid, mut idle, mut cost, mut overruns) = (0.0, 0.0, 0.0, 0);
    let mut waits = Vec::new();
    for _ in &run.trace.per_minute {
        let Ok(observation) = cloud.observe().await else { break };
        gate.spent_usd = cost;
        gate.step(&cloud, planner, &observation).await;
        // Billed by the second: this minute is paid for what runs once the tick's actions
        // are done (a worker launched now is paid from now; one terminated now is not).
        let Ok(after) = cloud.observe().await else { break };
        let Some(pool) = after.group("gpu") else { break };
        let burn = pool.hourly_burn();
        paid += pool.instances.len() as f64 / 60.0;
        idle += pool.instances.iter().filter(|i| i.state == InstanceState::Running && !i.busy).count() as f64 / 60.0;
        cost += burn / 60.0;
        if cap.is_some_and(|c| burn > c + 1e-9) {
            overruns += 1;
        }
        cloud.advance_clock(60_000).await;
        waits.extend(cloud.take_job_waits());
    }
    waits.sort_unstable();
    let (workers_interrupted, jobs_interrupted) = cloud.interruptions();
    GpuScore {
        planner: run.label.unwrap_or_else(|| planner.name().to_string()),
        trace: run.trace.name.clone(),
        minutes: run.trace.per_minute.len(),
        jobs_started: waits.len(),
        wait_p50_minutes: percentile(&waits, 0.5),
        wait_p95_minutes: percentile(&waits, 0.95),
        gpu_hours_paid: paid,
        gpu_hours_idle: idle,
        cost_usd: cost,
        budget_overruns: overruns,
        workers_interrupted,
        jobs_interrupted,
        scaling_actions: gate.actions,
        failed_launches: gate.failures,
        approvals_requested: gate.approvals,
        policy_denials: gate.denials,
        policy_violations_executed: gate.violations,
    }
}
