//! Evals: replay load traces (real ones read from a path, and built-in scenario generators)
//! against the simulated cloud, and score every planner on the same run: Steward's
//! (target tracking, predictive), the autoscalers teams use today (static peak
//! provisioning, AWS target tracking, Kubernetes HPA; a KEDA-style queue scaler for GPU
//! pools), and the oracle that matches the need exactly with hindsight.
//!
//! Every planner's proposals pass through validation and the default guardrails, as in the
//! daemon; safety scenarios check that what must be stopped is stopped. Deterministic for a
//! seed.

pub mod baselines;
pub mod gpu;
pub mod llm;
pub mod replay;
pub mod report;
pub mod safety;
pub mod scenarios;
pub mod trace;

use std::path::PathBuf;

use steward_planners::{GpuQueue, Planner, Predictive, PredictiveConfig, TargetTracking};
use steward_policies::{defaults, Guardrails, Limits};

pub use gpu::GpuScore;
pub use replay::{ReplaySettings, Score};
pub use report::TracePlot;
pub use safety::SafetyOutcome;
pub use trace::{Trace, TraceError};

#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// CSV traces to replay against a web group.
    pub traces: Vec<PathBuf>,
    /// CSV job-arrival traces to replay against a GPU pool.
    pub gpu_traces: Vec<PathBuf>,
    /// Built-in scenarios to include (all of them when `None`).
    pub scenarios: Option<Vec<String>>,
    /// Length of generated scenarios, days.
    pub days: usize,
    /// Replay at most this many minutes of each trace (`None`: all of it).
    pub max_minutes: Option<usize>,
    pub settings: ReplaySettings,
    /// Workers a GPU trace's peak minute needs.
    pub peak_workers: u32,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            traces: Vec::new(),
            gpu_traces: Vec::new(),
            scenarios: None,
            days: 3,
            max_minutes: None,
            settings: ReplaySettings::default(),
            peak_workers: 12,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Scorecard {
    pub web: Vec<Score>,
    pub gpu: Vec<GpuScore>,
    pub safety: Vec<SafetyOutcome>,
    pub plots: Vec<TracePlot>,
}

impl Scorecard {
    /// Whether every invariant holds: no violation executed anywhere, every safety scenario
    /// stopped, every figure finite.
    pub fn invariants_hold(&self) -> Result<(), String> {
        for s in &self.web {
            if s.policy_violations_executed > 0 {
                return Err(format!(
                    "{} on {} executed {} policy violations",
                    s.planner, s.trace, s.policy_violations_executed
                ));
            }
            if !(s.cost_usd.is_finite() && s.over_provisioning_percent.is_finite()) {
                return Err(format!("{} on {} has a figure that is not finite", s.planner, s.trace));
            }
        }
        for g in &self.gpu {
            if g.policy_violations_executed > 0 {
                return Err(format!("{} on {} executed policy violations", g.planner, g.trace));
            }
            if ![g.wait_p50_minutes, g.wait_p95_minutes, g.gpu_hours_paid, g.cost_usd].iter().all(|v| v.is_finite()) {
                return Err(format!("{} on {} has a figure that is not finite", g.planner, g.trace));
            }
        }
        if let Some(s) = self.safety.iter().find(|s| s.executed) {
            return Err(format!("safety scenario `{}` was not stopped: {}", s.scenario, s.decision));
        }
        Ok(())
    }

    /// The figures as JSON: one object per planner × trace (web and GPU), and the safety
    /// scenarios.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({ "web": self.web, "gpu": self.gpu, "safety": self.safety })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Trace(#[from] TraceError),
    #[error("unknown scenario `{0}`; the built-in ones are {1}")]
    UnknownScenario(String, String),
    #[error("the guardrails do not load: {0}")]
    Policies(String),
}

/// The replay guardrails: the default policy set with limits that leave each planner's own
/// behaviour visible (no budget cap, a blast radius of 100, no extra cooldown).
pub fn eval_guardrails() -> Result<Guardrails, EvalError> {
    let limits = Limits {
        scale_in_cooldown_minutes: 0,
        scale_out_cooldown_minutes: 0,
        max_changes_per_group_per_hour: 60,
        hourly_budget_usd: None,
        max_capacity_change: 100,
        freeze: Vec::new(),
    };
    Guardrails::load(defaults::SCHEMA, &defaults::policies(), limits).map_err(|e| EvalError::Policies(e.to_string()))
}

fn web_planners() -> Vec<Box<dyn Planner>> {
    vec![
        Box::new(baselines::StaticPeak),
        Box::new(baselines::AwsTargetTracking::new(60.0)),
        Box::new(baselines::KubernetesHpa::new(60.0)),
        Box::new(TargetTracking::new(60.0, 5 * 60_000)),
        Box::new(Predictive::new(PredictiveConfig::default())),
    ]
}

fn gpu_planners() -> Vec<Box<dyn Planner>> {
    vec![
        Box::new(baselines::StaticPeak),
        Box::new(baselines::QueueProportional::new(2.0)),
        Box::new(GpuQueue::new(10.0, f64::from(gpu::MINUTES_PER_JOB), 5 * 60_000)),
    ]
}

/// Run the whole eval.
pub async fn run(options: &EvalOptions) -> Result<Scorecard, EvalError> {
    let guardrails = eval_guardrails()?;
    let settings = &options.settings;
    let mut web_traces = Vec::new();
    let mut gpu_traces = Vec::new();
    let wanted = |name: &str| options.scenarios.as_ref().is_none_or(|list| list.iter().any(|s| s == name));
    if let Some(list) = &options.scenarios {
        let known: Vec<&str> =
            scenarios::WEB_SCENARIOS.iter().chain(scenarios::GPU_SCENARIOS.iter()).copied().collect();
        if let Some(unknown) = list.iter().find(|s| !known.contains(&s.as_str())) {
            return Err(EvalError::UnknownScenario(unknown.clone(), known.join(", ")));
        }
    }
    for name in scenarios::WEB_SCENARIOS.iter().filter(|n| wanted(n)) {
        if let Some(t) = scenarios::generate(name, options.days, settings.seed) {
            web_traces.push(t);
        }
    }
    for name in scenarios::GPU_SCENARIOS.iter().filter(|n| wanted(n)) {
        if let Some(t) = scenarios::generate(name, options.days, settings.seed) {
            gpu_traces.push(t);
        }
    }
    for path in &options.traces {
        web_traces.push(Trace::from_csv(path)?);
    }
    for path in &options.gpu_traces {
        gpu_traces.push(Trace::from_csv(path)?);
    }
    let cut = |t: Trace| match options.max_minutes {
        Some(m) => t.truncated(m),
        None => t,
    };

    let mut card = Scorecard { web: Vec::new(), gpu: Vec::new(), safety: safety::run(), plots: Vec::new() };
    for trace in web_traces.into_iter().map(cut) {
        let trace = settings.normalise(&trace);
        let need: Vec<f64> = trace.per_minute.iter().map(|l| f64::from(settings.need(*l))).collect();
        let peak_need = need.iter().copied().fold(1.0, f64::max) as u32;
        let first_need = need.first().copied().unwrap_or(1.0);
        let mut plot = TracePlot { trace: trace.name.clone(), need, planners: Vec::new() };
        for mut planner in web_planners() {
            let initial = if planner.name() == "static-peak" {
                peak_need
            } else {
                // Start sized for the first minute at a 60 % target, as the others aim.
                (first_need * settings.slo_utilisation / 0.6).ceil() as u32
            };
            let (score, series) =
                replay::replay_web(settings, &guardrails, &trace, planner.as_mut(), initial.max(1)).await;
            plot.planners.push((score.planner.clone(), series));
            card.web.push(score);
        }
        let (score, series) = replay::oracle(settings, &trace);
        plot.planners.push((score.planner.clone(), series));
        card.web.push(score);
        card.plots.push(plot);
    }
    for trace in gpu_traces.into_iter().map(cut) {
        let trace = gpu::normalise_jobs(&trace, options.peak_workers);
        let peak = gpu::peak_workers(&trace).max(1);
        for mut planner in gpu_planners() {
            let initial = if planner.name() == "static-peak" { peak } else { 0 };
            let score = gpu::replay_gpu(&guardrails, &trace, planner.as_mut(), initial, peak * 2, settings.seed).await;
            card.gpu.push(score);
        }
    }
    Ok(card)
}
