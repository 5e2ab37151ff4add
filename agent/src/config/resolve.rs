//! The resolved configuration: the file, then the environment (`STEWARD_*`), then flags,
//! each section resolved and validated by its own module.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::bail;
use steward_policies::{Guardrails, Limits, PolicyFiles};

use super::approvals::ApprovalsConfig;
use super::audit::AuditConfig;
use super::aws::resolve_aws;
use super::daemon::{ExecutionConfig, LogFormat, Mode, Provider};
use super::file::FileConfig;
use super::heroku::HerokuConfig;
use super::limits::{demo_freeze, resolve_limits};
use super::llm::{resolve_llm, LlmConfig};
use super::migration::MigrationConfig;
use super::planner::PlannerConfig;
use super::policies::PoliciesConfig;
use super::slack::{resolve_slack, SlackConfig};
use super::store::StoreUrl;
use super::values::{parse_duration, process_env};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:9464";

/// Resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub mode: Mode,
    pub provider: Provider,
    pub store: StoreUrl,
    pub listen: String,
    pub tick_interval: Duration,
    pub log_format: LogFormat,
    /// The simulated cloud's seed.
    pub seed: u64,
    /// Where the simulated cloud keeps its state across restarts.
    pub sim_state_dir: std::path::PathBuf,
    pub approvals: ApprovalsConfig,
    pub policies: PoliciesConfig,
    pub limits: Limits,
    pub audit: AuditConfig,
    pub planner: PlannerConfig,
    pub execution: ExecutionConfig,
    /// The LLM planner, when configured.
    pub llm: Option<LlmConfig>,
    /// Chat-ops in Slack, when configured.
    pub slack: Option<SlackConfig>,
    /// The AWS provider's settings, one per region, for `provider = "aws"`.
    pub aws: Option<Vec<steward_aws::AwsSettings>>,
    pub heroku: HerokuConfig,
    pub migration: MigrationConfig,
    /// Where the config came from, for messages.
    pub source: Option<PathBuf>,
}

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

impl Config {
    /// Read `path` (or `steward.toml` when it exists), then apply the overrides.
    pub fn load(path: Option<&Path>, overrides: Overrides) -> anyhow::Result<Config> {
        let (file, source) = match path {
            Some(p) => (FileConfig::read(p)?, Some(p.to_path_buf())),
            None if Path::new("steward.toml").exists() => {
                (FileConfig::read(Path::new("steward.toml"))?, Some(PathBuf::from("steward.toml")))
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
        let provider = Provider::parse(o.provider.or(file.provider).as_deref())?;
        let aws = match provider {
            Provider::Aws => Some(resolve_aws(&file.aws, &process_env)?),
            Provider::Simulated => None,
        };
        Ok(Config {
            mode: o.mode.or(file.mode).unwrap_or(Mode::Supervised),
            provider,
            store: o.store.or(file.store).unwrap_or_default(),
            listen: o.listen.or(file.listen).unwrap_or_else(|| DEFAULT_LISTEN.into()),
            tick_interval,
            log_format: o.log_format.or(file.log_format).unwrap_or(LogFormat::Human),
            seed: o.seed.unwrap_or(file.simulated.seed),
            sim_state_dir: file.simulated.state_dir.clone(),
            approvals: ApprovalsConfig::resolve(&file.approvals)?,
            limits: resolve_limits(file.limits.as_ref(), &file.freeze)?,
            policies: file.policies,
            audit: AuditConfig::resolve(&file.audit)?,
            planner: PlannerConfig::resolve(&file.planner)?,
            execution: ExecutionConfig::resolve(&file.execution)?,
            llm: resolve_llm(&file.llm, &process_env)?,
            slack: resolve_slack(&file.slack, &process_env)?,
            aws,
            heroku: HerokuConfig::resolve(&file.heroku, &process_env)?,
            migration: MigrationConfig::resolve(&file.migration)?,
            source,
        })
    }

    /// The config as the simulated demo runs it: with the demo fleet's own change freeze
    /// when no freeze is configured (on the simulated cloud only).
    pub fn with_demo_freeze(mut self) -> Config {
        if self.limits.freeze.is_empty() && self.provider == Provider::Simulated {
            self.limits.freeze.push(demo_freeze());
        }
        self
    }

    /// The policy text in force.
    pub fn policy_files(&self) -> anyhow::Result<PolicyFiles> {
        self.policies.files()
    }

    /// The guardrails in force: the policy set and the limits.
    pub fn guardrails(&self) -> anyhow::Result<Guardrails> {
        self.policies.load(&self.limits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::aws::AwsFileConfig;
    use crate::config::llm::LlmFileConfig;
    use crate::config::store::DEFAULT_STORE;

    #[test]
    fn zero_config_works_and_overrides_win() {
        let config = Config::resolve(FileConfig::default(), Overrides::default(), None).expect("defaults");
        assert_eq!((config.mode, config.store.expose()), (Mode::Supervised, DEFAULT_STORE));
        assert_eq!(config.provider, Provider::Simulated);
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
        check("[execution]\nmax_calls_per_minute = 0", "execution.max_calls_per_minute");
        check("[approvals.operators]\nalice = \"ed25519:00\"", "approvals.operators.alice");
    }

    #[test]
    fn the_demo_freeze_is_added_on_the_simulated_cloud_only_without_a_freeze_of_its_own() {
        let config = Config::resolve(FileConfig::default(), Overrides::default(), None).expect("defaults");
        assert_eq!(config.clone().with_demo_freeze().limits.freeze.len(), 1);
        let file: FileConfig =
            toml::from_str("[[freeze]]\nname = \"x\"\ndays = [\"mon\"]\nfrom = \"10:00\"\nto = \"11:00\"")
                .expect("toml");
        let own = Config::resolve(file, Overrides::default(), None).expect("resolve");
        assert_eq!(own.with_demo_freeze().limits.freeze[0].name, "x");
    }

    #[test]
    fn the_example_config_is_complete_and_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/examples/steward.toml");
        let config = Config::load(Some(&path), Overrides::default()).expect("example loads");
        assert_eq!(config.mode, Mode::Supervised);
        assert_eq!(config.limits, Limits::default(), "the example shows the defaults");
        let execution =
            ExecutionConfig::resolve(&crate::config::daemon::ExecutionFileConfig::default()).expect("defaults");
        assert_eq!(config.execution, execution);
        assert!(config.approvals.operators.is_empty(), "operators are commented out");
        assert_eq!(config.approvals.groups.get("platform").map(Vec::len), Some(2));
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
        let migration = crate::config::MigrationConfig::resolve(&Default::default()).expect("defaults");
        assert_eq!(config.migration, migration, "the example's [migration] values are the defaults");
        assert_eq!(config.sim_state_dir, Path::new("steward-sim"), "and [simulated] state_dir");
    }
}
