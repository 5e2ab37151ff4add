//! `steward pause` and `steward resume`: the kill switch. Recorded in the store and the
//! audit log; a running daemon checks it right before every execution.

use serde_json::json;
use steward_memory::control::keys;
use steward_memory::{NewEntry, Store};

use super::now_ms;

pub async fn set_paused(store: &Store, paused: bool, who: &str, reason: &str) -> anyhow::Result<()> {
    if store.paused().await? == paused {
        println!("Execution is already {}.", if paused { "paused" } else { "running" });
        return Ok(());
    }
    let now = now_ms(store).await?;
    let kind = if paused { "control.paused" } else { "control.resumed" };
    let entry = NewEntry::new(now, who, kind, None, json!({ "reason": reason }));
    store.set_control_audited(keys::PAUSED, if paused { "true" } else { "false" }, entry).await?;
    if paused {
        println!("Paused: no action executes until `steward resume`. Proposals are still made and decided.");
    } else {
        println!("Resumed: approved actions execute again (each re-checked against fresh state first).");
    }
    Ok(())
}
