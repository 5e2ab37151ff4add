//! Proposals, their state machine, and approvals.
//!
//! ```text
//! proposed ─┬─► invalid
//!           ├─► denied
//!           ├─► dry_run (dry-run mode: decided, never executed)
//!           ├─► approved ───────────────► executing ─► succeeded | failed
//!           └─► pending_approval ─┬─► approved ─┘
//!                                 ├─► rejected | expired | superseded
//! (approved ─► denied when policy, evaluated again right before execution, no longer passes)
//! ```
//! Every transition is a compare-and-set on the current state plus one audit entry, in one
//! transaction: two deciders racing (a double click, two replicas) decide once.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::Row;
use steward_tools::ToolCall;

use crate::audit::{append_tx, NewEntry};
use crate::{Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProposalState {
    Proposed,
    /// Validation refused it (unknown group, stale capacity, …).
    Invalid,
    Denied,
    PendingApproval,
    Approved,
    Rejected,
    Expired,
    /// A newer proposal for the same target replaced it; its approvals are void.
    Superseded,
    /// Decided in dry-run mode: recorded, never executed.
    DryRun,
    Executing,
    Succeeded,
    Failed,
}

impl ProposalState {
    pub const ALL: [ProposalState; 12] = [
        ProposalState::Proposed,
        ProposalState::Invalid,
        ProposalState::Denied,
        ProposalState::PendingApproval,
        ProposalState::Approved,
        ProposalState::Rejected,
        ProposalState::Expired,
        ProposalState::Superseded,
        ProposalState::DryRun,
        ProposalState::Executing,
        ProposalState::Succeeded,
        ProposalState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProposalState::Proposed => "proposed",
            ProposalState::Invalid => "invalid",
            ProposalState::Denied => "denied",
            ProposalState::PendingApproval => "pending_approval",
            ProposalState::Approved => "approved",
            ProposalState::Rejected => "rejected",
            ProposalState::Expired => "expired",
            ProposalState::Superseded => "superseded",
            ProposalState::DryRun => "dry_run",
            ProposalState::Executing => "executing",
            ProposalState::Succeeded => "succeeded",
            ProposalState::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<ProposalState> {
        ProposalState::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            ProposalState::Invalid
                | ProposalState::Denied
                | ProposalState::Rejected
                | ProposalState::Expired
                | ProposalState::Superseded
                | ProposalState::DryRun
                | ProposalState::Succeeded
                | ProposalState::Failed
        )
    }
}

impl std::fmt::Display for ProposalState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A new proposal, as a planner or a person made it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewProposal {
    pub at_ms: i64,
    pub call: ToolCall,
    /// `planner:target-tracking`, `model:gpt-4o`, `person:alice`.
    pub proposer: String,
    pub rationale: String,
    pub tainted: bool,
    pub rollback_of: Option<i64>,
    /// The person who asked for it (`slack:U…`, an OS user), who may not approve it.
    pub requested_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProposalRecord {
    pub id: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub state: ProposalState,
    pub target: String,
    pub call: ToolCall,
    pub call_hash: String,
    pub proposer: String,
    pub rationale: String,
    pub tainted: bool,
    pub verdict: Option<String>,
    pub decision: Option<Value>,
    pub approvals_required: u32,
    pub approvers: Vec<String>,
    pub cost_delta_per_hour: f64,
    pub expires_ms: Option<i64>,
    pub action_id: Option<String>,
    pub receipt: Option<Value>,
    pub inverse: Option<ToolCall>,
    pub outcome: Option<String>,
    pub rollback_of: Option<i64>,
    pub requested_by: Option<String>,
}

impl ProposalRecord {
    /// Whether the decision lets the person who asked for the change approve it (policy's
    /// `@self_approval("allowed")`).
    pub fn requester_may_approve(&self) -> bool {
        self.decision
            .as_ref()
            .and_then(|d| d.pointer("/verdict/requester_may_approve"))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// The decision's reasons in one line, as recorded.
    pub fn reason_line(&self) -> String {
        self.decision
            .as_ref()
            .and_then(|d| d.get("reasons"))
            .and_then(Value::as_array)
            .map(|reasons| {
                reasons
                    .iter()
                    .map(|r| {
                        format!(
                            "{}: {}",
                            r.get("policy").and_then(Value::as_str).unwrap_or("?"),
                            r.get("message").and_then(Value::as_str).unwrap_or("")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default()
    }
}

/// Fields a transition sets; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Patch {
    pub verdict: Option<String>,
    pub decision: Option<Value>,
    pub approvals_required: Option<u32>,
    pub approvers: Option<Vec<String>>,
    pub cost_delta_per_hour: Option<f64>,
    pub expires_ms: Option<i64>,
    pub action_id: Option<String>,
    pub receipt: Option<Value>,
    pub inverse: Option<ToolCall>,
    pub outcome: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApprovalRecord {
    pub proposal_id: i64,
    pub approver: String,
    pub decision: String,
    pub reason: String,
    pub call_hash: String,
    pub at_ms: i64,
    /// How the approver proved who they are, JSON (none on rows older than proofs).
    pub proof: Option<String>,
}

/// One person's decision on a proposal, as the service core records it.
#[derive(Debug, Clone, PartialEq)]
pub struct Vote {
    /// The proved identity (`alice`, `slack:U…`).
    pub approver: String,
    pub approve: bool,
    pub reason: String,
    pub at_ms: i64,
    /// How the decision arrived (`{"slack": {...}}`, `{"cli": {...}}`), for the audit entry.
    pub via: Value,
    /// The proof kept with the vote (JSON), checked again before the vote is counted.
    pub proof: Option<String>,
}

/// Where a proposal stands after a person decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    pub approvals: u32,
    pub required: u32,
    pub state: ProposalState,
}

const COLUMNS: &str = "id, created_ms, updated_ms, state, target, call_json, call_hash, proposer, rationale, tainted, \
    verdict, decision_json, approvals_required, approvers_json, cost_delta_per_hour, expires_ms, action_id, \
    receipt_json, inverse_json, outcome, rollback_of, requested_by";

fn parse_json<T: serde::de::DeserializeOwned>(id: i64, column: &str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("proposal #{id} {column}: {e}")))
}

macro_rules! proposal_from_row {
    ($row:expr) => {{
        let row = $row;
        let id: i64 = row.try_get("id")?;
        let state: String = row.try_get("state")?;
        let call_json: String = row.try_get("call_json")?;
        let decision: Option<String> = row.try_get("decision_json")?;
        let approvers: String = row.try_get("approvers_json")?;
        let receipt: Option<String> = row.try_get("receipt_json")?;
        let inverse: Option<String> = row.try_get("inverse_json")?;
        let required: i64 = row.try_get("approvals_required")?;
        ProposalRecord {
            id,
            created_ms: row.try_get("created_ms")?,
            updated_ms: row.try_get("updated_ms")?,
            state: ProposalState::parse(&state)
                .ok_or_else(|| StoreError::Corrupt(format!("proposal #{id} has unknown state `{state}`")))?,
            target: row.try_get("target")?,
            call: parse_json(id, "call", &call_json)?,
            call_hash: row.try_get("call_hash")?,
            proposer: row.try_get("proposer")?,
            rationale: row.try_get("rationale")?,
            tainted: row.try_get("tainted")?,
            verdict: row.try_get("verdict")?,
            decision: decision.map(|d| parse_json(id, "decision", &d)).transpose()?,
            approvals_required: u32::try_from(required).unwrap_or(0),
            approvers: parse_json(id, "approvers", &approvers)?,
            cost_delta_per_hour: row.try_get("cost_delta_per_hour")?,
            expires_ms: row.try_get("expires_ms")?,
            action_id: row.try_get("action_id")?,
            receipt: receipt.map(|r| parse_json(id, "receipt", &r)).transpose()?,
            inverse: inverse.map(|i| parse_json(id, "inverse", &i)).transpose()?,
            outcome: row.try_get("outcome")?,
            rollback_of: row.try_get("rollback_of")?,
            requested_by: row.try_get("requested_by")?,
        }
    }};
}

/// Insert `new` in state `proposed` with its audit entry, inside an open transaction;
/// evaluates to its id.
macro_rules! insert_proposal_tx {
    ($tx:ident, $new:expr) => {{
        let new: &NewProposal = $new;
        let call_json = new.call.canonical_json();
        let call_hash = new.call.canonical_hash();
        let row = sqlx::query(
            "INSERT INTO proposals (created_ms, updated_ms, state, target, tool, call_json, call_hash, proposer, \
             rationale, tainted, rollback_of, requested_by) \
             VALUES ($1, $1, 'proposed', $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(new.at_ms)
        .bind(new.call.target())
        .bind(new.call.name())
        .bind(&call_json)
        .bind(&call_hash)
        .bind(&new.proposer)
        .bind(&new.rationale)
        .bind(new.tainted)
        .bind(new.rollback_of)
        .bind(&new.requested_by)
        .fetch_one(&mut *$tx)
        .await?;
        let id: i64 = row.try_get("id")?;
        let entry = NewEntry::new(
            new.at_ms,
            &new.proposer,
            "proposal.proposed",
            Some(id),
            json!({
                "call": serde_json::from_str::<Value>(&call_json).unwrap_or(Value::Null),
                "call_hash": call_hash,
                "rationale": new.rationale,
                "tainted": new.tainted,
                "rollback_of": new.rollback_of,
                "requested_by": new.requested_by,
            }),
        );
        append_tx!($tx, &entry);
        id
    }};
}
pub(crate) use insert_proposal_tx;

impl Store {
    /// Record a new proposal in state `proposed`, with its audit entry.
    pub async fn insert_proposal(&self, new: &NewProposal) -> Result<ProposalRecord, StoreError> {
        let id: i64 = in_tx!(self, tx => insert_proposal_tx!(tx, new));
        self.proposal(id).await?.ok_or(StoreError::UnknownProposal(id))
    }

    /// Move proposal `id` from one of `from` to `to`, set `patch`, and append the audit entry
    /// `kind` (`proposal.<to>` when `None`) with `data` — all or nothing. Returns `false`,
    /// changing nothing, when the proposal is not in one of `from` (someone else decided first).
    #[allow(clippy::too_many_arguments)]
    pub async fn transition(
        &self,
        id: i64,
        from: &[ProposalState],
        to: ProposalState,
        patch: &Patch,
        at_ms: i64,
        actor: &str,
        data: Value,
    ) -> Result<bool, StoreError> {
        let from_list = from.iter().map(|s| format!("'{}'", s.as_str())).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "UPDATE proposals SET state = $1, updated_ms = $2, \
             verdict = COALESCE($3, verdict), decision_json = COALESCE($4, decision_json), \
             approvals_required = COALESCE($5, approvals_required), approvers_json = COALESCE($6, approvers_json), \
             cost_delta_per_hour = COALESCE($7, cost_delta_per_hour), expires_ms = COALESCE($8, expires_ms), \
             action_id = COALESCE($9, action_id), receipt_json = COALESCE($10, receipt_json), \
             inverse_json = COALESCE($11, inverse_json), outcome = COALESCE($12, outcome) \
             WHERE id = $13 AND state IN ({from_list})"
        );
        let decision = patch.decision.as_ref().map(Value::to_string);
        let approvers = patch.approvers.as_ref().map(|a| json!(a).to_string());
        let receipt = patch.receipt.as_ref().map(Value::to_string);
        let inverse = patch.inverse.as_ref().map(ToolCall::canonical_json);
        let changed = in_tx!(self, tx => {
            let result = sqlx::query(&sql)
                .bind(to.as_str())
                .bind(at_ms)
                .bind(patch.verdict.as_deref())
                .bind(decision.as_deref())
                .bind(patch.approvals_required.map(i64::from))
                .bind(approvers.as_deref())
                .bind(patch.cost_delta_per_hour)
                .bind(patch.expires_ms)
                .bind(patch.action_id.as_deref())
                .bind(receipt.as_deref())
                .bind(inverse.as_deref())
                .bind(patch.outcome.as_deref())
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let changed = result.rows_affected() == 1;
            if changed {
                let mut data = data;
                if let Value::Object(map) = &mut data {
                    map.insert("state".into(), json!(to.as_str()));
                }
                let entry = NewEntry::new(at_ms, actor, &format!("proposal.{}", to.as_str()), Some(id), data);
                append_tx!(tx, &entry);
            }
            changed
        });
        Ok(changed)
    }

    pub async fn proposal(&self, id: i64) -> Result<Option<ProposalRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM proposals WHERE id = $1");
        Ok(on_pool!(self, pool => match sqlx::query(&sql).bind(id).fetch_optional(pool).await? {
            Some(row) => Some(proposal_from_row!(&row)),
            None => None,
        }))
    }

    /// Proposals in any of `states`, oldest first.
    pub async fn proposals_in(&self, states: &[ProposalState]) -> Result<Vec<ProposalRecord>, StoreError> {
        let list = states.iter().map(|s| format!("'{}'", s.as_str())).collect::<Vec<_>>().join(", ");
        let sql = format!("SELECT {COLUMNS} FROM proposals WHERE state IN ({list}) ORDER BY id");
        self.proposals_where(&sql, None).await
    }

    /// The newest `limit` proposals, newest first.
    pub async fn recent_proposals(&self, limit: i64) -> Result<Vec<ProposalRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM proposals ORDER BY id DESC LIMIT $1");
        self.proposals_where(&sql, Some(limit)).await
    }

    async fn proposals_where(&self, sql: &str, bind: Option<i64>) -> Result<Vec<ProposalRecord>, StoreError> {
        Ok(on_pool!(self, pool => {
            let mut query = sqlx::query(sql);
            if let Some(value) = bind {
                query = query.bind(value);
            }
            let rows = query.fetch_all(pool).await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                out.push(proposal_from_row!(row));
            }
            out
        }))
    }

    /// When an action on `target` last started executing, and how many did since `since_ms`.
    pub async fn change_history(&self, target: &str, since_ms: i64) -> Result<(Option<i64>, u32), StoreError> {
        let sql = "SELECT MAX(updated_ms) AS last, SUM(CASE WHEN updated_ms >= $2 THEN 1 ELSE 0 END) AS recent \
                   FROM proposals WHERE target = $1 AND state IN ('executing', 'succeeded')";
        Ok(on_pool!(self, pool => {
            let row = sqlx::query(sql).bind(target).bind(since_ms).fetch_one(pool).await?;
            let last: Option<i64> = row.try_get("last")?;
            let recent: Option<i64> = row.try_get("recent")?;
            (last, u32::try_from(recent.unwrap_or(0)).unwrap_or(u32::MAX))
        }))
    }

    /// A person's approve or reject. Checks the proposal is pending and not past `expires_ms`
    /// at `at_ms`, records the vote bound to the call's hash, and moves the proposal to
    /// `approved` once `approvals_required` distinct people approved, or to `rejected` on any
    /// reject. All in one transaction.
    pub async fn decide_approval(&self, id: i64, vote: &Vote) -> Result<Tally, StoreError> {
        let Vote { approver, approve, reason, at_ms, via, proof } = vote;
        let (approve, at_ms) = (*approve, *at_ms);
        let sql = format!("SELECT {COLUMNS} FROM proposals WHERE id = $1");
        let tally = in_tx!(self, tx => {
            let row = sqlx::query(&sql).bind(id).fetch_optional(&mut *tx).await?.ok_or(StoreError::UnknownProposal(id))?;
            let proposal = proposal_from_row!(&row);
            if proposal.state != ProposalState::PendingApproval {
                return Err(StoreError::NotPending { id, state: proposal.state.to_string() });
            }
            if proposal.expires_ms.is_some_and(|expires| at_ms >= expires) {
                return Err(StoreError::Expired { id });
            }
            let inserted = sqlx::query(
                "INSERT INTO approvals (proposal_id, approver, decision, reason, call_hash, at_ms, proof) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (proposal_id, approver) DO NOTHING",
            )
            .bind(id)
            .bind(approver)
            .bind(if approve { "approve" } else { "reject" })
            .bind(reason)
            .bind(&proposal.call_hash)
            .bind(at_ms)
            .bind(proof.as_deref())
            .execute(&mut *tx)
            .await?;
            if inserted.rows_affected() == 0 {
                return Err(StoreError::AlreadyDecided { id, approver: approver.to_string() });
            }
            let kind = if approve { "approval.approved" } else { "approval.rejected" };
            let data = json!({ "call_hash": proposal.call_hash, "reason": reason, "via": via });
            append_tx!(tx, &NewEntry::new(at_ms, approver, kind, Some(id), data));
            let count_row = sqlx::query(
                "SELECT COUNT(*) AS n FROM approvals WHERE proposal_id = $1 AND decision = 'approve' AND call_hash = $2",
            )
            .bind(id)
            .bind(&proposal.call_hash)
            .fetch_one(&mut *tx)
            .await?;
            let approvals = u32::try_from(count_row.try_get::<i64, _>("n")?).unwrap_or(0);
            let required = proposal.approvals_required.max(1);
            let next = if !approve {
                Some(ProposalState::Rejected)
            } else if approvals >= required {
                Some(ProposalState::Approved)
            } else {
                None
            };
            if let Some(next) = next {
                sqlx::query("UPDATE proposals SET state = $1, updated_ms = $2 WHERE id = $3")
                    .bind(next.as_str())
                    .bind(at_ms)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                let data = json!({ "state": next.as_str(), "approvals": approvals, "required": required, "reason": reason });
                append_tx!(tx, &NewEntry::new(at_ms, approver, &format!("proposal.{}", next.as_str()), Some(id), data));
            }
            Tally { approvals, required, state: next.unwrap_or(ProposalState::PendingApproval) }
        });
        Ok(tally)
    }

    pub async fn approvals(&self, id: i64) -> Result<Vec<ApprovalRecord>, StoreError> {
        Ok(on_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT proposal_id, approver, decision, reason, call_hash, at_ms, proof FROM approvals \
                 WHERE proposal_id = $1 ORDER BY at_ms, approver",
            )
            .bind(id)
            .fetch_all(pool)
            .await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                out.push(ApprovalRecord {
                    proposal_id: row.try_get("proposal_id")?,
                    approver: row.try_get("approver")?,
                    decision: row.try_get("decision")?,
                    reason: row.try_get("reason")?,
                    call_hash: row.try_get("call_hash")?,
                    at_ms: row.try_get("at_ms")?,
                    proof: row.try_get("proof")?,
                });
            }
            out
        }))
    }
}

impl Store {
    /// The highest proposal id so far (0 when there is none).
    pub async fn max_proposal_id(&self) -> Result<i64, StoreError> {
        Ok(on_pool!(self, pool => {
            let row = sqlx::query("SELECT MAX(id) AS id FROM proposals").fetch_one(pool).await?;
            row.try_get::<Option<i64>, _>("id")?.unwrap_or(0)
        }))
    }

    /// How many proposals with an id above `after_id` are in each state.
    pub async fn state_counts(&self, after_id: i64) -> Result<Vec<(ProposalState, i64)>, StoreError> {
        Ok(on_pool!(self, pool => {
            let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM proposals WHERE id > $1 GROUP BY state ORDER BY state")
                .bind(after_id)
                .fetch_all(pool)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                let state: String = row.try_get("state")?;
                let state = ProposalState::parse(&state).ok_or_else(|| StoreError::Corrupt(format!("unknown state `{state}`")))?;
                out.push((state, row.try_get::<i64, _>("n")?));
            }
            out
        }))
    }
}
