//! Load models: what arrives at a group each simulated minute.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// What a group is asked to do, per minute since the simulation started.
#[derive(Debug, Clone, PartialEq)]
pub enum Load {
    /// Requests per minute following a daily curve, with an optional spike and noise.
    Daily {
        /// Requests per minute at the quietest hour.
        trough: f64,
        /// Requests per minute at the busiest hour.
        peak: f64,
        /// Minute of the day (0..1440) of the busiest hour.
        peak_minute: u32,
        /// A flash crowd: starts at this many minutes into the run, lasts, multiplies load.
        spike: Option<(u32, u32, f64)>,
        /// Relative noise, 0.05 = ±5 %.
        noise: f64,
    },
    /// A plateau that steps to another level at a given minute.
    Step { before: f64, after: f64, at_minute: u32, noise: f64 },
    /// Jobs arriving at a GPU pool: a steady rate plus bursts `(start, duration, extra jobs per minute)`.
    Jobs { per_minute: f64, bursts: Vec<(u32, u32, f64)> },
    /// A recorded series, one value per minute of the run (requests, or whole jobs for a
    /// GPU pool); zero after its end. Replays of real traces use this.
    Series(std::sync::Arc<Vec<f64>>),
}

impl Load {
    /// What arrives in minute `minute` of the run, which is minute `minute_of_day` (UTC) of
    /// its day.
    pub fn at(&self, minute: u32, minute_of_day: u32, rng: &mut ChaCha8Rng) -> f64 {
        match self {
            Load::Daily { trough, peak, peak_minute, spike, noise } => {
                let minute_of_day = f64::from(minute_of_day % 1440);
                let phase = (minute_of_day - f64::from(*peak_minute)) / 1440.0 * std::f64::consts::TAU;
                let level = trough + (peak - trough) * (1.0 + phase.cos()) / 2.0;
                let boost = match spike {
                    Some((start, length, factor)) if minute >= *start && minute < start + length => *factor,
                    _ => 1.0,
                };
                jitter(level * boost, *noise, rng)
            }
            Load::Step { before, after, at_minute, noise } => {
                let level = if minute < *at_minute { *before } else { *after };
                jitter(level, *noise, rng)
            }
            Load::Series(values) => values.get(minute as usize).copied().unwrap_or(0.0),
            Load::Jobs { per_minute, bursts } => {
                let extra: f64 = bursts
                    .iter()
                    .filter(|(start, length, _)| minute >= *start && minute < start + length)
                    .map(|(_, _, rate)| rate)
                    .sum();
                let mean = per_minute + extra;
                // Whole jobs: round a jittered mean, never below zero.
                jitter(mean, 0.3, rng).round().max(0.0)
            }
        }
    }
}

fn jitter(level: f64, noise: f64, rng: &mut ChaCha8Rng) -> f64 {
    if noise <= 0.0 {
        return level;
    }
    let factor = 1.0 + rng.gen_range(-noise..=noise);
    (level * factor).max(0.0)
}
