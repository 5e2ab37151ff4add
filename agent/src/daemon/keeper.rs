//! The audit log's keeper: a heartbeat entry when nothing else happened for a while (so
//! silence is visible), and signed checkpoints of the head every N entries and at least
//! every few minutes, written outside the store.

use anyhow::Context;
use serde_json::json;
use steward_memory::checkpoint::{load_or_create_key, CheckpointSigner};
use steward_memory::control::keys;
use steward_memory::{NewEntry, Store};

use crate::config::Config;

pub struct AuditKeeper {
    signer: CheckpointSigner,
    every: i64,
    interval_ms: i64,
    heartbeat_ms: i64,
    last_seq: i64,
    last_ms: i64,
}

impl AuditKeeper {
    pub async fn new(config: &Config, store: &Store) -> anyhow::Result<AuditKeeper> {
        let (key, created) = load_or_create_key(&config.audit.checkpoint_key)?;
        if created {
            tracing::warn!(
                path = %config.audit.checkpoint_key.display(),
                public_key = %steward_memory::checkpoint::public_key_hex(&key),
                "Created a new audit checkpoint key; keep it readable by the daemon only."
            );
        }
        let signer = CheckpointSigner::new(key, config.audit.checkpoint_dir.clone())?;
        let (last_seq, last_ms) = match store.control(keys::LAST_CHECKPOINT).await? {
            Some(text) => {
                let (seq, ms) = text.split_once(':').context("control.last_checkpoint is malformed")?;
                (seq.parse()?, ms.parse()?)
            }
            None => (0, i64::MIN / 2),
        };
        Ok(AuditKeeper {
            signer,
            every: config.audit.checkpoint_every.max(1),
            interval_ms: config.audit.checkpoint_interval.as_millis() as i64,
            heartbeat_ms: config.audit.heartbeat_interval.as_millis() as i64,
            last_seq,
            last_ms,
        })
    }

    /// One read of the log's newest entry per tick; a heartbeat and a checkpoint only when due.
    pub async fn after_tick(&mut self, store: &Store, now: i64) -> anyhow::Result<()> {
        let Some(mut head) = store.audit_tail(1).await?.pop() else { return Ok(()) };
        if now - head.at_ms >= self.heartbeat_ms {
            let quiet_since = head.at_ms;
            head = store
                .append(NewEntry::new(now, "steward", "heartbeat", None, json!({ "quiet_since": quiet_since })))
                .await?;
        }
        let due = head.seq - self.last_seq >= self.every || now - self.last_ms >= self.interval_ms;
        if head.seq > self.last_seq && due {
            self.write(store, head.seq, &head.hash, now).await?;
        }
        Ok(())
    }

    pub async fn checkpoint_now(&mut self, store: &Store, now: i64) -> anyhow::Result<()> {
        match store.audit_head().await? {
            Some((seq, hash)) if seq > self.last_seq => self.write(store, seq, &hash, now).await,
            _ => Ok(()),
        }
    }

    async fn write(&mut self, store: &Store, seq: i64, hash: &str, now: i64) -> anyhow::Result<()> {
        self.signer.write(seq, hash, now)?;
        store.set_control(keys::LAST_CHECKPOINT, &format!("{seq}:{now}")).await?;
        self.last_seq = seq;
        self.last_ms = now;
        Ok(())
    }
}
