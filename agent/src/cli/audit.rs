//! `steward audit tail | show | verify`.

use std::path::Path;

use anyhow::Context;
use ed25519_dalek::VerifyingKey;
use steward_memory::AuditEntry;

use super::failure::BadInput;
use super::output::{line, print};
use crate::service::Service;
use crate::time::full;

fn one(e: &AuditEntry) -> String {
    let proposal = e.proposal_id.map_or_else(|| "-".to_string(), |p| format!("#{p}"));
    let mut data = e.data.clone();
    if data.chars().count() > 110 {
        data = data.chars().take(107).collect::<String>() + "...";
    }
    format!("{:>6}  {}  {:<24} {:<22} {:<6} {data}", e.seq, full(e.at_ms), e.actor, e.kind, proposal)
}

pub async fn tail(service: &Service, n: i64, proposal: Option<i64>, json: bool) -> anyhow::Result<()> {
    let mut out = String::new();
    for e in &service.audit_tail(n, proposal).await? {
        out.push_str(&if json { serde_json::to_string(e)? } else { one(e) });
        out.push('\n');
    }
    print(&out);
    Ok(())
}

pub async fn show(service: &Service, seq: i64) -> anyhow::Result<()> {
    let e = service.audit_entry(seq).await?;
    let data: serde_json::Value = serde_json::from_str(&e.data).unwrap_or(serde_json::Value::String(e.data.clone()));
    let shown = serde_json::json!({
        "seq": e.seq,
        "at": full(e.at_ms),
        "at_ms": e.at_ms,
        "actor": e.actor,
        "kind": e.kind,
        "proposal": e.proposal_id,
        "data": data,
        "prev_hash": e.prev_hash,
        "hash": e.hash,
    });
    line(&serde_json::to_string_pretty(&shown)?);
    Ok(())
}

/// Verify the chain, the checkpoints (when a directory and a key are at hand) and every
/// signed approval. Returns whether everything checked out.
pub async fn verify(service: &Service, checkpoints: Option<&Path>, public_key: Option<&str>) -> anyhow::Result<bool> {
    let config = service.config();
    let default_dir = config.audit.checkpoint_dir.as_path();
    let dir = match checkpoints {
        Some(d) => Some(d),
        None if default_dir.is_dir() => Some(default_dir),
        None => None,
    };
    let trusted = match dir {
        Some(dir) => Some((dir, trusted_key(service, public_key)?)),
        None => None,
    };
    let v = service.verify_audit(trusted).await?;
    let mut out = Vec::new();
    match &v.chain.problem {
        Some(problem) => {
            out.push(format!("TAMPERED: entry {}: {}", problem.seq, problem.message));
            out.push(format!("({} entries before it verified)", v.chain.entries));
        }
        None => {
            let head = v
                .chain
                .head
                .as_ref()
                .map_or_else(|| "empty".to_string(), |(s, h)| format!("head #{s} {}", h.get(..16).unwrap_or(h)));
            out.push(format!("chain intact: {} entries, {head}", v.chain.entries));
        }
    }
    match (&v.checkpoints, dir) {
        (Err(_), _) | (_, None) => {
            out.push(format!("checkpoints: none checked (no --checkpoints DIR and no {})", default_dir.display()));
            out.push("note: without checkpoints, entries cut off the end of the log cannot be detected".into());
        }
        (Ok(result), Some(dir)) => {
            for problem in &result.problems {
                out.push(format!("CHECKPOINT: {problem}"));
            }
            match (&result.newest, result.problems.is_empty()) {
                (Some(newest), true) => out.push(format!(
                    "checkpoints: {} verified in {}; the newest covers entry {} ({}); later entries rest on the chain alone",
                    result.checked,
                    dir.display(),
                    newest.seq,
                    full(newest.at_ms)
                )),
                (None, true) => out.push(format!("checkpoints: none found in {}", dir.display())),
                _ => {}
            }
        }
    }
    for problem in &v.signatures.problems {
        out.push(format!("SIGNATURE: {problem}"));
    }
    out.push(format!(
        "approvals: {} signed by an operator's key, verified; {} proved otherwise (Slack, the OS account)",
        v.signatures.verified, v.signatures.unsigned
    ));
    line(&out.join("\n"));
    Ok(v.ok())
}

fn trusted_key(service: &Service, given: Option<&str>) -> anyhow::Result<VerifyingKey> {
    let bytes = match given {
        Some(hex_key) => hex::decode(hex_key.trim()).map_err(|_| BadInput("--public-key: not hex".into()))?,
        None => {
            let path = &service.config().audit.checkpoint_key;
            if !path.exists() {
                return Err(BadInput(format!(
                    "no key to check checkpoints with: give --public-key HEX or make {} readable",
                    path.display()
                ))
                .into());
            }
            let (key, _) = steward_memory::checkpoint::load_or_create_key(path)?;
            key.verifying_key().to_bytes().to_vec()
        }
    };
    let bytes = <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| BadInput("the public key must be 32 bytes (64 hex characters)".into()))?;
    VerifyingKey::from_bytes(&bytes).context("the public key is not a valid ed25519 key")
}
