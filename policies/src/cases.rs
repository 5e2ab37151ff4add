//! Policy test cases: a table of proposals and the decision each must get. `steward policy
//! test` runs them (the shipped ones under `policies/tests/`, or a team's own), and so does
//! `cargo test`.

use serde::{Deserialize, Serialize};
use steward_tools::field::{parse_json, FieldError};
use steward_tools::validate;

use crate::decision::Verdict;
use crate::engine::Guardrails;
use crate::facts::ProposalFile;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyCase {
    pub name: String,
    pub proposal: ProposalFile,
    /// `allow`, `needs_approval`, `deny`, or `invalid` (validation refuses the call).
    pub expect: String,
    /// Policy ids that must be among the deciding ones.
    #[serde(default)]
    pub policies: Vec<String>,
    /// For `needs_approval`: how many approvals.
    #[serde(default)]
    pub approvals: Option<u32>,
    /// For `needs_approval`: whether the person who asked may approve.
    #[serde(default)]
    pub requester_may_approve: Option<bool>,
    /// For `needs_approval`: the approver groups, in any order.
    #[serde(default)]
    pub approvers: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseOutcome {
    pub name: String,
    pub passed: bool,
    /// What happened, in one line.
    pub got: String,
}

/// Parse a case file: a JSON array of cases.
pub fn parse_cases(text: &str) -> Result<Vec<PolicyCase>, FieldError> {
    let cases: Vec<PolicyCase> = parse_json(text)?;
    for (i, case) in cases.iter().enumerate() {
        if !matches!(case.expect.as_str(), "allow" | "needs_approval" | "deny" | "invalid") {
            return Err(FieldError::new(
                format!("[{i}].expect"),
                "must be one of allow, needs_approval, deny, invalid",
            ));
        }
        case.proposal
            .call
            .check_ranges()
            .map_err(|e| FieldError::new(format!("[{i}].proposal.call.{}", e.field), e.message))?;
    }
    Ok(cases)
}

/// Run every case against `guardrails`.
pub fn run_cases(guardrails: &Guardrails, cases: &[PolicyCase]) -> Vec<CaseOutcome> {
    cases.iter().map(|case| run_case(guardrails, case)).collect()
}

fn run_case(guardrails: &Guardrails, case: &PolicyCase) -> CaseOutcome {
    let observation = case.proposal.observation();
    let outcome = |passed: bool, got: String| CaseOutcome { name: case.name.clone(), passed, got };
    let validated = match validate(case.proposal.call.clone(), &observation) {
        Ok(v) => v,
        Err(e) => return outcome(case.expect == "invalid", format!("invalid: {e}")),
    };
    let decision = guardrails.decide(&validated, &case.proposal.input());
    let mut passed = decision.verdict.kind() == case.expect;
    let deciding: Vec<&str> = decision.reasons.iter().map(|r| r.policy.as_str()).collect();
    for wanted in &case.policies {
        passed &= deciding.contains(&wanted.as_str());
    }
    if let (Some(n), Verdict::NeedsApproval { approvals, .. }) = (case.approvals, &decision.verdict) {
        passed &= *approvals == n;
    }
    if let (Some(may), Verdict::NeedsApproval { requester_may_approve, .. }) =
        (case.requester_may_approve, &decision.verdict)
    {
        passed &= *requester_may_approve == may;
    }
    if let (Some(wanted), Verdict::NeedsApproval { approvers, .. }) = (&case.approvers, &decision.verdict) {
        let (mut wanted, mut got) = (wanted.clone(), approvers.clone());
        wanted.sort();
        got.sort();
        passed &= wanted == got;
    }
    outcome(passed, decision.to_string())
}
