//! Slack's HTTP endpoints on the daemon's listener: `POST /slack/events`,
//! `/slack/interactions` and `/slack/commands`. Every request is verified
//! ([`RequestVerifier`]) before its body is parsed; refusals are logged and counted and
//! never acted on. Clicks are acknowledged at once and carried out beside the request
//! (Slack wants an answer within three seconds).

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::chatops::{ChatOps, SlackUser};
use super::interaction::handle_interaction;
use super::verify::RequestVerifier;

#[derive(Clone)]
pub struct SlackState {
    pub chatops: Arc<ChatOps>,
    pub verifier: Arc<RequestVerifier>,
}

pub fn routes(state: SlackState) -> Router {
    Router::new()
        .route("/slack/events", post(events))
        .route("/slack/interactions", post(interactions))
        .route("/slack/commands", post(commands))
        .with_state(state)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The body, if the request is really from Slack; otherwise the refusal to send back.
async fn verified(state: &SlackState, headers: &HeaderMap, body: Body) -> Result<Bytes, Response> {
    let limit = state.verifier.max_body_bytes();
    let refuse = |reason: super::verify::Refusal| {
        state.chatops.telemetry.metrics.slack_request(Some(reason.as_str()));
        tracing::warn!(reason = reason.as_str(), "Refused a request claiming to come from Slack.");
        let status = StatusCode::from_u16(reason.status()).unwrap_or(StatusCode::BAD_REQUEST);
        (status, reason.as_str()).into_response()
    };
    let declared = header(headers, "content-length").and_then(|l| l.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(refuse(super::verify::Refusal::TooLarge));
    }
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => return Err(refuse(super::verify::Refusal::TooLarge)),
    };
    let now = crate::time::wall_now_ms() / 1000;
    match state.verifier.check(
        header(headers, "x-slack-request-timestamp"),
        header(headers, "x-slack-signature"),
        &bytes,
        now,
    ) {
        Ok(()) => {
            state.chatops.telemetry.metrics.slack_request(None);
            Ok(bytes)
        }
        Err(reason) => Err(refuse(reason)),
    }
}

fn malformed(what: &str) -> Response {
    tracing::warn!(what, "A verified Slack request was malformed; ignored.");
    (StatusCode::BAD_REQUEST, format!("malformed {what}")).into_response()
}

async fn events(State(state): State<SlackState>, headers: HeaderMap, body: Body) -> Response {
    let bytes = match verified(&state, &headers, body).await {
        Ok(b) => b,
        Err(refusal) => return refusal,
    };
    let Ok(event) = serde_json::from_slice::<Value>(&bytes) else { return malformed("event") };
    if event["type"] == "url_verification" {
        return Json(json!({ "challenge": event["challenge"] })).into_response();
    }
    tracing::debug!(kind = %event["event"]["type"], "Slack event ignored.");
    StatusCode::OK.into_response()
}

fn form(bytes: &[u8]) -> Option<Vec<(String, String)>> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(bytes).ok()
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

async fn interactions(State(state): State<SlackState>, headers: HeaderMap, body: Body) -> Response {
    let bytes = match verified(&state, &headers, body).await {
        Ok(b) => b,
        Err(refusal) => return refusal,
    };
    let payload = form(&bytes)
        .and_then(|f| field(&f, "payload").map(str::to_string))
        .and_then(|p| serde_json::from_str::<Value>(&p).ok());
    let Some(payload) = payload else { return malformed("interaction") };
    match handle_interaction(&state.chatops, payload).await {
        Some(answer) => Json(answer).into_response(),
        None => StatusCode::OK.into_response(),
    }
}

async fn commands(State(state): State<SlackState>, headers: HeaderMap, body: Body) -> Response {
    let bytes = match verified(&state, &headers, body).await {
        Ok(b) => b,
        Err(refusal) => return refusal,
    };
    let Some(f) = form(&bytes) else { return malformed("command") };
    let (Some(user), Some(channel)) = (field(&f, "user_id"), field(&f, "channel_id")) else {
        return malformed("command");
    };
    let user = SlackUser { id: user.to_string(), team: field(&f, "team_id").unwrap_or("").to_string() };
    let text = field(&f, "text").unwrap_or("");
    let answer = match state.chatops.command(&user, channel, text).await {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "A Slack command failed.");
            format!("Steward could not do that: {}", super::blocks::escape(&format!("{e:#}")))
        }
    };
    Json(json!({ "response_type": "ephemeral", "text": answer })).into_response()
}
