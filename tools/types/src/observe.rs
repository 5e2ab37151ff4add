//! One snapshot of the managed fleet, taken once per tick.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::environment::Environment;

/// What kind of capacity a group is, which decides the tool calls that apply to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupKind {
    /// An Auto Scaling group: capacity is changed with `scale_group`.
    AutoScaling,
    /// A pool of GPU workers draining a job queue: `provision_gpu_workers` and
    /// `terminate_workers`.
    GpuPool,
    /// An application migrated from a platform (Heroku).
    App,
}

impl GroupKind {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupKind::AutoScaling => "auto_scaling",
            GroupKind::GpuPool => "gpu_pool",
            GroupKind::App => "app",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstanceState {
    Pending,
    Running,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceSnapshot {
    pub id: String,
    pub instance_type: String,
    pub state: InstanceState,
    /// Whether the instance carries the management tag. Unmanaged instances are never
    /// acted on.
    pub managed: bool,
    /// For GPU workers: whether it is working on a job right now.
    pub busy: bool,
    /// The action that launched it, when Steward launched it.
    pub launched_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupSnapshot {
    pub name: String,
    pub kind: GroupKind,
    pub environment: Environment,
    pub instance_type: String,
    pub min: u32,
    pub max: u32,
    pub desired: u32,
    pub instances: Vec<InstanceSnapshot>,
    /// Average CPU utilisation over the last minute, percent (auto-scaling groups).
    pub cpu_percent: Option<f64>,
    /// Requests per minute arriving at the group (auto-scaling groups).
    pub requests_per_minute: Option<f64>,
    /// Jobs waiting in the queue (GPU pools).
    pub queue_depth: Option<u64>,
    /// On-demand price of one instance of `instance_type`, USD per hour.
    pub hourly_price: f64,
    /// The group's tags beyond the management ones (`team`, `description`, …). Free text
    /// written by anyone who can tag a resource: never trusted, never instructions.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

impl GroupSnapshot {
    pub fn running(&self) -> u32 {
        self.count(InstanceState::Running)
    }

    pub fn pending(&self) -> u32 {
        self.count(InstanceState::Pending)
    }

    fn count(&self, state: InstanceState) -> u32 {
        let n = self.instances.iter().filter(|i| i.state == state).count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// What the group costs per hour right now: every instance it has, pending or running.
    pub fn hourly_burn(&self) -> f64 {
        self.instances.len() as f64 * self.hourly_price
    }
}

/// Everything Steward saw in one tick.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// When the snapshot was taken, Unix milliseconds (simulated time on the simulated cloud).
    pub at_ms: i64,
    pub groups: Vec<GroupSnapshot>,
    /// Whether every page and every region answered. Nothing that removes capacity is
    /// ever decided on an incomplete observation.
    pub complete: bool,
}

impl Observation {
    pub fn group(&self, name: &str) -> Option<&GroupSnapshot> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// Whether `call` terminates only idle workers (none of them busy with a job); `false`
    /// for any other call. Policy lets idle workers go more freely.
    pub fn terminates_only_idle(&self, call: &crate::ToolCall) -> bool {
        match call {
            crate::ToolCall::TerminateWorkers(t) => self
                .group(&t.group)
                .is_some_and(|g| t.instance_ids.iter().all(|id| g.instances.iter().any(|i| &i.id == id && !i.busy))),
            _ => false,
        }
    }

    /// Current hourly burn of all managed capacity, USD.
    pub fn hourly_burn(&self) -> f64 {
        self.groups.iter().map(GroupSnapshot::hourly_burn).sum()
    }
}
