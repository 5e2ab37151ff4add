//! What every stage of a tick reads and nothing in a tick changes: the config, the store,
//! the cloud, the guardrails, telemetry and the clock. Stages get it by reference, with the
//! state they own (the pipeline's back-off, the executor's retries, the planners) passed
//! beside it, so each stage's inputs are visible in its signature.

use std::sync::Arc;

use steward_memory::Store;
use steward_policies::Guardrails;
use steward_tools::CloudProvider;

use super::clock::DaemonClock;
use crate::config::Config;
use crate::telemetry::Telemetry;

pub struct Context {
    pub config: Arc<Config>,
    pub store: Store,
    pub provider: Arc<dyn CloudProvider>,
    pub guardrails: Arc<Guardrails>,
    pub telemetry: Arc<Telemetry>,
    pub clock: DaemonClock,
}
