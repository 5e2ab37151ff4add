//! The configuration file as written: every section optional, unknown fields refused, and
//! a parse error named by file and line.

use std::path::Path;

use anyhow::Context;
use serde::Deserialize;
use steward_policies::Limits;

use super::approvals::ApprovalsFileConfig;
use super::audit::AuditFileConfig;
use super::aws::AwsFileConfig;
use super::daemon::{ExecutionFileConfig, LogFormat, Mode, SimulatedConfig};
use super::heroku::HerokuFileConfig;
use super::limits::FreezeConfig;
use super::llm::LlmFileConfig;
use super::migration::MigrationFileConfig;
use super::planner::PlannerFileConfig;
use super::policies::PoliciesConfig;
use super::slack::SlackFileConfig;
use super::store::StoreUrl;

/// The file, as written. Every field is optional; see [`super::Config`] for the resolved
/// values.
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
    pub approvals: ApprovalsFileConfig,
    #[serde(default)]
    pub policies: PoliciesConfig,
    pub limits: Option<Limits>,
    #[serde(default)]
    pub freeze: Vec<FreezeConfig>,
    #[serde(default)]
    pub audit: AuditFileConfig,
    #[serde(default)]
    pub planner: PlannerFileConfig,
    #[serde(default)]
    pub execution: ExecutionFileConfig,
    #[serde(default)]
    pub llm: LlmFileConfig,
    #[serde(default)]
    pub slack: SlackFileConfig,
    #[serde(default)]
    pub aws: AwsFileConfig,
    #[serde(default)]
    pub heroku: HerokuFileConfig,
    #[serde(default)]
    pub migration: MigrationFileConfig,
}

impl FileConfig {
    /// Read and parse `path`; a syntax error or an unknown field names the line.
    pub fn read(path: &Path) -> anyhow::Result<FileConfig> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading config {}", path.display()))?;
        toml::from_str(&text).map_err(|e| {
            let message = e.message().to_string();
            let line = e.span().map(|s| text.get(..s.start).unwrap_or_default().lines().count().max(1));
            match line {
                Some(line) => anyhow::anyhow!("config {} line {line}: {message}", path.display()),
                None => anyhow::anyhow!("config {}: {message}", path.display()),
            }
        })
    }
}
