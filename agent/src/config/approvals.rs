//! `[approvals]`: how long a proposal waits for a person, the approver groups policies name,
//! and the operators whose approvals from the CLI are proved by a key.
//!
//! An operator is a person with an ed25519 key (`steward operator init` makes one); the
//! public half is registered here, and every approval or rejection they give from the CLI
//! is a signature over the proposal's call hash that the daemon checks before counting it.
//! An operator may also name their Slack user id: a decision from that Slack account then
//! counts as the same person, so one person is never two approvers.
//!
//! ```toml
//! [approvals.operators]
//! alice = "ed25519:3b6a27bc…"                       # the public key, hex
//! bob = { key = "ed25519:9f0e…", slack = "U0BOB" }  # and the Slack user who is bob
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{bail, Context};
use ed25519_dalek::VerifyingKey;
use serde::Deserialize;

use super::values::parse_duration;

/// The section as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApprovalsFileConfig {
    /// How long a proposal waits for approval before it expires (`1h`, `30m`).
    pub expire_after: String,
    /// Approver groups: name → members. A policy's `@approvers` names these groups.
    pub groups: BTreeMap<String, Vec<String>>,
    /// Operators: name → public key (`ed25519:HEX`), or `{ key = "ed25519:HEX", slack = "U…" }`.
    pub operators: BTreeMap<String, OperatorFileConfig>,
}

impl Default for ApprovalsFileConfig {
    fn default() -> Self {
        ApprovalsFileConfig { expire_after: "1h".into(), groups: BTreeMap::new(), operators: BTreeMap::new() }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OperatorFileConfig {
    Key(String),
    Full {
        key: String,
        #[serde(default)]
        slack: Option<String>,
    },
}

/// A person whose CLI decisions are proved by their key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub name: String,
    pub key: VerifyingKey,
    /// Their Slack user id, when decisions from Slack count as theirs.
    pub slack: Option<String>,
}

/// The resolved section.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalsConfig {
    pub expire_after: Duration,
    pub groups: BTreeMap<String, Vec<String>>,
    pub operators: BTreeMap<String, Operator>,
}

impl Default for ApprovalsConfig {
    fn default() -> Self {
        ApprovalsConfig { expire_after: Duration::from_secs(3600), groups: BTreeMap::new(), operators: BTreeMap::new() }
    }
}

/// `ed25519:HEX` (or bare hex) → a public key.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, String> {
    let hex_text = text.trim().strip_prefix("ed25519:").unwrap_or(text.trim());
    let bytes = hex::decode(hex_text).map_err(|_| "not hex (write ed25519:HEX)".to_string())?;
    let bytes = <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| "an ed25519 public key is 32 bytes".to_string())?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| "not a valid ed25519 public key".to_string())
}

/// A public key as the config writes it.
pub fn format_public_key(key: &VerifyingKey) -> String {
    format!("ed25519:{}", hex::encode(key.to_bytes()))
}

/// An operator's name: what approvals, audit entries and approver groups call them.
fn check_name(name: &str) -> anyhow::Result<()> {
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@');
    if name.is_empty() || name.len() > 64 || !name.chars().all(ok) || name.starts_with("slack:") {
        bail!("approvals.operators: `{name}` is not a name (1 to 64 letters, digits, '-', '_', '.', '@')");
    }
    Ok(())
}

impl ApprovalsConfig {
    pub fn resolve(file: &ApprovalsFileConfig) -> anyhow::Result<ApprovalsConfig> {
        let expire_after = parse_duration("approvals.expire_after", &file.expire_after)?;
        if expire_after.is_zero() {
            bail!("approvals.expire_after: must be longer than 0");
        }
        let mut operators = BTreeMap::new();
        for (name, entry) in &file.operators {
            check_name(name)?;
            let (key, slack) = match entry {
                OperatorFileConfig::Key(key) => (key, None),
                OperatorFileConfig::Full { key, slack } => (key, slack.clone()),
            };
            let key = parse_public_key(key)
                .map_err(|e| anyhow::anyhow!(e))
                .with_context(|| format!("approvals.operators.{name}"))?;
            if let Some(user) = &slack {
                if !(user.starts_with('U') || user.starts_with('W')) || user.len() < 2 {
                    bail!("approvals.operators.{name}.slack: `{user}` is not a Slack user id (U… or W…)");
                }
            }
            operators.insert(name.clone(), Operator { name: name.clone(), key, slack });
        }
        let mut seen = std::collections::BTreeSet::new();
        for o in operators.values() {
            if let Some(user) = &o.slack {
                if !seen.insert(user.clone()) {
                    bail!("approvals.operators: Slack user {user} is named by two operators");
                }
            }
        }
        Ok(ApprovalsConfig { expire_after, groups: file.groups.clone(), operators })
    }

    /// Whether `who` may approve for the given approver groups (empty: anyone may).
    pub fn may_approve(&self, who: &str, groups: &[String]) -> bool {
        groups.is_empty()
            || groups.iter().any(|g| self.groups.get(g).is_some_and(|members| members.iter().any(|m| m == who)))
    }

    pub fn operator(&self, name: &str) -> Option<&Operator> {
        self.operators.get(name)
    }

    /// The operator a Slack user is, when one names them.
    pub fn operator_for_slack(&self, user: &str) -> Option<&Operator> {
        self.operators.values().find(|o| o.slack.as_deref() == Some(user))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> String {
        format_public_key(&ed25519_dalek::SigningKey::from_bytes(&[seed; 32]).verifying_key())
    }

    #[test]
    fn operators_are_read_in_both_forms_and_groups_name_approvers() {
        let text = format!(
            "[groups]\ngpu-owners = [\"alice\"]\n[operators]\nalice = \"{}\"\nbob = {{ key = \"{}\", slack = \"U0BOB\" }}\n",
            key(1),
            key(2)
        );
        let file: ApprovalsFileConfig = toml::from_str(&text).expect("toml");
        let approvals = ApprovalsConfig::resolve(&file).expect("resolves");
        assert_eq!(approvals.operator("alice").map(|o| o.slack.clone()), Some(None));
        assert_eq!(approvals.operator_for_slack("U0BOB").map(|o| o.name.as_str()), Some("bob"));
        assert!(approvals.may_approve("alice", &["gpu-owners".into()]));
        assert!(!approvals.may_approve("bob", &["gpu-owners".into()]));
        assert!(approvals.may_approve("bob", &[]));
        assert!(!approvals.may_approve("alice", &["platform".into()]), "an unconfigured group has no members");
    }

    #[test]
    fn bad_operators_are_named() {
        for (text, expect) in [
            ("[operators]\nalice = \"ed25519:zz\"".to_string(), "approvals.operators.alice: not hex"),
            ("[operators]\nalice = \"ed25519:00ff\"".to_string(), "32 bytes"),
            (format!("[operators]\n\"slack:U1\" = \"{}\"", key(1)), "is not a name"),
            (format!("[operators]\na = {{ key = \"{}\", slack = \"C1\" }}", key(1)), "not a Slack user id"),
            (
                format!(
                    "[operators]\na = {{ key = \"{}\", slack = \"U1\" }}\nb = {{ key = \"{}\", slack = \"U1\" }}",
                    key(1),
                    key(2)
                ),
                "named by two operators",
            ),
            ("expire_after = \"0s\"".to_string(), "longer than 0"),
        ] {
            let result = toml::from_str::<ApprovalsFileConfig>(&text)
                .map_err(anyhow::Error::from)
                .and_then(|f| ApprovalsConfig::resolve(&f));
            let message = format!("{:#}", result.expect_err(&text));
            assert!(message.contains(expect), "{text}: {message}");
        }
    }
}
