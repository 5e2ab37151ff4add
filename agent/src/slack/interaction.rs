//! An interaction payload (a button, the reject modal), from the HTTP endpoint or Socket
//! Mode alike, carried out through [`ChatOps`].

use std::sync::Arc;

use serde_json::{json, Value};

use super::chatops::{ChatOps, SlackUser};

/// The user an interaction payload names.
pub fn user_of(payload: &Value) -> Option<SlackUser> {
    let id = payload["user"]["id"].as_str()?.to_string();
    let team = payload["user"]["team_id"].as_str().or_else(|| payload["team"]["id"].as_str()).unwrap_or("").to_string();
    Some(SlackUser { id, team })
}

/// Carry out an interaction (from HTTP or Socket Mode). `Some` is a body to answer with
/// (errors in a modal); clicks run beside the request and answer nothing.
pub async fn handle_interaction(chatops: &Arc<ChatOps>, payload: Value) -> Option<Value> {
    let user = user_of(&payload)?;
    match payload["type"].as_str() {
        Some("block_actions") => {
            let action = &payload["actions"][0];
            let (Some(name), Some(value)) = (action["action_id"].as_str(), action["value"].as_str()) else {
                return None;
            };
            let (name, value) = (name.to_string(), value.to_string());
            let trigger = payload["trigger_id"].as_str().map(str::to_string);
            let channel = payload["channel"]["id"]
                .as_str()
                .or_else(|| payload["container"]["channel_id"].as_str())
                .map(str::to_string);
            let chatops = chatops.clone();
            tokio::spawn(async move {
                if let Err(e) = chatops.click(&user, &name, &value, trigger.as_deref(), channel.as_deref()).await {
                    tracing::error!(error = format!("{e:#}"), "A Slack click could not be carried out.");
                }
            });
            None
        }
        Some("view_submission") if payload["view"]["callback_id"] == "steward_reject" => {
            let metadata = payload["view"]["private_metadata"].as_str().unwrap_or_default();
            let reason = payload["view"]["state"]["values"]["reason"]["reason"]["value"].as_str().unwrap_or_default();
            match chatops.submit_reject(&user, metadata, reason).await {
                Ok(Ok(_)) => None,
                Ok(Err(problem)) => Some(json!({ "response_action": "errors", "errors": { "reason": problem } })),
                Err(e) => {
                    tracing::error!(error = format!("{e:#}"), "A Slack rejection could not be recorded.");
                    Some(
                        json!({ "response_action": "errors", "errors": { "reason": "Steward could not record this; try again" } }),
                    )
                }
            }
        }
        other => {
            tracing::debug!(kind = ?other, "Slack interaction ignored.");
            None
        }
    }
}
