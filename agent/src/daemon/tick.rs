//! One tick, a reconcile: observe → remember → expire stale approvals → decide what was
//! filed from outside → retry what is due → carry out what people approved (re-validated and
//! re-decided against fresh state) → plan → the LLM planner → hooks. Every transition of a
//! proposal is one audit entry, written before the next step starts. The tick returns what
//! happened and when the loop should wake next.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use steward_memory::control::keys;
use steward_memory::{ProposalState, TickState};
use steward_policies::ProposerKind;
use steward_tools::Observation;

use super::advisor::{Advisor, AdvisorTick, FailedAction};
use super::authorize::carry_out_approved;
use super::context::Context;
use super::decide::expire;
use super::executor::{Executed, Executor};
use super::hooks::AfterTick;
use super::interruptions::Interruptions;
use super::migrations::drive as drive_migrations;
use super::planners::{Planners, HISTORY_MS};
use super::propose::{Candidate, Pipeline, Proposed};

/// The state the stages of a tick own between ticks.
pub struct Stages {
    pub pipeline: Pipeline,
    pub executor: Executor,
    pub planners: Planners,
    /// The LLM planner, when configured.
    pub advisor: Option<Advisor>,
    pub hooks: Vec<Arc<dyn AfterTick>>,
    /// Actions that failed since the LLM planner last looked.
    pub failed: Vec<FailedAction>,
    /// Spot workers whose interruption notice was reported.
    pub interruptions: Interruptions,
}

/// What one tick did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TickReport {
    pub at_ms: i64,
    /// Whether the fleet was observed, and whether the observation was complete.
    pub observed: Option<bool>,
    /// Hourly burn at the start and at the end of the tick.
    pub burn_before: Option<f64>,
    pub burn_after: Option<f64>,
    /// Proposals filed from outside that were decided (or held) this tick.
    pub filed: usize,
    /// Proposals the planners made and the propose path took in.
    pub proposed: usize,
    /// Calls that reached the cloud: succeeded, failed, or waiting to be retried.
    pub executed: usize,
    pub failed: usize,
    /// Retries waiting when the tick ended.
    pub retries_waiting: usize,
    /// Why the tick stopped early, when it did (it is retried on the next tick).
    pub error: Option<String>,
    /// When the loop should wake next: the next tick, or an earlier retry.
    pub next_wake_ms: i64,
}

fn reached_cloud(e: &Executed) -> bool {
    !matches!(e, Executed::Held)
}

/// Run one tick at `now` (the `n`th of the run).
pub async fn tick(
    ctx: &Context,
    stages: &mut Stages,
    ready: &AtomicBool,
    simulated: bool,
    n: u64,
    now: i64,
) -> TickReport {
    let interval_ms = i64::try_from(ctx.config.tick_interval.as_millis()).unwrap_or(60_000);
    let mut report = TickReport { at_ms: now, ..TickReport::default() };
    if let Err(e) = stages_of_tick(ctx, stages, ready, simulated, n, now, &mut report).await {
        // A store or provider failure skips the rest of this tick; the daemon keeps going.
        tracing::error!(error = format!("{e:#}"), "The tick failed; retrying next tick.");
        ctx.telemetry.note(now, &format!("error    {e:#}; retrying next tick"));
        report.error = Some(format!("{e:#}"));
    }
    report.retries_waiting = stages.executor.retries_waiting();
    report.next_wake_ms = stages.executor.next_retry_ms().map_or(now + interval_ms, |at| at.min(now + interval_ms));
    report
}

/// Only the retries that are due (the loop woke before the next tick for them).
pub async fn retry_step(ctx: &Context, stages: &mut Stages, now: i64) -> anyhow::Result<usize> {
    let paused = ctx.store.paused().await?;
    let executed = stages.executor.retry_due(ctx, paused, now).await?;
    stages.failed.extend(FailedAction::from_executed(&executed));
    Ok(executed.iter().filter(|e| reached_cloud(e)).count())
}

async fn observe(ctx: &Context, ready: &AtomicBool, now: i64) -> Option<Observation> {
    let observation = match ctx.provider.observe().await {
        Ok(o) => o,
        Err(e) => {
            ctx.telemetry.observe_failed(now, &e.to_string());
            return None;
        }
    };
    if observation.complete {
        ready.store(true, Ordering::Relaxed);
    }
    if let Some(calls) = ctx.provider.api_calls() {
        ctx.telemetry.metrics.provider_api_calls.set(calls as f64);
        tracing::debug!(api_calls = calls, "Cloud API calls this observation.");
    }
    ctx.telemetry.observed(&observation);
    Some(observation)
}

/// Remember the tick (each group's figures, what it cost, the newest observation, the
/// daemon's clock) and read what the stages have to act on, in one transaction. When that
/// fails planning goes on: the clock and the kill switch are then written and read on their
/// own, and every stage reads for itself.
async fn remember(ctx: &Context, observation: &Observation, now: i64) -> anyhow::Result<TickState> {
    let interval_ms = i64::try_from(ctx.config.tick_interval.as_millis()).unwrap_or(60_000);
    match ctx.store.record_tick(observation, interval_ms, now).await {
        Ok(state) => Ok(state),
        Err(e) => {
            tracing::warn!(error = %e, "Could not remember this observation; planning goes on.");
            ctx.store.set_control(keys::CLOCK_MS, &now.to_string()).await?;
            Ok(TickState::unknown(ctx.store.paused().await?))
        }
    }
}

async fn stages_of_tick(
    ctx: &Context,
    stages: &mut Stages,
    ready: &AtomicBool,
    simulated: bool,
    n: u64,
    now: i64,
    report: &mut TickReport,
) -> anyhow::Result<()> {
    let Some(mut observation) = observe(ctx, ready, now).await else { return Ok(()) };
    report.observed = Some(observation.complete);
    report.burn_before = Some(observation.hourly_burn());
    let mut state = remember(ctx, &observation, now).await?;
    stages.planners.load_history_once(&ctx.store, &observation, now).await?;
    if n % 60 == 1 {
        ctx.store.prune_observations(now - HISTORY_MS).await?;
    }
    let paused = state.paused;
    ctx.telemetry.metrics.paused.set(if paused { 1.0 } else { 0.0 });

    stages.interruptions.report(ctx, &observation, now).await?;
    if state.pending_approval > 0 {
        expire(ctx, now).await?;
    }
    if state.migrations_moving > 0 {
        drive_migrations(ctx, now).await?;
        // Its steps are filed, withdrawn or ended as it goes: every stage looks for itself.
        state = TickState::unknown(paused);
    }
    stages.pipeline.begin_tick(ctx, &state).await?;
    let mut executed = Vec::new();
    if state.proposed > 0 {
        for filed in stages.pipeline.process_filed(ctx, &mut stages.executor, &observation, paused, now).await? {
            report.filed += 1;
            if let Proposed::Decided { executed: Some(e), .. } = filed {
                executed.push(e);
            }
        }
    }
    executed.extend(stages.executor.retry_due(ctx, paused, now).await?);
    // A filed proposal the execution limits held stays approved for this stage to take up.
    if state.approved > 0 || report.filed > 0 {
        executed.extend(carry_out_approved(ctx, &mut stages.executor, &observation, paused, now).await?);
    }
    if executed.iter().any(reached_cloud) {
        match ctx.provider.observe().await {
            Ok(fresh) => observation = fresh,
            Err(e) => {
                ctx.telemetry.observe_failed(now, &e.to_string());
                account(report, stages, &executed);
                return Ok(());
            }
        }
    }
    for (name, plan) in stages.planners.plan(&observation) {
        let proposer = steward_policies::Proposer { kind: ProposerKind::Planner, name: name.to_string() };
        let candidate = Candidate::Planned { plan, proposer, tainted: false };
        report.proposed += 1;
        let proposed = stages.pipeline.propose(ctx, &mut stages.executor, candidate, &observation, paused, now).await?;
        if let Proposed::Decided { executed: Some(e), .. } = proposed {
            executed.push(e);
        }
    }
    account(report, stages, &executed);
    if let Some(mut advisor) = stages.advisor.take() {
        let failed = std::mem::take(&mut stages.failed);
        let t = AdvisorTick {
            ctx,
            pipeline: &mut stages.pipeline,
            executor: &mut stages.executor,
            observation: &observation,
            failed,
            paused,
            simulated,
            now,
        };
        let executed = advisor.tick(t).await;
        stages.advisor = Some(advisor);
        account(report, stages, &executed?);
    } else {
        stages.failed.clear();
    }
    // Only the propose path (this tick's, by any planner) and carrying out an approval
    // again put a proposal in front of people; with none waiting and neither run, none waits.
    let may_wait = state.pending_approval > 0 || state.approved > 0 || stages.pipeline.took_in_this_tick() > 0;
    let waiting = || async { anyhow::Ok(ctx.store.proposals_in(&[ProposalState::PendingApproval]).await?.len()) };
    let mut pending = if may_wait { waiting().await? } else { 0 };
    for hook in &stages.hooks {
        hook.after_tick(&observation, pending).await;
    }
    // Hooks only decide what waits (an approver, chat-ops): fewer may wait now, never more.
    if pending > 0 && !stages.hooks.is_empty() {
        pending = waiting().await?;
    }
    ctx.telemetry.metrics.pending_approvals.set(pending as f64);
    report.burn_after = Some(observation.hourly_burn());
    Ok(())
}

/// Count what execution did, and keep the failures for the LLM planner.
fn account(report: &mut TickReport, stages: &mut Stages, executed: &[Executed]) {
    report.executed += executed.iter().filter(|e| reached_cloud(e)).count();
    report.failed += executed.iter().filter(|e| matches!(e, Executed::Failed { .. })).count();
    stages.failed.extend(FailedAction::from_executed(executed));
}

/// A fresh set of stages for `ctx`'s config.
pub fn stages(ctx: &Context, hooks: Vec<Arc<dyn AfterTick>>) -> anyhow::Result<Stages> {
    let config = &ctx.config;
    let backoff_ms = i64::try_from(config.planner.denied_backoff.as_millis()).unwrap_or(i64::MAX / 2);
    Ok(Stages {
        pipeline: Pipeline::new(backoff_ms),
        executor: Executor::new(&config.execution, ctx.clock.clone()),
        planners: Planners::new(&config.planner),
        advisor: config.llm.as_ref().map(Advisor::new).transpose()?,
        hooks,
        failed: Vec::new(),
        interruptions: Interruptions::default(),
    })
}
