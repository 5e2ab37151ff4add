//! The GPU rows of the eval, with the checks the GPU issue sets, printed:
//! `cargo run --release -p steward-evals --example gpu [-- TRACE.csv ...]`
//! (job-arrival traces, for example `../shared/traces/azure-llm-conv-2023-per-minute.csv`).

#[path = "common/mod.rs"]
mod common;

use steward_evals::{gpu_checks, scenarios::GPU_SCENARIOS, EvalOptions};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let traces = std::env::args().skip(1).map(Into::into).collect();
    let (card, seconds) =
        common::run_or_exit(&GPU_SCENARIOS, EvalOptions { gpu_traces: traces, ..EvalOptions::default() }).await;
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
