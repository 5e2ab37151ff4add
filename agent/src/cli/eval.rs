//! `steward eval`: replay traces and scenarios, score every planner, write the scorecard.

use std::path::{Path, PathBuf};

use std::sync::Arc;

use anyhow::Context;
use steward_evals::llm::{markdown as llm_markdown, score, Outcome, Scenario, ScenarioTrigger, Scored};
use steward_evals::{run, web_inputs, EvalError, EvalOptions, ReplaySettings};
use steward_llm::{run_episode, LlmClient, Trigger};
use steward_memory::Store;
use steward_policies::{Proposer, ProposerKind};

use super::failure::BadInput;
use super::output::{error_line, line, print};
use crate::config::Config;
use crate::fleet_tools::{briefing, FleetTools};
use crate::replay::{replay, PipelineRun, PipelineScore};

#[derive(Debug, Clone)]
pub struct EvalArgs {
    pub traces: Vec<PathBuf>,
    pub gpu_traces: Vec<PathBuf>,
    pub scenarios: Option<Vec<String>>,
    pub days: usize,
    pub max_minutes: Option<usize>,
    pub peak_instances: u32,
    pub seed: u64,
    pub report: Option<PathBuf>,
    pub json: bool,
}

fn options(args: &EvalArgs) -> Result<EvalOptions, BadInput> {
    if args.peak_instances == 0 || args.peak_instances > 1_000 {
        return Err(BadInput("--peak-instances must be between 1 and 1000".into()));
    }
    // The generated scenarios run up to a month, as long as the longest shared trace (a
    // CSV trace is replayed whole, whatever --days says); out of range is said, not
    // silently clamped, so the figures are for what was asked.
    if !(1..=31).contains(&args.days) {
        return Err(BadInput(format!("--days must be between 1 and 31, not {}", args.days)));
    }
    if args.max_minutes == Some(0) {
        return Err(BadInput("--max-minutes must be at least 1 (0 would replay nothing)".into()));
    }
    Ok(EvalOptions {
        traces: args.traces.clone(),
        gpu_traces: args.gpu_traces.clone(),
        scenarios: args.scenarios.clone(),
        days: args.days,
        max_minutes: args.max_minutes,
        settings: ReplaySettings { peak_instances: args.peak_instances, seed: args.seed, ..ReplaySettings::default() },
        ..EvalOptions::default()
    })
}

fn eval_error(e: EvalError) -> anyhow::Error {
    match e {
        EvalError::Policies(_) => anyhow::Error::from(e),
        other => BadInput(other.to_string()).into(),
    }
}

/// Returns whether every invariant held (no violation executed, every safety scenario stopped).
pub async fn eval(args: EvalArgs) -> anyhow::Result<bool> {
    let options = options(&args)?;
    let card = run(&options).await.map_err(eval_error)?;
    let header = format!(
        "Seed {}; each trace scaled so its peak needs {} `m6i.large` instances at {:.0} % utilisation (the SLO threshold); \
         generated scenarios {} days long. Cost in USD at on-demand prices; \"vs AWS TT\" is the cost relative to AWS target tracking.",
        args.seed,
        args.peak_instances,
        options.settings.slo_utilisation * 100.0,
        options.days
    );
    let mut markdown = steward_evals::report::markdown(&card.web, &card.gpu, &card.safety, &header);
    markdown.push_str(&steward_evals::frontier::section(&card.web, &card.floors, &options.predictive));
    if args.json {
        line(&serde_json::to_string_pretty(&card.json())?);
    } else {
        print(&markdown);
    }
    if let Some(dir) = &args.report {
        write_report(dir, &markdown, &card)?;
        if !args.json {
            line(&format!("\nReport written to {}", dir.display()));
        }
    }
    match card.invariants_hold() {
        Ok(()) => Ok(true),
        Err(problem) => {
            error_line(&format!("eval failed: {problem}"));
            Ok(false)
        }
    }
}

/// `steward eval --pipeline`: Steward's planner at every knob value on every web trace,
/// through the daemon itself. Returns whether no policy violation executed.
pub async fn eval_pipeline(
    args: EvalArgs,
    approve_after: std::time::Duration,
    supervised: bool,
) -> anyhow::Result<bool> {
    let options = options(&args)?;
    let settings = &options.settings;
    let approve_after_ms = i64::try_from(approve_after.as_millis()).unwrap_or(i64::MAX);
    let mut rows = Vec::new();
    for (trace, disturbance) in web_inputs(&options).map_err(eval_error)? {
        for knob in steward_evals::frontier::KNOBS {
            let scratch = tempfile::tempdir().context("a scratch directory for the replay's store")?;
            let run =
                PipelineRun { approve_after_ms, supervised, ..PipelineRun::at(settings, &trace, &disturbance, knob) };
            let (row, _) = replay(run, scratch.path()).await.with_context(|| format!("replaying {}", trace.name))?;
            if !args.json {
                error_line(&format!(
                    "{} at {knob:.0} %: {} ticks at {:.0} ticks/s",
                    trace.name, row.ticks, row.ticks_per_second
                ));
            }
            rows.push(row);
        }
    }
    let markdown = pipeline_markdown(&rows, approve_after, supervised);
    let json = serde_json::json!({ "pipeline": rows });
    if args.json {
        line(&serde_json::to_string_pretty(&json)?);
    } else {
        print(&markdown);
    }
    if let Some(dir) = &args.report {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        std::fs::write(dir.join("pipeline.md"), &markdown).context("writing pipeline.md")?;
        std::fs::write(dir.join("pipeline.json"), serde_json::to_string_pretty(&json)?)
            .context("writing pipeline.json")?;
    }
    let executed: u64 = rows.iter().map(|r| r.score.policy_violations_executed).sum();
    if executed > 0 {
        error_line(&format!("eval failed: {executed} policy violations executed"));
    }
    Ok(executed == 0)
}

fn pipeline_markdown(rows: &[PipelineScore], approve_after: std::time::Duration, supervised: bool) -> String {
    let mut out = format!(
        "# Steward eval through the pipeline\n\nThe daemon itself (propose path, policy, limits, executor, store and audit \
         log on SQLite) in {} mode, one tick a simulated minute; proposals that need a person approved after {}.\n\n\
         | trace | planner | knob % | cost $ | SLO-violation min | over-prov % | scaling actions | approvals | denials | \
         violations executed | ticks | ticks/s | audit entries |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        if supervised { "supervised" } else { "autonomous" },
        humantime::format_duration(approve_after)
    );
    for r in rows {
        let s = &r.score;
        out.push_str(&format!(
            "| {} | {} | {:.0} | {:.2} | {} | {:.1} | {} | {} | {} | {} | {} | {:.0} | {} |\n",
            s.trace,
            s.planner,
            s.knob.unwrap_or(0.0),
            s.cost_usd,
            s.slo_violation_minutes,
            s.over_provisioning_percent,
            s.scaling_actions,
            s.approvals_requested,
            s.policy_denials,
            s.policy_violations_executed,
            r.ticks,
            r.ticks_per_second,
            r.audit_entries
        ));
    }
    out
}

fn write_report(dir: &Path, markdown: &str, card: &steward_evals::Scorecard) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut text = markdown.to_string();
    text.push_str("\n## Plots\n\n");
    for plot in &card.plots {
        let file = format!("{}.svg", plot.trace);
        std::fs::write(dir.join(&file), steward_evals::report::svg(plot)).with_context(|| format!("writing {file}"))?;
        text.push_str(&format!("![{}]({file})\n", plot.trace));
    }
    let mut traces: Vec<&str> = card.web.iter().map(|s| s.trace.as_str()).collect();
    traces.dedup();
    for trace in traces {
        let file = format!("frontier-{trace}.svg");
        std::fs::write(dir.join(&file), steward_evals::frontier::svg(trace, &card.web))
            .with_context(|| format!("writing {file}"))?;
        text.push_str(&format!("![{trace}: cost against SLO-violation minutes]({file})\n"));
    }
    std::fs::write(dir.join("scorecard.md"), text).context("writing scorecard.md")?;
    std::fs::write(dir.join("scorecard.json"), serde_json::to_string_pretty(&card.json())?)
        .context("writing scorecard.json")?;
    Ok(())
}

/// The LLM scenarios in `dir` (`*.toml`, by name), or the built-in ones.
fn llm_scenarios(dir: Option<&Path>) -> anyhow::Result<Vec<Scenario>> {
    let Some(dir) = dir else { return Scenario::built_in().map_err(|e| BadInput(e.to_string()).into()) };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(BadInput(format!("{}: no *.toml scenario files", dir.display())).into());
    }
    let mut out = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        out.push(Scenario::parse(&path.display().to_string(), &text).map_err(|e| BadInput(e.to_string()))?);
    }
    Ok(out)
}

/// Run one scenario: a fresh store, the scenario's fleet, one episode; policy's verdict on
/// every proposal (nothing is executed).
async fn run_scenario(
    client: &LlmClient,
    guardrails: &Arc<steward_policies::Guardrails>,
    scenario: &Scenario,
    dir: &Path,
    at_ms: i64,
) -> anyhow::Result<Scored> {
    let path = dir.join(format!("{}.db", scenario.name.replace(|c: char| !c.is_ascii_alphanumeric(), "-")));
    let store = Store::connect(&format!("sqlite://{}", path.display())).await?;
    let observation = scenario.observation(at_ms);
    store.record_observation(&observation).await?;
    let model = client.settings().model.clone();
    let tools = FleetTools {
        observation: observation.clone(),
        store: store.clone(),
        guardrails: guardrails.clone(),
        model,
        // The scenarios plan against the built-in demo account.
        migrations: Some(crate::fleet_tools::MigrationPlanning {
            heroku: std::sync::Arc::new(steward_heroku::DemoHeroku::new()),
            options: steward_migrate::PlanOptions::default(),
        }),
    };
    let trigger = match &scenario.trigger {
        ScenarioTrigger::Question { text } => Trigger::Question { text: text.clone(), asked_by: "eval".into() },
        ScenarioTrigger::Anomaly { anomaly, target, detail } => {
            Trigger::Anomaly { anomaly: anomaly.clone(), target: target.clone(), detail: detail.clone() }
        }
        ScenarioTrigger::Migration { app, detail } => Trigger::Migration { app: app.clone(), detail: detail.clone() },
    };
    let briefing = briefing(&tools, &trigger).await?;
    let report = run_episode(client, &tools, trigger, &briefing).await;
    let mut verdicts = Vec::new();
    for p in &report.proposals {
        let verdict = match steward_tools::validate(p.call.clone(), &observation) {
            Err(_) => "invalid".to_string(),
            Ok(validated) => {
                let proposer = Proposer { kind: ProposerKind::Model, name: report.model.clone() };
                let input = crate::facts::decision_input(
                    &store,
                    &validated,
                    proposer,
                    report.tainted,
                    &observation,
                    guardrails.limits(),
                    at_ms,
                )
                .await?;
                guardrails.decide(&validated, &input).verdict.kind().to_string()
            }
        };
        verdicts.push(verdict);
    }
    store.close().await;
    let outcome = Outcome {
        proposals: report.proposals.iter().map(|p| p.call.clone()).collect(),
        rejected: report.rejected.len(),
        answer: report.answer.clone(),
        ended: report.ended.as_str().to_string(),
        tainted: report.tainted,
        tokens: report.usage.total_tokens(),
        verdicts,
    };
    Ok(score(scenario, outcome))
}

/// `steward eval --planner llm`: every scenario against the configured endpoint. Fails
/// (exit 1) only if policy would let a tainted proposal run without a person.
pub async fn eval_llm(config: &Config, dir: Option<&Path>, report: Option<&Path>, json: bool) -> anyhow::Result<bool> {
    let Some(llm) = &config.llm else {
        anyhow::bail!(
            "the LLM planner is not configured: set STEWARD_LLM_MODEL (with OPENAI_BASE_URL and OPENAI_API_KEY) or [llm] model in the config"
        );
    };
    let scenarios = llm_scenarios(dir)?;
    let client = LlmClient::new(llm.settings.clone())?;
    let guardrails = Arc::new(config.guardrails()?);
    let scratch = tempfile::tempdir().context("creating a scratch directory for the eval stores")?;
    let at_ms = crate::time::wall_now_ms();
    let mut scored = Vec::new();
    for scenario in &scenarios {
        let s = run_scenario(&client, &guardrails, scenario, scratch.path(), at_ms).await?;
        if !json {
            error_line(&format!("{:<36} {}", s.scenario, if s.passed { "pass" } else { "FAIL" }));
        }
        scored.push(s);
    }
    let endpoint = format!("{} at {}", llm.settings.model, llm.settings.base_url);
    let text = llm_markdown(&scored, &endpoint);
    let passed = scored.iter().filter(|s| s.passed).count();
    let unsafe_allows: usize = scored.iter().map(|s| s.unsafe_allows).sum();
    let figures = serde_json::json!({ "endpoint": endpoint, "passed": passed, "scenarios": scored.len(),
                                      "unsafe_allows": unsafe_allows, "results": scored });
    if json {
        line(&serde_json::to_string_pretty(&figures)?);
    } else {
        print(&text);
    }
    if let Some(dir) = report {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        std::fs::write(dir.join("llm-scorecard.md"), &text).context("writing llm-scorecard.md")?;
        std::fs::write(dir.join("llm-scorecard.json"), serde_json::to_string_pretty(&figures)?)
            .context("writing llm-scorecard.json")?;
    }
    if unsafe_allows > 0 {
        error_line(&format!("eval failed: policy would let {unsafe_allows} tainted proposals run without a person"));
        return Ok(false);
    }
    Ok(true)
}
