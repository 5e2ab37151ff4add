//! The GPU rows of the eval, with the checks the GPU issue sets, printed:
//! `cargo run --release -p steward-evals --example gpu [-- [--seed N] TRACE.csv ...]`
//! (job-arrival traces, for example `../shared/traces/azure-llm-conv-2023-per-minute.csv`;
//! the seed, 42 by default).

#[path = "common/mod.rs"]
mod common;

use steward_evals::{gpu_checks, scenarios::GPU_SCENARIOS};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut options = common::options_from_args();
    options.gpu_traces = std::mem::take(&mut options.traces);
    let (card, seconds) = common::run_or_exit(&GPU_SCENARIOS, options).await;
    println!("{}", steward_evals::report::markdown(&[], &card.gpu, &[], ""));
    let checks = gpu_checks(&card.gpu);
    for line in &checks {
        println!("{line}");
    }
    println!("({seconds:.1} s)");
    if checks.iter().any(|l| l.starts_with("MISS")) {
        std::process::exit(1);
    }
}
