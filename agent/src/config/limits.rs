//! `[limits]` and `[[freeze]]`: the stateful limits checked beside the Cedar policies, and
//! change-freeze windows written for people (weekly `days` with `from`/`to`, or one
//! `start`/`end`). The demo fleet's own freeze lives here too.

use anyhow::{bail, Context};
use serde::Deserialize;
use steward_policies::{FreezeWindow, Limits, Recurrence};
use steward_tools::Environment;

/// A change-freeze window as written in the config: either `start`/`end` (RFC 3339) or
/// weekly `days` with `from`/`to` (`HH:MM`, UTC).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FreezeConfig {
    pub name: String,
    pub start: Option<String>,
    pub end: Option<String>,
    #[serde(default)]
    pub days: Vec<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    #[serde(default)]
    pub environments: Vec<Environment>,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub block_scale_out: bool,
}

fn freeze_window(f: &FreezeConfig) -> anyhow::Result<FreezeWindow> {
    let when = match (&f.start, &f.end, f.days.is_empty()) {
        (Some(start), Some(end), true) => {
            let parse = |field: &str, t: &str| -> anyhow::Result<i64> {
                Ok(chrono::DateTime::parse_from_rfc3339(t)
                    .with_context(|| format!("{field}: `{t}` is not an RFC 3339 time"))?
                    .timestamp_millis())
            };
            let (start_ms, end_ms) = (parse("start", start)?, parse("end", end)?);
            if end_ms <= start_ms {
                bail!("end must be after start");
            }
            Recurrence::Once { start_ms, end_ms }
        }
        (None, None, false) => {
            let days = f.days.iter().map(|d| weekday(d)).collect::<anyhow::Result<Vec<u8>>>()?;
            let from = minute_of_day("from", f.from.as_deref())?;
            let to = minute_of_day("to", f.to.as_deref())?;
            Recurrence::Weekly { days, from_minute: from, to_minute: to }
        }
        _ => bail!("give either start and end, or days with from and to"),
    };
    Ok(FreezeWindow {
        name: f.name.clone(),
        when,
        environments: f.environments.clone(),
        groups: f.groups.clone(),
        block_scale_out: f.block_scale_out,
    })
}

fn weekday(text: &str) -> anyhow::Result<u8> {
    let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let key = text.to_ascii_lowercase();
    days.iter()
        .position(|d| key.starts_with(d))
        .and_then(|i| u8::try_from(i).ok())
        .with_context(|| format!("days: `{text}` is not a weekday"))
}

fn minute_of_day(field: &str, text: Option<&str>) -> anyhow::Result<u32> {
    let text = text.with_context(|| format!("{field}: required with days"))?;
    let (h, m) = text.split_once(':').with_context(|| format!("{field}: `{text}` is not HH:MM"))?;
    let (h, m): (u32, u32) = (h.parse()?, m.parse()?);
    if h > 24 || m > 59 || (h == 24 && m > 0) {
        bail!("{field}: `{text}` is not a time of day");
    }
    Ok(h * 60 + m)
}

/// `[limits]` with every `[[freeze]]` window added.
pub fn resolve_limits(limits: Option<&Limits>, freezes: &[FreezeConfig]) -> anyhow::Result<Limits> {
    let mut limits = limits.cloned().unwrap_or_default();
    if limits.hourly_budget_usd.is_some_and(|b| !(b > 0.0 && b.is_finite())) {
        bail!("limits.hourly_budget_usd: must be above 0");
    }
    if limits.monthly_budget_usd.is_some_and(|b| !(b > 0.0 && b.is_finite())) {
        bail!("limits.monthly_budget_usd: must be above 0");
    }
    for (i, f) in freezes.iter().enumerate() {
        limits.freeze.push(freeze_window(f).with_context(|| format!("freeze[{i}] ({})", f.name))?);
    }
    Ok(limits)
}

/// The demo fleet's own guardrail: a daily change freeze on `worker` from 08:00 to 08:30 UTC
/// (its nightly batch release, say), so a demo run shows a denial next to the allows and
/// the approvals. Added only on the simulated cloud with no freeze configured.
pub fn demo_freeze() -> FreezeWindow {
    FreezeWindow {
        name: "worker-release".into(),
        when: Recurrence::Weekly { days: (0..7).collect(), from_minute: 8 * 60, to_minute: 8 * 60 + 30 },
        environments: Vec::new(),
        groups: vec!["worker".into()],
        block_scale_out: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freezes_are_read_and_bad_ones_named() {
        let weekly = FreezeConfig {
            name: "friday".into(),
            start: None,
            end: None,
            days: vec!["fri".into()],
            from: Some("16:00".into()),
            to: Some("23:59".into()),
            environments: vec![Environment::Prod],
            groups: Vec::new(),
            block_scale_out: false,
        };
        let limits = resolve_limits(None, std::slice::from_ref(&weekly)).expect("resolves");
        assert_eq!(limits.freeze.len(), 1);
        let bad = FreezeConfig { to: Some("25:00".into()), ..weekly.clone() };
        let err = resolve_limits(None, &[bad]).expect_err("bad time");
        assert!(format!("{err:#}").contains("freeze[0] (friday): to: `25:00` is not a time of day"), "{err:#}");
        let budget = Limits { hourly_budget_usd: Some(-1.0), ..Limits::default() };
        assert!(resolve_limits(Some(&budget), &[]).is_err());
    }
}
