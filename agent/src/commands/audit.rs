//! `steward audit tail | show | verify`.

use std::path::Path;

use anyhow::Context;
use ed25519_dalek::VerifyingKey;
use steward_memory::{AuditEntry, Store};

use super::BadInput;
use crate::config::Config;
use crate::time::full;

fn line(e: &AuditEntry) -> String {
    let proposal = e.proposal_id.map_or_else(|| "-".to_string(), |p| format!("#{p}"));
    let mut data = e.data.clone();
    if data.chars().count() > 110 {
        data = data.chars().take(107).collect::<String>() + "...";
    }
    format!("{:>6}  {}  {:<24} {:<22} {:<6} {data}", e.seq, full(e.at_ms), e.actor, e.kind, proposal)
}

pub async fn tail(store: &Store, n: i64, proposal: Option<i64>, json: bool) -> anyhow::Result<()> {
    let entries = match proposal {
        Some(id) => store.audit_for_proposal(id).await?,
        None => store.audit_tail(n.max(1)).await?,
    };
    for e in &entries {
        if json {
            println!("{}", serde_json::to_string(e)?);
        } else {
            println!("{}", line(e));
        }
    }
    Ok(())
}

pub async fn show(store: &Store, seq: i64) -> anyhow::Result<()> {
    let Some(e) = store.audit_entry(seq).await? else { anyhow::bail!("no audit entry {seq}") };
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
    println!("{}", serde_json::to_string_pretty(&shown)?);
    Ok(())
}

/// Verify the chain, then (when a directory and a key are at hand) the checkpoints.
/// Returns whether everything checked out.
pub async fn verify(
    config: &Config,
    store: &Store,
    checkpoints: Option<&Path>,
    public_key: Option<&str>,
) -> anyhow::Result<bool> {
    let report = store.verify().await?;
    let mut ok = true;
    match &report.problem {
        Some(problem) => {
            ok = false;
            println!("TAMPERED: entry {}: {}", problem.seq, problem.message);
            println!("({} entries before it verified)", report.entries);
        }
        None => {
            let head =
                report.head.as_ref().map_or_else(|| "empty".to_string(), |(s, h)| format!("head #{s} {}", &h[..16]));
            println!("chain intact: {} entries, {head}", report.entries);
        }
    }
    let default_dir = config.audit.checkpoint_dir.as_path();
    let dir = match checkpoints {
        Some(d) => Some(d),
        None if default_dir.is_dir() => Some(default_dir),
        None => None,
    };
    let Some(dir) = dir else {
        println!("checkpoints: none checked (no --checkpoints DIR and no {})", default_dir.display());
        println!("note: without checkpoints, entries cut off the end of the log cannot be detected");
        return Ok(ok);
    };
    let key = trusted_key(config, public_key)?;
    let result = store.verify_checkpoints(dir, &key).await?.map_err(|e| BadInput(e.to_string()))?;
    for problem in &result.problems {
        ok = false;
        println!("CHECKPOINT: {problem}");
    }
    match (&result.newest, result.problems.is_empty()) {
        (Some(newest), true) => println!(
            "checkpoints: {} verified in {}; the newest covers entry {} ({}); later entries rest on the chain alone",
            result.checked,
            dir.display(),
            newest.seq,
            full(newest.at_ms)
        ),
        (None, true) => println!("checkpoints: none found in {}", dir.display()),
        _ => {}
    }
    Ok(ok)
}

fn trusted_key(config: &Config, given: Option<&str>) -> anyhow::Result<VerifyingKey> {
    let bytes = match given {
        Some(hex_key) => hex::decode(hex_key.trim()).map_err(|_| BadInput("--public-key: not hex".into()))?,
        None => {
            let path = &config.audit.checkpoint_key;
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
