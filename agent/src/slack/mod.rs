//! Chat-ops in Slack: approval messages with buttons that stay true to their proposal,
//! the `/steward` command, verified requests and authorised approvers. Requests arrive on
//! the daemon's HTTP listener ([`http`]) or over Socket Mode ([`socket`]); both end in
//! [`chatops::ChatOps`].

pub mod api;
pub mod blocks;
pub mod chatops;
pub mod http;
pub mod socket;
pub mod verify;

pub use chatops::{ChatOps, SlackUser};
