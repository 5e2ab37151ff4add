//! The daemon's own settings: its mode, how it logs, how fast it may act on the cloud and
//! how it retries, and the simulated cloud's seed.

use std::time::Duration;

use anyhow::bail;
use serde::Deserialize;

use super::values::parse_duration;

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

/// `[execution]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExecutionFileConfig {
    /// Most mutating cloud calls per minute, across all groups (a token bucket).
    pub max_calls_per_minute: u32,
    /// How many times a call the cloud answered with a retryable error (throttled,
    /// unreachable, out of capacity) is tried in all, with the same action id.
    pub max_attempts: u32,
    /// The wait before the first retry; it doubles with each attempt.
    pub retry_backoff: String,
}

impl Default for ExecutionFileConfig {
    fn default() -> Self {
        ExecutionFileConfig { max_calls_per_minute: 30, max_attempts: 4, retry_backoff: "30s".into() }
    }
}

/// The resolved `[execution]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionConfig {
    pub max_calls_per_minute: u32,
    pub max_attempts: u32,
    pub retry_backoff: Duration,
}

impl ExecutionConfig {
    pub fn resolve(file: &ExecutionFileConfig) -> anyhow::Result<ExecutionConfig> {
        if file.max_calls_per_minute == 0 {
            bail!("execution.max_calls_per_minute: must be at least 1");
        }
        if !(1..=20).contains(&file.max_attempts) {
            bail!("execution.max_attempts: must be between 1 and 20, got {}", file.max_attempts);
        }
        Ok(ExecutionConfig {
            max_calls_per_minute: file.max_calls_per_minute,
            max_attempts: file.max_attempts,
            retry_backoff: parse_duration("execution.retry_backoff", &file.retry_backoff)?,
        })
    }

    /// The wait after failed attempt `attempt` (1-based): the backoff, doubled each time.
    pub fn backoff_after(&self, attempt: u32) -> Duration {
        self.retry_backoff.saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimulatedConfig {
    pub seed: u64,
    /// Where the simulated cloud keeps what migrations create there, and the demo Heroku
    /// account its changes, across restarts.
    pub state_dir: std::path::PathBuf,
}

impl Default for SimulatedConfig {
    fn default() -> Self {
        SimulatedConfig { seed: 42, state_dir: "steward-sim".into() }
    }
}

/// Which cloud the daemon manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// The built-in simulated cloud and its demo fleet.
    Simulated,
    Aws,
}

impl Provider {
    pub fn parse(text: Option<&str>) -> anyhow::Result<Provider> {
        match text {
            None | Some("simulated" | "sim") => Ok(Provider::Simulated),
            Some("aws") => Ok(Provider::Aws),
            Some(other) => bail!("provider: `{other}` is not available; choose `sim` (the simulated cloud) or `aws`"),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Simulated => "simulated",
            Provider::Aws => "aws",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_and_bounds_are_checked() {
        let e = ExecutionConfig::resolve(&ExecutionFileConfig::default()).expect("defaults");
        assert_eq!((1..=4).map(|a| e.backoff_after(a).as_secs()).collect::<Vec<_>>(), [30, 60, 120, 240]);
        let bad = ExecutionFileConfig { max_attempts: 0, ..Default::default() };
        assert!(format!("{:#}", ExecutionConfig::resolve(&bad).expect_err("0")).contains("execution.max_attempts"));
        assert!(Provider::parse(Some("gcp")).is_err());
        assert_eq!(Provider::parse(Some("sim")).ok(), Some(Provider::Simulated));
    }
}
