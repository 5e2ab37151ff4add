//! When the daemon consults the LLM planner, and what it does with the answer.
//!
//! Only on anomalies the deterministic planners cannot explain, never on quiet ticks:
//! - `slo_breach_after_scaling`: CPU at or above `llm.slo_cpu_percent` for
//!   `llm.slo_breach_ticks` ticks although the group was scaled out meanwhile (or is at
//!   its max);
//! - `cost_jump`: the fleet's hourly burn rose by more than `llm.cost_jump_percent` within
//!   the hour (and by at least $1/h);
//! - `action_failed`: an executed action failed.
//!
//! Episodes are bounded one by one (turns, tokens, seconds) and in number: one at a time,
//! at most `llm.max_episodes_per_hour`, and the same anomaly on the same target at most once
//! per `llm.anomaly_cooldown`. On the simulated cloud an episode is awaited within its tick
//! (simulated time stands still while the model thinks); against a real cloud it runs
//! beside the loop and its proposals are filed on the first tick after it ends.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use steward_llm::{run_episode, EpisodeReport, LlmClient, Trigger};
use steward_planners::Plan;
use steward_policies::{Proposer, ProposerKind};
use steward_tools::{GroupKind, Observation};
use tokio::task::JoinHandle;

use super::context::Context;
use super::executor::{Executed, Executor};
use super::propose::{Candidate, Pipeline, Proposed};
use crate::config::LlmConfig;
use crate::fleet_tools::{briefing, record, FleetTools};

const HOUR_MS: i64 = 3_600_000;
/// Triggers waiting for their turn; more are dropped (they come back if they persist).
const MAX_QUEUED: usize = 8;

struct Breach {
    ticks: u32,
    desired_at_start: u32,
}

/// A failed action, as the executor reports it.
#[derive(Debug, Clone)]
pub struct FailedAction {
    pub id: i64,
    pub target: String,
    pub what: String,
}

impl FailedAction {
    /// The failures among what execution did this tick.
    pub fn from_executed<'a>(executed: impl IntoIterator<Item = &'a Executed>) -> Vec<FailedAction> {
        executed
            .into_iter()
            .filter_map(|e| match e {
                Executed::Failed { id, target, what } => {
                    Some(FailedAction { id: *id, target: target.clone(), what: what.clone() })
                }
                _ => None,
            })
            .collect()
    }
}

pub struct Advisor {
    client: Arc<LlmClient>,
    config: LlmConfig,
    breaches: HashMap<String, Breach>,
    burn: VecDeque<(i64, f64)>,
    last_by_key: HashMap<String, i64>,
    started: VecDeque<i64>,
    queue: VecDeque<(String, Trigger)>,
    running: Option<(i64, JoinHandle<EpisodeReport>)>,
}

impl Advisor {
    pub fn new(config: &LlmConfig) -> anyhow::Result<Advisor> {
        let client = LlmClient::new(config.settings.clone())?;
        Ok(Advisor {
            client: Arc::new(client),
            config: config.clone(),
            breaches: HashMap::new(),
            burn: VecDeque::new(),
            last_by_key: HashMap::new(),
            started: VecDeque::new(),
            queue: VecDeque::new(),
            running: None,
        })
    }

    /// The anomalies in this observation (and the failures since the last tick).
    fn detect(&mut self, o: &Observation, failed: Vec<FailedAction>) -> Vec<(String, Trigger)> {
        let mut found = Vec::new();
        let slo = self.config.slo_cpu_percent;
        for g in o.groups.iter().filter(|g| g.kind == GroupKind::AutoScaling) {
            match g.cpu_percent {
                Some(cpu) if cpu >= slo => {
                    let breach =
                        self.breaches.entry(g.name.clone()).or_insert(Breach { ticks: 0, desired_at_start: g.desired });
                    breach.ticks += 1;
                    let scaled = g.desired > breach.desired_at_start || g.desired >= g.max;
                    if breach.ticks >= self.config.slo_breach_ticks && scaled {
                        let detail = format!(
                            "CPU {cpu:.0}% (SLO {slo:.0}%) for {} ticks although desired went {} → {} (max {})",
                            breach.ticks, breach.desired_at_start, g.desired, g.max
                        );
                        found.push(anomaly("slo_breach_after_scaling", Some(&g.name), detail));
                    }
                }
                _ => {
                    self.breaches.remove(&g.name);
                }
            }
        }
        let burn = o.hourly_burn();
        self.burn.push_back((o.at_ms, burn));
        while self.burn.front().is_some_and(|(at, _)| *at < o.at_ms - HOUR_MS) {
            self.burn.pop_front();
        }
        if let Some(&(at, before)) = self.burn.front() {
            let rise = burn - before;
            if o.at_ms - at >= HOUR_MS * 55 / 60 && rise >= 1.0 && rise > before * self.config.cost_jump_percent / 100.0
            {
                let detail = format!("hourly burn ${before:.2} → ${burn:.2} within the hour");
                found.push(anomaly("cost_jump", None, detail));
            }
        }
        for f in failed {
            found.push(anomaly("action_failed", Some(&f.target), format!("proposal #{} ({}) failed", f.id, f.what)));
        }
        found
    }

    /// Queue new triggers that are not cooling down.
    fn enqueue(&mut self, triggers: Vec<(String, Trigger)>, now: i64) {
        let cooldown = self.config.anomaly_cooldown.as_millis() as i64;
        for (key, trigger) in triggers {
            let recent = self.last_by_key.get(&key).is_some_and(|at| now - at < cooldown);
            let queued = self.queue.iter().any(|(k, _)| *k == key);
            if recent || queued {
                continue;
            }
            if self.queue.len() >= MAX_QUEUED {
                tracing::warn!(key, "Too many anomalies waiting for the LLM planner; dropping this one.");
                continue;
            }
            self.queue.push_back((key, trigger));
        }
    }

    /// Start the next queued episode if the bounds allow one.
    fn start_next(&mut self, ctx: &Context, observation: &Observation, now: i64) {
        if self.running.is_some() {
            return;
        }
        while self.started.front().is_some_and(|at| *at <= now - HOUR_MS) {
            self.started.pop_front();
        }
        if self.started.len() >= self.config.max_episodes_per_hour as usize {
            if !self.queue.is_empty() {
                tracing::info!(queued = self.queue.len(), "The LLM planner's hourly episode budget is spent.");
            }
            return;
        }
        let Some((key, trigger)) = self.queue.pop_front() else { return };
        self.last_by_key.insert(key, now);
        self.started.push_back(now);
        let tools = FleetTools {
            observation: observation.clone(),
            store: ctx.store.clone(),
            guardrails: ctx.guardrails.clone(),
            migrations: Some(crate::migration::planning(&ctx.config)),
            model: self.client.settings().model.clone(),
        };
        let client = self.client.clone();
        ctx.telemetry.episode_started(now, &trigger);
        let handle = tokio::spawn(async move {
            let briefing = match briefing(&tools, &trigger).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = format!("{e:#}"), "Could not brief the model; it starts from the trigger.");
                    steward_llm::Briefing::default()
                }
            };
            run_episode(&client, &tools, trigger, &briefing).await
        });
        self.running = Some((now, handle));
    }

    /// Stop an episode still running at shutdown; nothing it would have proposed is filed.
    pub fn abort(&mut self) {
        if let Some((_, handle)) = self.running.take() {
            handle.abort();
            tracing::warn!("Shutdown cut an LLM episode short; nothing it proposed is filed.");
        }
    }

    /// The finished episode, if any (waiting for it when `wait`).
    async fn finished(&mut self, wait: bool) -> Option<(i64, EpisodeReport)> {
        let done = self.running.as_ref().is_some_and(|(_, h)| h.is_finished());
        if !(done || wait && self.running.is_some()) {
            return None;
        }
        let (started, handle) = self.running.take()?;
        match handle.await {
            Ok(report) => Some((started, report)),
            Err(e) => {
                tracing::error!(error = %e, "The LLM episode task failed; nothing was proposed.");
                None
            }
        }
    }
}

fn anomaly(kind: &str, target: Option<&str>, detail: String) -> (String, Trigger) {
    let key = format!("{kind}:{}", target.unwrap_or("*"));
    (key, Trigger::Anomaly { anomaly: kind.to_string(), target: target.map(str::to_string), detail })
}

/// What one tick of the LLM planner works with.
pub struct AdvisorTick<'a> {
    pub ctx: &'a Context,
    pub pipeline: &'a mut Pipeline,
    pub executor: &'a mut Executor,
    pub observation: &'a Observation,
    /// Actions that failed since the last tick.
    pub failed: Vec<FailedAction>,
    pub paused: bool,
    /// On simulated time an episode is awaited within its tick.
    pub simulated: bool,
    pub now: i64,
}

impl Advisor {
    /// One tick of the LLM planner, after the deterministic planners: file what a finished
    /// episode proposed, queue new anomalies, start the next episode if the bounds allow.
    /// Returns what executing its proposals did (in autonomous mode an allowed one runs).
    pub async fn tick(&mut self, t: AdvisorTick<'_>) -> anyhow::Result<Vec<Executed>> {
        let AdvisorTick { ctx, pipeline, executor, observation, failed, paused, simulated, now } = t;
        let mut executed = Vec::new();
        if let Some((started, report)) = self.finished(false).await {
            executed.extend(file(ctx, pipeline, executor, &report, started, observation, paused, now).await?);
        }
        let triggers = self.detect(observation, failed);
        self.enqueue(triggers, now);
        self.start_next(ctx, observation, now);
        if simulated {
            if let Some((started, report)) = self.finished(true).await {
                executed.extend(file(ctx, pipeline, executor, &report, started, observation, paused, now).await?);
            }
        }
        Ok(executed)
    }
}

/// Remember the episode, then take each proposal through the one propose path, carrying its
/// taint into policy.
#[allow(clippy::too_many_arguments)]
async fn file(
    ctx: &Context,
    pipeline: &mut Pipeline,
    executor: &mut Executor,
    report: &EpisodeReport,
    started: i64,
    observation: &Observation,
    paused: bool,
    now: i64,
) -> anyhow::Result<Vec<Executed>> {
    let id = record(&ctx.store, report, started).await?;
    ctx.telemetry.episode(now, id, report);
    let mut executed = Vec::new();
    for p in &report.proposals {
        let proposer = Proposer { kind: ProposerKind::Model, name: report.model.clone() };
        let plan = Plan { call: p.call.clone(), rationale: format!("{} (LLM episode #{id})", p.rationale) };
        let candidate = Candidate::Planned { plan, proposer, tainted: report.tainted };
        if let Proposed::Decided { executed: Some(e), .. } =
            pipeline.propose(ctx, executor, candidate, observation, paused, now).await?
        {
            executed.push(e);
        }
    }
    Ok(executed)
}
