//! Configuration: one TOML file (`--config`, default `steward.toml` when present),
//! environment overrides (`STEWARD_*`), flags over both, and defaults that make zero
//! configuration work: supervised mode, the simulated cloud with its demo fleet, the
//! embedded SQLite store in the working directory, the built-in policies.
//!
//! One file per concern, each with its section as written, its defaults, and its
//! validation: [`daemon`] (mode, execution, provider), [`store`], [`approvals`] (including
//! operator keys), [`policies`], [`limits`] (and freezes), [`audit`], [`planner`], [`llm`],
//! [`slack`], [`aws`], [`heroku`], [`migration`]. [`resolve`] puts them together.

pub mod approvals;
pub mod audit;
pub mod aws;
pub mod daemon;
pub mod file;
pub mod heroku;
pub mod limits;
pub mod llm;
pub mod migration;
pub mod planner;
pub mod policies;
pub mod resolve;
pub mod slack;
pub mod store;
pub mod values;

pub use approvals::{ApprovalsConfig, Operator};
pub use audit::AuditConfig;
pub use daemon::{ExecutionConfig, LogFormat, Mode, Provider};
pub use file::FileConfig;
pub use heroku::HerokuConfig;
pub use llm::LlmConfig;
pub use migration::MigrationConfig;
pub use planner::{PlannerConfig, PlannerFileConfig, Scaling};
pub use resolve::{Config, Overrides, DEFAULT_LISTEN};
pub use slack::{SlackConfig, SlackMode};
pub use store::{StoreUrl, DEFAULT_STORE};
pub use values::parse_duration;
