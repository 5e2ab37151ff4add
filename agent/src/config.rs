//! Configuration: one TOML file (`--config`, default `steward.toml` when present),
//! environment overrides (`STEWARD_*`), flags over both, and defaults that make zero
//! configuration work: supervised mode, the simulated cloud with its demo fleet, the
//! embedded SQLite store in the working directory, the built-in policies.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use serde::Deserialize;
use steward_policies::{FreezeWindow, Limits, Recurrence};
use steward_tools::Environment;

/// How far Steward may go on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Propose and decide, never execute.
    DryRun,
    /// Every mutating action waits for a person.
    Supervised,
    /// What policy allows runs; what needs approval waits.
    Autonomous,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::DryRun => "dry-run",
            Mode::Supervised => "supervised",
            Mode::Autonomous => "autonomous",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum LogFormat {
    Human,
    Json,
}

/// A store URL. It may carry a password, so its `Debug` and `Display` show it redacted
/// (`postgres://steward:***@db/prod`); [`StoreUrl::expose`] gives the real one to the
/// store, and nothing else.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct StoreUrl(String);

impl StoreUrl {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for StoreUrl {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(StoreUrl(s.to_string()))
    }
}

impl std::fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", steward_memory::redact_url(&self.0))
    }
}

impl std::fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&steward_memory::redact_url(&self.0))
    }
}

/// The file, as written. Every field is optional; see [`Config`] for the resolved values.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub mode: Option<Mode>,
    pub provider: Option<String>,
    pub store: Option<StoreUrl>,
    pub listen: Option<String>,
    pub tick_interval: Option<String>,
    pub log_format: Option<LogFormat>,
    #[serde(default)]
    pub simulated: SimulatedConfig,
    #[serde(default)]
    pub approvals: ApprovalsConfig,
    #[serde(default)]
    pub policies: PoliciesConfig,
    pub limits: Option<Limits>,
    #[serde(default)]
    pub freeze: Vec<FreezeConfig>,
    #[serde(default)]
    pub audit: AuditConfig,
    #[serde(default)]
    pub planner: PlannerConfig,
    #[serde(default)]
    pub execution: ExecutionConfig,
    #[serde(default)]
    pub llm: LlmFileConfig,
    #[serde(default)]
    pub slack: SlackFileConfig,
    #[serde(default)]
    pub aws: AwsFileConfig,
}

/// The `[aws]` section, for `provider = "aws"`. Credentials come from the standard chain
/// (environment, profile, SSO, instance metadata, IRSA), never from here.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AwsFileConfig {
    /// Default: `AWS_REGION` (or `AWS_DEFAULT_REGION`).
    pub region: Option<String>,
    /// Several regions in one daemon (instead of `region`).
    pub regions: Vec<String>,
    /// An emulator or LocalStack; default `AWS_ENDPOINT_URL` when set, else AWS.
    pub endpoint_url: Option<String>,
    /// `KEY=VALUE` of the management tag (default `steward:managed=true`).
    pub managed_tag: Option<String>,
    /// The tag naming a resource's group (default `steward:group`).
    pub group_tag: Option<String>,
    /// The tag naming a group's environment (default `steward:environment`; absent: prod).
    pub environment_tag: Option<String>,
    /// GPU pools: EC2 workers Steward launches (tagged) and terminates itself.
    pub pools: Vec<AwsPoolConfig>,
    /// Most mutating calls a minute in the account and region (default 300).
    pub mutating_calls_per_minute: Option<u32>,
    /// `[[aws.metrics]]`: metrics read for Auto Scaling groups instead of, or besides, their
    /// average CPU.
    pub metrics: Vec<AwsMetricConfig>,
    /// `[aws.prices]`: refresh the shipped price table from AWS.
    pub prices: AwsPricesFileConfig,
    /// `[aws.cost_explorer]`: month-to-date actuals in `steward cost`.
    pub cost_explorer: AwsCostExplorerFileConfig,
}

/// One `[[aws.metrics]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsMetricConfig {
    /// The managed group (its `steward:group` name).
    pub group: String,
    /// `cpu_percent` (replaces the default CPU), `requests_per_minute` or `queue_depth`.
    #[serde(default = "default_metric_field")]
    pub field: String,
    pub namespace: String,
    pub metric: String,
    /// `Name=Value`; a value of `{asg}` stands for the group's Auto Scaling group name.
    #[serde(default)]
    pub dimensions: Vec<String>,
    /// Default `Average`.
    #[serde(default = "default_metric_stat")]
    pub stat: String,
}

fn default_metric_field() -> String {
    "cpu_percent".into()
}

fn default_metric_stat() -> String {
    "Average".into()
}

/// `Name=Value` pairs.
fn dimensions(field: &str, pairs: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    pairs
        .iter()
        .map(|d| {
            let (k, v) = d.split_once('=').with_context(|| format!("{field}: `{d}` is not Name=Value"))?;
            Ok((k.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}

/// The `[aws.prices]` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AwsPricesFileConfig {
    /// Refresh on-demand prices from the Price List API and spot prices from the spot price
    /// history (default off: the shipped table).
    pub refresh: bool,
    /// The Price List API's endpoint (default: AWS's).
    pub endpoint_url: Option<String>,
    /// Where the Price List API is asked (default us-east-1; it also answers in
    /// eu-central-1 and ap-south-1).
    pub region: Option<String>,
    /// How often (default 24h).
    pub every: Option<String>,
}

/// The `[aws.cost_explorer]` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AwsCostExplorerFileConfig {
    /// Ask Cost Explorer for month-to-date actuals in `steward cost` (default off; AWS
    /// charges per request).
    pub enabled: bool,
    /// Its endpoint (default: AWS's).
    pub endpoint_url: Option<String>,
}

/// One `[[aws.pools]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsPoolConfig {
    pub name: String,
    pub instance_type: String,
    pub image_id: String,
    pub subnet_id: Option<String>,
    #[serde(default)]
    pub min: u32,
    pub max: u32,
    pub environment: Environment,
    /// The pool's region (default: the first configured region).
    pub region: Option<String>,
    /// The CloudWatch metric holding the pool's queue depth.
    pub queue_namespace: String,
    pub queue_metric: String,
    /// Its dimensions, `Name=Value`.
    #[serde(default)]
    pub queue_dimensions: Vec<String>,
}

/// Resolve `[aws]` for `provider = "aws"`.
pub fn resolve_aws(
    file: &AwsFileConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Vec<steward_aws::AwsSettings>> {
    let nonempty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    let regions: Vec<String> = if file.regions.is_empty() {
        vec![nonempty(file.region.clone())
            .or_else(|| nonempty(env("AWS_REGION")))
            .or_else(|| nonempty(env("AWS_DEFAULT_REGION")))
            .context("aws.region: set it, or AWS_REGION, for provider = \"aws\"")?]
    } else {
        if file.region.is_some() {
            bail!("aws: give region or regions, not both");
        }
        file.regions.clone()
    };
    let mut settings = steward_aws::AwsSettings::new(regions[0].clone());
    settings.endpoint_url = nonempty(file.endpoint_url.clone()).or_else(|| nonempty(env("AWS_ENDPOINT_URL")));
    if let Some(tag) = &file.managed_tag {
        let (k, v) = tag.split_once('=').context("aws.managed_tag: write KEY=VALUE, like steward:managed=true")?;
        if k.trim().is_empty() || v.trim().is_empty() {
            bail!("aws.managed_tag: write KEY=VALUE, like steward:managed=true");
        }
        settings.managed_tag = (k.trim().to_string(), v.trim().to_string());
    }
    if let Some(t) = nonempty(file.group_tag.clone()) {
        settings.group_tag = t;
    }
    if let Some(t) = nonempty(file.environment_tag.clone()) {
        settings.environment_tag = t;
    }
    if let Some(n) = file.mutating_calls_per_minute {
        if n == 0 {
            bail!("aws.mutating_calls_per_minute: must be at least 1");
        }
        settings.mutating_calls_per_minute = n;
    }
    settings.prices.refresh = file.prices.refresh;
    settings.prices.endpoint_url = nonempty(file.prices.endpoint_url.clone());
    if let Some(r) = nonempty(file.prices.region.clone()) {
        settings.prices.region = r;
    }
    if let Some(every) = &file.prices.every {
        settings.prices.every = parse_duration("aws.prices.every", every)?;
        if settings.prices.every < Duration::from_secs(60) {
            bail!("aws.prices.every: at least 1m");
        }
    }
    for (i, m) in file.metrics.iter().enumerate() {
        let field = steward_aws::MetricField::parse(&m.field).with_context(|| {
            format!(
                "aws.metrics[{i}] ({}): field `{}` is not cpu_percent, requests_per_minute or queue_depth",
                m.group, m.field
            )
        })?;
        if m.stat.trim().is_empty() || m.namespace.trim().is_empty() || m.metric.trim().is_empty() {
            bail!("aws.metrics[{i}] ({}): namespace, metric and stat must not be empty", m.group);
        }
        settings.metrics.push(steward_aws::GroupMetric {
            group: m.group.clone(),
            field,
            namespace: m.namespace.clone(),
            metric: m.metric.clone(),
            dimensions: dimensions(&format!("aws.metrics[{i}].dimensions"), &m.dimensions)?,
            stat: m.stat.trim().to_string(),
        });
    }
    settings.cost_explorer.enabled = file.cost_explorer.enabled;
    settings.cost_explorer.endpoint_url = nonempty(file.cost_explorer.endpoint_url.clone());
    for (i, p) in file.pools.iter().enumerate() {
        if p.max < p.min || p.max == 0 {
            bail!("aws.pools[{i}] ({}): max must be at least 1 and not below min", p.name);
        }
        if !settings.prices.refresh && steward_tools::prices::hourly_price(&p.instance_type).is_none() {
            bail!(
                "aws.pools[{i}] ({}): the shipped price table has no `{}`; turn on aws.prices.refresh",
                p.name,
                p.instance_type
            );
        }
        let dimensions = dimensions(&format!("aws.pools[{i}].queue_dimensions"), &p.queue_dimensions)?;
        let region = p.region.clone().unwrap_or_else(|| regions[0].clone());
        if !regions.contains(&region) {
            bail!("aws.pools[{i}] ({}): region `{region}` is not one of aws.regions", p.name);
        }
        settings.pools.push(steward_aws::PoolSettings {
            region,
            name: p.name.clone(),
            instance_type: p.instance_type.clone(),
            image_id: p.image_id.clone(),
            subnet_id: p.subnet_id.clone(),
            min: p.min,
            max: p.max,
            environment: p.environment,
            queue_namespace: p.queue_namespace.clone(),
            queue_metric: p.queue_metric.clone(),
            queue_dimensions: dimensions,
        });
    }
    // One settings per region, each with the pools that live there.
    Ok(regions
        .iter()
        .map(|region| {
            let mut s = settings.clone();
            s.region = region.clone();
            s.pools.retain(|p| &p.region == region);
            s
        })
        .collect())
}

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
    env: &dyn Fn(&str) -> Option<String>,
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
pub fn resolve_slack(
    file: &SlackFileConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Option<SlackConfig>> {
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
pub fn resolve_llm(file: &LlmFileConfig, env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Option<LlmConfig>> {
    if file.api_key.is_some() {
        bail!("llm.api_key: keys never go in the config file; name a variable (api_key_env) or a file (api_key_file)");
    }
    let nonempty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
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
        slo_breach_ticks: file.slo_breach_ticks.unwrap_or(5).max(1),
        cost_jump_percent,
        usd_per_million_prompt_tokens: price("usd_per_million_prompt_tokens", file.usd_per_million_prompt_tokens)?,
        usd_per_million_completion_tokens: price(
            "usd_per_million_completion_tokens",
            file.usd_per_million_completion_tokens,
        )?,
    }))
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExecutionConfig {
    /// Most mutating cloud calls per minute, across all groups (a token bucket).
    pub max_calls_per_minute: u32,
}

impl Default for ExecutionConfig {
    fn default() -> Self {
        ExecutionConfig { max_calls_per_minute: 30 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimulatedConfig {
    pub seed: u64,
}

impl Default for SimulatedConfig {
    fn default() -> Self {
        SimulatedConfig { seed: 42 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApprovalsConfig {
    /// How long a proposal waits for approval before it expires (`1h`, `30m`).
    pub expire_after: String,
    /// Approver groups: name → members. A policy's `@approvers` names these groups.
    pub groups: BTreeMap<String, Vec<String>>,
}

impl Default for ApprovalsConfig {
    fn default() -> Self {
        ApprovalsConfig { expire_after: "1h".into(), groups: BTreeMap::new() }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PoliciesConfig {
    /// A directory of `*.cedar` files (and `tests/*.json` cases) replacing the built-in set.
    pub dir: Option<PathBuf>,
    /// Policy ids to run in shadow (recorded, not enforced), on top of `@shadow` annotations.
    pub shadow: Vec<String>,
}

/// A change-freeze window as written in the config: either `start`/`end` (RFC 3339) or
/// weekly `days` with `from`/`to` (`HH:MM`, UTC).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FreezeConfig {
    pub name: String,
    pub start: Option<String>,
    pub end: Option<String>,
    #[serde(default)]
    pub days: Vec<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    #[serde(default)]
    pub environments: Vec<Environment>,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub block_scale_out: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Where signed checkpoints go: outside the store, ideally on other storage.
    pub checkpoint_dir: PathBuf,
    /// The ed25519 signing key (created, readable by its owner only, if missing).
    pub checkpoint_key: PathBuf,
    /// Write a checkpoint after this many new entries…
    pub checkpoint_every: i64,
    /// …and at least this often.
    pub checkpoint_interval: String,
    /// Append a heartbeat entry when nothing else was logged for this long.
    pub heartbeat_interval: String,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            checkpoint_dir: PathBuf::from("steward-checkpoints"),
            checkpoint_key: PathBuf::from("steward-checkpoint.key"),
            checkpoint_every: 100,
            checkpoint_interval: "5m".into(),
            heartbeat_interval: "5m".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scaling {
    TargetTracking,
    Predictive,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlannerConfig {
    /// How auto-scaling groups are scaled: `target-tracking` (react to CPU) or
    /// `predictive` (scale ahead from remembered history; see `steward eval`).
    pub scaling: Scaling,
    /// Target CPU utilisation for auto-scaling groups, percent (target tracking).
    pub target_cpu_percent: f64,
    /// Scale in only to the highest recommendation seen over this window.
    pub scale_in_stabilization: String,
    /// Jobs should wait in a GPU queue no longer than this.
    pub gpu_target_wait: String,
    /// Minutes one GPU worker needs per job (until measured).
    pub gpu_minutes_per_job: f64,
    /// An idle GPU worker is let go after this long with an empty queue.
    pub gpu_idle_grace: String,
    /// After a denial, the same change for the same group is not proposed again for this long.
    pub denied_backoff: String,
}

impl Default for PlannerConfig {
    fn default() -> Self {
        PlannerConfig {
            scaling: Scaling::TargetTracking,
            target_cpu_percent: 60.0,
            scale_in_stabilization: "5m".into(),
            gpu_target_wait: "10m".into(),
            gpu_minutes_per_job: 5.0,
            gpu_idle_grace: "5m".into(),
            denied_backoff: "10m".into(),
        }
    }
}

/// Resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub mode: Mode,
    pub provider: String,
    pub store: StoreUrl,
    pub listen: String,
    pub tick_interval: Duration,
    pub log_format: LogFormat,
    pub seed: u64,
    pub approval_ttl: Duration,
    pub approver_groups: BTreeMap<String, Vec<String>>,
    pub policies_dir: Option<PathBuf>,
    pub shadow: Vec<String>,
    pub limits: Limits,
    pub audit: AuditConfig,
    pub checkpoint_interval: Duration,
    pub heartbeat_interval: Duration,
    pub planner: PlannerConfig,
    pub execution_calls_per_minute: u32,
    /// The LLM planner, when configured.
    pub llm: Option<LlmConfig>,
    /// Chat-ops in Slack, when configured.
    pub slack: Option<SlackConfig>,
    /// The AWS provider's settings, one per region, for `provider = "aws"`.
    pub aws: Option<Vec<steward_aws::AwsSettings>>,
    /// Where the config came from, for messages.
    pub source: Option<PathBuf>,
}

pub const DEFAULT_STORE: &str = "sqlite://steward.db";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9464";

/// Values given on the command line or in the environment; they win over the file.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub mode: Option<Mode>,
    pub store: Option<StoreUrl>,
    pub listen: Option<String>,
    pub tick_interval: Option<String>,
    pub log_format: Option<LogFormat>,
    pub provider: Option<String>,
    pub seed: Option<u64>,
}

pub fn parse_duration(field: &str, text: &str) -> anyhow::Result<Duration> {
    humantime::parse_duration(text).with_context(|| format!("{field}: `{text}` is not a duration (try 30s, 5m, 1h)"))
}

impl Config {
    /// Read `path` (or `steward.toml` when it exists), then apply the overrides.
    pub fn load(path: Option<&Path>, overrides: Overrides) -> anyhow::Result<Config> {
        let (file, source) = match path {
            Some(p) => (read_file(p)?, Some(p.to_path_buf())),
            None if Path::new("steward.toml").exists() => {
                (read_file(Path::new("steward.toml"))?, Some(PathBuf::from("steward.toml")))
            }
            None => (FileConfig::default(), None),
        };
        Config::resolve(file, overrides, source)
    }

    pub fn resolve(file: FileConfig, o: Overrides, source: Option<PathBuf>) -> anyhow::Result<Config> {
        let tick_text = o.tick_interval.or(file.tick_interval).unwrap_or_else(|| "1m".into());
        let tick_interval = parse_duration("tick_interval", &tick_text)?;
        if tick_interval < Duration::from_millis(10) {
            bail!("tick_interval: must be at least 10ms, got {tick_text}");
        }
        let approval_ttl = parse_duration("approvals.expire_after", &file.approvals.expire_after)?;
        let mut limits = file.limits.unwrap_or_default();
        for (i, f) in file.freeze.iter().enumerate() {
            limits.freeze.push(freeze_window(f).with_context(|| format!("freeze[{i}] ({})", f.name))?);
        }
        let provider = match o.provider.or(file.provider).as_deref() {
            None | Some("simulated" | "sim") => "simulated".to_string(),
            Some("aws") => "aws".to_string(),
            Some(other) => bail!("provider: `{other}` is not available; choose `sim` (the simulated cloud) or `aws`"),
        };
        let aws =
            if provider == "aws" { Some(resolve_aws(&file.aws, &|name| std::env::var(name).ok())?) } else { None };
        // Check planner durations now, not on the first tick.
        for (field, text) in [
            ("planner.scale_in_stabilization", &file.planner.scale_in_stabilization),
            ("planner.gpu_target_wait", &file.planner.gpu_target_wait),
            ("planner.gpu_idle_grace", &file.planner.gpu_idle_grace),
            ("planner.denied_backoff", &file.planner.denied_backoff),
        ] {
            parse_duration(field, text)?;
        }
        if !(1.0..=100.0).contains(&file.planner.target_cpu_percent) {
            bail!("planner.target_cpu_percent: must be between 1 and 100");
        }
        Ok(Config {
            mode: o.mode.or(file.mode).unwrap_or(Mode::Supervised),
            provider,
            store: o.store.or(file.store).unwrap_or_else(|| StoreUrl(DEFAULT_STORE.into())),
            listen: o.listen.or(file.listen).unwrap_or_else(|| DEFAULT_LISTEN.into()),
            tick_interval,
            log_format: o.log_format.or(file.log_format).unwrap_or(LogFormat::Human),
            seed: o.seed.unwrap_or(file.simulated.seed),
            approval_ttl,
            approver_groups: file.approvals.groups,
            policies_dir: file.policies.dir,
            shadow: file.policies.shadow,
            limits,
            checkpoint_interval: parse_duration("audit.checkpoint_interval", &file.audit.checkpoint_interval)?,
            heartbeat_interval: parse_duration("audit.heartbeat_interval", &file.audit.heartbeat_interval)?,
            audit: file.audit,
            planner: file.planner,
            execution_calls_per_minute: file.execution.max_calls_per_minute.max(1),
            llm: resolve_llm(&file.llm, &|name| std::env::var(name).ok())?,
            slack: resolve_slack(&file.slack, &|name| std::env::var(name).ok())?,
            aws,
            source,
        })
    }

    /// Whether `who` may approve for the given approver groups (empty: anyone may).
    pub fn may_approve(&self, who: &str, groups: &[String]) -> bool {
        groups.is_empty()
            || groups
                .iter()
                .any(|g| self.approver_groups.get(g).is_some_and(|members| members.iter().any(|m| m == who)))
    }
}

fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading config {}", path.display()))?;
    toml::from_str(&text).map_err(|e| {
        let message = e.message().to_string();
        let line = e.span().map(|s| text[..s.start].lines().count().max(1));
        match line {
            Some(line) => anyhow::anyhow!("config {} line {line}: {message}", path.display()),
            None => anyhow::anyhow!("config {}: {message}", path.display()),
        }
    })
}

fn freeze_window(f: &FreezeConfig) -> anyhow::Result<FreezeWindow> {
    let when = match (&f.start, &f.end, f.days.is_empty()) {
        (Some(start), Some(end), true) => {
            let parse = |field: &str, t: &str| -> anyhow::Result<i64> {
                Ok(chrono::DateTime::parse_from_rfc3339(t)
                    .with_context(|| format!("{field}: `{t}` is not an RFC 3339 time"))?
                    .timestamp_millis())
            };
            let (start_ms, end_ms) = (parse("start", start)?, parse("end", end)?);
            if end_ms <= start_ms {
                bail!("end must be after start");
            }
            Recurrence::Once { start_ms, end_ms }
        }
        (None, None, false) => {
            let days = f.days.iter().map(|d| weekday(d)).collect::<anyhow::Result<Vec<u8>>>()?;
            let from = minute_of_day("from", f.from.as_deref())?;
            let to = minute_of_day("to", f.to.as_deref())?;
            Recurrence::Weekly { days, from_minute: from, to_minute: to }
        }
        _ => bail!("give either start and end, or days with from and to"),
    };
    Ok(FreezeWindow {
        name: f.name.clone(),
        when,
        environments: f.environments.clone(),
        groups: f.groups.clone(),
        block_scale_out: f.block_scale_out,
    })
}

fn weekday(text: &str) -> anyhow::Result<u8> {
    let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let key = text.to_ascii_lowercase();
    days.iter()
        .position(|d| key.starts_with(d))
        .and_then(|i| u8::try_from(i).ok())
        .with_context(|| format!("days: `{text}` is not a weekday"))
}

fn minute_of_day(field: &str, text: Option<&str>) -> anyhow::Result<u32> {
    let text = text.with_context(|| format!("{field}: required with days"))?;
    let (h, m) = text.split_once(':').with_context(|| format!("{field}: `{text}` is not HH:MM"))?;
    let (h, m): (u32, u32) = (h.parse()?, m.parse()?);
    if h > 24 || m > 59 || (h == 24 && m > 0) {
        bail!("{field}: `{text}` is not a time of day");
    }
    Ok(h * 60 + m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_config_works_and_overrides_win() {
        let config = Config::resolve(FileConfig::default(), Overrides::default(), None).expect("defaults");
        assert_eq!((config.mode, config.store.expose()), (Mode::Supervised, DEFAULT_STORE));
        assert_eq!(config.tick_interval, Duration::from_secs(60));
        let file: FileConfig = toml::from_str("mode = \"autonomous\"\nstore = \"sqlite://a.db\"").expect("toml");
        let o = Overrides { store: Some(StoreUrl("sqlite://b.db".into())), ..Overrides::default() };
        let config = Config::resolve(file, o, None).expect("resolve");
        assert_eq!((config.mode, config.store.expose()), (Mode::Autonomous, "sqlite://b.db"));
        let secret = Overrides { store: Some(StoreUrl("postgres://u:hunter2@db/x".into())), ..Overrides::default() };
        let config = Config::resolve(FileConfig::default(), secret, None).expect("resolve");
        assert!(!format!("{config:?}").contains("hunter2"), "the password never reaches Debug output");
    }

    #[test]
    fn bad_values_are_named() {
        let check = |toml_text: &str, expect: &str| {
            let result = toml::from_str::<FileConfig>(toml_text)
                .map_err(anyhow::Error::from)
                .and_then(|f| Config::resolve(f, Overrides::default(), None));
            let message = format!("{:#}", result.expect_err(toml_text));
            assert!(message.contains(expect), "{toml_text}: {message}");
        };
        check("tick_interval = \"soon\"", "tick_interval");
        check("colour = 1", "unknown field `colour`");
        check("[[freeze]]\nname = \"x\"\nstart = \"2026-12-24T00:00:00Z\"", "either start and end");
        check("[[freeze]]\nname = \"x\"\ndays = [\"funday\"]\nfrom = \"10:00\"\nto = \"11:00\"", "not a weekday");
        check("[planner]\ntarget_cpu_percent = 0", "target_cpu_percent");
        check("provider = \"gcp\"", "not available");
        check("provider = \"aws\"\n[aws]\nregion = \"eu-west-1\"\nmanaged_tag = \"steward\"", "KEY=VALUE");
        let pool =
            "provider = \"aws\"\n[aws]\nregion = \"eu-west-1\"\n[[aws.pools]]\nname = \"gpu\"\nimage_id = \"ami-1\"\n\
                    max = 2\nenvironment = \"prod\"\nqueue_namespace = \"Jobs\"\nqueue_metric = \"QueueDepth\"\n";
        check(&format!("{pool}instance_type = \"z9.huge\""), "price table has no `z9.huge`");
        check(&format!("{pool}instance_type = \"g5.xlarge\"\nregion = \"us-east-1\""), "not one of aws.regions");
        check("provider = \"aws\"\n[aws]\nregion = \"eu-west-1\"\nregions = [\"us-east-1\"]", "not both");
        check(&format!("{pool}instance_type = \"g5.xlarge\"\nqueue_dimensions = [\"Queue\"]"), "not Name=Value");
        let metric = "provider = \"aws\"\n[aws]\nregion = \"eu-west-1\"\n[[aws.metrics]]\ngroup = \"web\"\nnamespace = \"App\"\nmetric = \"Latency\"\n";
        check(&format!("{metric}field = \"latency_ms\""), "is not cpu_percent, requests_per_minute or queue_depth");
        check(&format!("{metric}dimensions = [\"Service\"]"), "aws.metrics[0].dimensions: `Service` is not Name=Value");
        check(&format!("{metric}stat = \" \""), "must not be empty");
        check("provider = \"aws\"\n[aws]\nregion = \"eu-west-1\"\n[aws.prices]\nevery = \"10s\"", "at least 1m");
    }

    #[test]
    fn approvers_come_from_groups() {
        let file: FileConfig = toml::from_str("[approvals.groups]\ngpu-owners = [\"alice\"]").expect("toml");
        let config = Config::resolve(file, Overrides::default(), None).expect("resolve");
        assert!(config.may_approve("alice", &["gpu-owners".into()]));
        assert!(!config.may_approve("bob", &["gpu-owners".into()]));
        assert!(config.may_approve("bob", &[]));
        assert!(!config.may_approve("alice", &["platform".into()]), "an unconfigured group has no members");
    }
}

#[cfg(test)]
mod llm_tests {
    use super::*;

    fn resolve(toml_text: &str, env: &[(&str, &str)]) -> anyhow::Result<Option<LlmConfig>> {
        let file: FileConfig = toml::from_str(toml_text)?;
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
            ("[llm]\nmodel = \"m\"\ntimeout = \"soon\"", "llm.timeout"),
            ("[llm]\nmodel = \"m\"\napi_key_file = \"/nonexistent/key\"", "llm.api_key_file"),
        ] {
            let err = resolve(text, &[]).expect_err(text);
            assert!(format!("{err:#}").contains(expect), "{text}: {err:#}");
        }
    }
}

#[cfg(test)]
mod slack_tests {
    use super::*;

    fn resolve(toml_text: &str, env: &[(&str, &str)]) -> anyhow::Result<Option<SlackConfig>> {
        let file: FileConfig = toml::from_str(toml_text)?;
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

#[cfg(test)]
mod example_tests {
    use super::*;

    #[test]
    fn the_example_config_is_complete_and_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/examples/steward.toml");
        let config = Config::load(Some(&path), Overrides::default()).expect("example loads");
        assert_eq!(config.mode, Mode::Supervised);
        assert_eq!(config.limits, Limits::default(), "the example shows the defaults");
        assert_eq!(config.approver_groups.get("platform").map(Vec::len), Some(2));
        assert!(config.llm.is_none(), "the example leaves the LLM planner off");
        assert!(config.slack.is_none(), "and Slack");
        let text = std::fs::read_to_string(&path).expect("read");
        let mut listed = toml::from_str::<FileConfig>(&text).expect("parse").llm;
        listed.model = Some("m".into());
        let bare = LlmFileConfig { model: Some("m".into()), ..LlmFileConfig::default() };
        let resolve = |f: &LlmFileConfig| format!("{:?}", resolve_llm(f, &|_| None).expect("resolve"));
        assert_eq!(resolve(&listed), resolve(&bare), "the example's [llm] values are the defaults");
        let aws = toml::from_str::<FileConfig>(&text).expect("parse").aws;
        let region = |name: &str| (name == "AWS_REGION").then(|| "eu-west-1".to_string());
        let listed = format!("{:?}", resolve_aws(&aws, &region).expect("aws"));
        let bare = format!("{:?}", resolve_aws(&AwsFileConfig::default(), &region).expect("aws"));
        assert_eq!(listed, bare, "the example's [aws] values are the defaults");
    }
}
