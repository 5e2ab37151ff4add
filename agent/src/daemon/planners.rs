//! The deterministic planners the config asks for, and feeding the ones that learn from
//! history what the store remembers. The planners themselves are pure (`steward-planners`):
//! they see observations, never a store or a cloud.

use steward_memory::Store;
use steward_planners::{
    GpuQueue, GpuQueueConfig, Plan, Planner, Predictive, PredictiveConfig, Remembered, TargetTracking,
};
use steward_tools::Observation;

use crate::config::{PlannerConfig, Scaling};

/// How long observations are remembered: a week and a day, what the predictive planner uses.
pub const HISTORY_MS: i64 = 8 * 86_400_000;

pub struct Planners {
    list: Vec<Box<dyn Planner>>,
    /// Whether the planners that learn from history got the store's observations yet.
    history_loaded: bool,
}

fn ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Planners {
    pub fn new(config: &PlannerConfig) -> Planners {
        let scaling: Box<dyn Planner> = match config.scaling {
            Scaling::TargetTracking => {
                Box::new(TargetTracking::new(config.target_cpu_percent, ms(config.scale_in_stabilization)))
            }
            Scaling::Predictive => Box::new(Predictive::new(PredictiveConfig {
                utc_offset_minutes: config.utc_offset_minutes,
                ..PredictiveConfig::at_target(config.target_cpu_percent)
            })),
        };
        let minutes = |d: std::time::Duration| d.as_secs_f64() / 60.0;
        let gpu = GpuQueue::new(GpuQueueConfig {
            target_wait_minutes: minutes(config.gpu_target_wait),
            minutes_per_job: config.gpu_minutes_per_job,
            launch_minutes: minutes(config.gpu_launch_time),
            max_idle_minutes: minutes(config.gpu_idle_grace),
        });
        Planners { list: vec![scaling, Box::new(gpu)], history_loaded: false }
    }

    /// Every planner's plans for this observation, with the planner's name.
    pub fn plan(&mut self, observation: &Observation) -> Vec<(&'static str, Plan)> {
        let mut plans = Vec::new();
        for planner in &mut self.list {
            for plan in planner.plan(observation) {
                plans.push((planner.name(), plan));
            }
        }
        plans
    }

    /// On the first observation: give the planners that learn from history what the store
    /// remembers of each group.
    pub async fn load_history_once(
        &mut self,
        store: &Store,
        observation: &Observation,
        now: i64,
    ) -> anyhow::Result<()> {
        if std::mem::replace(&mut self.history_loaded, true) || !self.list.iter().any(|p| p.wants_history()) {
            return Ok(());
        }
        let mut remembered = 0;
        for group in &observation.groups {
            for row in store.observations(&group.name, now - HISTORY_MS, now - 1).await? {
                let row = Remembered {
                    group: row.group,
                    at_ms: row.at_ms,
                    requests_per_minute: row.requests,
                    busy: row.busy.and_then(|n| u32::try_from(n).ok()),
                    jobs_started: row.jobs_started.and_then(|n| u64::try_from(n).ok()),
                };
                for planner in self.list.iter_mut().filter(|p| p.wants_history()) {
                    planner.remember(&row);
                }
                remembered += 1;
            }
        }
        tracing::info!(remembered, "Loaded remembered observations for the planners that learn from history.");
        Ok(())
    }
}
