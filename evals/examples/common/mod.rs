//! What the eval examples share: run the eval on the named scenarios and traces, or say
//! why not in one line and exit 2.

use steward_evals::{run, EvalOptions, Scorecard};

/// The eval over `scenarios` (built-in names) and `options`' traces, and how long it took.
pub async fn run_or_exit(scenarios: &[&str], options: EvalOptions) -> (Scorecard, f64) {
    let options = EvalOptions { scenarios: Some(scenarios.iter().map(|s| s.to_string()).collect()), ..options };
    let started = std::time::Instant::now();
    match run(&options).await {
        Ok(card) => (card, started.elapsed().as_secs_f64()),
        Err(e) => {
            eprintln!("eval: {e}");
            std::process::exit(2);
        }
    }
}
