//! The daemon: one loop over a closed set of events.
//!
//! Architecture invariants:
//! - Nothing reaches a provider's `execute` except an [`steward_tools::ApprovedCall`], made
//!   in the approval path from a proposal in state `approved` after policy was evaluated
//!   again against the observation of that very tick, or by the propose path for an
//!   autonomous allow.
//! - The intent (`executing`, with its action id) is committed before the cloud call; if
//!   that write fails, nothing is executed.
//! - Shutdown is only observed between transitions: a transition is never half-written.
//! - The daemon names no front end: hooks ([`super::hooks::AfterTick`]) are wired in by
//!   whoever starts it.

use std::future::Future;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use steward_memory::{NewEntry, Store};
use steward_tools::CloudProvider;
use tracing::Instrument;

use super::clock::DaemonClock;
use super::context::Context;
use super::enforcement::record_start;
use super::hooks::AfterTick;
use super::keeper::AuditKeeper;
use super::reconcile::reconcile;
use super::tick::{retry_step, stages, tick, Stages, TickReport};
use crate::config::Config;
use crate::telemetry::Telemetry;

/// Everything that can wake the loop. One place to see every trigger.
#[derive(Debug)]
enum Event {
    Tick,
    /// A retry falls due before the next tick.
    RetryDue,
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
    /// The last tick's report.
    pub last_tick: Option<TickReport>,
}

/// What a daemon is made of.
pub struct DaemonParts {
    pub config: Arc<Config>,
    pub store: Store,
    pub provider: Arc<dyn CloudProvider>,
    pub clock: DaemonClock,
    pub telemetry: Arc<Telemetry>,
    /// Set once the first complete observation is in (`/readyz`).
    pub ready: Arc<AtomicBool>,
    pub hooks: Vec<Arc<dyn AfterTick>>,
}

pub struct Daemon {
    ctx: Context,
    stages: Stages,
    keeper: AuditKeeper,
    ready: Arc<AtomicBool>,
    summary: Summary,
    /// Whether time jumps from tick to tick (the simulated cloud, not paced): an LLM
    /// episode is then awaited within its tick.
    jump: bool,
}

impl Daemon {
    /// Set up: load and validate the policies, record the start (and any change of
    /// enforcement) in the audit log, reconcile intents left `executing` by a crash.
    pub async fn start(parts: DaemonParts) -> anyhow::Result<Daemon> {
        let DaemonParts { config, store, provider, clock, telemetry, ready, hooks } = parts;
        let guardrails = Arc::new(config.guardrails()?);
        let keeper = AuditKeeper::new(&config, &store).await?;
        let ctx = Context { config, store, provider, guardrails, telemetry, clock };
        let mut stages = stages(&ctx, hooks)?;
        record_start(&ctx).await?;
        let now = ctx.clock.now_ms();
        for r in reconcile(&ctx.store, ctx.provider.as_ref(), &ctx.telemetry, now).await? {
            stages.executor.resume(&ctx, r.proposal, r.action_id, now).await?;
        }
        Ok(Daemon { ctx, stages, keeper, ready, summary: Summary::default(), jump: false })
    }

    /// Run until `shutdown` resolves or the tick budget is spent. Returns what happened.
    pub async fn run(mut self, options: RunOptions, shutdown: impl Future<Output = ()>) -> anyhow::Result<Summary> {
        let simulated = self.ctx.provider.advance_clock(0).await;
        // Simulated time jumps from tick to tick; real time (or --realtime) is waited for.
        let jump = simulated && !options.realtime;
        self.jump = jump;
        tokio::pin!(shutdown);
        self.summary.first_ms = self.ctx.clock.now_ms();
        let interval = self.ctx.config.tick_interval;
        let mut next_tick = tokio::time::Instant::now();
        loop {
            let event = if jump {
                tokio::select! {
                    biased;
                    () = &mut shutdown => Event::Shutdown,
                    () = std::future::ready(()) => Event::Tick,
                }
            } else {
                // On a real cloud a retry may fall due before the next tick.
                let retry = (!simulated).then(|| self.retry_at()).flatten().filter(|at| *at < next_tick);
                let wake = retry.unwrap_or(next_tick);
                tokio::select! {
                    biased;
                    () = &mut shutdown => Event::Shutdown,
                    () = tokio::time::sleep_until(wake) => if retry.is_some() { Event::RetryDue } else { Event::Tick },
                }
            };
            match event {
                Event::Shutdown => break,
                Event::RetryDue => {
                    self.ctx.clock.set(crate::time::wall_now_ms());
                    let now = self.ctx.clock.now_ms();
                    if let Err(e) = retry_step(&self.ctx, &mut self.stages, now).await {
                        tracing::error!(error = format!("{e:#}"), "Retrying failed; trying again on the next tick.");
                    }
                }
                Event::Tick => {
                    if options.ticks.is_some_and(|n| self.summary.ticks >= n) {
                        break;
                    }
                    next_tick = tokio::time::Instant::now() + interval;
                    if !simulated {
                        self.ctx.clock.set(crate::time::wall_now_ms());
                    }
                    self.tick().await;
                    if simulated {
                        self.ctx.provider.advance_clock(interval.as_millis() as i64).await;
                        self.ctx.clock.set(self.ctx.clock.now_ms() + interval.as_millis() as i64);
                    }
                }
            }
        }
        self.finish().await?;
        Ok(self.summary)
    }

    /// When the next retry falls due, on the loop's clock.
    fn retry_at(&self) -> Option<tokio::time::Instant> {
        let due = self.stages.executor.next_retry_ms()?;
        let wait = u64::try_from(due - self.ctx.clock.now_ms()).unwrap_or(0);
        Some(tokio::time::Instant::now() + Duration::from_millis(wait))
    }

    /// One tick, in its span, with its bookkeeping.
    async fn tick(&mut self) -> TickReport {
        let started = Instant::now();
        let now = self.ctx.clock.now_ms();
        self.summary.ticks += 1;
        let n = self.summary.ticks;
        let span = tracing::info_span!("tick", n, at = %crate::time::full(now));
        let report = tick(&self.ctx, &mut self.stages, &self.ready, self.jump, n, now).instrument(span).await;
        if let Err(e) = self.keeper.after_tick(&self.ctx.store, now).await {
            tracing::error!(error = format!("{e:#}"), "Writing the audit checkpoint failed.");
        }
        self.ctx.telemetry.metrics.tick(started.elapsed().as_secs_f64());
        if self.summary.burn_before.is_none() {
            self.summary.burn_before = report.burn_before;
        }
        if report.burn_after.is_some() {
            self.summary.burn_after = report.burn_after;
        }
        self.summary.last_tick = Some(report.clone());
        report
    }

    async fn finish(&mut self) -> anyhow::Result<()> {
        if let Some(advisor) = &mut self.stages.advisor {
            advisor.abort();
        }
        let now = self.ctx.clock.now_ms();
        let data = json!({ "ticks": self.summary.ticks });
        self.ctx.store.append(NewEntry::new(now, "steward", "daemon.stopped", None, data)).await?;
        self.keeper.checkpoint_now(&self.ctx.store, now).await?;
        self.summary.last_ms = now;
        Ok(())
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
