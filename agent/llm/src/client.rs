//! One chat-completion request, through async-openai, with bounded retries.

use std::time::Instant;

use async_openai::config::{AzureConfig, OpenAIConfig};
use async_openai::error::OpenAIError;
use async_openai::Client;
use serde_json::Value;

use crate::settings::{Api, LlmSettings};

/// Why a request got no answer, in one line: a status after async-openai's retries, a
/// connection that failed, a timeout, an answer that is not JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CallError(pub String);

/// Why a client cannot be made for the configured endpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    #[error("llm: the API key holds characters an HTTP header cannot carry (spaces, newlines?)")]
    KeyNotHeaderSafe,
}

enum Inner {
    OpenAi(Client<OpenAIConfig>),
    Azure(Client<AzureConfig>),
}

/// A client for one configured endpoint. Cheap to share behind an `Arc`.
pub struct LlmClient {
    inner: Inner,
    settings: LlmSettings,
}

impl std::fmt::Debug for LlmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmClient").field("settings", &self.settings).finish_non_exhaustive()
    }
}

/// Header values must be visible ASCII; async-openai would panic on anything else.
fn header_safe(key: &str) -> bool {
    key.bytes().all(|b| (0x21..0x7f).contains(&b))
}

impl LlmClient {
    /// A client for the endpoint the settings name. Fails on an API key that cannot be
    /// sent in an HTTP header.
    pub fn new(settings: LlmSettings) -> Result<LlmClient, ClientError> {
        let key = settings.api_key.as_ref().map(|k| k.expose().clone()).unwrap_or_default();
        if !header_safe(&key) && !key.is_empty() {
            return Err(ClientError::KeyNotHeaderSafe);
        }
        let base = settings.base_url.trim_end_matches('/').to_string();
        let inner = match &settings.api {
            Api::OpenAi => Inner::OpenAi(Client::with_config(
                OpenAIConfig::new().with_api_base(base).with_api_key(key).with_org_id("").with_project_id(""),
            )),
            Api::Azure { deployment, api_version } => Inner::Azure(Client::with_config(
                AzureConfig::new()
                    .with_api_base(base)
                    .with_api_key(key)
                    .with_deployment_id(deployment.clone())
                    .with_api_version(api_version.clone()),
            )),
        };
        Ok(LlmClient { inner, settings })
    }

    pub fn settings(&self) -> &LlmSettings {
        &self.settings
    }

    /// One request, bounded by the request timeout and the episode's `deadline`. A 429, a
    /// 5xx or a refused connection is retried inside async-openai (three retries, backing
    /// off 100, 200, 400 ms, or as long as `Retry-After` says), within the same bounds.
    pub async fn complete(&self, request: &Value, deadline: Instant) -> Result<Value, CallError> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(CallError("the episode ran out of time".into()));
        }
        let timeout = left.min(self.settings.request_timeout);
        let call = async {
            match &self.inner {
                Inner::OpenAi(c) => c.chat().create_byot::<&Value, Value>(request).await,
                Inner::Azure(c) => c.chat().create_byot::<&Value, Value>(request).await,
            }
        };
        match tokio::time::timeout(timeout, call).await {
            Err(_) => Err(CallError(format!("no answer within {:.1} s", timeout.as_secs_f64()))),
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(classify(e)),
        }
    }
}

fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    line.chars().take(300).collect()
}

fn classify(e: OpenAIError) -> CallError {
    match e {
        OpenAIError::ApiError(api) => {
            let status = api.status_code;
            CallError(format!("the endpoint answered {status}: {}", first_line(&api.api_error.message)))
        }
        OpenAIError::Reqwest(e) => CallError(format!("could not reach the endpoint: {}", first_line(&e.to_string()))),
        OpenAIError::JSONDeserialize(e, _) => {
            CallError(format!("the endpoint's answer is not JSON: {}", first_line(&e.to_string())))
        }
        other => CallError(first_line(&other.to_string())),
    }
}
