//! `steward run`: the daemon with its front ends, until the tick budget is spent or a
//! signal arrives; then one summary line.

use super::output::line;
use crate::config::{Config, LogFormat};
use crate::daemon::RunOptions;

pub async fn run(config: Config, options: RunOptions) -> anyhow::Result<()> {
    let console = config.log_format == LogFormat::Human;
    let summary = crate::server::run(config, options).await?;
    if console {
        line(&summary);
    }
    Ok(())
}
