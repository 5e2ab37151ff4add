//! Signed checkpoints of the audit log's head, kept outside the store.
//!
//! The hash chain proves that nothing inside the log was changed, but not that its newest
//! entries were not cut off: a shorter chain is still a valid chain. So every so often the
//! daemon signs `(seq, head hash, time)` with an ed25519 key read from a file and writes it
//! to a directory outside the store. `steward audit verify --checkpoints DIR` then checks
//! that every checkpointed entry is still in the log with the same hash.
//!
//! What this detects: any truncation or rewrite of entries up to the newest checkpoint, by
//! someone who can write the database but not the checkpoint directory or the key.
//! What it cannot detect: the loss of entries written after the newest checkpoint (at most
//! `audit.checkpoint_every` entries or `audit.checkpoint_interval`), or tampering by someone
//! who holds the signing key and can rewrite the directory too. Keep the directory on other
//! storage than the database (another disk, host or bucket) and the key readable only by
//! the daemon.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::{Store, StoreError};

/// How many checkpoint files to keep; older ones are removed.
const KEEP: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    pub seq: i64,
    pub head_hash: String,
    pub at_ms: i64,
    /// Hex ed25519 public key that signed it.
    pub public_key: String,
    /// Hex ed25519 signature over [`Checkpoint::message`].
    pub signature: String,
}

impl Checkpoint {
    pub fn message(seq: i64, head_hash: &str, at_ms: i64) -> String {
        format!("steward-audit-checkpoint:v1:{seq}:{head_hash}:{at_ms}")
    }

    fn signature_valid(&self, key: &VerifyingKey) -> bool {
        let Ok(bytes) = hex::decode(&self.signature) else {
            return false;
        };
        let Ok(bytes) = <[u8; 64]>::try_from(bytes.as_slice()) else {
            return false;
        };
        let signature = Signature::from_bytes(&bytes);
        key.verify(Self::message(self.seq, &self.head_hash, self.at_ms).as_bytes(), &signature).is_ok()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("checkpoint key {path}: {message}")]
    Key { path: String, message: String },
    #[error("checkpoint directory {path}: {message}")]
    Dir { path: String, message: String },
}

/// Signs and writes checkpoints. Its `Debug` never shows the key.
pub struct CheckpointSigner {
    key: SigningKey,
    dir: PathBuf,
}

impl std::fmt::Debug for CheckpointSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointSigner")
            .field("public_key", &hex::encode(self.key.verifying_key().as_bytes()))
            .field("dir", &self.dir)
            .finish()
    }
}

/// Read a key file (64 hex characters: the 32-byte ed25519 seed), creating one readable
/// only by its owner if it does not exist. Returns the key and whether it was created.
pub fn load_or_create_key(path: &Path) -> Result<(SigningKey, bool), CheckpointError> {
    let err = |message: String| CheckpointError::Key { path: path.display().to_string(), message };
    match fs::read_to_string(path) {
        Ok(text) => {
            let bytes = hex::decode(text.trim()).map_err(|_| err("is not 64 hex characters".into()))?;
            let seed = <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| err("is not 64 hex characters".into()))?;
            Ok((SigningKey::from_bytes(&seed), false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut seed = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                fs::create_dir_all(parent).map_err(|e| err(e.to_string()))?;
            }
            let mut options = fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(path).map_err(|e| err(e.to_string()))?;
            file.write_all(hex::encode(seed).as_bytes()).map_err(|e| err(e.to_string()))?;
            file.sync_all().map_err(|e| err(e.to_string()))?;
            Ok((SigningKey::from_bytes(&seed), true))
        }
        Err(e) => Err(err(e.to_string())),
    }
}

/// The public half of a key file, hex.
pub fn public_key_hex(key: &SigningKey) -> String {
    hex::encode(key.verifying_key().as_bytes())
}

impl CheckpointSigner {
    pub fn new(key: SigningKey, dir: PathBuf) -> Result<CheckpointSigner, CheckpointError> {
        fs::create_dir_all(&dir)
            .map_err(|e| CheckpointError::Dir { path: dir.display().to_string(), message: e.to_string() })?;
        Ok(CheckpointSigner { key, dir })
    }

    pub fn public_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// Sign `(seq, head_hash, at_ms)` and write it durably (temp file, fsync, rename).
    pub fn write(&self, seq: i64, head_hash: &str, at_ms: i64) -> Result<Checkpoint, CheckpointError> {
        let signature = self.key.sign(Checkpoint::message(seq, head_hash, at_ms).as_bytes());
        let checkpoint = Checkpoint {
            seq,
            head_hash: head_hash.to_string(),
            at_ms,
            public_key: public_key_hex(&self.key),
            signature: hex::encode(signature.to_bytes()),
        };
        let err =
            |e: std::io::Error| CheckpointError::Dir { path: self.dir.display().to_string(), message: e.to_string() };
        let name = format!("checkpoint-{seq:012}.json");
        let temp = self.dir.join(format!(".{name}.tmp"));
        let text = serde_json::to_string_pretty(&checkpoint).unwrap_or_default();
        {
            let mut file = fs::File::create(&temp).map_err(err)?;
            file.write_all(text.as_bytes()).map_err(err)?;
            file.sync_all().map_err(err)?;
        }
        fs::rename(&temp, self.dir.join(&name)).map_err(err)?;
        self.prune().map_err(err)?;
        Ok(checkpoint)
    }

    fn prune(&self) -> std::io::Result<()> {
        let mut names = checkpoint_files(&self.dir)?;
        if names.len() > KEEP {
            names.sort();
            for old in &names[..names.len() - KEEP] {
                fs::remove_file(old)?;
            }
        }
        Ok(())
    }
}

fn checkpoint_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.starts_with("checkpoint-") && name.ends_with(".json") {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// The outcome of checking the log against a checkpoint directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointReport {
    pub checked: usize,
    pub newest: Option<Checkpoint>,
    /// Every problem found, one line each; empty when the log agrees with every checkpoint.
    pub problems: Vec<String>,
}

impl Store {
    /// Check the log against every checkpoint in `dir` signed by `trusted`. A checkpoint that
    /// does not parse, is signed by another key, or carries a bad signature is a problem; so
    /// is a checkpointed entry that is missing (tail cut off) or has another hash.
    pub async fn verify_checkpoints(
        &self,
        dir: &Path,
        trusted: &VerifyingKey,
    ) -> Result<Result<CheckpointReport, CheckpointError>, StoreError> {
        let files = match checkpoint_files(dir) {
            Ok(files) => files,
            Err(e) => return Ok(Err(CheckpointError::Dir { path: dir.display().to_string(), message: e.to_string() })),
        };
        let trusted_hex = hex::encode(trusted.as_bytes());
        let head = self.audit_head().await?;
        let mut report = CheckpointReport { checked: 0, newest: None, problems: Vec::new() };
        for file in files {
            let name = file.display().to_string();
            let parsed = fs::read_to_string(&file)
                .map_err(|e| e.to_string())
                .and_then(|text| serde_json::from_str::<Checkpoint>(&text).map_err(|e| e.to_string()));
            let checkpoint = match parsed {
                Ok(c) => c,
                Err(e) => {
                    report.problems.push(format!("{name}: unreadable checkpoint: {e}"));
                    continue;
                }
            };
            if checkpoint.public_key != trusted_hex {
                report.problems.push(format!("{name}: signed by another key ({})", checkpoint.public_key));
                continue;
            }
            if !checkpoint.signature_valid(trusted) {
                report.problems.push(format!("{name}: the signature does not verify: the checkpoint was altered"));
                continue;
            }
            report.checked += 1;
            match self.audit_entry(checkpoint.seq).await? {
                Some(entry) if entry.hash == checkpoint.head_hash => {}
                Some(_) => report.problems.push(format!(
                    "entry {} differs from the signed checkpoint: the log was rewritten",
                    checkpoint.seq
                )),
                None => {
                    let ends =
                        head.as_ref().map_or_else(|| "is empty".to_string(), |(seq, _)| format!("ends at entry {seq}"));
                    report.problems.push(format!(
                        "the log's tail was cut off: a checkpoint covers entry {} but the log {ends}",
                        checkpoint.seq
                    ));
                }
            }
            if report.newest.as_ref().is_none_or(|n| n.seq <= checkpoint.seq) {
                report.newest = Some(checkpoint);
            }
        }
        Ok(Ok(report))
    }
}
