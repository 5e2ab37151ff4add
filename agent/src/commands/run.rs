//! `steward run`: the daemon, with its HTTP listener, until the tick budget is spent or a
//! signal arrives.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::Context;
use steward_memory::control::keys;
use steward_policies::{FreezeWindow, Recurrence};
use steward_sim::{demo_fleet, demo_start_ms, SimCloud};
use tokio::sync::watch;

use crate::config::{Config, LogFormat};
use crate::daemon::{shutdown_signal, Daemon, DaemonClock, RunOptions, Telemetry};
use crate::http::{serve, HttpState};

/// The demo fleet's own guardrail: a daily change freeze on `worker` from 08:00 to 08:30 UTC
/// (its nightly batch release, say), so a demo run shows a denial next to the allows and
/// the approvals. Added only when running the built-in demo fleet with no freeze configured.
pub fn demo_freeze() -> FreezeWindow {
    FreezeWindow {
        name: "worker-release".into(),
        when: Recurrence::Weekly { days: (0..7).collect(), from_minute: 8 * 60, to_minute: 8 * 60 + 30 },
        environments: Vec::new(),
        groups: vec!["worker".into()],
        block_scale_out: false,
    }
}

/// The config as the simulated demo runs it: with [`demo_freeze`] when no freeze is set
/// (on the simulated cloud only).
pub fn with_demo_freeze(mut config: Config) -> Config {
    if config.limits.freeze.is_empty() && config.provider == "simulated" {
        config.limits.freeze.push(demo_freeze());
    }
    config
}

pub async fn run(config: Config, options: RunOptions) -> anyhow::Result<()> {
    let config = Arc::new(with_demo_freeze(config));
    let store = super::open_store(&config).await?;
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("cannot listen on {} (--listen ADDR to choose another)", config.listen))?;
    let listen = listener.local_addr()?;

    let (provider, clock, cloud): (Arc<dyn steward_tools::CloudProvider>, DaemonClock, String) = match &config.aws {
        Some(aws) => {
            let provider = Arc::new(steward_aws::MultiRegion::connect(aws.clone()).await);
            let prices = if aws.iter().any(|a| a.prices.refresh) { "refreshed from AWS" } else { "shipped table" };
            let cloud = format!("AWS {} (prices: {prices})", provider.regions().join(", "));
            (provider, DaemonClock::starting_at(crate::time::wall_now_ms()), cloud)
        }
        None => {
            // The simulated clock resumes after whatever the store has seen, at the demo's 07:00.
            let stored = store.control(keys::CLOCK_MS).await?.and_then(|t| t.parse::<i64>().ok()).unwrap_or(0);
            let start = demo_start_ms(stored.max(crate::time::wall_now_ms()));
            let cloud = format!("simulated cloud (seed {})", config.seed);
            (Arc::new(SimCloud::new(demo_fleet(), start, config.seed)), DaemonClock::starting_at(start), cloud)
        }
    };
    let console = config.log_format == LogFormat::Human;
    let telemetry = Arc::new(Telemetry::new(console));
    let ready = Arc::new(AtomicBool::new(false));

    let daemon =
        Daemon::start(config.clone(), store.clone(), provider, clock, telemetry.clone(), ready.clone()).await?;
    if console {
        let extras = [
            config.llm.as_ref().map(|l| format!(", LLM planner {}", l.settings.model)),
            config.slack.as_ref().map(|s| match s.mode {
                crate::config::SlackMode::Http => ", Slack at /slack/*".to_string(),
                crate::config::SlackMode::Socket => ", Slack over Socket Mode".to_string(),
            }),
        ];
        println!(
            "steward {}: mode {}, {cloud}, store {}{}, listening on http://{listen}",
            env!("CARGO_PKG_VERSION"),
            config.mode.as_str(),
            store.url(),
            extras.into_iter().flatten().collect::<String>()
        );
    }
    tracing::info!(mode = config.mode.as_str(), store = store.url(), %listen, "Steward started.");

    let slack = match (daemon.chatops(), &config.slack) {
        (Some(chatops), Some(s)) if s.mode == crate::config::SlackMode::Http => {
            let secret = s.signing_secret.as_ref().map(|x| x.expose().clone()).unwrap_or_default();
            let verifier = std::sync::Arc::new(crate::slack::verify::RequestVerifier::new(&secret, s.max_body_bytes));
            Some(crate::slack::http::SlackState { chatops, verifier })
        }
        _ => None,
    };
    let (http_stop, mut http_stopped) = watch::channel(false);
    let socket = match (daemon.chatops(), &config.slack) {
        (Some(chatops), Some(s)) if s.mode == crate::config::SlackMode::Socket => {
            let token = s.app_token.as_ref().map(|t| t.expose().clone()).unwrap_or_default();
            let mut stopped = http_stop.subscribe();
            Some(tokio::spawn(async move {
                let stop = async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                };
                if let Err(e) = crate::slack::socket::serve(chatops, token, stop).await {
                    tracing::error!(
                        error = format!("{e:#}"),
                        "Slack Socket Mode stopped; approvals still work from the CLI."
                    );
                }
            }))
        }
        _ => None,
    };
    let http = tokio::spawn(serve(listener, HttpState { telemetry: telemetry.clone(), ready, slack }, async move {
        let _ = http_stopped.wait_for(|stop| *stop).await;
    }));
    let first_id = store.max_proposal_id().await?;
    let summary = daemon.run(options, shutdown_signal()).await?;
    let _ = http_stop.send(true);
    let _ = http.await;
    if let Some(socket) = socket {
        let _ = socket.await;
    }

    let counts = store.state_counts(first_id).await?;
    let outcomes: Vec<String> = counts.iter().map(|(state, n)| format!("{n} {state}")).collect();
    let burn = match (summary.burn_before, summary.burn_after) {
        (Some(a), Some(b)) => format!("cost ${a:.2}/h → ${b:.2}/h"),
        _ => "cost unknown (no observation)".to_string(),
    };
    let line = format!(
        "Summary: {} ticks, {} → {}; {} proposals ({}); {burn}",
        summary.ticks,
        crate::time::full(summary.first_ms),
        crate::time::hhmm(summary.last_ms),
        counts.iter().map(|(_, n)| n).sum::<i64>(),
        if outcomes.is_empty() { "none".to_string() } else { outcomes.join(", ") },
    );
    if console {
        println!("{line}");
    }
    tracing::info!(summary = %line, "Steward stopped.");
    store.close().await;
    Ok(())
}
