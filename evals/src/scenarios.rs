//! Built-in scenario generators: shapes of load every planner should handle. Each is a
//! per-minute series with its peak at 1.0 (the replay scales it), deterministic for a seed.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::replay::Disturbance;
use crate::trace::Trace;

pub const WEB_SCENARIOS: [&str; 6] =
    ["daily-cycle", "flash-crowd", "slow-ramp", "step-drop", "outage", "noisy-plateau"];
/// Shapes where a forecast goes wrong or the metrics mislead: Steward must not do worse
/// than target tracking at the same knob on any of them.
pub const ROBUSTNESS_SCENARIOS: [&str; 4] = ["metric-gaps", "level-shift", "holiday-week", "noisy-cpu"];
pub const GPU_SCENARIOS: [&str; 8] = [
    "gpu-bursts",
    "gpu-daily",
    "gpu-capacity-shortage",
    "gpu-spot-under-5",
    "gpu-spot-5-10",
    "gpu-spot-10-15",
    "gpu-spot-storm",
    "gpu-tight-budget",
];

const DAY: usize = 1_440;

fn daily(minute: usize, trough: f64) -> f64 {
    // Busiest at 14:00, quietest at 02:00.
    let phase = (minute % DAY) as f64 / DAY as f64 * std::f64::consts::TAU - 14.0 / 24.0 * std::f64::consts::TAU;
    trough + (1.0 - trough) * (1.0 + phase.cos()) / 2.0
}

/// The scenario `name`, `days` long.
pub fn generate(name: &str, days: usize, seed: u64) -> Option<Trace> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let minutes = days.max(1) * DAY;
    let mut noise = |level: f64, amount: f64| (level * (1.0 + rng.gen_range(-amount..=amount))).max(0.0);
    let values: Vec<f64> = match name {
        "daily-cycle" => (0..minutes).map(|m| noise(daily(m, 0.2), 0.03)).collect(),
        "flash-crowd" => (0..minutes)
            .map(|m| {
                let spike = (m % DAY) >= 10 * 60 && (m % DAY) < 10 * 60 + 25;
                noise(if spike { 1.0 } else { 0.35 * daily(m, 0.4) }, 0.03)
            })
            .collect(),
        "slow-ramp" => (0..minutes).map(|m| noise(0.1 + 0.9 * m as f64 / minutes as f64, 0.03)).collect(),
        "step-drop" => (0..minutes).map(|m| noise(if m < minutes / 2 { 1.0 } else { 0.25 }, 0.03)).collect(),
        "outage" => (0..minutes)
            .map(|m| {
                let down = (m % DAY) >= 12 * 60 && (m % DAY) < 13 * 60;
                if down {
                    0.0
                } else {
                    noise(0.4 + 0.5 * daily(m, 0.3), 0.03)
                }
            })
            .collect(),
        "noisy-plateau" => (0..minutes).map(|_| noise(0.7, 0.25)).collect(),
        // The daily cycle, whose metrics go missing or noisy (see `disturbance`).
        "metric-gaps" | "noisy-cpu" => (0..minutes).map(|m| noise(daily(m, 0.2), 0.03)).collect(),
        // The daily cycle at half the level until noon halfway through, then twice it for good.
        "level-shift" => {
            (0..minutes).map(|m| noise(daily(m, 0.2) * if m < minutes / 2 { 0.5 } else { 1.0 }, 0.03)).collect()
        }
        // Nine days from a Monday, weekends at 60 %, the second Monday a holiday at 30 %:
        // last week's Monday forecasts a busy day, and Tuesday follows a quiet one.
        "holiday-week" => (0..minutes.max(9 * DAY))
            .map(|m| {
                let level = match m / DAY {
                    5 | 6 => 0.6,
                    7 => 0.3,
                    _ => 1.0,
                };
                noise(daily(m, 0.2) * level, 0.03)
            })
            .collect(),
        "gpu-daily" => (0..minutes).map(|m| noise(daily(m, 0.1), 0.4)).collect(),
        "gpu-bursts"
        | "gpu-capacity-shortage"
        | "gpu-spot-under-5"
        | "gpu-spot-5-10"
        | "gpu-spot-10-15"
        | "gpu-spot-storm"
        | "gpu-tight-budget" => (0..minutes)
            .map(|m| {
                let burst = (m % 240) < 12;
                if burst {
                    noise(1.0, 0.3)
                } else {
                    noise(0.05, 0.5)
                }
            })
            .collect(),
        _ => return None,
    };
    let trace = Trace { name: name.to_string(), per_minute: values };
    Some(trace.scaled_to_peak(1.0))
}

/// What a scenario's metrics get wrong: for `metric-gaps`, ten minutes without data at
/// 07:00, 09:00 and 11:00 each day (on the morning ramp, where a missed rise costs most);
/// for `noisy-cpu`, each one-minute CPU reading off by up to ±20 %. Nothing for the others.
pub fn disturbance(name: &str, minutes: usize) -> Disturbance {
    match name {
        "metric-gaps" => Disturbance {
            metric_gaps: (0..minutes.div_ceil(DAY))
                .flat_map(|day| [7, 9, 11].map(|hour| day * DAY + hour * 60..day * DAY + hour * 60 + 10))
                .collect(),
            cpu_noise: 0.0,
        },
        "noisy-cpu" => Disturbance { metric_gaps: Vec::new(), cpu_noise: 0.2 },
        _ => Disturbance::default(),
    }
}
