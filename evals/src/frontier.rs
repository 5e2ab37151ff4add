//! Frontiers, not points: every web planner with a knob (its utilisation target) is
//! replayed at each value of [`KNOBS`], and each trace's rows are read as cost against
//! SLO-violation minutes. Drawn as one SVG per trace, and checked against the decision
//! issue's bars (printed, `OK` or `MISS`, by [`checks`]):
//! - domination: for every baseline point, some Steward point has no more SLO-violation
//!   minutes and costs at most 0.85 times as much;
//! - fewer actions: Steward makes at least 5 times fewer scaling actions than AWS target
//!   tracking at the same knob.

use std::fmt::Write as _;

use crate::replay::Score;

/// The knob values every planner with one is swept over: a utilisation target, percent.
pub const KNOBS: [f64; 5] = [40.0, 50.0, 60.0, 70.0, 80.0];

/// The knob the capacity-over-time plot shows each planner at.
pub const PLOTTED_KNOB: f64 = 60.0;

/// Steward's own web planner, whose points must dominate.
pub const STEWARD: &str = "predictive";

/// The baselines it is measured against.
pub const BASELINES: [&str; 4] = ["aws-target-tracking", "aws-predictive-scaling", "kubernetes-hpa", "target-tracking"];

const COLOURS: [&str; 7] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"];

fn traces(rows: &[Score]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for r in rows {
        if !out.contains(&r.trace.as_str()) {
            out.push(&r.trace);
        }
    }
    out
}

/// One trace's frontier: cost (x) against SLO-violation minutes (y), each planner's knob
/// values joined in knob order and labelled; planners without a knob as single points.
pub fn svg(trace: &str, rows: &[Score]) -> String {
    let rows: Vec<&Score> = rows.iter().filter(|r| r.trace == trace).collect();
    let (width, height, margin, legend) = (900.0, 520.0, 60.0, 190.0);
    let (plot_w, plot_h) = (width - margin - legend, height - margin * 2.0);
    let max_cost = rows.iter().map(|r| r.cost_usd).fold(0.01, f64::max);
    let max_slo = rows.iter().map(|r| r.slo_violation_minutes as f64).fold(1.0, f64::max);
    let x = |cost: f64| margin + cost / max_cost * plot_w;
    let y = |slo: u64| margin + plot_h - slo as f64 / max_slo * plot_h;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{margin}\" y=\"24\" font-size=\"15\">{trace}: cost against SLO-violation minutes, each knob a point (lower left is better)</text>\n\
         <rect x=\"{margin}\" y=\"{margin}\" width=\"{plot_w}\" height=\"{plot_h}\" fill=\"none\" stroke=\"#bbb\"/>\n\
         <text x=\"{margin}\" y=\"{:.0}\">$0</text><text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"end\">${max_cost:.2}</text>\n\
         <text x=\"8\" y=\"{:.0}\">{max_slo:.0} min</text><text x=\"8\" y=\"{:.0}\">0</text>\n",
        height - margin + 16.0,
        margin + plot_w,
        height - margin + 16.0,
        margin + 10.0,
        margin + plot_h
    );
    let mut names: Vec<&str> = Vec::new();
    for r in &rows {
        if !names.contains(&r.planner.as_str()) {
            names.push(&r.planner);
        }
    }
    for (i, name) in names.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let mut points: Vec<&&Score> = rows.iter().filter(|r| r.planner == *name).collect();
        points.sort_by(|a, b| a.knob.unwrap_or(0.0).total_cmp(&b.knob.unwrap_or(0.0)));
        let line: Vec<String> =
            points.iter().map(|r| format!("{:.1},{:.1}", x(r.cost_usd), y(r.slo_violation_minutes))).collect();
        if line.len() > 1 {
            let _ = writeln!(
                out,
                "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\" points=\"{}\"/>",
                line.join(" ")
            );
        }
        for r in &points {
            let (px, py) = (x(r.cost_usd), y(r.slo_violation_minutes));
            let _ = writeln!(out, "<circle cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"3.5\" fill=\"{colour}\"/>");
            if let Some(knob) = r.knob {
                let _ = writeln!(
                    out,
                    "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" fill=\"{colour}\">{knob:.0}</text>",
                    px + 5.0,
                    py - 4.0
                );
            }
        }
        let _ = writeln!(
            out,
            "<text x=\"{:.0}\" y=\"{:.0}\" fill=\"{colour}\">{name}</text>",
            width - legend + 10.0,
            margin + 16.0 + i as f64 * 16.0
        );
    }
    out.push_str("</svg>\n");
    out
}

/// The decision issue's bars, one line per trace and bar, `OK` or `MISS`, with the
/// figures: which baseline points no Steward point dominates, and the actions ratio at
/// each knob against AWS target tracking.
pub fn checks(rows: &[Score]) -> Vec<String> {
    let verdict = |ok: bool| if ok { "OK  " } else { "MISS" };
    let mut out = Vec::new();
    for trace in traces(rows) {
        let of = |planner: &str| -> Vec<&Score> {
            rows.iter().filter(|r| r.trace == trace && r.planner == planner && r.knob.is_some()).collect()
        };
        let steward = of(STEWARD);
        if steward.is_empty() {
            continue;
        }
        let mut undominated = Vec::new();
        let mut points = 0;
        for baseline in BASELINES {
            for b in of(baseline) {
                points += 1;
                let dominated = steward.iter().any(|s| {
                    s.slo_violation_minutes <= b.slo_violation_minutes && s.cost_usd <= 0.85 * b.cost_usd + 1e-9
                });
                if !dominated {
                    undominated.push(format!(
                        "{baseline}@{:.0} (${:.2}, {} min)",
                        b.knob.unwrap_or(0.0),
                        b.cost_usd,
                        b.slo_violation_minutes
                    ));
                }
            }
        }
        out.push(format!(
            "{} {trace}: {}/{points} baseline points dominated (≤ their SLO-violation minutes at ≤ 0.85× cost){}",
            verdict(undominated.is_empty()),
            points - undominated.len(),
            if undominated.is_empty() { String::new() } else { format!("; not: {}", undominated.join(", ")) }
        ));
        let aws = of("aws-target-tracking");
        let ratios: Vec<(f64, f64)> = steward
            .iter()
            .filter_map(|s| {
                let a = aws.iter().find(|a| a.knob == s.knob)?;
                Some((s.knob.unwrap_or(0.0), a.scaling_actions as f64 / (s.scaling_actions as f64).max(1.0)))
            })
            .collect();
        let ok = ratios.iter().all(|(_, r)| *r >= 5.0);
        let shown: Vec<String> = ratios.iter().map(|(k, r)| format!("{k:.0}: {r:.1}×")).collect();
        out.push(format!(
            "{} {trace}: AWS target tracking's scaling actions over Steward's at the same knob (≥ 5×): {}",
            verdict(ok),
            shown.join(", ")
        ));
    }
    out
}
