//! Predictive scaling for auto-scaling groups: size each group for the load it will have
//! once new instances are ready, from what the same time looked like yesterday and last
//! week.
//!
//! Each tick, for every group, the planner forecasts the peak load of the next
//! `lead + horizon` minutes as the highest of: the peak of the last 10 minutes; the peak of
//! the same window yesterday, scaled by how the last half hour compares with the same half
//! hour yesterday (as it was, when both were idle); the same from last week, but past the
//! local midnight last week's window is taken as it was: a day unlike last week's (a
//! holiday, a quiet Friday) ends with the day, while yesterday's factor carries a lasting
//! change (a level shift, a drop) on. Peaks and
//! half-hour means, not single minutes, so noise does not steer it; and a scale-out sets
//! aside the two busiest minutes of each history window (a burst yesterday does not repeat
//! today), while a scale-in weighs every minute. It keeps the forecast
//! peak's utilisation inside a band: above `high` it scales out, below `low` it scales in,
//! and either way it sizes the group for `target`, in the middle of the band, so one
//! change covers a whole rise instead of chasing it minute by minute. A scale-out waits
//! until it is due: until the load is above the target now, or the forecast crosses
//! `high` within the lead and five minutes (a spike the history sees coming at 10:00 is
//! met at 09:52, once three of its minutes are in that window, not at 09:27). It scales
//! in only `hold` minutes after its last change, once what an instance serves has been
//! read from five minutes of CPU (one reading of a noisy metric can be off by a fifth), and
//! by at most half a step; a group that sits well under the target (10 points) inside the
//! band, by the peak of the whole last `hold` as well, settles down to it after four times
//! the hold.
//!
//! Where every history term has forecast the last day to within 10 %, the history has
//! earned trust, and the planner takes fewer, larger steps:
//! - a scale-out sizes for the highest level the history says the load will hold for an
//!   hour within the next three hours, not only for the next half hour's peak;
//! - no scale-in sizes below what the history says the next hour needs at the target: a
//!   lull it has seen end (a daily idle hour) is not worth a change there and back;
//! - a settle waits six holds, not four, and sizes halfway between the target and the
//!   scale-out line (never below that next-hour need): on a falling evening, one step
//!   covers what two would; on a steady load it is the target as before.
//!
//! History comes from observations: the daemon preloads the store's remembered
//! observations at start-up ([`Predictive::remember_load`]), and every observation the planner
//! sees is remembered too. With no history it behaves like target tracking with lookahead
//! of one (the load now), but for a steady rise (three ten-minute means, each above the
//! last), which a scale-out follows to the end of the reach, at most as far as the band
//! reaches above the target: a first day climbs in fewer steps.
//!
//! A group read on CPU but not on requests (no request metric configured, or none for ten
//! minutes) cannot be forecast: it is scaled by target tracking on CPU at the same target,
//! with the hold as its scale-in stabilisation window, and each rationale says so.
//!
//! The figures above are the defaults: the band's and the timing's in
//! [`PredictiveConfig`], the rules' in [`Tuning`], frozen.

use std::collections::HashMap;

use steward_tools::{GroupKind, Observation, ScaleGroup, ToolCall};

use crate::{Plan, Planner, Remembered, TargetTracking};

mod history;
mod tuning;

use history::{Capacity, Memory, MINUTE_MS};
pub use tuning::Tuning;

#[derive(Debug, Clone)]
pub struct PredictiveConfig {
    /// Utilisation a change sizes the group for, percent.
    pub target_percent: f64,
    /// Scale out when the forecast peak would put utilisation above this, percent.
    pub high_percent: f64,
    /// Scale in when the forecast peak would leave utilisation below this, percent.
    pub low_percent: f64,
    /// Minutes from asking for an instance until it serves (launch delay plus a tick).
    pub lead_minutes: u32,
    /// Minutes beyond the lead the forecast peak looks at.
    pub horizon_minutes: u32,
    /// No scale-in within this many minutes of the last change.
    pub hold_minutes: u32,
    /// Where the load's day starts: the UTC offset of its users' local time, minutes
    /// (-300 for UTC−5). Last week's term is taken as it was past that midnight.
    pub utc_offset_minutes: i64,
    /// The rules' other parameters, frozen ([`Tuning::default`]).
    pub tuning: Tuning,
}

impl PredictiveConfig {
    /// The default band moved to size for `target_percent` (the planner's one user-facing
    /// knob; [`PredictiveConfig::moved_to`]).
    pub fn at_target(target_percent: f64) -> PredictiveConfig {
        PredictiveConfig::default().moved_to(target_percent)
    }

    /// This band moved to size for `target_percent`: scale out when the forecast peak is as
    /// far above the target, relatively, as this band's edge is above its target (the
    /// default's 82/72: 14 % more load than the group is sized for), but never above the
    /// scale-out ceiling and at least 2 points above the target; scale in as many points
    /// below it as this band does (the default's 22). A low target buys headroom for a
    /// sudden rise the forecast did not see: the band above it shrinks with it, so the load
    /// can grow by the same factor at every knob before it reaches the scale-out line.
    pub fn moved_to(self, target_percent: f64) -> PredictiveConfig {
        PredictiveConfig {
            target_percent,
            high_percent: (target_percent * self.high_percent / self.target_percent)
                .min(self.tuning.scale_out_ceiling_percent)
                .max(target_percent + 2.0)
                .min(98.0),
            low_percent: (target_percent - (self.target_percent - self.low_percent)).max(5.0),
            ..self
        }
    }
}

impl Default for PredictiveConfig {
    fn default() -> Self {
        PredictiveConfig {
            target_percent: 72.0,
            high_percent: 82.0,
            low_percent: 50.0,
            lead_minutes: 5,
            horizon_minutes: 30,
            hold_minutes: 30,
            utc_offset_minutes: 0,
            tuning: Tuning::default(),
        }
    }
}

#[derive(Debug)]
pub struct Predictive {
    config: PredictiveConfig,
    memory: HashMap<String, Memory>,
    /// Groups read on CPU alone: target tracking at the same target, with the hold as its
    /// scale-in stabilisation window.
    cpu_only: TargetTracking,
}

impl Predictive {
    pub fn new(config: PredictiveConfig) -> Predictive {
        let cpu_only = TargetTracking::new(config.target_percent, i64::from(config.hold_minutes) * MINUTE_MS);
        Predictive { config, memory: HashMap::new(), cpu_only }
    }

    /// Remember a past observation of a group's load (the daemon's start-up preload).
    pub fn remember_load(&mut self, group: &str, at_ms: i64, requests_per_minute: f64) {
        self.memory
            .entry(group.to_string())
            .or_insert_with(Memory::new)
            .put(at_ms.div_euclid(MINUTE_MS), requests_per_minute);
    }
}

impl Planner for Predictive {
    fn name(&self) -> &'static str {
        "predictive"
    }

    fn wants_history(&self) -> bool {
        true
    }

    fn remember(&mut self, row: &Remembered) {
        if let Some(requests) = row.requests_per_minute {
            self.remember_load(&row.group, row.at_ms, requests);
        }
    }

    fn plan(&mut self, observation: &Observation) -> Vec<Plan> {
        let now = observation.at_ms.div_euclid(MINUTE_MS);
        let t = self.config.tuning;
        // The plans for groups read on CPU alone come first, then the forecast ones.
        let (mut cpu_only, mut plans) = (Vec::new(), Vec::new());
        for group in observation.groups.iter().filter(|g| g.kind == GroupKind::AutoScaling) {
            // A group with no CPU reading is left alone: what an instance serves cannot be read.
            let Some(cpu) = group.cpu_percent else { continue };
            // A group read on CPU but not on requests (no request metric configured, or
            // none for ten minutes: a load balancer with no requests publishes none) cannot
            // be forecast; target tracking at the same target keeps it sized rather than
            // leaving it as it is.
            let Some(requests) = group.requests_per_minute else {
                if let Some(p) = self.cpu_only.plan_group(observation.at_ms, group) {
                    let rationale = format!("no request rate to forecast from; {}", p.rationale);
                    cpu_only.push(Plan { rationale, ..p });
                }
                continue;
            };
            let running = group.running();
            let memory = self.memory.entry(group.name.clone()).or_insert_with(Memory::new);
            memory.put(now, requests);
            if running > 0 && cpu > 5.0 && cpu < 95.0 {
                let busy = f64::from(running) * cpu / 100.0;
                memory.capacity = Some(Capacity::read(memory.capacity, requests, busy, now, t.capacity_reading_weight));
            }
            if memory.last_desired != group.desired {
                // Someone (or an earlier proposal of ours) changed the group.
                if memory.last_desired != 0 {
                    memory.last_change = Some(now);
                }
                memory.last_desired = group.desired;
            }
            let Some(capacity) = memory.capacity else { continue };
            let per_instance = capacity.per_instance();
            let lead = i64::from(self.config.lead_minutes);
            let reach = lead + i64::from(self.config.horizon_minutes);
            // A scale-out looks past the history's burst minutes; a scale-in (below) weighs
            // every minute.
            let utc_offset = self.config.utc_offset_minutes;
            let terms = memory.scaled_terms(now, utc_offset);
            let peaks = memory.forecast_peaks(now, reach, &terms, t.burst_minutes_set_aside);
            let peak = peaks.burst_free;
            let desired = group.desired;
            let target = self.config.target_percent;
            let utilisation_at = |load: f64| {
                if desired > 0 {
                    load / (f64::from(desired) * per_instance) * 100.0
                } else {
                    f64::INFINITY
                }
            };
            // A millionth of an instance is rounding in the capacity estimate, not load: a
            // load that needs exactly 5 instances at the target gets 5, not 6.
            let size_at = |load: f64, percent: f64| {
                ((load / (per_instance * percent / 100.0) - 1e-6).ceil() as u32).clamp(group.min, group.max)
            };
            let size_for = |load: f64| size_at(load, target);
            // What the history says the next hour needs at the target: where it has held,
            // no scale-in goes below it.
            let next_hour = || {
                size_for(
                    memory.history_peaks(now, t.trusted_ahead_minutes, &terms, t.burst_minutes_set_aside).every_minute,
                )
            };
            // Whether the history has held for a day (`Memory::history_held`): it walks the
            // last day, so each branch below asks it only when the answer would change its
            // decision.
            let held = || memory.history_held(now, &terms, utc_offset, t.forecast_tolerance);
            let (utilisation, mut sized) = (utilisation_at(peak), size_for(peak));
            let call = |to: u32| {
                ToolCall::ScaleGroup(ScaleGroup { group: group.name.clone(), current_desired: desired, desired: to })
            };
            // A scale-out is due when the group is above its target now, or when the
            // forecast puts it over the line within the lead and a few minutes: capacity
            // for a rise half an hour away is not paid for until then. The near peak is
            // read only when the reach's would scale out.
            let due = || {
                utilisation_at(requests) > target
                    || utilisation_at(
                        memory
                            .forecast_peaks(now, lead + t.scale_out_due_minutes, &terms, t.burst_minutes_set_aside)
                            .burst_free,
                    ) > self.config.high_percent
            };
            if utilisation > self.config.high_percent && sized > desired && due() {
                // With no history to say where a rise leads, a steady one is followed a
                // reach ahead, but no further than the band reaches above the target.
                if terms.is_empty() {
                    let band = self.config.high_percent / target;
                    sized = sized.max(size_for(peak * memory.rise(now, reach).min(band)));
                }
                // When the history has held for a day, one step covers the level the
                // rise will hold further ahead instead of the next half hour's peak only:
                // fewer, larger steps where the forecast has earned that trust. The day's
                // check is read only when that level would make the step larger.
                let further = size_for(memory.sustained_level(now, t.combine_reach_minutes, &terms, t.sustain_minutes));
                let sized = if further > sized && held() { further } else { sized };
                plans.push(Plan {
                    call: call(sized),
                    rationale: format!(
                        "load may reach {peak:.0} req/min within {reach} min ({utilisation:.0}% of {desired}); {sized} instances keep it at {target:.0}%"
                    ),
                });
                continue;
            }
            let hold = i64::from(self.config.hold_minutes);
            if group.pending() > 0 || !capacity.settled(now, hold, t.scale_in_after_readings) {
                continue;
            }
            let peak = peaks.every_minute;
            let (utilisation, sized) = (utilisation_at(peak), size_for(peak));
            let since = memory.last_change.map_or(i64::MAX, |at| now - at);
            // Below the band: scale in after `hold`. Inside the band but well under the
            // target: settle down to it after four times as long, judged on the peak of the
            // whole last `hold` too, so one quiet stretch of noisy load does not shrink a
            // group the next noisy minute grows again.
            // At most half a step, and never below the group's minimum.
            let shrunk_to = |enough: u32| enough.max(desired.div_ceil(2)).max(group.min);
            let shrinks = |enough: u32| shrunk_to(enough) < desired;
            let scale_in = if utilisation < self.config.low_percent && since >= hold {
                // Where the history has held, not below what it says the next hour needs:
                // a lull it has seen end (a daily idle hour) is not worth a change there and
                // back. The need is read only when there is a scale-in to make, and the day's
                // check only when that need would hold the group.
                match shrinks(sized).then(next_hour).filter(|&ahead| ahead > sized) {
                    Some(ahead) if held() => {
                        Some((peak, ahead, "; the history has held for a day and forecasts more within the hour"))
                    }
                    _ => Some((peak, sized, "")),
                }
            } else if utilisation < target - t.settle_points_under_target
                && since >= i64::from(t.settle_after_holds) * hold
            {
                // The whole hold's peak is at least the forecast peak: read it only when
                // the forecast peak alone would settle, and the day's check only then.
                let settled = memory.window(now - hold, now).fold(peak, f64::max);
                let at_target = size_for(settled);
                if utilisation_at(settled) >= target - t.settle_points_under_target {
                    None
                } else if !held() {
                    Some((settled, at_target, ""))
                } else if since >= i64::from(t.settle_after_holds_trusted) * hold {
                    // A trusted fall: wait longer, then size halfway between the target and
                    // the scale-out line, but never below what the history says the next
                    // hour needs at the target. On a steady load that is the target itself.
                    let halfway = size_at(settled, (target + self.config.high_percent) / 2.0);
                    let to = halfway.max(next_hour()).min(at_target);
                    let why = if to < at_target {
                        "; the history has held for a day and forecasts the fall, so it settles halfway to the scale-out line"
                    } else {
                        ""
                    };
                    Some((settled, to, why))
                } else {
                    None
                }
            } else {
                None
            };
            if let Some((load, enough, why)) = scale_in {
                let to = shrunk_to(enough);
                if to < desired {
                    plans.push(Plan {
                        call: call(to),
                        rationale: format!(
                            "load stays under {load:.0} req/min for the next {reach} min ({:.0}% of {desired}); {enough} instances suffice{why}",
                            utilisation_at(load)
                        ),
                    });
                }
            }
        }
        cpu_only.extend(plans);
        cpu_only
    }
}

#[cfg(test)]
mod tests;
