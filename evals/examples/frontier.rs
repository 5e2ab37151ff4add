//! The web rows of the eval at every knob, with the decision issue's bars checked, printed:
//! `cargo run --release -p steward-evals --example frontier [-- TRACE.csv ...]`
//! (per-minute request traces, for example `../shared/traces/nasa-http-1995-07-per-minute.csv`).

#[path = "common/mod.rs"]
mod common;

use steward_evals::scenarios::{ROBUSTNESS_SCENARIOS, WEB_SCENARIOS};
use steward_evals::{frontier, EvalOptions};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let traces = std::env::args().skip(1).map(Into::into).collect();
    let scenarios: Vec<&str> = WEB_SCENARIOS.iter().chain(&ROBUSTNESS_SCENARIOS).copied().collect();
    let options = EvalOptions { traces, ..EvalOptions::default() };
    let predictive = options.predictive.clone();
    let (card, seconds) = common::run_or_exit(&scenarios, options).await;
    println!("{}", steward_evals::report::markdown(&card.web, &[], &[], ""));
    for line in frontier::parameters(&predictive) {
        println!("{line}");
    }
    println!();
    for line in frontier::checks(&card.web, &card.floors) {
        println!("{line}");
    }
    println!("({seconds:.1} s)");
}
