// SPDX-License-Identifier: GPL-2.0

//! Property and stress tests of the kernel-free logic, with fixed-seed random inputs.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use damon_stat_logic::logic::bandwidth::estimated_bandwidth;
use damon_stat_logic::logic::bool_param::parse_bool;
use damon_stat_logic::logic::damon_values::{Intervals, RegionSample};
use damon_stat_logic::logic::percentiles::{
    idle_ms, idle_ms_percentiles, IdleEntry, NR_PERCENTILES,
};
use damon_stat_logic::logic::published::{Published, Results};
use damon_stat_logic::logic::span::{span_update, Span, MAX_RANGES};
use damon_stat_logic::logic::tuner::{
    adaptation_bp, feed_loop_next_input, score_bp, tuned_intervals, IntervalsGoal, Tuner,
};

#[path = "../src/logic/xorshift.rs"]
mod xorshift;
use xorshift::XorShift64;

const SEEDS: [u64; 4] = [
    0x9e37_79b9_7f4a_7c15,
    0x2545_f491_4f6c_dd1d,
    1,
    0xdead_beef_cafe_f00d,
];

fn random_region(rng: &mut XorShift64, size_bits: u32) -> RegionSample {
    let size = rng.next() >> (64 - size_bits);
    let start = rng.below(1 << 40);
    let nr_accesses = match rng.below(4) {
        0 | 1 => 0,
        2 => 1 + rng.below(20) as u32,
        _ => rng.next() as u32,
    };
    let age = match rng.below(3) {
        0 => 0,
        1 => rng.below(1000) as u32,
        _ => rng.next() as u32,
    };
    RegionSample {
        start,
        end: start.saturating_add(size),
        nr_accesses,
        age,
    }
}

fn random_regions(rng: &mut XorShift64) -> Vec<RegionSample> {
    let n = 1 + rng.below(300) as usize;
    let size_bits = 1 + rng.below(64) as u32;
    (0..n).map(|_| random_region(rng, size_bits)).collect()
}

/// Reference percentiles: a stable sort and a direct search for each percentile.
fn reference_percentiles(entries: &[IdleEntry], aggr_us: u64) -> Option<Vec<i64>> {
    let total: u128 = entries.iter().map(|e| u128::from(e.size)).sum();
    if total == 0 {
        return None;
    }
    let mut sorted = entries.to_vec();
    sorted.sort_by_key(|e| e.idle_aggrs);
    let cumulative: Vec<u128> = sorted
        .iter()
        .scan(0u128, |acc, e| {
            *acc += u128::from(e.size);
            Some(*acc)
        })
        .collect();
    Some(
        (0..NR_PERCENTILES as u128)
            .map(|k| {
                // First entry whose cumulative size reaches k % of the total.
                let j = cumulative
                    .iter()
                    .position(|&c| c * 100 >= k * total)
                    .unwrap();
                if j > 0 {
                    assert!(cumulative[j - 1] * 100 < k * total);
                }
                idle_ms(sorted[j].idle_aggrs, aggr_us)
            })
            .collect(),
    )
}

#[test]
fn percentiles_match_reference_and_properties() {
    for seed in SEEDS {
        let mut rng = XorShift64(seed);
        for case in 0..250 {
            let regions = random_regions(&mut rng);
            let aggr_us = match rng.below(4) {
                0 => 100_000,
                1 => 1 + rng.below(10_000_000),
                2 => rng.any_width(),
                _ => 1000 * (1 + rng.below(100)),
            };
            let mut entries: Vec<IdleEntry> = regions.iter().map(IdleEntry::from_region).collect();
            // Some zero-sized entries too.
            if rng.below(4) == 0 {
                entries.push(IdleEntry {
                    idle_aggrs: rng.next() as i32 as i64,
                    size: 0,
                });
            }
            let before = entries.clone();
            let mut out = [i64::MIN + 7; NR_PERCENTILES];
            let filled = idle_ms_percentiles(&mut entries, aggr_us, &mut out);
            let ctx = format!("seed {seed:#x} case {case}");

            // Same multiset after sorting, hence the same total.
            let mut a = before.clone();
            let mut b = entries.clone();
            a.sort_by_key(|e| (e.idle_aggrs, e.size));
            b.sort_by_key(|e| (e.idle_aggrs, e.size));
            assert_eq!(a, b, "{ctx}");
            let total: u128 = before.iter().map(|e| u128::from(e.size)).sum();
            let total_after: u128 = entries.iter().map(|e| u128::from(e.size)).sum();
            assert_eq!(total, total_after, "{ctx}");

            let Some(expected) = reference_percentiles(&before, aggr_us) else {
                assert!(!filled, "{ctx}");
                assert_eq!(out, [i64::MIN + 7; NR_PERCENTILES], "{ctx}");
                continue;
            };
            assert!(filled, "{ctx}");
            assert_eq!(out.to_vec(), expected, "{ctx}");
            assert!(entries
                .windows(2)
                .all(|w| w[0].idle_aggrs <= w[1].idle_aggrs));
            assert!(out.windows(2).all(|w| w[0] <= w[1]), "{ctx}: {out:?}");

            let ms_sizes: Vec<(i64, u128)> = before
                .iter()
                .map(|e| (idle_ms(e.idle_aggrs, aggr_us), u128::from(e.size)))
                .collect();
            let min_ms = ms_sizes.iter().map(|&(ms, _)| ms).min().unwrap();
            assert_eq!(out[0], min_ms, "{ctx}");
            let max_sized = ms_sizes
                .iter()
                .filter(|&&(_, size)| size > 0)
                .map(|&(ms, _)| ms)
                .max()
                .unwrap();
            assert_eq!(out[100], max_sized, "{ctx}");

            // The cumulative size up to the last entry with a value <= p_k reaches k %.
            for (k, &p) in out.iter().enumerate() {
                let covered: u128 = ms_sizes
                    .iter()
                    .filter(|&&(ms, _)| ms <= p)
                    .map(|&(_, size)| size)
                    .sum();
                assert!(covered * 100 >= k as u128 * total, "{ctx} p{k}");
            }

            // Accessed memory sorts first and reads negative (with at least 1 ms per
            // aggregation).
            if aggr_us >= 1000 {
                let accessed: u128 = before
                    .iter()
                    .filter(|e| e.idle_aggrs < 0)
                    .map(|e| u128::from(e.size))
                    .sum();
                let any_accessed = before.iter().any(|e| e.idle_aggrs < 0);
                for (k, &p) in out.iter().enumerate() {
                    let negative = any_accessed && k as u128 * total <= accessed * 100;
                    assert_eq!(p < 0, negative, "{ctx} p{k} = {p}");
                }
            }
        }
    }
}

#[test]
fn all_accessed_gives_negative_percentiles() {
    let mut rng = XorShift64(7);
    for _ in 0..100 {
        let mut entries: Vec<IdleEntry> = random_regions(&mut rng)
            .iter()
            .map(|r| {
                IdleEntry::from_region(&RegionSample {
                    nr_accesses: r.nr_accesses.max(1),
                    ..*r
                })
            })
            .collect();
        let mut out = [0; NR_PERCENTILES];
        if idle_ms_percentiles(&mut entries, 5_000, &mut out) {
            assert!(out.iter().all(|&p| p <= -5), "{out:?}");
        }
    }
}

/// 1000 regions of nearly the whole address space each, alternately accessed.
fn extreme_regions() -> Vec<RegionSample> {
    (0..1000)
        .map(|i| RegionSample {
            start: i % 2,
            end: u64::MAX - i,
            nr_accesses: if i % 2 == 0 { u32::MAX } else { 0 },
            age: u32::MAX,
        })
        .collect()
}

#[test]
fn extremes_do_not_overflow() {
    let regions = extreme_regions();
    let sum: u128 = regions
        .iter()
        .map(|r| u128::from(r.size()) * u128::from(r.nr_accesses))
        .sum();
    for aggr_us in [u64::MAX, u64::MAX - 1, 1 << 44, 1_000_000, 1000, 1, 0] {
        let mut entries: Vec<IdleEntry> = regions.iter().map(IdleEntry::from_region).collect();
        let mut out = [0; NR_PERCENTILES];
        assert!(idle_ms_percentiles(&mut entries, aggr_us, &mut out));
        // 2^32 aggregations: half the memory at -(2^32) * aggr / 1000, half at +.
        assert_eq!(out[0], idle_ms(-(1 << 32), aggr_us), "{aggr_us}");
        assert_eq!(out[100], idle_ms(1 << 32, aggr_us), "{aggr_us}");
        assert!(out.windows(2).all(|w| w[0] <= w[1]));

        let bw = estimated_bandwidth(regions.iter().copied(), aggr_us);
        let expected = if aggr_us == 0 {
            0
        } else {
            u64::try_from(sum * 1_000_000 / u128::from(aggr_us)).unwrap_or(u64::MAX)
        };
        assert_eq!(bw, expected, "{aggr_us}");

        let score = score_bp(regions.iter().copied(), u64::MAX, u64::MAX);
        let _ = adaptation_bp(score);
        let current = Intervals {
            sample_us: aggr_us,
            aggr_us,
        };
        let mut tuner = Tuner::new(IntervalsGoal::DAMON_STAT, current);
        for _ in 0..3 {
            let _ = tuner.after_aggregation(regions.iter().copied(), current);
        }
        let _ = tuned_intervals(current, u64::MAX, 20_000, &IntervalsGoal::DAMON_STAT);
    }
    // Hand-checked: with 1 us aggregations 2^32 aggregations are 4_294_967 ms.
    let mut entries: Vec<IdleEntry> = regions.iter().map(IdleEntry::from_region).collect();
    let mut out = [0; NR_PERCENTILES];
    assert!(idle_ms_percentiles(&mut entries, 1, &mut out));
    assert_eq!(out[0], -4_294_967);
    assert_eq!(out[100], 4_294_967);
    assert_eq!(idle_ms(1 << 32, u64::MAX), i64::MAX);
}

#[test]
fn bandwidth_is_exact() {
    for seed in SEEDS {
        let mut rng = XorShift64(seed);
        for _ in 0..500 {
            let regions = random_regions(&mut rng);
            let aggr_us = match rng.below(3) {
                0 => 1 + rng.below(1_000_000_000),
                1 => rng.any_width(),
                _ => u64::MAX - rng.below(1000),
            };
            // At most 300 * 2^64 * 2^32 < 2^105, and times 10^6 < 2^125: no overflow.
            let sum: u128 = regions
                .iter()
                .map(|r| u128::from(r.size()) * u128::from(r.nr_accesses))
                .sum();
            let expected = if aggr_us == 0 {
                0
            } else {
                u64::try_from(sum * 1_000_000 / u128::from(aggr_us)).unwrap_or(u64::MAX)
            };
            assert_eq!(
                estimated_bandwidth(regions.iter().copied(), aggr_us),
                expected,
                "sum {sum} aggr {aggr_us}"
            );
        }
    }
}

#[test]
fn score_is_exact_below_2_pow_50() {
    let mut rng = XorShift64(42);
    for _ in 0..2000 {
        let n = 1 + rng.below(50);
        let aggr_samples = 1 + rng.below(40);
        let access_bp = rng.below(20_000);
        let regions: Vec<RegionSample> = (0..n)
            .map(|_| {
                let start = rng.below(1 << 40);
                RegionSample {
                    start,
                    end: start + rng.below(1 << 38),
                    nr_accesses: rng.below(aggr_samples + 1) as u32,
                    age: 0,
                }
            })
            .collect();
        let max_ev: u128 = regions
            .iter()
            .map(|r| u128::from(r.size()) * u128::from(aggr_samples))
            .sum();
        let ev: u128 = regions
            .iter()
            .map(|r| u128::from(r.size()) * u128::from(r.nr_accesses))
            .sum();
        let target = (max_ev * u128::from(access_bp) / 10_000).max(1);
        let expected = ev * 10_000 / target;
        assert!(ev <= 1 << 50 && max_ev <= 1 << 50);
        assert_eq!(
            u128::from(score_bp(regions.iter().copied(), aggr_samples, access_bp)),
            expected
        );
    }
}

#[test]
fn score_is_close_beyond_2_pow_50() {
    let mut rng = XorShift64(43);
    for _ in 0..2000 {
        let regions: Vec<RegionSample> = (0..1 + rng.below(50))
            .map(|_| RegionSample {
                start: 0,
                end: rng.next() >> rng.below(8),
                nr_accesses: rng.below(21) as u32,
                age: 0,
            })
            .collect();
        let max_ev: u128 = regions.iter().map(|r| u128::from(r.size()) * 20).sum();
        let ev: u128 = regions
            .iter()
            .map(|r| u128::from(r.size()) * u128::from(r.nr_accesses))
            .sum();
        let expected = ev * 10_000 / (max_ev * 400 / 10_000).max(1);
        let got = u128::from(score_bp(regions.iter().copied(), 20, 400));
        // 50 significant bits: far below one basis point of error at these scores.
        assert!(got.abs_diff(expected) <= 1, "{got} vs {expected}");
    }
}

#[test]
fn adaptation_is_bounded_and_monotonic() {
    let mut last = u64::MAX;
    for score in (0..=25_000).chain([u64::MAX / 2, u64::MAX]) {
        let a = adaptation_bp(score);
        assert!((5_000..=20_000).contains(&a), "{score}: {a}");
        assert!(a <= last, "{score}: {a} > {last}");
        last = a;
    }
    let mut rng = XorShift64(5);
    for _ in 0..10_000 {
        let (last, score) = (rng.any_width(), rng.any_width());
        let next = feed_loop_next_input(last, score);
        if score >= 20_000 {
            assert_eq!(next, 10_000);
        } else if score > 10_000 {
            assert!(next <= last.max(10_000) && next >= 10_000);
        } else {
            assert!(next >= last);
        }
    }
}

fn iv(sample_us: u64, aggr_us: u64) -> Intervals {
    Intervals { sample_us, aggr_us }
}

fn uniform(size: u64, nr_accesses: u32) -> Vec<RegionSample> {
    (0..10)
        .map(|i| RegionSample {
            start: i * size,
            end: (i + 1) * size,
            nr_accesses,
            age: 0,
        })
        .collect()
}

#[test]
fn tuner_extremes() {
    let goal = IntervalsGoal::DAMON_STAT;
    let start = iv(5_000, 100_000);

    // No access at all: 2x on the 3rd aggregation only.
    let mut tuner = Tuner::new(goal, start);
    let idle = uniform(1 << 20, 0);
    assert_eq!(tuner.after_aggregation(idle.iter().copied(), start), None);
    assert_eq!(tuner.after_aggregation(idle.iter().copied(), start), None);
    assert_eq!(
        tuner.after_aggregation(idle.iter().copied(), start),
        Some(iv(10_000, 200_000))
    );

    // Every sample accessed: 0.5x, but never below 5 ms.
    let hot = uniform(1 << 20, 20);
    let mut tuner = Tuner::new(goal, iv(40_000, 800_000));
    let mut current = iv(40_000, 800_000);
    let mut seen = Vec::new();
    for _ in 0..15 {
        if let Some(next) = tuner.after_aggregation(hot.iter().copied(), current) {
            current = next;
            seen.push(next);
        }
    }
    assert_eq!(
        seen,
        [iv(20_000, 400_000), iv(10_000, 200_000), iv(5_000, 100_000)]
    );

    // Never above 10 s.
    let mut tuner = Tuner::new(goal, start);
    let mut current = start;
    for _ in 0..3 * 20 {
        if let Some(next) = tuner.after_aggregation(idle.iter().copied(), current) {
            assert_eq!(next.aggr_us, next.sample_us * 20);
            current = next;
        }
    }
    assert_eq!(current, iv(10_000_000, 200_000_000));

    // Exactly at the goal (4 % of the samples): no change.
    let mut at_goal = uniform(1 << 20, 1);
    at_goal.extend(uniform(1 << 20, 0).iter().map(|r| RegionSample {
        start: r.start + (10 << 20),
        end: r.end + (10 << 20),
        ..*r
    }));
    at_goal.extend(uniform(3 << 20, 0).iter().map(|r| RegionSample {
        start: r.start + (20 << 20),
        end: r.end + (20 << 20),
        ..*r
    }));
    // 10 MiB accessed in 4 of 20 samples, 40 MiB never: 10 * 4 / (50 * 20) = 4 %.
    for r in &mut at_goal[..10] {
        r.nr_accesses = 4;
    }
    assert_eq!(score_bp(at_goal.iter().copied(), 20, 400), 10_000);
    let mut tuner = Tuner::new(goal, start);
    for _ in 0..9 {
        assert_eq!(
            tuner.after_aggregation(at_goal.iter().copied(), start),
            None
        );
    }
}

#[test]
fn tuner_keeps_intervals_in_range() {
    let goal = IntervalsGoal::DAMON_STAT;
    let mut rng = XorShift64(11);
    for _ in 0..50 {
        let mut current = iv(5_000, 100_000);
        let mut tuner = Tuner::new(goal, current);
        for call in 1..=300u32 {
            let regions = random_regions(&mut rng);
            let regions: Vec<RegionSample> = regions
                .iter()
                .map(|r| RegionSample {
                    nr_accesses: r.nr_accesses % 21,
                    ..*r
                })
                .collect();
            if let Some(next) = tuner.after_aggregation(regions.iter().copied(), current) {
                assert_eq!(call % 3, 0);
                assert!((5_000..=10_000_000).contains(&next.sample_us));
                assert_eq!(next.aggr_us, next.sample_us * 20);
                assert!(next.sample_us <= current.sample_us * 2);
                assert!(next.sample_us * 2 >= current.sample_us.min(10_000_000));
                current = next;
            }
        }
    }
}

/// Results whose every field derives from one counter, to detect torn reads.
fn results_for(i: u64) -> Results {
    let mut r = Results {
        bandwidth: i,
        aggr_interval_us: i.wrapping_mul(3),
        idle_ms_percentiles: [0; NR_PERCENTILES],
    };
    for (k, p) in r.idle_ms_percentiles.iter_mut().enumerate() {
        *p = (i as i64).wrapping_mul(7).wrapping_add(k as i64);
    }
    r
}

#[test]
fn seqlock_reads_are_consistent() {
    // Bounded both in count and in time: the machine may have fewer cores than threads,
    // and a reader then spins while the writer is preempted in the middle of a publish.
    const MAX_PUBLICATIONS: u64 = 100_000;
    const WRITER_TIME: Duration = Duration::from_millis(500);
    let published = Arc::new(Published::new());
    let done = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let published = Arc::clone(&published);
            let done = Arc::clone(&done);
            thread::spawn(move || {
                let mut reads = 0u64;
                let mut distinct = 0u64;
                let mut last_generation = 0;
                let mut last_value = 0;
                while !done.load(Ordering::Relaxed) {
                    let generation = published.generation();
                    let r = published.read();
                    let expected = if r == Results::ZERO {
                        Results::ZERO
                    } else {
                        results_for(r.bandwidth)
                    };
                    assert_eq!(r, expected, "torn read");
                    assert!(generation >= last_generation);
                    assert!(r.bandwidth >= last_value, "went back in time");
                    // The value read is at least the one of the generation seen before.
                    assert!(r.bandwidth >= generation as u64);
                    if r.bandwidth != last_value {
                        distinct += 1;
                    }
                    last_generation = generation;
                    last_value = r.bandwidth;
                    reads += 1;
                }
                (reads, distinct)
            })
        })
        .collect();
    let mut publications = 0;
    while publications < MAX_PUBLICATIONS && started.elapsed() < WRITER_TIME {
        publications += 1;
        published.publish(&results_for(publications));
        // A writer publishing back to back would starve the readers (as with any
        // seqlock); the module publishes at most once per aggregation interval.
        let pause = Instant::now();
        while pause.elapsed() < Duration::from_micros(20) {
            std::hint::spin_loop();
        }
    }
    done.store(true, Ordering::Relaxed);
    let (reads, distinct) = readers
        .into_iter()
        .map(|r| r.join().unwrap())
        .fold((0, 0), |(a, b), (c, d)| (a + c, b + d));
    assert_eq!(published.generation(), publications as usize);
    assert_eq!(published.read(), results_for(publications));
    eprintln!("{publications} publications, {reads} reads, {distinct} distinct");
    // The readers really raced with the writer.
    assert!(
        reads > 0 && distinct > 0,
        "{reads} reads, {distinct} distinct"
    );
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
}

#[test]
fn parse_bool_table() {
    let table: &[(&[u8], Option<bool>)] = &[
        (b"y", Some(true)),
        (b"Y", Some(true)),
        (b"yes", Some(true)),
        (b"Y\n", Some(true)),
        (b"t", Some(true)),
        (b"True", Some(true)),
        (b"1", Some(true)),
        (b"1\n", Some(true)),
        (b"10", Some(true)),
        (b"on", Some(true)),
        (b"oN", Some(true)),
        (b"ON\n", Some(true)),
        (b"onward", Some(true)),
        (b"n", Some(false)),
        (b"N", Some(false)),
        (b"no", Some(false)),
        (b"nonsense", Some(false)),
        (b"f", Some(false)),
        (b"FALSE", Some(false)),
        (b"0", Some(false)),
        (b"0\n", Some(false)),
        (b"0x1", Some(false)),
        (b"of", Some(false)),
        (b"off", Some(false)),
        (b"OfF\n", Some(false)),
        (b"", None),
        (b" y", None),
        (b"\ty", None),
        (b"\n", None),
        (b"2", None),
        (b"-1", None),
        (b"+1", None),
        (b"o", None),
        (b"o\n", None),
        (b"ox", None),
        (b"o n", None),
        (b"enable", None),
        (b"disable", None),
        (b"\0y", None),
        (b"o\0n", None),
        (b"\xff", None),
    ];
    assert!(table.len() >= 30);
    for (input, expected) in table {
        assert_eq!(
            parse_bool(Some(input)),
            *expected,
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
    assert_eq!(parse_bool(None), Some(true));
}

/// Whatever the old and new spans, the ranges that move a target cover the new span
/// exactly: in order, without gaps or overlaps, none empty, at most `MAX_RANGES`.
#[test]
fn span_update_ranges_cover_the_new_span_exactly() {
    for seed in SEEDS {
        let mut rng = XorShift64(seed);
        for _ in 0..10_000 {
            let mut span = || {
                let a = rng.below(1 << 20) * 4096;
                let b = rng.below(1 << 20) * 4096;
                Span::new(a.min(b), a.max(b))
            };
            let (old, new) = (span(), span());
            let Some(update) = span_update(old, new) else {
                assert!(old == new || new.size() == 0);
                continue;
            };
            let ranges = update.ranges();
            assert!(!ranges.is_empty() && ranges.len() <= MAX_RANGES);
            assert_eq!(ranges.first().unwrap().start, new.start);
            assert_eq!(ranges.last().unwrap().end, new.end);
            for pair in ranges.windows(2) {
                assert_eq!(pair[0].end, pair[1].start, "{old:?} -> {new:?}");
            }
            assert!(ranges.iter().all(|r| r.size() > 0));
        }
    }
}
