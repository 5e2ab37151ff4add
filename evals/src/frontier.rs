//! Frontiers, not points: every web planner with a knob (its utilisation target) is
//! replayed at each value of [`KNOBS`], and each trace's rows are read as cost against
//! SLO-violation minutes. Drawn as one SVG per trace, and checked against the decision
//! issue's bars (printed, `OK` or `MISS`, by [`checks`]):
//! - domination: for every baseline point, some Steward point has no more SLO-violation
//!   minutes and costs at most 0.85 times as much;
//! - fewer actions: Steward makes at least 5 times fewer scaling actions than AWS target
//!   tracking at the same knob;
//! - robustness (on the robustness scenarios): no more SLO-violation minutes than AWS
//!   target tracking at the same knob.
//!
//! A baseline point can be out of anyone's reach: when 0.85 times its cost is less than
//! the [`Floor`] (the least any planner can pay with hindsight for no more SLO-violation
//! minutes), no planner dominates it, and the check says so. It can also be out of reach
//! of any planner that meets the fewer-actions bar: when 0.85 times its cost is less than
//! the least a planner can pay with hindsight with a fifth of AWS target tracking's
//! actions (at the knob where it makes the most), the two bars cannot both hold there.

use std::fmt::Write as _;

use steward_planners::PredictiveConfig;

use crate::aws_predictive::{HISTORY_HOURS, SCHEDULING_BUFFER_MS};
use crate::baselines::{
    HPA_DOWNSCALE_WINDOW_MS, HPA_TOLERANCE, SCALE_IN_COOLDOWN_MS, SCALE_IN_DATAPOINTS, SCALE_OUT_DATAPOINTS,
};
use crate::floor::Floor;
use crate::replay::Score;
use crate::scenarios::ROBUSTNESS_SCENARIOS;

/// The knob values every planner with one is swept over: a utilisation target, percent.
pub const KNOBS: [f64; 5] = [40.0, 50.0, 60.0, 70.0, 80.0];

/// The knob the capacity-over-time plot shows each planner at.
pub const PLOTTED_KNOB: f64 = 60.0;

/// Steward's target tracking waits this long after a change before the next.
pub const TARGET_TRACKING_COOLDOWN_MS: i64 = 5 * 60_000;

/// Steward's own web planner, whose points must dominate.
pub const STEWARD: &str = "predictive";

/// The baselines it is measured against.
pub const BASELINES: [&str; 4] = ["aws-target-tracking", "aws-predictive-scaling", "kubernetes-hpa", "target-tracking"];

const COLOURS: [&str; 7] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"];

/// Every parameter the web planners replay with, frozen (chosen on the generated scenarios
/// and the shared traces, never per trace), one line each, from the code itself.
pub fn parameters(predictive: &PredictiveConfig) -> Vec<String> {
    let d = predictive.clone().moved_to(PLOTTED_KNOB);
    let t = &d.tuning;
    let knobs: Vec<String> = KNOBS.iter().map(|k| format!("{k:.0}")).collect();
    vec![
        format!("knob values (utilisation target, %): {}", knobs.join(", ")),
        format!(
            "{STEWARD}: at knob K, scale out when the forecast peak is above {:.3}×K % (never above {:.0} %, at least K+2), in when below K{:+.0} % (at least 5 %); lead {} min, horizon {} min, hold {} min; forecast: the last 10 minutes' peak, and the same window yesterday and last week scaled by the last half hour against then (by 0.2–5×, or 1× when both were idle; last week's as it was, 1×, from the next midnight on: 00:00 UTC, where each replay's clock starts with its trace's first minute), for a scale-out without that window's {} busiest minutes; a scale-out waits until the load is above K now or the forecast puts it over the line within the lead + {} min; when every history term has forecast each ten-minute mean of the last day to within {:.0} % an hour ahead, a scale-out sizes for the highest level it forecasts held for {} min within the next {} min; with no history term at all, a scale-out during a steady rise (the last three ten-minute means each above the one before) sizes for that growth compounded over the lead and horizon, at most as far as the scale-out line is above K; scale-in at most halves, and not before {} minutes of CPU readings (or a hold after the first); what an instance serves: running means of requests and of running instances × CPU, each new reading weighing {}; inside the band it settles to K after {}× the hold when the last hold's peak is under K-{:.0} %; where the history has held, no scale-in sizes below K at the history's forecast peak of the next {} min, and a settle comes after {}× the hold, sized halfway between K and the scale-out line",
            d.high_percent / d.target_percent,
            t.scale_out_ceiling_percent,
            d.low_percent - d.target_percent,
            d.lead_minutes,
            d.horizon_minutes,
            d.hold_minutes,
            t.burst_minutes_set_aside,
            t.scale_out_due_minutes,
            t.forecast_tolerance * 100.0,
            t.sustain_minutes,
            t.combine_reach_minutes,
            t.scale_in_after_readings,
            t.capacity_reading_weight,
            t.settle_after_holds,
            t.settle_points_under_target,
            t.trusted_ahead_minutes,
            t.settle_after_holds_trusted,
        ),
        format!(
            "target-tracking (Steward's): at knob K, sized for K % with a {}-minute cooldown",
            TARGET_TRACKING_COOLDOWN_MS / 60_000
        ),
        format!(
            "aws-target-tracking: {SCALE_OUT_DATAPOINTS} one-minute datapoints above K to scale out, {SCALE_IN_DATAPOINTS} below to scale in, {} s scale-in cooldown",
            SCALE_IN_COOLDOWN_MS / 1_000
        ),
        format!(
            "aws-predictive-scaling: forecast and scale beside aws-target-tracking at K; hourly forecast from up to {} days (weekly mean from a week on, daily mean from a day on), {} s scheduling buffer, max capacity honoured",
            HISTORY_HOURS / 24,
            SCHEDULING_BUFFER_MS / 1_000
        ),
        format!(
            "kubernetes-hpa: tolerance {HPA_TOLERANCE}, {} s scale-down stabilisation window",
            HPA_DOWNSCALE_WINDOW_MS / 1_000
        ),
    ]
}

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
pub fn checks(rows: &[Score], floors: &[Floor]) -> Vec<String> {
    let verdict = |ok: bool| if ok { "OK  " } else { "MISS" };
    let mut out = Vec::new();
    for trace in traces(rows) {
        let of = |planner: &str| knobbed(rows, trace, planner);
        let steward = of(STEWARD);
        if steward.is_empty() {
            continue;
        }
        let floor = floors.iter().find(|f| f.trace == trace);
        let aws = of("aws-target-tracking");
        // The most changes a Steward point may make and still meet the fewer-actions bar.
        let allowed = aws.iter().map(|a| a.scaling_actions / 5).max().unwrap_or(0);
        let (mut undominated, mut out_of_reach, mut out_of_both) = (Vec::new(), Vec::new(), Vec::new());
        let mut points = 0;
        for baseline in BASELINES {
            for b in of(baseline) {
                points += 1;
                if dominated(&steward, b) {
                    continue;
                }
                let point = format!(
                    "{baseline}@{:.0} (${:.2}, {} min)",
                    b.knob.unwrap_or(0.0),
                    b.cost_usd,
                    b.slo_violation_minutes
                );
                let aim = 0.85 * b.cost_usd;
                let beyond = |least: f64| format!("{point}: 0.85× is ${aim:.2}, the floor ${least:.2}");
                let Some(floor) = floor else {
                    undominated.push(point);
                    continue;
                };
                let least = floor.least_cost(b.slo_violation_minutes);
                if aim < least {
                    out_of_reach.push(beyond(least));
                    continue;
                }
                let least = floor.least_cost_within(b.slo_violation_minutes, allowed);
                if aim < least {
                    out_of_both.push(beyond(least));
                } else {
                    undominated.push(point);
                }
            }
        }
        let missed = undominated.len() + out_of_reach.len() + out_of_both.len();
        let mut line = format!(
            "{} {trace}: {}/{points} baseline points dominated (≤ their SLO-violation minutes at ≤ 0.85× cost)",
            verdict(missed == 0),
            points - missed
        );
        append(&mut line, "not: ", &undominated);
        append(
            &mut line,
            "out of any planner's reach (0.85× their cost is below the least a planner can pay with hindsight for as few SLO-violation minutes): ",
            &out_of_reach,
        );
        append(
            &mut line,
            &format!("out of reach of any planner with at most {allowed} changes, a fifth of AWS target tracking's most at any knob (the least it can pay with hindsight for as few SLO-violation minutes is above 0.85× their cost, so this bar and the next cannot both hold): "),
            &out_of_both,
        );
        out.push(line);
        let pairs = paired(&steward, &aws);
        let ok = pairs.iter().all(|(s, a)| fewer_actions(s, a));
        let shown: Vec<String> =
            pairs.iter().map(|(s, a)| format!("{:.0}: {:.1}×", s.knob.unwrap_or(0.0), actions_ratio(s, a))).collect();
        let mut line = format!(
            "{} {trace}: AWS target tracking's scaling actions over Steward's at the same knob (≥ 5×): {}",
            verdict(ok),
            shown.join(", ")
        );
        // Where even hindsight cannot make a fifth of AWS's changes without paying more
        // than AWS does for as few SLO-violation minutes, the bar costs the first one.
        let dearer: Vec<String> = pairs
            .iter()
            .filter(|(s, a)| !fewer_actions(s, a))
            .filter_map(|(_, a)| {
                let least = floor?.least_cost_within(a.slo_violation_minutes, a.scaling_actions / 5);
                (least > a.cost_usd)
                    .then(|| format!("{:.0} (${least:.2} against ${:.2})", a.knob.unwrap_or(0.0), a.cost_usd))
            })
            .collect();
        append(
            &mut line,
            "with a fifth of AWS's changes even a planner with hindsight pays more than AWS target tracking for as few SLO-violation minutes at ",
            &dearer,
        );
        out.push(line);
        if ROBUSTNESS_SCENARIOS.contains(&trace) {
            let ok = pairs.iter().all(|(s, a)| robust(s, a));
            let shown: Vec<String> = pairs
                .iter()
                .map(|(s, a)| {
                    format!(
                        "{:.0}: {} vs {} min at {:.2}× the cost",
                        s.knob.unwrap_or(0.0),
                        s.slo_violation_minutes,
                        a.slo_violation_minutes,
                        s.cost_usd / a.cost_usd.max(1e-9)
                    )
                })
                .collect();
            out.push(format!(
                "{} {trace}: Steward's SLO-violation minutes against AWS target tracking's at the same knob (≤): {}",
                verdict(ok),
                shown.join(", ")
            ));
        }
    }
    out
}

/// `planner`'s points on `trace`, one per knob value.
fn knobbed<'a>(rows: &'a [Score], trace: &str, planner: &str) -> Vec<&'a Score> {
    rows.iter().filter(|r| r.trace == trace && r.planner == planner && r.knob.is_some()).collect()
}

/// Steward's and AWS target tracking's points at each knob both have a point for.
fn paired<'a>(steward: &[&'a Score], aws: &[&'a Score]) -> Vec<(&'a Score, &'a Score)> {
    steward.iter().filter_map(|s| Some((*s, *aws.iter().find(|a| a.knob == s.knob)?))).collect()
}

/// AWS target tracking's scaling actions over Steward's `s` at the same knob.
fn actions_ratio(s: &Score, a: &Score) -> f64 {
    a.scaling_actions as f64 / (s.scaling_actions as f64).max(1.0)
}

/// The fewer-actions bar at one knob: at least 5 times fewer than AWS target tracking.
fn fewer_actions(s: &Score, a: &Score) -> bool {
    actions_ratio(s, a) >= 5.0
}

/// The robustness bar at one knob: no more SLO-violation minutes than AWS target tracking.
fn robust(s: &Score, a: &Score) -> bool {
    s.slo_violation_minutes <= a.slo_violation_minutes
}

/// Whether some Steward point has no more SLO-violation minutes than `b` at no more than
/// 0.85 times its cost.
fn dominated(steward: &[&Score], b: &Score) -> bool {
    steward.iter().any(|s| s.slo_violation_minutes <= b.slo_violation_minutes && s.cost_usd <= 0.85 * b.cost_usd + 1e-9)
}

/// The bars over every trace, counted: what [`checks`] prints, as numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tally {
    /// Baseline points some Steward point dominates, and how many there are.
    pub dominated: usize,
    pub points: usize,
    /// Knobs where AWS target tracking makes at least 5 times Steward's actions, and how
    /// many knobs both have a point at.
    pub fewer_actions: usize,
    pub knobs: usize,
    /// On the robustness scenarios: knobs where Steward has no more SLO-violation minutes
    /// than AWS target tracking, and how many there are.
    pub robust: usize,
    pub robust_knobs: usize,
    /// Steward's points summed: cost, SLO-violation minutes, scaling actions.
    pub cost_usd: f64,
    pub slo_violation_minutes: u64,
    pub scaling_actions: u64,
}

/// [`Tally`] of `rows`.
pub fn tally(rows: &[Score]) -> Tally {
    let mut t = Tally::default();
    for trace in traces(rows) {
        let of = |planner: &str| knobbed(rows, trace, planner);
        let steward = of(STEWARD);
        if steward.is_empty() {
            continue;
        }
        for b in BASELINES.iter().flat_map(|baseline| of(baseline)) {
            t.points += 1;
            t.dominated += usize::from(dominated(&steward, b));
        }
        let aws = of("aws-target-tracking");
        let robustness = ROBUSTNESS_SCENARIOS.contains(&trace);
        for s in &steward {
            t.cost_usd += s.cost_usd;
            t.slo_violation_minutes += s.slo_violation_minutes;
            t.scaling_actions += s.scaling_actions;
        }
        for (s, a) in paired(&steward, &aws) {
            t.knobs += 1;
            t.fewer_actions += usize::from(fewer_actions(s, a));
            if robustness {
                t.robust_knobs += 1;
                t.robust += usize::from(robust(s, a));
            }
        }
    }
    t
}

/// Append `; {lead}` and the items, comma-separated, to `line` when there are any.
fn append(line: &mut String, lead: &str, items: &[String]) {
    if !items.is_empty() {
        let _ = write!(line, "; {lead}{}", items.join(", "));
    }
}

/// The scorecard's frontier section: the frozen parameters and the bars, as checked.
pub fn section(rows: &[Score], floors: &[Floor], predictive: &PredictiveConfig) -> String {
    let mut out =
        String::from("\n## Frontiers: parameters and bars\n\nEvery parameter, frozen (the same on every trace):\n\n");
    for line in parameters(predictive) {
        let _ = writeln!(out, "- {line}");
    }
    out.push_str("\nThe decision bars, as measured:\n\n");
    for line in checks(rows, floors) {
        let _ = writeln!(out, "    {line}");
    }
    out
}
