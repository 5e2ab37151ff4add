//! GPU capacity: where a pool may launch (ordered launch options of instance type × zone ×
//! market), what the cloud said when it could not (the cool-off cache), what a launch
//! actually placed, and a pool's dollar budgets.
//!
//! The launch loop every provider drives is in [`crate::launch`]; an option that answers
//! with a capacity code is remembered here as unavailable for [`COOL_OFF_MS`] (Karpenter
//! keeps its unavailable-offerings cache for 3 minutes).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How long an option that could not launch is skipped.
pub const COOL_OFF_MS: i64 = 3 * 60_000;
/// How long before a spot instance is reclaimed AWS warns it (the interruption notice).
pub const SPOT_NOTICE_MS: i64 = 2 * 60_000;

/// The EC2 error codes that mean "not here, not now": the option is skipped and cooled off.
pub const CAPACITY_CODES: [&str; 4] =
    ["InsufficientInstanceCapacity", "Unsupported", "SpotMaxPriceTooLow", "MaxSpotInstanceCountExceeded"];
/// The code an option is cooled off with after one of its spot workers got an interruption
/// notice: capacity there is being reclaimed.
pub const INTERRUPTED: &str = "SpotInterruption";

/// Where a worker's capacity is bought.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Market {
    Spot,
    OnDemand,
}

impl Market {
    pub fn as_str(self) -> &'static str {
        match self {
            Market::Spot => "spot",
            Market::OnDemand => "on_demand",
        }
    }
}

/// One place a pool may launch a worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LaunchOption {
    pub instance_type: String,
    /// Availability zone (or subnet) to launch in; none: wherever the cloud places it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    pub market: Market,
    /// For spot: the most to pay per hour (default, as on AWS: the on-demand price).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_price: Option<f64>,
}

impl LaunchOption {
    /// `g5.xlarge/us-east-1a/spot`: the option's name in the cool-off cache, metrics and
    /// audit entries.
    pub fn key(&self) -> String {
        format!("{}/{}/{}", self.instance_type, self.zone.as_deref().unwrap_or("any"), self.market.as_str())
    }

    /// The most one worker launched here can cost per hour: on demand, its price; on spot,
    /// its max price (AWS's default max price is the on-demand price).
    pub fn worst_case_price(&self, on_demand: f64) -> f64 {
        match self.market {
            Market::OnDemand => on_demand,
            Market::Spot => self.max_price.unwrap_or(on_demand),
        }
    }
}

/// Why an option is skipped, and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unavailable {
    /// The cloud's code (`InsufficientInstanceCapacity`, …) or [`INTERRUPTED`].
    pub code: String,
    pub until_ms: i64,
}

/// A pool's launch option as observed: its prices and whether it is cooling off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptionState {
    pub option: LaunchOption,
    /// What a worker here costs per hour now (spot: the current spot price).
    pub price: f64,
    /// The most a worker here can cost per hour ([`LaunchOption::worst_case_price`]).
    pub worst_case_price: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<Unavailable>,
}

/// The unavailable-options cache, by [`LaunchOption::key`]. Kept by each provider in
/// memory, as Karpenter keeps its own: after a restart the first launch finds out again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoolOff {
    entries: BTreeMap<String, Unavailable>,
}

impl CoolOff {
    /// Remember `key` as unavailable from `now_ms` for [`COOL_OFF_MS`].
    pub fn mark(&mut self, key: &str, code: &str, now_ms: i64) {
        self.entries.insert(key.to_string(), Unavailable { code: code.to_string(), until_ms: now_ms + COOL_OFF_MS });
    }

    /// Why `key` is skipped at `now_ms`, if it is.
    pub fn get(&self, key: &str, now_ms: i64) -> Option<&Unavailable> {
        self.entries.get(key).filter(|u| u.until_ms > now_ms)
    }

    /// The states of `options` at `now_ms`, priced by `price(option) -> (now, on-demand)`.
    pub fn states(
        &self,
        options: &[LaunchOption],
        now_ms: i64,
        price: impl Fn(&LaunchOption) -> (f64, f64),
    ) -> Vec<OptionState> {
        options
            .iter()
            .map(|o| {
                let (now, on_demand) = price(o);
                OptionState {
                    option: o.clone(),
                    price: now,
                    worst_case_price: o.worst_case_price(on_demand),
                    unavailable: self.get(&o.key(), now_ms).cloned(),
                }
            })
            .collect()
    }
}

/// What one launch placed in one option.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Placement {
    pub instance_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    pub market: Market,
    pub count: u32,
    /// USD per worker-hour when launched.
    pub price: f64,
    pub instance_ids: Vec<String>,
}

impl Placement {
    /// `2 × g5.xlarge spot in us-east-1a`.
    pub fn describe(&self) -> String {
        format!(
            "{} × {} {} in {}",
            self.count,
            self.instance_type,
            self.market.as_str(),
            self.zone.as_deref().unwrap_or("any zone")
        )
    }

    /// Several placements, for a receipt's summary: `2 × … ; 1 × …`.
    pub fn describe_all(placements: &[Placement]) -> String {
        placements.iter().map(Placement::describe).collect::<Vec<_>>().join("; ")
    }
}

/// An option a launch passed over, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub option: String,
    pub code: String,
    pub until_ms: i64,
}

/// Dollar caps of a pool (or the fleet). Over a cap a launch is denied, never clamped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_usd_per_hour: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_usd_per_month: Option<f64>,
}

impl Budget {
    pub fn is_set(&self) -> bool {
        self.max_usd_per_hour.is_some() || self.max_usd_per_month.is_some()
    }

    /// A one-line error for a cap that is not a positive, finite number.
    pub fn check(&self, field: &str) -> Result<(), String> {
        for (name, value) in
            [("max_usd_per_hour", self.max_usd_per_hour), ("max_usd_per_month", self.max_usd_per_month)]
        {
            if let Some(v) = value {
                if !(v.is_finite() && v > 0.0) {
                    return Err(format!("{field}.{name}: must be a positive number of dollars, got {v}"));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn option(t: &str, market: Market) -> LaunchOption {
        LaunchOption { instance_type: t.into(), zone: Some("z1".into()), market, max_price: None }
    }

    #[test]
    fn worst_case_is_the_max_price_or_on_demand() {
        let mut spot = option("g5.xlarge", Market::Spot);
        assert_eq!(spot.worst_case_price(1.006), 1.006);
        spot.max_price = Some(0.5);
        assert_eq!(spot.worst_case_price(1.006), 0.5);
        assert_eq!(option("g5.xlarge", Market::OnDemand).worst_case_price(1.006), 1.006);
        assert!(Budget { max_usd_per_hour: Some(-1.0), max_usd_per_month: None }.check("pool").is_err());
        assert!(Budget { max_usd_per_hour: Some(2.0), max_usd_per_month: None }.check("pool").is_ok());
    }
}
