// SPDX-License-Identifier: GPL-2.0

//! Cost of one complete results refresh, as the kdamond callback does it.
//!
//! Run with `cargo bench --bench refresh`.
//!
//! It also times a C baseline, `benches/upstream_refresh.c` (built by `build.rs` at the
//! same optimisation level): upstream DAMON_STAT's refresh algorithm over a linked list
//! of regions, with a pointer array allocated per refresh and a heap sort through a
//! comparator pointer, on the same regions in the same process, and prints ours/C.

use std::hint::black_box;
use std::time::Instant;

use damon_stat_logic::logic::bandwidth::estimated_bandwidth;
use damon_stat_logic::logic::breakdown::{
    layout, node_figures, CgroupEntry, FolioInfo, FolioKind, Sampler, CGROUP_CAPACITY,
};
use damon_stat_logic::logic::damon_values::{Intervals, RegionSample};
use damon_stat_logic::logic::percentiles::{idle_ms_percentiles, IdleEntry, NR_PERCENTILES};
use damon_stat_logic::logic::published::{Published, Results, SeqWords};
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

/// RegionSample's fields, as `benches/upstream_refresh.c` takes them.
#[repr(C)]
struct CRegionIn {
    start: u64,
    end: u64,
    nr_accesses: u32,
    age: u32,
}

/// The C baseline's list of regions (`struct upstream_target`), opaque here.
#[repr(C)]
struct UpstreamTarget {
    _opaque: [u8; 0],
}

extern "C" {
    fn upstream_target_new(regions: *const CRegionIn, n: usize) -> *mut UpstreamTarget;
    fn upstream_target_free(target: *mut UpstreamTarget);
    fn upstream_refresh(
        target: *const UpstreamTarget,
        aggr_interval_us: core::ffi::c_ulong,
        bandwidth: *mut core::ffi::c_ulong,
        percentiles: *mut core::ffi::c_long,
    ) -> core::ffi::c_int;
}

/// The C baseline's regions, freed on drop.
struct CBaseline(*mut UpstreamTarget);

impl CBaseline {
    fn new(regions: &[RegionSample]) -> Self {
        let input: Vec<CRegionIn> = regions
            .iter()
            .map(|r| CRegionIn {
                start: r.start,
                end: r.end,
                nr_accesses: r.nr_accesses,
                age: r.age,
            })
            .collect();
        // SAFETY: `input` holds `input.len()` initialised elements; the C side copies them.
        let target = unsafe { upstream_target_new(input.as_ptr(), input.len()) };
        assert!(
            !target.is_null(),
            "the C baseline could not allocate its regions"
        );
        Self(target)
    }

    /// One refresh the upstream way: returns the bandwidth and the percentiles.
    fn refresh(&self, aggr_us: u64) -> (u64, [i64; NR_PERCENTILES]) {
        let mut bandwidth = 0;
        let mut percentiles = [0; NR_PERCENTILES];
        // SAFETY: `self.0` is a live target from `upstream_target_new()`; the outputs are
        // a valid `unsigned long` and an array of the 101 `long`s the C side writes.
        let err =
            unsafe { upstream_refresh(self.0, aggr_us, &mut bandwidth, percentiles.as_mut_ptr()) };
        assert_eq!(
            err, 0,
            "the C baseline could not allocate its pointer array"
        );
        (bandwidth, percentiles)
    }
}

impl Drop for CBaseline {
    fn drop(&mut self) {
        // SAFETY: `self.0` came from `upstream_target_new()` and is freed only here.
        unsafe { upstream_target_free(self.0) };
    }
}

/// Times our refresh computation against the C baseline on the same `n` regions,
/// alternating one call of each per sample so that both see the same machine noise.
fn versus_c(n: usize, samples: usize) {
    let regions = regions(n, 0x2545_f491_4f6c_dd1d ^ n as u64);
    let mut entries = vec![IdleEntry::default(); n];
    let aggr_us = 100_000;
    let c = CBaseline::new(&regions);

    // Same input, same answer: otherwise the timing compares different work.
    let ours = compute_results(&regions, &mut entries, aggr_us).expect("regions cover memory");
    let (c_bandwidth, c_percentiles) = c.refresh(aggr_us);
    assert_eq!(
        ours.idle_ms_percentiles, c_percentiles,
        "percentiles differ from C's"
    );
    assert_eq!(ours.bandwidth, c_bandwidth, "bandwidth differs from C's");

    let mut ours_ns = Vec::with_capacity(samples);
    let mut c_ns = Vec::with_capacity(samples);
    for i in 0..samples + samples / 10 {
        let start = Instant::now();
        black_box(compute_results(black_box(&regions), &mut entries, aggr_us));
        let mid = Instant::now();
        black_box(c.refresh(black_box(aggr_us)));
        let end = Instant::now();
        // The first tenth warms up.
        if i >= samples / 10 {
            ours_ns.push((mid - start).as_nanos() as u64);
            c_ns.push((end - mid).as_nanos() as u64);
        }
    }
    ours_ns.sort_unstable();
    c_ns.sort_unstable();
    let (ours, c) = (ours_ns[samples / 2], c_ns[samples / 2]);
    println!(
        "  versus upstream's algorithm in C ({n} regions, medians of {samples}): ours {}, C {}, ours/C {:.2} (target <= 0.5)",
        format_us(ours),
        format_us(c),
        ours as f64 / c.max(1) as f64,
    );
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

/// The breakdown's share of kdamond's work for `n` regions: per window, recording one
/// folio sample per region (the folio lookup itself is kernel work, counted by `make
/// compare`); per refresh, two nodes' figures, the sampled figures and their publication.
fn breakdown_work(n: usize, samples: usize) {
    let regions = regions(n, 0x9e37_79b9_7f4a_7c15 ^ n as u64);
    let aggr_us = 100_000;
    // Folios of 16 cgroups, a third of them huge, a third page cache.
    let infos: Vec<FolioInfo> = (0..n)
        .map(|i| FolioInfo {
            kind: [FolioKind::Anon, FolioKind::File, FolioKind::Other][i % 3],
            huge: i % 3 == 0,
            memcg_ino: 1 + (i % 16) as u64,
        })
        .collect();
    let mut cgroups = vec![CgroupEntry::default(); CGROUP_CAPACITY];
    let mut sampler = Sampler::new();
    let record = median_ns(samples, || {
        for (region, info) in black_box(&regions).iter().zip(&infos) {
            sampler.record(&mut cgroups, region, Some(info), aggr_us);
        }
        sampler.end_window();
    });
    let end = regions.last().map_or(0, |r| r.end);
    let mut clipped = regions.clone();
    let mut entries = vec![IdleEntry::default(); n];
    let mut words = vec![0u64; layout::WORDS];
    let nodes = median_ns(samples, || {
        for (nid, span) in [(0, end / 2), (end / 2, end)].into_iter().enumerate() {
            let at = layout::node(nid);
            node_figures(
                black_box(&regions),
                Some(span),
                &mut clipped,
                &mut entries,
                aggr_us,
                &mut words[at..at + layout::NODE_WORDS],
            );
        }
    });
    let finish = median_ns(samples, || {
        for (region, info) in regions.iter().zip(&infos).take(64) {
            sampler.record(&mut cgroups, region, Some(info), aggr_us);
        }
        sampler.finish(&mut cgroups, &mut words);
    });
    static PUBLISHED: SeqWords<{ layout::WORDS }> = SeqWords::new();
    let publish = median_ns(samples, || PUBLISHED.publish(black_box(&words)));
    println!(
        "breakdown ({n} regions, medians): per window, sampling {}; per refresh, 2 nodes {}, sampled figures {}, publish {} ({} words)",
        format_us(record),
        format_us(nodes),
        format_us(finish),
        format_us(publish),
        layout::WORDS,
    );
}

fn main() {
    // `cargo test --benches` runs this with `--bench` absent: keep that short.
    let quick = !std::env::args().any(|a| a == "--bench");
    let samples = if quick { 100 } else { 20_000 };
    bench(1000, samples, 1);
    breakdown(1000, samples / 4);
    breakdown_work(1000, samples / 4);
    breakdown_work(100, samples / 4);
    versus_c(1000, samples / 4);
    bench(100, samples, 10);
    versus_c(100, samples / 4);
    bench(10, samples, 100);
    versus_c(10, samples / 4);
}
