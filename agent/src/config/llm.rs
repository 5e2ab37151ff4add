//! `[llm]`: the LLM planner. Off unless a model is named (here or in `STEWARD_LLM_MODEL`);
//! any OpenAI-compatible endpoint; the key from a variable or a file, never the config.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use serde::Deserialize;

use super::values::{nonempty, parse_duration, Env};

/// The `[llm]` section. Off unless a model is named (here or in `STEWARD_LLM_MODEL`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LlmFileConfig {
    /// Model name (OpenAI, vLLM, Ollama, llama.cpp) or, for Azure, the model behind the
    /// deployment. `STEWARD_LLM_MODEL` overrides it.
    pub model: Option<String>,
    /// Base URL including `/v1` (default: `OPENAI_BASE_URL`, else https://api.openai.com/v1).
    pub base_url: Option<String>,
    /// `openai` (default; every OpenAI-compatible server) or `azure`.
    pub api: Option<String>,
    pub azure_deployment: Option<String>,
    pub azure_api_version: Option<String>,
    /// The environment variable holding the API key (default `OPENAI_API_KEY`).
    pub api_key_env: Option<String>,
    /// A file holding the API key (wins over `api_key_env`).
    pub api_key_file: Option<PathBuf>,
    /// Refused: keys never go in the config file in clear.
    pub api_key: Option<toml::Value>,
    pub max_turns: Option<u32>,
    pub max_tokens: Option<u64>,
    pub max_tokens_per_request: Option<u32>,
    pub timeout: Option<String>,
    pub request_timeout: Option<String>,
    /// Most episodes the daemon starts in any hour.
    pub max_episodes_per_hour: Option<u32>,
    /// The same anomaly on the same target starts an episode at most this often.
    pub anomaly_cooldown: Option<String>,
    /// CPU at or above this is an SLO breach …
    pub slo_cpu_percent: Option<f64>,
    /// … and one that lasts this many ticks after scaling (or at max) is an anomaly.
    pub slo_breach_ticks: Option<u32>,
    /// Hourly burn up by more than this percent within an hour is an anomaly.
    pub cost_jump_percent: Option<f64>,
    /// Prices for `steward cost`, USD per million tokens (default 0: tokens only).
    pub usd_per_million_prompt_tokens: Option<f64>,
    pub usd_per_million_completion_tokens: Option<f64>,
}

/// The resolved LLM planner configuration.
#[derive(Debug, Clone)]
pub struct LlmConfig {
    pub settings: steward_llm::LlmSettings,
    pub max_episodes_per_hour: u32,
    pub anomaly_cooldown: Duration,
    pub slo_cpu_percent: f64,
    pub slo_breach_ticks: u32,
    pub cost_jump_percent: f64,
    pub usd_per_million_prompt_tokens: f64,
    pub usd_per_million_completion_tokens: f64,
}

impl LlmConfig {
    /// What `tokens` cost at the configured prices, USD.
    pub fn usd(&self, prompt_tokens: i64, completion_tokens: i64) -> f64 {
        (prompt_tokens as f64 * self.usd_per_million_prompt_tokens
            + completion_tokens as f64 * self.usd_per_million_completion_tokens)
            / 1e6
    }
}

/// Resolve `[llm]` with the environment (`env` looks a variable up). `None`: the LLM
/// planner is off.
pub fn resolve_llm(file: &LlmFileConfig, env: Env<'_>) -> anyhow::Result<Option<LlmConfig>> {
    if file.api_key.is_some() {
        bail!("llm.api_key: keys never go in the config file; name a variable (api_key_env) or a file (api_key_file)");
    }
    let Some(model) = nonempty(env("STEWARD_LLM_MODEL")).or_else(|| nonempty(file.model.clone())) else {
        return Ok(None);
    };
    let base_url = nonempty(file.base_url.clone())
        .or_else(|| nonempty(env("OPENAI_BASE_URL")))
        .unwrap_or_else(|| "https://api.openai.com/v1".into());
    if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
        bail!("llm.base_url: `{base_url}` is not an http(s) URL");
    }
    let api = match file.api.as_deref().unwrap_or("openai") {
        "openai" => steward_llm::Api::OpenAi,
        "azure" => steward_llm::Api::Azure {
            deployment: file.azure_deployment.clone().context("llm.azure_deployment: required with api = \"azure\"")?,
            api_version: file.azure_api_version.clone().unwrap_or_else(|| "2024-10-21".into()),
        },
        other => bail!("llm.api: `{other}` is not `openai` or `azure`"),
    };
    let key = match &file.api_key_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("llm.api_key_file: cannot read {}", path.display()))?
                .trim()
                .to_string(),
        ),
        None => nonempty(env(file.api_key_env.as_deref().unwrap_or("OPENAI_API_KEY"))),
    };
    let mut settings = steward_llm::LlmSettings::new(base_url, model);
    settings.api = api;
    settings.api_key = key.filter(|k| !k.is_empty()).map(steward_tools::Secret::new);
    if let Some(n) = file.max_turns {
        if !(1..=50).contains(&n) {
            bail!("llm.max_turns: must be between 1 and 50, got {n}");
        }
        settings.max_turns = n;
    }
    if let Some(n) = file.max_tokens {
        if n < 256 {
            bail!("llm.max_tokens: must be at least 256, got {n}");
        }
        settings.max_tokens = n;
    }
    if let Some(n) = file.max_tokens_per_request {
        if !(16..=65_536).contains(&n) {
            bail!("llm.max_tokens_per_request: must be between 16 and 65536, got {n}");
        }
        settings.max_tokens_per_request = n;
    }
    if let Some(t) = &file.timeout {
        settings.timeout = parse_duration("llm.timeout", t)?;
    }
    if let Some(t) = &file.request_timeout {
        settings.request_timeout = parse_duration("llm.request_timeout", t)?;
    }
    let slo_cpu_percent = file.slo_cpu_percent.unwrap_or(90.0);
    if !(1.0..=100.0).contains(&slo_cpu_percent) {
        bail!("llm.slo_cpu_percent: must be between 1 and 100");
    }
    let slo_breach_ticks = file.slo_breach_ticks.unwrap_or(5);
    if slo_breach_ticks == 0 {
        bail!("llm.slo_breach_ticks: must be at least 1 (ticks of breach before the planner is asked)");
    }
    let cost_jump_percent = file.cost_jump_percent.unwrap_or(50.0);
    if cost_jump_percent <= 0.0 {
        bail!("llm.cost_jump_percent: must be above 0");
    }
    let price = |field: &str, v: Option<f64>| -> anyhow::Result<f64> {
        match v.unwrap_or(0.0) {
            p if p >= 0.0 && p.is_finite() => Ok(p),
            _ => bail!("llm.{field}: must be 0 or more"),
        }
    };
    Ok(Some(LlmConfig {
        settings,
        max_episodes_per_hour: file.max_episodes_per_hour.unwrap_or(6),
        anomaly_cooldown: parse_duration("llm.anomaly_cooldown", file.anomaly_cooldown.as_deref().unwrap_or("30m"))?,
        slo_cpu_percent,
        slo_breach_ticks,
        cost_jump_percent,
        usd_per_million_prompt_tokens: price("usd_per_million_prompt_tokens", file.usd_per_million_prompt_tokens)?,
        usd_per_million_completion_tokens: price(
            "usd_per_million_completion_tokens",
            file.usd_per_million_completion_tokens,
        )?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `toml_text` is a whole config file; its `[llm]` section is resolved.
    fn resolve(toml_text: &str, env: &[(&str, &str)]) -> anyhow::Result<Option<LlmConfig>> {
        #[derive(Deserialize)]
        struct File {
            #[serde(default)]
            llm: LlmFileConfig,
        }
        let file: File = toml::from_str(toml_text)?;
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        resolve_llm(&file.llm, &|name| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn off_unless_a_model_is_named_and_the_conventional_variables_are_enough() {
        assert!(resolve("", &[("OPENAI_API_KEY", "sk-x")]).expect("resolves").is_none());
        let env = [
            ("STEWARD_LLM_MODEL", "qwen2.5"),
            ("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1"),
            ("OPENAI_API_KEY", "sk-abc"),
        ];
        let llm = resolve("", &env).expect("resolves").expect("on");
        assert_eq!(
            (llm.settings.model.as_str(), llm.settings.base_url.as_str()),
            ("qwen2.5", "http://127.0.0.1:8000/v1")
        );
        assert_eq!(llm.settings.api_key.as_ref().map(|k| k.expose().as_str()), Some("sk-abc"));
        assert!(!format!("{llm:?}").contains("sk-abc"), "the key never reaches Debug output");
        let llm = resolve("[llm]\nmodel = \"gpt-4o-mini\"", &[]).expect("resolves").expect("on");
        assert_eq!(llm.settings.base_url, "https://api.openai.com/v1");
    }

    #[test]
    fn keys_come_from_a_variable_or_a_file_never_the_config() {
        let err = resolve("[llm]\nmodel = \"m\"\napi_key = \"sk-123\"", &[]).expect_err("refused");
        assert!(err.to_string().contains("never go in the config file"), "{err}");
        assert!(!err.to_string().contains("sk-123"));
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("key");
        std::fs::write(&path, "sk-from-file\n").expect("write");
        let text = format!("[llm]\nmodel = \"m\"\napi_key_file = {:?}", path.display().to_string());
        let llm = resolve(&text, &[("OPENAI_API_KEY", "sk-env")]).expect("resolves").expect("on");
        assert_eq!(llm.settings.api_key.as_ref().map(|k| k.expose().as_str()), Some("sk-from-file"));
        let text = "[llm]\nmodel = \"m\"\napi_key_env = \"MY_KEY\"";
        let llm = resolve(text, &[("MY_KEY", "sk-mine")]).expect("resolves").expect("on");
        assert_eq!(llm.settings.api_key.as_ref().map(|k| k.expose().as_str()), Some("sk-mine"));
    }

    #[test]
    fn bad_llm_values_are_named() {
        for (text, expect) in [
            ("[llm]\nmodel = \"m\"\nbase_url = \"ftp://x\"", "llm.base_url"),
            ("[llm]\nmodel = \"m\"\napi = \"bard\"", "llm.api"),
            ("[llm]\nmodel = \"m\"\napi = \"azure\"", "llm.azure_deployment"),
            ("[llm]\nmodel = \"m\"\nmax_turns = 0", "llm.max_turns"),
            ("[llm]\nmodel = \"m\"\nslo_breach_ticks = 0", "llm.slo_breach_ticks"),
            ("[llm]\nmodel = \"m\"\ntimeout = \"soon\"", "llm.timeout"),
            ("[llm]\nmodel = \"m\"\napi_key_file = \"/nonexistent/key\"", "llm.api_key_file"),
        ] {
            let err = resolve(text, &[]).expect_err(text);
            assert!(format!("{err:#}").contains(expect), "{text}: {err:#}");
        }
    }
}
