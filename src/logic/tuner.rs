// SPDX-License-Identifier: GPL-2.0

//! The DAMON monitoring intervals auto-tuner.
//!
//! Linux 6.15 added it to DAMON core (`mm/damon/core.c`: `damon_get_intervals_score()`,
//! `damon_feed_loop_next_input()`, `damon_get_intervals_adaptation_bp()` and
//! `kdamond_tune_intervals()`); 6.12 lacks it, so the module carries this port and applies
//! its output with `damon_set_attrs()` from the `after_aggregation` callback.
//!
//! Every `aggrs` aggregation windows it compares the observed access events with a target
//! ratio of the maximum possible ones, and grows the sampling interval (up to 2x) when too
//! few accesses are seen, or shrinks it (down to 0.5x) when too many are, keeping the
//! aggregation interval at a fixed number of samples.

use core::num::NonZeroU64;

use super::damon_values::{Intervals, RegionSample};

/// One basis point is 1/10000: the unit of scores, goals and adaptation factors.
const BP: u64 = 10_000;

/// The goal and the limits of the intervals auto-tuning (`struct damon_intervals_goal`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntervalsGoal {
    /// Target ratio of observed to maximum possible access events, in basis points.
    pub access_bp: u64,
    /// Tune once every this many aggregation windows; 0 disables tuning.
    pub aggrs: u32,
    /// Lower limit of the sampling interval, in microseconds.
    pub min_sample_us: u64,
    /// Upper limit of the sampling interval, in microseconds.
    pub max_sample_us: u64,
}

impl IntervalsGoal {
    /// The goal upstream DAMON_STAT uses: 4 % of the access events, tuned every 3
    /// aggregations, sampling interval within [5 ms, 10 s].
    pub const DAMON_STAT: IntervalsGoal = IntervalsGoal {
        access_bp: 400,
        aggrs: 3,
        min_sample_us: 5_000,
        max_sample_us: 10_000_000,
    };
}

/// Largest value `score_bp` works with after scaling both event counts down together.
const SCORE_LIMIT: u128 = 1 << 50;

/// Returns the observed access events as basis points of the goal's target.
///
/// Over all regions, the maximum possible events are `size * aggr_samples` and the
/// observed ones `size * nr_accesses`; the target is `access_bp` basis points of the
/// maximum (at least 1) and the score `observed * 10000 / target`.
///
/// Both sums are kept in `u128`, then halved together until both are at most 2^50, so the
/// rest is plain `u64` arithmetic (no `u128` division). The score is exact when no halving
/// is needed, that is when the total size times the larger of `aggr_samples` and the
/// biggest `nr_accesses` is at most 2^50: with 20 samples per aggregation, up to 51 TiB
/// of monitored memory. Beyond that the ratio keeps 50 significant bits.
pub fn score_bp(
    regions: impl IntoIterator<Item = RegionSample>,
    aggr_samples: u64,
    access_bp: u64,
) -> u64 {
    let mut max_events: u128 = 0;
    let mut events: u128 = 0;
    for r in regions {
        let size = u128::from(r.size());
        // Each product of two values below 2^64 fits; the sums saturate only past 2^64
        // regions.
        max_events = max_events.saturating_add(size.saturating_mul(u128::from(aggr_samples)));
        events = events.saturating_add(size.saturating_mul(u128::from(r.nr_accesses)));
    }
    while events > SCORE_LIMIT || max_events > SCORE_LIMIT {
        events >>= 1;
        max_events >>= 1;
    }
    // Both are now at most 2^50, so the conversions cannot fail.
    let events = u64::try_from(events).unwrap_or(u64::MAX);
    let max_events = u64::try_from(max_events).unwrap_or(u64::MAX);
    let target =
        NonZeroU64::new(max_events.saturating_mul(access_bp) / BP).unwrap_or(NonZeroU64::MIN);
    // `events * 10000 < 2^50 * 2^14 = 2^64`: the product does not saturate.
    events.saturating_mul(BP) / target
}

/// Returns the next input of DAMON's feedback loop for a score, in basis points.
///
/// Exactly `damon_feed_loop_next_input()`: the goal is 10000, the input never goes below
/// 10000, a score of twice the goal or more resets the input to that minimum, and
/// otherwise the input moves by `last_input * |score - goal| / goal`, down when over the
/// goal and up (saturating) when under it.
pub fn feed_loop_next_input(last_input: u64, score: u64) -> u64 {
    const GOAL: u64 = BP;
    // The minimum keeps the compensation from becoming zero.
    const MIN_INPUT: u64 = 10_000;

    if score == GOAL {
        return last_input;
    }
    if score >= 2 * GOAL {
        return MIN_INPUT;
    }
    let over_achieving = score > GOAL;
    // Non-zero since `score != GOAL`, at most `GOAL` since `score < 2 * GOAL`.
    let diff = score.abs_diff(GOAL);
    let fits = match u64::MAX.checked_div(diff) {
        Some(limit) => last_input < limit,
        None => return last_input,
    };
    let compensation = if fits {
        // `last_input < u64::MAX / diff`, so the product fits.
        last_input.saturating_mul(diff) / GOAL
    } else {
        // At most `u64::MAX / GOAL * GOAL`.
        (last_input / GOAL).saturating_mul(diff)
    };
    if over_achieving {
        last_input.saturating_sub(compensation).max(MIN_INPUT)
    } else {
        last_input.saturating_add(compensation)
    }
}

/// Returns the factor, in basis points, by which to scale the sampling interval.
///
/// As upstream: the feedback loop's output from 10^8 divided by 10000 ranges over
/// [1, 20000], and its lower half [1, 10000] is rescaled to [5000, 10000] to avoid too
/// rapid shrinking. The result is within [5000, 20000]; 10000 means no change.
pub fn adaptation_bp(score_bp: u64) -> u64 {
    let next = feed_loop_next_input(100_000_000, score_bp) / BP;
    if next <= BP {
        // At most 5000 + 5000: the sum does not saturate.
        5_000u64.saturating_add(next / 2)
    } else {
        next
    }
}

/// Returns the intervals after scaling by `adaptation_bp`, or `None` if they stay the same.
///
/// As `kdamond_tune_intervals()`: the new sampling interval is the current one scaled by
/// `adaptation_bp`, limited to at most `goal.max_sample_us` and then at least
/// `goal.min_sample_us` (so the minimum wins if the limits are inverted), and the new
/// aggregation interval is `aggr_samples` (at least 1) sampling intervals. Multiplications
/// saturate.
pub fn tuned_intervals(
    current: Intervals,
    aggr_samples: u64,
    adaptation_bp: u64,
    goal: &IntervalsGoal,
) -> Option<Intervals> {
    if adaptation_bp == BP {
        return None;
    }
    let scaled = current.sample_us.saturating_mul(adaptation_bp) / BP;
    let sample_us = scaled.min(goal.max_sample_us).max(goal.min_sample_us);
    let next = Intervals {
        sample_us,
        aggr_us: sample_us.saturating_mul(aggr_samples.max(1)),
    };
    (next != current).then_some(next)
}

/// The intervals auto-tuner of one DAMON context.
#[derive(Clone, Debug)]
pub struct Tuner {
    goal: IntervalsGoal,
    aggr_samples: u64,
    aggregations: u32,
}

impl Tuner {
    /// Creates a tuner for a context starting with the `initial` intervals.
    ///
    /// The number of samples per aggregation window, `initial.aggr_us /
    /// initial.sample_us` (at least 1), stays fixed for the tuner's life like upstream's
    /// `attrs.aggr_samples`.
    pub fn new(goal: IntervalsGoal, initial: Intervals) -> Self {
        let aggr_samples = initial
            .aggr_us
            .checked_div(initial.sample_us)
            .unwrap_or(0)
            .max(1);
        Self {
            goal,
            aggr_samples,
            aggregations: 0,
        }
    }

    /// Accounts one completed aggregation window and returns the new intervals when due.
    ///
    /// Call it once per aggregation window with the regions of that window and the
    /// context's `current` intervals. Every `goal.aggrs`-th call (the 3rd, 6th, ... for
    /// DAMON_STAT) scores the regions and returns the tuned intervals, or `None` if they
    /// do not change; the other calls return `None` without iterating `regions`, so a lazy
    /// iterator costs nothing then. A goal with `aggrs == 0` never tunes.
    pub fn after_aggregation<I>(&mut self, regions: I, current: Intervals) -> Option<Intervals>
    where
        I: IntoIterator<Item = RegionSample>,
    {
        if self.goal.aggrs == 0 {
            return None;
        }
        // Reset below once it reaches `aggrs`, so it never saturates.
        self.aggregations = self.aggregations.saturating_add(1);
        if self.aggregations < self.goal.aggrs {
            return None;
        }
        self.aggregations = 0;
        let score = score_bp(regions, self.aggr_samples, self.goal.access_bp);
        tuned_intervals(current, self.aggr_samples, adaptation_bp(score), &self.goal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::cell::Cell;

    const GOAL: IntervalsGoal = IntervalsGoal::DAMON_STAT;

    fn iv(sample_us: u64, aggr_us: u64) -> Intervals {
        Intervals { sample_us, aggr_us }
    }

    #[test]
    fn score_hand_computed() {
        // max = 1000 * 20 = 20000, target = 20000 * 400 / 10000 = 800.
        // 1 access: 1000 * 10000 / 800 = 12500.
        assert_eq!(
            score_bp([RegionSample::new(0, 1000, 1, 0)], 20, 400),
            12_500
        );
        // 20 accesses: 20000 * 10000 / 800 = 250000.
        assert_eq!(
            score_bp([RegionSample::new(0, 1000, 20, 0)], 20, 400),
            250_000
        );
        assert_eq!(score_bp([RegionSample::new(0, 1000, 0, 0)], 20, 400), 0);
        // max = 10000 * 20 = 200000, target = 8000, events = 8000 * 1: exactly 10000.
        assert_eq!(
            score_bp(
                [
                    RegionSample::new(0, 8000, 1, 0),
                    RegionSample::new(0, 2000, 0, 0)
                ],
                20,
                400
            ),
            10_000
        );
        // access_bp 0: the target is raised to 1, score = 1000 * 10000.
        assert_eq!(
            score_bp([RegionSample::new(0, 1000, 1, 0)], 20, 0),
            10_000_000
        );
        assert_eq!(score_bp([], 20, 400), 0);
    }

    #[test]
    fn score_scales_huge_sums() {
        // 2^60 bytes, 20 samples, 1 access per window: max = 20 * 2^60,
        // target = 20 * 2^60 * 0.04, score = 2^60 * 10000 / (0.8 * 2^60) = 12500.
        // Halving 2^60 and 20 * 2^60 together keeps their ratio: 12500 (or 12499 after
        // rounding).
        let s = score_bp([RegionSample::new(0, 1 << 60, 1, 0)], 20, 400);
        assert!((12_499..=12_500).contains(&s), "{s}");
        // Every sample accessed on all of memory: 25 times the goal.
        let s = score_bp([RegionSample::new(0, u64::MAX, 20, 0)], 20, 400);
        assert!((249_990..=250_010).contains(&s), "{s}");
        // Nothing but extremes: must not panic.
        let s = score_bp(
            [RegionSample::new(0, u64::MAX, u32::MAX, 0); 4],
            u64::MAX,
            u64::MAX,
        );
        assert_eq!(s, 0);
    }

    #[test]
    fn feed_loop_hand_computed() {
        assert_eq!(feed_loop_next_input(100_000_000, 10_000), 100_000_000);
        assert_eq!(feed_loop_next_input(100_000_000, 20_000), 10_000);
        assert_eq!(feed_loop_next_input(100_000_000, u64::MAX), 10_000);
        // Under by 10000: compensation 1e8 * 10000 / 10000 = 1e8, so 2e8.
        assert_eq!(feed_loop_next_input(100_000_000, 0), 200_000_000);
        // Over by 2500: compensation 1e8 * 2500 / 10000 = 2.5e7, so 7.5e7.
        assert_eq!(feed_loop_next_input(100_000_000, 12_500), 75_000_000);
        // Over by 9999: 1e8 - 99_990_000 = 10_000.
        assert_eq!(feed_loop_next_input(100_000_000, 19_999), 10_000);
        // 20000 - 20000 * 9999 / 10000 = 20000 - 19998 = 2, raised to the minimum.
        assert_eq!(feed_loop_next_input(20_000, 19_999), 10_000);
        // Under by 5000: 1000 + 1000 * 5000 / 10000 = 1500.
        assert_eq!(feed_loop_next_input(1_000, 5_000), 1_500);
        // u64::MAX is not below u64::MAX / 10000: compensation
        // u64::MAX / 10000 * 10000, and the sum saturates.
        assert_eq!(feed_loop_next_input(u64::MAX, 0), u64::MAX);
        assert_eq!(feed_loop_next_input(0, 0), 0);
    }

    #[test]
    fn feed_loop_overflow_branch_is_upstreams() {
        // diff = 3 and last_input = u64::MAX / 3 = 6_148_914_691_236_517_205 is not below
        // u64::MAX / 3, so upstream divides first:
        // 6_148_914_691_236_517_205 / 10000 * 3 = 614_891_469_123_651 * 3
        //                                        = 1_844_674_407_370_953
        // (multiplying first would give 1_844_674_407_370_955).
        let last = u64::MAX / 3;
        assert_eq!(
            feed_loop_next_input(last, 9_997),
            6_148_914_691_236_517_205 + 1_844_674_407_370_953
        );
        // One below the limit multiplies first:
        // 6_148_914_691_236_517_204 * 3 / 10000 = 1_844_674_407_370_955.
        assert_eq!(
            feed_loop_next_input(last - 1, 9_997),
            6_148_914_691_236_517_204 + 1_844_674_407_370_955
        );
    }

    #[test]
    fn adaptation_hand_computed() {
        // 2e8 / 10000 = 20000.
        assert_eq!(adaptation_bp(0), 20_000);
        // 1e8 / 10000 = 10000, rescaled: 5000 + 10000 / 2 = 10000.
        assert_eq!(adaptation_bp(10_000), 10_000);
        // 10000 / 10000 = 1, rescaled: 5000 + 1 / 2 = 5000.
        assert_eq!(adaptation_bp(20_000), 5_000);
        assert_eq!(adaptation_bp(19_999), 5_000);
        assert_eq!(adaptation_bp(u64::MAX), 5_000);
        // 7.5e7 / 10000 = 7500, rescaled: 5000 + 3750 = 8750.
        assert_eq!(adaptation_bp(12_500), 8_750);
        // 1.5e8 / 10000 = 15000.
        assert_eq!(adaptation_bp(5_000), 15_000);
    }

    #[test]
    fn tuned_hand_computed() {
        // (current intervals, adaptation in bp, expected), at 20 samples per aggregation.
        let cases = [
            // 2x: 5000 * 20000 / 10000 = 10000, aggr 10000 * 20.
            (iv(5_000, 100_000), 20_000, Some(iv(10_000, 200_000))),
            (iv(5_000, 100_000), 10_000, None),
            // 0.5x: 20000 -> 10000.
            (iv(20_000, 400_000), 5_000, Some(iv(10_000, 200_000))),
            // 0.5x of 8000 is 4000, clamped to 5000.
            (iv(8_000, 160_000), 5_000, Some(iv(5_000, 100_000))),
            // Already at the minimum: no change.
            (iv(5_000, 100_000), 5_000, None),
            // 2x of 8 s is 16 s, clamped to 10 s.
            (
                iv(8_000_000, 160_000_000),
                20_000,
                Some(iv(10_000_000, 200_000_000)),
            ),
            (iv(10_000_000, 200_000_000), 20_000, None),
            // A changed aggregation interval alone is a change.
            (iv(5_000, 90_000), 5_000, Some(iv(5_000, 100_000))),
        ];
        for (current, adaptation_bp, expected) in cases {
            let tuned = tuned_intervals(current, 20, adaptation_bp, &GOAL);
            assert_eq!(tuned, expected, "{current:?} at {adaptation_bp} bp");
        }
    }

    #[test]
    fn tuned_extremes() {
        // Saturating scale, clamped to the maximum.
        assert_eq!(
            tuned_intervals(iv(u64::MAX, u64::MAX), u64::MAX, 20_000, &GOAL),
            Some(iv(10_000_000, u64::MAX))
        );
        // Inverted limits: the minimum wins, like upstream's min() then max().
        let inverted = IntervalsGoal {
            min_sample_us: 10,
            max_sample_us: 5,
            ..GOAL
        };
        assert_eq!(
            tuned_intervals(iv(1_000, 20_000), 20, 20_000, &inverted),
            Some(iv(10, 200))
        );
        // No aggr_samples: one sample per aggregation.
        assert_eq!(
            tuned_intervals(iv(5_000, 100_000), 0, 20_000, &GOAL),
            Some(iv(10_000, 10_000))
        );
    }

    #[test]
    fn tuner_aggr_samples() {
        assert_eq!(Tuner::new(GOAL, iv(5_000, 100_000)).aggr_samples, 20);
        // 10000 / 3000 = 3.33, truncated.
        assert_eq!(Tuner::new(GOAL, iv(3_000, 10_000)).aggr_samples, 3);
        assert_eq!(Tuner::new(GOAL, iv(0, 100_000)).aggr_samples, 1);
        assert_eq!(Tuner::new(GOAL, iv(5_000, 0)).aggr_samples, 1);
        assert_eq!(Tuner::new(GOAL, iv(5_000, 100_000)).goal, GOAL);
    }

    #[test]
    fn tuner_runs_every_third_aggregation_and_iterates_only_then() {
        let pulls = Cell::new(0u32);
        let regions = [
            RegionSample::new(0, 4096, 0, 0),
            RegionSample::new(0, 8192, 0, 0),
        ];
        let lazy = || {
            regions.iter().map(|r| {
                pulls.set(pulls.get() + 1);
                *r
            })
        };
        let mut tuner = Tuner::new(GOAL, iv(5_000, 100_000));
        let mut current = iv(5_000, 100_000);
        for round in 1..=4u64 {
            assert_eq!(tuner.after_aggregation(lazy(), current), None);
            assert_eq!(tuner.after_aggregation(lazy(), current), None);
            assert_eq!(pulls.get(), 0, "round {round}");
            // No access at all: 2x, aggr kept at 20 samples.
            let next = tuner.after_aggregation(lazy(), current).unwrap();
            assert_eq!(pulls.get(), 2);
            pulls.set(0);
            assert_eq!(next, iv(5_000 << round, 100_000 << round));
            current = next;
        }
    }

    #[test]
    fn tuner_disabled_by_zero_aggrs() {
        let goal = IntervalsGoal { aggrs: 0, ..GOAL };
        let mut tuner = Tuner::new(goal, iv(5_000, 100_000));
        for _ in 0..10 {
            assert_eq!(
                tuner.after_aggregation([RegionSample::new(0, 1, 0, 0)], iv(5_000, 100_000)),
                None
            );
        }
    }

    #[test]
    fn tuner_tunes_every_call_with_one_aggr() {
        let goal = IntervalsGoal { aggrs: 1, ..GOAL };
        let mut tuner = Tuner::new(goal, iv(5_000, 100_000));
        assert_eq!(
            tuner.after_aggregation([RegionSample::new(0, 1, 0, 0)], iv(5_000, 100_000)),
            Some(iv(10_000, 200_000))
        );
        assert_eq!(
            tuner.after_aggregation([RegionSample::new(0, 1, 0, 0)], iv(10_000, 200_000)),
            Some(iv(20_000, 400_000))
        );
    }
}
