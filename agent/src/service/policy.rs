//! Explaining policy: decide one proposal written as a file, and run a policy set's test
//! cases. Nothing here touches the fleet or the store, so these take the config alone.

use std::path::Path;

use steward_policies::{run_cases, CaseOutcome, Decision, Guardrails, PolicyFiles, ProposalFile};
use steward_tools::{validate, ToolCall};

use super::error::ServiceError;
use crate::config::Config;

/// What policy decides for the proposal in `text` (a [`ProposalFile`]).
pub fn explain(config: &Config, text: &str) -> Result<(ToolCall, Decision), ServiceError> {
    let proposal = ProposalFile::from_json(text).map_err(|e| ServiceError::BadInput(e.to_string()))?;
    let guardrails = config.guardrails().map_err(ServiceError::Config)?;
    let validated = validate(proposal.call.clone(), &proposal.observation())
        .map_err(|e| ServiceError::BadInput(format!("call: {e}")))?;
    Ok((proposal.call.clone(), guardrails.decide(&validated, &proposal.input())))
}

/// Run the test cases of the set in `dir` (or the configured one, or the built-in one)
/// against that set: one outcome per case, by file.
pub fn policy_test(config: &Config, dir: Option<&Path>) -> Result<Vec<(String, CaseOutcome)>, ServiceError> {
    let (files, guardrails) = match dir {
        Some(d) => {
            let files = PolicyFiles::read_dir(d).map_err(|e| ServiceError::Config(e.into()))?;
            let guardrails = Guardrails::load(&files.schema, &files.sources, config.limits.clone())
                .map_err(|e| ServiceError::Config(e.into()))?;
            (files, guardrails)
        }
        None => {
            (config.policy_files().map_err(ServiceError::Config)?, config.guardrails().map_err(ServiceError::Config)?)
        }
    };
    let cases = files.cases().map_err(|e| ServiceError::BadInput(e.to_string()))?;
    if cases.iter().all(|(_, cases)| cases.is_empty()) {
        return Err(ServiceError::BadInput("no policy test cases found (looked for tests/*.json)".into()));
    }
    Ok(cases
        .into_iter()
        .flat_map(|(file, cases)| {
            run_cases(&guardrails, &cases).into_iter().map(move |o| (file.clone(), o)).collect::<Vec<_>>()
        })
        .collect())
}
