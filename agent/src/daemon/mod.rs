//! The daemon: one loop over a closed set of events, each tick a reconcile.
//!
//! A tick: observe → remember → expire stale approvals → carry out decisions people made
//! since the last tick (re-validated and re-decided against fresh state) → plan → validate
//! → decide → execute what may run → checkpoint. Every transition of a proposal is one
//! audit entry, written before the next step starts.
//!
//! Architecture invariants:
//! - Nothing reaches a provider's `execute` except an [`ApprovedCall`], made in
//!   [`authorize`] from a proposal in state `approved`, after policy was evaluated again
//!   against the observation of this very tick.
//! - The intent (`executing`, with its action id) is committed before the cloud call; if
//!   that write fails, nothing is executed.
//! - Shutdown is only observed between transitions: a transition is never half-written.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use serde_json::json;
use steward_memory::control::keys;
use steward_memory::{NewEntry, ProposalState, Store};
use steward_policies::{Guardrails, ProposerKind};
use steward_tools::{CloudProvider, Observation};
use tracing::Instrument;

use crate::config::{Config, Mode, Scaling};
use steward_planners::{GpuQueue, Planner, Predictive, PredictiveConfig, TargetTracking};

mod advisor;
pub mod authorize;
pub mod authorize_rules;
pub mod clock;
pub mod events;
mod executor;
mod keeper;
mod pipeline;
mod reconcile;

pub use clock::DaemonClock;
pub use events::Telemetry;
pub(crate) use pipeline::facts_for;

/// Everything that can wake the loop. One place to see every trigger.
#[derive(Debug)]
enum Event {
    Tick,
    Shutdown,
}

/// How a run should go.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// Stop after this many ticks (`None`: run until shut down).
    pub ticks: Option<u64>,
    /// Pace ticks in real time even on the simulated cloud.
    pub realtime: bool,
}

/// What a run did, for the closing summary.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Summary {
    pub ticks: u64,
    pub first_ms: i64,
    pub last_ms: i64,
    /// Hourly burn at the first and the last observation, USD.
    pub burn_before: Option<f64>,
    pub burn_after: Option<f64>,
}

pub struct Daemon {
    config: Arc<Config>,
    store: Store,
    provider: Arc<dyn CloudProvider>,
    guardrails: Arc<Guardrails>,
    planners: Vec<Box<dyn Planner>>,
    /// The LLM planner, when configured.
    advisor: Option<advisor::Advisor>,
    /// Actions that failed since the LLM planner last looked.
    failed_actions: Vec<advisor::FailedAction>,
    /// Whether the provider runs on simulated time.
    simulated: bool,
    /// Chat-ops in Slack, when configured: approval messages kept up to date each tick.
    chatops: Option<Arc<crate::slack::ChatOps>>,
    telemetry: Arc<Telemetry>,
    ready: Arc<AtomicBool>,
    clock: DaemonClock,
    limiter: executor::ExecutionLimiter,
    keeper: keeper::AuditKeeper,
    /// `(target, adds capacity)` → when a proposal for it was last denied.
    denials: HashMap<(String, bool), i64>,
    denied_backoff_ms: i64,
    summary: Summary,
    /// Whether planners that learn from history got the store's observations yet.
    history_loaded: bool,
}

/// How long observations are remembered: a week and a day, what the predictive planner uses.
const HISTORY_MS: i64 = 8 * 86_400_000;

/// Load the guardrails the config names: the built-in set, or `policies.dir`.
pub fn load_guardrails(config: &Config) -> anyhow::Result<Guardrails> {
    let (schema, mut sources) = match &config.policies_dir {
        None => (steward_policies::defaults::SCHEMA.to_string(), steward_policies::defaults::policies()),
        Some(dir) => crate::commands::policy::read_policy_dir(dir)?,
    };
    for id in &config.shadow {
        let found = sources.iter_mut().any(|s| force_shadow(&mut s.text, id));
        if !found {
            anyhow::bail!("policies.shadow: no policy with @id(\"{id}\")");
        }
    }
    Guardrails::load(&schema, &sources, config.limits.clone()).context("loading policies")
}

/// Mark the policy `@id(ID)` as shadow by adding the annotation in front of it.
fn force_shadow(text: &mut String, id: &str) -> bool {
    let marker = format!("@id(\"{id}\")");
    match text.find(&marker) {
        Some(at) => {
            text.insert_str(at, "@shadow(\"true\") ");
            // A policy already marked shadow would now carry the annotation twice.
            if text.matches("@shadow(\"true\") @shadow").count() > 0 {
                *text = text.replace("@shadow(\"true\") @shadow(\"true\")", "@shadow(\"true\")");
            }
            true
        }
        None => false,
    }
}

impl Daemon {
    /// Set up: load and validate the policies, record the start (and any change of
    /// enforcement) in the audit log, reconcile intents left `executing` by a crash.
    pub async fn start(
        config: Arc<Config>,
        store: Store,
        provider: Arc<dyn CloudProvider>,
        clock: DaemonClock,
        telemetry: Arc<Telemetry>,
        ready: Arc<AtomicBool>,
    ) -> anyhow::Result<Daemon> {
        let guardrails = load_guardrails(&config)?;
        let planner = &config.planner;
        let ms = |text: &str| crate::config::parse_duration("planner", text).map(|d| d.as_millis() as i64);
        let scaling: Box<dyn Planner> = match planner.scaling {
            Scaling::TargetTracking => {
                Box::new(TargetTracking::new(planner.target_cpu_percent, ms(&planner.scale_in_stabilization)?))
            }
            Scaling::Predictive => Box::new(Predictive::new(PredictiveConfig::default())),
        };
        let planners: Vec<Box<dyn Planner>> = vec![
            scaling,
            Box::new(GpuQueue::new(
                ms(&planner.gpu_target_wait)? as f64 / 60_000.0,
                planner.gpu_minutes_per_job,
                ms(&planner.gpu_idle_grace)?,
            )),
        ];
        let keeper = keeper::AuditKeeper::new(&config, &store).await?;
        let advisor = match &config.llm {
            Some(llm) => Some(advisor::Advisor::new(llm)?),
            None => None,
        };
        let chatops = match &config.slack {
            Some(slack) => Some(Arc::new(crate::slack::ChatOps {
                config: config.clone(),
                slack: slack.clone(),
                store: store.clone(),
                api: crate::slack::api::SlackApi::new(slack)?,
                telemetry: telemetry.clone(),
            })),
            None => None,
        };
        let daemon = Daemon {
            chatops,
            advisor,
            failed_actions: Vec::new(),
            simulated: false,
            limiter: executor::ExecutionLimiter::new(config.execution_calls_per_minute, clock.clone()),
            denied_backoff_ms: ms(&planner.denied_backoff)?,
            config,
            store,
            provider,
            guardrails: Arc::new(guardrails),
            planners,
            telemetry,
            ready,
            clock,
            keeper,
            denials: HashMap::new(),
            summary: Summary::default(),
            history_loaded: false,
        };
        daemon.record_start().await?;
        reconcile::reconcile(&daemon.store, daemon.provider.as_ref(), &daemon.telemetry, daemon.clock.now_ms()).await?;
        Ok(daemon)
    }

    async fn record_start(&self) -> anyhow::Result<()> {
        let now = self.clock.now_ms();
        let mut ids: Vec<String> = self.guardrails.policy_ids().into_iter().collect();
        ids.sort();
        let enforcement = json!({
            "mode": self.config.mode.as_str(),
            "policies": ids,
            "policy_fingerprint": crate::commands::policy::fingerprint(&self.config)?,
            "shadow": self.config.shadow,
            "limits": self.config.limits,
        });
        let text = enforcement.to_string();
        let previous = self.store.control(keys::ENFORCEMENT).await?;
        self.store
            .append(NewEntry::new(
                now,
                "steward",
                "daemon.started",
                None,
                json!({ "version": env!("CARGO_PKG_VERSION"), "provider": self.provider.name(),
                        "store": self.store.backend(), "mode": self.config.mode.as_str() }),
            ))
            .await?;
        if previous.as_deref() != Some(text.as_str()) {
            let previous_value = previous.and_then(|p| serde_json::from_str::<serde_json::Value>(&p).ok());
            let entry = NewEntry::new(
                now,
                "steward",
                "enforcement.changed",
                None,
                json!({ "from": previous_value, "to": enforcement }),
            );
            self.store.set_control_audited(keys::ENFORCEMENT, &text, entry).await?;
        }
        Ok(())
    }

    /// Run until `shutdown` resolves or the tick budget is spent. Returns what happened.
    pub async fn run(mut self, options: RunOptions, shutdown: impl Future<Output = ()>) -> anyhow::Result<Summary> {
        let simulated = self.provider.advance_clock(0).await;
        self.simulated = simulated && !options.realtime;
        let pace = !simulated || options.realtime;
        tokio::pin!(shutdown);
        self.summary.first_ms = self.clock.now_ms();
        let interval = self.config.tick_interval;
        loop {
            if options.ticks.is_some_and(|n| self.summary.ticks >= n) {
                break;
            }
            let started = Instant::now();
            let event = tokio::select! {
                biased;
                () = &mut shutdown => Event::Shutdown,
                () = std::future::ready(()) => Event::Tick,
            };
            match event {
                Event::Shutdown => break,
                Event::Tick => {
                    let span = tracing::info_span!("tick", n = self.summary.ticks + 1, at = %crate::time::full(self.clock.now_ms()));
                    self.tick().instrument(span).await;
                }
            }
            // Advance time: simulated clocks jump, real ones are waited for.
            if simulated {
                self.provider.advance_clock(interval.as_millis() as i64).await;
            }
            if pace {
                let wait = interval.saturating_sub(started.elapsed());
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(wait) => {}
                }
            }
            self.clock.set(if simulated {
                self.clock.now_ms() + interval.as_millis() as i64
            } else {
                crate::time::wall_now_ms()
            });
        }
        self.finish().await?;
        Ok(self.summary)
    }

    async fn finish(&mut self) -> anyhow::Result<()> {
        if let Some(advisor) = &mut self.advisor {
            advisor.abort();
        }
        let now = self.clock.now_ms();
        self.store
            .append(NewEntry::new(now, "steward", "daemon.stopped", None, json!({ "ticks": self.summary.ticks })))
            .await?;
        self.keeper.checkpoint_now(&self.store, now).await?;
        self.summary.last_ms = now;
        Ok(())
    }

    async fn tick(&mut self) {
        let started = Instant::now();
        let now = self.clock.now_ms();
        self.summary.ticks += 1;
        if let Err(e) = self.tick_inner(now).await {
            // A store or provider failure skips the rest of this tick; the daemon keeps going.
            tracing::error!(error = format!("{e:#}"), "The tick failed; retrying next tick.");
            self.telemetry.note(now, &format!("error    {e:#}; retrying next tick"));
        }
        if let Err(e) = self.keeper.after_tick(&self.store, now).await {
            tracing::error!(error = format!("{e:#}"), "Writing the audit checkpoint failed.");
        }
        self.telemetry.metrics.tick(started.elapsed().as_secs_f64());
    }

    async fn tick_inner(&mut self, now: i64) -> anyhow::Result<()> {
        let Some(mut observation) = self.observe(now).await else { return Ok(()) };
        if !self.history_loaded {
            self.load_history(&observation, now).await?;
        }
        if self.summary.ticks % 60 == 1 {
            self.store.prune_observations(now - HISTORY_MS).await?;
        }
        self.store.set_control(keys::CLOCK_MS, &now.to_string()).await?;
        let paused = self.store.paused().await?;
        self.telemetry.metrics.paused.set(if paused { 1.0 } else { 0.0 });

        pipeline::expire(self, now).await?;
        pipeline::process_external(self, &observation, now).await?;
        let executed = authorize::carry_out_approved(self, &observation, paused, now).await?;
        if executed > 0 {
            match self.provider.observe().await {
                Ok(fresh) => observation = fresh,
                Err(e) => {
                    self.telemetry.observe_failed(now, &e.to_string());
                    return Ok(());
                }
            }
        }
        let mut plans = Vec::new();
        for planner in &mut self.planners {
            for plan in planner.plan(&observation) {
                plans.push((planner.name(), plan));
            }
        }
        // What waits for approval, read once per tick, not once per plan.
        let mut waiting: HashMap<String, Vec<steward_memory::ProposalRecord>> = HashMap::new();
        if !plans.is_empty() {
            for p in self.store.proposals_in(&[ProposalState::PendingApproval]).await? {
                waiting.entry(p.target.clone()).or_default().push(p);
            }
        }
        for (name, plan) in plans {
            let proposer = steward_policies::Proposer { kind: ProposerKind::Planner, name: name.to_string() };
            let waiting_here = waiting.get(plan.call.target()).cloned().unwrap_or_default();
            let origin = pipeline::Origin { proposer, tainted: false };
            pipeline::propose(self, plan, origin, &waiting_here, &observation, paused, now).await?;
        }
        advisor::tick(self, &observation, paused, now).await?;
        if let Some(chatops) = &self.chatops {
            if let Err(e) = chatops.sync(Some(&observation)).await {
                tracing::warn!(
                    error = format!("{e:#}"),
                    "Bringing the Slack messages up to date failed; retrying next tick."
                );
            }
        }
        let pending = self.store.proposals_in(&[ProposalState::PendingApproval]).await?.len();
        self.telemetry.metrics.pending_approvals.set(pending as f64);
        self.summary.burn_after = Some(observation.hourly_burn());
        Ok(())
    }

    /// Give planners that learn from history what the store remembers of each group.
    async fn load_history(&mut self, observation: &Observation, now: i64) -> anyhow::Result<()> {
        self.history_loaded = true;
        if !self.planners.iter().any(|p| p.wants_history()) {
            return Ok(());
        }
        let mut remembered = 0;
        for group in &observation.groups {
            let rows = self.store.observations(&group.name, now - HISTORY_MS, now - 1).await?;
            for row in rows {
                if let Some(requests) = row.requests {
                    for planner in self.planners.iter_mut().filter(|p| p.wants_history()) {
                        planner.remember(&row.group, row.at_ms, requests);
                    }
                    remembered += 1;
                }
            }
        }
        tracing::info!(remembered, "Loaded remembered observations for the predictive planner.");
        Ok(())
    }

    async fn observe(&mut self, now: i64) -> Option<Observation> {
        let observation = match self.provider.observe().await {
            Ok(o) => o,
            Err(e) => {
                self.telemetry.observe_failed(now, &e.to_string());
                return None;
            }
        };
        if observation.complete {
            self.ready.store(true, Ordering::Relaxed);
        }
        if let Some(calls) = self.provider.api_calls() {
            self.telemetry.metrics.provider_api_calls.set(calls as f64);
            tracing::debug!(api_calls = calls, "Cloud API calls this observation.");
        }
        self.telemetry.observed(&observation);
        if let Err(e) = self.remember(&observation).await {
            tracing::warn!(error = %e, "Could not remember this observation; planning goes on.");
        }
        self.summary.burn_before.get_or_insert(observation.hourly_burn());
        Some(observation)
    }

    /// Remember the observation: each group's figures, what the tick cost, and the whole
    /// snapshot for `steward ask` and `steward cost`.
    async fn remember(&self, observation: &Observation) -> Result<(), steward_memory::StoreError> {
        self.store.record_tick(observation, self.config.tick_interval.as_millis() as i64).await
    }

    /// Chat-ops in Slack, when configured (for the HTTP endpoints and Socket Mode).
    pub fn chatops(&self) -> Option<Arc<crate::slack::ChatOps>> {
        self.chatops.clone()
    }

    pub fn mode(&self) -> Mode {
        self.config.mode
    }
}

/// Wait for SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("Shutdown requested; finishing the current transition.");
}
