//! Load traces: per-minute request rates, from a CSV file (`timestamp,requests`, one row
//! per minute, ISO 8601 timestamps) or from a generator.

use std::path::Path;

/// A per-minute series of arrivals (requests, or jobs for a GPU pool).
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    pub name: String,
    pub per_minute: Vec<f64>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TraceError {
    #[error("{file}: cannot read: {message}")]
    Read { file: String, message: String },
    #[error("{file} line {line}: {message}")]
    Line { file: String, line: usize, message: String },
    #[error("{file}: no data rows")]
    Empty { file: String },
}

/// Longest gap between two rows that is filled with zeros (a quiet stretch); anything
/// longer is refused as a broken trace.
const MAX_GAP_MINUTES: i64 = 24 * 60;

impl Trace {
    /// Read a CSV trace. Errors name the line: a bad header, a bad timestamp or number, a
    /// time that does not move forward. Missing minutes (up to a day) count as zero.
    pub fn from_csv(path: &Path) -> Result<Trace, TraceError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| TraceError::Read { file: file.clone(), message: e.to_string() })?;
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("trace").to_string();
        Trace::parse(&name, &file, &text)
    }

    pub fn parse(name: &str, file: &str, text: &str) -> Result<Trace, TraceError> {
        let err = |line: usize, message: String| TraceError::Line { file: file.to_string(), line, message };
        let mut lines = text.lines().enumerate();
        match lines.next() {
            Some((_, header)) if header.trim().trim_start_matches('\u{feff}') == "timestamp,requests" => {}
            Some((_, header)) => {
                return Err(err(1, format!("the header must be `timestamp,requests`, not `{}`", header.trim())))
            }
            None => return Err(TraceError::Empty { file: file.to_string() }),
        }
        let mut per_minute = Vec::new();
        let mut last_minute: Option<i64> = None;
        for (index, line) in lines {
            let number = index + 1;
            if line.trim().is_empty() {
                continue;
            }
            let (stamp, value) =
                line.split_once(',').ok_or_else(|| err(number, "expected `timestamp,requests`".into()))?;
            let minute = parse_minute(stamp.trim())
                .ok_or_else(|| err(number, format!("`{}` is not an ISO 8601 time", stamp.trim())))?;
            let requests: f64 =
                value.trim().parse().map_err(|_| err(number, format!("`{}` is not a number", value.trim())))?;
            if !requests.is_finite() || requests < 0.0 {
                return Err(err(number, format!("`{}` is not a count of requests", value.trim())));
            }
            if let Some(previous) = last_minute {
                let step = minute - previous;
                if step <= 0 {
                    return Err(err(number, "time does not move forward from the row before".into()));
                }
                if step > MAX_GAP_MINUTES {
                    return Err(err(number, format!("a gap of {step} minutes since the row before")));
                }
                per_minute.extend(std::iter::repeat_n(0.0, (step - 1) as usize));
            }
            per_minute.push(requests);
            last_minute = Some(minute);
        }
        if per_minute.is_empty() {
            return Err(TraceError::Empty { file: file.to_string() });
        }
        Ok(Trace { name: name.to_string(), per_minute })
    }

    pub fn peak(&self) -> f64 {
        self.per_minute.iter().copied().fold(0.0, f64::max)
    }

    /// Scaled so that its peak is `peak`.
    pub fn scaled_to_peak(&self, peak: f64) -> Trace {
        let factor = if self.peak() > 0.0 { peak / self.peak() } else { 0.0 };
        Trace { name: self.name.clone(), per_minute: self.per_minute.iter().map(|v| v * factor).collect() }
    }

    /// The first `minutes` of the trace.
    pub fn truncated(&self, minutes: usize) -> Trace {
        Trace { name: self.name.clone(), per_minute: self.per_minute.iter().copied().take(minutes).collect() }
    }
}

/// Minutes since the Unix epoch, from `2023-11-16T18:15:00`, with or without an offset.
fn parse_minute(stamp: &str) -> Option<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(stamp) {
        return Some(t.timestamp().div_euclid(60));
    }
    for format in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(stamp, format) {
            return Some(t.and_utc().timestamp().div_euclid(60));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expect: Result<Vec<f64>, &str>) {
        let got = Trace::parse("t", "t.csv", text).map(|t| t.per_minute).map_err(|e| e.to_string());
        match expect {
            Ok(values) => assert_eq!(got, Ok(values), "{text}"),
            Err(message) => assert_eq!(got.map_err(|e| e.starts_with(message)), Err(true), "{text}"),
        }
    }

    #[test]
    fn reads_and_names_bad_lines() {
        check("timestamp,requests\n2023-11-16T18:15:00,3\n2023-11-16T18:16:00,5\n", Ok(vec![3.0, 5.0]));
        check(
            "timestamp,requests\n1995-07-01T00:00:00-04:00,1\n1995-07-01T00:03:00-04:00,2\n",
            Ok(vec![1.0, 0.0, 0.0, 2.0]),
        );
        check("time,count\n", Err("t.csv line 1: the header must be `timestamp,requests`"));
        check("timestamp,requests\n2023-11-16T18:15:00,three\n", Err("t.csv line 2: `three` is not a number"));
        check("timestamp,requests\nyesterday,3\n", Err("t.csv line 2: `yesterday` is not an ISO 8601 time"));
        check(
            "timestamp,requests\n2023-11-16T18:15:00,3\n2023-11-16T18:14:00,3\n",
            Err("t.csv line 3: time does not move forward"),
        );
        check("timestamp,requests\n2023-11-16T18:15:00,-3\n", Err("t.csv line 2: `-3` is not a count"));
        check("timestamp,requests\n", Err("t.csv: no data rows"));
    }
}
