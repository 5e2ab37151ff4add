//! Recording the start of a run: a `daemon.started` entry, and an `enforcement.changed`
//! entry whenever the mode, the policy set (by id and fingerprint), the shadow set or the
//! limits differ from what the store last saw.

use serde_json::json;
use steward_memory::control::keys;
use steward_memory::NewEntry;

use super::context::Context;

pub async fn record_start(ctx: &Context) -> anyhow::Result<()> {
    let now = ctx.clock.now_ms();
    let config = &ctx.config;
    let mut ids: Vec<String> = ctx.guardrails.policy_ids().into_iter().collect();
    ids.sort();
    let enforcement = json!({
        "mode": config.mode.as_str(),
        "policies": ids,
        "policy_fingerprint": config.policy_files()?.fingerprint(),
        "shadow": config.policies.shadow,
        "limits": config.limits,
    });
    let text = enforcement.to_string();
    let previous = ctx.store.control(keys::ENFORCEMENT).await?;
    let started = json!({ "version": env!("CARGO_PKG_VERSION"), "provider": ctx.provider.name(),
                          "store": ctx.store.backend(), "mode": config.mode.as_str() });
    ctx.store.append(NewEntry::new(now, "steward", "daemon.started", None, started)).await?;
    if previous.as_deref() != Some(text.as_str()) {
        let previous_value = previous.and_then(|p| serde_json::from_str::<serde_json::Value>(&p).ok());
        let data = json!({ "from": previous_value, "to": enforcement });
        let entry = NewEntry::new(now, "steward", "enforcement.changed", None, data);
        ctx.store.set_control_audited(keys::ENFORCEMENT, &text, entry).await?;
    }
    Ok(())
}
