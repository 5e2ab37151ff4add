//! From a plan to a decision: re-planning, validation, policy, and what the mode makes of
//! the verdict.

use serde_json::json;
use steward_memory::{NewProposal, Patch, ProposalRecord, ProposalState};
use steward_policies::{Decision, DecisionInput, Proposer, ProposerKind, Reason, Verdict};
use steward_tools::{validate, Grant, Observation, ToolCall, ValidatedCall};

use super::{executor, Daemon};
use crate::config::Mode;
use crate::time::hhmm;
use steward_planners::Plan;

const HOUR_MS: i64 = 3_600_000;

/// Whether a call adds capacity (judged against the observation where it needs to be).
pub(crate) fn adds_capacity(call: &ToolCall) -> bool {
    match call {
        ToolCall::ScaleGroup(s) => s.desired > s.current_desired,
        ToolCall::ProvisionGpuWorkers(_) | ToolCall::MigrateApp(_) => true,
        ToolCall::TerminateWorkers(_) => false,
    }
}

/// A pending proposal that already asks for (about) the same change: re-proposing it would
/// only churn the approval queue.
fn equivalent(pending: &ToolCall, new: &ToolCall) -> bool {
    match (pending, new) {
        (ToolCall::ScaleGroup(a), ToolCall::ScaleGroup(b)) => {
            let tolerance = (a.desired / 10).max(1);
            a.group == b.group
                && a.current_desired == b.current_desired
                && adds_capacity(pending) == adds_capacity(new)
                && a.desired.abs_diff(b.desired) <= tolerance
        }
        (ToolCall::ProvisionGpuWorkers(a), ToolCall::ProvisionGpuWorkers(b)) => {
            a.pool == b.pool && a.instance_type == b.instance_type
        }
        _ => pending == new,
    }
}

/// `planner:target-tracking` → the proposer it names.
pub(crate) fn parse_proposer(text: &str) -> Proposer {
    let (kind, name) = text.split_once(':').unwrap_or(("person", text));
    let kind = match kind {
        "planner" => ProposerKind::Planner,
        "model" => ProposerKind::Model,
        _ => ProposerKind::Person,
    };
    Proposer { kind, name: name.to_string() }
}

/// Record a planner's proposal and take it through validation and policy. `waiting` holds
/// the proposals for the same target that waited for approval at the start of the tick:
/// one that already asks for the same change keeps its place; any other is superseded.
/// Who proposes, and whether they read untrusted text first.
pub(crate) struct Origin {
    pub proposer: Proposer,
    pub tainted: bool,
}

pub(crate) async fn propose(
    d: &mut Daemon,
    plan: Plan,
    origin: Origin,
    waiting: &[ProposalRecord],
    observation: &Observation,
    paused: bool,
    now: i64,
) -> anyhow::Result<()> {
    let target = plan.call.target().to_string();
    let adds = adds_capacity(&plan.call);
    if let Some(at) = d.denials.get(&(target.clone(), adds)) {
        if now - at < d.denied_backoff_ms {
            tracing::debug!(target, adds, "A like proposal was denied recently; not proposing again yet.");
            return Ok(());
        }
    }
    for old in waiting.iter().filter(|p| p.target == target) {
        if equivalent(&old.call, &plan.call) {
            return Ok(());
        }
        let patch = Patch { outcome: Some(format!("re-planned as {}", plan.call)), ..Patch::default() };
        let data = json!({ "replaced_by": plan.call, "approvals_void": true });
        if d.store
            .transition(
                old.id,
                &[ProposalState::PendingApproval],
                ProposalState::Superseded,
                &patch,
                now,
                "steward",
                data,
            )
            .await?
        {
            d.telemetry.ended(now, old.id, "replaced", &format!("re-planned as {}; its approvals are void", plan.call));
        }
    }
    let new = NewProposal {
        at_ms: now,
        call: plan.call,
        proposer: origin.proposer.to_string(),
        rationale: plan.rationale,
        tainted: origin.tainted,
        rollback_of: None,
        requested_by: None,
    };
    let record = d.store.insert_proposal(&new).await?;
    decide(d, &record, observation, paused, now).await
}

/// Proposals filed from outside the loop (a rollback from the CLI) wait in `proposed`.
pub(crate) async fn process_external(d: &mut Daemon, observation: &Observation, now: i64) -> anyhow::Result<()> {
    for record in d.store.proposals_in(&[ProposalState::Proposed]).await? {
        decide(d, &record, observation, false, now).await?;
    }
    Ok(())
}

/// The facts policy needs beyond the call.
pub(crate) async fn decision_input(
    d: &Daemon,
    validated: &ValidatedCall,
    record: &ProposalRecord,
    observation: &Observation,
    now: i64,
) -> anyhow::Result<DecisionInput> {
    facts_for(&d.store, validated, parse_proposer(&record.proposer), record.tainted, observation, now).await
}

/// The facts policy needs about `validated`, proposed by `proposer`, from the store's
/// history of the target and the observation.
pub(crate) async fn facts_for(
    store: &steward_memory::Store,
    validated: &ValidatedCall,
    proposer: Proposer,
    tainted: bool,
    observation: &Observation,
    now: i64,
) -> anyhow::Result<DecisionInput> {
    let (last_change_ms, changes_last_hour) = store.change_history(validated.call().target(), now - HOUR_MS).await?;
    Ok(DecisionInput {
        proposer,
        now_ms: now,
        hourly_burn_usd: observation.hourly_burn(),
        last_change_ms,
        changes_last_hour,
        tainted,
        idle_only: observation.terminates_only_idle(validated.call()),
    })
}

/// Policy's decision, plus the loop's own rule: nothing that removes capacity is decided
/// on an incomplete observation.
pub(crate) async fn evaluate(
    d: &Daemon,
    validated: &ValidatedCall,
    record: &ProposalRecord,
    observation: &Observation,
    now: i64,
) -> anyhow::Result<Decision> {
    let input = decision_input(d, validated, record, observation, now).await?;
    let mut decision = d.guardrails.decide(validated, &input);
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

async fn decide(
    d: &mut Daemon,
    record: &ProposalRecord,
    observation: &Observation,
    paused: bool,
    now: i64,
) -> anyhow::Result<()> {
    let validated = validate(record.call.clone(), observation);
    d.telemetry.proposed(record, validated.as_ref().ok().map(|v| v.facts().cost_delta_per_hour()));
    let validated = match validated {
        Ok(v) => v,
        Err(e) => {
            let patch = Patch { outcome: Some(e.to_string()), verdict: Some("invalid".into()), ..Patch::default() };
            d.store
                .transition(
                    record.id,
                    &[ProposalState::Proposed],
                    ProposalState::Invalid,
                    &patch,
                    now,
                    "steward",
                    json!({ "error": e.to_string() }),
                )
                .await?;
            d.telemetry.invalid(now, record.id, &e.to_string());
            return Ok(());
        }
    };
    let decision = evaluate(d, &validated, record, observation, now).await?;
    settle(d, record, validated, decision, paused, now).await
}

/// Turn a verdict into the proposal's next state, as the mode says.
async fn settle(
    d: &mut Daemon,
    record: &ProposalRecord,
    validated: ValidatedCall,
    mut decision: Decision,
    paused: bool,
    now: i64,
) -> anyhow::Result<()> {
    let id = record.id;
    let from = [ProposalState::Proposed];
    let decided = json!({ "decision": decision, "mode": d.config.mode.as_str() });
    match (d.config.mode, decision.verdict.clone()) {
        (_, Verdict::Deny) => {
            d.store
                .transition(id, &from, ProposalState::Denied, &decision_patch(&decision), now, "policy", decided)
                .await?;
            d.denials.insert((record.target.clone(), adds_capacity(&record.call)), now);
            d.telemetry.decided(now, id, &decision, "denied");
        }
        (Mode::DryRun, _) => {
            d.store
                .transition(id, &from, ProposalState::DryRun, &decision_patch(&decision), now, "policy", decided)
                .await?;
            d.telemetry.decided(now, id, &decision, "dry-run: recorded, not executed");
        }
        (Mode::Autonomous, Verdict::Allow) => {
            let policies: Vec<String> = decision.reasons.iter().map(|r| r.policy.clone()).collect();
            d.store
                .transition(id, &from, ProposalState::Approved, &decision_patch(&decision), now, "policy", decided)
                .await?;
            d.telemetry.decided(now, id, &decision, "runs now");
            let approved = steward_tools::ApprovedCall::grant(validated, Grant::Policy { policies });
            executor::execute(d, id, approved, paused, now).await?;
        }
        (mode, verdict) => {
            let (approvals, approvers) = match verdict {
                Verdict::NeedsApproval { approvals, approvers } => (approvals, approvers),
                _ => (1, Vec::new()),
            };
            if mode == Mode::Supervised && decision.verdict == Verdict::Allow {
                let allowed_by: Vec<&str> = decision.reasons.iter().map(|r| r.policy.as_str()).collect();
                let message = format!(
                    "every change waits for a person in supervised mode (policy allows it: {})",
                    allowed_by.join(", ")
                );
                decision.reasons = vec![Reason::new("mode:supervised", message)];
                decision.verdict = Verdict::NeedsApproval { approvals, approvers: approvers.clone() };
            }
            let expires = now + d.config.approval_ttl.as_millis() as i64;
            let patch = Patch {
                approvals_required: Some(approvals),
                approvers: Some(approvers),
                expires_ms: Some(expires),
                ..decision_patch(&decision)
            };
            let decided = json!({ "decision": decision, "mode": d.config.mode.as_str() });
            d.store.transition(id, &from, ProposalState::PendingApproval, &patch, now, "policy", decided).await?;
            d.telemetry.decided(now, id, &decision, &format!("queued for approval until {}", hhmm(expires)));
        }
    }
    Ok(())
}

/// Proposals past their approval deadline expire.
pub(crate) async fn expire(d: &mut Daemon, now: i64) -> anyhow::Result<()> {
    for p in d.store.proposals_in(&[ProposalState::PendingApproval]).await? {
        if p.expires_ms.is_some_and(|at| at <= now) {
            let patch = Patch { outcome: Some("no decision before the deadline".into()), ..Patch::default() };
            let data = json!({ "expired_at": p.expires_ms });
            if d.store
                .transition(
                    p.id,
                    &[ProposalState::PendingApproval],
                    ProposalState::Expired,
                    &patch,
                    now,
                    "steward",
                    data,
                )
                .await?
            {
                d.telemetry.ended(now, p.id, "expired", &format!("{} got no decision in time", p.call));
            }
        }
    }
    Ok(())
}
