//! What a decision is: the verdict, the policies (or limits) behind it and their reasons,
//! and what shadow policies would have changed. The engine and the limits both speak it;
//! neither owns it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The three outcomes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum Verdict {
    Allow,
    NeedsApproval {
        /// How many distinct people must approve.
        approvals: u32,
        /// Approver groups (from the config) whose members may approve; empty: anyone.
        approvers: Vec<String>,
        /// Whether the person who asked for the change may be one of them (every rule
        /// that asked for people said `@self_approval("allowed")`).
        #[serde(default)]
        requester_may_approve: bool,
    },
    Deny,
}

impl Verdict {
    pub fn kind(&self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::NeedsApproval { .. } => "needs_approval",
            Verdict::Deny => "deny",
        }
    }
}

/// A policy (or limit) that decided, and its reason in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub policy: String,
    pub message: String,
}

impl Reason {
    pub fn new(policy: impl Into<String>, message: impl Into<String>) -> Reason {
        Reason { policy: policy.into(), message: message.into() }
    }
}

/// What shadow policies would have changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShadowNote {
    /// The verdict had the shadow policies been enforced.
    pub would_be: String,
    pub reasons: Vec<Reason>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub verdict: Verdict,
    pub reasons: Vec<Reason>,
    pub shadow: Option<ShadowNote>,
    /// Change in hourly burn if the call runs, USD per hour.
    pub cost_delta_per_hour: f64,
}

impl Decision {
    /// The deciding policies and reasons in one line: `prod-no-halving: in prod, …`.
    pub fn reason_line(&self) -> String {
        self.reasons.iter().map(|r| format!("{}: {}", r.policy, r.message)).collect::<Vec<_>>().join("; ")
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.verdict {
            Verdict::Allow => write!(f, "allow")?,
            Verdict::NeedsApproval { approvals, approvers, .. } if approvers.is_empty() => {
                write!(f, "needs {approvals} approval(s)")?
            }
            Verdict::NeedsApproval { approvals, approvers, .. } => {
                write!(f, "needs {approvals} approval(s) from {}", approvers.join(" or "))?
            }
            Verdict::Deny => write!(f, "deny")?,
        }
        write!(f, " ({})", self.reason_line())
    }
}
