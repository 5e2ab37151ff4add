//! `steward cost`: burn by group, month-to-date, month-end forecast and the LLM planner's
//! spend, from the service core.

use super::output::{line, print};
use crate::service::Service;

pub async fn cost(service: &Service, json: bool) -> anyhow::Result<()> {
    let report = service.cost().await?;
    if json {
        line(&serde_json::to_string_pretty(&report.json())?);
    } else {
        print(&report.table());
    }
    Ok(())
}
