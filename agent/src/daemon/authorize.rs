//! The approval path: the only place an [`ApprovedCall`] is made from people's approvals.
//!
//! Before an approved proposal runs, it is checked again against this tick's observation
//! (karpenter's rule: an approval hours old is re-checked before it acts): every approval
//! must be bound to the call's canonical hash and its proof must still hold (an operator's
//! signature verifies against the key in force; see [`crate::identity::vote_counts`]), the
//! call must still validate, and policy, evaluated again, must still let it run with the
//! approvals it has.

use serde_json::json;
use steward_memory::{Patch, ProposalRecord, ProposalState};
use steward_policies::Verdict;
use steward_tools::{validate, ApprovedCall, Grant, Observation};

use super::context::Context;
use super::decide::evaluate;
use super::executor::{Executed, Executor};
use crate::config::Mode;
use crate::identity::vote_counts;

/// Carry out every proposal in state `approved`.
pub async fn carry_out_approved(
    ctx: &Context,
    executor: &mut Executor,
    observation: &Observation,
    paused: bool,
    now: i64,
) -> anyhow::Result<Vec<Executed>> {
    let approved = ctx.store.proposals_in(&[ProposalState::Approved]).await?;
    if approved.is_empty() || ctx.config.mode == Mode::DryRun {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for p in approved {
        if let Some(executed) = carry_out(ctx, executor, &p, observation, paused, now).await? {
            out.push(executed);
        }
    }
    Ok(out)
}

async fn end(ctx: &Context, p: &ProposalRecord, to: ProposalState, why: String, now: i64) -> anyhow::Result<()> {
    let patch = Patch { outcome: Some(why.clone()), ..Patch::default() };
    let data = json!({ "why": why });
    ctx.store.transition(p.id, &[ProposalState::Approved], to, &patch, now, "steward", data).await?;
    Ok(())
}

async fn carry_out(
    ctx: &Context,
    executor: &mut Executor,
    p: &ProposalRecord,
    observation: &Observation,
    paused: bool,
    now: i64,
) -> anyhow::Result<Option<Executed>> {
    let from = [ProposalState::Approved];
    let votes = ctx.store.approvals(p.id).await?;
    if votes.iter().any(|v| v.call_hash != p.call_hash) {
        end(ctx, p, ProposalState::Superseded, "an approval was given for another call".into(), now).await?;
        ctx.telemetry.ended(now, p.id, "void", "an approval does not match the call's hash");
        return Ok(None);
    }
    let mut people = Vec::new();
    for v in votes.iter().filter(|v| v.decision == "approve") {
        match vote_counts(&ctx.config.approvals, &v.approver, v.proof.as_deref(), p.id, &p.call_hash) {
            Ok(()) => people.push(v.approver.clone()),
            Err(why) => {
                tracing::warn!(proposal = p.id, approver = %v.approver, why, "An approval's proof does not hold; it does not count.");
                ctx.telemetry
                    .note(now, &format!("refuse   #{}: {}'s approval does not count: {why}", p.id, v.approver));
            }
        }
    }
    let validated = match validate(p.call.clone(), observation) {
        Ok(v) => v,
        Err(e) => {
            let why = format!("no longer valid against the fleet: {e}");
            end(ctx, p, ProposalState::Invalid, why.clone(), now).await?;
            ctx.telemetry.ended(now, p.id, "invalid", &why);
            return Ok(None);
        }
    };
    let decision = evaluate(ctx, &validated, p, observation, now).await?;
    let requeue = match &decision.verdict {
        Verdict::Deny => {
            let why = format!("policy, evaluated again before execution, denies it: {}", decision.reason_line());
            let patch = Patch {
                outcome: Some(why.clone()),
                verdict: Some("deny".into()),
                decision: serde_json::to_value(&decision).ok(),
                ..Patch::default()
            };
            let data = json!({ "decision": decision });
            ctx.store.transition(p.id, &from, ProposalState::Denied, &patch, now, "policy", data).await?;
            ctx.telemetry.ended(now, p.id, "denied", &why);
            return Ok(None);
        }
        Verdict::NeedsApproval { approvals, .. } if (people.len() as u32) < *approvals => {
            Some((*approvals, format!("policy now needs {approvals} approval(s) that hold; {} do", people.len())))
        }
        Verdict::Allow if people.is_empty() && ctx.config.mode != Mode::Autonomous => {
            Some((1, "supervised mode: a person must approve".to_string()))
        }
        _ => None,
    };
    if let Some((approvals, why)) = requeue {
        let expires = now + i64::try_from(ctx.config.approvals.expire_after.as_millis()).unwrap_or(i64::MAX / 2);
        let patch = Patch {
            approvals_required: Some(approvals),
            expires_ms: Some(expires),
            outcome: Some(why.clone()),
            ..Patch::default()
        };
        let data = json!({ "why": why });
        ctx.store.transition(p.id, &from, ProposalState::PendingApproval, &patch, now, "policy", data).await?;
        ctx.telemetry.ended(now, p.id, "requeued", &why);
        return Ok(None);
    }
    let grant = if people.is_empty() {
        Grant::Policy { policies: decision.reasons.iter().map(|r| r.policy.clone()).collect() }
    } else {
        Grant::Approvers { names: people }
    };
    Ok(Some(executor.execute(ctx, p.id, ApprovedCall::grant(validated, grant), paused, now).await?))
}
