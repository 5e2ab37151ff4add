//! `[planner]`: how the deterministic planners size groups and pools, and how long a denied
//! change is not proposed again.

use std::time::Duration;

use anyhow::bail;
use serde::Deserialize;

use super::values::parse_duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scaling {
    TargetTracking,
    Predictive,
}

/// The section as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlannerFileConfig {
    /// How auto-scaling groups are scaled: `target-tracking` (react to CPU) or
    /// `predictive` (scale ahead from remembered history of the request rate; see `steward
    /// eval`; a group with no request rate is scaled by target tracking instead).
    pub scaling: Scaling,
    /// Target CPU utilisation for auto-scaling groups, percent: the one knob of either
    /// planner (default 60 for target tracking, 72 for predictive, whose scale-out and
    /// scale-in edges move with it).
    pub target_cpu_percent: Option<f64>,
    /// Scale in only to the highest recommendation seen over this window.
    pub scale_in_stabilization: String,
    /// A queued GPU job that no worker can start within this long (and never longer than a
    /// new worker takes to boot) gets a new worker.
    pub gpu_target_wait: String,
    /// Minutes one GPU worker needs per job, until measured (then learnt per pool).
    pub gpu_minutes_per_job: f64,
    /// How long a new GPU worker takes to boot, until measured (then learnt per pool).
    pub gpu_launch_time: String,
    /// Longest an idle GPU worker is kept with an empty queue (it goes sooner when booting
    /// a new one is quicker; a warm pool stays while jobs keep arriving).
    pub gpu_idle_grace: String,
    /// After a denial, the same change for the same group is not proposed again for this long.
    pub denied_backoff: String,
    /// The UTC offset of the day the load follows (its users' local time), `+HH:MM` or
    /// `-HH:MM`: the predictive planner takes last week's load as it was from that
    /// midnight on, so a holiday's quiet ends with the day.
    pub utc_offset: String,
}

impl Default for PlannerFileConfig {
    fn default() -> Self {
        PlannerFileConfig {
            scaling: Scaling::TargetTracking,
            target_cpu_percent: None,
            scale_in_stabilization: "5m".into(),
            gpu_target_wait: "10m".into(),
            gpu_minutes_per_job: 5.0,
            gpu_launch_time: "4m".into(),
            gpu_idle_grace: "5m".into(),
            denied_backoff: "10m".into(),
            utc_offset: "+00:00".into(),
        }
    }
}

/// The resolved section.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannerConfig {
    pub scaling: Scaling,
    pub target_cpu_percent: f64,
    pub scale_in_stabilization: Duration,
    pub gpu_target_wait: Duration,
    pub gpu_minutes_per_job: f64,
    pub gpu_launch_time: Duration,
    pub gpu_idle_grace: Duration,
    pub denied_backoff: Duration,
    /// `utc_offset`, minutes east of UTC.
    pub utc_offset_minutes: i64,
}

impl PlannerConfig {
    pub fn resolve(file: &PlannerFileConfig) -> anyhow::Result<PlannerConfig> {
        let target_cpu_percent = file.target_cpu_percent.unwrap_or(match file.scaling {
            Scaling::TargetTracking => 60.0,
            Scaling::Predictive => steward_planners::PredictiveConfig::default().target_percent,
        });
        if !(1.0..=100.0).contains(&target_cpu_percent) {
            bail!("planner.target_cpu_percent: must be between 1 and 100");
        }
        if !(file.gpu_minutes_per_job > 0.0 && file.gpu_minutes_per_job.is_finite()) {
            bail!("planner.gpu_minutes_per_job: must be above 0");
        }
        Ok(PlannerConfig {
            scaling: file.scaling,
            target_cpu_percent,
            scale_in_stabilization: parse_duration("planner.scale_in_stabilization", &file.scale_in_stabilization)?,
            gpu_target_wait: parse_duration("planner.gpu_target_wait", &file.gpu_target_wait)?,
            gpu_minutes_per_job: file.gpu_minutes_per_job,
            gpu_launch_time: parse_duration("planner.gpu_launch_time", &file.gpu_launch_time)?,
            gpu_idle_grace: parse_duration("planner.gpu_idle_grace", &file.gpu_idle_grace)?,
            denied_backoff: parse_duration("planner.denied_backoff", &file.denied_backoff)?,
            utc_offset_minutes: parse_utc_offset(&file.utc_offset)?,
        })
    }
}

/// `+HH:MM` or `-HH:MM` (UTC−12:00 to UTC+14:00, as time zones run), in minutes east of UTC.
fn parse_utc_offset(text: &str) -> anyhow::Result<i64> {
    let parsed = (|| {
        let (sign, rest) = match text.as_bytes().first()? {
            b'+' => (1, &text[1..]),
            b'-' => (-1, &text[1..]),
            _ => return None,
        };
        let (hours, minutes) = rest.split_once(':')?;
        let two_digits = |part: &str| part.len() == 2 && part.bytes().all(|b| b.is_ascii_digit());
        if !two_digits(hours) || !two_digits(minutes) {
            return None;
        }
        let (hours, minutes): (i64, i64) = (hours.parse().ok()?, minutes.parse().ok()?);
        let offset = sign * (hours * 60 + minutes);
        (minutes < 60 && (-12 * 60..=14 * 60).contains(&offset)).then_some(offset)
    })();
    parsed.ok_or_else(|| {
        anyhow::anyhow!("planner.utc_offset: expected an offset from -12:00 to +14:00 such as \"-05:00\", got {text:?}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_resolve_and_bad_values_are_named() {
        let planner = PlannerConfig::resolve(&PlannerFileConfig::default()).expect("defaults");
        assert_eq!(planner.denied_backoff, Duration::from_secs(600));
        assert_eq!(planner.target_cpu_percent, 60.0, "target tracking's default");
        assert_eq!(planner.utc_offset_minutes, 0);
        let predictive = PlannerFileConfig { scaling: Scaling::Predictive, ..Default::default() };
        assert_eq!(PlannerConfig::resolve(&predictive).expect("predictive").target_cpu_percent, 72.0);
        for (file, expect) in [
            (PlannerFileConfig { target_cpu_percent: Some(0.0), ..Default::default() }, "planner.target_cpu_percent"),
            (PlannerFileConfig { gpu_idle_grace: "soon".into(), ..Default::default() }, "planner.gpu_idle_grace"),
            (PlannerFileConfig { gpu_minutes_per_job: -1.0, ..Default::default() }, "planner.gpu_minutes_per_job"),
            (PlannerFileConfig { utc_offset: "-5".into(), ..Default::default() }, "planner.utc_offset"),
        ] {
            let err = PlannerConfig::resolve(&file).expect_err(expect);
            assert!(format!("{err:#}").contains(expect), "{err:#}");
        }
    }

    #[test]
    fn a_utc_offset_is_read_as_time_zones_write_it() {
        for (text, minutes) in [("+00:00", 0), ("-05:00", -300), ("+05:30", 330), ("+14:00", 840), ("-12:00", -720)] {
            assert_eq!(parse_utc_offset(text).expect(text), minutes, "{text}");
        }
        for text in [
            "", "Z", "05:00", "+5:00", "+05:60", "+14:01", "-12:30", "+05", "+aa:bb", "+05:00 ", "++5:00", "+-5:00",
            "-+5:00",
        ] {
            let err = parse_utc_offset(text).expect_err(text);
            assert!(format!("{err}").starts_with("planner.utc_offset: expected"), "{err}");
        }
    }
}
