//! The web rows of the eval at every knob, with the decision issue's bars checked, printed:
//! `cargo run --release -p steward-evals --example frontier [-- [--seed N] TRACE.csv ...]`
//! (per-minute request traces, for example `../shared/traces/nasa-http-1995-07-per-minute.csv`;
//! the seed of the generated scenarios' noise, 42 by default).

#[path = "common/mod.rs"]
mod common;

use steward_evals::frontier;
use steward_evals::scenarios::{ROBUSTNESS_SCENARIOS, WEB_SCENARIOS};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let scenarios: Vec<&str> = WEB_SCENARIOS.iter().chain(&ROBUSTNESS_SCENARIOS).copied().collect();
    let options = common::options_from_args();
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
