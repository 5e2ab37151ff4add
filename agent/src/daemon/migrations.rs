//! The migration stage, each tick before filed proposals are decided: for every migration
//! under way, file the next step once the one before it succeeded (it then takes the one
//! propose path like any proposal); stop the migration when a step ended without its change
//! (never go on: a rollback is offered); during a rollback, withdraw the steps still waiting
//! and file the completed steps' inverses, newest first, one at a time.
//!
//! Guarantees: a step is filed once (the store links it to its proposal in the same
//! transaction), so a crash anywhere files nothing twice; the stage reads everything it
//! needs from the store each tick, so a restarted daemon continues where it stopped.

use serde_json::json;
use steward_memory::migrations::{states, StateChange};
use steward_memory::{MigrationRecord, NewProposal, Patch, ProposalState};

use super::context::Context;

/// The proposer of every migration step: the typed migration planner.
pub const PROPOSER: &str = "planner:migration";

fn ended_badly(state: ProposalState) -> bool {
    state.is_final() && state != ProposalState::Succeeded
}

/// Move every migration under way one stage on.
pub async fn drive(ctx: &Context, now: i64) -> anyhow::Result<()> {
    for m in ctx.store.migrations_in(&[states::RUNNING, states::ROLLING_BACK]).await? {
        if m.state == states::RUNNING {
            forward(ctx, &m, now).await?;
        } else {
            backward(ctx, &m, now).await?;
        }
    }
    Ok(())
}

async fn forward(ctx: &Context, m: &MigrationRecord, now: i64) -> anyhow::Result<()> {
    let total = m.steps.len();
    let mut done = 0;
    for s in &m.steps {
        let n = s.idx + 1;
        let Some(id) = s.proposal_id else {
            let why = m.plan["steps"][s.idx as usize]["why"].as_str().unwrap_or_default().to_string();
            let new = NewProposal {
                at_ms: now,
                call: s.call.clone(),
                proposer: PROPOSER.into(),
                rationale: format!(
                    "step {n}/{total} of migration #{} ({} → AWS {}): {why}",
                    m.id, m.app, m.environment
                ),
                tainted: false,
                rollback_of: None,
                requested_by: Some(m.started_by.clone()),
            };
            if let Some(p) = ctx.store.file_migration_step(m.id, s.idx, false, &new).await? {
                ctx.telemetry.note(now, &format!("migrate  #{} step {n}/{total} filed as #{}: {}", m.id, p.id, p.call));
            }
            return Ok(());
        };
        let Some(p) = ctx.store.proposal(id).await? else { return Ok(()) };
        if p.state == ProposalState::Succeeded {
            done += 1;
            continue;
        }
        if ended_badly(p.state) {
            let reason = p.outcome.clone().filter(|o| !o.is_empty()).unwrap_or_else(|| p.reason_line());
            let outcome = format!(
                "step {n} ({}) {}: {reason}; `steward migrate rollback {}` undoes the {done} completed step(s)",
                s.call.policy_action(),
                p.state,
                m.app
            );
            let data = json!({ "step": n, "proposal": id, "state": p.state });
            ctx.store
                .set_migration_state(m.id, &[states::RUNNING], change(states::FAILED, &outcome, now, data))
                .await?;
            ctx.telemetry.note(now, &format!("migrate  #{} failed: {outcome}", m.id));
        }
        return Ok(());
    }
    let outcome = format!("all {total} steps done");
    let data = json!({ "steps": total });
    if ctx.store.set_migration_state(m.id, &[states::RUNNING], change(states::COMPLETED, &outcome, now, data)).await? {
        ctx.telemetry.note(now, &format!("migrate  #{} of {} completed: {outcome}", m.id, m.app));
    }
    Ok(())
}

async fn backward(ctx: &Context, m: &MigrationRecord, now: i64) -> anyhow::Result<()> {
    // Forward steps still waiting are withdrawn; one executing finishes first.
    for s in &m.steps {
        let Some(id) = s.proposal_id else { continue };
        let Some(p) = ctx.store.proposal(id).await? else { continue };
        match p.state {
            ProposalState::Executing => return Ok(()),
            ProposalState::Proposed | ProposalState::PendingApproval | ProposalState::Approved => {
                let patch =
                    Patch { outcome: Some("withdrawn: the migration is being rolled back".into()), ..Patch::default() };
                let from = [p.state];
                let data = json!({ "migration": m.id, "withdrawn": true });
                if ctx.store.transition(id, &from, ProposalState::Superseded, &patch, now, "steward", data).await? {
                    ctx.telemetry.ended(now, id, "withdrawn", "the migration is being rolled back");
                }
            }
            _ => {}
        }
    }
    let total = m.steps.len();
    for s in m.steps.iter().rev() {
        let n = s.idx + 1;
        let Some(id) = s.proposal_id else { continue };
        let Some(p) = ctx.store.proposal(id).await? else { continue };
        if p.state != ProposalState::Succeeded {
            continue;
        }
        let Some(inverse) = p.inverse.clone() else { continue };
        let Some(undo) = s.undo_proposal_id else {
            let new = NewProposal {
                at_ms: now,
                call: inverse,
                proposer: PROPOSER.into(),
                rationale: format!("undo step {n}/{total} of migration #{} ({})", m.id, m.app),
                tainted: false,
                rollback_of: Some(id),
                requested_by: Some(m.started_by.clone()),
            };
            if let Some(u) = ctx.store.file_migration_step(m.id, s.idx, true, &new).await? {
                ctx.telemetry.note(now, &format!("migrate  #{} undo of step {n} filed as #{}: {}", m.id, u.id, u.call));
            }
            return Ok(());
        };
        let Some(u) = ctx.store.proposal(undo).await? else { return Ok(()) };
        if u.state == ProposalState::Succeeded {
            continue;
        }
        if ended_badly(u.state) {
            let reason = u.outcome.clone().filter(|o| !o.is_empty()).unwrap_or_else(|| u.reason_line());
            let outcome = format!(
                "undoing step {n} ({}) {}: {reason}; `steward migrate rollback {}` tries again",
                s.call.policy_action(),
                u.state,
                m.app
            );
            let data = json!({ "step": n, "proposal": undo, "state": u.state });
            ctx.store
                .set_migration_state(
                    m.id,
                    &[states::ROLLING_BACK],
                    change(states::ROLLBACK_FAILED, &outcome, now, data),
                )
                .await?;
            ctx.telemetry.note(now, &format!("migrate  #{} rollback failed: {outcome}", m.id));
        }
        return Ok(());
    }
    let outcome = "every completed step undone".to_string();
    if ctx
        .store
        .set_migration_state(m.id, &[states::ROLLING_BACK], change(states::ROLLED_BACK, &outcome, now, json!({})))
        .await?
    {
        ctx.telemetry.note(now, &format!("migrate  #{} of {} rolled back: {outcome}", m.id, m.app));
    }
    Ok(())
}

/// The daemon's change of a migration's state.
fn change<'a>(to: &'a str, outcome: &'a str, at_ms: i64, data: serde_json::Value) -> StateChange<'a> {
    StateChange { to, outcome, at_ms, actor: "steward", data }
}
