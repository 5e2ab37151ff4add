//! `steward eval`: replay traces and scenarios, score every planner, write the scorecard.

use std::path::{Path, PathBuf};

use anyhow::Context;
use steward_evals::{run, EvalError, EvalOptions, ReplaySettings};

use super::BadInput;

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

/// Returns whether every invariant held (no violation executed, every safety scenario stopped).
pub async fn eval(args: EvalArgs) -> anyhow::Result<bool> {
    if args.peak_instances == 0 || args.peak_instances > 1_000 {
        return Err(BadInput("--peak-instances must be between 1 and 1000".into()).into());
    }
    let options = EvalOptions {
        traces: args.traces.clone(),
        gpu_traces: args.gpu_traces.clone(),
        scenarios: args.scenarios.clone(),
        days: args.days.clamp(1, 31),
        max_minutes: args.max_minutes,
        settings: ReplaySettings { peak_instances: args.peak_instances, seed: args.seed, ..ReplaySettings::default() },
        ..EvalOptions::default()
    };
    let card = run(&options).await.map_err(|e| match e {
        EvalError::Policies(_) => anyhow::Error::from(e),
        other => BadInput(other.to_string()).into(),
    })?;
    let header = format!(
        "Seed {}; each trace scaled so its peak needs {} `m6i.large` instances at {:.0} % utilisation (the SLO threshold); \
         generated scenarios {} days long. Cost in USD at on-demand prices; \"vs AWS TT\" is the cost relative to AWS target tracking.",
        args.seed,
        args.peak_instances,
        options.settings.slo_utilisation * 100.0,
        options.days
    );
    let markdown = steward_evals::report::markdown(&card.web, &card.gpu, &card.safety, &header);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&card.json())?);
    } else {
        print!("{markdown}");
    }
    if let Some(dir) = &args.report {
        write_report(dir, &markdown, &card)?;
        if !args.json {
            println!("\nReport written to {}", dir.display());
        }
    }
    match card.invariants_hold() {
        Ok(()) => Ok(true),
        Err(problem) => {
            eprintln!("eval failed: {problem}");
            Ok(false)
        }
    }
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
    std::fs::write(dir.join("scorecard.md"), text).context("writing scorecard.md")?;
    std::fs::write(dir.join("scorecard.json"), serde_json::to_string_pretty(&card.json())?)
        .context("writing scorecard.json")?;
    Ok(())
}
