//! The approval path: the only place an [`ApprovedCall`] is made from people's approvals.
//!
//! Before an approved proposal runs, it is checked again against this tick's observation
//! (karpenter's rule: an approval hours old is re-checked before it acts): every approval
//! must be bound to the call's canonical hash, the call must still validate, and policy,
//! evaluated again, must still let it run with the approvals it has.

use serde_json::json;
use steward_memory::{Patch, ProposalState};
use steward_policies::Verdict;
use steward_tools::{validate, ApprovedCall, Grant, Observation};

use super::{executor, pipeline, Daemon};
use crate::config::Mode;

/// Carry out every proposal in state `approved`. Returns how many reached the cloud.
pub(crate) async fn carry_out_approved(
    d: &mut Daemon,
    observation: &Observation,
    paused: bool,
    now: i64,
) -> anyhow::Result<usize> {
    let approved = d.store.proposals_in(&[ProposalState::Approved]).await?;
    if approved.is_empty() || d.config.mode == Mode::DryRun {
        return Ok(0);
    }
    let from = [ProposalState::Approved];
    let mut executed = 0;
    for p in approved {
        let votes = d.store.approvals(p.id).await?;
        if votes.iter().any(|v| v.call_hash != p.call_hash) {
            let patch = Patch { outcome: Some("an approval was given for another call".into()), ..Patch::default() };
            d.store.transition(p.id, &from, ProposalState::Superseded, &patch, now, "steward", json!({})).await?;
            d.telemetry.ended(now, p.id, "void", "an approval does not match the call's hash");
            continue;
        }
        let people: Vec<String> =
            votes.iter().filter(|v| v.decision == "approve").map(|v| v.approver.clone()).collect();
        let validated = match validate(p.call.clone(), observation) {
            Ok(v) => v,
            Err(e) => {
                let why = format!("no longer valid against the fleet: {e}");
                let patch = Patch { outcome: Some(why.clone()), ..Patch::default() };
                d.store
                    .transition(p.id, &from, ProposalState::Invalid, &patch, now, "steward", json!({ "error": why }))
                    .await?;
                d.telemetry.ended(now, p.id, "invalid", &why);
                continue;
            }
        };
        let decision = pipeline::evaluate(d, &validated, &p, observation, now).await?;
        let requeue = match &decision.verdict {
            Verdict::Deny => {
                let why = format!("policy, evaluated again before execution, denies it: {}", decision.reason_line());
                let patch = Patch {
                    outcome: Some(why.clone()),
                    verdict: Some("deny".into()),
                    decision: serde_json::to_value(&decision).ok(),
                    ..Patch::default()
                };
                d.store
                    .transition(
                        p.id,
                        &from,
                        ProposalState::Denied,
                        &patch,
                        now,
                        "policy",
                        json!({ "decision": decision }),
                    )
                    .await?;
                d.telemetry.ended(now, p.id, "denied", &why);
                continue;
            }
            Verdict::NeedsApproval { approvals, .. } if (people.len() as u32) < *approvals => {
                Some((*approvals, format!("policy now needs {approvals} approval(s)")))
            }
            Verdict::Allow if people.is_empty() && d.config.mode != Mode::Autonomous => {
                Some((1, "supervised mode: a person must approve".to_string()))
            }
            _ => None,
        };
        if let Some((approvals, why)) = requeue {
            let patch = Patch {
                approvals_required: Some(approvals),
                expires_ms: Some(now + d.config.approval_ttl.as_millis() as i64),
                outcome: Some(why.clone()),
                ..Patch::default()
            };
            d.store
                .transition(p.id, &from, ProposalState::PendingApproval, &patch, now, "policy", json!({ "why": why }))
                .await?;
            d.telemetry.ended(now, p.id, "requeued", &why);
            continue;
        }
        let grant = if people.is_empty() {
            Grant::Policy { policies: decision.reasons.iter().map(|r| r.policy.clone()).collect() }
        } else {
            Grant::Approvers { names: people }
        };
        if executor::execute(d, p.id, ApprovedCall::grant(validated, grant), paused, now).await? {
            executed += 1;
        }
    }
    Ok(executed)
}
