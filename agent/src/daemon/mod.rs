//! The daemon: one loop over a closed set of events ([`runner`]), each tick a reconcile
//! ([`tick`]). The stages of a tick, each a file: [`propose`] (the one propose path every
//! proposal takes) and [`decide`] (validation, policy, the mode), [`authorize`] (approved
//! proposals re-checked before they run), [`executor`] (intent first, then the cloud call,
//! retries), [`advisor`] (the LLM planner), [`planners`], [`migrations`] (a migration's steps, one at a time), [`reconcile`] (crash leftovers),
//! [`keeper`] (heartbeats and checkpoints), [`enforcement`], [`interruptions`] (spot notices, reported once). [`context`] is what every stage
//! reads; [`hooks`] is how others follow the ticks without the daemon knowing them.

pub mod advisor;
pub mod authorize;
pub mod clock;
pub mod context;
pub mod decide;
pub mod enforcement;
pub mod executor;
pub mod hooks;
pub mod interruptions;
pub mod keeper;
pub mod migrations;
pub mod planners;
pub mod propose;
pub mod reconcile;
pub mod runner;
pub mod tick;

pub use clock::DaemonClock;
pub use hooks::AfterTick;
pub use runner::{shutdown_signal, Daemon, DaemonParts, RunOptions, Summary};
pub use tick::TickReport;
