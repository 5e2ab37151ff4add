//! The simulated cloud's state: groups, instances, the failures queued, the cool-off cache.

use std::collections::{BTreeMap, HashMap, VecDeque};

use rand_chacha::ChaCha8Rng;
use steward_tools::capacity::CoolOff;
use steward_tools::provider::{ActionReceipt, ProviderError};
use steward_tools::Market;

use crate::fleet::GroupSpec;

pub(crate) const MINUTE_MS: i64 = 60_000;

/// A failure to inject into the next calls, for tests and failure drills.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The next `execute` is throttled.
    Throttle,
    /// The next `execute` finds no capacity for the instance type.
    NoCapacity,
    /// The next `execute` is refused for good (a permission the role lacks, say).
    Refuse,
    /// The next `observe` misses a page: the observation is marked incomplete.
    PartialObservation,
    /// The next `observe` fails outright.
    Unreachable,
}

#[derive(Debug, Clone)]
pub(crate) struct SimInstance {
    pub(crate) id: String,
    pub(crate) instance_type: String,
    pub(crate) ready_at_ms: i64,
    pub(crate) managed: bool,
    pub(crate) busy_until_ms: i64,
    pub(crate) launched_by: Option<String>,
    /// GPU workers: the launch option it runs in (its key), market, zone and price.
    pub(crate) placed: Option<Placed>,
    /// When the job it is working on arrived (to re-queue it if the worker is reclaimed).
    pub(crate) job_arrived_ms: Option<i64>,
}

#[derive(Debug, Clone)]
pub(crate) struct Placed {
    pub(crate) key: String,
    pub(crate) zone: Option<String>,
    pub(crate) market: Market,
    pub(crate) price: f64,
    /// Spot: under an interruption notice, reclaimed at this time.
    pub(crate) reclaim_at_ms: Option<i64>,
}

impl SimInstance {
    pub(crate) fn new(id: String, instance_type: &str, ready_at_ms: i64, managed: bool) -> SimInstance {
        SimInstance {
            id,
            instance_type: instance_type.to_string(),
            ready_at_ms,
            managed,
            busy_until_ms: 0,
            launched_by: None,
            placed: None,
            job_arrived_ms: None,
        }
    }

    pub(crate) fn under_notice(&self) -> bool {
        self.placed.as_ref().is_some_and(|p| p.reclaim_at_ms.is_some())
    }
}

/// Minutes in a 30-day month: the Spot Advisor's rates are per month.
pub(crate) const MONTH_MINUTES: f64 = 30.0 * 1440.0;

#[derive(Debug)]
pub(crate) struct SimGroup {
    pub(crate) spec: GroupSpec,
    pub(crate) desired: u32,
    pub(crate) instances: Vec<SimInstance>,
    /// Load in the last simulated minute: requests, or jobs that arrived.
    pub(crate) last_load: f64,
    /// Arrival time of each queued job, oldest first.
    pub(crate) queue: VecDeque<i64>,
    /// Tags beyond the management ones, as anyone with tagging rights may write them.
    pub(crate) tags: BTreeMap<String, String>,
    /// Jobs its workers started, ever.
    pub(crate) jobs_started: u64,
}

#[derive(Debug)]
pub(crate) struct State {
    pub(crate) now_ms: i64,
    pub(crate) start_ms: i64,
    pub(crate) rng: ChaCha8Rng,
    pub(crate) groups: Vec<SimGroup>,
    pub(crate) next_instance: u64,
    pub(crate) executed: HashMap<String, ActionReceipt>,
    pub(crate) failures: VecDeque<Failure>,
    /// How long each job that started waited in its queue, milliseconds (for evals).
    pub(crate) job_waits_ms: Vec<i64>,
    /// The unavailable launch options (shared by every pool: capacity is the cloud's).
    pub(crate) cool_off: CoolOff,
    /// Jobs whose worker was reclaimed while they ran, put back in their queue (for evals).
    pub(crate) jobs_interrupted: u64,
    /// Workers reclaimed, ever.
    pub(crate) workers_interrupted: u64,
}

impl State {
    pub(crate) fn instance_id(&mut self, group: &str) -> String {
        let id = format!("i-{group}-{:05}", self.next_instance);
        self.next_instance += 1;
        id
    }

    pub(crate) fn minute(&self) -> u32 {
        u32::try_from((self.now_ms - self.start_ms) / MINUTE_MS).unwrap_or(u32::MAX)
    }

    pub(crate) fn take_failure(&mut self, wanted: &[Failure]) -> Option<Failure> {
        let index = self.failures.iter().position(|f| wanted.contains(f))?;
        self.failures.remove(index)
    }

    pub(crate) fn group_mut(&mut self, name: &str) -> Result<&mut SimGroup, ProviderError> {
        self.groups
            .iter_mut()
            .find(|g| g.spec.name == name)
            .ok_or_else(|| ProviderError::Refused(format!("no managed group `{name}`")))
    }
}
