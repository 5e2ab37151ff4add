//! One snapshot of the managed fleet, taken once per tick.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::call::ProvisionGpuWorkers;
use crate::capacity::{Budget, Market, OptionState};
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
    /// For GPU workers: where it runs and what it costs (none: the group's type on demand).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<WorkerCapacity>,
}

/// Where a GPU worker runs, what it costs, and whether its capacity is being reclaimed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerCapacity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    pub market: Market,
    /// USD per hour.
    pub price: f64,
    /// A spot worker under an interruption notice: when it will be reclaimed, Unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interruption_at_ms: Option<i64>,
}

/// What a GPU pool reports beyond its workers: its launch options (in preference order,
/// each with its price and whether it is cooling off), its budget, and its queue's age.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PoolState {
    pub options: Vec<OptionState>,
    #[serde(default)]
    pub budget: Budget,
    /// How long the oldest queued job has waited, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest_job_age_seconds: Option<u64>,
    /// Jobs the pool's workers have started, ever (a counter), when the queue reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jobs_started: Option<u64>,
}

impl PoolState {
    /// The options `call` may launch in, in order.
    pub fn usable<'a>(&'a self, call: &'a ProvisionGpuWorkers) -> impl Iterator<Item = &'a OptionState> + 'a {
        self.options.iter().filter(move |o| call.allows(&o.option))
    }

    /// The most one worker launched from `options` can cost per hour: the worst case over
    /// those not cooling off while any is open (a launch skips the others), else over all.
    pub fn worst_case(options: &[&OptionState]) -> f64 {
        let any_open = options.iter().any(|o| o.unavailable.is_none());
        let considered = options.iter().filter(|o| !any_open || o.unavailable.is_none());
        considered.map(|o| o.worst_case_price).fold(0.0, f64::max)
    }
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
    /// GPU pools: launch options, budget, queue age.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<PoolState>,
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

    /// What the group costs per hour right now: every instance it has, pending or running,
    /// each at its own price where the provider knows it (a spot worker), else the group's.
    pub fn hourly_burn(&self) -> f64 {
        // `+ 0.0`: an empty sum is -0.0, which would print as "-0.00".
        self.instances.iter().map(|i| i.capacity.as_ref().map_or(self.hourly_price, |c| c.price)).sum::<f64>() + 0.0
    }

    /// Workers not under an interruption notice.
    pub fn staying(&self) -> u32 {
        let n = self.instances.iter().filter(|i| i.capacity.as_ref().is_none_or(|c| c.interruption_at_ms.is_none()));
        u32::try_from(n.count()).unwrap_or(u32::MAX)
    }

    /// How many more workers the pool's hourly cap leaves room for, each at the worst-case
    /// price of its options (no cap, or no pool: no limit).
    pub fn affordable_workers(&self) -> u32 {
        let Some(state) = &self.pool else { return u32::MAX };
        let Some(cap) = state.budget.max_usd_per_hour else { return u32::MAX };
        let worst = PoolState::worst_case(&state.options.iter().collect::<Vec<_>>());
        if worst <= 0.0 {
            return u32::MAX;
        }
        let left = cap - self.hourly_burn();
        if left <= 0.0 {
            0
        } else {
            (left / worst + 1e-9).floor() as u32
        }
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
        self.groups.iter().map(GroupSnapshot::hourly_burn).sum::<f64>() + 0.0
    }
}
