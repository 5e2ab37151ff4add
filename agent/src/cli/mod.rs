//! The `steward` command line: a front end over the service core. [`args`] is what clap
//! parses, [`entry`] dispatches, one file per group of commands turns the service core's
//! answers into text; [`signer`] proves who runs a command; [`output`] writes without
//! panicking on a closed pipe; [`failure`] maps errors to exit codes.

pub mod approvals;
pub mod args;
pub mod ask;
pub mod audit;
pub mod control;
pub mod cost;
pub mod entry;
pub mod eval;
pub mod failure;
pub mod migrate;
pub mod operator;
pub mod output;
pub mod policy;
pub mod run;
pub mod signer;

pub use entry::main;
