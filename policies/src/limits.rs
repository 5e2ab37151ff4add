//! Stateful limits, checked beside the Cedar policies: group bounds, blast radius, scale-in
//! cooldown, rate, hourly budget and change-freeze windows. Each failed limit is a deny with
//! an id of the form `limit:NAME`.

use serde::{Deserialize, Serialize};
use steward_tools::validate::CallFacts;
use steward_tools::{Environment, ToolCall};

use crate::decision::Reason;
use crate::facts::DecisionInput;

const MINUTE_MS: i64 = 60_000;

/// Limits that need state (time, history, the fleet's burn), not just the call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Minutes after an executed change before a group's capacity may be reduced again.
    pub scale_in_cooldown_minutes: u32,
    /// Minutes after an executed change before capacity may be added again (0: never wait,
    /// adding capacity under load should not be held back).
    pub scale_out_cooldown_minutes: u32,
    /// Most actions executed on one group per hour.
    pub max_changes_per_group_per_hour: u32,
    /// Hourly burn of the whole managed fleet no action may push above, USD. Reductions are
    /// always allowed.
    pub hourly_budget_usd: Option<f64>,
    /// What the whole managed fleet may cost in a calendar month, USD: a change that adds
    /// capacity is denied when the month-to-date spend plus an hour of the burn after it
    /// would pass it.
    pub monthly_budget_usd: Option<f64>,
    /// Most instances one action may add or remove (blast radius).
    pub max_capacity_change: u32,
    pub freeze: Vec<FreezeWindow>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            scale_in_cooldown_minutes: 5,
            scale_out_cooldown_minutes: 0,
            max_changes_per_group_per_hour: 12,
            hourly_budget_usd: Some(100.0),
            monthly_budget_usd: None,
            max_capacity_change: 20,
            freeze: Vec::new(),
        }
    }
}

/// When a freeze window is in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "every")]
pub enum Recurrence {
    /// Once, from `start_ms` (inclusive) to `end_ms` (exclusive), Unix milliseconds.
    Once { start_ms: i64, end_ms: i64 },
    /// Every week on `days` (0 = Monday … 6 = Sunday), from `from_minute` to `to_minute` of
    /// the day, UTC. A window that ends before it starts runs over midnight.
    Weekly { days: Vec<u8>, from_minute: u32, to_minute: u32 },
}

/// A change freeze: no action that removes capacity (or, with `block_scale_out`, any
/// action) runs on the groups it covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FreezeWindow {
    pub name: String,
    pub when: Recurrence,
    /// Environments it covers; empty covers all.
    #[serde(default)]
    pub environments: Vec<Environment>,
    /// Groups it covers; empty covers all.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Also hold back actions that add capacity. Off by default: a freeze should not stop
    /// the fleet from absorbing load.
    #[serde(default)]
    pub block_scale_out: bool,
}

impl Recurrence {
    pub fn covers(&self, now_ms: i64) -> bool {
        match self {
            Recurrence::Once { start_ms, end_ms } => *start_ms <= now_ms && now_ms < *end_ms,
            Recurrence::Weekly { days, from_minute, to_minute } => {
                let minutes = now_ms.div_euclid(MINUTE_MS);
                let day_index = minutes.div_euclid(1440);
                let minute_of_day = u32::try_from(minutes.rem_euclid(1440)).unwrap_or(0);
                // 1970-01-01 was a Thursday: Monday-based weekday = (days + 3) mod 7.
                let weekday = |d: i64| u8::try_from((d + 3).rem_euclid(7)).unwrap_or(0);
                if from_minute <= to_minute {
                    days.contains(&weekday(day_index)) && *from_minute <= minute_of_day && minute_of_day < *to_minute
                } else {
                    (days.contains(&weekday(day_index)) && minute_of_day >= *from_minute)
                        || (days.contains(&weekday(day_index - 1)) && minute_of_day < *to_minute)
                }
            }
        }
    }
}

impl FreezeWindow {
    fn applies(&self, group: &str, environment: Environment, now_ms: i64) -> bool {
        (self.environments.is_empty() || self.environments.contains(&environment))
            && (self.groups.is_empty() || self.groups.iter().any(|g| g == group))
            && self.when.covers(now_ms)
    }
}

impl Limits {
    /// Every limit the call breaks, as deny reasons.
    pub fn check(&self, call: &ToolCall, facts: &CallFacts, input: &DecisionInput) -> Vec<Reason> {
        let mut denials = Vec::new();
        let adds = facts.capacity_after > facts.capacity_before;
        let change = facts.capacity_after.abs_diff(facts.capacity_before);
        let group = call.target();

        if facts.capacity_after > facts.max || (facts.capacity_after < facts.min && !adds) {
            denials.push(Reason::new(
                "limit:group-bounds",
                format!("capacity {} is outside {group}'s bounds {}..={}", facts.capacity_after, facts.min, facts.max),
            ));
        }
        if change > self.max_capacity_change {
            denials.push(Reason::new(
                "limit:blast-radius",
                format!("changes capacity by {change}; one action may change at most {}", self.max_capacity_change),
            ));
        }
        // A migration's steps follow one another by design, each approved on its own: the
        // cooldown and the rate limit are about capacity changes, not about them.
        let migration = facts.step.is_some();
        let cooldown = if adds { self.scale_out_cooldown_minutes } else { self.scale_in_cooldown_minutes };
        if let Some(last) = input.last_change_ms.filter(|_| !migration) {
            let since = input.now_ms.saturating_sub(last);
            let wait = i64::from(cooldown) * MINUTE_MS;
            if since < wait {
                denials.push(Reason::new(
                    "limit:cooldown",
                    format!(
                        "{group} changed {}s ago; {} waits {cooldown} min after a change",
                        since / 1000,
                        if adds { "scale-out" } else { "scale-in" }
                    ),
                ));
            }
        }
        if !migration && input.changes_last_hour >= self.max_changes_per_group_per_hour {
            denials.push(Reason::new(
                "limit:rate",
                format!(
                    "{group} had {} changes in the last hour; the limit is {}",
                    input.changes_last_hour, self.max_changes_per_group_per_hour
                ),
            ));
        }
        let delta = facts.cost_delta_per_hour();
        if let Some(cap) = self.hourly_budget_usd {
            let after = input.hourly_burn_usd + delta;
            if delta > 0.0 && after > cap {
                denials.push(Reason::new(
                    "limit:hourly-budget",
                    format!("burn would reach ${after:.2}/h, above the ${cap:.2}/h budget"),
                ));
            }
        }
        if delta > 0.0 {
            denials.extend(budget_denials(facts, input, self.monthly_budget_usd, group, delta));
        }
        for window in &self.freeze {
            if window.applies(group, facts.environment, input.now_ms) && (!adds || window.block_scale_out) {
                denials.push(Reason::new(
                    format!("limit:freeze:{}", window.name),
                    format!("change freeze `{}` is in force for {group}", window.name),
                ));
            }
        }
        denials
    }
}

/// The dollar caps a change that adds capacity would break: the group's own hourly and
/// monthly budgets (GPU pools) and the fleet's monthly budget. A monthly cap is checked
/// against the month-to-date spend plus one hour of the burn after the change: the least a
/// launch commits to before the planner can let it go again. Each deny names the budget
/// and shows the numbers.
fn budget_denials(
    facts: &CallFacts,
    input: &DecisionInput,
    fleet_month: Option<f64>,
    group: &str,
    delta: f64,
) -> Vec<Reason> {
    let mut out = Vec::new();
    let added = facts.capacity_after.saturating_sub(facts.capacity_before);
    let how = format!("${:.2}/h now + {added} × ${:.2}/h worst case", facts.group_hourly_burn, facts.hourly_price);
    let group_after = facts.group_hourly_burn + delta;
    if let Some(cap) = facts.budget.max_usd_per_hour {
        if group_after > cap + 1e-9 {
            out.push(Reason::new(
                format!("limit:budget:{group}:hourly"),
                format!("{group} would burn up to ${group_after:.2}/h ({how}), above its ${cap:.2}/h budget"),
            ));
        }
    }
    if let Some(cap) = facts.budget.max_usd_per_month {
        let month = input.group_month_to_date_usd + group_after;
        if month > cap + 1e-9 {
            out.push(Reason::new(
                format!("limit:budget:{group}:monthly"),
                format!(
                    "{group} has spent ${:.2} this month; an hour at ${group_after:.2}/h ({how}) would reach ${month:.2}, above its ${cap:.2}/month budget",
                    input.group_month_to_date_usd
                ),
            ));
        }
    }
    if let Some(cap) = fleet_month {
        let after = input.hourly_burn_usd + delta;
        let month = input.month_to_date_usd + after;
        if month > cap + 1e-9 {
            out.push(Reason::new(
                "limit:budget:fleet:monthly",
                format!(
                    "the fleet has spent ${:.2} this month; an hour at ${after:.2}/h would reach ${month:.2}, above the ${cap:.2}/month fleet budget",
                    input.month_to_date_usd
                ),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-01-05 was a Monday.
    const MONDAY_NOON_MS: i64 = 1_767_614_400_000;

    #[test]
    fn weekly_windows_know_the_weekday_and_run_over_midnight() {
        let friday_evening = Recurrence::Weekly { days: vec![4], from_minute: 16 * 60, to_minute: 2 * 60 };
        let day = 24 * 60 * MINUTE_MS;
        let hour = 60 * MINUTE_MS;
        let check = |offset: i64, expect: bool| {
            assert_eq!(friday_evening.covers(MONDAY_NOON_MS + offset), expect, "offset {offset}");
        };
        check(0, false); // Monday noon
        check(4 * day + 5 * hour, true); // Friday 17:00
        check(4 * day + 3 * hour, false); // Friday 15:00
        check(5 * day - 11 * hour, true); // Saturday 01:00
        check(5 * day - 9 * hour, false); // Saturday 03:00
    }
}
