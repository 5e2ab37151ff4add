//! The running process behind `steward run`: the cloud provider, the service core, the
//! daemon, and the front ends that serve while it runs (the HTTP listener, Slack over HTTP
//! or Socket Mode), wired together here and nowhere else. Returns the closing summary line.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use steward_sim::{demo_fleet, demo_start_ms, SimCloud};
use steward_tools::{CloudProvider, Observation};
use tokio::sync::watch;

use crate::config::{Config, LogFormat, SlackMode};
use crate::daemon::{shutdown_signal, AfterTick, Daemon, DaemonClock, DaemonParts, RunOptions};
use crate::http::{router, serve, HttpState};
use crate::service::Service;
use crate::slack::http::SlackState;
use crate::slack::verify::RequestVerifier;
use crate::slack::ChatOps;
use crate::telemetry::Telemetry;

/// Slack's approval messages, brought up to date at the end of every tick.
struct SlackSync(Arc<ChatOps>);

#[async_trait]
impl AfterTick for SlackSync {
    async fn after_tick(&self, observation: &Observation, _pending_approvals: usize) {
        if let Err(e) = self.0.sync(Some(observation)).await {
            tracing::warn!(
                error = format!("{e:#}"),
                "Bringing the Slack messages up to date failed; retrying next tick."
            );
        }
    }
}

/// The cloud the config names, the clock it runs on, and how to describe it.
async fn provider(config: &Config, service: &Service) -> anyhow::Result<(Arc<dyn CloudProvider>, DaemonClock, String)> {
    Ok(match &config.aws {
        Some(aws) => {
            let provider = Arc::new(steward_aws::MultiRegion::connect(aws.clone()).await);
            let prices = if aws.iter().any(|a| a.prices.refresh) { "refreshed from AWS" } else { "shipped table" };
            let cloud = format!("AWS {} (prices: {prices})", provider.regions().join(", "));
            (provider, DaemonClock::starting_at(crate::time::wall_now_ms()), cloud)
        }
        None => {
            // The simulated clock resumes after whatever the store has seen, at the demo's 07:00.
            let start = demo_start_ms(service.now_ms().await?);
            let cloud = format!("simulated cloud (seed {})", config.seed);
            (Arc::new(SimCloud::new(demo_fleet(), start, config.seed)), DaemonClock::starting_at(start), cloud)
        }
    })
}

/// Run the daemon and its front ends until the tick budget is spent or a signal arrives.
pub async fn run(config: Config, options: RunOptions) -> anyhow::Result<String> {
    let config = Arc::new(config.with_demo_freeze());
    let store = steward_memory::Store::connect(config.store.expose()).await?;
    let service = Service::new(config.clone(), store.clone());
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("cannot listen on {} (--listen ADDR to choose another)", config.listen))?;
    let listen = listener.local_addr()?;
    let (fleet, clock, cloud) = provider(&config, &service).await?;
    let migrator = Arc::new(crate::migration::migrator(&config, store.clone()).await);
    let provider: Arc<dyn CloudProvider> = Arc::new(steward_migrate::WithMigrations { fleet, migrator });
    let console = config.log_format == LogFormat::Human;
    let telemetry = Arc::new(Telemetry::new(console));
    let ready = Arc::new(AtomicBool::new(false));

    let chatops = match &config.slack {
        Some(slack) => Some(Arc::new(ChatOps::new(service.clone(), slack.clone(), telemetry.clone())?)),
        None => None,
    };
    let hooks: Vec<Arc<dyn AfterTick>> =
        chatops.iter().map(|c| Arc::new(SlackSync(c.clone())) as Arc<dyn AfterTick>).collect();
    let parts = DaemonParts {
        config: config.clone(),
        store: store.clone(),
        provider,
        clock,
        telemetry: telemetry.clone(),
        ready: ready.clone(),
        hooks,
    };
    let daemon = Daemon::start(parts).await?;
    let extras = [
        config.llm.as_ref().map(|l| format!(", LLM planner {}", l.settings.model)),
        config.slack.as_ref().map(|s| match s.mode {
            SlackMode::Http => ", Slack at /slack/*".to_string(),
            SlackMode::Socket => ", Slack over Socket Mode".to_string(),
        }),
    ];
    telemetry.console_line(&format!(
        "steward {}: mode {}, {cloud}, store {}{}, listening on http://{listen}",
        env!("CARGO_PKG_VERSION"),
        config.mode.as_str(),
        store.url(),
        extras.into_iter().flatten().collect::<String>()
    ));
    tracing::info!(mode = config.mode.as_str(), store = store.url(), %listen, "Steward started.");

    let mut app = router(HttpState { telemetry: telemetry.clone(), ready });
    let (stop, stopped) = watch::channel(false);
    let wait_stop = move |mut stopped: watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let mut socket = None;
    if let (Some(chatops), Some(slack)) = (&chatops, &config.slack) {
        match slack.mode {
            SlackMode::Http => {
                let secret = slack.signing_secret.as_ref().map(|x| x.expose().clone()).unwrap_or_default();
                let verifier = Arc::new(RequestVerifier::new(&secret, slack.max_body_bytes));
                app = app.merge(crate::slack::http::routes(SlackState { chatops: chatops.clone(), verifier }));
            }
            SlackMode::Socket => {
                let token = slack.app_token.as_ref().map(|t| t.expose().clone()).unwrap_or_default();
                let (chatops, stop) = (chatops.clone(), wait_stop(stopped.clone()));
                socket = Some(tokio::spawn(async move {
                    if let Err(e) = crate::slack::socket::serve(chatops, token, stop).await {
                        tracing::error!(
                            error = format!("{e:#}"),
                            "Slack Socket Mode stopped; approvals still work from the CLI."
                        );
                    }
                }));
            }
        }
    }
    let http = tokio::spawn(serve(listener, app, wait_stop(stopped.clone())));
    let first_id = store.max_proposal_id().await?;
    let summary = daemon.run(options, shutdown_signal()).await?;
    let _ = stop.send(true);
    let _ = http.await;
    if let Some(socket) = socket {
        let _ = socket.await;
    }

    let counts = store.state_counts(first_id).await?;
    let outcomes: Vec<String> = counts.iter().map(|(state, n)| format!("{n} {state}")).collect();
    let burn = match (summary.burn_before, summary.burn_after) {
        // `+ 0.0` turns an empty fleet's -0.0 into 0.0 (no "$-0.00").
        (Some(a), Some(b)) => format!("cost ${:.2}/h → ${:.2}/h", a + 0.0, b + 0.0),
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
    tracing::info!(summary = %line, "Steward stopped.");
    store.close().await;
    Ok(line)
}
