//! A stand-in for Slack's Web API on a loopback port: it records every call
//! (`chat.postMessage`, `chat.update`, `chat.postEphemeral`, `views.open`, …) and answers
//! with the documented shapes. Also signs requests the way Slack does.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::routing::any;
use axum::{Json, Router};
use serde_json::{json, Value};

#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub body: Value,
    pub authorization: String,
}

#[derive(Default)]
struct Shared {
    calls: Mutex<Vec<Call>>,
    groups: Mutex<HashMap<String, Vec<String>>>,
    socket_url: Mutex<String>,
    next_ts: AtomicU64,
}

pub struct SlackStandIn {
    pub api_url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SlackStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn parse_body(bytes: &[u8], query: Option<String>) -> Value {
    if let Ok(v) = serde_json::from_slice::<Value>(bytes) {
        return v;
    }
    let text = if bytes.is_empty() { query.unwrap_or_default() } else { String::from_utf8_lossy(bytes).to_string() };
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&text).unwrap_or_default();
    Value::Object(pairs.into_iter().map(|(k, v)| (k, Value::String(v))).collect())
}

async fn api(
    State(shared): State<Arc<Shared>>,
    Path(method): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Json<Value> {
    let body = parse_body(&body, query);
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    shared.calls.lock().unwrap().push(Call { method: method.clone(), body: body.clone(), authorization });
    let ts = format!("1800000000.{:06}", shared.next_ts.fetch_add(1, Ordering::SeqCst) + 100);
    Json(match method.as_str() {
        "chat.postMessage" => json!({ "ok": true, "channel": body["channel"], "ts": ts,
            "message": { "type": "message", "ts": ts, "text": body["text"], "bot_id": "BSTEWARD" } }),
        "chat.update" => json!({ "ok": true, "channel": body["channel"], "ts": body["ts"], "text": body["text"],
            "message": { "text": body["text"] } }),
        "chat.postEphemeral" => json!({ "ok": true, "message_ts": ts }),
        "views.open" => {
            let mut view = body["view"].clone();
            view["id"] = json!("VREJECT");
            view["team_id"] = json!("TSTEWARD");
            view["state"] = json!({ "values": {} });
            view["hash"] = json!("1");
            json!({ "ok": true, "view": view })
        }
        "usergroups.users.list" => {
            let group = body["usergroup"].as_str().unwrap_or_default().to_string();
            let users = shared.groups.lock().unwrap().get(&group).cloned().unwrap_or_default();
            json!({ "ok": true, "users": users })
        }
        "apps.connections.open" => json!({ "ok": true, "url": *shared.socket_url.lock().unwrap() }),
        _ => json!({ "ok": false, "error": "unknown_method" }),
    })
}

impl SlackStandIn {
    pub async fn start() -> SlackStandIn {
        let shared = Arc::new(Shared::default());
        let app = Router::new().route("/api/{method}", any(api)).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        SlackStandIn { api_url: format!("http://{address}/api"), shared, task }
    }

    pub fn set_group(&self, group: &str, members: &[&str]) {
        self.shared.groups.lock().unwrap().insert(group.into(), members.iter().map(|m| m.to_string()).collect());
    }

    pub fn set_socket_url(&self, url: &str) {
        *self.shared.socket_url.lock().unwrap() = url.to_string();
    }

    pub fn calls(&self, method: &str) -> Vec<Call> {
        self.shared.calls.lock().unwrap().iter().filter(|c| c.method == method).cloned().collect()
    }

    /// Wait (up to 10 s) until `check` holds for the calls of `method`.
    pub async fn wait_for(&self, method: &str, check: impl Fn(&[Call]) -> bool) -> Vec<Call> {
        for _ in 0..200 {
            let calls = self.calls(method);
            if check(&calls) {
                return calls;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{method}: the expected call never came; saw {:#?}", self.calls(method));
    }
}

/// The `X-Slack-Signature` for `body` at `timestamp`, as Slack computes it.
pub fn sign(secret: &str, timestamp: i64, body: &str) -> String {
    steward_agent::slack::verify::sign(secret, timestamp, body)
}

pub fn now_seconds() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// `payload=…` for an interaction.
pub fn interaction(payload: &Value) -> String {
    serde_urlencoded::to_string([("payload", payload.to_string())]).expect("form")
}

/// Each click is its own request, as in Slack (its `action_ts` differs).
static CLICKS: AtomicU64 = AtomicU64::new(1);

pub fn block_action(user: &str, action: &str, value: &str) -> Value {
    let action_ts = format!("1800000000.{:06}", CLICKS.fetch_add(1, Ordering::SeqCst));
    json!({
        "type": "block_actions",
        "user": { "id": user, "team_id": "TSTEWARD" },
        "team": { "id": "TSTEWARD" },
        "api_app_id": "ASTEWARD",
        "trigger_id": "trigger-1",
        "response_url": "https://hooks.slack.invalid/actions/1",
        "channel": { "id": "CPROD", "name": "ops" },
        "container": { "type": "message", "message_ts": "1800000000.000100", "channel_id": "CPROD", "is_ephemeral": false },
        "actions": [{ "action_id": action, "value": value, "type": "button", "action_ts": action_ts }]
    })
}

pub fn reject_submission(user: &str, metadata: &str, reason: &str) -> Value {
    json!({
        "type": "view_submission",
        "user": { "id": user, "team_id": "TSTEWARD" },
        "view": { "callback_id": "steward_reject", "private_metadata": metadata,
                  "state": { "values": { "reason": { "reason": { "type": "plain_text_input", "value": reason } } } } }
    })
}

pub fn command(user: &str, text: &str) -> String {
    serde_urlencoded::to_string([
        ("command", "/steward"),
        ("text", text),
        ("user_id", user),
        ("team_id", "TSTEWARD"),
        ("channel_id", "CPROD"),
        ("response_url", "https://hooks.slack.invalid/commands/1"),
        ("trigger_id", "trigger-2"),
    ])
    .expect("form")
}
