//! `[audit]`: where signed checkpoints of the audit log go, the key that signs them, and how
//! often checkpoints and heartbeats are written.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use serde::Deserialize;

use super::values::parse_duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditFileConfig {
    /// Where signed checkpoints go: outside the store, ideally on other storage.
    pub checkpoint_dir: PathBuf,
    /// The ed25519 signing key (created, readable by its owner only, if missing).
    pub checkpoint_key: PathBuf,
    /// Write a checkpoint after this many new entries…
    pub checkpoint_every: i64,
    /// …and at least this often.
    pub checkpoint_interval: String,
    /// Append a heartbeat entry when nothing else was logged for this long.
    pub heartbeat_interval: String,
}

impl Default for AuditFileConfig {
    fn default() -> Self {
        AuditFileConfig {
            checkpoint_dir: PathBuf::from("steward-checkpoints"),
            checkpoint_key: PathBuf::from("steward-checkpoint.key"),
            checkpoint_every: 100,
            checkpoint_interval: "5m".into(),
            heartbeat_interval: "5m".into(),
        }
    }
}

/// The resolved section.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditConfig {
    pub checkpoint_dir: PathBuf,
    pub checkpoint_key: PathBuf,
    pub checkpoint_every: i64,
    pub checkpoint_interval: Duration,
    pub heartbeat_interval: Duration,
}

impl AuditConfig {
    pub fn resolve(file: &AuditFileConfig) -> anyhow::Result<AuditConfig> {
        if file.checkpoint_every < 1 {
            bail!("audit.checkpoint_every: must be at least 1");
        }
        Ok(AuditConfig {
            checkpoint_dir: file.checkpoint_dir.clone(),
            checkpoint_key: file.checkpoint_key.clone(),
            checkpoint_every: file.checkpoint_every,
            checkpoint_interval: parse_duration("audit.checkpoint_interval", &file.checkpoint_interval)?,
            heartbeat_interval: parse_duration("audit.heartbeat_interval", &file.heartbeat_interval)?,
        })
    }
}
