//! `steward pause` and `steward resume`: the kill switch, through the service core.

use super::args::Who;
use super::output::line;
use super::signer::caller;
use crate::identity::Operation;
use crate::service::Service;

pub async fn set_paused(service: &Service, paused: bool, who: &Who, reason: &str) -> anyhow::Result<()> {
    let operation = if paused { Operation::Pause { reason: reason.to_string() } } else { Operation::Resume };
    let caller = caller(service.config(), who, &operation)?;
    line(&service.set_paused(&caller, paused, reason).await?);
    Ok(())
}
