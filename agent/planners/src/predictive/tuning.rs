//! The predictive planner's rules' parameters besides its knob and band: chosen on the
//! shared traces and the generated scenarios, then frozen ([`Tuning::default`]). They are
//! fields rather than constants so an eval can move one at a time and measure what it was
//! worth (`cargo run --release -p steward-evals --example sensitivity`); the daemon always
//! runs the defaults.

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tuning {
    /// Where a forecast peak always means scaling out, whatever the target, percent: CPU
    /// above it is where request latency climbs steeply.
    pub scale_out_ceiling_percent: f64,
    /// Inside the band, a group whose peak over the whole last hold is this many points
    /// under the target settles down to it (`settle_after_holds` holds after its last
    /// change).
    pub settle_points_under_target: f64,
    /// How many holds after its last change a group settles down to the target.
    pub settle_after_holds: u32,
    /// The same where the history has held for a day: a trusted fall is met in fewer,
    /// larger steps.
    pub settle_after_holds_trusted: u32,
    /// Where the history has held, a scale-in never sizes below what it forecasts the next
    /// this many minutes need at the target.
    pub trusted_ahead_minutes: i64,
    /// A scale-out the forecast sees coming only later than the lead plus this many minutes
    /// waits, unless the group is above its target already: the capacity lands a few
    /// minutes before the rise, not half an hour before it.
    pub scale_out_due_minutes: i64,
    /// Minutes ahead a scale-out looks when the history has held for a day.
    pub combine_reach_minutes: i64,
    /// Minutes the load must hold a level for such a combined scale-out to size for it.
    pub sustain_minutes: i64,
    /// A scale-out sizes for each history window's peak without its this many busiest
    /// minutes: a burst of a minute or two yesterday does not repeat today, and the last 10
    /// minutes still count every minute. A scale-in weighs every minute: a burst the group
    /// cannot serve costs SLO-violation minutes, one it over-serves only money.
    pub burst_minutes_set_aside: usize,
    /// Capacity readings (CPU against load, one a minute) a scale-in waits for: one reading
    /// of a noisy one-minute CPU metric can be off by a fifth, and a scale-in sized on it at
    /// start-up leaves the group short until a scale-out lands. A scale-out never waits.
    pub scale_in_after_readings: u32,
    /// The weight of each new capacity reading in its running means (older ones fade by
    /// the rest each minute): a one-minute CPU reading can be off by a fifth, and what an
    /// instance serves changes only with a deploy or an instance type.
    pub capacity_reading_weight: f64,
    /// How far (relatively) a ten-minute mean may stray from a history term's forecast for
    /// the term to count as having held.
    pub forecast_tolerance: f64,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            scale_out_ceiling_percent: 82.0,
            settle_points_under_target: 10.0,
            settle_after_holds: 4,
            settle_after_holds_trusted: 6,
            trusted_ahead_minutes: 60,
            scale_out_due_minutes: 5,
            combine_reach_minutes: 180,
            sustain_minutes: 60,
            burst_minutes_set_aside: 2,
            scale_in_after_readings: 5,
            capacity_reading_weight: 0.1,
            forecast_tolerance: 0.10,
        }
    }
}
