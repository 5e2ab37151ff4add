//! GPU pools: start every queued job within a launch delay, with as few GPU-hours as that
//! allows.
//!
//! Per pool, each tick:
//! - **What a job takes** is learnt, not assumed: busy worker-minutes over jobs started
//!   (the pool's counter), decayed so the figure follows the workload, starting from what
//!   the store remembers of the pool (the daemon preloads it); likewise the launch delay,
//!   from how long new workers stay pending. Until enough is seen, the configured figures.
//! - **Sizing** walks the queue oldest first and gives each job the worker that frees
//!   soonest (idle now, busy until its job ends, pending until it boots). A job that no
//!   worker can start within the allowed wait (the target, and never more than a launch
//!   takes, counting what the oldest job has waited already) gets a new worker. So a burst
//!   is met with new workers only where waiting for a busy one would take longer than
//!   booting one, and workers are reused wherever they can be.
//! - **Interruptions**: a spot worker under notice takes no new job and counts as gone;
//!   the pool is kept at its minimum without it, so its replacement is proposed at once
//!   (the executor skips the option being reclaimed).
//! - **Idle workers** go at once (billing is per second), except a warm pool: as many as
//!   the jobs expected to arrive before a new worker could boot, beyond what busy workers
//!   will free up meanwhile (each kept one saves a boot's cost and wait); a warm worker
//!   still goes once it has been idle for the longest grace.
//! - **Budget**: never proposes past the pool's hourly cap at the worst-case price of its
//!   options (policy would deny it; the denial's back-off would cost more waiting).

use std::collections::{BTreeMap, HashMap};

use steward_tools::{
    GroupKind, GroupSnapshot, InstanceState, Observation, ProvisionGpuWorkers, TerminateWorkers, ToolCall,
};

use super::{Plan, Planner, Remembered};

/// How fast the learnt job duration and launch delay forget: half-life in minutes.
const LEARN_HALF_LIFE: f64 = 60.0;
/// How fast the arrival rate forgets: half-life in minutes. Half a boot: the warm pool is
/// sized for the next launch's minutes, so the rate must drop within them when a burst ends
/// (a slower rate kept workers warm for jobs that were no longer coming).
const RATE_HALF_LIFE: f64 = 2.0;
/// Jobs seen before the learnt duration replaces the configured one.
const MIN_JOBS: f64 = 10.0;

/// The planner's settings (the configured figures are starting points; both are learnt).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GpuQueueConfig {
    /// Most a queued job should wait for a worker, minutes (never more than a launch).
    pub target_wait_minutes: f64,
    /// Minutes per job until measured.
    pub minutes_per_job: f64,
    /// Minutes from launch to a worker taking jobs, until measured.
    pub launch_minutes: f64,
    /// Longest an idle worker is kept outside the warm pool, minutes.
    pub max_idle_minutes: f64,
}

impl Default for GpuQueueConfig {
    fn default() -> Self {
        GpuQueueConfig { target_wait_minutes: 10.0, minutes_per_job: 5.0, launch_minutes: 4.0, max_idle_minutes: 5.0 }
    }
}

/// What the planner learns about one pool.
#[derive(Debug, Default)]
struct PoolMemory {
    last_at_ms: Option<i64>,
    last_started: Option<u64>,
    last_queue: u64,
    /// Decayed busy worker-minutes and jobs started, for the job duration.
    busy_minutes: f64,
    jobs: f64,
    /// Decayed arrivals and minutes, for the arrival rate.
    arrivals: f64,
    minutes: f64,
    /// Decayed launch delays seen, and how many.
    launch_sum: f64,
    launches: f64,
    /// Per worker: first seen pending; busy since; idle since.
    pending_since: HashMap<String, i64>,
    busy_since: HashMap<String, i64>,
    idle_since: HashMap<String, i64>,
}

#[derive(Debug)]
pub struct GpuQueue {
    config: GpuQueueConfig,
    pools: BTreeMap<String, PoolMemory>,
}

impl GpuQueue {
    pub fn new(config: GpuQueueConfig) -> GpuQueue {
        GpuQueue { config, pools: BTreeMap::new() }
    }

    /// `(minutes per job, launch minutes, arrivals per minute)` as learnt for `pool`.
    pub fn learnt(&self, pool: &str) -> Option<(f64, f64, f64)> {
        let m = self.pools.get(pool)?;
        Some((self.job_minutes(m), self.launch_minutes(m), rate(m)))
    }

    fn job_minutes(&self, m: &PoolMemory) -> f64 {
        if m.jobs >= MIN_JOBS {
            (m.busy_minutes / m.jobs).max(0.5)
        } else {
            self.config.minutes_per_job
        }
    }

    fn launch_minutes(&self, m: &PoolMemory) -> f64 {
        if m.launches >= 2.0 {
            m.launch_sum / m.launches
        } else {
            self.config.launch_minutes
        }
    }
}

fn rate(m: &PoolMemory) -> f64 {
    if m.minutes > 0.0 {
        m.arrivals / m.minutes
    } else {
        0.0
    }
}

/// A gap between two looks longer than this is a break (the daemon was down): what
/// happened in it is not counted.
const MAX_GAP_MINUTES: f64 = 15.0;

/// Count the jobs started since the last look and the busy worker-minutes spent on them
/// (decayed); the new jobs, when the interval could be counted.
fn count_jobs(m: &mut PoolMemory, now: i64, busy: f64, started: Option<u64>) -> Option<f64> {
    let minutes = m.last_at_ms.map_or(0.0, |t| (now - t) as f64 / 60_000.0).max(0.0);
    let decay = 0.5f64.powf(minutes / LEARN_HALF_LIFE);
    let before = std::mem::replace(&mut m.last_started, started);
    let (Some(now_started), Some(before)) = (started, before) else { return None };
    // A counter that went back was reset (the provider restarted): nothing to count.
    if now_started < before || minutes > MAX_GAP_MINUTES {
        return None;
    }
    let new_jobs = (now_started - before) as f64;
    m.busy_minutes = m.busy_minutes * decay + busy * minutes;
    m.jobs = m.jobs * decay + new_jobs;
    Some(new_jobs)
}

/// Take in one observation of a pool.
fn learn(m: &mut PoolMemory, pool: &GroupSnapshot, now: i64) {
    let minutes = m.last_at_ms.map_or(0.0, |t| (now - t) as f64 / 60_000.0).max(0.0);
    let decay = 0.5f64.powf(minutes / LEARN_HALF_LIFE);
    let rate_decay = 0.5f64.powf(minutes / RATE_HALF_LIFE);
    let queue = pool.queue_depth.unwrap_or(0);
    let started = pool.pool.as_ref().and_then(|p| p.jobs_started);
    let busy = pool.instances.iter().filter(|i| i.busy).count() as f64;
    if let Some(new_jobs) = count_jobs(m, now, busy, started) {
        // Arrivals: what started, plus what the queue grew by.
        let arrived = (new_jobs + queue as f64 - m.last_queue as f64).max(0.0);
        m.arrivals = m.arrivals * rate_decay + arrived;
        m.minutes = m.minutes * rate_decay + minutes;
    }
    m.last_queue = queue;
    // A worker first seen now was launched after the last look: count its boot from then.
    let launched = m.last_at_ms.unwrap_or(now);
    m.last_at_ms = Some(now);
    for worker in &pool.instances {
        match worker.state {
            InstanceState::Pending => {
                m.pending_since.entry(worker.id.clone()).or_insert(launched);
            }
            InstanceState::Running => {
                if let Some(since) = m.pending_since.remove(&worker.id) {
                    let booted = (now - since) as f64 / 60_000.0;
                    m.launch_sum = m.launch_sum * decay + booted;
                    m.launches = m.launches * decay + 1.0;
                }
            }
        }
        if worker.busy {
            m.busy_since.entry(worker.id.clone()).or_insert(now);
            m.idle_since.remove(&worker.id);
        } else {
            m.busy_since.remove(&worker.id);
            if worker.state == InstanceState::Running {
                m.idle_since.entry(worker.id.clone()).or_insert(now);
            }
        }
    }
    let live: Vec<&str> = pool.instances.iter().map(|i| i.id.as_str()).collect();
    for map in [&mut m.pending_since, &mut m.busy_since, &mut m.idle_since] {
        map.retain(|id, _| live.contains(&id.as_str()));
    }
}

fn under_notice(worker: &steward_tools::InstanceSnapshot) -> bool {
    worker.capacity.as_ref().is_some_and(|c| c.interruption_at_ms.is_some())
}

impl Planner for GpuQueue {
    fn name(&self) -> &'static str {
        "gpu-queue"
    }

    fn wants_history(&self) -> bool {
        true
    }

    /// What the store remembers of a pool: the job duration is learnt from it before the
    /// first live look (the launch delay and arrival rate only from live looks).
    fn remember(&mut self, row: &Remembered) {
        let (Some(busy), Some(started)) = (row.busy, row.jobs_started) else { return };
        let m = self.pools.entry(row.group.clone()).or_default();
        count_jobs(m, row.at_ms, f64::from(busy), Some(started));
        m.last_at_ms = Some(row.at_ms);
    }

    fn plan(&mut self, observation: &Observation) -> Vec<Plan> {
        let now = observation.at_ms;
        let mut plans = Vec::new();
        for pool in observation.groups.iter().filter(|g| g.kind == GroupKind::GpuPool) {
            let mut memory = self.pools.remove(&pool.name).unwrap_or_default();
            learn(&mut memory, pool, now);
            let job = self.job_minutes(&memory);
            let launch = self.launch_minutes(&memory);
            if let Some(plan) = self.grow(pool, &memory, job, launch, now) {
                plans.push(plan);
            } else if let Some(plan) = self.shrink(pool, &memory, job, launch, now) {
                plans.push(plan);
            }
            self.pools.insert(pool.name.clone(), memory);
        }
        plans
    }
}

impl GpuQueue {
    /// New workers for the jobs no worker can start within the allowed wait, and for a pool
    /// below its minimum once the workers under notice are gone.
    fn grow(&self, pool: &GroupSnapshot, m: &PoolMemory, job: f64, launch: f64, now: i64) -> Option<Plan> {
        let queue = pool.queue_depth.unwrap_or(0);
        let allowed = self.config.target_wait_minutes.min(launch);
        // When each staying worker can take its next job, minutes from now.
        let mut free: Vec<f64> = pool
            .instances
            .iter()
            .filter(|w| !under_notice(w))
            .map(|w| {
                let since = |map: &HashMap<String, i64>| map.get(&w.id).map_or(0.0, |t| (now - t) as f64 / 60_000.0);
                match (w.state, w.busy) {
                    (InstanceState::Pending, _) => (launch - since(&m.pending_since)).max(0.0),
                    (_, true) => {
                        // Back-to-back jobs look like one long busy spell: its current job
                        // is the last whole job's worth of it.
                        let into = since(&m.busy_since) % job;
                        (job - into).max(0.0)
                    }
                    _ => 0.0,
                }
            })
            .collect();
        let oldest = pool.pool.as_ref().and_then(|p| p.oldest_job_age_seconds).unwrap_or(0) as f64 / 60.0;
        let mut needed = 0u32;
        for i in 0..queue {
            // Ages spread from the oldest job's down to zero for the newest.
            let waited = if queue > 1 { oldest * (1.0 - i as f64 / (queue - 1) as f64) } else { oldest };
            let budget = (allowed - waited).max(0.0);
            let (best, at) = free
                .iter()
                .enumerate()
                .min_by(|a, b| a.1.total_cmp(b.1))
                .map_or((None, f64::INFINITY), |(i, t)| (Some(i), *t));
            match best {
                // Within the allowed wait, or no later than a new worker would boot.
                Some(i) if at <= budget.max(launch) + 1e-9 => free[i] = at + job,
                _ => {
                    needed += 1;
                    free.push(launch + job);
                }
            }
        }
        let staying = pool.staying();
        needed = needed.max(pool.min.saturating_sub(staying));
        let room = pool.max.saturating_sub(u32::try_from(pool.instances.len()).unwrap_or(u32::MAX));
        let count = needed.min(room).min(pool.affordable_workers());
        if count == 0 {
            return None;
        }
        let noticed = pool.instances.len() as u32 - staying;
        let why = if queue > 0 {
            format!(
                "{queue} queued (oldest {oldest:.0} min): {count} more start them within {allowed:.0} min \
                 ({job:.1} min a job, {launch:.1} min to boot){}",
                if noticed > 0 {
                    format!("; {noticed} worker(s) under a spot interruption notice")
                } else {
                    String::new()
                }
            )
        } else {
            format!(
                "{noticed} worker(s) under a spot interruption notice: replaced to keep the minimum of {}",
                pool.min
            )
        };
        Some(Plan {
            call: ToolCall::ProvisionGpuWorkers(ProvisionGpuWorkers {
                pool: pool.name.clone(),
                count,
                instance_type: None,
                market: None,
            }),
            rationale: why,
        })
    }

    /// Idle workers past their grace, keeping a warm pool while arrivals go on.
    fn shrink(&self, pool: &GroupSnapshot, m: &PoolMemory, job: f64, launch: f64, now: i64) -> Option<Plan> {
        if pool.queue_depth.unwrap_or(0) > 0 {
            return None;
        }
        let mut idle: Vec<(&str, f64)> = pool
            .instances
            .iter()
            .filter(|w| w.state == InstanceState::Running && !w.busy)
            .map(|w| (w.id.as_str(), m.idle_since.get(&w.id).map_or(0.0, |t| (now - t) as f64 / 60_000.0)))
            .collect();
        // Longest idle first: they go first. Workers under notice go at no cost to anyone.
        idle.sort_by(|a, b| b.1.total_cmp(&a.1));
        let arrivals = rate(m);
        // Per-second billing: an idle worker is worth keeping while a job is expected before
        // a new one could boot (each kept one then saves a boot's cost and wait); so as many
        // as the jobs expected within a boot, the others go at once.
        // Busy workers free up meanwhile and take some of those jobs themselves.
        let busy = pool.instances.iter().filter(|w| w.busy && !under_notice(w)).count() as f64;
        let warm = (launch * (arrivals - busy / job)).round().max(0.0) as usize;
        let removable = pool.staying().saturating_sub(pool.min) as usize;
        let noticed = |id: &str| pool.instances.iter().any(|w| w.id == id && under_notice(w));
        let mut go: Vec<String> = idle.iter().filter(|(id, _)| noticed(id)).map(|(id, _)| id.to_string()).collect();
        let candidates: Vec<&(&str, f64)> = idle.iter().filter(|(id, _)| !noticed(id)).collect();
        // Longest idle first: past the warm pool they go now; a warm one goes when it has
        // waited the longest grace for a job that did not come.
        let keep_warm = warm.min(candidates.len());
        let spare = candidates.len() - keep_warm;
        for (i, (id, minutes)) in candidates.iter().enumerate().take(removable) {
            if i < spare || *minutes >= self.config.max_idle_minutes {
                go.push(id.to_string());
            }
        }
        if go.is_empty() {
            return None;
        }
        Some(Plan {
            rationale: format!(
                "{} idle worker(s) go (a boot takes {launch:.1} min; {arrivals:.2} jobs/min arriving keep {keep_warm} \
                 warm, for at most {:.0} min idle)",
                go.len(),
                self.config.max_idle_minutes
            ),
            call: ToolCall::TerminateWorkers(TerminateWorkers { group: pool.name.clone(), instance_ids: go }),
        })
    }
}
