//! Steward's vocabulary: the typed tool calls, what an observation of the cloud looks like,
//! and the interface every cloud provider implements.
//!
//! Architecture invariant: this crate is pure. It does not depend on tokio, sqlx or any
//! cloud SDK, so the policy engine and the store can use these types without compiling the
//! world. One Rust type per tool call gives the LLM its function schema, is what validation
//! checks, what policy reasons about, and what an executor runs.

pub mod call;
pub mod capacity;
pub mod environment;
pub mod field;
pub mod launch;
pub mod migration;
pub mod observe;
pub mod prices;
pub mod provider;
pub mod read;
pub mod schema;
pub mod secret;
pub mod validate;

pub use call::{ProvisionGpuWorkers, ScaleGroup, TerminateWorkers, ToolCall};
pub use capacity::{Budget, LaunchOption, Market, OptionState, Placement, Skipped};
pub use environment::Environment;
pub use field::{parse_json, FieldError};
pub use migration::{DnsRecord, FormationEntry, MigrationStep, ServiceSpec, StepAction};
pub use observe::{GroupKind, GroupSnapshot, InstanceSnapshot, InstanceState, Observation, PoolState, WorkerCapacity};
pub use provider::{ActionReceipt, CloudProvider, ProviderError};
pub use read::ReadTool;
pub use secret::{redact, Secret};
pub use validate::{validate, ApprovedCall, Grant, ValidatedCall, ValidationError};
