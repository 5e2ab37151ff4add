//! Time for people: the daemon counts in Unix milliseconds (simulated on the simulated
//! cloud); these helpers print them.

use chrono::{DateTime, Datelike, TimeZone, Utc};

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

/// `[start of the month, start of the next month)` around `ms`, Unix milliseconds (UTC).
pub fn month_bounds(ms: i64) -> (i64, i64) {
    let now = datetime(ms);
    let start = Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0).single().unwrap_or(now);
    let (y, m) = if now.month() == 12 { (now.year() + 1, 1) } else { (now.year(), now.month() + 1) };
    let end = Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single().unwrap_or(now);
    (start.timestamp_millis(), end.timestamp_millis())
}

pub fn wall_now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::month_bounds;

    #[test]
    fn months_end_where_the_calendar_says() {
        let nov_27 = chrono::DateTime::parse_from_rfc3339("2026-11-27T09:00:00Z").map(|d| d.timestamp_millis());
        let (start, end) = month_bounds(nov_27.unwrap_or_default());
        assert_eq!(
            (super::full(start), super::full(end)),
            ("2026-11-01 00:00:00Z".into(), "2026-12-01 00:00:00Z".into())
        );
        let dec = chrono::DateTime::parse_from_rfc3339("2026-12-31T23:59:00Z").map(|d| d.timestamp_millis());
        let (_, end) = month_bounds(dec.unwrap_or_default());
        assert_eq!(super::full(end), "2027-01-01 00:00:00Z");
    }
}
