// SPDX-License-Identifier: GPL-2.0

//! The intervals tuner replayed against tuning steps recorded on real kernels.
//!
//! `make compare` with `COMPARE_SCENARIOS=trace-dense` records, on both kernels, every
//! `damon_set_attrs()` call (a kprobe) and the sums of the aggregation window each tuning
//! step scored (the `damon_aggregated` tracepoint): the total access events (size times
//! `nr_accesses`) and the total size. The steps below were recorded that way in QEMU
//! (2 GiB guest, 64 MiB of 512 MiB written continuously) on 2026-12-01: Linux 7.3.4's own
//! `kdamond_tune_intervals()` under upstream DAMON_STAT, and this module on 6.12. Our
//! tuner must take every one of upstream's steps exactly: given the same window, the
//! same next sampling interval.

use damon_stat_logic::logic::damon_values::{Intervals, RegionSample};
use damon_stat_logic::logic::tuner::{adaptation_bp, score_bp, tuned_intervals, IntervalsGoal};

/// DAMON_STAT's fixed number of samples per aggregation window.
const AGGR_SAMPLES: u64 = 20;

/// One recorded tuning step: the scored window's access events and bytes, and the
/// sampling interval before and after the step, in microseconds.
struct Step {
    events: u64,
    bytes: u64,
    sample_before: u64,
    sample_after: u64,
}

const fn step(events: u64, bytes: u64, sample_before: u64, sample_after: u64) -> Step {
    Step {
        events,
        bytes,
        sample_before,
        sample_after,
    }
}

/// Steps of Linux 7.3.4's `kdamond_tune_intervals()`. In some windows its access ratio
/// is far below the 3 % the workload's 64 MiB make (events well under `bytes * 20 * 3 %`)
/// although the workload wrote them all along (QEMU's software TLB hid the writes; see
/// Documentation/accuracy-and-cost.md): each such window nearly doubles the intervals.
const UPSTREAM_7_3: &[Step] = &[
    step(115_957_760, 2_147_348_480, 5_000, 9_662),
    step(1_215_713_280, 2_147_348_480, 9_662, 12_487),
    step(1_453_694_976, 2_147_348_480, 12_487, 14_407),
    step(1_272_307_712, 2_147_348_480, 14_407, 18_144),
    step(612_986_880, 2_147_348_480, 18_144, 29_814),
    step(1_246_986_240, 2_147_348_480, 29_814, 37_988),
    step(233_803_776, 2_147_348_480, 37_988, 70_805),
    step(181_035_008, 2_147_348_480, 70_805, 134_154),
    step(1_222_410_240, 2_147_348_480, 134_154, 172_857),
    step(75_042_816, 2_147_348_480, 172_857, 338_177),
    step(1_204_461_568, 2_147_348_480, 338_177, 439_258),
];

/// Steps of this module's tuner on 6.12, same workload.
const DAMON_STAT_6_12: &[Step] = &[
    step(1_546_090_904, 2_147_348_480, 5_000, 5_500),
    step(1_297_170_268, 2_147_348_480, 5_500, 6_847),
    step(1_955_260_769, 2_147_348_480, 6_847, 6_373),
    step(1_276_227_316, 2_147_348_480, 6_373, 8_011),
    step(1_222_611_674, 2_147_348_480, 8_011, 10_321),
    step(1_312_814_724, 2_147_348_480, 10_321, 12_754),
    step(1_317_574_204, 2_147_348_480, 12_754, 15_726),
    step(1_316_643_822, 2_147_348_480, 15_726, 19_399),
    step(1_317_158_257, 2_147_348_480, 19_399, 23_924),
    step(1_317_137_894, 2_147_348_480, 23_924, 29_505),
    step(1_317_167_143, 2_147_348_480, 29_505, 36_388),
    step(1_317_174_881, 2_147_348_480, 36_388, 44_877),
    step(1_317_205_694, 2_147_348_480, 44_877, 55_346),
    step(1_317_172_451, 2_147_348_480, 55_346, 68_258),
    step(1_317_217_424, 2_147_348_480, 68_258, 84_182),
    step(1_317_147_502, 2_147_348_480, 84_182, 103_821),
    step(1_312_997_985, 2_147_348_480, 103_821, 128_291),
    step(1_317_172_451, 2_147_348_480, 128_291, 158_221),
    step(1_318_715_551, 2_147_348_480, 158_221, 194_991),
];

/// Two regions covering `bytes` whose `size * nr_accesses` sums to `events`.
fn window(events: u64, bytes: u64) -> [RegionSample; 2] {
    let (q, r) = (events / bytes, events % bytes);
    let region = |start: u64, end: u64, nr_accesses: u64| {
        RegionSample::new(start, end, u32::try_from(nr_accesses).unwrap(), 0)
    };
    [region(0, r, q + 1), region(r, bytes, q)]
}

fn replay(steps: &[Step]) {
    let goal = IntervalsGoal::DAMON_STAT;
    for (i, s) in steps.iter().enumerate() {
        let regions = window(s.events, s.bytes);
        let sum: u64 = regions
            .iter()
            .map(|r| r.size() * u64::from(r.nr_accesses))
            .sum();
        assert_eq!(sum, s.events, "step {i}: the window's events");
        let current = Intervals {
            sample_us: s.sample_before,
            aggr_us: s.sample_before * AGGR_SAMPLES,
        };
        let score = score_bp(regions, AGGR_SAMPLES, goal.access_bp);
        let next =
            tuned_intervals(current, AGGR_SAMPLES, adaptation_bp(score), &goal).unwrap_or(current);
        assert_eq!(
            next,
            Intervals {
                sample_us: s.sample_after,
                aggr_us: s.sample_after * AGGR_SAMPLES,
            },
            "step {i}: score {score} from {} us",
            s.sample_before
        );
    }
}

#[test]
fn takes_every_step_upstream_7_3_took() {
    replay(UPSTREAM_7_3);
}

#[test]
fn takes_the_steps_it_took_in_the_6_12_kernel() {
    replay(DAMON_STAT_6_12);
}
