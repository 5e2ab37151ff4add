//! Amazon EC2 Auto Scaling predictive scaling, as its user guide describes it ("Predictive
//! scaling for Amazon EC2 Auto Scaling", "How predictive scaling works"), beside target
//! tracking, as AWS recommends using it:
//! - the forecast: each hour's average load from the load metric's history, up to 14 days
//!   of it, from its daily and weekly patterns; no forecast before 24 hours of history;
//! - capacity for an hour: the forecast load at the target utilisation per instance;
//! - `ForecastAndScale`: that capacity becomes the group's minimum from the scheduling
//!   buffer (default 300 s) before the hour starts; predictive scaling never scales in by
//!   itself, the dynamic policy (target tracking at the same target) does, down to it;
//! - `HonorMaxCapacity` (the default): never above the group's maximum;
//! - `ForecastOnly`: forecasts are made but nothing is scaled, so a replay of it is its
//!   target tracking policy alone (the `aws-target-tracking` rows).
//!
//! AWS's forecasting model is not published; this one is the documented behaviour with
//! the plainest forecast that uses both patterns: with a week of history, the mean of
//! the same hour in past weeks, otherwise the mean of the same hour on past days.

use std::collections::HashMap;

use steward_planners::{Plan, Planner};
use steward_tools::{GroupKind, Observation, ToolCall};

use crate::baselines::{scale, AwsTargetTracking};

const HOUR_MS: i64 = 3_600_000;
const DAY_HOURS: i64 = 24;
const WEEK_HOURS: i64 = 7 * 24;
pub(crate) const HISTORY_HOURS: i64 = 14 * 24;
/// Capacity for an hour is in place this long before it starts.
pub(crate) const SCHEDULING_BUFFER_MS: i64 = 300_000;

#[derive(Debug, Default)]
struct History {
    /// Per hour (Unix hours): summed requests per minute and minutes seen.
    hours: HashMap<i64, (f64, f64)>,
    first_hour: Option<i64>,
    /// Requests a minute one instance serves at 100 % CPU, as last seen.
    per_instance: Option<f64>,
}

impl History {
    fn average(&self, hour: i64) -> Option<f64> {
        self.hours.get(&hour).filter(|(_, n)| *n > 0.0).map(|(sum, n)| sum / n)
    }

    /// The forecast of `hour`'s average load.
    fn forecast(&self, hour: i64) -> Option<f64> {
        let first = self.first_hour?;
        if hour - first < DAY_HOURS {
            return None;
        }
        let mean = |step: i64| {
            let seen: Vec<f64> = (1..=HISTORY_HOURS / step).filter_map(|k| self.average(hour - k * step)).collect();
            (!seen.is_empty()).then(|| seen.iter().sum::<f64>() / seen.len() as f64)
        };
        if hour - first >= WEEK_HOURS {
            mean(WEEK_HOURS).or_else(|| mean(DAY_HOURS))
        } else {
            mean(DAY_HOURS)
        }
    }
}

#[derive(Debug)]
pub struct AwsPredictiveScaling {
    target: f64,
    dynamic: AwsTargetTracking,
    groups: HashMap<String, History>,
}

impl AwsPredictiveScaling {
    /// Forecast-and-scale at `target_percent`, with target tracking at the same target.
    pub fn new(target_percent: f64) -> AwsPredictiveScaling {
        AwsPredictiveScaling {
            target: target_percent,
            dynamic: AwsTargetTracking::new(target_percent),
            groups: HashMap::new(),
        }
    }
}

impl Planner for AwsPredictiveScaling {
    fn name(&self) -> &'static str {
        "aws-predictive-scaling"
    }

    fn plan(&mut self, o: &Observation) -> Vec<Plan> {
        let dynamic = self.dynamic.plan(o);
        let mut plans = Vec::new();
        for g in o.groups.iter().filter(|g| g.kind == GroupKind::AutoScaling) {
            let history = self.groups.entry(g.name.clone()).or_default();
            if let Some(requests) = g.requests_per_minute {
                let hour = o.at_ms.div_euclid(HOUR_MS);
                let slot = history.hours.entry(hour).or_insert((0.0, 0.0));
                slot.0 += requests;
                slot.1 += 1.0;
                history.first_hour.get_or_insert(hour);
                history.hours.retain(|h, _| hour - h <= HISTORY_HOURS);
                if let (Some(cpu), running) = (g.cpu_percent, g.running()) {
                    if cpu > 1.0 && running > 0 {
                        history.per_instance = Some(requests / (f64::from(running) * cpu / 100.0));
                    }
                }
            }
            let hour = (o.at_ms + SCHEDULING_BUFFER_MS).div_euclid(HOUR_MS);
            let floor = match (history.forecast(hour), history.per_instance) {
                (Some(load), Some(per)) if per > 0.0 => {
                    ((load / (per * self.target / 100.0)).ceil() as u32).clamp(g.min, g.max)
                }
                _ => g.min,
            };
            let wanted = dynamic.iter().find_map(|p| match &p.call {
                ToolCall::ScaleGroup(s) if s.group == g.name => Some(s.desired),
                _ => None,
            });
            let desired = match wanted {
                Some(w) => w.max(floor),
                None => g.desired.max(floor),
            };
            if desired != g.desired {
                let why = format!(
                    "forecast minimum {floor} for the hour ahead; target tracking at {:.0}% wants {}",
                    self.target,
                    wanted.map_or("no change".to_string(), |w| w.to_string())
                );
                plans.push(scale(&g.name, g.desired, desired, why));
            }
        }
        plans
    }
}
