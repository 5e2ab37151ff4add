//! The daemon's cloud provider with migrations: the fleet's calls go to the fleet provider
//! (simulated or AWS), migration steps to the [`Migrator`].

use std::sync::Arc;

use async_trait::async_trait;
use steward_tools::{ActionReceipt, ApprovedCall, CloudProvider, Observation, ProviderError, ToolCall};

use crate::executor::Migrator;

pub struct WithMigrations {
    pub fleet: Arc<dyn CloudProvider>,
    pub migrator: Arc<Migrator>,
}

#[async_trait]
impl CloudProvider for WithMigrations {
    fn name(&self) -> &'static str {
        self.fleet.name()
    }

    async fn observe(&self) -> Result<Observation, ProviderError> {
        self.fleet.observe().await
    }

    async fn execute(&self, action_id: &str, call: &ApprovedCall) -> Result<ActionReceipt, ProviderError> {
        match call.call() {
            ToolCall::MigrationStep(step) => self.migrator.execute(action_id, step).await,
            _ => self.fleet.execute(action_id, call).await,
        }
    }

    /// Migration steps leave no trace to look up by action id; they are resumed instead
    /// (each finds its own work done), so `None` here means "run it again".
    async fn find_action(&self, action_id: &str) -> Result<Option<ActionReceipt>, ProviderError> {
        self.fleet.find_action(action_id).await
    }

    async fn check(&self, call: &ToolCall, receipt: &ActionReceipt) -> Option<Result<String, String>> {
        match call {
            ToolCall::MigrationStep(step) => Some(self.migrator.check(step, receipt).await),
            _ => self.fleet.check(call, receipt).await,
        }
    }

    async fn advance_clock(&self, by_ms: i64) -> bool {
        self.fleet.advance_clock(by_ms).await
    }

    fn api_calls(&self) -> Option<u64> {
        self.fleet.api_calls()
    }
}
