//! What managed capacity burns now, what it cost this month, where the month ends if
//! nothing changes, and what the LLM planner spent: `steward cost` and `/steward cost`.

use chrono::{Datelike, Utc};
use serde_json::json;
use steward_tools::Observation;

use super::core::Service;
use super::error::ServiceError;
use crate::config::Config;
use crate::time::{full, month_bounds};

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
    /// Every budget in force: the fleet's (`[limits]`) and each GPU pool's.
    pub budgets: Vec<BudgetRow>,
}

/// One budget and where its pool (or the fleet) stands against it.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetRow {
    /// A pool's name, or `fleet`.
    pub name: String,
    pub burn: f64,
    pub max_usd_per_hour: Option<f64>,
    pub month_to_date: f64,
    pub max_usd_per_month: Option<f64>,
}

impl BudgetRow {
    fn json(&self) -> serde_json::Value {
        json!({ "name": self.name, "hourly_burn_usd": self.burn, "max_usd_per_hour": self.max_usd_per_hour,
                "month_to_date_usd": self.month_to_date, "max_usd_per_month": self.max_usd_per_month })
    }
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
        let rows: Vec<(String, f64, f64, f64)> = names
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
        let mut report = CostReport {
            now_ms: now,
            observed: observation.is_some(),
            rows,
            actuals,
            usage,
            llm_usd,
            budgets: Vec::new(),
        };
        report.budgets = report.budget_rows(self.config(), observation.as_ref());
        Ok(report)
    }
}

impl CostReport {
    /// The fleet's budget from `[limits]` and each GPU pool's from the observation, with the
    /// burn and month-to-date of the cost rows; only budgets that are set.
    fn budget_rows(&self, config: &Config, observation: Option<&Observation>) -> Vec<BudgetRow> {
        let mut out = Vec::new();
        let limits = &config.limits;
        if limits.hourly_budget_usd.is_some() || limits.monthly_budget_usd.is_some() {
            out.push(BudgetRow {
                name: "fleet".into(),
                burn: self.total(|r| r.1),
                max_usd_per_hour: limits.hourly_budget_usd,
                month_to_date: self.total(|r| r.2),
                max_usd_per_month: limits.monthly_budget_usd,
            });
        }
        for group in observation.map(|o| o.groups.as_slice()).unwrap_or_default() {
            let Some(budget) = group.pool.as_ref().map(|p| p.budget).filter(|b| b.is_set()) else { continue };
            let row = self.rows.iter().find(|r| r.0 == group.name);
            out.push(BudgetRow {
                name: group.name.clone(),
                burn: row.map_or(0.0, |r| r.1),
                max_usd_per_hour: budget.max_usd_per_hour,
                month_to_date: row.map_or(0.0, |r| r.2),
                max_usd_per_month: budget.max_usd_per_month,
            });
        }
        out
    }

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
            "budgets": self.budgets.iter().map(BudgetRow::json).collect::<Vec<_>>(),
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
        if !self.budgets.is_empty() {
            let cap = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.2}"));
            let _ = writeln!(
                out,
                "{:<16} {:>10} {:>10} {:>15} {:>12}",
                "BUDGET", "BURN $/H", "MAX $/H", "MONTH-TO-DATE $", "MAX $/MONTH"
            );
            for b in &self.budgets {
                let _ = writeln!(
                    out,
                    "{:<16} {:>10.2} {:>10} {:>15.2} {:>12}",
                    b.name,
                    b.burn,
                    cap(b.max_usd_per_hour),
                    b.month_to_date,
                    cap(b.max_usd_per_month)
                );
            }
        }
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
