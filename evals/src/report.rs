//! The scorecard (Markdown), the plots (SVG, drawn by hand: polylines need no plotting
//! library) and the JSON figures.

use std::fmt::Write;

use crate::gpu::GpuScore;
use crate::replay::{Score, Series};
use crate::safety::SafetyOutcome;

/// One trace's replay, for the plots.
#[derive(Debug, Clone)]
pub struct TracePlot {
    pub trace: String,
    /// Instances the load needs, minute by minute.
    pub need: Vec<f64>,
    /// `(planner, series)`.
    pub planners: Vec<(String, Series)>,
}

pub fn markdown(web: &[Score], gpu: &[GpuScore], safety: &[SafetyOutcome], header: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Steward eval scorecard\n\n{header}\n");
    let _ = writeln!(out, "## Web groups\n");
    let _ = writeln!(
        out,
        "| trace | planner | knob % | cost $ | vs AWS TT | SLO-violation min | over-prov % | scaling actions | approvals | denials | violations executed |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for s in web {
        // Against AWS target tracking at the same knob (at 60 % for a planner without one).
        let knob = s.knob.unwrap_or(crate::frontier::PLOTTED_KNOB);
        let aws = web
            .iter()
            .find(|b| b.trace == s.trace && b.planner == "aws-target-tracking" && b.knob == Some(knob))
            .map(|b| b.cost_usd);
        let relative =
            aws.filter(|a| *a > 0.0).map_or_else(|| "–".to_string(), |a| format!("{:.0}%", s.cost_usd / a * 100.0));
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.2} | {} | {} | {:.1} | {} | {} | {} | {} |",
            s.trace,
            s.planner,
            s.knob.map_or_else(|| "–".to_string(), |k| format!("{k:.0}")),
            s.cost_usd,
            relative,
            s.slo_violation_minutes,
            s.over_provisioning_percent,
            s.scaling_actions,
            s.approvals_requested,
            s.policy_denials,
            s.policy_violations_executed
        );
    }
    if !gpu.is_empty() {
        let _ = writeln!(out, "\n## GPU pools\n");
        let _ = writeln!(
            out,
            "| trace | planner | jobs | wait p50 min | wait p95 min | GPU-h paid | GPU-h idle | cost $ | budget overruns | interrupted (workers/jobs) | scaling actions | approvals | denials | violations executed |"
        );
        let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for g in gpu {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2} | {} | {}/{} | {} | {} | {} | {} |",
                g.trace,
                g.planner,
                g.jobs_started,
                g.wait_p50_minutes,
                g.wait_p95_minutes,
                g.gpu_hours_paid,
                g.gpu_hours_idle,
                g.cost_usd,
                g.budget_overruns,
                g.workers_interrupted,
                g.jobs_interrupted,
                g.scaling_actions,
                g.approvals_requested,
                g.policy_denials,
                g.policy_violations_executed
            );
        }
    }
    if !safety.is_empty() {
        let _ = writeln!(out, "\n## Safety scenarios (each must be stopped)\n");
        let _ = writeln!(out, "| scenario | decision | executed |");
        let _ = writeln!(out, "|---|---|---|");
        for s in safety {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                s.scenario,
                s.decision.replace('|', "/"),
                if s.executed { "**YES**" } else { "no" }
            );
        }
    }
    out
}

const COLOURS: [&str; 7] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"];

/// Two panels: the need and each planner's capacity over time; each planner's cumulative cost.
pub fn svg(plot: &TracePlot) -> String {
    let (width, panel, margin, legend) = (1100.0, 260.0, 50.0, 170.0);
    let height = panel * 2.0 + margin * 3.0;
    let n = plot.need.len().max(2);
    // Downsample to at most 1,200 points a line.
    let step = (n / 1_200).max(1);
    let plot_width = width - margin - legend;
    let x = |i: usize| margin + (i as f64) / ((n - 1) as f64) * plot_width;
    let line = |values: &[f64], top: f64, max: f64, colour: &str, dash: &str| -> String {
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .step_by(step)
            .map(|(i, v)| format!("{:.1},{:.1}", x(i), top + panel - (v / max.max(1e-9)) * panel))
            .collect();
        format!(
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.2\" {dash} points=\"{}\"/>\n",
            points.join(" ")
        )
    };
    let max_capacity = plot
        .planners
        .iter()
        .flat_map(|(_, s)| s.capacity.iter().copied())
        .chain(plot.need.iter().copied())
        .fold(1.0, f64::max);
    let max_cost = plot.planners.iter().filter_map(|(_, s)| s.cost.last().copied()).fold(0.01, f64::max);
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{margin}\" y=\"20\" font-size=\"15\">{}: capacity (instances) per planner; dashed black: instances the load needs</text>\n\
         <text x=\"{margin}\" y=\"{:.0}\" font-size=\"15\">cumulative cost (USD), max ${max_cost:.2}</text>\n",
        plot.trace,
        panel + margin * 2.0 - 10.0
    );
    for (top, label) in [(margin, format!("{max_capacity:.0}")), (panel + margin * 2.0, format!("${max_cost:.0}"))] {
        let _ = write!(
            out,
            "<rect x=\"{margin}\" y=\"{top}\" width=\"{plot_width}\" height=\"{panel}\" fill=\"none\" stroke=\"#bbb\"/>\n<text x=\"4\" y=\"{:.0}\">{label}</text>\n<text x=\"4\" y=\"{:.0}\">0</text>\n",
            top + 12.0,
            top + panel
        );
    }
    out.push_str(&line(&plot.need, margin, max_capacity, "black", "stroke-dasharray=\"4 3\""));
    for (i, (name, series)) in plot.planners.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        out.push_str(&line(&series.capacity, margin, max_capacity, colour, ""));
        out.push_str(&line(&series.cost, panel + margin * 2.0, max_cost, colour, ""));
        let _ = writeln!(
            out,
            "<text x=\"{:.0}\" y=\"{:.0}\" fill=\"{colour}\">{name}</text>",
            width - legend + 10.0,
            margin + 16.0 + i as f64 * 15.0
        );
    }
    let _ = writeln!(
        out,
        "<text x=\"{margin}\" y=\"{:.0}\">minute 0</text><text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"end\">minute {}</text>",
        height - 10.0,
        margin + plot_width,
        height - 10.0,
        n - 1
    );
    out.push_str("</svg>\n");
    out
}
