//! Who is acting, and the proof of it.
//!
//! An approval counts only for an identity the caller proved. Front ends prove differently:
//! Slack by the request's verified signature (the user it names), the CLI by the process's
//! own OS account (the kernel's word, not `$USER`) or, for a registered operator, by an
//! ed25519 signature over the operation: for an approval, over the proposal's id and call
//! hash. The signature is kept with the vote and in its audit entry, so the daemon checks it
//! again before counting the vote, and an auditor can check it offline with the public key.
//!
//! This module holds what both sides need: the operation a signature covers, its canonical
//! bytes, signing and checking, and where an operator's key lives.

use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::config::ApprovalsConfig;

/// What a person does, as a signature covers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Operation {
    Approve { proposal: i64, call_hash: String },
    Reject { proposal: i64, call_hash: String, reason: String },
    Rollback { proposal: i64 },
    Pause { reason: String },
    Resume,
    Ask { question: String },
    FileProposal { call_hash: String },
    StartMigration { app: String, environment: String },
    RollbackMigration { app: String },
}

impl Operation {
    /// The call hash an approval or rejection is bound to.
    pub fn decision(&self) -> Option<(i64, &str, bool)> {
        match self {
            Operation::Approve { proposal, call_hash } => Some((*proposal, call_hash, true)),
            Operation::Reject { proposal, call_hash, .. } => Some((*proposal, call_hash, false)),
            _ => None,
        }
    }
}

/// An operation signed by an operator's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedOperation {
    pub operator: String,
    /// When it was signed, Unix milliseconds (wall clock): a signature for anything but a
    /// decision is accepted for five minutes.
    pub at_ms: i64,
    pub operation: Operation,
    /// The public key that signed, `ed25519:HEX`, so the signature can be checked offline.
    pub public_key: String,
    /// ed25519 over [`SignedOperation::message`], hex.
    pub signature: String,
}

/// How long a signature on anything but a decision stays good.
pub const FRESH_MS: i64 = 5 * 60_000;

/// Why a signed operation does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("the signature is malformed")]
    Malformed,
    #[error("the signature does not verify against {0}'s key")]
    BadSignature(String),
    #[error("the signature was made for another operation")]
    OtherOperation,
    #[error("the signature is more than five minutes old or from the future; sign again")]
    Stale,
}

impl SignedOperation {
    /// The bytes a signature covers: a fixed prefix and canonical JSON of who, when and what.
    pub fn message(operator: &str, at_ms: i64, operation: &Operation) -> Vec<u8> {
        let body = serde_json::json!({ "operator": operator, "at_ms": at_ms, "operation": operation });
        format!("steward-operation/v1\n{body}").into_bytes()
    }

    pub fn sign(key: &SigningKey, operator: &str, at_ms: i64, operation: Operation) -> SignedOperation {
        let signature = key.sign(&SignedOperation::message(operator, at_ms, &operation));
        SignedOperation {
            operator: operator.to_string(),
            at_ms,
            operation,
            public_key: crate::config::approvals::format_public_key(&key.verifying_key()),
            signature: hex::encode(signature.to_bytes()),
        }
    }

    /// Whether `key` made this signature (the recorded public key is not trusted for that:
    /// the caller says whose key counts).
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), ProofError> {
        let bytes = hex::decode(&self.signature).map_err(|_| ProofError::Malformed)?;
        let bytes = <[u8; 64]>::try_from(bytes.as_slice()).map_err(|_| ProofError::Malformed)?;
        let signature = Signature::from_bytes(&bytes);
        key.verify(&SignedOperation::message(&self.operator, self.at_ms, &self.operation), &signature)
            .map_err(|_| ProofError::BadSignature(self.operator.clone()))
    }

    /// Verify against `key`, for exactly `operation`, and (unless it is a decision, which is
    /// bound to its call hash and counted once) signed within [`FRESH_MS`] of `now_ms`.
    pub fn check(&self, key: &VerifyingKey, operation: &Operation, now_ms: i64) -> Result<(), ProofError> {
        self.verify(key)?;
        if &self.operation != operation {
            return Err(ProofError::OtherOperation);
        }
        if operation.decision().is_none() && (now_ms - self.at_ms).abs() > FRESH_MS {
            return Err(ProofError::Stale);
        }
        Ok(())
    }
}

/// How a person proved who they are: kept with their vote (JSON) and checked again by the
/// daemon before the vote counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Proof {
    /// The CLI's own OS account (the effective uid's user name).
    OsUser { name: String },
    /// A Slack request whose signature Steward verified.
    Slack { user: String, team: String },
    /// An operator's signature over the operation.
    Signed { signed: SignedOperation },
}

impl Proof {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// How the decision arrived, for its audit entry.
    pub fn via(&self, identity: &str) -> serde_json::Value {
        use serde_json::json;
        match self {
            Proof::OsUser { name } => json!({ "cli": { "os_user": name } }),
            Proof::Slack { user, team } => {
                let mut via = json!({ "slack": { "user": user, "team": team } });
                if !identity.starts_with("slack:") {
                    via["operator"] = json!(identity);
                }
                via
            }
            Proof::Signed { signed } => json!({ "cli": {
                "operator": signed.operator, "public_key": signed.public_key, "signature": signed.signature,
                "signed_at_ms": signed.at_ms, "operation": signed.operation,
            } }),
        }
    }
}

/// The identity a Slack user decides as: the operator who names them, else `slack:U…`.
pub fn slack_identity(approvals: &ApprovalsConfig, user: &str) -> String {
    approvals.operator_for_slack(user).map_or_else(|| format!("slack:{user}"), |o| o.name.clone())
}

/// Whether a recorded vote still counts, checked by the daemon right before it acts: the
/// proof must name the approver, a signature must verify against the operator's key in
/// force and cover this proposal's call hash, and an operator with a key never counts
/// without it.
pub fn vote_counts(
    approvals: &ApprovalsConfig,
    approver: &str,
    proof: Option<&str>,
    proposal: i64,
    call_hash: &str,
) -> Result<(), String> {
    let proof = match proof {
        None => None,
        Some(text) => Some(serde_json::from_str::<Proof>(text).map_err(|_| "its proof is unreadable".to_string())?),
    };
    match proof {
        None | Some(Proof::OsUser { .. }) if approvals.operator(approver).is_some() => {
            Err(format!("{approver} is an operator with a key, and this vote is not signed"))
        }
        None => Ok(()),
        Some(Proof::OsUser { name }) if name == approver => Ok(()),
        Some(Proof::Slack { user, .. }) if slack_identity(approvals, &user) == approver => Ok(()),
        Some(Proof::Signed { signed }) if signed.operator == approver => {
            let operator =
                approvals.operator(approver).ok_or_else(|| format!("{approver} is no longer a registered operator"))?;
            signed.verify(&operator.key).map_err(|e| e.to_string())?;
            match signed.operation.decision() {
                Some((id, hash, true)) if id == proposal && hash == call_hash => Ok(()),
                _ => Err("the signature covers another decision".to_string()),
            }
        }
        Some(_) => Err(format!("its proof names someone other than {approver}")),
    }
}

/// Where an operator's key is read from when no `--key` is given: `STEWARD_OPERATOR_KEY`,
/// else `$XDG_CONFIG_HOME/steward/operator.key`, else `~/.config/steward/operator.key`.
pub fn default_key_path() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    var("STEWARD_OPERATOR_KEY")
        .or_else(|| var("XDG_CONFIG_HOME").map(|d| d.join("steward/operator.key")))
        .or_else(|| var("HOME").map(|h| h.join(".config/steward/operator.key")))
}

/// Read an operator key (64 hex characters, the ed25519 seed).
pub fn read_key(path: &Path) -> Result<SigningKey, String> {
    if !path.exists() {
        return Err(format!("no operator key at {} (create one with `steward operator init`)", path.display()));
    }
    steward_memory::checkpoint::load_or_create_key(path).map(|(key, _)| key).map_err(|e| e.to_string())
}

/// The OS account this process runs as, from its effective uid (never `$USER`, which anyone
/// can set).
pub fn os_user() -> Option<String> {
    whoami::fallible::username().ok().filter(|name| !name.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_covers_exactly_its_operation_and_ages_unless_it_is_a_decision() {
        let alice = SigningKey::from_bytes(&[7; 32]);
        let mallory = SigningKey::from_bytes(&[8; 32]);
        let approve = Operation::Approve { proposal: 4, call_hash: "abc".into() };
        let signed = SignedOperation::sign(&alice, "alice", 1_000, approve.clone());
        assert_eq!(signed.check(&alice.verifying_key(), &approve, 1_000), Ok(()));
        assert_eq!(signed.check(&alice.verifying_key(), &approve, 10_000_000), Ok(()), "a decision does not age");
        assert_eq!(
            signed.check(&mallory.verifying_key(), &approve, 1_000),
            Err(ProofError::BadSignature("alice".into()))
        );
        let other = Operation::Approve { proposal: 4, call_hash: "abd".into() };
        assert_eq!(signed.check(&alice.verifying_key(), &other, 1_000), Err(ProofError::OtherOperation));
        let mut forged = signed.clone();
        forged.operator = "bob".into();
        assert!(forged.verify(&alice.verifying_key()).is_err(), "the name is covered too");
        let pause = Operation::Pause { reason: "drill".into() };
        let signed = SignedOperation::sign(&alice, "alice", 1_000, pause.clone());
        assert_eq!(signed.check(&alice.verifying_key(), &pause, 1_000 + FRESH_MS), Ok(()));
        assert_eq!(signed.check(&alice.verifying_key(), &pause, 2_000 + FRESH_MS), Err(ProofError::Stale));
        let text = serde_json::to_string(&signed).expect("json");
        assert_eq!(serde_json::from_str::<SignedOperation>(&text).expect("back"), signed);
    }

    #[test]
    fn a_vote_counts_only_with_a_proof_that_holds_now() {
        let alice = SigningKey::from_bytes(&[7; 32]);
        let mut approvals = ApprovalsConfig::default();
        let approvals_ref = &mut approvals;
        approvals_ref.operators.insert(
            "alice".into(),
            crate::config::Operator { name: "alice".into(), key: alice.verifying_key(), slack: Some("U0ALICE".into()) },
        );
        let signed = |hash: &str| {
            let op = Operation::Approve { proposal: 3, call_hash: hash.into() };
            Proof::Signed { signed: SignedOperation::sign(&alice, "alice", 1, op) }.to_json()
        };
        let os = |name: &str| Proof::OsUser { name: name.into() }.to_json();
        let slack = |user: &str| Proof::Slack { user: user.into(), team: "T".into() }.to_json();
        let check = |approver: &str, proof: Option<String>| vote_counts(&approvals, approver, proof.as_deref(), 3, "h");
        assert_eq!(check("alice", Some(signed("h"))), Ok(()));
        assert!(check("alice", Some(signed("other"))).is_err(), "another call");
        assert!(check("alice", Some(os("alice"))).is_err(), "an operator must sign");
        assert!(check("alice", None).is_err());
        assert_eq!(check("bob", Some(os("bob"))), Ok(()));
        assert!(check("bob", Some(os("carol"))).is_err(), "the proof names someone else");
        assert_eq!(check("alice", Some(slack("U0ALICE"))), Ok(()), "alice's Slack account is alice");
        assert_eq!(check("slack:U0BOB", Some(slack("U0BOB"))), Ok(()));
        assert!(check("slack:U0ALICE", Some(slack("U0ALICE"))).is_err(), "alice is not two people");
        let without = ApprovalsConfig::default();
        let proof = signed("h");
        assert!(
            vote_counts(&without, "alice", Some(proof.as_str()), 3, "h").is_err(),
            "a key no longer registered counts for nothing"
        );
    }
}
