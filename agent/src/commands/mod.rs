//! The `steward` subcommands. Each prints for people by default and takes `--json` where a
//! script would want it. Exit codes: 0 success, 1 a check failed or the command could not be
//! carried out, 2 bad input (malformed JSON, out-of-schema values, bad flags).

use steward_memory::control::keys;
use steward_memory::Store;

use crate::config::Config;

pub mod approvals;
pub mod ask;
pub mod audit;
pub mod control;
pub mod cost;
pub mod eval;
pub mod policy;
pub mod run;

/// Input the user must fix: reported in one line, exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    Ok(Store::connect(config.store.expose()).await?)
}

/// "Now" for commands run beside a daemon: the daemon's clock when it runs ahead of the wall
/// (simulated time), the wall clock otherwise.
pub async fn now_ms(store: &Store) -> anyhow::Result<i64> {
    let daemon = store.control(keys::CLOCK_MS).await?.and_then(|t| t.parse::<i64>().ok()).unwrap_or(0);
    Ok(daemon.max(crate::time::wall_now_ms()))
}

/// Who is at the keyboard: `--as NAME`, or the OS user.
pub fn whoami(given: Option<&str>) -> String {
    given
        .map(str::to_string)
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}
