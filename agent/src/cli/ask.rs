//! `steward ask "QUESTION"`: the LLM planner answers from the read-only tools, against the
//! daemon's newest observation; a change it proposes is filed for the daemon's propose path.

use super::args::Who;
use super::output::{error_line, line};
use super::signer::caller;
use crate::identity::Operation;
use crate::service::{Consulted, Service};

/// Ask; `Ok(false)` when the model could not answer (exit 1).
pub async fn ask(service: &Service, question: &str, who: &Who, json: bool) -> anyhow::Result<bool> {
    let caller = caller(service.config(), who, &Operation::Ask { question: question.trim().to_string() })?;
    let consulted = service.ask(&caller, question).await?;
    Ok(show(&consulted, json))
}

pub fn show(c: &Consulted, json: bool) -> bool {
    if json {
        line(&serde_json::to_string_pretty(&c.json()).unwrap_or_default());
        return c.answered();
    }
    if let steward_llm::Ended::EndpointFailed(e) = &c.report.ended {
        error_line(&format!("error: the model did not answer: {e}"));
        return false;
    }
    line(&c.text());
    true
}
