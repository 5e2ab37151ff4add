//! GPU pools: launch workers when the job queue would wait too long, let idle workers go
//! when the queue has stayed empty for a grace period.

use std::collections::HashMap;

use steward_tools::{GroupKind, InstanceState, Observation, ProvisionGpuWorkers, TerminateWorkers, ToolCall};

use super::{Plan, Planner};

#[derive(Debug)]
pub struct GpuQueue {
    target_wait_minutes: f64,
    minutes_per_job: f64,
    idle_grace_ms: i64,
    /// Per pool: since when the queue has been empty with idle workers.
    idle_since: HashMap<String, i64>,
}

impl GpuQueue {
    pub fn new(target_wait_minutes: f64, minutes_per_job: f64, idle_grace_ms: i64) -> GpuQueue {
        GpuQueue { target_wait_minutes, minutes_per_job, idle_grace_ms, idle_since: HashMap::new() }
    }
}

impl Planner for GpuQueue {
    fn name(&self) -> &'static str {
        "gpu-queue"
    }

    fn plan(&mut self, observation: &Observation) -> Vec<Plan> {
        let mut plans = Vec::new();
        for pool in observation.groups.iter().filter(|g| g.kind == GroupKind::GpuPool) {
            let queue = pool.queue_depth.unwrap_or(0);
            let workers = u32::try_from(pool.instances.len()).unwrap_or(u32::MAX);
            let busy = u32::try_from(pool.instances.iter().filter(|i| i.busy).count()).unwrap_or(0);
            let extra = (queue as f64 * self.minutes_per_job / self.target_wait_minutes).ceil() as u32;
            let needed = (busy + extra).clamp(pool.min, pool.max);
            if queue > 0 {
                self.idle_since.remove(&pool.name);
                if needed > workers {
                    let count = needed - workers;
                    plans.push(Plan {
                        call: ToolCall::ProvisionGpuWorkers(ProvisionGpuWorkers {
                            pool: pool.name.clone(),
                            count,
                            instance_type: pool.instance_type.clone(),
                        }),
                        rationale: format!(
                            "{queue} jobs queued for {workers} workers: {count} more keep the wait under {:.0} min",
                            self.target_wait_minutes
                        ),
                    });
                }
                continue;
            }
            let idle: Vec<String> = pool
                .instances
                .iter()
                .filter(|i| i.state == InstanceState::Running && !i.busy)
                .map(|i| i.id.clone())
                .collect();
            let removable = workers.saturating_sub(pool.min) as usize;
            if idle.is_empty() || removable == 0 {
                self.idle_since.remove(&pool.name);
                continue;
            }
            let since = *self.idle_since.entry(pool.name.clone()).or_insert(observation.at_ms);
            if observation.at_ms - since >= self.idle_grace_ms {
                let ids: Vec<String> = idle.into_iter().take(removable).collect();
                plans.push(Plan {
                    rationale: format!(
                        "queue empty for {} min: {} idle worker(s) cost money for nothing",
                        (observation.at_ms - since) / 60_000,
                        ids.len()
                    ),
                    call: ToolCall::TerminateWorkers(TerminateWorkers { group: pool.name.clone(), instance_ids: ids }),
                });
                self.idle_since.remove(&pool.name);
            }
        }
        plans
    }
}
