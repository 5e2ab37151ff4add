//! The service core: one typed API for every operation a person or an agent can do, with
//! one notion of who is calling. See [`core`] for the invariants; each file is one area:
//! [`approvals`] (the queue and decisions), [`proposals`] (filing, rollback), [`control`]
//! (the kill switch, status), [`ask`] (the LLM planner), [`cost`], [`audit`], [`policy`].

pub mod approvals;
pub mod ask;
pub mod audit;
pub mod caller;
pub mod control;
pub mod core;
pub mod cost;
pub mod error;
pub mod migrations;
pub mod policy;
pub mod proposals;

pub use approvals::{Decided, QueueItem};
pub use ask::Consulted;
pub use caller::{Caller, Identity};
pub use control::Status;
pub use core::Service;
pub use cost::CostReport;
pub use error::ServiceError;
pub use migrations::{MigrateOptions, MigrationStatus, PlanView, StepStatus};
pub use proposals::Filing;
