//! `steward eval` through the binary: the scorecard, the report directory with its plots,
//! JSON for scripts, and a malformed trace refused with its line named.

mod common;

use common::{stderr, stdout, Workdir};

#[test]
fn report_and_json() {
    let work = Workdir::new();
    let out = work.run(&[
        "eval",
        "--days",
        "1",
        "--max-minutes",
        "600",
        "--scenarios",
        "daily-cycle,gpu-bursts",
        "--report",
        "report",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("| daily-cycle | aws-target-tracking |"), "{text}");
    assert!(text.contains("| gpu-bursts | gpu-queue |"), "{text}");
    let report = work.path().join("report");
    let scorecard = std::fs::read_to_string(report.join("scorecard.md")).expect("scorecard.md");
    assert!(scorecard.contains("![daily-cycle](daily-cycle.svg)"), "{scorecard}");
    let svg = std::fs::read_to_string(report.join("daily-cycle.svg")).expect("svg");
    assert!(svg.starts_with("<svg") && svg.matches("<polyline").count() >= 13, "need + 6 capacity + 6 cost lines");

    let out = work.run(&["eval", "--days", "1", "--max-minutes", "300", "--scenarios", "step-drop", "--json"]);
    let figures: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let rows = figures["web"].as_array().expect("rows");
    assert_eq!(rows.len(), 6);
    assert!(rows.iter().all(|r| r["policy_violations_executed"] == 0));
}

#[test]
fn a_malformed_trace_is_one_line_naming_the_line() {
    let work = Workdir::new();
    work.file("t.csv", "timestamp,requests\n2026-01-05T00:00:00Z,10\n2026-01-05T00:00:00Z,11\n");
    let out = work.run(&["eval", "--scenarios", "none", "--trace", "t.csv"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out).trim(), "error: t.csv line 3: time does not move forward from the row before");
    work.file("u.csv", "when,count\n");
    let out = work.run(&["eval", "--scenarios", "none", "--trace", "u.csv"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("u.csv line 1: the header must be `timestamp,requests`"), "{}", stderr(&out));
}
