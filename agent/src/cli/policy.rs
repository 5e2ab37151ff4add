//! `steward policy test` and `steward policy explain`.

use std::path::Path;

use steward_policies::Verdict;

use super::failure::BadInput;
use super::output::print;
use crate::config::Config;
use crate::service::policy::{explain as decide_file, policy_test};

/// Run every case; one line per case and a closing count. Returns whether all passed.
pub fn test(config: &Config, dir: Option<&Path>) -> anyhow::Result<bool> {
    let outcomes = policy_test(config, dir)?;
    let mut out = String::new();
    let (mut passed, mut failed) = (0, 0);
    for (file, outcome) in &outcomes {
        if outcome.passed {
            passed += 1;
            out.push_str(&format!("ok    {file}: {}\n", outcome.name));
        } else {
            failed += 1;
            out.push_str(&format!("FAIL  {file}: {} — got {}\n", outcome.name, outcome.got));
        }
    }
    out.push_str(&format!("{passed} passed, {failed} failed\n"));
    print(&out);
    Ok(failed == 0)
}

/// Decide one proposal file and print the decision and the policies behind it.
pub fn explain(config: &Config, file: &Path, json: bool) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file).map_err(|e| BadInput(format!("{}: {e}", file.display())))?;
    let (call, decision) = decide_file(config, &text).map_err(|e| match e {
        crate::service::ServiceError::BadInput(m) => anyhow::Error::from(BadInput(format!("{}: {m}", file.display()))),
        other => other.into(),
    })?;
    if json {
        print(&(serde_json::to_string_pretty(&decision)? + "\n"));
        return Ok(());
    }
    let mut out = format!("call:     {call}\ncost:     {:+.2} $/h\n", decision.cost_delta_per_hour);
    let verdict = match &decision.verdict {
        Verdict::Allow => "allow".to_string(),
        Verdict::Deny => "deny".to_string(),
        Verdict::NeedsApproval { approvals, approvers, .. } if approvers.is_empty() => {
            format!("needs {approvals} approval(s)")
        }
        Verdict::NeedsApproval { approvals, approvers, .. } => {
            format!("needs {approvals} approval(s) from {}", approvers.join(" or "))
        }
    };
    out.push_str(&format!("decision: {verdict}\n"));
    for reason in &decision.reasons {
        out.push_str(&format!("  {}: {}\n", reason.policy, reason.message));
    }
    if let Some(shadow) = &decision.shadow {
        out.push_str(&format!("shadow:   would be {}\n", shadow.would_be));
        for reason in &shadow.reasons {
            out.push_str(&format!("  {}: {}\n", reason.policy, reason.message));
        }
    }
    print(&out);
    Ok(())
}
