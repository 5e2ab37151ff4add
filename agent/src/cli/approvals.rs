//! `steward queue`, `steward approve`, `steward reject`, `steward rollback`: adapters over
//! the service core. A decision is recorded for the daemon to pick up on its next tick,
//! where it is checked again against fresh state before anything runs.

use serde_json::json;
use steward_memory::ProposalState;

use super::args::Who;
use super::output::line;
use super::signer::caller;
use crate::identity::Operation;
use crate::service::Service;
use crate::time::{age, hhmm};

pub async fn queue(service: &Service, json: bool) -> anyhow::Result<()> {
    let queue = service.queue().await?;
    if json {
        let rows: Vec<_> = queue
            .iter()
            .map(|item| {
                let p = &item.proposal;
                json!({
                    "id": p.id,
                    "age_seconds": item.age_ms / 1000,
                    "call": p.call.to_string(),
                    "tool_call": p.call,
                    "call_hash": p.call_hash,
                    "cost_delta_per_hour": p.cost_delta_per_hour,
                    "approvals": item.approvals,
                    "approvals_required": p.approvals_required,
                    "approvers": p.approvers,
                    "proposer": p.proposer,
                    "rationale": p.rationale,
                    "why": item.why,
                    "expires_ms": p.expires_ms,
                })
            })
            .collect();
        line(&serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    if queue.is_empty() {
        line("No proposals are waiting for approval.");
        return Ok(());
    }
    // The CALL column is as wide as the widest call, so every row lines up.
    let width = queue.iter().map(|i| i.proposal.call.to_string().chars().count()).max().unwrap_or(0).max(24);
    let mut out = format!("{:<5} {:<6} {:<width$} {:>9}  {:<14} WHY\n", "ID", "AGE", "CALL", "$/H", "NEEDS");
    for item in &queue {
        let p = &item.proposal;
        let needs = if p.approvers.is_empty() {
            format!("{}/{}", item.approvals, p.approvals_required)
        } else {
            format!("{}/{} {}", item.approvals, p.approvals_required, p.approvers.join("|"))
        };
        let expires = p.expires_ms.map_or_else(String::new, |e| format!(" (expires {})", hhmm(e)));
        out.push_str(&format!(
            "{:<5} {:<6} {:<width$} {:>+9.2}  {:<14} {}{expires}\n",
            p.id,
            age(item.age_ms),
            p.call.to_string(),
            p.cost_delta_per_hour,
            needs,
            item.why
        ));
    }
    super::output::print(&out);
    Ok(())
}

/// Approve (or reject, with a reason) proposal `id` as `who` proves to be.
pub async fn decide(service: &Service, id: i64, who: &Who, approve: bool, reason: &str) -> anyhow::Result<()> {
    if !approve && reason.trim().is_empty() {
        return Err(super::failure::BadInput("a rejection needs --reason TEXT".into()).into());
    }
    let operation = service.decision(id, approve, reason).await?;
    let caller = caller(service.config(), who, &operation)?;
    let d = service.decide(&caller, id, approve, reason, None).await?;
    let (who, reason) = (d.who, d.reason);
    match d.tally.state {
        ProposalState::Approved => line(&format!(
            "#{id} approved by {who} ({}/{}): a running daemon carries it out on its next tick",
            d.tally.approvals, d.tally.required
        )),
        ProposalState::Rejected => line(&format!("#{id} rejected by {who}: {reason}")),
        _ => line(&format!(
            "#{id}: approval {}/{} recorded for {who}; waiting for more",
            d.tally.approvals, d.tally.required
        )),
    }
    Ok(())
}

/// File the inverse of an executed action as a new proposal.
pub async fn rollback(service: &Service, id: i64, who: &Who) -> anyhow::Result<()> {
    let caller = caller(service.config(), who, &Operation::Rollback { proposal: id })?;
    let filed = service.rollback(&caller, id).await?;
    line(&format!(
        "#{} filed: {} (rollback of #{id}); it goes through policy and approval like any proposal",
        filed.id, filed.call
    ));
    Ok(())
}
