// SPDX-License-Identifier: GPL-2.0

//! The monitoring itself: the DAMON_STAT context and what its kdamond does after every
//! aggregation window (refresh the published results, tune the intervals).

use crate::breakdown::BREAKDOWN;
use crate::ffi::damon::{AggregationHandler, Context, DamonApi, Running, Window};
use crate::ffi::{iomem, probe};
use crate::logic::breakdown::{
    layout, node_figures, CgroupEntry, Sampler, CGROUP_CAPACITY, MAX_NODES,
};
use crate::logic::damon_values::{Attrs, Intervals, RegionSample};
use crate::logic::percentiles::IdleEntry;
use crate::logic::published::{Published, Results};
use crate::logic::refresh::{compute_results, RefreshGate, REFRESH_PERIOD_NS};
use crate::logic::span::{span_update, Span};
use crate::logic::timing::DurationStats;
use crate::logic::tuner::{IntervalsGoal, Tuner};
use kernel::alloc::KVVec;
use kernel::error::code::ENODEV;
use kernel::prelude::*;
use kernel::time::Ktime;

/// The results the parameters show, published by kdamond, read by sysfs getters.
///
/// At most one kdamond of this module runs at a time (a new one starts only after the old
/// one fully exited), so the seqlock has a single writer.
pub(crate) static RESULTS: Published = Published::new();

/// Upstream DAMON_STAT's attributes: sample 5 ms, aggregate 100 ms, ops update 60 s,
/// 10 to 1000 regions.
pub(crate) const ATTRS: Attrs = Attrs {
    intervals: Intervals {
        sample_us: 5_000,
        aggr_us: 100_000,
    },
    ops_update_us: 60_000_000,
    min_nr_regions: 10,
    max_nr_regions: 1000,
};

/// Room for regions in the scratch buffers. Merging keeps a window at or under
/// `max_nr_regions` in practice; twice that leaves slack, and a window that still does
/// not fit is skipped (and counted), never grown into with an allocation.
pub(crate) const REGION_CAPACITY: usize = 2 * ATTRS.max_nr_regions as usize;

/// kdamond's side of DAMON_STAT: everything it needs, allocated once at start.
pub(crate) struct StatHandler {
    tuner: Tuner,
    gate: RefreshGate,
    regions: KVVec<RegionSample>,
    entries: KVVec<IdleEntry>,
    counters: Counters,
    /// The breakdown's sampled figures of the current refresh period.
    sampler: Sampler,
    /// Its cgroup table.
    cgroups: KVVec<CgroupEntry>,
    /// Each region's last sampling address, in the order of `regions`.
    sampling_addrs: KVVec<u64>,
    /// Scratch space for a node's part of the regions.
    clipped: KVVec<RegionSample>,
    /// The breakdown being made at a refresh, published as one set.
    breakdown: KVVec<u64>,
    /// The System RAM span that the monitoring target could not be moved to (logged
    /// once, retried at every window).
    failed_span: Option<Span>,
}

/// What happened during one run, logged when it stops.
#[derive(Default)]
struct Counters {
    /// Every `after_aggregation` call, from entry to return.
    callbacks: DurationStats,
    /// The refreshes of the results (computation and publication) among them.
    refreshes: DurationStats,
    skipped_windows: u64,
    tunings: u64,
    tuning_errors: u64,
    /// The most regions one refresh covered, to read the refresh cost against.
    refresh_regions_max: usize,
}

impl StatHandler {
    /// Allocates the scratch buffers; the refresh gate starts now.
    pub(crate) fn new() -> Result<Self> {
        let empty = RegionSample::new(0, 0, 0, 0);
        Ok(Self {
            tuner: Tuner::new(IntervalsGoal::DAMON_STAT, ATTRS.intervals),
            gate: RefreshGate::new(Ktime::ktime_get().to_ns(), REFRESH_PERIOD_NS),
            regions: KVVec::from_elem(empty, REGION_CAPACITY, GFP_KERNEL)?,
            entries: KVVec::from_elem(IdleEntry::default(), REGION_CAPACITY, GFP_KERNEL)?,
            counters: Counters::default(),
            sampler: Sampler::new(),
            cgroups: KVVec::from_elem(CgroupEntry::default(), CGROUP_CAPACITY, GFP_KERNEL)?,
            sampling_addrs: KVVec::from_elem(0, REGION_CAPACITY, GFP_KERNEL)?,
            clipped: KVVec::from_elem(empty, REGION_CAPACITY, GFP_KERNEL)?,
            breakdown: KVVec::from_elem(0, layout::WORDS, GFP_KERNEL)?,
            failed_span: None,
        })
    }

    /// Computes the results of the first `count` regions of the buffer, `None` if they
    /// cover no memory.
    ///
    /// No allocation: the region and entry buffers were sized at start.
    pub(crate) fn compute(&mut self, count: usize, intervals: Intervals) -> Option<Results> {
        let regions = self.regions.get(..count)?;
        compute_results(regions, &mut self.entries, intervals.aggr_us)
    }

    /// Writes what this run did to the kernel log.
    pub(crate) fn log_summary(&self) {
        let c = &self.counters;
        pr_info!(
            "stopped: {} aggregation windows (callback avg {} ns, max {} ns), {} refreshes (avg {} ns, max {} ns, up to {} regions), {} interval tunings ({} failed), {} windows skipped\n",
            c.callbacks.count,
            c.callbacks.avg_ns(),
            c.callbacks.max_ns,
            c.refreshes.count,
            c.refreshes.avg_ns(),
            c.refreshes.max_ns,
            c.refresh_regions_max,
            c.tunings,
            c.tuning_errors,
            c.skipped_windows
        );
    }

    /// Refreshes the results if due, then runs the tuner, on the `count` regions of a
    /// window copied into the buffer.
    fn handle_window(&mut self, window: &mut Window<'_>, count: usize, intervals: Intervals) {
        let start_ns = Ktime::ktime_get().to_ns();
        self.sample_folios(window, count, intervals);
        if self.gate.due(start_ns) {
            if let Some(results) = self.compute(count, intervals) {
                RESULTS.publish(&results);
            }
            self.publish_breakdown(count, intervals);
            let c = &mut self.counters;
            c.refreshes.record(start_ns, Ktime::ktime_get().to_ns());
            c.refresh_regions_max = c.refresh_regions_max.max(count);
        }
        self.follow_system_ram(window, count);

        let regions = self.regions.get(..count).unwrap_or(&[]);
        if let Some(tuned) = self
            .tuner
            .after_aggregation(regions.iter().copied(), intervals)
        {
            let c = &mut self.counters;
            c.tunings = c.tunings.saturating_add(1);
            if window.set_intervals(tuned).is_err() {
                c.tuning_errors = c.tuning_errors.saturating_add(1);
            }
        }
    }

    /// Records what the folio under each region's last sampling address is: one sample
    /// per region and window for the breakdown's sampled figures.
    ///
    /// One folio lookup per region (a few hundred instructions each), no allocation.
    fn sample_folios(&mut self, window: &Window<'_>, count: usize, intervals: Intervals) {
        let addrs = window.copy_sampling_addrs(&mut self.sampling_addrs);
        let regions = self.regions.get(..count.min(addrs)).unwrap_or(&[]);
        for (region, &addr) in regions.iter().zip(self.sampling_addrs.iter()) {
            let info = probe::folio_at(addr);
            self.sampler
                .record(&mut self.cgroups, region, info.as_ref(), intervals.aggr_us);
        }
        self.sampler.end_window();
    }

    /// Publishes the breakdown: each node's figures from the `count` regions of this
    /// window, and the sampled figures of the period that ends here.
    fn publish_breakdown(&mut self, count: usize, intervals: Intervals) {
        let regions = self.regions.get(..count).unwrap_or(&[]);
        let nodes = probe::nr_node_ids().min(MAX_NODES);
        for nid in 0..MAX_NODES {
            let start = layout::node(nid);
            let Some(words) = self.breakdown.get_mut(start..start + layout::NODE_WORDS) else {
                break;
            };
            let span = if nid < nodes {
                probe::node_span(nid)
            } else {
                None
            };
            node_figures(
                regions,
                span,
                &mut self.clipped,
                &mut self.entries,
                intervals.aggr_us,
                words,
            );
        }
        self.sampler.finish(&mut self.cgroups, &mut self.breakdown);
        if let Some(generation) = self.breakdown.get_mut(layout::GENERATION) {
            // Counted across runs: it goes on from the last publication.
            let mut last = [0u64];
            BREAKDOWN.read(layout::GENERATION, &mut last);
            *generation = last[0].wrapping_add(1);
        }
        BREAKDOWN.publish(&self.breakdown);
    }

    /// Follows memory hotplug: when the System RAM span differs from the span of the
    /// `count` regions of this window, moves the monitoring target to it, between this
    /// window and the next, and logs the change.
    ///
    /// Upstream DAMON_STAT sets its range once, at start. Here every window walks the
    /// iomem resources (a few dozen, under a read lock, no allocation): checked only at
    /// refreshes, the range grew up to 5 s plus a window after the memory came online;
    /// checked every window, hot-added memory is monitored from the next window on and
    /// counted in the next refresh.
    fn follow_system_ram(&mut self, window: &mut Window<'_>, count: usize) {
        let regions = self.regions.get(..count).unwrap_or(&[]);
        let (Some(first), Some(last)) = (regions.first(), regions.last()) else {
            return;
        };
        let monitored = Span::new(first.start, last.end);
        let Some(ram) = iomem::system_ram_span().map(|ram| Span::from(ram).page_aligned()) else {
            return;
        };
        let Some(update) = span_update(monitored, ram) else {
            return;
        };
        match window.set_ranges(update.ranges()) {
            Ok(()) => {
                let sign = if ram.size() >= monitored.size() {
                    '+'
                } else {
                    '-'
                };
                pr_info!(
                    "monitoring range {}: {:#x}-{:#x} -> {:#x}-{:#x} ({}{} MiB)\n",
                    update.change.as_str(),
                    monitored.start,
                    monitored.end,
                    ram.start,
                    ram.end,
                    sign,
                    ram.size().abs_diff(monitored.size()) >> 20
                );
                self.failed_span = None;
            }
            Err(e) => {
                if self.failed_span != Some(ram) {
                    pr_warn!(
                        "cannot move the monitoring range to {:#x}-{:#x} (error {}); retrying at each window\n",
                        ram.start,
                        ram.end,
                        e.to_errno()
                    );
                    self.failed_span = Some(ram);
                }
            }
        }
    }

    /// The regions buffer, for tests that fill it by hand.
    #[cfg(damon_stat_kunit)]
    pub(crate) fn regions_mut(&mut self) -> &mut [RegionSample] {
        &mut self.regions
    }
}

impl AggregationHandler for StatHandler {
    fn after_aggregation(&mut self, window: &mut Window<'_>) -> Result {
        let entered_ns = Ktime::ktime_get().to_ns();
        let intervals = window.intervals();
        match window.copy_regions(&mut self.regions) {
            Ok(count) => self.handle_window(window, count, intervals),
            // More regions than the buffers hold: skipped rather than allocated for.
            Err(_) => {
                let c = &mut self.counters;
                c.skipped_windows = c.skipped_windows.saturating_add(1);
            }
        }
        self.counters
            .callbacks
            .record(entered_ns, Ktime::ktime_get().to_ns());
        Ok(())
    }
}

/// Builds the DAMON_STAT context over all System RAM and starts its kdamond.
///
/// `aggr_interval_us` reads the starting interval from the start on, not 0 until the
/// first refresh 5 s later: readers such as damo divide by it. The other results stay as
/// the last run left them until that refresh; a failed start restores the old interval.
pub(crate) fn start(api: DamonApi) -> Result<Running<StatHandler>> {
    let span = iomem::system_ram_span().ok_or_else(|| {
        pr_err!("no System RAM resource found\n");
        ENODEV
    })?;
    let context = Context::new_paddr(api, ATTRS, span, StatHandler::new()?)?;
    // No kdamond of ours runs before `start()` (the caller reaped the last one), so this
    // publication has no concurrent writer.
    let last = RESULTS.read();
    RESULTS.publish(&Results {
        aggr_interval_us: ATTRS.intervals.aggr_us,
        ..last
    });
    context.start().inspect_err(|_| RESULTS.publish(&last))
}
