//! `steward pause` and `steward resume`: the kill switch. Recorded in the store and the
//! audit log; a running daemon checks it right before every execution.

use serde_json::{json, Value};
use steward_memory::control::keys;
use steward_memory::{NewEntry, Store};

use super::now_ms;

pub async fn set_paused(store: &Store, paused: bool, who: &str, reason: &str) -> anyhow::Result<()> {
    println!("{}", switch(store, paused, who, reason, json!("cli")).await?);
    Ok(())
}

/// Turn the kill switch on or off as `who` (through `via`: the CLI, Slack); the answer
/// for people.
pub async fn switch(store: &Store, paused: bool, who: &str, reason: &str, via: Value) -> anyhow::Result<String> {
    if store.paused().await? == paused {
        return Ok(format!("Execution is already {}.", if paused { "paused" } else { "running" }));
    }
    let now = now_ms(store).await?;
    let kind = if paused { "control.paused" } else { "control.resumed" };
    let entry = NewEntry::new(now, who, kind, None, json!({ "reason": reason, "via": via }));
    store.set_control_audited(keys::PAUSED, if paused { "true" } else { "false" }, entry).await?;
    Ok(if paused {
        "Paused: no action executes until resumed. Proposals are still made and decided.".to_string()
    } else {
        "Resumed: approved actions execute again (each re-checked against fresh state first).".to_string()
    })
}
