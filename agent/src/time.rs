//! Time for people: the daemon counts in Unix milliseconds (simulated on the simulated
//! cloud); these helpers print them.

use chrono::{DateTime, Utc};

pub fn datetime(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// `07:04`, UTC.
pub fn hhmm(ms: i64) -> String {
    datetime(ms).format("%H:%M").to_string()
}

/// `2026-11-26 07:04:00Z`.
pub fn full(ms: i64) -> String {
    datetime(ms).format("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// `3m`, `2h05m`, `40s` — how long ago, roughly.
pub fn age(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

pub fn wall_now_ms() -> i64 {
    Utc::now().timestamp_millis()
}
