//! Spot interruption notices: each worker under one is reported once, in the audit log and
//! on the console, with whether it was running a job (which its queue must take back: the
//! worker goes when the notice runs out). The replacement is the GPU planner's to propose
//! (it counts a worker under notice as gone).

use std::collections::BTreeSet;

use serde_json::json;
use steward_memory::NewEntry;
use steward_tools::Observation;

use super::context::Context;
use crate::time::hhmm;

/// The audit entry kind.
pub const KIND: &str = "spot_interruption";

/// Workers already reported (after a restart, read back from the audit log the first time a
/// notice is seen, so a daemon that never sees one never reads them).
#[derive(Debug, Default)]
pub struct Interruptions {
    reported: Option<BTreeSet<String>>,
}

impl Interruptions {
    /// Report the workers newly under notice in `o`.
    pub async fn report(&mut self, ctx: &Context, o: &Observation, now: i64) -> anyhow::Result<usize> {
        let noticed =
            |w: &steward_tools::InstanceSnapshot| w.capacity.as_ref().is_some_and(|c| c.interruption_at_ms.is_some());
        if !o.groups.iter().any(|g| g.instances.iter().any(noticed)) {
            return Ok(0);
        }
        if self.reported.is_none() {
            let seen = ctx.store.audit_of_kind(KIND).await?;
            let instance = |data: &str| {
                let value: serde_json::Value = serde_json::from_str(data).ok()?;
                value.get("instance")?.as_str().map(str::to_string)
            };
            self.reported = Some(seen.iter().filter_map(|e| instance(&e.data)).collect());
        }
        let reported = self.reported.get_or_insert_with(BTreeSet::new);
        let mut new = 0;
        for group in &o.groups {
            for worker in &group.instances {
                let Some(at) = worker.capacity.as_ref().and_then(|c| c.interruption_at_ms) else { continue };
                if !reported.insert(worker.id.clone()) {
                    continue;
                }
                let job = if worker.busy { "its job must be queued again" } else { "it was idle" };
                let data = json!({
                    "pool": group.name,
                    "instance": worker.id,
                    "instance_type": worker.instance_type,
                    "zone": worker.capacity.as_ref().and_then(|c| c.zone.clone()),
                    "reclaimed_at_ms": at,
                    "busy": worker.busy,
                });
                ctx.store.append(NewEntry::new(now, "cloud", KIND, None, data)).await?;
                tracing::warn!(pool = %group.name, instance = %worker.id, busy = worker.busy, "Spot interruption notice.");
                ctx.telemetry.note(
                    now,
                    &format!("notice   {} of {} is reclaimed at {} (spot); {job}", worker.id, group.name, hhmm(at)),
                );
                new += 1;
            }
        }
        Ok(new)
    }
}
