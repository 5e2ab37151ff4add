//! What else runs at the end of every tick, wired in by whoever starts the daemon (chat-ops
//! keeping its approval messages true, say). The daemon knows the hook, never the front end
//! behind it.

use async_trait::async_trait;
use steward_tools::Observation;

#[async_trait]
pub trait AfterTick: Send + Sync {
    /// Called once per tick that observed the fleet, with that observation and how many
    /// proposals wait for approval. A failure is the hook's to log and retry; it never stops
    /// the tick.
    async fn after_tick(&self, observation: &Observation, pending_approvals: usize);
}
