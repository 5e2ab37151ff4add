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
use crate::capacity::{Placement, Skipped};
use crate::observe::Observation;
use crate::validate::ApprovedCall;

/// What an executed action did, and how to undo it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionReceipt {
    pub action_id: String,
    /// One line for people: "web desired 4 → 6".
    pub summary: String,
    /// The desired capacity the action replaced (scaling calls, and terminations in an
    /// auto-scaling group, which lower its desired capacity).
    pub replaced_desired: Option<u32>,
    /// Instances the action launched.
    pub launched: Vec<String>,
    /// Instances the action terminated.
    pub terminated: Vec<String>,
    /// The instance type of the terminated instances, so a termination can be undone.
    #[serde(default)]
    pub terminated_type: Option<String>,
    /// The call that undoes this one, when the executor worked it out itself (a migration
    /// step records what it replaced: the DNS records as they were, the formation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undo: Option<Box<ToolCall>>,
    /// What a person must still do by hand (a domain whose DNS zone Steward cannot reach).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub manual: Vec<String>,
    /// A GPU launch: what went where, at what price.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub placements: Vec<Placement>,
    /// A GPU launch: the options it passed over (cooling off, or no capacity), and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Skipped>,
}

impl ActionReceipt {
    /// The call that undoes `call`, as executed with this receipt: the one place an
    /// action's inverse is worked out (the executor records it, reconciliation too).
    pub fn inverse(&self, call: &ToolCall) -> Option<ToolCall> {
        if let Some(undo) = &self.undo {
            return Some((**undo).clone());
        }
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
            ToolCall::TerminateWorkers(t) if !self.terminated.is_empty() => {
                let count = u32::try_from(self.terminated.len()).unwrap_or(u32::MAX);
                match (self.replaced_desired, &self.terminated_type) {
                    // An auto-scaling group: give it its capacity back.
                    (Some(before), _) => Some(ToolCall::ScaleGroup(ScaleGroup {
                        group: t.group.clone(),
                        current_desired: before.saturating_sub(count),
                        desired: before,
                    })),
                    (None, Some(instance_type)) => Some(ToolCall::ProvisionGpuWorkers(ProvisionGpuWorkers {
                        pool: t.group.clone(),
                        count,
                        instance_type: Some(instance_type.clone()),
                        market: None,
                    })),
                    (None, None) => None,
                }
            }
            _ => None,
        }
    }
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

    /// Check an executed call's effect where a fleet observation cannot show it (migration
    /// steps): `Some(Ok(how))` when it shows, `Some(Err(what is missing))` when it does not,
    /// `None` to let the daemon check against a fresh observation.
    async fn check(&self, _call: &ToolCall, _receipt: &ActionReceipt) -> Option<Result<String, String>> {
        None
    }

    /// On a simulated cloud, move its clock forward and return `true`. Real clouds keep
    /// real time and return `false`: the daemon then waits for the tick interval.
    async fn advance_clock(&self, _by_ms: i64) -> bool {
        false
    }

    /// Cloud API calls the last `observe` made (exported as a metric), when the provider
    /// counts them.
    fn api_calls(&self) -> Option<u64> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receipt(replaced: Option<u32>, launched: &[&str], terminated: &[&str], kind: Option<&str>) -> ActionReceipt {
        ActionReceipt {
            action_id: "a".into(),
            summary: String::new(),
            replaced_desired: replaced,
            launched: launched.iter().map(|s| s.to_string()).collect(),
            terminated: terminated.iter().map(|s| s.to_string()).collect(),
            terminated_type: kind.map(str::to_string),
            undo: None,
            manual: Vec::new(),
            placements: Vec::new(),
            skipped: Vec::new(),
        }
    }

    #[test]
    fn every_action_knows_its_inverse() {
        let scale = ToolCall::ScaleGroup(ScaleGroup { group: "web".into(), current_desired: 4, desired: 6 });
        let provision = ToolCall::ProvisionGpuWorkers(ProvisionGpuWorkers {
            pool: "gpu".into(),
            count: 2,
            instance_type: Some("g5.xlarge".into()),
            market: None,
        });
        let terminate =
            ToolCall::TerminateWorkers(TerminateWorkers { group: "gpu".into(), instance_ids: vec!["i-1".into()] });
        let cases = [
            (&scale, receipt(Some(4), &[], &[], None), Some("scale_group web 6→4")),
            (&provision, receipt(None, &["i-1", "i-2"], &[], None), Some("terminate_workers gpu [i-1, i-2]")),
            (
                &terminate,
                receipt(None, &[], &["i-1"], Some("g5.xlarge")),
                Some("provision_gpu_workers gpu +1 g5.xlarge"),
            ),
            (&terminate, receipt(Some(5), &[], &["i-1"], Some("m6i.large")), Some("scale_group gpu 4→5")),
            (&terminate, receipt(None, &[], &["i-1"], None), None),
        ];
        for (call, receipt, expect) in cases {
            assert_eq!(receipt.inverse(call).map(|c| c.to_string()).as_deref(), expect, "{call}");
        }
    }
}
