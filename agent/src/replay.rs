//! `steward eval --pipeline`: a web trace replayed through the daemon itself, not beside
//! it. The real [`Daemon`] ticks once a simulated minute over the simulated cloud, with its
//! store and audit log on SQLite (a file in a scratch directory), Steward's planner at one
//! knob value (`planner.target_cpu_percent`), the propose path (kill switch, supersede,
//! back-off, validation, policy, limits, mode), the executor and the audit keeper. Proposals
//! that wait for a person are answered by a scripted approver after a set delay, through the
//! service core as any approver would be.
//!
//! The score is read back from what the daemon recorded (each tick's observation in the
//! store, each executed proposal), so it measures the system a user runs. With the eval's
//! limits and autonomous mode it must decide exactly what the fast replay decides (a test
//! compares them).

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use async_trait::async_trait;
use serde::Serialize;
use steward_evals::replay::{initial_capacity, web_group, Disturbance, Tally, START_MS};
use steward_evals::{ReplaySettings, Score, Trace};
use steward_memory::{ProposalState, Store};
use steward_sim::SimCloud;
use steward_tools::provider::{ActionReceipt, CloudProvider, ProviderError};
use steward_tools::{ApprovedCall, Observation, ToolCall};
use tokio::sync::Mutex;

use crate::config::{Config, FileConfig, Overrides};
use crate::daemon::{AfterTick, Daemon, DaemonClock, DaemonParts, RunOptions};
use crate::service::{Caller, Service};
use crate::telemetry::Telemetry;

const MINUTE_MS: i64 = 60_000;
/// Who the scripted approver is, in approvals and the audit log.
const APPROVER: &str = "eval-approver";

/// One pipeline replay's figures: the scorecard row, and what the pipeline did.
#[derive(Debug, Clone, Serialize)]
pub struct PipelineScore {
    #[serde(flatten)]
    pub score: Score,
    pub ticks: u64,
    pub ticks_per_second: f64,
    pub audit_entries: i64,
}

/// What a pipeline replay needs besides the trace.
#[derive(Debug, Clone)]
pub struct PipelineRun<'a> {
    pub settings: &'a ReplaySettings,
    /// Already normalised.
    pub trace: &'a Trace,
    pub disturbance: &'a Disturbance,
    /// The planner's knob: its utilisation target, percent.
    pub knob: f64,
    pub initial: u32,
    /// How long the scripted approver waits before approving, milliseconds.
    pub approve_after_ms: i64,
    /// Supervised mode (every change waits for the approver) instead of autonomous.
    pub supervised: bool,
}

impl<'a> PipelineRun<'a> {
    /// Autonomous, starting where the fast replay starts at `knob`, the approver waiting
    /// five minutes.
    pub fn at(settings: &'a ReplaySettings, trace: &'a Trace, disturbance: &'a Disturbance, knob: f64) -> Self {
        PipelineRun {
            settings,
            trace,
            disturbance,
            knob,
            initial: initial_capacity(settings, trace, Some(knob)),
            approve_after_ms: 5 * 60_000,
            supervised: false,
        }
    }
}

/// The simulated cloud, with what the planner is shown disturbed as the scenario says.
struct Disturbed {
    cloud: SimCloud,
    disturbance: Disturbance,
    seed: u64,
}

#[async_trait]
impl CloudProvider for Disturbed {
    fn name(&self) -> &'static str {
        self.cloud.name()
    }

    async fn observe(&self) -> Result<Observation, ProviderError> {
        let mut observation = self.cloud.observe().await?;
        let minute = usize::try_from((observation.at_ms - START_MS) / MINUTE_MS).unwrap_or(0);
        self.disturbance.apply(minute, self.seed, &mut observation);
        Ok(observation)
    }

    async fn execute(&self, action_id: &str, call: &ApprovedCall) -> Result<ActionReceipt, ProviderError> {
        self.cloud.execute(action_id, call).await
    }

    async fn find_action(&self, action_id: &str) -> Result<Option<ActionReceipt>, ProviderError> {
        self.cloud.find_action(action_id).await
    }

    async fn check(&self, call: &ToolCall, receipt: &ActionReceipt) -> Option<Result<String, String>> {
        self.cloud.check(call, receipt).await
    }

    async fn advance_clock(&self, by_ms: i64) -> bool {
        self.cloud.advance_clock(by_ms).await
    }
}

/// Approves, through the service core, every proposal that has waited `after_ms`.
struct ScriptedApprover {
    service: Service,
    after_ms: i64,
    seen: Mutex<std::collections::BTreeSet<i64>>,
}

#[async_trait]
impl AfterTick for ScriptedApprover {
    async fn after_tick(&self, _observation: &Observation, pending_approvals: usize) {
        if pending_approvals == 0 {
            return;
        }
        let Ok(queue) = self.service.queue().await else { return };
        let mut seen = self.seen.lock().await;
        for item in queue {
            seen.insert(item.proposal.id);
            if item.age_ms >= self.after_ms {
                let caller = Caller::os_user(APPROVER, None);
                if let Err(e) = self.service.decide(&caller, item.proposal.id, true, "", None).await {
                    tracing::warn!(proposal = item.proposal.id, error = %e, "The scripted approver could not approve.");
                }
            }
        }
    }
}

/// The daemon's config for a replay: autonomous (or supervised), Steward's predictive planner at `knob`,
/// the eval's limits (no budget, no extra cooldown, a blast radius of 100), one tick a
/// minute, the store and checkpoints in `dir`.
fn config(dir: &Path, knob: f64, supervised: bool) -> anyhow::Result<Config> {
    let mode = if supervised { "supervised" } else { "autonomous" };
    let text = format!(
        "mode = \"{mode}\"\ntick_interval = \"1m\"\n\
         [planner]\nscaling = \"predictive\"\ntarget_cpu_percent = {knob}\n\
         [limits]\nscale_in_cooldown_minutes = 0\nscale_out_cooldown_minutes = 0\n\
         max_changes_per_group_per_hour = 60\nmax_capacity_change = 100\n\
         [execution]\nmax_calls_per_minute = 100000\n\
         [audit]\ncheckpoint_dir = \"{0}/checkpoints\"\ncheckpoint_key = \"{0}/checkpoint.key\"\n",
        dir.display()
    );
    let file: FileConfig = toml::from_str(&text).context("the replay's config")?;
    let mut config = Config::resolve(file, Overrides::default(), None)?;
    config.sim_state_dir = dir.join("sim");
    Ok(config)
}

/// Replay `run.trace` through the daemon, with its store and audit log in `dir`; the
/// score, and every executed change (when, and the call).
pub async fn replay(run: PipelineRun<'_>, dir: &Path) -> anyhow::Result<(PipelineScore, Vec<(i64, ToolCall)>)> {
    let settings = run.settings;
    let store = Store::connect(&format!("sqlite://{}", dir.join("steward.db").display())).await?;
    let config = Arc::new(config(dir, run.knob, run.supervised)?);
    // The scratch store's checkpoint key is the replay's own and goes with it: made here,
    // so the daemon does not warn, once a replay, about a new key nobody is to keep.
    steward_memory::checkpoint::load_or_create_key(&config.audit.checkpoint_key)?;
    let cloud = SimCloud::new(vec![web_group(settings, run.trace, run.initial)], START_MS, settings.seed);
    let provider = Arc::new(Disturbed { cloud, disturbance: run.disturbance.clone(), seed: settings.seed });
    let approver = Arc::new(ScriptedApprover {
        service: Service::new(config.clone(), store.clone()).on_replay_clock(),
        after_ms: run.approve_after_ms,
        seen: Mutex::new(Default::default()),
    });
    let parts = DaemonParts {
        config,
        store: store.clone(),
        provider,
        clock: DaemonClock::starting_at(START_MS),
        telemetry: Arc::new(Telemetry::new(false)),
        ready: Arc::new(AtomicBool::new(false)),
        hooks: vec![approver.clone()],
    };
    let minutes = run.trace.per_minute.len();
    let started = Instant::now();
    let daemon = Daemon::start(parts).await?;
    let summary =
        daemon.run(RunOptions { ticks: Some(minutes as u64), realtime: false }, std::future::pending()).await?;
    let seconds = started.elapsed().as_secs_f64();

    let observed = store.observations("web", START_MS, START_MS + minutes as i64 * MINUTE_MS).await?;
    let mut tally = Tally::default();
    for row in &observed {
        let minute = usize::try_from((row.at_ms - START_MS) / MINUTE_MS).unwrap_or(usize::MAX);
        let Some(&load) = run.trace.per_minute.get(minute) else { continue };
        tally.minute(settings, load, row.running as f64, row.hourly_burn / 60.0);
    }
    let succeeded = store.proposals_in(&[ProposalState::Succeeded]).await?;
    let mut decisions: Vec<(i64, ToolCall)> =
        succeeded.iter().map(|p| (p.updated_ms.div_euclid(MINUTE_MS) * MINUTE_MS, p.call.clone())).collect();
    decisions.sort_by_key(|(at, _)| *at);
    let denied = store.proposals_in(&[ProposalState::Denied]).await?;
    let violations_executed = succeeded.iter().filter(|p| p.verdict.as_deref() == Some("deny")).count();
    let audit_entries = store.audit_head().await?.map_or(0, |(seq, _)| seq);
    let score = Score {
        planner: "predictive".into(),
        knob: Some(run.knob),
        trace: run.trace.name.clone(),
        minutes,
        cost_usd: tally.cost_usd,
        slo_violation_minutes: tally.slo_violation_minutes,
        over_provisioning_percent: tally.over_provisioning_percent(),
        scaling_actions: succeeded.len() as u64,
        approvals_requested: approver.seen.lock().await.len() as u64,
        policy_denials: denied.len() as u64,
        policy_violations_executed: violations_executed as u64,
    };
    let ticks = summary.ticks;
    let score = PipelineScore { score, ticks, ticks_per_second: ticks as f64 / seconds.max(1e-9), audit_entries };
    Ok((score, decisions))
}
