//! One group's remembered load and what it forecasts: a ring of a week and a day of
//! requests per minute, the history terms (yesterday, last week) scaled to today, the
//! peaks they forecast, the level they say a rise will hold, and whether they have held
//! for the last day; and what one instance serves, learnt from CPU readings.

pub(super) const MINUTE_MS: i64 = 60_000;
pub(super) const DAY: i64 = 1_440;
const WEEK: i64 = 10_080;
/// Minutes of history kept per group: a week and a day.
const KEEP: usize = (WEEK + DAY) as usize;

/// Minutes ahead each checked forecast was made.
const FORECAST_AHEAD: i64 = 60;
/// Ten-minute blocks that must have been checked (an hour's worth).
const MIN_BLOCKS_CHECKED: usize = 6;

/// What the planner remembers of one group: its load (a ring of requests per minute, by
/// absolute minute), what one instance serves, and its last change.
#[derive(Debug)]
pub(super) struct Memory {
    ring: Vec<f32>,
    newest: Option<i64>,
    pub(super) capacity: Option<Capacity>,
    /// The minute of the group's last change seen, and its desired size since.
    pub(super) last_change: Option<i64>,
    pub(super) last_desired: u32,
}

/// What one instance serves, learnt from observations: requests per minute at 100 % CPU,
/// as the ratio of two running means (of the requests served, and of the instances' busy
/// share: running instances × CPU), how many readings there have been, and the minute of
/// the first. A ratio of means, not a mean of ratios: a one-minute CPU reading off by a
/// fifth either way would make the mean of ratios overestimate what an instance serves.
#[derive(Debug, Clone, Copy)]
pub(super) struct Capacity {
    served: f64,
    busy: f64,
    readings: u32,
    first: i64,
}

impl Capacity {
    /// `known` with one more reading at minute `now`: `requests` per minute served by
    /// `busy` instances' worth of CPU (running instances × CPU / 100), weighing `w` in the
    /// running means (`Tuning::capacity_reading_weight`).
    pub(super) fn read(known: Option<Capacity>, requests: f64, busy: f64, now: i64, w: f64) -> Capacity {
        match known {
            Some(c) => Capacity {
                served: c.served * (1.0 - w) + requests * w,
                busy: c.busy * (1.0 - w) + busy * w,
                readings: c.readings + 1,
                ..c
            },
            None => Capacity { served: requests, busy, readings: 1, first: now },
        }
    }

    /// Requests per minute one instance serves at 100 % CPU.
    pub(super) fn per_instance(&self) -> f64 {
        self.served / self.busy
    }

    /// Whether a scale-in may be sized on it: after `readings` readings
    /// (`Tuning::scale_in_after_readings`), or `hold` minutes after the first (a group
    /// whose CPU fell too low to read is not kept large for want of readings).
    pub(super) fn settled(&self, now: i64, hold: i64, readings: u32) -> bool {
        self.readings >= readings || now - self.first >= hold
    }
}

impl Memory {
    pub(super) fn new() -> Memory {
        Memory { ring: vec![f32::NAN; KEEP], newest: None, capacity: None, last_change: None, last_desired: 0 }
    }

    fn slot(minute: i64) -> usize {
        usize::try_from(minute.rem_euclid(KEEP as i64)).unwrap_or(0)
    }

    pub(super) fn put(&mut self, minute: i64, requests: f64) {
        if let Some(newest) = self.newest {
            // Forget the minutes skipped since the newest sample (they are unknown).
            for m in (newest + 1)..minute.min(newest + KEEP as i64) {
                self.ring[Self::slot(m)] = f32::NAN;
            }
        }
        self.ring[Self::slot(minute)] = requests as f32;
        self.newest = Some(self.newest.map_or(minute, |n| n.max(minute)));
    }

    fn get(&self, minute: i64) -> Option<f64> {
        let newest = self.newest?;
        if minute > newest || minute <= newest - KEEP as i64 {
            return None;
        }
        let value = self.ring[Self::slot(minute)];
        (!value.is_nan()).then_some(f64::from(value))
    }

    pub(super) fn window(&self, from: i64, to: i64) -> impl Iterator<Item = f64> + '_ {
        (from..=to).filter_map(move |m| self.get(m))
    }

    fn mean(&self, from: i64, to: i64) -> Option<f64> {
        let (sum, n) = self.window(from, to).fold((0.0, 0), |(s, n), v| (s + v, n + 1));
        (n > 0).then(|| sum / f64::from(n))
    }

    /// The highest load expected in `[now, now + reach]`, both ways [`Peaks`] counts it:
    /// the recent peak (last 10 minutes, every minute), and the history terms'
    /// ([`Memory::history_peaks`], `skip` busiest minutes set aside).
    pub(super) fn forecast_peaks(&self, now: i64, reach: i64, terms: &Terms, skip: usize) -> Peaks {
        let recent = self.window(now - 10, now).fold(0.0, f64::max);
        let history = self.history_peaks(now, reach, terms, skip);
        Peaks { every_minute: history.every_minute.max(recent), burst_free: history.burst_free.max(recent) }
    }

    /// The highest load the history terms alone forecast in `[now, now + reach]`: the peak
    /// of that window yesterday and last week, each scaled as `terms` (the
    /// [`Memory::scaled_terms`] at `now`) says, with and without its `skip` busiest
    /// minutes (`Tuning::burst_minutes_set_aside`; 0 with no history). Each window is read
    /// once for both.
    pub(super) fn history_peaks(&self, now: i64, reach: i64, terms: &Terms, skip: usize) -> Peaks {
        let mut peaks = Peaks::default();
        for term in terms.iter() {
            if let Some(then) = window_peaks(self.scaled_window(now, reach, term).flatten(), skip) {
                peaks.every_minute = peaks.every_minute.max(then.every_minute);
                peaks.burst_free = peaks.burst_free.max(then.burst_free);
            }
        }
        peaks
    }

    /// What `term` says each minute of `[now, now + reach]` will see, scaled as
    /// [`Term::factor_at`] says (`None` for a minute with no data).
    fn scaled_window(&self, now: i64, reach: i64, term: Term) -> impl Iterator<Item = Option<f64>> + '_ {
        (now..=now + reach).map(move |m| self.get(m - term.back).map(|v| v * term.factor_at(m)))
    }

    /// How much further a steady rise carries the load over the next `reach` minutes: the
    /// growth across the last three ten-minute means, when each is above the one before,
    /// compounded over `reach`; 1 when the load is not rising steadily or a block has no
    /// data.
    pub(super) fn rise(&self, now: i64, reach: i64) -> f64 {
        let block = |end: i64| self.mean(end - 9, end);
        let (Some(first), Some(middle), Some(last)) = (block(now - 20), block(now - 10), block(now)) else {
            return 1.0;
        };
        if first > 0.0 && first < middle && middle < last {
            // The first and the last mean are 20 minutes apart.
            (last / first).powf(reach as f64 / 20.0)
        } else {
            1.0
        }
    }

    /// Each history term (yesterday, last week) with data at `at`, and the factor
    /// [`Memory::forecast_peaks`] scales it by there. `plan` reads them once a tick and
    /// hands them to every forecast it makes at that minute.
    pub(super) fn scaled_terms(&self, at: i64, utc_offset: i64) -> Terms {
        let recent = self.mean(at - 30, at);
        let tomorrow = next_midnight(at, utc_offset);
        Terms([DAY, WEEK].map(|back| Some(Term { back, factor: self.scaled_by(recent?, back, at)?, tomorrow })))
    }

    /// The factor for the term `back` minutes ago at `at`, given the last half hour's mean
    /// there.
    fn scaled_by(&self, recent: f64, back: i64, at: i64) -> Option<f64> {
        scale(recent, self.mean(at - back - 30, at - back)?)
    }

    /// Whether every history term the forecast uses now has held for the last day: each
    /// ten-minute mean within `tolerance` (`Tuning::forecast_tolerance`) of what the term
    /// forecast for it an hour before. A block with no data (a metric gap, or no history
    /// yet) counts neither way, but at least an hour of blocks must have been checked for
    /// each term. One surprise (a level shift, a holiday) keeps the history from being
    /// trusted far ahead for a day. Each block's mean and the forecast's terms an hour
    /// before it are read once for every term.
    pub(super) fn history_held(&self, now: i64, terms: &Terms, utc_offset: i64, tolerance: f64) -> bool {
        if terms.is_empty() {
            return false;
        }
        let mut checked = [0; 2];
        for from in (now - DAY + 1..=now - 9).step_by(10) {
            let to = from + 9;
            let Some(actual) = self.mean(from, to) else { continue };
            let forecast = self.scaled_terms(from - FORECAST_AHEAD, utc_offset);
            for (term, checked) in terms.iter().zip(&mut checked) {
                let (Some(then_term), Some(then)) =
                    (forecast.get(term.back), self.mean(from - term.back, to - term.back))
                else {
                    continue;
                };
                if then <= 0.0 {
                    continue;
                }
                if (actual / (then * then_term.factor_at(from)) - 1.0).abs() > tolerance {
                    return false;
                }
                *checked += 1;
            }
        }
        checked.iter().take(terms.iter().count()).all(|&n| n >= MIN_BLOCKS_CHECKED)
    }

    /// The highest level the history terms say the load will hold for `sustain` minutes on
    /// end (`Tuning::sustain_minutes`) within the next `reach` minutes: a rise, not a
    /// short spike.
    pub(super) fn sustained_level(&self, now: i64, reach: i64, terms: &Terms, sustain: i64) -> f64 {
        let mut level = 0.0_f64;
        for term in terms.iter() {
            let then: Vec<f64> = self.scaled_window(now, reach, term).map(|v| v.unwrap_or(f64::NAN)).collect();
            for held in then.windows(usize::try_from(sustain).unwrap_or(1).max(1)) {
                let low = held.iter().copied().fold(f64::INFINITY, f64::min);
                if low.is_finite() {
                    level = level.max(low);
                }
            }
        }
        level
    }
}

/// The first minute of the local day (its start `utc_offset` minutes east of UTC) after
/// the one `minute` is in.
fn next_midnight(minute: i64, utc_offset: i64) -> i64 {
    (minute + utc_offset).div_euclid(DAY) * DAY + DAY - utc_offset
}

/// A history term as the forecast made at one minute reads it.
#[derive(Debug, Clone, Copy)]
struct Term {
    /// Minutes back: [`DAY`] or [`WEEK`].
    back: i64,
    /// The last half hour's mean over the same half hour then ([`scale`]).
    factor: f64,
    /// The first minute of the local day after the forecast's.
    tomorrow: i64,
}

impl Term {
    /// What the term's minute is scaled by to forecast `minute`: its factor, but last
    /// week's window is taken as it was from the local midnight on. How today differs
    /// from last week's same day (a holiday, a quiet Friday) is a fact about today;
    /// yesterday's factor carries a lasting change on.
    fn factor_at(&self, minute: i64) -> f64 {
        if self.back == WEEK && minute >= self.tomorrow {
            1.0
        } else {
            self.factor
        }
    }
}

/// The history terms with data at one minute ([`Memory::scaled_terms`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct Terms([Option<Term>; 2]);

impl Terms {
    fn iter(&self) -> impl Iterator<Item = Term> + '_ {
        self.0.iter().flatten().copied()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// The term `back` minutes back, if it has data.
    fn get(&self, back: i64) -> Option<Term> {
        self.iter().find(|t| t.back == back)
    }
}

/// A peak counted two ways: over every minute (what a scale-in weighs), and without the
/// busiest minutes (what a scale-out sizes for: a burst yesterday does not repeat today).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Peaks {
    pub(super) every_minute: f64,
    pub(super) burst_free: f64,
}

/// The highest of `values`, and the highest once the `skip` highest are set aside (the
/// lowest of them when there are no more than `skip`); `None` when there are none.
fn window_peaks(values: impl Iterator<Item = f64>, skip: usize) -> Option<Peaks> {
    // The `skip + 1` highest so far, highest first.
    let mut top: Vec<f64> = Vec::with_capacity(skip + 2);
    for value in values {
        let at = top.partition_point(|&t| t >= value);
        if at <= skip {
            top.insert(at, value);
            top.truncate(skip + 1);
        }
    }
    Some(Peaks { every_minute: *top.first()?, burst_free: *top.last()? })
}

/// How a history term is scaled: by the last half hour's mean over the same half hour
/// then (within 0.2–5×), or taken as it was when both were idle (the history matched).
fn scale(recent: f64, then_recent: f64) -> Option<f64> {
    if then_recent > 0.0 {
        Some((recent / then_recent).clamp(0.2, 5.0))
    } else {
        (recent == 0.0).then_some(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_an_instance_serves_is_read_through_cpu_noise() {
        // 1,000 req/min per instance at 100 % CPU, on 10 instances at 60 %, with each
        // minute's CPU reading a fifth high or a fifth low in turn. The mean of the
        // per-minute ratios would be about 1,042 (1/1.2 and 1/0.8 do not average to 1);
        // the ratio of the means is within 2 % of 1,000, and five readings in, a
        // scale-in may be sized on it.
        let mut capacity = None;
        for minute in 0..60 {
            let off = if minute % 2 == 0 { 1.2 } else { 0.8 };
            let c = Capacity::read(capacity, 6000.0, 10.0 * 0.6 * off, minute, 0.1);
            assert_eq!(c.settled(minute, 30, 5), minute >= 4, "minute {minute}");
            capacity = Some(c);
        }
        let per_instance = capacity.map(|c| c.per_instance()).unwrap_or_default();
        assert!((per_instance - 1000.0).abs() < 20.0, "{per_instance}");
    }

    #[test]
    fn the_highest_but_the_busiest_minutes() {
        let values = [3.0, 9.0, 1.0, 7.0, 9.0, 4.0];
        let highest_but = |values: &[f64], skip| window_peaks(values.iter().copied(), skip).map(|p| p.burst_free);
        assert_eq!(highest_but(&values, 0), Some(9.0));
        assert_eq!(highest_but(&values, 2), Some(7.0), "both nines are set aside");
        assert_eq!(highest_but(&[5.0, 2.0], 2), Some(2.0), "no more than two: the lowest");
        assert_eq!(highest_but(&[], 2), None);
        assert_eq!(window_peaks(values.into_iter(), 2).map(|p| p.every_minute), Some(9.0), "and the highest");
    }
}
