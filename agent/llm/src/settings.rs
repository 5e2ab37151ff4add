//! Where the model is and how far one episode may go.

use std::time::Duration;

use steward_tools::Secret;

/// Which flavour of the OpenAI API the endpoint speaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Api {
    /// OpenAI and everything compatible with it: vLLM, Ollama, llama.cpp's server, LiteLLM.
    OpenAi,
    /// Azure OpenAI: deployments instead of model names, an `api-version` query parameter
    /// and an `api-key` header.
    Azure { deployment: String, api_version: String },
}

/// The resolved LLM settings. `Debug` never shows the key.
#[derive(Debug, Clone)]
pub struct LlmSettings {
    pub api: Api,
    /// Base URL up to and including the version segment: `https://api.openai.com/v1`,
    /// `http://127.0.0.1:8000/v1`, `https://NAME.openai.azure.com`.
    pub base_url: String,
    pub model: String,
    pub api_key: Option<Secret<String>>,
    /// Most requests to the model in one episode.
    pub max_turns: u32,
    /// Most tokens (prompt and completion) one episode may spend.
    pub max_tokens: u64,
    /// Most completion tokens one request may ask for.
    pub max_tokens_per_request: u32,
    /// Wall-clock bound on one episode.
    pub timeout: Duration,
    /// Wall-clock bound on one request.
    pub request_timeout: Duration,
    /// Most proposals one episode may file.
    pub max_proposals: usize,
}

impl LlmSettings {
    /// Settings for `model` at `base_url`, with the default bounds.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        LlmSettings {
            api: Api::OpenAi,
            base_url: base_url.into(),
            model: model.into(),
            api_key: None,
            max_turns: 8,
            max_tokens: 24_000,
            max_tokens_per_request: 1_024,
            timeout: Duration::from_secs(90),
            request_timeout: Duration::from_secs(30),
            max_proposals: 3,
        }
    }

    /// The secrets to scrub from anything stored: the API key.
    pub fn known_secrets(&self) -> Vec<&str> {
        self.api_key.iter().map(|k| k.expose().as_str()).collect()
    }
}
