//! The kill switch and the daemon's status. Pausing is recorded in the store with its audit
//! entry; a running daemon reads it right before every execution.

use serde_json::json;
use steward_memory::control::keys;
use steward_memory::{NewEntry, ProposalState};

use super::caller::Caller;
use super::core::Service;
use super::error::ServiceError;
use crate::config::Mode;
use crate::identity::Operation;

/// Where Steward stands.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub mode: Mode,
    pub paused: bool,
    pub pending: usize,
    /// Hourly burn and when it was observed, once the daemon observed the fleet.
    pub burn: Option<(f64, i64)>,
}

impl Service {
    /// Turn the kill switch on or off; the answer for people.
    pub async fn set_paused(&self, caller: &Caller, paused: bool, reason: &str) -> Result<String, ServiceError> {
        let operation = if paused { Operation::Pause { reason: reason.to_string() } } else { Operation::Resume };
        let identity = self.identify(caller, &operation)?;
        if self.store().paused().await? == paused {
            return Ok(format!("Execution is already {}.", if paused { "paused" } else { "running" }));
        }
        let now = self.now_ms().await?;
        let kind = if paused { "control.paused" } else { "control.resumed" };
        let entry = NewEntry::new(now, &identity.name, kind, None, json!({ "reason": reason, "via": identity.via }));
        self.store().set_control_audited(keys::PAUSED, if paused { "true" } else { "false" }, entry).await?;
        Ok(if paused {
            "Paused: no action executes until resumed. Proposals are still made and decided.".to_string()
        } else {
            "Resumed: approved actions execute again (each re-checked against fresh state first).".to_string()
        })
    }

    pub async fn status(&self) -> Result<Status, ServiceError> {
        Ok(Status {
            mode: self.config().mode,
            paused: self.store().paused().await?,
            pending: self.store().proposals_in(&[ProposalState::PendingApproval]).await?.len(),
            burn: self.latest_observation().await?.map(|o| (o.hourly_burn(), o.at_ms)),
        })
    }
}
