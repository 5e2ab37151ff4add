//! What CloudWatch says of a GPU pool's queue: its depth, its oldest job's age, and a
//! jobs-started counter from a metric whose per-minute `Sum` is the jobs started that
//! minute (for an SQS queue, `NumberOfMessagesReceived`). The planner learns a job's
//! duration from the counter (busy worker-minutes over jobs started).
//!
//! Each minute is counted once, and only once it is complete: a minute's datapoint is
//! taken when it is at least two minutes old (late-published data has arrived by then),
//! and never again. The counter starts at zero when the provider starts; the planner
//! treats a counter that goes back as a restart.

use std::collections::HashMap;

/// What CloudWatch says of a pool's queue this tick.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct PoolReadings {
    pub(crate) queue: Option<u64>,
    pub(crate) oldest_job_age_seconds: Option<u64>,
    pub(crate) jobs_started: Option<u64>,
}

/// How old a minute's datapoint must be before it is counted.
const SETTLED_MS: i64 = 120_000;

#[derive(Debug, Default)]
pub(crate) struct JobCounter {
    /// Per pool: jobs counted so far, and the newest minute counted.
    pools: HashMap<String, (u64, i64)>,
}

impl JobCounter {
    /// Count `points` (minute start in Unix ms, jobs started that minute) of `pool` seen at
    /// `now_ms`; the pool's total so far.
    pub(crate) fn count(&mut self, pool: &str, points: &[(i64, f64)], now_ms: i64) -> u64 {
        let (total, newest) = self.pools.entry(pool.to_string()).or_insert((0, i64::MIN));
        let mut settled: Vec<&(i64, f64)> =
            points.iter().filter(|(at, _)| *at > *newest && at + SETTLED_MS <= now_ms).collect();
        settled.sort_by_key(|(at, _)| *at);
        for (at, jobs) in settled {
            *total = total.saturating_add(jobs.max(0.0).round() as u64);
            *newest = *at;
        }
        *total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_settled_minute_counts_once() {
        let mut counter = JobCounter::default();
        let minute = 60_000;
        let now = 100 * minute;
        // Minutes 95..=99 at minute 100: 95–98 have settled (two minutes old), 99 not yet.
        let points =
            [(99 * minute, 7.0), (98 * minute, 1.0), (97 * minute, 2.0), (96 * minute, 3.0), (95 * minute, 4.0)];
        assert_eq!(counter.count("gpu", &points, now), 10);
        assert_eq!(counter.count("gpu", &points, now), 10, "nothing counted twice");
        // A minute later 99 has settled; a point older than what was counted is not taken.
        let later = [(99 * minute, 7.0), (98 * minute, 1.0), (90 * minute, 50.0)];
        assert_eq!(counter.count("gpu", &later, now + minute), 17);
        assert_eq!(counter.count("other", &[], now), 0);
    }
}
