//! Deterministic planners: they turn an observation into proposals with no model call.
//!
//! Architecture invariant: planners are pure. They see observations (and, for the
//! predictive planner, the history the daemon preloads from the store); they never call a
//! cloud, a store or a clock.
//!
//! A planner only proposes. Everything it returns goes through validation, policy,
//! approval and audit like any other proposal, so a planner bug can waste a proposal but
//! never act beyond policy.

use steward_tools::{Observation, ToolCall};

mod gpu_queue;
mod predictive;
mod target_tracking;
#[cfg(test)]
mod testing;

pub use gpu_queue::{GpuQueue, GpuQueueConfig};
pub use predictive::{Predictive, PredictiveConfig, Tuning};
pub use target_tracking::TargetTracking;

/// One proposal a planner makes, with its reasoning in words.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub call: ToolCall,
    pub rationale: String,
}

pub trait Planner: Send {
    /// Short name, recorded as the proposer: `planner:<name>`.
    fn name(&self) -> &'static str;

    /// Proposals for this observation. Called once per tick with a complete observation.
    fn plan(&mut self, observation: &Observation) -> Vec<Plan>;

    /// Whether the planner learns from past observations (the daemon then preloads the
    /// store's remembered observations through [`Planner::remember`] at start-up).
    fn wants_history(&self) -> bool {
        false
    }

    /// Take one remembered tick of a group (oldest first, per group).
    fn remember(&mut self, _row: &Remembered) {}
}

/// One group's figures in one remembered tick, as the store keeps them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Remembered {
    pub group: String,
    pub at_ms: i64,
    pub requests_per_minute: Option<f64>,
    /// GPU pools: workers busy with a job, and the pool's jobs-started counter.
    pub busy: Option<u32>,
    pub jobs_started: Option<u64>,
}
