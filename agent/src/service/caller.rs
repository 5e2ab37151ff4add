//! Who is calling the service core, and turning their proof into an identity.
//!
//! Rules, the same from every front end:
//! - a Slack user is who Slack's verified request names: `slack:U…`, or the operator whose
//!   `slack` id it is (so one person is one approver whichever way they decide);
//! - on the CLI, a registered operator (`approvals.operators`) proves who they are with a
//!   signature by their key over the very operation; anyone else is the OS account running
//!   the command, and may not claim another name (`--as`) without that name's key;
//! - a refusal writes nothing.

use super::core::Service;
use super::error::ServiceError;
use crate::identity::{slack_identity, Operation, Proof};

/// Who calls, as the front end proved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// A name the caller asked to act as (`--as`), when they gave one.
    pub claimed: Option<String>,
    pub proof: Proof,
}

impl Caller {
    /// The CLI's own OS account, optionally claiming a name.
    pub fn os_user(name: &str, claimed: Option<&str>) -> Caller {
        Caller { claimed: claimed.map(str::to_string), proof: Proof::OsUser { name: name.to_string() } }
    }

    /// A Slack user from a verified request.
    pub fn slack(user: &str, team: &str) -> Caller {
        Caller { claimed: None, proof: Proof::Slack { user: user.to_string(), team: team.to_string() } }
    }
}

/// A proved identity, with what its decisions record.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// The name approvals, audit entries and approver groups use.
    pub name: String,
    /// How the caller arrived, for the audit entry.
    pub via: serde_json::Value,
    /// The proof kept with a vote.
    pub proof: Proof,
}

impl Service {
    /// The identity `caller` proved for `operation`, or why not.
    pub fn identify(&self, caller: &Caller, operation: &Operation) -> Result<Identity, ServiceError> {
        let approvals = &self.config().approvals;
        let name = match &caller.proof {
            Proof::Slack { user, .. } => slack_identity(approvals, user),
            Proof::OsUser { name } => {
                if let Some(claimed) = caller.claimed.as_deref().filter(|c| *c != name) {
                    return Err(ServiceError::Refused(format!(
                        "cannot act as {claimed}: this is {name}'s account, and only {claimed}'s operator key proves \
                         {claimed} (`steward operator init`, then --key FILE)"
                    )));
                }
                if approvals.operator(name).is_some() {
                    return Err(ServiceError::Refused(format!(
                        "{name} is a registered operator (approvals.operators): sign with your key (--key FILE or \
                         STEWARD_OPERATOR_KEY)"
                    )));
                }
                name.clone()
            }
            Proof::Signed { signed } => {
                if let Some(claimed) = caller.claimed.as_deref().filter(|c| *c != signed.operator) {
                    return Err(ServiceError::Refused(format!(
                        "cannot act as {claimed}: the key given is {}'s",
                        signed.operator
                    )));
                }
                let Some(operator) = approvals.operator(&signed.operator) else {
                    return Err(ServiceError::Refused(format!(
                        "{} is not a registered operator: add its public key to approvals.operators",
                        signed.operator
                    )));
                };
                signed
                    .check(&operator.key, operation, crate::time::wall_now_ms())
                    .map_err(|e| ServiceError::Refused(format!("{}: {e}", signed.operator)))?;
                signed.operator.clone()
            }
        };
        Ok(Identity { via: caller.proof.via(&name), name, proof: caller.proof.clone() })
    }
}
