//! What the eval examples share: read their arguments, run the eval on the named scenarios
//! and traces, or say why not in one line and exit 2.

use steward_evals::{run, EvalOptions, Scorecard};

/// The eval options the arguments give: `[--seed N] [TRACE.csv ...]` (per-minute request
/// traces; the seed of the generated scenarios' noise, 42 by default).
pub fn options_from_args() -> EvalOptions {
    let mut options = EvalOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--seed" {
            let value = args.next().unwrap_or_default();
            options.settings.seed = value.parse().unwrap_or_else(|_| {
                eprintln!("eval: --seed wants a whole number, got {value:?}");
                std::process::exit(2);
            });
        } else {
            options.traces.push(arg.into());
        }
    }
    options
}

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
