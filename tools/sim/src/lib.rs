//! The simulated cloud: Steward's embedded default provider.
//!
//! It implements the same [`CloudProvider`] interface as the AWS provider: groups with
//! min/max/desired, instances that take a launch delay to become ready and cost their
//! type's hourly price, CPU utilisation derived from a request-rate series and per-instance
//! capacity, GPU pools whose workers drain a job queue, and injectable failures.
//!
//! Time is simulated: nothing moves until the daemon calls [`CloudProvider::advance_clock`],
//! one minute step at a time. Everything random comes from one seeded generator, so a run
//! is deterministic for a seed.

mod cloud;
mod fleet;
mod gpu;
mod load;
mod state;

pub use cloud::SimCloud;
pub use fleet::{demo_fleet, demo_start_ms, GroupSpec, SimOption, SimPool};
pub use load::Load;
pub use state::Failure;
