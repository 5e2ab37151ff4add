//! `steward queue`, `steward approve`, `steward reject`, `steward rollback`.
//!
//! These only record decisions in the store (with their audit entries); a running daemon
//! picks them up on its next tick and re-checks them against fresh state before acting.

use anyhow::bail;
use serde_json::json;
use steward_memory::{NewProposal, ProposalRecord, ProposalState, Store, StoreError};

use super::{now_ms, BadInput};
use crate::config::Config;
use crate::daemon::authorize_rules::check_approver;
use crate::time::{age, hhmm};

fn why(p: &ProposalRecord) -> String {
    let line = p.reason_line();
    if line.is_empty() {
        p.outcome.clone().unwrap_or_default()
    } else {
        line
    }
}

pub async fn queue(store: &Store, json: bool) -> anyhow::Result<()> {
    let now = now_ms(store).await?;
    let pending = store.proposals_in(&[ProposalState::PendingApproval]).await?;
    if json {
        let mut rows = Vec::new();
        for p in &pending {
            let approvals = store.approvals(p.id).await?.iter().filter(|a| a.decision == "approve").count();
            rows.push(json!({
                "id": p.id,
                "age_seconds": (now - p.created_ms) / 1000,
                "call": p.call.to_string(),
                "tool_call": p.call,
                "cost_delta_per_hour": p.cost_delta_per_hour,
                "approvals": approvals,
                "approvals_required": p.approvals_required,
                "approvers": p.approvers,
                "proposer": p.proposer,
                "rationale": p.rationale,
                "why": why(p),
                "expires_ms": p.expires_ms,
            }));
        }
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    if pending.is_empty() {
        println!("No proposals are waiting for approval.");
        return Ok(());
    }
    println!("{:<5} {:<6} {:<44} {:>9}  {:<14} WHY", "ID", "AGE", "CALL", "$/H", "NEEDS");
    for p in &pending {
        let approvals = store.approvals(p.id).await?.iter().filter(|a| a.decision == "approve").count();
        let needs = if p.approvers.is_empty() {
            format!("{approvals}/{}", p.approvals_required)
        } else {
            format!("{approvals}/{} {}", p.approvals_required, p.approvers.join("|"))
        };
        let expires = p.expires_ms.map_or_else(String::new, |e| format!(" (expires {})", hhmm(e)));
        println!(
            "{:<5} {:<6} {:<44} {:>+9.2}  {:<14} {}{expires}",
            p.id,
            age(now - p.created_ms),
            p.call.to_string(),
            p.cost_delta_per_hour,
            needs,
            why(p)
        );
    }
    Ok(())
}

fn explain_store_error(e: StoreError) -> anyhow::Error {
    match e {
        StoreError::UnknownProposal(_)
        | StoreError::NotPending { .. }
        | StoreError::Expired { .. }
        | StoreError::AlreadyDecided { .. } => anyhow::anyhow!("{e}"),
        other => other.into(),
    }
}

/// Approve (or reject, with a reason) proposal `id` as `who`.
pub async fn decide(
    config: &Config,
    store: &Store,
    id: i64,
    who: &str,
    approve: bool,
    reason: &str,
) -> anyhow::Result<()> {
    let Some(p) = store.proposal(id).await? else { bail!("no proposal #{id}") };
    if approve {
        check_approver(config, &p, who)?;
    } else if reason.trim().is_empty() {
        return Err(BadInput("a rejection needs --reason TEXT".into()).into());
    }
    let now = now_ms(store).await?;
    let tally =
        store.decide_approval(id, who, approve, reason, now, json!("cli")).await.map_err(explain_store_error)?;
    match tally.state {
        ProposalState::Approved => {
            println!(
                "#{id} approved by {who} ({}/{}): a running daemon carries it out on its next tick",
                tally.approvals, tally.required
            )
        }
        ProposalState::Rejected => println!("#{id} rejected by {who}: {reason}"),
        _ => println!("#{id}: approval {}/{} recorded for {who}; waiting for more", tally.approvals, tally.required),
    }
    Ok(())
}

/// File the inverse of an executed action as a new proposal.
pub async fn rollback(store: &Store, id: i64, who: &str) -> anyhow::Result<()> {
    let Some(p) = store.proposal(id).await? else { bail!("no proposal #{id}") };
    if p.state != ProposalState::Succeeded {
        bail!("proposal #{id} is {}, not succeeded: only an executed action can be rolled back", p.state);
    }
    let Some(inverse) = p.inverse.clone() else { bail!("proposal #{id} recorded no inverse to roll back to") };
    let now = now_ms(store).await?;
    let new = NewProposal {
        at_ms: now,
        call: inverse,
        proposer: format!("person:{who}"),
        rationale: format!("rollback of #{id} ({})", p.call),
        tainted: false,
        rollback_of: Some(id),
        requested_by: Some(who.to_string()),
    };
    let filed = store.insert_proposal(&new).await?;
    println!(
        "#{} filed: {} (rollback of #{id}); it goes through policy and approval like any proposal",
        filed.id, filed.call
    );
    Ok(())
}
