//! What the planners' tests share: one auto-scaling group observed at a minute.

use steward_tools::{Environment, GroupKind, GroupSnapshot, InstanceSnapshot, InstanceState, Observation};

/// A prod group `web` of `desired` m6i.large instances, the first `running` of them
/// running and the rest pending, between 2 and 40, with no metrics: a test sets what it
/// measures with struct update syntax.
pub(crate) fn web_group(desired: u32, running: u32) -> GroupSnapshot {
    let instances = (0..desired)
        .map(|i| InstanceSnapshot {
            id: format!("i-{i}"),
            instance_type: "m6i.large".into(),
            state: if i < running { InstanceState::Running } else { InstanceState::Pending },
            managed: true,
            busy: false,
            launched_by: None,
            capacity: None,
        })
        .collect();
    GroupSnapshot {
        name: "web".into(),
        kind: GroupKind::AutoScaling,
        environment: Environment::Prod,
        instance_type: "m6i.large".into(),
        min: 2,
        max: 40,
        desired,
        instances,
        cpu_percent: None,
        requests_per_minute: None,
        queue_depth: None,
        hourly_price: 0.096,
        tags: Default::default(),
        pool: None,
    }
}

/// A complete observation of `group` at minute `at_min`.
pub(crate) fn observed(at_min: i64, group: GroupSnapshot) -> Observation {
    Observation { at_ms: at_min * 60_000, complete: true, groups: vec![group] }
}
