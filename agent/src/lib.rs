//! The Steward daemon and its CLI.
//!
//! Code map: [`cli`] parses the command line and dispatches to [`commands`]; `steward run`
//! builds a [`daemon::Daemon`] (the loop, the pipeline, the approval path, the executor)
//! with its planners (`steward-planners`), and serves [`http`]. [`config`] resolves file, environment and
//! flags. See ARCHITECTURE.md for the invariants.

pub mod cli;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod http;
pub mod llm;
pub mod logging;
pub mod metrics;
pub mod slack;
pub mod time;
