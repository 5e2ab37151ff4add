//! Reading and checking the audit log: the newest entries, one entry in full, and `verify`:
//! the hash chain, the signed checkpoints, and every signed approval's signature.

use std::path::Path;

use ed25519_dalek::VerifyingKey;
use steward_memory::{AuditEntry, CheckpointReport, VerifyReport};

use super::core::Service;
use super::error::ServiceError;
use crate::config::approvals::parse_public_key;
use crate::identity::SignedOperation;

/// What `verify` found.
#[derive(Debug)]
pub struct Verification {
    pub chain: VerifyReport,
    /// The checkpoints checked, or why none were (no directory).
    pub checkpoints: Result<CheckpointReport, String>,
    pub signatures: SignatureReport,
}

/// The approvals and rejections given with an operator's signature, checked offline from
/// what their audit entries record.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SignatureReport {
    pub verified: usize,
    /// Decisions proved otherwise (Slack, the OS account).
    pub unsigned: usize,
    /// One line per signature that does not hold.
    pub problems: Vec<String>,
}

impl Verification {
    pub fn ok(&self) -> bool {
        self.chain.problem.is_none()
            && self.checkpoints.as_ref().map_or(true, |c| c.problems.is_empty())
            && self.signatures.problems.is_empty()
    }
}

impl Service {
    /// The newest `n` entries, or every entry about one proposal.
    pub async fn audit_tail(&self, n: i64, proposal: Option<i64>) -> Result<Vec<AuditEntry>, ServiceError> {
        Ok(match proposal {
            Some(id) => self.store().audit_for_proposal(id).await?,
            None => self.store().audit_tail(n.max(1)).await?,
        })
    }

    pub async fn audit_entry(&self, seq: i64) -> Result<AuditEntry, ServiceError> {
        self.store().audit_entry(seq).await?.ok_or_else(|| ServiceError::NotFound(format!("no audit entry {seq}")))
    }

    /// Check the chain, the checkpoints in `checkpoints` (signed by `trusted`) when given,
    /// and every signed decision.
    pub async fn verify_audit(&self, checkpoints: Option<(&Path, VerifyingKey)>) -> Result<Verification, ServiceError> {
        let chain = self.store().verify().await?;
        let checkpoints = match checkpoints {
            None => Err("no checkpoint directory".to_string()),
            Some((dir, key)) => self
                .store()
                .verify_checkpoints(dir, &key)
                .await?
                .map_err(|e| ServiceError::BadInput(e.to_string()))
                .map(Ok)?,
        };
        let signatures = self.verify_signatures().await?;
        Ok(Verification { chain, checkpoints, signatures })
    }

    async fn verify_signatures(&self) -> Result<SignatureReport, ServiceError> {
        let mut report = SignatureReport::default();
        for kind in ["approval.approved", "approval.rejected"] {
            for entry in self.store().audit_of_kind(kind).await? {
                match check_entry(self, &entry) {
                    Ok(true) => report.verified += 1,
                    Ok(false) => report.unsigned += 1,
                    Err(problem) => report.problems.push(format!("entry {}: {problem}", entry.seq)),
                }
            }
        }
        Ok(report)
    }
}

/// `Ok(true)`: a signature that holds; `Ok(false)`: no signature to check.
fn check_entry(service: &Service, entry: &AuditEntry) -> Result<bool, String> {
    let data: serde_json::Value = serde_json::from_str(&entry.data).map_err(|_| "unreadable data".to_string())?;
    let cli = &data["via"]["cli"];
    if cli.get("signature").is_none() {
        return Ok(false);
    }
    let signed = SignedOperation {
        operator: cli["operator"].as_str().unwrap_or_default().to_string(),
        at_ms: cli["signed_at_ms"].as_i64().unwrap_or_default(),
        operation: serde_json::from_value(cli["operation"].clone()).map_err(|_| "unreadable operation".to_string())?,
        public_key: cli["public_key"].as_str().unwrap_or_default().to_string(),
        signature: cli["signature"].as_str().unwrap_or_default().to_string(),
    };
    let recorded = parse_public_key(&signed.public_key).map_err(|e| format!("recorded key: {e}"))?;
    signed.verify(&recorded).map_err(|e| e.to_string())?;
    if signed.operator != entry.actor {
        return Err(format!("signed by {} but recorded as {}'s", signed.operator, entry.actor));
    }
    let bound = signed.operation.decision().is_some_and(|(id, hash, approve)| {
        Some(id) == entry.proposal_id
            && data["call_hash"].as_str() == Some(hash)
            && approve == (entry.kind == "approval.approved")
    });
    if !bound {
        return Err("the signature covers another decision".to_string());
    }
    if let Some(operator) = service.config().approvals.operator(&signed.operator) {
        if operator.key != recorded {
            return Err(format!("signed with a key that is not {}'s in approvals.operators", signed.operator));
        }
    }
    Ok(true)
}
