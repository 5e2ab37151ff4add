//! The approval queue and people's decisions on it.
//!
//! Who may decide a proposal, on every front end and for approve and reject alike: a proved
//! identity ([`super::caller`]) that is a member of the approver group policy names (when it
//! names one), and that neither proposed the change nor asked for it. Two decisions by one
//! identity count once. A decision is bound to the call's hash; a running daemon picks it
//! up on its next tick and checks it again against fresh state before acting.

use steward_memory::{ProposalRecord, ProposalState, StoreError, Tally, Vote};

use super::caller::{Caller, Identity};
use super::core::Service;
use super::error::ServiceError;
use crate::identity::Operation;

/// One proposal waiting for people.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueItem {
    pub proposal: ProposalRecord,
    /// Approvals given so far (for this call).
    pub approvals: usize,
    pub age_ms: i64,
    /// Why it waits: the deciding policies' reasons, or its outcome.
    pub why: String,
}

/// What a decision did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    pub id: i64,
    /// The proved identity it counted for.
    pub who: String,
    pub approve: bool,
    pub reason: String,
    pub tally: Tally,
}

fn why(p: &ProposalRecord) -> String {
    let line = p.reason_line();
    if line.is_empty() {
        p.outcome.clone().unwrap_or_default()
    } else {
        line
    }
}

impl Service {
    pub async fn proposal(&self, id: i64) -> Result<ProposalRecord, ServiceError> {
        self.store().proposal(id).await?.ok_or_else(|| ServiceError::NotFound(format!("no proposal #{id}")))
    }

    /// Every proposal waiting for approval, oldest first.
    pub async fn queue(&self) -> Result<Vec<QueueItem>, ServiceError> {
        let now = self.now_ms().await?;
        let mut items = Vec::new();
        for p in self.store().proposals_in(&[ProposalState::PendingApproval]).await? {
            let approvals = self
                .store()
                .approvals(p.id)
                .await?
                .iter()
                .filter(|a| a.decision == "approve" && a.call_hash == p.call_hash)
                .count();
            items.push(QueueItem { approvals, age_ms: now - p.created_ms, why: why(&p), proposal: p });
        }
        Ok(items)
    }

    /// The operation a decision on `id` is: what an operator's key signs.
    pub async fn decision(&self, id: i64, approve: bool, reason: &str) -> Result<Operation, ServiceError> {
        let p = self.proposal(id).await?;
        Ok(decision_of(&p, approve, reason))
    }

    /// Whether `who` may decide `p` (approve or reject).
    pub fn may_decide(&self, who: &str, p: &ProposalRecord) -> Result<(), ServiceError> {
        if p.proposer == format!("person:{who}") {
            return Err(ServiceError::Refused(format!(
                "{who} proposed #{} and cannot decide it: another person must",
                p.id
            )));
        }
        if p.requested_by.as_deref() == Some(who) && !p.requester_may_approve() {
            return Err(ServiceError::Refused(format!(
                "{who} asked for #{} and cannot decide it: another person must",
                p.id
            )));
        }
        if !self.config().approvals.may_approve(who, &p.approvers) {
            return Err(ServiceError::Refused(format!(
                "{who} may not decide #{}: it needs a member of {} (approvals.groups in the config)",
                p.id,
                p.approvers.join(" or ")
            )));
        }
        Ok(())
    }

    /// Approve (or reject, with a reason) proposal `id` as the caller proves to be. `seen`
    /// is the call hash the person saw, when they clicked on a message of it.
    pub async fn decide(
        &self,
        caller: &Caller,
        id: i64,
        approve: bool,
        reason: &str,
        seen: Option<&str>,
    ) -> Result<Decided, ServiceError> {
        let reason = reason.trim();
        if !approve && reason.is_empty() {
            return Err(ServiceError::BadInput("a rejection needs a reason".into()));
        }
        let p = self.proposal(id).await?;
        if p.state != ProposalState::PendingApproval {
            let state = p.state.to_string();
            return Err(ServiceError::Undecidable(StoreError::NotPending { id, state }));
        }
        if seen.is_some_and(|hash| hash != p.call_hash) {
            return Err(ServiceError::Conflict(format!("#{id} changed since it was shown; look at it again")));
        }
        let identity = self.identify(caller, &decision_of(&p, approve, reason))?;
        self.decide_as(&identity, &p, approve, reason).await
    }

    /// Record `identity`'s decision on `p`, once its rights are checked.
    async fn decide_as(
        &self,
        identity: &Identity,
        p: &ProposalRecord,
        approve: bool,
        reason: &str,
    ) -> Result<Decided, ServiceError> {
        self.may_decide(&identity.name, p)?;
        let vote = Vote {
            approver: identity.name.clone(),
            approve,
            reason: reason.to_string(),
            at_ms: self.now_ms().await?,
            via: identity.via.clone(),
            proof: Some(identity.proof.to_json()),
        };
        let tally = self.store().decide_approval(p.id, &vote).await.map_err(ServiceError::from_decision)?;
        Ok(Decided { id: p.id, who: identity.name.clone(), approve, reason: reason.to_string(), tally })
    }
}

fn decision_of(p: &ProposalRecord, approve: bool, reason: &str) -> Operation {
    if approve {
        Operation::Approve { proposal: p.id, call_hash: p.call_hash.clone() }
    } else {
        Operation::Reject { proposal: p.id, call_hash: p.call_hash.clone(), reason: reason.trim().to_string() }
    }
}
