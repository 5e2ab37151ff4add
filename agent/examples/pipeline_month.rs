//! How fast the daemon replays a month: 43,200 one-minute ticks (30 days) of a web trace
//! through `steward eval --pipeline`'s replay (the real daemon, propose path, policy,
//! executor, store and audit log on SQLite), Steward's planner at the 60 % knob.
//!
//! `cargo run --release -p steward-agent --example pipeline_month [-- TRACE.csv] [--dir DIR] [--minutes N]`
//! (default: the generated daily cycle, 30 days; `--dir` puts the scratch store there, for
//! example on a tmpfs, instead of the system's temporary directory).

use steward_agent::replay::{replay, PipelineRun};
use steward_evals::replay::Disturbance;
use steward_evals::scenarios::generate;
use steward_evals::{ReplaySettings, Trace};

const MONTH_MINUTES: usize = 30 * 1_440;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (mut path, mut dir, mut minutes) = (None, None, MONTH_MINUTES);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--dir" => dir = args.next(),
            "--minutes" => minutes = args.next().and_then(|m| m.parse().ok()).unwrap_or(MONTH_MINUTES),
            _ => path = Some(arg),
        }
    }
    let trace = match &path {
        Some(p) => Trace::from_csv(std::path::Path::new(p))?,
        None => generate("daily-cycle", 30, 42).expect("scenario"),
    };
    let settings = ReplaySettings::default();
    let trace = settings.normalise(&trace.truncated(minutes));
    let scratch = match &dir {
        Some(d) => tempfile::tempdir_in(d)?,
        None => tempfile::tempdir()?,
    };
    let calm = Disturbance::default();
    let run = PipelineRun::at(&settings, &trace, &calm, 60.0);
    let started = std::time::Instant::now();
    let (row, decisions) = replay(run, scratch.path()).await?;
    let seconds = started.elapsed().as_secs_f64();
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_string())
        })
        .unwrap_or_else(|| "?".into());
    println!(
        "{}: {} ticks in {seconds:.1} s ({:.0} ticks/s), {} changes, {} audit entries, cost ${:.2}, {} SLO-violation min; peak RSS {rss} kB; store in {}",
        trace.name,
        row.ticks,
        row.ticks_per_second,
        decisions.len(),
        row.audit_entries,
        row.score.cost_usd,
        row.score.slo_violation_minutes,
        scratch.path().display()
    );
    Ok(())
}
