//! Start-up reconciliation: intents a crash left `executing` are looked up in the cloud by
//! their action id, never retried blindly. Found: the action ran, and is recorded as
//! succeeded. Not found: it is recorded as failed (the cloud never saw it); the planners
//! will propose again if it is still needed. A migration step is the exception: each one
//! finds its own work done and is made to be run again, so it is resumed (with the same
//! action id) rather than failed, and the migration continues where it stopped.

use serde_json::json;
use steward_memory::{Patch, ProposalState, Store};
use steward_tools::CloudProvider;

use crate::telemetry::Telemetry;

/// A migration step a crash interrupted, to run again.
pub struct Resume {
    pub proposal: steward_memory::ProposalRecord,
    pub action_id: String,
}

pub async fn reconcile(
    store: &Store,
    provider: &dyn CloudProvider,
    telemetry: &Telemetry,
    now: i64,
) -> anyhow::Result<Vec<Resume>> {
    let from = [ProposalState::Executing];
    let mut resume = Vec::new();
    for p in store.proposals_in(&from).await? {
        let Some(action_id) = p.action_id.clone() else {
            let patch =
                Patch { outcome: Some("executing without an action id; not retried".into()), ..Patch::default() };
            store
                .transition(p.id, &from, ProposalState::Failed, &patch, now, "steward", json!({ "reconciled": true }))
                .await?;
            continue;
        };
        match provider.find_action(&action_id).await {
            Ok(Some(receipt)) => {
                let outcome = format!("reconciled after a restart: the cloud shows it ran ({})", receipt.summary);
                let patch = Patch {
                    receipt: serde_json::to_value(&receipt).ok(),
                    inverse: receipt.inverse(&p.call),
                    outcome: Some(outcome.clone()),
                    ..Patch::default()
                };
                let data = json!({ "reconciled": true, "action_id": action_id, "found": true });
                store.transition(p.id, &from, ProposalState::Succeeded, &patch, now, "steward", data).await?;
                telemetry.note(now, &format!("reconcile #{}: {outcome}", p.id));
            }
            Ok(None) if p.call.migration_step().is_some() => {
                telemetry
                    .note(now, &format!("reconcile #{}: a migration step a restart interrupted; it runs again", p.id));
                resume.push(Resume { proposal: p, action_id });
            }
            Ok(None) => {
                let outcome =
                    "reconciled after a restart: the cloud has no trace of the action; not retried".to_string();
                let patch = Patch { outcome: Some(outcome.clone()), ..Patch::default() };
                let data = json!({ "reconciled": true, "action_id": action_id, "found": false });
                store.transition(p.id, &from, ProposalState::Failed, &patch, now, "steward", data).await?;
                telemetry.note(now, &format!("reconcile #{}: {outcome}", p.id));
            }
            Err(e) => {
                // Leave it executing: the next start tries again. Acting on a guess is worse.
                tracing::error!(proposal = p.id, action_id, error = %e, "Could not look the action up; it stays executing.");
            }
        }
    }
    Ok(resume)
}
