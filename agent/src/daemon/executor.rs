//! Execution: intent first, then the cloud call, then verification.
//!
//! Guarantees: the intent (state `executing`, with a fresh action id) is committed before
//! the cloud is called, and the cloud call carries the action id as its idempotency token;
//! if that commit fails, nothing is called. The outcome is verified against a fresh
//! observation and recorded with the action's inverse (what `steward rollback` proposes).
//! Assumptions: the provider honours the `CloudProvider` contract (idempotent on the action
//! id, level checks right before acting). Caveat: if the daemon dies after the cloud call
//! but before the outcome is recorded, the proposal stays `executing` until start-up
//! reconciliation looks the action id up; it is never retried blindly.

use std::num::NonZeroU32;

use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use serde_json::json;
use steward_memory::{Patch, ProposalState};
use steward_tools::provider::ActionReceipt;
use steward_tools::{ApprovedCall, ToolCall};

use super::{Daemon, DaemonClock};

/// A token bucket on mutating cloud calls, in the daemon's time.
pub struct ExecutionLimiter(RateLimiter<NotKeyed, InMemoryState, DaemonClock, NoOpMiddleware<Nanos>>);

impl ExecutionLimiter {
    pub fn new(per_minute: u32, clock: DaemonClock) -> ExecutionLimiter {
        let quota = Quota::per_minute(NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN));
        ExecutionLimiter(RateLimiter::direct_with_clock(quota, clock))
    }

    pub fn try_acquire(&self) -> bool {
        self.0.check().is_ok()
    }
}

/// Execute one approved call. Returns whether the cloud was called.
pub(crate) async fn execute(
    d: &mut Daemon,
    id: i64,
    approved: ApprovedCall,
    paused: bool,
    now: i64,
) -> anyhow::Result<bool> {
    if paused {
        d.telemetry.held(now, id, "the kill switch is on; `steward resume` lifts it");
        return Ok(false);
    }
    if !d.limiter.try_acquire() {
        d.telemetry.held(now, id, "the execution rate limit is reached; next tick");
        return Ok(false);
    }
    // Check the kill switch once more, as close to the call as possible.
    if d.store.paused().await? {
        d.telemetry.held(now, id, "the kill switch is on; `steward resume` lifts it");
        return Ok(false);
    }
    let action_id = format!("act-{}", uuid::Uuid::new_v4());
    let intent = Patch { action_id: Some(action_id.clone()), ..Patch::default() };
    let data = json!({
        "action_id": action_id,
        "call_hash": approved.call().canonical_hash(),
        "granted_by": approved.granted_by(),
    });
    if !d
        .store
        .transition(id, &[ProposalState::Approved], ProposalState::Executing, &intent, now, "steward", data)
        .await?
    {
        return Ok(false);
    }
    let from = [ProposalState::Executing];
    match d.provider.execute(&action_id, &approved).await {
        Ok(receipt) => {
            let inverse = receipt.inverse(approved.call());
            let verdict = verify(d, approved.call(), &receipt).await;
            let (state, outcome) = match &verdict {
                Ok(note) => (ProposalState::Succeeded, note.clone()),
                Err(problem) => (ProposalState::Failed, problem.clone()),
            };
            let patch = Patch {
                receipt: serde_json::to_value(&receipt).ok(),
                inverse,
                outcome: Some(outcome.clone()),
                ..Patch::default()
            };
            let data = json!({ "action_id": action_id, "summary": receipt.summary, "outcome": outcome });
            d.store.transition(id, &from, state, &patch, now, "steward", data).await?;
            match verdict {
                Ok(_) => d.telemetry.executed(now, id, &receipt),
                Err(problem) => {
                    d.telemetry.failed(now, id, &problem);
                    d.note_failure(id, approved.call());
                }
            }
        }
        Err(e) => {
            let patch = Patch { outcome: Some(e.to_string()), ..Patch::default() };
            let data = json!({ "action_id": action_id, "error": e.to_string(), "retryable": e.is_retryable() });
            d.store.transition(id, &from, ProposalState::Failed, &patch, now, "steward", data).await?;
            d.telemetry.failed(now, id, &e.to_string());
            d.note_failure(id, approved.call());
        }
    }
    Ok(true)
}

/// Check the outcome against a fresh observation.
async fn verify(d: &Daemon, call: &ToolCall, receipt: &ActionReceipt) -> Result<String, String> {
    let observation = match d.provider.observe().await {
        Ok(o) => o,
        Err(e) => return Ok(format!("done; not verified: the fleet could not be observed ({e})")),
    };
    let group = observation.group(call.target());
    let ok = match (call, group) {
        (ToolCall::ScaleGroup(s), Some(g)) => g.desired == s.desired,
        (ToolCall::ProvisionGpuWorkers(_), Some(g)) => {
            receipt.launched.iter().all(|id| g.instances.iter().any(|i| &i.id == id))
        }
        (ToolCall::TerminateWorkers(t), Some(g)) => {
            !t.instance_ids.iter().any(|id| g.instances.iter().any(|i| &i.id == id))
        }
        _ => false,
    };
    if ok {
        Ok("verified".to_string())
    } else {
        Err(format!("verification failed: the fleet does not show {}", receipt.summary))
    }
}

impl Daemon {
    /// Tell the LLM planner (when configured) that an action failed.
    fn note_failure(&mut self, id: i64, call: &ToolCall) {
        if self.config.llm.is_some() {
            self.failed_actions.push(super::advisor::FailedAction {
                id,
                target: call.target().to_string(),
                what: call.to_string(),
            });
        }
    }
}
