//! What managed capacity burns now, what it cost this month, where the month ends if
//! nothing changes, and what the LLM planner spent: `steward cost` and `/steward cost`.

use chrono::{Datelike, TimeZone, Utc};
use serde_json::json;
use steward_tools::Observation;

use super::core::Service;
use super::error::ServiceError;
use crate::config::Config;
use crate::time::full;

/// `[start of the month, start of the next month)` around `ms`, Unix milliseconds (UTC).
fn month_bounds(ms: i64) -> (i64, i64) {
    let now = crate::time::datetime(ms);
    let start = Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0).single().unwrap_or(now);
    let (y, m) = if now.month() == 12 { (now.year() + 1, 1) } else { (now.year(), now.month() + 1) };
    let end = Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single().unwrap_or(now);
    (start.timestamp_millis(), end.timestamp_millis())
}

/// The figures, ready for people or scripts.
#[derive(Debug, Clone)]
pub struct CostReport {
    pub now_ms: i64,
    /// Whether the daemon has observed the fleet yet (burn reads 0 until it has).
    pub observed: bool,
    /// `(group, burn $/h, month-to-date $, month-end forecast $)`, by name.
    pub rows: Vec<(String, f64, f64, f64)>,
    /// Cost Explorer's month-to-date, or why it did not answer; `None` when it is off.
    pub actuals: Option<Result<steward_aws::MonthToDate, steward_tools::ProviderError>>,
    pub usage: steward_memory::UsageTotals,
    pub llm_usd: Option<f64>,
}

impl Service {
    pub async fn cost(&self) -> Result<CostReport, ServiceError> {
        let observation: Option<Observation> = self.latest_observation().await?;
        let now = match &observation {
            Some(o) => o.at_ms,
            None => self.now_ms().await?,
        };
        let (month_start, month_end) = month_bounds(now);
        let hours_left = (month_end - now) as f64 / 3_600_000.0;
        let actuals = cost_explorer(self.config()).await;
        let spent = match &actuals {
            // Cost Explorer groups by the group tag; resources without one show as such.
            Some(Ok(ce)) => ce
                .by_group
                .iter()
                .map(|(n, usd)| (if n.is_empty() { UNGROUPED.to_string() } else { n.clone() }, *usd))
                .collect(),
            _ => self.store().cost_by_group(month_start, now + 1).await?,
        };
        let mut names: Vec<String> = spent.iter().map(|(n, _)| n.clone()).collect();
        if let Some(o) = &observation {
            names.extend(o.groups.iter().map(|g| g.name.clone()));
        }
        names.sort();
        names.dedup();
        let rows = names
            .into_iter()
            .map(|name| {
                let burn = observation.as_ref().and_then(|o| o.group(&name)).map_or(0.0, |g| g.hourly_burn());
                let mtd = spent.iter().find(|(n, _)| *n == name).map_or(0.0, |(_, usd)| *usd);
                let forecast = mtd + burn * hours_left;
                (name, burn, mtd, forecast)
            })
            .collect();
        let usage = self.store().llm_usage(month_start, month_end).await?;
        let llm_usd = self.config().llm.as_ref().map(|l| l.usd(usage.prompt_tokens, usage.completion_tokens));
        Ok(CostReport { now_ms: now, observed: observation.is_some(), rows, actuals, usage, llm_usd })
    }
}

impl CostReport {
    /// A column total (`+ 0.0`: an empty sum is -0.0, which prints as "-0.00").
    fn total(&self, f: fn(&(String, f64, f64, f64)) -> f64) -> f64 {
        self.rows.iter().map(f).sum::<f64>() + 0.0
    }

    pub fn json(&self) -> serde_json::Value {
        let groups: Vec<_> = self
            .rows
            .iter()
            .map(|(name, burn, mtd, forecast)| {
                json!({ "group": name, "hourly_burn_usd": burn, "month_to_date_usd": mtd, "month_end_forecast_usd": forecast })
            })
            .collect();
        let source = match &self.actuals {
            Some(Ok(ce)) => json!({ "month_to_date_from": "cost_explorer", "start": ce.start, "end": ce.end,
                                    "estimated": ce.estimated, "requests": ce.requests }),
            Some(Err(e)) => json!({ "month_to_date_from": "observed", "cost_explorer_error": e.to_string() }),
            None => json!({ "month_to_date_from": "observed" }),
        };
        let usage = &self.usage;
        json!({
            "as_of": full(self.now_ms),
            "source": source,
            "groups": groups,
            "total": { "hourly_burn_usd": self.total(|r| r.1), "month_to_date_usd": self.total(|r| r.2),
                       "month_end_forecast_usd": self.total(|r| r.3) },
            "llm": { "episodes": usage.episodes, "requests": usage.requests, "prompt_tokens": usage.prompt_tokens,
                     "completion_tokens": usage.completion_tokens, "usd": self.llm_usd },
        })
    }

    /// The table for people.
    pub fn table(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let now = self.now_ms;
        if !self.observed {
            let _ = writeln!(
                out,
                "No observation in the store yet: start the daemon (`steward run`); burn reads 0 until then."
            );
        }
        if let Some(Err(e)) = &self.actuals {
            let _ =
                writeln!(out, "Cost Explorer did not answer ({e}); month-to-date is from what the daemon observed.");
        }
        match &self.actuals {
            Some(Ok(ce)) => {
                let estimated = if ce.estimated { ", estimated by AWS" } else { "" };
                let _ = writeln!(
                    out,
                    "Cost as of {} (month-to-date from Cost Explorer, {} to {} exclusive{estimated}; burn from the last observation)",
                    full(now),
                    ce.start,
                    ce.end
                );
            }
            _ => {
                let _ = writeln!(
                    out,
                    "Cost as of {} (the daemon's clock; month-to-date from what the daemon observed)",
                    full(now)
                );
            }
        }
        let _ = writeln!(
            out,
            "{:<16} {:>10} {:>15} {:>19}",
            "GROUP", "BURN $/H", "MONTH-TO-DATE $", "MONTH-END FORECAST $"
        );
        for (name, burn, mtd, forecast) in &self.rows {
            let _ = writeln!(out, "{name:<16} {burn:>10.2} {mtd:>15.2} {forecast:>19.2}");
        }
        let _ = writeln!(
            out,
            "{:<16} {:>10.2} {:>15.2} {:>19.2}",
            "total",
            self.total(|r| r.1),
            self.total(|r| r.2),
            self.total(|r| r.3)
        );
        let price = match self.llm_usd {
            Some(usd) => format!(" (${usd:.2} at the configured token prices)"),
            None => String::new(),
        };
        let u = &self.usage;
        let _ = writeln!(
            out,
            "LLM planner this month: {} episodes, {} requests, {} prompt + {} completion tokens{price}",
            u.episodes, u.requests, u.prompt_tokens, u.completion_tokens
        );
        out
    }
}

/// The row for managed resources Cost Explorer found without a group tag.
const UNGROUPED: &str = "(no group tag)";

/// Month-to-date actuals from Cost Explorer when the AWS provider has it on: from the first
/// of this month (UTC, the wall clock) through today. `None` when it is off.
async fn cost_explorer(config: &Config) -> Option<Result<steward_aws::MonthToDate, steward_tools::ProviderError>> {
    let settings = config.aws.as_ref()?.first()?;
    if !settings.cost_explorer.enabled {
        return None;
    }
    let today = Utc::now().date_naive();
    let start = today.with_day(1).unwrap_or(today);
    let end = today.succ_opt().unwrap_or(today);
    let fmt = |d: chrono::NaiveDate| d.format("%Y-%m-%d").to_string();
    Some(steward_aws::month_to_date(settings, &fmt(start), &fmt(end)).await)
}

#[cfg(test)]
mod tests {
    use super::month_bounds;

    #[test]
    fn months_end_where_the_calendar_says() {
        let nov_27 = chrono::DateTime::parse_from_rfc3339("2026-11-27T09:00:00Z").map(|d| d.timestamp_millis());
        let (start, end) = month_bounds(nov_27.unwrap_or_default());
        assert_eq!(
            (crate::time::full(start), crate::time::full(end)),
            ("2026-11-01 00:00:00Z".into(), "2026-12-01 00:00:00Z".into())
        );
        let dec = chrono::DateTime::parse_from_rfc3339("2026-12-31T23:59:00Z").map(|d| d.timestamp_millis());
        let (_, end) = month_bounds(dec.unwrap_or_default());
        assert_eq!(crate::time::full(end), "2027-01-01 00:00:00Z");
    }
}
