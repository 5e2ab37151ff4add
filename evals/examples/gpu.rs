//! The GPU rows of the eval, with the checks the GPU issue sets, printed:
//! `cargo run --release -p steward-evals --example gpu [-- TRACE.csv ...]`
//! (job-arrival traces, for example `../shared/traces/azure-llm-conv-2023-per-minute.csv`).

use steward_evals::{gpu_checks, run, EvalOptions};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let options = EvalOptions {
        scenarios: Some(steward_evals::scenarios::GPU_SCENARIOS.iter().map(|s| s.to_string()).collect()),
        gpu_traces: std::env::args().skip(1).map(Into::into).collect(),
        ..EvalOptions::default()
    };
    let started = std::time::Instant::now();
    let card = match run(&options).await {
        Ok(card) => card,
        Err(e) => {
            eprintln!("eval: {e}");
            std::process::exit(2);
        }
    };
    println!("{}", steward_evals::report::markdown(&[], &card.gpu, &[], ""));
    let checks = gpu_checks(&card.gpu);
    for line in &checks {
        println!("{line}");
    }
    println!("({:.1} s)", started.elapsed().as_secs_f64());
    if checks.iter().any(|l| l.starts_with("MISS")) {
        std::process::exit(1);
    }
}
