//! Chat-ops in Slack, a front end over the service core: approval messages with buttons
//! that stay true to their proposal, the `/steward` command, verified requests and
//! authorised approvers. Requests arrive on the daemon's HTTP listener ([`http`]) or over
//! Socket Mode ([`socket`]); both end in [`chatops::ChatOps`], which calls the service core.

pub mod api;
pub mod blocks;
pub mod chatops;
pub mod http;
pub mod interaction;
pub mod socket;
pub mod verify;

pub use chatops::{ChatOps, SlackUser};
