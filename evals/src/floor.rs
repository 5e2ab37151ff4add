//! The least any planner can pay on a trace, with hindsight: the check that tells a
//! baseline point no planner could dominate from one Steward has not dominated yet.
//!
//! Two floors. [`Floor::least_cost`] allows any number of changes: it is the oracle's
//! instance-minutes (the need, minute by minute, with no launch delay) less the costliest
//! minutes it may leave unserved. [`Floor::least_cost_within`] also caps the number of
//! capacity changes, which is what the fewer-actions bar asks of Steward: a group that may
//! change size only `k` times holds each size through the highest need until its next
//! change, and pays for the gap. Both are lower bounds; launch delays only add to them.
//!
//! The capped floor comes from a Lagrangian bound. For a price `λ` per change, the least
//! of (instance-minutes above the need + `λ` × changes) over every capacity plan is `g(λ)`,
//! found by dynamic programming; any plan with at most `k` changes then pays at least
//! `need + g(λ) − λk`, for every `λ`. The bound takes the best `λ` of a geometric grid.
//! Minutes are taken in blocks (one minute each up to three days, longer beyond) and a
//! block holding a change is charged only its need, which keeps the programme small and
//! the bound a bound. Leaving a minute unserved is the same as serving it with two more
//! changes and its need less, so `v` SLO-violation minutes cost at most `2v` changes and
//! the `v` largest needs.

use std::sync::OnceLock;

/// The most blocks the capped floor's programme runs over (three days of minutes).
const MAX_BLOCKS: usize = 3 * 1_440;

/// Each price per change in the grid is this many times the one before.
const GRID_STEP: f64 = 1.25;

#[derive(Debug, Clone, PartialEq)]
struct Block {
    minutes: f64,
    need: f64,
    peak: f64,
}

/// What any planner must pay at least on one trace.
#[derive(Debug, Clone, PartialEq)]
pub struct Floor {
    pub trace: String,
    usd_per_instance_minute: f64,
    /// The need of each minute, largest first.
    needs: Vec<f64>,
    blocks: Vec<Block>,
    /// `(λ, g(λ))` over the grid, in instance-minutes, computed when first asked.
    dual: OnceLock<Vec<(f64, f64)>>,
}

impl Floor {
    /// From a trace's need, minute by minute, and what the oracle paid for it.
    pub fn new(trace: &str, need: &[f64], oracle_cost_usd: f64) -> Floor {
        let mut needs = need.to_vec();
        needs.sort_by(|a, b| b.total_cmp(a));
        let total: f64 = needs.iter().sum();
        let usd_per_instance_minute = if total > 0.0 { oracle_cost_usd / total } else { 0.0 };
        let size = need.len().div_ceil(MAX_BLOCKS).max(1);
        let blocks = need
            .chunks(size)
            .map(|c| Block {
                minutes: c.len() as f64,
                need: c.iter().sum(),
                peak: c.iter().copied().fold(0.0, f64::max),
            })
            .collect();
        Floor { trace: trace.to_string(), usd_per_instance_minute, needs, blocks, dual: OnceLock::new() }
    }

    /// The least cost with at most `violation_minutes` SLO-violation minutes.
    pub fn least_cost(&self, violation_minutes: u64) -> f64 {
        self.served(violation_minutes) * self.usd_per_instance_minute
    }

    /// The least cost with at most `violation_minutes` SLO-violation minutes and at most
    /// `changes` changes of capacity.
    pub fn least_cost_within(&self, violation_minutes: u64, changes: u64) -> f64 {
        let changes = changes as f64 + 2.0 * violation_minutes.min(self.needs.len() as u64) as f64;
        let gap = self.dual().iter().map(|(lambda, g)| g - lambda * changes).fold(0.0, f64::max);
        (self.served(violation_minutes) + gap) * self.usd_per_instance_minute
    }

    /// Instance-minutes of need left once the `violation_minutes` largest go unserved.
    fn served(&self, violation_minutes: u64) -> f64 {
        let skip = usize::try_from(violation_minutes).unwrap_or(usize::MAX).min(self.needs.len());
        self.needs[skip..].iter().sum()
    }

    fn dual(&self) -> &[(f64, f64)] {
        self.dual.get_or_init(|| {
            // No change ever pays for more than the waste of never changing.
            let minutes: f64 = self.blocks.iter().map(|b| b.minutes).sum();
            let peak = self.blocks.iter().map(|b| b.peak).fold(0.0, f64::max);
            let need: f64 = self.blocks.iter().map(|b| b.need).sum();
            let most = (minutes * peak - need).max(1.0);
            let mut grid = Vec::new();
            let mut lambda = 0.25;
            while lambda <= most * GRID_STEP {
                let (waste, changes) = self.least_waste(lambda);
                grid.push((lambda, waste));
                // A dearer change only lowers the bound once no plan changes at all.
                if changes == 0 {
                    break;
                }
                lambda *= GRID_STEP;
            }
            grid
        })
    }

    /// `g(λ)`: the least instance-minutes above the need plus `lambda` per change, over
    /// every capacity plan, a block holding a change charged only its need.
    fn least_waste(&self, lambda: f64) -> (f64, u32) {
        let n = self.blocks.len();
        // `start[j]`: the least before boundary `j` where a constant stretch may begin (the
        // start, or just after a block holding a change), with the changes its plan makes.
        let mut start = vec![(f64::INFINITY, 0); n + 1];
        start[0] = (0.0, 0);
        // The least where a stretch ends at `j`, for the `j` at hand.
        let mut best = start[0];
        // One stretch from the start up to `j`: its minutes, need and peak.
        let mut whole = (0.0, 0.0, 0.0_f64);
        for j in 0..=n {
            best = start[j];
            let (mut minutes, mut need, mut peak) = (0.0, 0.0, 0.0_f64);
            for i in (1..j).rev() {
                let b = &self.blocks[i];
                minutes += b.minutes;
                need += b.need;
                peak = peak.max(b.peak);
                let waste = minutes * peak - need;
                // The waste only grows as the stretch reaches back, and a stretch that
                // does not begin at the start follows a change.
                if waste + lambda >= best.0 {
                    break;
                }
                if start[i].0 + waste < best.0 {
                    best = (start[i].0 + waste, start[i].1);
                }
            }
            if j > 0 {
                let b = &self.blocks[j - 1];
                whole = (whole.0 + b.minutes, whole.1 + b.need, whole.2.max(b.peak));
                let waste = whole.0 * whole.2 - whole.1;
                if waste < best.0 {
                    best = (waste, 0);
                }
            }
            if j < n {
                start[j + 1] = (best.0 + lambda, best.1 + 1);
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The least instance-minutes covering `need` with at most `changes` changes, by
    /// trying every plan: each stretch held at its peak.
    fn exact(need: &[f64], changes: usize) -> f64 {
        let n = need.len();
        // best[k][j]: the first j minutes in at most k + 1 stretches.
        let mut best = vec![vec![f64::INFINITY; n + 1]; changes + 1];
        let mut peak = 0.0_f64;
        for j in 1..=n {
            peak = peak.max(need[j - 1]);
            best[0][j] = j as f64 * peak;
        }
        for k in 1..=changes {
            for j in 1..=n {
                let mut here = best[k - 1][j];
                let mut peak = 0.0_f64;
                for i in (1..j).rev() {
                    peak = peak.max(need[i]);
                    here = here.min(best[k - 1][i] + (j - i) as f64 * peak);
                }
                best[k][j] = here;
            }
        }
        best[changes][n]
    }

    fn daily(minutes: usize) -> Vec<f64> {
        (0..minutes)
            .map(|m| (10.0 + 8.0 * (m as f64 / 240.0 * std::f64::consts::TAU).sin() + (m * 7 % 5) as f64).round())
            .collect()
    }

    #[test]
    fn the_capped_floor_is_under_the_best_plan_and_close_to_it() {
        let need = daily(480);
        let floor = Floor::new("t", &need, need.iter().sum());
        for changes in [0, 1, 2, 4, 8, 16] {
            let (bound, best) = (floor.least_cost_within(0, changes as u64), exact(&need, changes));
            assert!(bound <= best + 1e-6, "{changes} changes: the bound {bound} is above the best plan {best}");
            let (over_bound, over_best) = (bound - floor.least_cost(0), best - floor.least_cost(0));
            assert!(over_bound >= 0.8 * over_best, "{changes} changes: {over_bound} of {over_best} above the need");
        }
        assert!(floor.least_cost_within(0, 2) > floor.least_cost_within(0, 16));
        assert!((floor.least_cost_within(0, 100_000) - floor.least_cost(0)).abs() < 1e-6, "enough changes: the need");
    }

    #[test]
    fn unserved_minutes_lower_it_and_long_traces_are_taken_in_blocks() {
        let need = daily(480);
        let floor = Floor::new("t", &need, need.iter().sum());
        assert!(floor.least_cost_within(5, 4) < floor.least_cost_within(0, 4));
        assert!(floor.least_cost_within(5, 4) >= floor.least_cost(5));
        // A week in blocks of three minutes: still under a plan that holds each day's peak
        // all day (6 changes), and above the need.
        let week = daily(7 * 1_440);
        let floor = Floor::new("week", &week, week.iter().sum());
        assert_eq!(floor.blocks.len(), 3_360);
        let held: f64 = week.chunks(1_440).map(|d| d.len() as f64 * d.iter().copied().fold(0.0, f64::max)).sum();
        let bound = floor.least_cost_within(0, 6);
        assert!(bound <= held && bound > floor.least_cost(0), "{} < {bound} <= {held}", floor.least_cost(0));
    }
}
