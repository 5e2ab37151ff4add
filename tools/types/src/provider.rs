//! The interface every cloud implements: the simulated cloud now, AWS and Heroku beside it.
//!
//! Contract for implementers:
//! - `observe` returns the managed fleet only; anything without the management tag is
//!   invisible. It sets `complete = false` when any page or region failed.
//! - `execute` is idempotent on `action_id`: a second call with the same id must not act
//!   twice (look the id up before acting; pass it as the idempotency token where the API
//!   has one). Level-driven calls re-check the level right before acting.
//! - `find_action` answers whether an action id left a trace in the cloud, for crash
//!   reconciliation. It never acts.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::call::{ProvisionGpuWorkers, ScaleGroup, TerminateWorkers, ToolCall};
use crate::observe::Observation;
use crate::validate::ApprovedCall;

/// What an executed action did, and how to undo it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionReceipt {
    pub action_id: String,
    /// One line for people: "web desired 4 → 6".
    pub summary: String,
    /// The desired capacity the action replaced, for scaling calls.
    pub replaced_desired: Option<u32>,
    /// Instances the action launched.
    pub launched: Vec<String>,
    /// Instances the action terminated, with their type.
    pub terminated: Vec<String>,
}

impl ActionReceipt {
    /// The call that undoes `call`, as executed with this receipt.
    pub fn inverse(&self, call: &ToolCall) -> Option<ToolCall> {
        match call {
            ToolCall::ScaleGroup(s) => Some(ToolCall::ScaleGroup(ScaleGroup {
                group: s.group.clone(),
                current_desired: s.desired,
                desired: self.replaced_desired.unwrap_or(s.current_desired),
            })),
            ToolCall::ProvisionGpuWorkers(p) if !self.launched.is_empty() => {
                Some(ToolCall::TerminateWorkers(TerminateWorkers {
                    group: p.pool.clone(),
                    instance_ids: self.launched.clone(),
                }))
            }
            ToolCall::TerminateWorkers(_) => None,
            _ => None,
        }
    }
}

/// The inverse of a termination needs the group's instance type, which the receipt does not
/// carry: the caller passes it.
pub fn inverse_of_termination(call: &TerminateWorkers, instance_type: &str) -> ToolCall {
    ToolCall::ProvisionGpuWorkers(ProvisionGpuWorkers {
        pool: call.group.clone(),
        count: u32::try_from(call.instance_ids.len()).unwrap_or(u32::MAX),
        instance_type: instance_type.to_string(),
    })
}

/// Why a provider call failed, classified once, here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    #[error("throttled by the cloud API: {0}")]
    Throttled(String),
    #[error("the cloud is out of capacity: {0}")]
    InsufficientCapacity(String),
    #[error("the cloud is unreachable: {0}")]
    Unavailable(String),
    #[error("state changed since the proposal: {0}")]
    Conflict(String),
    #[error("refused: {0}")]
    Refused(String),
    #[error("not supported by this provider: {0}")]
    Unsupported(String),
}

impl ProviderError {
    /// Whether trying again later may succeed. Conflicts need a new plan, not a retry.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ProviderError::Throttled(_) | ProviderError::Unavailable(_) | ProviderError::InsufficientCapacity(_)
        )
    }
}

#[async_trait]
pub trait CloudProvider: Send + Sync {
    /// Short name for logs: `simulated`, `aws`.
    fn name(&self) -> &'static str;

    /// One snapshot of the managed fleet.
    async fn observe(&self) -> Result<Observation, ProviderError>;

    /// Carry out an approved call. Idempotent on `action_id`.
    async fn execute(&self, action_id: &str, call: &ApprovedCall) -> Result<ActionReceipt, ProviderError>;

    /// Whether `action_id` left a trace in the cloud (crash reconciliation). Never acts.
    async fn find_action(&self, action_id: &str) -> Result<Option<ActionReceipt>, ProviderError>;

    /// On a simulated cloud, move its clock forward and return `true`. Real clouds keep
    /// real time and return `false`: the daemon then waits for the tick interval.
    async fn advance_clock(&self, _by_ms: i64) -> bool {
        false
    }
}
