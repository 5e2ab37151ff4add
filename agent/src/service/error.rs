//! Why the service core could not do what was asked, classified once: front ends map the
//! kinds to their own answers (the CLI to exit codes, Slack to an ephemeral message).

use steward_memory::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Input the caller must fix: a missing reason, a malformed file, an out-of-range value.
    #[error("{0}")]
    BadInput(String),
    /// The caller may not do this: who they proved to be, or what they may decide.
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    NotFound(String),
    /// The proposal is not in a state that allows this (changed, not succeeded).
    #[error("{0}")]
    Conflict(String),
    /// A decision the store refused: the proposal is no longer pending, it expired, or this
    /// person already decided it.
    #[error("{0}")]
    Undecidable(StoreError),
    /// Something this needs is not there: the LLM planner is not configured, no observation
    /// yet, the model did not answer.
    #[error("{0}")]
    Unavailable(String),
    /// The policy set or another part of the configuration could not be loaded.
    #[error("{0:#}")]
    Config(anyhow::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ServiceError {
    /// A store error that is about the proposal's state, as a person would want to hear it.
    pub fn from_decision(e: StoreError) -> ServiceError {
        match e {
            StoreError::UnknownProposal(_) => ServiceError::NotFound(e.to_string()),
            StoreError::NotPending { .. } | StoreError::Expired { .. } | StoreError::AlreadyDecided { .. } => {
                ServiceError::Undecidable(e)
            }
            other => ServiceError::Store(other),
        }
    }
}
