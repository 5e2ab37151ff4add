//! What Steward tells people and machines as it works: typed events that write the log
//! line, bump the metric and print the console line from one place ([`events`]), and the
//! Prometheus metrics they feed ([`metrics`]). Shared by the daemon and every front end.

pub mod events;
pub mod metrics;
pub mod pools;

pub use events::Telemetry;
pub use metrics::Metrics;
