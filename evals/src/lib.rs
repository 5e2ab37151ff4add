//! Evals: replay load traces (real ones read from a path, and built-in scenario generators)
//! against the simulated cloud, and score every planner on the same run: Steward's
//! (target tracking, predictive), the autoscalers teams use today (static peak
//! provisioning, AWS target tracking, Kubernetes HPA; a KEDA-style queue scaler for GPU
//! pools), and the oracle that matches the need exactly with hindsight.
//!
//! Every planner's proposals pass through validation and the default guardrails, as in the
//! daemon; safety scenarios check that what must be stopped is stopped. Deterministic for a
//! seed.

pub mod aws_predictive;
pub mod baselines;
pub mod floor;
pub mod frontier;
pub mod gpu;
pub mod llm;
pub mod replay;
pub mod report;
pub mod safety;
pub mod scenarios;
pub mod trace;

use std::path::PathBuf;

use steward_planners::{GpuQueue, GpuQueueConfig, Planner, Predictive, PredictiveConfig, TargetTracking};
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
    /// Steward's predictive planner as every knob moves it ([`PredictiveConfig::moved_to`]):
    /// the daemon's defaults, frozen; the sensitivity example moves one parameter at a time.
    pub predictive: PredictiveConfig,
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
            predictive: PredictiveConfig::default(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Scorecard {
    pub web: Vec<Score>,
    pub gpu: Vec<GpuScore>,
    pub safety: Vec<SafetyOutcome>,
    pub plots: Vec<TracePlot>,
    /// Per web trace, the least any planner can pay for as few SLO-violation minutes.
    pub floors: Vec<floor::Floor>,
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
        monthly_budget_usd: None,
        max_capacity_change: 100,
        freeze: Vec::new(),
    };
    Guardrails::load(defaults::SCHEMA, &defaults::policies(), limits).map_err(|e| EvalError::Policies(e.to_string()))
}

/// Every web planner, each planner with a knob once per value of [`frontier::KNOBS`].
fn web_planners(predictive: &PredictiveConfig) -> Vec<(Box<dyn Planner>, Option<f64>)> {
    let mut list: Vec<(Box<dyn Planner>, Option<f64>)> = vec![(Box::new(baselines::StaticPeak), None)];
    for knob in frontier::KNOBS {
        list.push((Box::new(baselines::AwsTargetTracking::new(knob)), Some(knob)));
        list.push((Box::new(aws_predictive::AwsPredictiveScaling::new(knob)), Some(knob)));
        list.push((Box::new(baselines::KubernetesHpa::new(knob)), Some(knob)));
        list.push((Box::new(TargetTracking::new(knob, frontier::TARGET_TRACKING_COOLDOWN_MS)), Some(knob)));
        list.push((Box::new(Predictive::new(predictive.clone().moved_to(knob))), Some(knob)));
    }
    list
}

/// Steward's GPU planner as every GPU row runs it: the daemon's defaults, frozen.
pub fn gpu_queue() -> GpuQueue {
    GpuQueue::new(GpuQueueConfig {
        minutes_per_job: f64::from(gpu::MINUTES_PER_JOB),
        launch_minutes: f64::from(gpu::GPU_LAUNCH_DELAY),
        ..GpuQueueConfig::default()
    })
}

/// One GPU row's planner: the options it runs on, its row's name, and whether its workers
/// run one job each (KEDA's ScaledJob and SkyPilot's managed jobs: a pod or a cluster per
/// job, gone when the job ends) or take the next job when free.
struct GpuEntry {
    planner: Box<dyn Planner>,
    options: gpu::Options,
    label: Option<&'static str>,
    one_job_per_worker: bool,
}

fn gpu_planners() -> Vec<GpuEntry> {
    let entry = |planner: Box<dyn Planner>, options, label, one_job_per_worker| GpuEntry {
        planner,
        options,
        label,
        one_job_per_worker,
    };
    vec![
        entry(Box::new(baselines::StaticPeak), gpu::Options::OnDemand, None, false),
        entry(Box::new(baselines::PerJobWorkers::keda_scaled_job()), gpu::Options::First, None, true),
        // Kinder to KEDA than the "one job, one worker": a freed worker takes the
        // next queued job (a node reused by the next pod), so fewer boots are paid.
        entry(
            Box::new(baselines::PerJobWorkers::keda_scaled_job()),
            gpu::Options::First,
            Some("keda-scaled-job-reuse"),
            false,
        ),
        entry(Box::new(baselines::PerJobWorkers::skypilot_failover()), gpu::Options::OnDemand, None, true),
        entry(Box::new(gpu_queue()), gpu::Options::OnDemand, Some("gpu-queue-on-demand"), false),
        entry(Box::new(gpu_queue()), gpu::Options::All, None, false),
    ]
}

/// What a GPU scenario does to the options: a shortage of the first for an hour (in the
/// second burst), the Spot Advisor's interruption buckets, a storm (in the third burst).
fn gpu_conditions(name: &str) -> gpu::Conditions {
    let calm = gpu::Conditions::CALM;
    match name {
        "gpu-capacity-shortage" => gpu::Conditions { shortage: Some((235, 295)), ..calm },
        "gpu-spot-under-5" => gpu::Conditions { spot_interruptions_per_month: 0.03, ..calm },
        "gpu-spot-5-10" => gpu::Conditions { spot_interruptions_per_month: 0.075, ..calm },
        "gpu-spot-10-15" => gpu::Conditions { spot_interruptions_per_month: 0.125, ..calm },
        "gpu-spot-storm" => {
            gpu::Conditions { spot_interruptions_per_month: 0.125, storm: Some((478, 30, 0.6)), ..calm }
        }
        _ => calm,
    }
}

/// The web scenarios: the load shapes, then the robustness ones.
fn web_scenarios() -> impl Iterator<Item = &'static &'static str> {
    scenarios::WEB_SCENARIOS.iter().chain(scenarios::ROBUSTNESS_SCENARIOS.iter())
}

fn wanted(options: &EvalOptions, name: &str) -> bool {
    options.scenarios.as_ref().is_none_or(|list| list.iter().any(|s| s == name))
}

fn cut(options: &EvalOptions, trace: Trace) -> Trace {
    match options.max_minutes {
        Some(m) => trace.truncated(m),
        None => trace,
    }
}

/// The web traces `options` asks for (the scenarios wanted, then the CSV traces), each cut
/// and normalised, with what its metrics get wrong. An unknown scenario name or a broken
/// trace is an error naming it.
pub fn web_inputs(options: &EvalOptions) -> Result<Vec<(Trace, replay::Disturbance)>, EvalError> {
    let settings = &options.settings;
    if let Some(list) = &options.scenarios {
        let known: Vec<&str> = web_scenarios().chain(scenarios::GPU_SCENARIOS.iter()).copied().collect();
        if let Some(unknown) = list.iter().find(|s| !known.contains(&s.as_str())) {
            return Err(EvalError::UnknownScenario(unknown.clone(), known.join(", ")));
        }
    }
    let mut out = Vec::new();
    for name in web_scenarios().filter(|n| wanted(options, n)) {
        if let Some(t) = scenarios::generate(name, options.days, settings.seed) {
            let disturbance = scenarios::disturbance(name, t.per_minute.len());
            out.push((t, disturbance));
        }
    }
    for path in &options.traces {
        out.push((Trace::from_csv(path)?, replay::Disturbance::default()));
    }
    Ok(out.into_iter().map(|(t, d)| (settings.normalise(&cut(options, t)), d)).collect())
}

/// Run the whole eval.
pub async fn run(options: &EvalOptions) -> Result<Scorecard, EvalError> {
    let guardrails = eval_guardrails()?;
    let settings = &options.settings;
    let web_traces = web_inputs(options)?;
    let mut gpu_traces = Vec::new();
    for name in scenarios::GPU_SCENARIOS.iter().filter(|n| wanted(options, n)) {
        if let Some(t) = scenarios::generate(name, options.days, settings.seed) {
            gpu_traces.push((t, gpu_conditions(name)));
        }
    }
    for path in &options.gpu_traces {
        let trace = Trace::from_csv(path)?;
        // A short trace (the Azure LLM hour) is replayed as a long one.
        let trace = if trace.per_minute.len() < 360 { gpu::tiled(&trace, 8) } else { trace };
        gpu_traces.push((trace, gpu::Conditions::CALM));
    }
    let cut_gpu = |(t, c): (Trace, gpu::Conditions)| (cut(options, t), c);

    let mut card =
        Scorecard { web: Vec::new(), gpu: Vec::new(), safety: safety::run(), plots: Vec::new(), floors: Vec::new() };
    for (trace, disturbance) in web_traces {
        let need: Vec<f64> = trace.per_minute.iter().map(|l| f64::from(settings.need(*l))).collect();
        let mut plot = TracePlot { trace: trace.name.clone(), need, planners: Vec::new() };
        for (mut planner, knob) in web_planners(&options.predictive) {
            let initial = replay::initial_capacity(settings, &trace, knob);
            let (mut score, series) =
                replay::replay_web(settings, &guardrails, (&trace, &disturbance), planner.as_mut(), initial).await;
            score.knob = knob;
            // The capacity plot shows each planner once: at the 60 % knob.
            if knob.is_none_or(|k| k == frontier::PLOTTED_KNOB) {
                plot.planners.push((score.planner.clone(), series));
            }
            card.web.push(score);
        }
        let (score, series) = replay::oracle(settings, &trace);
        card.floors.push(floor::Floor::new(&trace.name, &plot.need, score.cost_usd));
        plot.planners.push((score.planner.clone(), series));
        card.web.push(score);
        card.plots.push(plot);
    }
    for (trace, conditions) in gpu_traces.into_iter().map(cut_gpu) {
        let trace = gpu::normalise_jobs(&trace, options.peak_workers);
        let peak = gpu::peak_workers(&trace).max(1);
        let price = steward_tools::prices::hourly_price(gpu::GPU_TYPE).unwrap_or(1.0);
        // Room for twice the peak; the tight-budget scenario affords 60 % of the peak.
        let share = if trace.name == "gpu-tight-budget" { 0.6 } else { 2.0 };
        let budget = steward_tools::Budget {
            max_usd_per_hour: Some((f64::from(peak) * share).ceil() * price),
            max_usd_per_month: None,
        };
        for mut entry in gpu_planners() {
            // Static provisioning buys what the budget affords of the peak.
            let affordable = budget.max_usd_per_hour.map_or(peak, |cap| (cap / price + 1e-9).floor() as u32);
            let initial = if entry.planner.name() == "static-peak" { peak.min(affordable) } else { 0 };
            let mut pool = gpu::pool(entry.options, &conditions, budget);
            pool.one_job_per_worker = entry.one_job_per_worker;
            let run = gpu::GpuRun {
                trace: &trace,
                pool,
                initial,
                max_workers: peak * 2,
                seed: settings.seed,
                label: entry.label.map(str::to_string),
            };
            card.gpu.push(gpu::replay_gpu(&guardrails, run, entry.planner.as_mut()).await);
        }
    }
    Ok(card)
}

/// The GPU issue's bars, one line per trace and bar, `OK` or `MISS`: Steward's planner (on
/// demand) pays at most 0.85 times the KEDA-style baseline's GPU-hours at no worse p95
/// wait; with spot it costs at most 0.6 times its own on-demand run at no worse p95 wait;
/// no row overruns its budget or executes a policy violation.
pub fn gpu_checks(rows: &[GpuScore]) -> Vec<String> {
    let mut traces: Vec<&str> = rows.iter().map(|r| r.trace.as_str()).collect();
    traces.dedup();
    let mut out = Vec::new();
    let verdict = |ok: bool| if ok { "OK  " } else { "MISS" };
    for trace in traces {
        let row = |planner: &str| rows.iter().find(|r| r.trace == trace && r.planner == planner);
        // `value` of `row` at most `bound` times `base`'s, at no worse p95 wait.
        let bar = |row: &GpuScore, base: &GpuScore, value: fn(&GpuScore) -> f64, bound: f64| {
            let ratio = value(row) / value(base).max(1e-9);
            (ratio, ratio <= bound && row.wait_p95_minutes <= base.wait_p95_minutes + 1e-9)
        };
        if let (Some(keda), Some(od)) = (row("keda-scaled-job"), row("gpu-queue-on-demand")) {
            let (ratio, ok) = bar(od, keda, |r| r.gpu_hours_paid, 0.85);
            out.push(format!(
                "{} {trace}: gpu-queue-on-demand {:.1} GPU-h = {ratio:.2} × keda-scaled-job's {:.1} (≤ 0.85), p95 wait {:.1} vs {:.1} min",
                verdict(ok),
                od.gpu_hours_paid,
                keda.gpu_hours_paid,
                od.wait_p95_minutes,
                keda.wait_p95_minutes
            ));
        }
        if let (Some(kind), Some(od)) = (row("keda-scaled-job-reuse"), row("gpu-queue-on-demand")) {
            // Not the bar: the baseline given node reuse, printed so it is seen.
            let (ratio, ok) = bar(od, kind, |r| r.gpu_hours_paid, 0.85);
            out.push(format!(
                "info {trace}: against keda-scaled-job-reuse {:.1} GPU-h: {ratio:.2}×, p95 wait {:.1} vs {:.1} min ({})",
                kind.gpu_hours_paid,
                od.wait_p95_minutes,
                kind.wait_p95_minutes,
                if ok { "would meet 0.85" } else { "would miss 0.85" }
            ));
        }
        if let (Some(od), Some(spot)) = (row("gpu-queue-on-demand"), row("gpu-queue")) {
            let (ratio, ok) = bar(spot, od, |r| r.cost_usd, 0.6);
            out.push(format!(
                "{} {trace}: gpu-queue with spot ${:.2} = {ratio:.2} × on demand ${:.2} (≤ 0.6), p95 wait {:.1} vs {:.1} min",
                verdict(ok),
                spot.cost_usd,
                od.cost_usd,
                spot.wait_p95_minutes,
                od.wait_p95_minutes
            ));
        }
        let bad: Vec<&GpuScore> = rows
            .iter()
            .filter(|r| r.trace == trace && (r.budget_overruns > 0 || r.policy_violations_executed > 0))
            .collect();
        out.push(format!(
            "{} {trace}: budget overruns and policy violations executed: {}",
            verdict(bad.is_empty()),
            if bad.is_empty() {
                "none".to_string()
            } else {
                bad.iter()
                    .map(|r| {
                        format!(
                            "{} ({} overrun min, {} violations)",
                            r.planner, r.budget_overruns, r.policy_violations_executed
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ));
    }
    out
}
