//! Filing proposals from outside the daemon's loop: a rollback, a change the LLM planner
//! proposed when a person asked, a migration step. Each is recorded in state `proposed` with
//! its audit entry and taken by the daemon, on its next tick, through the one propose path
//! every proposal takes (kill switch, supersede, back-off, validation, policy, limits, mode).

use steward_memory::{NewProposal, ProposalRecord, ProposalState};
use steward_tools::ToolCall;

use super::caller::Caller;
use super::core::Service;
use super::error::ServiceError;
use crate::identity::Operation;

/// A proposal to file.
#[derive(Debug, Clone, PartialEq)]
pub struct Filing {
    pub call: ToolCall,
    /// `person:alice`, `model:gpt-4o`, `steward:migration`.
    pub proposer: String,
    pub rationale: String,
    pub tainted: bool,
    pub rollback_of: Option<i64>,
    /// The person who asked for it, who may not approve it.
    pub requested_by: Option<String>,
}

impl Service {
    /// Record `filing` for the daemon to decide on its next tick.
    pub async fn file(&self, filing: Filing) -> Result<ProposalRecord, ServiceError> {
        filing.call.check_ranges().map_err(|e| ServiceError::BadInput(e.to_string()))?;
        let new = NewProposal {
            at_ms: self.now_ms().await?,
            call: filing.call,
            proposer: filing.proposer,
            rationale: filing.rationale,
            tainted: filing.tainted,
            rollback_of: filing.rollback_of,
            requested_by: filing.requested_by,
        };
        Ok(self.store().insert_proposal(&new).await?)
    }

    /// File the inverse of executed proposal `id` as the caller proves to be.
    pub async fn rollback(&self, caller: &Caller, id: i64) -> Result<ProposalRecord, ServiceError> {
        let identity = self.identify(caller, &Operation::Rollback { proposal: id })?;
        let p = self.proposal(id).await?;
        if p.state != ProposalState::Succeeded {
            return Err(ServiceError::Conflict(format!(
                "proposal #{id} is {}, not succeeded: only an executed action can be rolled back",
                p.state
            )));
        }
        let Some(inverse) = p.inverse.clone() else {
            return Err(ServiceError::Conflict(format!("proposal #{id} recorded no inverse to roll back to")));
        };
        self.file(Filing {
            call: inverse,
            proposer: format!("person:{}", identity.name),
            rationale: format!("rollback of #{id} ({})", p.call),
            tainted: false,
            rollback_of: Some(id),
            requested_by: Some(identity.name),
        })
        .await
    }
}
