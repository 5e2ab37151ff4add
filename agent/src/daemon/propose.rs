//! The one propose path. Every proposal, whatever its origin (a planner, the LLM planner,
//! a person on the CLI or in Slack, a rollback, a migration step), goes through
//! [`Pipeline::propose`]: back-off after a denial, supersede (a like proposal waiting keeps
//! its place; any other waiting for the same target is replaced, its approvals void),
//! validation, policy with the limits, and the mode; in autonomous mode an allowed call runs
//! at once unless the kill switch is on.
//!
//! Proposals made inside the loop arrive as [`Candidate::Planned`] and are recorded here;
//! proposals filed from outside (the service core) are already recorded in state
//! `proposed` and arrive as [`Candidate::Filed`] on the next tick. A filed proposal that
//! meets a back-off (or an action on its target still executing) waits, still filed, until
//! it has passed; one that asks for a change already waiting is superseded by it.

use std::collections::HashMap;

use serde_json::json;
use steward_memory::{NewProposal, Patch, ProposalRecord, ProposalState, TickState};
use steward_planners::Plan;
use steward_policies::Proposer;
use steward_tools::{Observation, ToolCall};

use super::context::Context;
use super::decide::{adds_capacity, decide, Denials};
use super::executor::{Executed, Executor};
use crate::time::hhmm;

/// A proposal on its way in.
pub enum Candidate {
    /// Made in the loop; recorded by the pipeline.
    Planned { plan: Plan, proposer: Proposer, tainted: bool },
    /// Filed from outside and already recorded, in state `proposed`.
    Filed(Box<ProposalRecord>),
}

impl Candidate {
    fn call(&self) -> &ToolCall {
        match self {
            Candidate::Planned { plan, .. } => &plan.call,
            Candidate::Filed(record) => &record.call,
        }
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
        // Launches into the same pool are alike unless they ask for different types or
        // markets (no restriction is compatible with any).
        (ToolCall::ProvisionGpuWorkers(a), ToolCall::ProvisionGpuWorkers(b)) => {
            let fits = |x: &Option<String>, y: &Option<String>| x.is_none() || y.is_none() || x == y;
            a.pool == b.pool
                && fits(&a.instance_type, &b.instance_type)
                && (a.market.is_none() || b.market.is_none() || a.market == b.market)
        }
        _ => pending == new,
    }
}

/// What the propose path did with a candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proposed {
    /// Not proposed: a like change was denied recently (a filed one waits, still filed).
    BackedOff,
    /// Not proposed: an action on the same target is still executing (waiting for a retry,
    /// say); a filed one waits, still filed.
    InFlight,
    /// A like change already waits for approval (a filed one is superseded by it).
    AlreadyWaiting,
    /// Decided; `executed` says what execution did, when it ran at once.
    Decided { id: i64, state: ProposalState, executed: Option<Executed> },
}

/// The state the propose path keeps: recent denials, and what waits for approval.
pub struct Pipeline {
    denials: Denials,
    backoff_ms: i64,
    /// Proposals waiting for approval, by target, as of the start of this tick and kept up
    /// to date as the tick proposes.
    waiting: HashMap<String, Vec<ProposalRecord>>,
    /// Targets with an action still executing, as of the start of this tick.
    in_flight: std::collections::HashSet<String>,
    /// Filed proposals already reported as held by a back-off.
    held: std::collections::HashSet<i64>,
    /// Proposals decided this tick.
    took_in: usize,
}

impl Pipeline {
    pub fn new(backoff_ms: i64) -> Pipeline {
        Pipeline {
            denials: Denials::default(),
            backoff_ms,
            waiting: HashMap::new(),
            in_flight: Default::default(),
            held: Default::default(),
            took_in: 0,
        }
    }

    pub fn denials(&mut self) -> &mut Denials {
        &mut self.denials
    }

    /// Read what waits for approval and what is still executing, once per tick (only what
    /// `state` says is there).
    pub async fn begin_tick(&mut self, ctx: &Context, state: &TickState) -> anyhow::Result<()> {
        self.waiting.clear();
        self.in_flight.clear();
        self.took_in = 0;
        if state.pending_approval > 0 {
            for p in ctx.store.proposals_in(&[ProposalState::PendingApproval]).await? {
                self.waiting.entry(p.target.clone()).or_default().push(p);
            }
        }
        if state.executing > 0 {
            self.in_flight =
                ctx.store.proposals_in(&[ProposalState::Executing]).await?.into_iter().map(|p| p.target).collect();
        }
        Ok(())
    }

    /// How many proposals the path decided since the tick began.
    pub fn took_in_this_tick(&self) -> usize {
        self.took_in
    }

    /// Take every proposal filed from outside since the last tick through the path.
    pub async fn process_filed(
        &mut self,
        ctx: &Context,
        executor: &mut Executor,
        observation: &Observation,
        paused: bool,
        now: i64,
    ) -> anyhow::Result<Vec<Proposed>> {
        let mut out = Vec::new();
        for record in ctx.store.proposals_in(&[ProposalState::Proposed]).await? {
            out.push(self.propose(ctx, executor, Candidate::Filed(Box::new(record)), observation, paused, now).await?);
        }
        Ok(out)
    }

    /// The one propose path.
    pub async fn propose(
        &mut self,
        ctx: &Context,
        executor: &mut Executor,
        candidate: Candidate,
        observation: &Observation,
        paused: bool,
        now: i64,
    ) -> anyhow::Result<Proposed> {
        let call = candidate.call().clone();
        let target = call.target().to_string();
        if self.in_flight.contains(&target) {
            if let Candidate::Filed(record) = &candidate {
                if self.held.insert(record.id) {
                    ctx.telemetry.held(
                        now,
                        record.id,
                        "an action on the same target is still executing; decided after it",
                    );
                }
            }
            return Ok(Proposed::InFlight);
        }
        if let Some(at) = self.denials.recent(&call, self.backoff_ms, now) {
            if let Candidate::Filed(record) = &candidate {
                if self.held.insert(record.id) {
                    let until = hhmm(at + self.backoff_ms);
                    let why = format!("a like change was denied at {}; it is decided after {until}", hhmm(at));
                    ctx.telemetry.held(now, record.id, &why);
                }
            }
            tracing::debug!(target, "A like proposal was denied recently; not proposing again yet.");
            return Ok(Proposed::BackedOff);
        }
        let waiting = self.waiting.remove(&target).unwrap_or_default();
        let (alike, others): (Vec<_>, Vec<_>) = waiting.into_iter().partition(|old| equivalent(&old.call, &call));
        if let Some(old) = alike.first() {
            if let Candidate::Filed(record) = &candidate {
                let why = format!("the same change already waits for approval as #{}", old.id);
                let patch = Patch { outcome: Some(why.clone()), ..Patch::default() };
                let data = json!({ "same_as": old.id });
                let from = [ProposalState::Proposed];
                if ctx
                    .store
                    .transition(record.id, &from, ProposalState::Superseded, &patch, now, "steward", data)
                    .await?
                {
                    ctx.telemetry.ended(now, record.id, "replaced", &why);
                }
            }
            self.waiting.insert(target, alike.into_iter().chain(others).collect());
            return Ok(Proposed::AlreadyWaiting);
        }
        for old in others {
            let patch = Patch { outcome: Some(format!("re-planned as {call}")), ..Patch::default() };
            let data = json!({ "replaced_by": call, "approvals_void": true });
            let from = [ProposalState::PendingApproval];
            if ctx.store.transition(old.id, &from, ProposalState::Superseded, &patch, now, "steward", data).await? {
                ctx.telemetry.ended(now, old.id, "replaced", &format!("re-planned as {call}; its approvals are void"));
            }
        }
        let record = match candidate {
            Candidate::Filed(record) => *record,
            Candidate::Planned { plan, proposer, tainted } => {
                let new = NewProposal {
                    at_ms: now,
                    call: plan.call,
                    proposer: proposer.to_string(),
                    rationale: plan.rationale,
                    tainted,
                    rollback_of: None,
                    requested_by: None,
                };
                ctx.store.insert_proposal(&new).await?
            }
        };
        self.held.remove(&record.id);
        self.took_in += 1;
        let (state, executed) = decide(ctx, executor, &mut self.denials, &record, observation, paused, now).await?;
        if state == ProposalState::PendingApproval {
            if let Some(fresh) = ctx.store.proposal(record.id).await? {
                self.waiting.entry(target).or_default().push(fresh);
            }
        }
        Ok(Proposed::Decided { id: record.id, state, executed })
    }
}
