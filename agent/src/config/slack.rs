//! `[slack]`: chat-ops. Off unless a channel is named; secrets come from `SLACK_*` variables
//! or files, never from the config file.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context};
use serde::Deserialize;

use super::values::Env;

/// The `[slack]` section. Off unless a channel is named.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlackFileConfig {
    /// `http` (default: Slack calls the daemon's listener) or `socket` (Socket Mode: no
    /// public endpoint).
    pub mode: Option<String>,
    /// The Web API base URL (default https://slack.com/api; GovSlack: https://slack-gov.com/api).
    pub api_url: Option<String>,
    /// Files holding the secrets, instead of `SLACK_BOT_TOKEN`, `SLACK_SIGNING_SECRET` and
    /// `SLACK_APP_TOKEN`.
    pub bot_token_file: Option<PathBuf>,
    pub signing_secret_file: Option<PathBuf>,
    pub app_token_file: Option<PathBuf>,
    /// Refused: secrets never go in the config file.
    pub bot_token: Option<toml::Value>,
    pub signing_secret: Option<toml::Value>,
    pub app_token: Option<toml::Value>,
    /// Environment (`prod`, `staging`, `dev`, or `default`) → the channel id approval
    /// messages go to.
    pub channels: BTreeMap<String, String>,
    /// Environment (or `default`) → Slack user ids (`U…`) and user-group ids (`S…`) who may
    /// approve from Slack.
    pub approvers: BTreeMap<String, Vec<String>>,
    /// Requests larger than this are refused before they are read further.
    pub max_body_bytes: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlackMode {
    Http,
    Socket,
}

/// The resolved Slack configuration; `Debug` never shows a secret.
#[derive(Debug, Clone)]
pub struct SlackConfig {
    pub mode: SlackMode,
    pub api_url: String,
    pub bot_token: steward_tools::Secret<String>,
    pub signing_secret: Option<steward_tools::Secret<String>>,
    pub app_token: Option<steward_tools::Secret<String>>,
    pub channels: BTreeMap<String, String>,
    pub approvers: BTreeMap<String, Vec<String>>,
    pub max_body_bytes: usize,
}

impl SlackConfig {
    /// The channel for an environment, else the `default` one.
    pub fn channel_for(&self, environment: &str) -> Option<&str> {
        self.channels.get(environment).or_else(|| self.channels.get("default")).map(String::as_str)
    }

    /// Who may approve in an environment from Slack (user and user-group ids).
    pub fn approvers_for(&self, environment: &str) -> &[String] {
        self.approvers.get(environment).or_else(|| self.approvers.get("default")).map_or(&[], Vec::as_slice)
    }
}

fn secret_from(
    field: &str,
    file: &Option<PathBuf>,
    variable: &str,
    env: Env<'_>,
) -> anyhow::Result<Option<steward_tools::Secret<String>>> {
    let value = match file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("slack.{field}_file: cannot read {}", path.display()))?
                .trim()
                .to_string(),
        ),
        None => env(variable),
    };
    Ok(value.filter(|v| !v.trim().is_empty()).map(steward_tools::Secret::new))
}

/// Resolve `[slack]` with the environment. `None`: Slack is off.
pub fn resolve_slack(file: &SlackFileConfig, env: Env<'_>) -> anyhow::Result<Option<SlackConfig>> {
    for (field, set) in [
        ("bot_token", file.bot_token.is_some()),
        ("signing_secret", file.signing_secret.is_some()),
        ("app_token", file.app_token.is_some()),
    ] {
        if set {
            bail!("slack.{field}: secrets never go in the config file; use the environment variable or {field}_file");
        }
    }
    if file.channels.is_empty() {
        return Ok(None);
    }
    for (environment, channel) in &file.channels {
        if !matches!(environment.as_str(), "prod" | "staging" | "dev" | "default") {
            bail!("slack.channels: `{environment}` is not prod, staging, dev or default");
        }
        if channel.trim().is_empty() {
            bail!("slack.channels.{environment}: empty channel id");
        }
    }
    let mode = match file.mode.as_deref().unwrap_or("http") {
        "http" => SlackMode::Http,
        "socket" => SlackMode::Socket,
        other => bail!("slack.mode: `{other}` is not `http` or `socket`"),
    };
    let api_url = file.api_url.clone().unwrap_or_else(|| "https://slack.com/api".into());
    if !(api_url.starts_with("https://") || api_url.starts_with("http://")) {
        bail!("slack.api_url: `{api_url}` is not an http(s) URL");
    }
    let bot_token = secret_from("bot_token", &file.bot_token_file, "SLACK_BOT_TOKEN", env)?
        .context("slack: set SLACK_BOT_TOKEN (or slack.bot_token_file) to post approval messages")?;
    let signing_secret = secret_from("signing_secret", &file.signing_secret_file, "SLACK_SIGNING_SECRET", env)?;
    let app_token = secret_from("app_token", &file.app_token_file, "SLACK_APP_TOKEN", env)?;
    match mode {
        SlackMode::Http if signing_secret.is_none() => {
            bail!("slack: set SLACK_SIGNING_SECRET (or slack.signing_secret_file): every request from Slack is verified with it")
        }
        SlackMode::Socket if app_token.is_none() => {
            bail!("slack: Socket Mode needs SLACK_APP_TOKEN (or slack.app_token_file), an app-level token `xapp-…`")
        }
        _ => {}
    }
    let max_body_bytes = file.max_body_bytes.unwrap_or(256 * 1024);
    if !(1024..=16 * 1024 * 1024).contains(&max_body_bytes) {
        bail!("slack.max_body_bytes: must be between 1024 and 16777216");
    }
    Ok(Some(SlackConfig {
        mode,
        api_url: api_url.trim_end_matches('/').to_string(),
        bot_token,
        signing_secret,
        app_token,
        channels: file.channels.clone(),
        approvers: file.approvers.clone(),
        max_body_bytes,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `toml_text` is a whole config file; its `[slack]` section is resolved.
    fn resolve(toml_text: &str, env: &[(&str, &str)]) -> anyhow::Result<Option<SlackConfig>> {
        #[derive(Deserialize)]
        struct File {
            #[serde(default)]
            slack: SlackFileConfig,
        }
        let file: File = toml::from_str(toml_text)?;
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        resolve_slack(&file.slack, &|name| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    const CHANNELS: &str = "[slack.channels]\nprod = \"CPROD\"\ndefault = \"COPS\"\n";

    #[test]
    fn off_without_channels_and_secrets_come_from_the_conventional_variables() {
        assert!(resolve("", &[("SLACK_BOT_TOKEN", "xoxb-1")]).expect("resolves").is_none());
        let env = [("SLACK_BOT_TOKEN", "xoxb-secret-1"), ("SLACK_SIGNING_SECRET", "signing-secret-2")];
        let slack = resolve(CHANNELS, &env).expect("resolves").expect("on");
        assert_eq!(
            (slack.mode, slack.channel_for("prod"), slack.channel_for("dev")),
            (SlackMode::Http, Some("CPROD"), Some("COPS"))
        );
        let shown = format!("{slack:?}");
        assert!(!shown.contains("xoxb-secret-1") && !shown.contains("signing-secret-2"), "{shown}");
        assert_eq!(slack.api_url, "https://slack.com/api");
    }

    #[test]
    fn missing_or_misplaced_secrets_are_named() {
        for (text, env, expect) in [
            (CHANNELS.to_string(), vec![], "SLACK_BOT_TOKEN"),
            (CHANNELS.to_string(), vec![("SLACK_BOT_TOKEN", "xoxb-1")], "SLACK_SIGNING_SECRET"),
            (format!("[slack]\nmode = \"socket\"\n{CHANNELS}"), vec![("SLACK_BOT_TOKEN", "xoxb-1")], "SLACK_APP_TOKEN"),
            (format!("[slack]\nbot_token = \"xoxb-in-file\"\n{CHANNELS}"), vec![], "never go in the config file"),
            (format!("[slack]\nmode = \"carrier-pigeon\"\n{CHANNELS}"), vec![("SLACK_BOT_TOKEN", "x")], "slack.mode"),
            ("[slack.channels]\nmoon = \"C1\"".to_string(), vec![], "not prod, staging, dev or default"),
        ] {
            let err = resolve(&text, &env).expect_err(&text);
            let message = format!("{err:#}");
            assert!(message.contains(expect), "{text}: {message}");
            assert!(!message.contains("xoxb-in-file"), "the secret is not repeated: {message}");
        }
        let socket = resolve(
            &format!("[slack]\nmode = \"socket\"\n{CHANNELS}"),
            &[("SLACK_BOT_TOKEN", "xoxb-1"), ("SLACK_APP_TOKEN", "xapp-1")],
        );
        assert_eq!(socket.expect("resolves").map(|s| s.mode), Some(SlackMode::Socket));
    }
}
