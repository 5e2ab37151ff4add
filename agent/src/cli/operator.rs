//! `steward operator init | show`: an operator's key, and the line that registers it.

use std::path::{Path, PathBuf};

use anyhow::bail;

use super::output::line;
use crate::config::approvals::format_public_key;
use crate::identity::{default_key_path, os_user, read_key};

fn path_or_default(key: Option<&Path>) -> anyhow::Result<PathBuf> {
    match key {
        Some(path) => Ok(path.to_path_buf()),
        None => default_key_path().ok_or_else(|| anyhow::anyhow!("no HOME: give --key FILE")),
    }
}

pub fn init(name: Option<&str>, key: Option<&Path>) -> anyhow::Result<()> {
    let path = path_or_default(key)?;
    let Some(name) = name.map(str::to_string).or_else(os_user) else { bail!("give --name NAME") };
    let existed = path.exists();
    let (key, _) = steward_memory::checkpoint::load_or_create_key(&path)?;
    let public = format_public_key(&key.verifying_key());
    let key_name = if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        name.clone()
    } else {
        format!("{name:?}")
    };
    let what = if existed { "Using the existing key" } else { "Created a new operator key" };
    line(&format!(
        "{what} at {} (keep it readable by you only).\nRegister it in the daemon's config:\n\n[approvals.operators]\n{key_name} = \"{public}\"",
        path.display()
    ));
    Ok(())
}

pub fn show(key: Option<&Path>) -> anyhow::Result<()> {
    let path = path_or_default(key)?;
    let key = read_key(&path).map_err(anyhow::Error::msg)?;
    line(&format_public_key(&key.verifying_key()));
    Ok(())
}
