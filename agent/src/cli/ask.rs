//! `steward ask "QUESTION"` and `steward migrate APP --from FILE`: the LLM planner answers
//! from the read-only tools, against the daemon's newest observation; a change it proposes
//! is filed for the daemon's propose path.

use std::path::Path;

use anyhow::Context;

use super::args::Who;
use super::failure::BadInput;
use super::output::{error_line, line};
use super::signer::caller;
use crate::identity::Operation;
use crate::service::{Consulted, Service};

/// Largest app description `steward migrate` reads.
const MAX_APP_FILE: u64 = 1 << 20;

/// Ask; `Ok(false)` when the model could not answer (exit 1).
pub async fn ask(service: &Service, question: &str, who: &Who, json: bool) -> anyhow::Result<bool> {
    let caller = caller(service.config(), who, &Operation::Ask { question: question.trim().to_string() })?;
    let consulted = service.ask(&caller, question).await?;
    Ok(show(&consulted, json))
}

/// Plan moving `app` off Heroku from its description in `file`.
pub async fn migrate(service: &Service, app: &str, file: &Path, who: &Who, json: bool) -> anyhow::Result<bool> {
    let size = std::fs::metadata(file).with_context(|| format!("reading {}", file.display()))?.len();
    if size > MAX_APP_FILE {
        return Err(BadInput(format!("{}: larger than 1 MiB; give the app's description only", file.display())).into());
    }
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let caller = caller(service.config(), who, &Operation::Ask { question: format!("migrate {app}") })?;
    let consulted = service.plan_migration(&caller, app, &text).await.map_err(|e| match e {
        crate::service::ServiceError::BadInput(m) => BadInput(format!("{}: {m}", file.display())).into(),
        other => anyhow::Error::from(other),
    })?;
    Ok(show(&consulted, json))
}

fn show(c: &Consulted, json: bool) -> bool {
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
