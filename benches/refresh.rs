// SPDX-License-Identifier: GPL-2.0

//! Cost of one complete results refresh, as the kdamond callback does it.
//!
//! Run with `cargo bench --bench refresh`.

use std::hint::black_box;
use std::time::Instant;

use damon_stat_logic::logic::bandwidth::estimated_bandwidth;
use damon_stat_logic::logic::damon_values::{Intervals, RegionSample};
use damon_stat_logic::logic::percentiles::{idle_ms_percentiles, IdleEntry, NR_PERCENTILES};
use damon_stat_logic::logic::published::{Published, Results};
use damon_stat_logic::logic::refresh::compute_results;
use damon_stat_logic::logic::tuner::{IntervalsGoal, Tuner};

#[path = "../src/logic/xorshift.rs"]
mod xorshift;
use xorshift::XorShift64;

/// Contiguous regions of 4 KiB to 4 GiB, half of them accessed, with random ages.
fn regions(n: usize, seed: u64) -> Vec<RegionSample> {
    let mut rng = XorShift64(seed);
    let mut start = 1u64 << 32;
    (0..n)
        .map(|_| {
            let pages = 1 + rng.next() % (1 << 20);
            let end = start + pages * 4096;
            let nr_accesses = if rng.next().is_multiple_of(2) {
                0
            } else {
                (1 + rng.next() % 20) as u32
            };
            let r = RegionSample {
                start,
                end,
                nr_accesses,
                age: (rng.next() % 1000) as u32,
            };
            start = end;
            r
        })
        .collect()
}

/// The state the module keeps between refreshes.
struct Module {
    entries: Vec<IdleEntry>,
    tuner: Tuner,
    published: Published,
    intervals: Intervals,
}

impl Module {
    fn new(max_regions: usize) -> Self {
        let intervals = Intervals {
            sample_us: 5_000,
            aggr_us: 100_000,
        };
        // Tune on every call, so that each refresh pays for a tuning round.
        let goal = IntervalsGoal {
            aggrs: 1,
            ..IntervalsGoal::DAMON_STAT
        };
        Self {
            entries: vec![IdleEntry::default(); max_regions],
            tuner: Tuner::new(goal, intervals),
            published: Published::new(),
            intervals,
        }
    }

    /// One refresh: the work of one `after_aggregation` callback that updates the results,
    /// through the same functions the module calls.
    fn refresh(&mut self, regions: &[RegionSample]) {
        if let Some(results) = compute_results(regions, &mut self.entries, self.intervals.aggr_us) {
            self.published.publish(&results);
        }
        // The intervals are not applied: every refresh sees the same input.
        black_box(
            self.tuner
                .after_aggregation(regions.iter().copied(), self.intervals),
        );
    }
}

fn format_us(ns: u64) -> String {
    format!("{}.{:02} us", ns / 1000, ns % 1000 / 10)
}

/// Measures `samples` refreshes of `n` regions, each sample timing `batch` refreshes.
fn bench(n: usize, samples: usize, batch: u64) {
    let regions = regions(n, 0x2545_f491_4f6c_dd1d ^ n as u64);
    let mut module = Module::new(n);
    for _ in 0..samples / 10 {
        module.refresh(black_box(&regions));
    }
    let mut per_refresh_ns: Vec<u64> = (0..samples)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..batch {
                module.refresh(black_box(&regions));
            }
            let elapsed = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
            elapsed / batch
        })
        .collect();
    black_box(module.published.read());
    per_refresh_ns.sort_unstable();
    let at = |permille: usize| per_refresh_ns[(per_refresh_ns.len() - 1) * permille / 1000];
    let mean = per_refresh_ns.iter().sum::<u64>() / per_refresh_ns.len() as u64;
    println!(
        "refresh ({n} regions): median {}, p99 {}, min {}, mean {} ({samples} samples of {batch} refreshes)",
        format_us(at(500)),
        format_us(at(990)),
        format_us(at(0)),
        format_us(mean),
    );
}

/// Returns the median cost in nanoseconds of `f`, timed one call at a time.
fn median_ns(samples: usize, mut f: impl FnMut()) -> u64 {
    for _ in 0..samples / 10 {
        f();
    }
    let mut ns: Vec<u64> = (0..samples)
        .map(|_| {
            let start = Instant::now();
            f();
            u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
        })
        .collect();
    ns.sort_unstable();
    ns[ns.len() / 2]
}

/// Prints the median cost of each stage of a refresh of `n` regions.
fn breakdown(n: usize, samples: usize) {
    let regions = regions(n, 0x2545_f491_4f6c_dd1d ^ n as u64);
    let mut module = Module::new(n);
    let aggr_us = module.intervals.aggr_us;
    let mut out = [0; NR_PERCENTILES];
    let fill_sort = median_ns(samples, || {
        for (entry, region) in module.entries.iter_mut().zip(&regions) {
            *entry = IdleEntry::from_region(region);
        }
        idle_ms_percentiles(black_box(&mut module.entries), aggr_us, &mut out);
    });
    let bandwidth = median_ns(samples, || {
        black_box(estimated_bandwidth(
            black_box(&regions).iter().copied(),
            aggr_us,
        ));
    });
    let tune = median_ns(samples, || {
        black_box(
            module
                .tuner
                .after_aggregation(black_box(&regions).iter().copied(), module.intervals),
        );
    });
    let results = Results::ZERO;
    let publish = median_ns(samples, || module.published.publish(black_box(&results)));
    let read = median_ns(samples, || {
        black_box(module.published.read());
    });
    println!(
        "  stages ({n} regions, medians): percentiles {}, bandwidth {}, tuner {}, publish {}, read {}",
        format_us(fill_sort),
        format_us(bandwidth),
        format_us(tune),
        format_us(publish),
        format_us(read),
    );
}

fn main() {
    // `cargo test --benches` runs this with `--bench` absent: keep that short.
    let quick = !std::env::args().any(|a| a == "--bench");
    let samples = if quick { 100 } else { 20_000 };
    bench(1000, samples, 1);
    breakdown(1000, samples / 4);
    bench(100, samples, 10);
    bench(10, samples, 100);
}
