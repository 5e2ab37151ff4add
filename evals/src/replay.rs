//! One replay: a trace drives one group of the simulated cloud, one planner proposes, and
//! every proposal goes through validation and the guardrails (the default policy set, in
//! autonomous mode) before it can run, exactly as in the daemon. What happened minute by
//! minute is scored.
//!
//! The model: one `m6i.large` serves [`REQUESTS_PER_INSTANCE`] requests per minute at 100 %
//! CPU; utilisation is the load over the capacity of the instances that are ready (a new
//! instance takes [`LAUNCH_DELAY_MINUTES`] to become ready, and is paid for from launch).
//! A minute whose utilisation is above the SLO threshold is an SLO-violation minute. The
//! *need* of a minute is the fewest instances that keep it under the threshold; the oracle
//! has exactly that, with hindsight and no launch delay.

use std::ops::Range;
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use serde::Serialize;
use steward_planners::Planner;
use steward_policies::{DecisionInput, Guardrails, Proposer, ProposerKind, Verdict};
use steward_sim::{GroupSpec, Load, SimCloud};
use steward_tools::provider::CloudProvider;
use steward_tools::{validate, ApprovedCall, Environment, Grant, GroupKind, Observation, ToolCall};

use crate::trace::Trace;

pub const REQUESTS_PER_INSTANCE: f64 = 1_000.0;
pub const LAUNCH_DELAY_MINUTES: u32 = 3;
pub const INSTANCE_TYPE: &str = "m6i.large";
const MINUTE_MS: i64 = 60_000;
/// Replays start at midnight UTC, 2026-01-05, so "same time yesterday" lines up with days.
pub const START_MS: i64 = 1_767_571_200_000;

/// The figures of one planner on one trace.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    pub planner: String,
    /// The planner's knob (its utilisation target, percent) where it has one.
    pub knob: Option<f64>,
    pub trace: String,
    pub minutes: usize,
    pub cost_usd: f64,
    pub slo_violation_minutes: u64,
    pub over_provisioning_percent: f64,
    pub scaling_actions: u64,
    pub approvals_requested: u64,
    pub policy_denials: u64,
    pub policy_violations_executed: u64,
}

/// Minute-by-minute series, for the plots.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    pub capacity: Vec<f64>,
    pub cost: Vec<f64>,
    /// Every executed change: when, and the call (what the pipeline replay must match).
    pub decisions: Vec<(i64, ToolCall)>,
}

/// Settings every planner replays under.
#[derive(Debug, Clone)]
pub struct ReplaySettings {
    /// Instances the trace's peak needs; the trace is scaled to it.
    pub peak_instances: u32,
    /// Utilisation above which a minute violates the SLO.
    pub slo_utilisation: f64,
    pub seed: u64,
}

impl Default for ReplaySettings {
    fn default() -> Self {
        ReplaySettings { peak_instances: 40, slo_utilisation: 0.85, seed: 42 }
    }
}

impl ReplaySettings {
    /// The trace in requests per minute, with its peak needing `peak_instances`.
    pub fn normalise(&self, trace: &Trace) -> Trace {
        trace.scaled_to_peak(f64::from(self.peak_instances) * REQUESTS_PER_INSTANCE * self.slo_utilisation)
    }

    pub fn need(&self, load: f64) -> u32 {
        ((load / (REQUESTS_PER_INSTANCE * self.slo_utilisation)).ceil() as u32).max(1)
    }

    fn price(&self) -> f64 {
        steward_tools::prices::hourly_price(INSTANCE_TYPE).unwrap_or(0.0)
    }
}

/// Where a planner starts on `trace` (normalised): sized for the first minute at its own
/// target (`knob`), or for the peak without one.
pub fn initial_capacity(settings: &ReplaySettings, trace: &Trace, knob: Option<f64>) -> u32 {
    let need = |load: f64| f64::from(settings.need(load));
    let initial = match knob {
        None => trace.per_minute.iter().map(|l| need(*l)).fold(1.0, f64::max) as u32,
        Some(target) => {
            let first = trace.per_minute.first().map_or(1.0, |l| need(*l));
            (first * settings.slo_utilisation / (target / 100.0)).ceil() as u32
        }
    };
    initial.max(1)
}

/// The oracle: capacity equal to the need every minute, with hindsight and no delay.
pub fn oracle(settings: &ReplaySettings, trace: &Trace) -> (Score, Series) {
    let price = settings.price();
    let mut series = Series::default();
    let mut spent = 0.0;
    let mut changes = 0;
    let mut previous = None;
    for &load in &trace.per_minute {
        let need = settings.need(load);
        spent += f64::from(need) * price / 60.0;
        if previous.is_some_and(|p| p != need) {
            changes += 1;
        }
        previous = Some(need);
        series.capacity.push(f64::from(need));
        series.cost.push(spent);
    }
    let score = Score {
        planner: "oracle".into(),
        knob: None,
        trace: trace.name.clone(),
        minutes: trace.per_minute.len(),
        cost_usd: spent,
        slo_violation_minutes: 0,
        over_provisioning_percent: 0.0,
        scaling_actions: changes,
        approvals_requested: 0,
        policy_denials: 0,
        policy_violations_executed: 0,
    };
    (score, series)
}

/// The replayed group: `web`, in staging, driven by `trace`, starting at `desired`.
pub fn web_group(settings: &ReplaySettings, trace: &Trace, desired: u32) -> GroupSpec {
    GroupSpec {
        name: "web".into(),
        kind: GroupKind::AutoScaling,
        environment: Environment::Staging,
        instance_type: INSTANCE_TYPE.into(),
        min: 1,
        max: settings.peak_instances * 3,
        desired,
        requests_per_instance: REQUESTS_PER_INSTANCE,
        launch_delay_minutes: LAUNCH_DELAY_MINUTES,
        minutes_per_job: 0,
        unmanaged: 0,
        load: Load::Series(Arc::new(trace.per_minute.clone())),
        pool: Default::default(),
    }
}

/// What the metrics get wrong during a replay (the robustness scenarios); the load and
/// the SLO are the trace's own, only what the planner is shown changes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Disturbance {
    /// Minutes with no datapoints (CloudWatch returned nothing): no CPU, no requests.
    pub metric_gaps: Vec<Range<usize>>,
    /// Relative noise on each minute's CPU reading (0.2: uniform within ±20 %), seeded.
    pub cpu_noise: f64,
}

impl Disturbance {
    /// Disturb the replayed group (`web`) in `observation`, as shown at `minute` of the
    /// replay; the noise depends on the minute and the seed alone (however often the minute
    /// is observed).
    pub fn apply(&self, minute: usize, seed: u64, observation: &mut Observation) {
        let Some(group) = observation.groups.iter_mut().find(|g| g.name == "web") else { return };
        if self.metric_gaps.iter().any(|gap| gap.contains(&minute)) {
            group.cpu_percent = None;
            group.requests_per_minute = None;
        } else if self.cpu_noise > 0.0 {
            let mut rng =
                ChaCha8Rng::seed_from_u64(seed ^ 0x6d65_7472_6963 ^ (minute as u64).wrapping_mul(0x9e37_79b9));
            let factor = 1.0 + rng.gen_range(-self.cpu_noise..=self.cpu_noise);
            group.cpu_percent = group.cpu_percent.map(|cpu| (cpu * factor).clamp(0.0, 100.0));
        }
    }
}

/// A replay's running score: what each minute cost, and how its capacity met the load.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tally {
    pub cost_usd: f64,
    pub slo_violation_minutes: u64,
    over: f64,
    need: f64,
}

impl Tally {
    /// One minute: `load` served by `running` ready instances, at `cost_usd` for the minute.
    pub fn minute(&mut self, settings: &ReplaySettings, load: f64, running: f64, cost_usd: f64) {
        let utilisation = if running > 0.0 {
            load / (running * REQUESTS_PER_INSTANCE)
        } else if load > 0.0 {
            f64::INFINITY
        } else {
            0.0
        };
        if utilisation > settings.slo_utilisation {
            self.slo_violation_minutes += 1;
        }
        let need = f64::from(settings.need(load));
        self.over += (running - need).max(0.0);
        self.need += need;
        self.cost_usd += cost_usd;
    }

    /// Capacity beyond the need, as a share of the need, percent.
    pub fn over_provisioning_percent(&self) -> f64 {
        if self.need > 0.0 {
            self.over / self.need * 100.0
        } else {
            0.0
        }
    }
}

/// Decides and carries out one planner's proposals, keeping the counts.
pub(crate) struct Gate<'a> {
    pub guardrails: &'a Guardrails,
    pub proposer: Proposer,
    pub executed_at: Vec<i64>,
    pub actions: u64,
    pub approvals: u64,
    pub denials: u64,
    pub violations: u64,
    /// What ran, and when.
    pub decisions: Vec<(i64, ToolCall)>,
    /// What the replay has cost so far (its month-to-date, for budgets), USD.
    pub spent_usd: f64,
    /// Actions the cloud refused or could not carry out (no capacity anywhere allowed).
    pub failures: u64,
}

impl<'a> Gate<'a> {
    pub fn new(guardrails: &'a Guardrails, planner: &str) -> Gate<'a> {
        Gate {
            guardrails,
            proposer: Proposer { kind: ProposerKind::Planner, name: planner.to_string() },
            executed_at: Vec::new(),
            actions: 0,
            approvals: 0,
            denials: 0,
            violations: 0,
            decisions: Vec::new(),
            spent_usd: 0.0,
            failures: 0,
        }
    }

    /// Take the planner's proposals for this observation through validation and policy;
    /// execute what policy lets run. Counts executed actions whose decision was a deny as
    /// violations: the figure every scorecard row must show as zero.
    pub async fn step(&mut self, cloud: &SimCloud, planner: &mut dyn Planner, observation: &Observation) {
        for plan in planner.plan(observation) {
            let Ok(validated) = validate(plan.call, observation) else { continue };
            let now = observation.at_ms;
            let input = DecisionInput {
                proposer: self.proposer.clone(),
                now_ms: now,
                hourly_burn_usd: observation.hourly_burn(),
                month_to_date_usd: self.spent_usd,
                group_month_to_date_usd: self.spent_usd,
                last_change_ms: self.executed_at.last().copied(),
                changes_last_hour: self.executed_at.iter().filter(|t| **t > now - 3_600_000).count() as u32,
                tainted: false,
                idle_only: observation.terminates_only_idle(validated.call()),
            };
            let decision = self.guardrails.decide(&validated, &input);
            // Nobody approves during a replay, so a proposal that needs approval is counted
            // and then treated as approved at once (an operator who always says yes): the
            // score shows the planner's decisions, not how fast people answer.
            let may_run = match decision.verdict {
                Verdict::Deny => {
                    self.denials += 1;
                    false
                }
                Verdict::NeedsApproval { .. } => {
                    self.approvals += 1;
                    true
                }
                Verdict::Allow => true,
            };
            if !may_run {
                continue;
            }
            let action_id = format!("eval-{now}-{}", self.actions);
            let call = validated.call().clone();
            let approved = ApprovedCall::grant(validated, Grant::Policy { policies: vec![] });
            if cloud.execute(&action_id, &approved).await.is_ok() {
                self.actions += 1;
                self.decisions.push((now, call));
                self.executed_at.push(now);
                if decision.verdict == Verdict::Deny {
                    self.violations += 1;
                }
            } else {
                self.failures += 1;
            }
        }
    }
}

/// Replay `trace` (already normalised) with `planner` starting at `initial` instances,
/// its metrics disturbed as `disturbance` says.
pub async fn replay_web(
    settings: &ReplaySettings,
    guardrails: &Guardrails,
    (trace, disturbance): (&Trace, &Disturbance),
    planner: &mut dyn Planner,
    initial: u32,
) -> (Score, Series) {
    let cloud = SimCloud::new(vec![web_group(settings, trace, initial)], START_MS, settings.seed);
    let mut gate = Gate::new(guardrails, planner.name());
    let price = settings.price();
    let mut tally = Tally::default();
    let mut series = Series::default();
    for (minute, &load) in trace.per_minute.iter().enumerate() {
        let Ok(mut observation) = cloud.observe().await else { break };
        let Some(web) = observation.group("web") else { break };
        let running = f64::from(web.running());
        let billed = web.instances.len() as f64;
        tally.minute(settings, load, running, billed * price / 60.0);
        series.capacity.push(running);
        series.cost.push(tally.cost_usd);
        disturbance.apply(minute, settings.seed, &mut observation);
        gate.step(&cloud, planner, &observation).await;
        cloud.advance_clock(MINUTE_MS).await;
    }
    series.decisions = std::mem::take(&mut gate.decisions);
    let score = Score {
        planner: planner.name().to_string(),
        knob: None,
        trace: trace.name.clone(),
        minutes: trace.per_minute.len(),
        cost_usd: tally.cost_usd,
        slo_violation_minutes: tally.slo_violation_minutes,
        over_provisioning_percent: tally.over_provisioning_percent(),
        scaling_actions: gate.actions,
        approvals_requested: gate.approvals,
        policy_denials: gate.denials,
        policy_violations_executed: gate.violations,
    };
    (score, series)
}
