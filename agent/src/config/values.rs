//! Helpers every config section uses: durations written for people, environment look-ups
//! that treat an empty variable as unset.

use std::time::Duration;

use anyhow::Context;

/// Looks an environment variable up (tests pass their own).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// `30s`, `5m`, `1h` → a duration; the error names the field.
pub fn parse_duration(field: &str, text: &str) -> anyhow::Result<Duration> {
    humantime::parse_duration(text).with_context(|| format!("{field}: `{text}` is not a duration (try 30s, 5m, 1h)"))
}

/// `None` for a missing or blank value.
pub fn nonempty(value: Option<String>) -> Option<String> {
    value.filter(|s| !s.trim().is_empty())
}
