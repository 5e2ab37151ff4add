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
use steward_memory::ProposalState;
use steward_planners::Plan;
use steward_policies::{Proposer, ProposerKind};
use steward_tools::{GroupKind, Observation};
use tokio::task::JoinHandle;

use super::{pipeline, Daemon};
use crate::config::LlmConfig;
use crate::llm::{briefing, record, FleetTools};

const HOUR_MS: i64 = 3_600_000;
/// Triggers waiting for their turn; more are dropped (they come back if they persist).
const MAX_QUEUED: usize = 8;

struct Breach {
    ticks: u32,
    desired_at_start: u32,
}

/// A failed action, as the executor reports it.
#[derive(Debug, Clone)]
pub(crate) struct FailedAction {
    pub id: i64,
    pub target: String,
    pub what: String,
}

pub(crate) struct Advisor {
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
        let client = LlmClient::new(config.settings.clone()).map_err(anyhow::Error::msg)?;
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
    fn start_next(&mut self, d: &Daemon, observation: &Observation, now: i64) {
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
            store: d.store.clone(),
            guardrails: d.guardrails.clone(),
            model: self.client.settings().model.clone(),
        };
        let client = self.client.clone();
        d.telemetry.episode_started(now, &trigger);
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

/// One tick of the LLM planner, after the deterministic planners.
pub(crate) async fn tick(d: &mut Daemon, observation: &Observation, paused: bool, now: i64) -> anyhow::Result<()> {
    let Some(mut advisor) = d.advisor.take() else { return Ok(()) };
    let result = tick_with(d, &mut advisor, observation, paused, now).await;
    d.advisor = Some(advisor);
    result
}

async fn tick_with(
    d: &mut Daemon,
    advisor: &mut Advisor,
    observation: &Observation,
    paused: bool,
    now: i64,
) -> anyhow::Result<()> {
    if let Some((started, report)) = advisor.finished(false).await {
        file(d, &report, started, observation, paused, now).await?;
    }
    let failed = std::mem::take(&mut d.failed_actions);
    let triggers = advisor.detect(observation, failed);
    advisor.enqueue(triggers, now);
    advisor.start_next(d, observation, now);
    if d.simulated {
        if let Some((started, report)) = advisor.finished(true).await {
            file(d, &report, started, observation, paused, now).await?;
        }
    }
    Ok(())
}

/// Remember the episode, then take each proposal through the same pipeline as any
/// planner's, carrying its taint into policy.
async fn file(
    d: &mut Daemon,
    report: &EpisodeReport,
    started: i64,
    observation: &Observation,
    paused: bool,
    now: i64,
) -> anyhow::Result<()> {
    let id = record(&d.store, report, started).await?;
    d.telemetry.episode(now, id, report);
    if report.proposals.is_empty() {
        return Ok(());
    }
    let waiting = d.store.proposals_in(&[ProposalState::PendingApproval]).await?;
    for p in &report.proposals {
        let proposer = Proposer { kind: ProposerKind::Model, name: report.model.clone() };
        let plan = Plan { call: p.call.clone(), rationale: format!("{} (LLM episode #{id})", p.rationale) };
        let here: Vec<_> = waiting.iter().filter(|w| w.target == p.call.target()).cloned().collect();
        let origin = pipeline::Origin { proposer, tainted: report.tainted };
        pipeline::propose(d, plan, origin, &here, observation, paused, now).await?;
    }
    Ok(())
}
