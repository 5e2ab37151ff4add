//! The Slack Web API calls Steward makes, through slack-morphism: post and update approval
//! messages, ephemeral answers, the reject-reason modal, user-group members. Requests are
//! written as Slack documents them (JSON) and parsed into slack-morphism's typed requests,
//! so a shape Slack would reject fails here first.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{json, Value};
use slack_morphism::prelude::*;

use crate::config::SlackConfig;

/// How long a user group's member list is trusted.
const GROUP_CACHE: Duration = Duration::from_secs(300);

type Connector = SlackClientHyperHttpsConnector;

pub struct SlackApi {
    pub(crate) client: Arc<SlackClient<Connector>>,
    token: SlackApiToken,
    groups: Mutex<HashMap<String, (Instant, Vec<String>)>>,
}

impl std::fmt::Debug for SlackApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackApi").finish_non_exhaustive()
    }
}

/// The first line of an error, for logs and answers.
fn line(e: impl std::fmt::Display) -> String {
    e.to_string().lines().next().unwrap_or_default().chars().take(300).collect()
}

impl SlackApi {
    pub fn new(config: &SlackConfig) -> anyhow::Result<SlackApi> {
        // The crypto provider is named, not left to rustls: a build that also links the AWS
        // SDK carries two, and rustls then picks neither.
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::ring::default_provider())
            .context("slack: no TLS root certificates on this machine")?
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .build();
        let connector = SlackClientHyperConnector::from(https).with_slack_api_url(&config.api_url);
        Ok(SlackApi {
            client: Arc::new(SlackClient::new(connector)),
            token: SlackApiToken::new(SlackApiTokenValue::new(config.bot_token.expose().clone())),
            groups: Mutex::new(HashMap::new()),
        })
    }

    /// Post a message; returns its `ts`.
    pub async fn post(&self, channel: &str, text: &str, blocks: Value) -> anyhow::Result<String> {
        let request: SlackApiChatPostMessageRequest =
            serde_json::from_value(json!({ "channel": channel, "text": text, "blocks": blocks }))
                .context("building chat.postMessage")?;
        let session = self.client.open_session(&self.token);
        let response = session.chat_post_message(&request).await.map_err(|e| anyhow::anyhow!(line(e)))?;
        Ok(response.ts.to_string())
    }

    /// Replace a message's text and blocks.
    pub async fn update(&self, channel: &str, ts: &str, text: &str, blocks: Value) -> anyhow::Result<()> {
        let request: SlackApiChatUpdateRequest =
            serde_json::from_value(json!({ "channel": channel, "ts": ts, "text": text, "blocks": blocks }))
                .context("building chat.update")?;
        let session = self.client.open_session(&self.token);
        session.chat_update(&request).await.map_err(|e| anyhow::anyhow!(line(e)))?;
        Ok(())
    }

    /// A message only `user` sees.
    pub async fn ephemeral(&self, channel: &str, user: &str, text: &str) -> anyhow::Result<()> {
        let request: SlackApiChatPostEphemeralRequest =
            serde_json::from_value(json!({ "channel": channel, "user": user, "text": text }))
                .context("building chat.postEphemeral")?;
        let session = self.client.open_session(&self.token);
        session.chat_post_ephemeral(&request).await.map_err(|e| anyhow::anyhow!(line(e)))?;
        Ok(())
    }

    /// Ask for a rejection's reason in a modal; `metadata` comes back on submission.
    pub async fn open_reject_modal(&self, trigger_id: &str, title: &str, metadata: &str) -> anyhow::Result<()> {
        let view = json!({
            "type": "modal",
            "callback_id": "steward_reject",
            "private_metadata": metadata,
            "title": { "type": "plain_text", "text": "Reject" },
            "submit": { "type": "plain_text", "text": "Reject" },
            "close": { "type": "plain_text", "text": "Cancel" },
            "blocks": [
                { "type": "section", "text": { "type": "mrkdwn", "text": title } },
                { "type": "input", "block_id": "reason",
                  "label": { "type": "plain_text", "text": "Why?" },
                  "element": { "type": "plain_text_input", "action_id": "reason", "multiline": true, "max_length": 500 } }
            ]
        });
        let request: SlackApiViewsOpenRequest =
            serde_json::from_value(json!({ "trigger_id": trigger_id, "view": view })).context("building views.open")?;
        let session = self.client.open_session(&self.token);
        session.views_open(&request).await.map_err(|e| anyhow::anyhow!(line(e)))?;
        Ok(())
    }

    /// The members of a user group (`S…`), cached for five minutes.
    pub async fn group_members(&self, group: &str) -> anyhow::Result<Vec<String>> {
        if let Some((at, members)) = self.groups.lock().unwrap_or_else(|e| e.into_inner()).get(group) {
            if at.elapsed() < GROUP_CACHE {
                return Ok(members.clone());
            }
        }
        let request: SlackApiUserGroupsUsersListRequest =
            serde_json::from_value(json!({ "usergroup": group })).context("building usergroups.users.list")?;
        let session = self.client.open_session(&self.token);
        let response = session.usergroups_users_list(&request).await.map_err(|e| anyhow::anyhow!(line(e)))?;
        let members: Vec<String> = response.users.iter().map(|u| u.to_string()).collect();
        self.groups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(group.to_string(), (Instant::now(), members.clone()));
        Ok(members)
    }
}
