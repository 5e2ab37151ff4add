//! Execution: intent first, then the cloud call, then verification; retryable failures are
//! tried again later with the same action id.
//!
//! Guarantees: the intent (state `executing`, with a fresh action id) is committed before
//! the cloud is called, and every attempt carries that action id as its idempotency token;
//! if the commit fails, nothing is called. A retryable error (throttled, unreachable, out of
//! capacity) is recorded (`execution.retry`) and the same call is tried again after a
//! backoff that doubles, up to `execution.max_attempts` attempts in all; a permanent error,
//! or the last attempt, fails the action once. The outcome is verified against a fresh
//! observation and recorded with the action's inverse (what `steward rollback` proposes).
//!
//! Assumptions: the provider honours the `CloudProvider` contract (idempotent on the action
//! id, level checks right before acting). Caveats: a retry waiting when the daemon stops is
//! not resumed by the next start; the proposal stays `executing` and start-up
//! reconciliation looks its action id up in the cloud (never retried blindly). The kill
//! switch holds retries like first attempts.

use std::collections::BTreeMap;
use std::num::NonZeroU32;

use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use serde_json::json;
use steward_memory::{NewEntry, Patch, ProposalState};
use steward_tools::provider::ActionReceipt;
use steward_tools::{ApprovedCall, Grant, ProviderError, ToolCall};

use super::clock::DaemonClock;
use super::context::Context;
use crate::config::ExecutionConfig;

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

/// What became of an approved call this time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Executed {
    /// Not tried: the kill switch, or the rate limit.
    Held,
    Succeeded,
    /// Failed for good: the LLM planner may want to know.
    Failed {
        id: i64,
        target: String,
        what: String,
    },
    /// A retryable error; tried again at `at_ms`.
    Retrying {
        at_ms: i64,
    },
}

struct Retry {
    action_id: String,
    approved: ApprovedCall,
    /// Attempts made so far.
    attempts: u32,
    due_ms: i64,
}

pub struct Executor {
    limiter: ExecutionLimiter,
    config: ExecutionConfig,
    retries: BTreeMap<i64, Retry>,
}

impl Executor {
    pub fn new(config: &ExecutionConfig, clock: DaemonClock) -> Executor {
        Executor {
            limiter: ExecutionLimiter::new(config.max_calls_per_minute, clock),
            config: config.clone(),
            retries: BTreeMap::new(),
        }
    }

    /// When the next retry is due, if one waits.
    pub fn next_retry_ms(&self) -> Option<i64> {
        self.retries.values().map(|r| r.due_ms).min()
    }

    pub fn retries_waiting(&self) -> usize {
        self.retries.len()
    }

    /// Whether the call may go now; says why not otherwise.
    async fn may_run(&self, ctx: &Context, id: i64, paused: bool, now: i64) -> anyhow::Result<bool> {
        let paused_note = "the kill switch is on; `steward resume` lifts it";
        if paused {
            ctx.telemetry.held(now, id, paused_note);
            return Ok(false);
        }
        if !self.limiter.try_acquire() {
            ctx.telemetry.held(now, id, "the execution rate limit is reached; next tick");
            return Ok(false);
        }
        // Check the kill switch once more, as close to the call as possible.
        if ctx.store.paused().await? {
            ctx.telemetry.held(now, id, paused_note);
            return Ok(false);
        }
        Ok(true)
    }

    /// Execute one approved proposal `id` (in state `approved`): the intent, then the call.
    pub async fn execute(
        &mut self,
        ctx: &Context,
        id: i64,
        approved: ApprovedCall,
        paused: bool,
        now: i64,
    ) -> anyhow::Result<Executed> {
        if !self.may_run(ctx, id, paused, now).await? {
            return Ok(Executed::Held);
        }
        let action_id = format!("act-{}", uuid::Uuid::new_v4());
        let intent = Patch { action_id: Some(action_id.clone()), ..Patch::default() };
        let data = json!({
            "action_id": action_id,
            "call_hash": approved.call().canonical_hash(),
            "granted_by": approved.granted_by(),
        });
        if !ctx
            .store
            .transition(id, &[ProposalState::Approved], ProposalState::Executing, &intent, now, "steward", data)
            .await?
        {
            return Ok(Executed::Held);
        }
        self.attempt(ctx, id, action_id, approved, 1, now).await
    }

    /// Run again, on the next tick, a step a crash interrupted (its intent, with
    /// `action_id`, is recorded): checked again and granted by the approvals it had.
    pub async fn resume(
        &mut self,
        ctx: &Context,
        proposal: steward_memory::ProposalRecord,
        action_id: String,
        now: i64,
    ) -> anyhow::Result<()> {
        let empty = steward_tools::Observation { at_ms: now, groups: Vec::new(), complete: true };
        let validated = match steward_tools::validate(proposal.call.clone(), &empty) {
            Ok(v) => v,
            Err(e) => {
                let patch = Patch { outcome: Some(format!("not resumed: {e}")), ..Patch::default() };
                let data = json!({ "action_id": action_id, "reconciled": true, "error": e.to_string() });
                let from = [ProposalState::Executing];
                ctx.store.transition(proposal.id, &from, ProposalState::Failed, &patch, now, "steward", data).await?;
                return Ok(());
            }
        };
        let names: Vec<String> = ctx
            .store
            .approvals(proposal.id)
            .await?
            .into_iter()
            .filter(|v| v.decision == "approve")
            .map(|v| v.approver)
            .collect();
        let grant = if names.is_empty() { Grant::Policy { policies: Vec::new() } } else { Grant::Approvers { names } };
        let approved = ApprovedCall::grant(validated, grant);
        self.retries.insert(proposal.id, Retry { action_id, approved, attempts: 0, due_ms: now });
        Ok(())
    }

    /// Try again every call whose retry is due.
    pub async fn retry_due(&mut self, ctx: &Context, paused: bool, now: i64) -> anyhow::Result<Vec<Executed>> {
        let due: Vec<i64> = self.retries.iter().filter(|(_, r)| r.due_ms <= now).map(|(id, _)| *id).collect();
        let mut out = Vec::new();
        for id in due {
            if !self.may_run(ctx, id, paused, now).await? {
                continue;
            }
            let Some(retry) = self.retries.remove(&id) else { continue };
            out.push(self.attempt(ctx, id, retry.action_id, retry.approved, retry.attempts + 1, now).await?);
        }
        Ok(out)
    }

    /// One attempt of the call, the intent already recorded.
    async fn attempt(
        &mut self,
        ctx: &Context,
        id: i64,
        action_id: String,
        approved: ApprovedCall,
        attempt: u32,
        now: i64,
    ) -> anyhow::Result<Executed> {
        let from = [ProposalState::Executing];
        match ctx.provider.execute(&action_id, &approved).await {
            Ok(receipt) => {
                let inverse = receipt.inverse(approved.call());
                let verdict = verify(ctx, approved.call(), &receipt).await;
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
                let data = json!({ "action_id": action_id, "summary": receipt.summary, "outcome": outcome, "attempt": attempt });
                ctx.store.transition(id, &from, state, &patch, now, "steward", data).await?;
                match verdict {
                    Ok(_) => {
                        ctx.telemetry.executed(now, id, &receipt);
                        Ok(Executed::Succeeded)
                    }
                    Err(problem) => {
                        ctx.telemetry.failed(now, id, &problem);
                        Ok(failed(id, approved.call()))
                    }
                }
            }
            Err(e) if e.is_retryable() && attempt < self.config.max_attempts => {
                let wait = self.config.backoff_after(attempt);
                let due_ms = now + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2);
                let data = json!({ "action_id": action_id, "attempt": attempt, "error": e.to_string(), "retry_at_ms": due_ms });
                ctx.store.append(NewEntry::new(now, "steward", "execution.retry", Some(id), data)).await?;
                ctx.telemetry.retrying(now, id, attempt, &e.to_string(), due_ms);
                self.retries.insert(id, Retry { action_id, approved, attempts: attempt, due_ms });
                Ok(Executed::Retrying { at_ms: due_ms })
            }
            Err(e) => {
                let outcome = give_up(&e, attempt);
                let patch = Patch { outcome: Some(outcome.clone()), ..Patch::default() };
                let data = json!({ "action_id": action_id, "error": e.to_string(), "retryable": e.is_retryable(), "attempts": attempt });
                ctx.store.transition(id, &from, ProposalState::Failed, &patch, now, "steward", data).await?;
                ctx.telemetry.failed(now, id, &outcome);
                Ok(failed(id, approved.call()))
            }
        }
    }
}

fn give_up(e: &ProviderError, attempts: u32) -> String {
    if e.is_retryable() && attempts > 1 {
        format!("{e} (gave up after {attempts} attempts)")
    } else {
        e.to_string()
    }
}

fn failed(id: i64, call: &ToolCall) -> Executed {
    Executed::Failed { id, target: call.target().to_string(), what: call.to_string() }
}

/// Check the outcome against a fresh observation.
async fn verify(ctx: &Context, call: &ToolCall, receipt: &ActionReceipt) -> Result<String, String> {
    if let Some(checked) = ctx.provider.check(call, receipt).await {
        return checked.map_err(|missing| format!("verification failed: {missing}"));
    }
    let observation = match ctx.provider.observe().await {
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
