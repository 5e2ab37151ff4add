//! The daemon's clock: simulated time on the simulated cloud, wall time otherwise. Shared
//! with the execution rate limiter, so rate limits count in the same time as everything else.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use governor::nanos::Nanos;

#[derive(Debug, Clone)]
pub struct DaemonClock {
    now_ms: Arc<AtomicI64>,
    origin_ms: i64,
}

impl DaemonClock {
    pub fn starting_at(ms: i64) -> DaemonClock {
        DaemonClock { now_ms: Arc::new(AtomicI64::new(ms)), origin_ms: ms }
    }

    pub fn now_ms(&self) -> i64 {
        self.now_ms.load(Ordering::Relaxed)
    }

    /// Move the clock; it never goes backwards.
    pub fn set(&self, ms: i64) {
        self.now_ms.fetch_max(ms, Ordering::Relaxed);
    }
}

impl governor::clock::Clock for DaemonClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        let elapsed = u64::try_from(self.now_ms() - self.origin_ms).unwrap_or(0);
        Nanos::from(elapsed.saturating_mul(1_000_000))
    }
}
