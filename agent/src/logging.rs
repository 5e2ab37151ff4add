//! Log setup. Human format: tracing logs on stderr at `warn` (the tick report on stdout is
//! the human view). JSON format: structured logs on stdout at `info`, no tick report.
//! `STEWARD_LOG` (or `RUST_LOG`) overrides the level, e.g. `STEWARD_LOG=debug`.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

pub fn init(format: LogFormat) {
    let default = match format {
        LogFormat::Human => "warn",
        LogFormat::Json => "info",
    };
    let filter = std::env::var("STEWARD_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .map(EnvFilter::new)
        .unwrap_or_else(|_| EnvFilter::new(default));
    let _ = match format {
        LogFormat::Human => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_writer(std::io::stderr)
            .try_init(),
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_env_filter(filter)
            .with_writer(std::io::stdout)
            .try_init(),
    };
}
