//! Who runs a command, and its proof: the OS account (from the effective uid), or a
//! registered operator's signature over the very operation, made with their key.

use std::path::PathBuf;

use anyhow::bail;

use super::args::Who;
use crate::config::approvals::format_public_key;
use crate::config::Config;
use crate::identity::{default_key_path, os_user, read_key, Operation, Proof, SignedOperation};
use crate::service::Caller;

/// The caller for `operation`, as `who` and the environment say.
pub fn caller(config: &Config, who: &Who, operation: &Operation) -> anyhow::Result<Caller> {
    let Some(os) = os_user() else { bail!("cannot tell which OS account runs this command") };
    let acting = who.name.clone().unwrap_or_else(|| os.clone());
    let from_env = std::env::var_os("STEWARD_OPERATOR_KEY").is_some_and(|v| !v.is_empty());
    // An explicit key must be there; the default one is used when it is.
    let key_path: Option<PathBuf> = match &who.key {
        Some(path) => Some(path.clone()),
        None if from_env => default_key_path(),
        None if config.approvals.operator(&acting).is_some() => default_key_path().filter(|p| p.exists()),
        None => None,
    };
    let Some(path) = key_path else { return Ok(Caller::os_user(&os, who.name.as_deref())) };
    let key = read_key(&path).map_err(anyhow::Error::msg)?;
    let public = format_public_key(&key.verifying_key());
    // The name the key is registered under; else the name asked for (the service core then
    // says the key is not registered).
    let operator = config
        .approvals
        .operators
        .values()
        .find(|o| format_public_key(&o.key) == public)
        .map_or(acting, |o| o.name.clone());
    let signed = SignedOperation::sign(&key, &operator, crate::time::wall_now_ms(), operation.clone());
    Ok(Caller { claimed: who.name.clone(), proof: Proof::Signed { signed } })
}
