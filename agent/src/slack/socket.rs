//! Socket Mode: no public endpoint. slack-morphism opens the WebSocket with the app-level
//! token (`apps.connections.open`), acknowledges every envelope with its answer, and
//! reconnects when Slack (or the network) drops the connection. Commands and interactions
//! end in the same [`ChatOps`] as the HTTP endpoints; requests over the socket need no
//! signature (the connection itself was opened with the app token).

use std::future::Future;
use std::sync::Arc;

use slack_morphism::prelude::*;

use super::chatops::{ChatOps, SlackUser};

async fn chatops_of(states: &SlackClientEventsUserState) -> Option<Arc<ChatOps>> {
    states.read().await.get_user_state::<Arc<ChatOps>>().cloned()
}

async fn on_command(
    event: SlackCommandEvent,
    _client: Arc<SlackHyperClient>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<SlackCommandEventResponse> {
    let Some(chatops) = chatops_of(&states).await else { return Err("Steward's chat-ops are not set up".into()) };
    chatops.telemetry.metrics.slack_request(None);
    let user = SlackUser { id: event.user_id.to_string(), team: event.team_id.to_string() };
    let text = event.text.clone().unwrap_or_default();
    let answer = match chatops.command(&user, event.channel_id.as_ref(), &text).await {
        Ok(a) => a,
        Err(e) => format!("Steward could not do that: {e:#}"),
    };
    Ok(SlackCommandEventResponse::new(SlackMessageContent::new().with_text(answer))
        .with_response_type(SlackMessageResponseType::Ephemeral))
}

async fn on_interaction(
    event: SlackInteractionEvent,
    _client: Arc<SlackHyperClient>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<SlackInteractionResponse> {
    let Some(chatops) = chatops_of(&states).await else { return Err("Steward's chat-ops are not set up".into()) };
    chatops.telemetry.metrics.slack_request(None);
    // The same handling as over HTTP, from the payload Slack documents.
    let payload = serde_json::to_value(&event)?;
    let answer = super::interaction::handle_interaction(&chatops, payload).await;
    let response = answer.and_then(|a| serde_json::from_value::<SlackViewSubmissionResponse>(a).ok());
    Ok(response.map_or(SlackInteractionResponse::Empty, SlackInteractionResponse::from))
}

async fn on_push(
    event: SlackPushEventCallback,
    _client: Arc<SlackHyperClient>,
    _states: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    tracing::debug!(event = ?event.event, "Slack event ignored.");
    Ok(())
}

fn on_error(
    err: Box<dyn std::error::Error + Send + Sync>,
    _client: Arc<SlackHyperClient>,
    _states: SlackClientEventsUserState,
) -> HttpStatusCode {
    tracing::warn!(error = %err, "Slack Socket Mode error; the connection is retried.");
    HttpStatusCode::OK
}

/// Listen over Socket Mode until `shutdown` resolves.
pub async fn serve(chatops: Arc<ChatOps>, app_token: String, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let client = chatops.api.client.clone();
    let callbacks = SlackSocketModeListenerCallbacks::new()
        .with_command_events(on_command)
        .with_interaction_events(on_interaction)
        .with_push_events(on_push);
    let environment = Arc::new(
        SlackClientEventsListenerEnvironment::new(client).with_error_handler(on_error).with_user_state(chatops),
    );
    let config = SlackClientSocketModeConfig::new()
        .with_max_connections_count(1)
        .with_initial_backoff_in_seconds(1)
        .with_reconnect_timeout_in_seconds(5);
    let listener = SlackClientSocketModeListener::new(&config, environment, callbacks);
    let token = SlackApiToken::new(SlackApiTokenValue::new(app_token));
    listener.listen_for(&token).await.map_err(|e| anyhow::anyhow!("slack: Socket Mode could not connect: {e}"))?;
    listener.start().await;
    tracing::info!("Listening to Slack over Socket Mode.");
    shutdown.await;
    listener.shutdown().await;
    Ok(())
}
