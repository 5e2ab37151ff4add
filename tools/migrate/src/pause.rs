//! Named points where a migration step can be made to stop, for crash drills: with
//! `STEWARD_PAUSE_AT=NAME` the step waits there for ever, so a test can `kill -9` the daemon
//! at a known moment and show that a restart finishes the step with nothing done twice.
//!
//! The points: `copy_data.dump` (maintenance on, nothing copied), `copy_data.restore` (the
//! schema dumped, the target untouched), `copy_data.verify` (the target restored with its
//! indexes and both sides counted, the comparison and the receipt not yet made), `cut_over_dns.change` (the old records saved, DNS unchanged),
//! `cut_over_dns.changed` (DNS changed, the step's receipt not yet recorded).

/// Stop here, for good, when `STEWARD_PAUSE_AT` names this point.
pub async fn pause_point(name: &str) {
    if std::env::var("STEWARD_PAUSE_AT").as_deref() == Ok(name) {
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "steward: paused at {name} (STEWARD_PAUSE_AT)");
        std::future::pending::<()>().await;
    }
}
