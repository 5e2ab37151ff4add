//! From a recorded proposal to its decision: validation against this tick's observation,
//! policy with the stateful limits, the loop's own incomplete-inventory rule, and what the
//! mode makes of the verdict. Also the approval deadline.

use std::collections::HashMap;

use serde_json::json;
use steward_memory::{Patch, ProposalRecord, ProposalState};
use steward_policies::{Decision, Reason, Verdict};
use steward_tools::{validate, ApprovedCall, Environment, Grant, Observation, ToolCall, ValidatedCall};

use super::context::Context;
use super::executor::{Executed, Executor};
use crate::config::Mode;
use crate::facts::{decision_input, parse_proposer};
use crate::time::hhmm;

/// Whether a call adds capacity (judged against the observation where it needs to be).
pub fn adds_capacity(call: &ToolCall) -> bool {
    match call {
        ToolCall::ScaleGroup(s) => s.desired > s.current_desired,
        ToolCall::ProvisionGpuWorkers(_) => true,
        ToolCall::MigrationStep(m) => !m.action.is_inverse(),
        ToolCall::TerminateWorkers(_) => false,
    }
}

/// When a change was last denied, by `(target, adds capacity)`: a like change is not
/// proposed again for the back-off.
#[derive(Debug, Default)]
pub struct Denials {
    at: HashMap<(String, bool), i64>,
}

impl Denials {
    pub fn record(&mut self, call: &ToolCall, now: i64) {
        self.at.insert((call.target().to_string(), adds_capacity(call)), now);
    }

    /// When a like change was denied within `backoff_ms` of `now`.
    pub fn recent(&self, call: &ToolCall, backoff_ms: i64, now: i64) -> Option<i64> {
        self.at.get(&(call.target().to_string(), adds_capacity(call))).copied().filter(|at| now - at < backoff_ms)
    }
}

/// Policy's decision, plus the loop's own rule: nothing that removes capacity is decided
/// on an incomplete observation.
pub async fn evaluate(
    ctx: &Context,
    validated: &ValidatedCall,
    record: &ProposalRecord,
    observation: &Observation,
    now: i64,
) -> anyhow::Result<Decision> {
    let proposer = parse_proposer(&record.proposer);
    let input =
        decision_input(&ctx.store, validated, proposer, record.tainted, observation, ctx.guardrails.limits(), now)
            .await?;
    let mut decision = ctx.guardrails.decide(validated, &input);
    if !observation.complete && validated.facts().reduces_capacity() {
        decision.verdict = Verdict::Deny;
        decision.reasons.insert(
            0,
            Reason::new(
                "inventory-incomplete",
                "part of the fleet did not answer; nothing is removed until the inventory is whole",
            ),
        );
    }
    Ok(decision)
}

fn decision_patch(decision: &Decision) -> Patch {
    Patch {
        verdict: Some(decision.verdict.kind().to_string()),
        decision: serde_json::to_value(decision).ok(),
        cost_delta_per_hour: Some(decision.cost_delta_per_hour),
        ..Patch::default()
    }
}

/// Validate and decide a proposal in state `proposed`. Returns what execution did when the
/// mode let it run at once (autonomous, allowed), and the state it was left in.
pub async fn decide(
    ctx: &Context,
    executor: &mut Executor,
    denials: &mut Denials,
    record: &ProposalRecord,
    observation: &Observation,
    paused: bool,
    now: i64,
) -> anyhow::Result<(ProposalState, Option<Executed>)> {
    let validated = validate(record.call.clone(), observation);
    ctx.telemetry.proposed(record, validated.as_ref().ok().map(|v| v.facts().cost_delta_per_hour()));
    let validated = match validated {
        Ok(v) => v,
        Err(e) => {
            let patch = Patch { outcome: Some(e.to_string()), verdict: Some("invalid".into()), ..Patch::default() };
            let data = json!({ "error": e.to_string() });
            ctx.store
                .transition(record.id, &[ProposalState::Proposed], ProposalState::Invalid, &patch, now, "steward", data)
                .await?;
            ctx.telemetry.invalid(now, record.id, &e.to_string());
            return Ok((ProposalState::Invalid, None));
        }
    };
    let decision = evaluate(ctx, &validated, record, observation, now).await?;
    settle(ctx, executor, denials, record, validated, decision, paused, now).await
}

/// Turn a verdict into the proposal's next state, as the mode says.
#[allow(clippy::too_many_arguments)]
async fn settle(
    ctx: &Context,
    executor: &mut Executor,
    denials: &mut Denials,
    record: &ProposalRecord,
    validated: ValidatedCall,
    mut decision: Decision,
    paused: bool,
    now: i64,
) -> anyhow::Result<(ProposalState, Option<Executed>)> {
    let id = record.id;
    let from = [ProposalState::Proposed];
    let mode = ctx.config.mode;
    let decided = json!({ "decision": decision, "mode": mode.as_str() });
    match (mode, decision.verdict.clone()) {
        (_, Verdict::Deny) => {
            ctx.store
                .transition(id, &from, ProposalState::Denied, &decision_patch(&decision), now, "policy", decided)
                .await?;
            denials.record(&record.call, now);
            ctx.telemetry.decided(now, id, &decision, "denied");
            Ok((ProposalState::Denied, None))
        }
        (Mode::DryRun, _) => {
            ctx.store
                .transition(id, &from, ProposalState::DryRun, &decision_patch(&decision), now, "policy", decided)
                .await?;
            ctx.telemetry.decided(now, id, &decision, "dry-run: recorded, not executed");
            Ok((ProposalState::DryRun, None))
        }
        (Mode::Autonomous, Verdict::Allow) => {
            let policies: Vec<String> = decision.reasons.iter().map(|r| r.policy.clone()).collect();
            ctx.store
                .transition(id, &from, ProposalState::Approved, &decision_patch(&decision), now, "policy", decided)
                .await?;
            ctx.telemetry.decided(
                now,
                id,
                &decision,
                if paused { "allowed; held by the kill switch" } else { "runs now" },
            );
            let approved = ApprovedCall::grant(validated, Grant::Policy { policies });
            let executed = executor.execute(ctx, id, approved, paused, now).await?;
            Ok((ProposalState::Approved, Some(executed)))
        }
        (mode, verdict) => {
            let (approvals, approvers, requester_may_approve) = match verdict {
                Verdict::NeedsApproval { approvals, approvers, requester_may_approve } => {
                    (approvals, approvers, requester_may_approve)
                }
                // Supervised mode asks a person for what policy allows: outside prod, a
                // migration step's starter may be that person, as policy lets them be for
                // the riskier steps.
                _ => (1, Vec::new(), record.call.migration_step().is_some_and(|m| m.environment != Environment::Prod)),
            };
            if mode == Mode::Supervised && decision.verdict == Verdict::Allow {
                let allowed_by: Vec<&str> = decision.reasons.iter().map(|r| r.policy.as_str()).collect();
                let message = format!(
                    "every change waits for a person in supervised mode (policy allows it: {})",
                    allowed_by.join(", ")
                );
                decision.reasons = vec![Reason::new("mode:supervised", message)];
                decision.verdict =
                    Verdict::NeedsApproval { approvals, approvers: approvers.clone(), requester_may_approve };
            }
            let expires = now + i64::try_from(ctx.config.approvals.expire_after.as_millis()).unwrap_or(i64::MAX / 2);
            let patch = Patch {
                approvals_required: Some(approvals),
                approvers: Some(approvers),
                expires_ms: Some(expires),
                ..decision_patch(&decision)
            };
            let decided = json!({ "decision": decision, "mode": mode.as_str() });
            ctx.store.transition(id, &from, ProposalState::PendingApproval, &patch, now, "policy", decided).await?;
            ctx.telemetry.decided(now, id, &decision, &format!("queued for approval until {}", hhmm(expires)));
            Ok((ProposalState::PendingApproval, None))
        }
    }
}

/// Proposals past their approval deadline expire.
pub async fn expire(ctx: &Context, now: i64) -> anyhow::Result<()> {
    for p in ctx.store.proposals_in(&[ProposalState::PendingApproval]).await? {
        if p.expires_ms.is_some_and(|at| at <= now) {
            let patch = Patch { outcome: Some("no decision before the deadline".into()), ..Patch::default() };
            let data = json!({ "expired_at": p.expires_ms });
            let from = [ProposalState::PendingApproval];
            if ctx.store.transition(p.id, &from, ProposalState::Expired, &patch, now, "steward", data).await? {
                ctx.telemetry.ended(now, p.id, "expired", &format!("{} got no decision in time", p.call));
            }
        }
    }
    Ok(())
}
