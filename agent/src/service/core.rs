//! The service core: one typed API for everything a person or an agent can do with Steward
//! (the queue, decisions, rollbacks, the kill switch, questions to the LLM planner, cost,
//! the audit log, policy explanations). The CLI, Slack and the HTTP listener are thin
//! adapters over it; none of them holds a rule of its own about who may do what.
//!
//! Architecture invariants:
//! - Every proposal a person or an agent files is recorded in state `proposed` and decided
//!   by the daemon's one propose path on its next tick (kill switch, supersede, back-off,
//!   validation, policy, limits, mode); nothing here decides or executes a call.
//! - A decision counts only for an identity the caller proved ([`super::caller`]), and is
//!   bound to the call's hash.

use std::sync::Arc;

use steward_memory::Store;
use steward_policies::Guardrails;
use steward_tools::Observation;

use super::error::ServiceError;
use crate::config::Config;

/// Cheap to clone: the config and the store's pool are shared.
#[derive(Clone, Debug)]
pub struct Service {
    config: Arc<Config>,
    store: Store,
    /// Whether "now" is the daemon's clock even when it is behind the wall (a replay of
    /// the past): people beside it then act in its time.
    replay_clock: bool,
}

impl Service {
    pub fn new(config: Arc<Config>, store: Store) -> Service {
        Service { config, store, replay_clock: false }
    }

    /// A service beside a daemon replaying the past: its "now" is the daemon's clock.
    pub fn on_replay_clock(self) -> Service {
        Service { replay_clock: true, ..self }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// "Now" beside a daemon: its clock when it runs ahead of the wall (simulated time)
    /// or when this service follows a replay, the wall clock otherwise.
    pub async fn now_ms(&self) -> Result<i64, ServiceError> {
        let daemon = self.store.daemon_clock_ms().await?;
        let wall = crate::time::wall_now_ms();
        Ok(match daemon {
            Some(clock) if self.replay_clock => clock,
            Some(clock) => clock.max(wall),
            None => wall,
        })
    }

    /// The daemon's newest observation.
    pub async fn latest_observation(&self) -> Result<Option<Observation>, ServiceError> {
        Ok(self.store.latest_observation().await?)
    }

    /// The daemon's newest observation, or why there is none.
    pub async fn observation(&self) -> Result<Observation, ServiceError> {
        self.latest_observation().await?.ok_or_else(|| {
            ServiceError::Unavailable("no observation in the store yet: start the daemon (`steward run`) first".into())
        })
    }

    /// The guardrails the daemon runs with (the demo fleet's freeze included on the
    /// simulated cloud).
    pub fn guardrails(&self) -> Result<Guardrails, ServiceError> {
        self.config.as_ref().clone().with_demo_freeze().guardrails().map_err(ServiceError::Config)
    }
}
