//! Target tracking for auto-scaling groups: keep average CPU near a target.
//!
//! Scale-out is fast: as soon as utilisation is above the target (beyond a 10 % tolerance)
//! it asks for `ceil(running × cpu / target)` instances, counting instances still launching
//! as capacity already on its way. Scale-in is slow: it only goes down to the highest
//! recommendation seen over the stabilisation window (as Kubernetes' HPA does), waits for
//! launches to finish, and removes at most half of the group per step, so the prod
//! "no halving" guardrail stays a backstop rather than a routine brake.

use std::collections::{HashMap, VecDeque};

use steward_tools::{GroupKind, GroupSnapshot, Observation, ScaleGroup, ToolCall};

use super::{Plan, Planner};

/// Changes within ±10 % of the target are noise.
const TOLERANCE: f64 = 0.10;

#[derive(Debug)]
pub struct TargetTracking {
    target_percent: f64,
    stabilization_ms: i64,
    /// Per group: recent `(at_ms, recommended capacity)`.
    history: HashMap<String, VecDeque<(i64, u32)>>,
}

impl TargetTracking {
    pub fn new(target_percent: f64, stabilization_ms: i64) -> TargetTracking {
        TargetTracking { target_percent, stabilization_ms, history: HashMap::new() }
    }

    /// The change one auto-scaling group needs at `at_ms`, if any (the predictive planner
    /// asks this for a group it cannot forecast).
    pub(crate) fn plan_group(&mut self, at_ms: i64, group: &GroupSnapshot) -> Option<Plan> {
        let cpu = group.cpu_percent?;
        let running = group.running();
        if running == 0 {
            return None;
        }
        let raw = (f64::from(running) * cpu / self.target_percent).ceil() as u32;
        let recommended = raw.clamp(group.min, group.max);
        let history = self.history.entry(group.name.clone()).or_default();
        history.push_back((at_ms, recommended));
        while history.front().is_some_and(|(at, _)| *at < at_ms - self.stabilization_ms) {
            history.pop_front();
        }
        let ratio = cpu / self.target_percent;
        let desired = group.desired;
        let call = |to: u32| {
            ToolCall::ScaleGroup(ScaleGroup { group: group.name.clone(), current_desired: desired, desired: to })
        };
        if ratio > 1.0 + TOLERANCE && recommended > desired {
            Some(Plan {
                call: call(recommended),
                rationale: format!(
                    "cpu {cpu:.0}% on {running} running is above the {:.0}% target: {recommended} instances bring it back",
                    self.target_percent
                ),
            })
        } else if ratio < 1.0 - TOLERANCE && group.pending() == 0 {
            let stabilized = history.iter().map(|(_, r)| *r).max().unwrap_or(recommended);
            let floor = desired.div_ceil(2).max(group.min);
            let to = stabilized.max(floor);
            (to < desired).then(|| Plan {
                call: call(to),
                rationale: format!(
                    "cpu {cpu:.0}% is below the {:.0}% target; the highest need over the last {} min is {stabilized}",
                    self.target_percent,
                    self.stabilization_ms / 60_000
                ),
            })
        } else {
            None
        }
    }
}

impl Planner for TargetTracking {
    fn name(&self) -> &'static str {
        "target-tracking"
    }

    fn plan(&mut self, observation: &Observation) -> Vec<Plan> {
        observation
            .groups
            .iter()
            .filter(|g| g.kind == GroupKind::AutoScaling)
            .filter_map(|group| self.plan_group(observation.at_ms, group))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{observed, web_group};
    use steward_tools::GroupSnapshot;

    fn observation(at_min: i64, desired: u32, running: u32, cpu: f64) -> Observation {
        observed(at_min, GroupSnapshot { cpu_percent: Some(cpu), ..web_group(desired, running) })
    }

    fn check(planner: &mut TargetTracking, o: Observation, expect: Option<&str>) {
        let plans = planner.plan(&o);
        assert_eq!(plans.first().map(|p| p.call.to_string()).as_deref(), expect);
    }

    #[test]
    fn scales_out_fast_and_in_slowly_by_at_most_half() {
        let mut p = TargetTracking::new(60.0, 5 * 60_000);
        check(&mut p, observation(0, 4, 4, 90.0), Some("scale_group web 4→6"));
        // Launching instances count as capacity on its way: nothing more to ask for.
        check(&mut p, observation(1, 6, 4, 90.0), None);
        // Within tolerance: nothing.
        check(&mut p, observation(2, 6, 6, 63.0), None);
        // Load drops: the window still remembers the need for 6.
        check(&mut p, observation(3, 6, 6, 20.0), None);
        check(&mut p, observation(7, 6, 6, 20.0), None);
        // Past the window: scale in, but by at most half.
        check(&mut p, observation(9, 6, 6, 10.0), Some("scale_group web 6→3"));
    }

    #[test]
    fn never_leaves_the_group_bounds() {
        let mut p = TargetTracking::new(60.0, 0);
        check(&mut p, observation(0, 39, 39, 100.0), Some("scale_group web 39→40"));
        check(&mut p, observation(1, 3, 3, 1.0), Some("scale_group web 3→2"));
        check(&mut p, observation(2, 2, 2, 1.0), None);
    }
}
