//! The Steward daemon, its service core and its front ends.
//!
//! Code map (see ARCHITECTURE.md for the invariants):
//! - [`service`]: the service core, one typed API for every operation a person or an agent
//!   can do; [`identity`] is how a caller proves who they are.
//! - [`daemon`]: the loop; every proposal takes its one propose path.
//! - Front ends, thin adapters over the service core that never import each other:
//!   [`cli`], [`slack`], [`http`].
//! - [`server`]: the process behind `steward run`, which wires the daemon and the front ends
//!   together.
//! - Shared by all: [`config`], [`telemetry`], [`facts`] (what policy is told),
//!   [`fleet_tools`] (the fleet as the LLM planner sees it), [`time`], [`logging`].

pub mod cli;
pub mod config;
pub mod daemon;
pub mod facts;
pub mod fleet_tools;
pub mod http;
pub mod identity;
pub mod logging;
pub mod migration;
pub mod replay;
pub mod server;
pub mod service;
pub mod slack;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod time;
