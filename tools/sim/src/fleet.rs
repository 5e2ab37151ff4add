//! The built-in demo fleet, and the description of a simulated group.

use steward_tools::{Budget, Environment, GroupKind, LaunchOption};

use crate::load::Load;

/// A GPU pool's launch options and budget on the simulated cloud.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SimPool {
    /// In preference order; none: the group's instance type on demand, unlimited.
    pub options: Vec<SimOption>,
    pub budget: Budget,
    /// Each worker runs one job and goes when it ends (a Kubernetes Job's pod under KEDA's
    /// ScaledJob: the worker is not handed a second job). Off: a free worker takes the next.
    pub one_job_per_worker: bool,
}

/// One launch option, with the capacity behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct SimOption {
    pub option: LaunchOption,
    /// Most workers it holds at once, across every pool that uses it (none: no limit).
    pub capacity: Option<u32>,
    /// `[from, to)` minutes of the run during which it has no capacity at all.
    pub shortages: Vec<(u32, u32)>,
    /// Spot: the share of workers interrupted within a month (the AWS Spot Advisor's
    /// "frequency of interruption": under 5 %, 5–10 %, 10–15 %, 15–20 %, over 20 %).
    pub interruptions_per_month: f64,
    /// Spot: storms `(from minute, minutes, share)`, in which each worker has `share` chance
    /// to be interrupted over the storm.
    pub storms: Vec<(u32, u32, f64)>,
    /// Spot: USD per hour (default: the shipped table's typical spot price).
    pub spot_price: Option<f64>,
}

impl SimOption {
    /// An option with unlimited capacity and no interruptions.
    pub fn new(option: LaunchOption) -> SimOption {
        SimOption {
            option,
            capacity: None,
            shortages: Vec::new(),
            interruptions_per_month: 0.0,
            storms: Vec::new(),
            spot_price: None,
        }
    }
}

/// One simulated group, as configured.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSpec {
    pub name: String,
    pub kind: GroupKind,
    pub environment: Environment,
    pub instance_type: String,
    pub min: u32,
    pub max: u32,
    pub desired: u32,
    /// Requests per minute one instance serves at 100 % CPU (auto-scaling groups).
    pub requests_per_instance: f64,
    /// Minutes from launch until an instance serves traffic or takes jobs.
    pub launch_delay_minutes: u32,
    /// Minutes one GPU worker needs per job.
    pub minutes_per_job: u32,
    /// Instances in the group that do not carry the management tag: never observed, never
    /// touched.
    pub unmanaged: u32,
    pub load: Load,
    /// GPU pools: where workers may launch, and the pool's budget.
    pub pool: SimPool,
}

/// The demo fleet: a web group following a daily curve with a flash crowd, a worker group
/// whose load steps down, and a GPU pool with bursts of jobs. Start it at 07:00 (see
/// [`demo_start_ms`]) so the run climbs the morning ramp.
pub fn demo_fleet() -> Vec<GroupSpec> {
    vec![
        GroupSpec {
            name: "web".into(),
            kind: GroupKind::AutoScaling,
            environment: Environment::Prod,
            instance_type: "m6i.large".into(),
            min: 2,
            max: 40,
            desired: 4,
            requests_per_instance: 1000.0,
            launch_delay_minutes: 3,
            minutes_per_job: 0,
            unmanaged: 0,
            pool: SimPool::default(),
            load: Load::Daily {
                trough: 900.0,
                peak: 5200.0,
                peak_minute: 14 * 60,
                spike: Some((40, 20, 2.2)),
                noise: 0.04,
            },
        },
        GroupSpec {
            name: "worker".into(),
            kind: GroupKind::AutoScaling,
            environment: Environment::Prod,
            instance_type: "c6i.xlarge".into(),
            min: 1,
            max: 20,
            desired: 3,
            requests_per_instance: 600.0,
            launch_delay_minutes: 2,
            minutes_per_job: 0,
            unmanaged: 1,
            pool: SimPool::default(),
            load: Load::Step { before: 1300.0, after: 350.0, at_minute: 50, noise: 0.05 },
        },
        GroupSpec {
            name: "gpu".into(),
            kind: GroupKind::GpuPool,
            environment: Environment::Prod,
            instance_type: "g5.xlarge".into(),
            min: 0,
            max: 8,
            desired: 1,
            requests_per_instance: 0.0,
            launch_delay_minutes: 4,
            minutes_per_job: 5,
            unmanaged: 0,
            pool: SimPool::default(),
            load: Load::Jobs { per_minute: 0.1, bursts: vec![(15, 6, 4.0), (80, 4, 3.0)] },
        },
    ]
}

/// The first 07:00 UTC strictly after `after_ms`: where the demo's day starts.
pub fn demo_start_ms(after_ms: i64) -> i64 {
    const DAY: i64 = 86_400_000;
    const SEVEN: i64 = 7 * 3_600_000;
    let day = after_ms.div_euclid(DAY) * DAY;
    if day + SEVEN > after_ms {
        day + SEVEN
    } else {
        day + DAY + SEVEN
    }
}
