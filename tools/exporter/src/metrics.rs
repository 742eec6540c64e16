// SPDX-License-Identifier: GPL-2.0

//! The metrics, derived figures and their encoding (OpenMetrics text, which Prometheus
//! and node_exporter's textfile collector both read).
//!
//! # What the derived figures mean
//!
//! Percentile `k` is the idle time of the region at which the sorted cumulative size
//! first reaches `k` % of the monitored memory (integer percent, rounded down, as
//! upstream computes it). So for a threshold `t`, with `B` the share of memory idle for
//! less than `t`: for `k >= 1`, `p_k < t` exactly when `k <= floor(100 B)`. Counting the
//! percentiles p1..p100 at or above `t` gives `Q = 100 - floor(100 B)`, and `Q / 100`
//! overstates the share idle for at least `t` by less than 1 % of memory: each of p1..p100
//! stands for 1 % of memory, p0 for none. It is exact at 0 and at 100 %. The share
//! accessed in the last window is the complement for `t = 0`: the number of p1..p100 at
//! or below 0 (negative on 6.18+ and damon_stat, 0 on 6.17), understated by less than
//! 1 %. Bytes are that share of MemTotal, like `damo report access` rebuilds regions from
//! MemTotal; the percentiles describe the monitored physical range, which also counts
//! holes between System RAM ranges as never-accessed memory.
//!
//! # The breakdown
//!
//! Where damon_stat publishes its breakdown ([`crate::breakdown`]), the `damon_stat_node_*`,
//! `damon_stat_sampled_memory_*` and `damon_stat_cgroup_*` families export it as the
//! module gives it, bar the percentiles (the same default set as the machine-wide ones)
//! and the cgroups: at most [`Options::max_cgroups`] of them by accessed bytes, the rest
//! summed into `cgroup="(other)"`, so that a host with thousands of cgroups does not send
//! thousands of series.

use std::fmt::Write as _;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::breakdown::{Breakdown, CgroupUsage, PageTypes, CGROUP_IDLE_SECONDS};
use crate::stats::{Reading, Stats, NR_PERCENTILES, UNKNOWN};

/// The content type of [`encode_reading`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The percentiles `damon_stat_memory_idle_seconds` exports by default: both ends (the
/// hottest and the coldest memory), the median, the quartiles and the cold tail. Eight
/// series per host instead of 101; `--all-percentiles` exports p0..p100.
pub const DEFAULT_PERCENTILES: [usize; 8] = [0, 10, 25, 50, 75, 90, 99, 100];

/// Idle-time thresholds of `damon_stat_memory_idle_bytes`, in seconds.
pub const IDLE_THRESHOLDS_SECONDS: [u32; 4] = [1, 10, 60, 600];

/// Milliseconds per second, the unit of the percentiles.
const MS_PER_SECOND: i64 = 1000;

/// The memory cgroups exported by default, by accessed bytes; the others are summed into
/// [`OTHER_CGROUPS`].
pub const DEFAULT_MAX_CGROUPS: usize = 50;

/// The cgroup label value of the cgroups beyond [`Options::max_cgroups`], summed.
pub const OTHER_CGROUPS: &str = "(other)";

/// The `page_size` label value of `type="other"`, which the module does not split by page
/// size.
pub const OTHER_PAGE_SIZE: &str = UNKNOWN;

/// What to export beyond the default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// All 101 percentiles p0..p100 instead of [`DEFAULT_PERCENTILES`].
    pub all_percentiles: bool,
    /// How many memory cgroups get series of their own (the most accessed bytes first);
    /// the others are summed into `cgroup="(other)"`.
    pub max_cgroups: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            all_percentiles: false,
            max_cgroups: DEFAULT_MAX_CGROUPS,
        }
    }
}

impl Options {
    /// The percentiles to export, in increasing order.
    pub fn percentiles(&self) -> Vec<usize> {
        if self.all_percentiles {
            (0..NR_PERCENTILES).collect()
        } else {
            DEFAULT_PERCENTILES.to_vec()
        }
    }
}

/// The label of `damon_stat_memory_idle_seconds`: the percentile in whole percent, "0" to
/// "100", as upstream numbers them (p0..p100). Not `quantile`, which Prometheus reserves
/// for summaries.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PercentileLabel {
    percentile: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InfoLabels {
    version: String,
    link_mode: String,
    kernel: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AtLeastLabel {
    at_least: String,
}

/// A NUMA node, "0" to "63".
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NodeLabel {
    node: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NodePercentileLabels {
    node: String,
    percentile: String,
}

/// `state`: accessed or idle; `type`: anon, file or other; `page_size`: base, huge, or
/// unknown for other.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SampledLabels {
    state: String,
    r#type: String,
    page_size: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CgroupLabel {
    cgroup: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CgroupIdleLabels {
    cgroup: String,
    at_least: String,
}

/// A gauge family whose series are encoded in the order given (prometheus-client's
/// `Family` encodes in hash order, which makes p0..p100 hard to read by eye).
#[derive(Debug)]
struct OrderedGauges<L>(Vec<(L, f64)>);

impl<L: EncodeLabelSet + std::fmt::Debug + Send + Sync + 'static> EncodeMetric
    for OrderedGauges<L>
{
    fn encode(&self, mut encoder: MetricEncoder<'_>) -> Result<(), std::fmt::Error> {
        for (labels, value) in &self.0 {
            ConstGauge::new(*value).encode(encoder.encode_family(labels)?)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Gauge
    }
}

/// How many of p1..p100 are at least `threshold_ms`: the percent of memory idle for at
/// least that long (see the module documentation for the error bound).
pub fn percent_idle_at_least(percentiles: &[i64; NR_PERCENTILES], threshold_ms: i64) -> u64 {
    percentiles
        .iter()
        .skip(1)
        .filter(|&&ms| ms >= threshold_ms)
        .count() as u64
}

/// How many of p1..p100 are at most 0: the percent of memory accessed in the last
/// aggregation window.
pub fn percent_accessed(percentiles: &[i64; NR_PERCENTILES]) -> u64 {
    percentiles.iter().skip(1).filter(|&&ms| ms <= 0).count() as u64
}

/// `percent` % of `total`, rounded down, without overflow.
pub fn percent_of(total: u64, percent: u64) -> u64 {
    let bytes = u128::from(total) * u128::from(percent.min(100)) / 100;
    u64::try_from(bytes).unwrap_or(u64::MAX)
}

fn gauge_i64(registry: &mut Registry, name: &str, help: &str, value: i64) {
    registry.register(name, help, ConstGauge::new(value));
}

fn gauge_f64(registry: &mut Registry, name: &str, help: &str, value: f64) {
    registry.register(name, help, ConstGauge::new(value));
}

/// Registers a family unless it has no series (a family without samples says nothing).
fn register_some<L: EncodeLabelSet + std::fmt::Debug + Send + Sync + 'static>(
    registry: &mut Registry,
    name: &str,
    help: &str,
    series: Vec<(L, f64)>,
) {
    if !series.is_empty() {
        registry.register(name, help, OrderedGauges(series));
    }
}

/// The cgroups to export: those with the most accessed bytes, at most `max` (ties by
/// name), then [`OTHER_CGROUPS`] with the sum of the rest when there is a rest. Entries of
/// the same name (several removed cgroups) are summed first.
pub fn top_cgroups(usage: &[CgroupUsage], max: usize) -> Vec<CgroupUsage> {
    fn add(sum: &mut CgroupUsage, u: &CgroupUsage) {
        sum.samples = sum.samples.saturating_add(u.samples);
        sum.accessed_bytes = sum.accessed_bytes.saturating_add(u.accessed_bytes);
        for (s, b) in sum.idle_bytes.iter_mut().zip(u.idle_bytes) {
            *s = s.saturating_add(b);
        }
    }
    let empty = |cgroup: &str| CgroupUsage {
        cgroup: cgroup.to_owned(),
        samples: 0,
        accessed_bytes: 0,
        idle_bytes: [0; 4],
    };
    let mut by_name: std::collections::BTreeMap<&str, CgroupUsage> = Default::default();
    for u in usage {
        add(
            by_name.entry(&u.cgroup).or_insert_with(|| empty(&u.cgroup)),
            u,
        );
    }
    let mut sorted: Vec<CgroupUsage> = by_name.into_values().collect();
    // Stable: equal accessed bytes stay in name order.
    sorted.sort_by_key(|u| std::cmp::Reverse(u.accessed_bytes));
    if sorted.len() > max {
        let mut other = empty(OTHER_CGROUPS);
        for u in &sorted[max..] {
            add(&mut other, u);
        }
        sorted.truncate(max);
        sorted.push(other);
    }
    sorted
}

fn register_breakdown(registry: &mut Registry, b: &Breakdown, options: &Options) {
    let node = |n: u32| n.to_string();
    register_some(
        registry,
        "node_monitored_bytes",
        "Bytes of System RAM of NUMA node node that DAMON monitors (0: a node without \
         memory); exact",
        (b.nodes.iter())
            .map(|n| (NodeLabel { node: node(n.node) }, n.monitored_bytes as f64))
            .collect(),
    );
    register_some(
        registry,
        "node_estimated_memory_bandwidth_bytes_per_second",
        "NUMA node node's share of damon_stat_estimated_memory_bandwidth_bytes_per_second, \
         in bytes per second: the same estimate from DAMON's sampled accesses, for the \
         node's regions only",
        (b.nodes.iter())
            .map(|n| {
                let labels = NodeLabel { node: node(n.node) };
                (labels, n.bandwidth_bytes_per_second as f64)
            })
            .collect(),
    );
    let percentiles = options.percentiles();
    register_some(
        registry,
        "node_memory_idle_seconds",
        "Per-byte idle time percentiles of the memory of NUMA node node, in seconds, \
         percentile 0 to 100, as damon_stat_memory_idle_seconds for the whole machine; \
         negative: accessed in the last aggregation window; no series for a node without \
         memory",
        (b.nodes.iter())
            .filter(|n| n.has_percentiles())
            .flat_map(|n| {
                (percentiles.iter()).filter_map(move |&k| {
                    let ms = *n.idle_ms_percentiles.get(k)?;
                    let labels = NodePercentileLabels {
                        node: node(n.node),
                        percentile: k.to_string(),
                    };
                    Some((labels, ms as f64 / 1e3))
                })
            })
            .collect(),
    );

    let states: [(&str, &PageTypes); 2] = [("accessed", &b.accessed), ("idle", &b.idle)];
    let mut sampled = Vec::new();
    for (state, t) in states {
        for (r#type, page_size, bytes) in [
            ("anon", "base", t.anon_base_bytes),
            ("anon", "huge", t.anon_huge_bytes),
            ("file", "base", t.file_base_bytes),
            ("file", "huge", t.file_huge_bytes),
            ("other", OTHER_PAGE_SIZE, t.other_bytes),
        ] {
            let labels = SampledLabels {
                state: state.to_owned(),
                r#type: r#type.to_owned(),
                page_size: page_size.to_owned(),
            };
            sampled.push((labels, bytes as f64));
        }
    }
    register_some(
        registry,
        "sampled_memory_bytes",
        "Estimated bytes of memory accessed (state accessed) or not (state idle) in an \
         aggregation window, by type (anon: anonymous; file: page cache; other: neither, \
         e.g. kernel memory and free pages) and page_size (base; huge: PMD-mapped THP or a \
         huge page cache folio; unknown for type other); sampled, one folio per DAMON \
         region per window, averaged over the windows of the last 5 s refresh: an \
         estimate, relative error about 1/sqrt(damon_stat_sampled_memory_samples)",
        sampled,
    );
    register_some(
        registry,
        "sampled_memory_samples",
        "Number of (region, window) samples behind damon_stat_sampled_memory_bytes of that \
         state, whose relative error is about 1/sqrt of it",
        (states.iter())
            .map(|&(state, t)| {
                let state = state.to_owned();
                (StateLabel { state }, t.samples as f64)
            })
            .collect(),
    );

    let cgroups = top_cgroups(&b.cgroups, options.max_cgroups);
    let cgroup = |u: &CgroupUsage| CgroupLabel {
        cgroup: u.cgroup.clone(),
    };
    register_some(
        registry,
        "cgroup_accessed_bytes",
        "Estimated bytes of memory cgroup cgroup accessed in the last aggregation window; \
         cgroup: its path below the cgroup v2 mount (\"/\": the root), \"(removed)\": no \
         directory has its inode number, \"(other)\": the sum of the cgroups beyond \
         --max-cgroups; sampled: an estimate, relative error about \
         1/sqrt(damon_stat_cgroup_samples)",
        (cgroups.iter())
            .map(|u| (cgroup(u), u.accessed_bytes as f64))
            .collect(),
    );
    register_some(
        registry,
        "cgroup_idle_bytes",
        "Estimated bytes of memory cgroup cgroup (as in damon_stat_cgroup_accessed_bytes) \
         idle for at least at_least seconds; sampled: an estimate, relative error about \
         1/sqrt(damon_stat_cgroup_samples)",
        (cgroups.iter())
            .flat_map(|u| {
                (CGROUP_IDLE_SECONDS.iter().zip(u.idle_bytes)).map(|(seconds, bytes)| {
                    let labels = CgroupIdleLabels {
                        cgroup: u.cgroup.clone(),
                        at_least: seconds.to_string(),
                    };
                    (labels, bytes as f64)
                })
            })
            .collect(),
    );
    register_some(
        registry,
        "cgroup_samples",
        "Number of samples behind the damon_stat_cgroup_* figures of memory cgroup cgroup",
        (cgroups.iter())
            .map(|u| (cgroup(u), u.samples as f64))
            .collect(),
    );
    gauge_f64(
        registry,
        "cgroup_dropped_samples",
        "Number of samples whose memory cgroup did not fit damon_stat's table of 256 \
         cgroups, counted in no damon_stat_cgroup_* series",
        b.dropped_samples as f64,
    );
}

fn register_stats(registry: &mut Registry, stats: &Stats, options: &Options) {
    let origin = &stats.origin;
    let info = InfoLabels {
        version: origin.version.clone().unwrap_or_else(|| UNKNOWN.to_owned()),
        link_mode: origin.link_mode.label().to_owned(),
        kernel: origin.kernel.clone().unwrap_or_else(|| UNKNOWN.to_owned()),
    };
    registry.register(
        "info",
        "Always 1: where DAMON_STAT comes from (link_mode builtin: upstream's, built into \
         the kernel; otherwise the damon_stat module, whose link mode sysfs does not show), \
         the module's version and the kernel release",
        OrderedGauges(vec![(info, 1.0)]),
    );
    gauge_i64(
        registry,
        "enabled",
        "Whether DAMON_STAT monitoring is switched on (1) or off (0): the enabled parameter",
        i64::from(stats.enabled),
    );
    if let Some(pid) = stats.kdamond_pid {
        gauge_i64(
            registry,
            "kdamond_running",
            "Whether a kdamond thread does the monitoring now (1) or none runs (0)",
            i64::from(pid >= 0),
        );
    }
    gauge_f64(
        registry,
        "estimated_memory_bandwidth_bytes_per_second",
        "Upstream DAMON_STAT's estimate of memory bandwidth, in bytes per second: the size \
         of each region times its sampled accesses in the last aggregation window, scaled \
         to one second (estimated_memory_bandwidth)",
        stats.bandwidth_bytes_per_second as f64,
    );
    if let Some(us) = stats.aggr_interval_us {
        gauge_f64(
            registry,
            "aggregation_interval_seconds",
            "The current auto-tuned DAMON aggregation interval",
            us as f64 / 1e6,
        );
    }
    gauge_f64(
        registry,
        "memory_total_bytes",
        "MemTotal of /proc/meminfo: the memory that damon_stat_memory_idle_bytes is a share \
         of",
        stats.mem_total_bytes as f64,
    );
    if !stats.has_percentiles() {
        // Before the first refresh the kernel publishes zeros, not a result.
        return;
    }

    let idle = OrderedGauges(
        (options.percentiles().into_iter())
            .filter_map(|k| {
                let ms = *stats.idle_ms_percentiles.get(k)?;
                let percentile = k.to_string();
                Some((PercentileLabel { percentile }, ms as f64 / 1e3))
            })
            .collect(),
    );
    registry.register(
        "memory_idle_seconds",
        "Per-byte idle time percentiles of physical memory, percentile 0 to 100: the idle \
         time of the memory at that percent of it sorted by idle time; negative: accessed \
         in the last aggregation window, for that long at its access level",
        idle,
    );

    let idle_bytes = OrderedGauges(
        (IDLE_THRESHOLDS_SECONDS.iter())
            .map(|&seconds| {
                let threshold_ms = i64::from(seconds) * MS_PER_SECOND;
                let percent = percent_idle_at_least(&stats.idle_ms_percentiles, threshold_ms);
                let at_least = seconds.to_string();
                let bytes = percent_of(stats.mem_total_bytes, percent);
                (AtLeastLabel { at_least }, bytes as f64)
            })
            .collect(),
    );
    registry.register(
        "memory_idle_bytes",
        "Bytes of memory idle for at least at_least seconds: MemTotal times the share of \
         percentiles p1..p100 at or above it (1 % resolution, an upper bound)",
        idle_bytes,
    );

    gauge_f64(
        registry,
        "memory_accessed_ratio",
        "Share of memory accessed in the last aggregation window, from the percentiles \
         (1 % resolution, a lower bound)",
        percent_accessed(&stats.idle_ms_percentiles) as f64 / 100.0,
    );
}

/// Encodes one scrape: `damon_stat_up` and, when the reading succeeded and found
/// DAMON_STAT, its metrics, with the percentiles `options` asks for.
pub fn encode_reading<E>(reading: &Result<Reading, E>, options: &Options) -> String {
    let mut registry = Registry::with_prefix("damon_stat");
    let stats = match reading {
        Ok(Reading::Present(stats)) => Some(stats),
        Ok(Reading::Absent) | Err(_) => None,
    };
    gauge_i64(
        &mut registry,
        "up",
        "Whether DAMON_STAT's parameters (and damon_stat's breakdown, where it exists) were \
         found and read without error",
        i64::from(stats.is_some()),
    );
    if let Some(stats) = stats {
        register_stats(&mut registry, stats, options);
        if let Some(breakdown) = &stats.breakdown {
            register_breakdown(&mut registry, breakdown, options);
        }
    }
    let mut out = String::new();
    if let Err(e) = encode(&mut out, &registry) {
        // Writing to a String cannot fail; should the encoder ever refuse, say so in the
        // output rather than serve a truncated page silently.
        out.clear();
        let _ = writeln!(out, "# encoding failed: {e}\ndamon_stat_up 0\n# EOF");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use damon_stat_logic::logic::damon_values::RegionSample;
    use damon_stat_logic::logic::percentiles as module;

    #[test]
    fn same_number_of_percentiles_as_the_module() {
        assert_eq!(NR_PERCENTILES, module::NR_PERCENTILES);
        assert!(DEFAULT_PERCENTILES.iter().all(|&k| k < NR_PERCENTILES));
        assert!(DEFAULT_PERCENTILES.windows(2).all(|w| w[0] < w[1]));
    }

    /// The module's percentiles (src/logic/percentiles.rs, the code damon_stat runs) of
    /// regions given as (size, nr_accesses, age), laid end to end, at `aggr_interval_us`.
    fn module_percentiles(
        regions: &[(u64, u32, u32)],
        aggr_interval_us: u64,
    ) -> [i64; NR_PERCENTILES] {
        let mut start = 0;
        let mut entries: Vec<module::IdleEntry> = (regions.iter())
            .map(|&(size, nr_accesses, age)| {
                let region = RegionSample::new(start, start + size, nr_accesses, age);
                start += size;
                module::IdleEntry::from_region(&region)
            })
            .collect();
        let mut out = [0; NR_PERCENTILES];
        assert!(module::idle_ms_percentiles(
            &mut entries,
            aggr_interval_us,
            &mut out
        ));
        out
    }

    /// The module's percentiles of (size, idle ms) pairs: one aggregation lasting 1 ms,
    /// negative for accessed memory.
    fn module_percentiles_ms(regions: &[(u64, i64)]) -> [i64; NR_PERCENTILES] {
        let mut entries: Vec<module::IdleEntry> = (regions.iter())
            .map(|&(size, idle_aggrs)| module::IdleEntry { idle_aggrs, size })
            .collect();
        let mut out = [0; NR_PERCENTILES];
        assert!(module::idle_ms_percentiles(&mut entries, 1000, &mut out));
        out
    }

    #[test]
    fn derived_shares_are_within_one_percent() {
        // The share idle at least 60 s sweeps 0..100 % in steps of 0.1 %, the rest being
        // accessed: the estimate is never below the truth and never 1 % above it; the
        // accessed share never above the truth and never 1 % below it. At a 500 ms
        // aggregation interval, accessed for 10 windows is -5 s, idle for 240 is 120 s.
        let total = 1000u64;
        for idle in 0..=total {
            let accessed = total - idle;
            let p = module_percentiles(&[(accessed, 3, 9), (idle, 0, 239)], 500_000);
            let idle_pct = percent_idle_at_least(&p, 60_000);
            let accessed_pct = percent_accessed(&p);
            // In tenths of a percent: integers, so exact.
            assert!(
                idle_pct * 10 >= idle && idle_pct * 10 < idle + 10,
                "idle {idle} per mille estimated {idle_pct} %"
            );
            assert!(
                accessed_pct * 10 <= accessed && accessed_pct * 10 + 10 > accessed,
                "accessed {accessed} per mille estimated {accessed_pct} %"
            );
            assert_eq!(idle_pct + accessed_pct, 100);
        }
    }

    /// xorshift64, for reproducible region sets.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    #[test]
    fn derived_shares_match_the_module_on_random_regions() {
        // Random region sets through the module's code: the shares the exporter derives
        // from the 101 percentiles are the true byte shares rounded to whole percents,
        // up for the idle share and down for the accessed one, exactly as the module
        // documentation of this file derives.
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let thresholds_ms = [0, 1_000, 10_000, 60_000, 600_000, 3_600_000];
        for _ in 0..2000 {
            let aggr_interval_us = 5_000 + rng.below(5_000_000);
            let regions: Vec<(u64, u32, u32)> = (0..1 + rng.below(40))
                .map(|_| {
                    let bits = 1 + rng.below(34);
                    let size = 1 + rng.below(1 << bits);
                    let nr_accesses = if rng.below(3) == 0 {
                        1 + rng.below(20) as u32
                    } else {
                        0
                    };
                    (size, nr_accesses, rng.below(5000) as u32)
                })
                .collect();
            let p = module_percentiles(&regions, aggr_interval_us);
            // The truth, in bytes, from each region's own idle time.
            let ms = |&(size, nr, age): &(u64, u32, u32)| {
                let entry = module::IdleEntry::from_region(&RegionSample::new(0, size, nr, age));
                module::idle_ms(entry.idle_aggrs, aggr_interval_us)
            };
            let total: u128 = regions.iter().map(|r| u128::from(r.0)).sum();
            let bytes_where = |keep: &dyn Fn(i64) -> bool| -> u128 {
                (regions.iter())
                    .filter(|r| keep(ms(r)))
                    .map(|r| u128::from(r.0))
                    .sum()
            };
            // The fixed thresholds, and each region's own idle time (the boundary case).
            let own: Vec<i64> = regions.iter().map(ms).collect();
            for t in thresholds_ms.into_iter().chain(own) {
                let idle = bytes_where(&|m| m >= t);
                let estimate = u128::from(percent_idle_at_least(&p, t));
                assert!(
                    estimate * total >= 100 * idle && estimate * total < 100 * idle + total,
                    "{regions:?} at {aggr_interval_us} us, t {t} ms: {estimate} % for \
                     {idle} of {total} bytes"
                );
            }
            let accessed = bytes_where(&|m| m <= 0);
            let estimate = u128::from(percent_accessed(&p));
            assert!(
                estimate * total <= 100 * accessed && (estimate + 1) * total > 100 * accessed,
                "{regions:?}: {estimate} % accessed for {accessed} of {total} bytes"
            );
        }
    }

    #[test]
    fn thresholds_split_idle_memory() {
        // 30 % accessed, 20 % idle 5 s, 40 % idle 2 min, 10 % idle 20 min.
        let p = module_percentiles_ms(&[(30, -800), (20, 5_000), (40, 120_000), (10, 1_200_000)]);
        assert_eq!(percent_accessed(&p), 30);
        assert_eq!(percent_idle_at_least(&p, 1_000), 70);
        assert_eq!(percent_idle_at_least(&p, 10_000), 50);
        assert_eq!(percent_idle_at_least(&p, 60_000), 50);
        assert_eq!(percent_idle_at_least(&p, 600_000), 10);
    }

    #[test]
    fn percent_of_does_not_overflow() {
        assert_eq!(percent_of(u64::MAX, 100), u64::MAX);
        assert_eq!(percent_of(u64::MAX, 1000), u64::MAX);
        assert_eq!(percent_of(2048, 50), 1024);
        assert_eq!(percent_of(0, 50), 0);
    }

    fn usage(cgroup: &str, accessed_bytes: u64) -> CgroupUsage {
        CgroupUsage {
            cgroup: cgroup.to_owned(),
            samples: 1,
            accessed_bytes,
            idle_bytes: [4, 3, 2, 1],
        }
    }

    fn names(usage: &[CgroupUsage]) -> Vec<(&str, u64)> {
        (usage.iter())
            .map(|u| (u.cgroup.as_str(), u.accessed_bytes))
            .collect()
    }

    #[test]
    fn top_cgroups_bounded_and_summed() {
        let all = [
            usage("/b", 10),
            usage("/", 50),
            usage("(removed)", 5),
            usage("/a", 10),
            usage("(removed)", 30),
            usage("/c", 1),
        ];
        // Within the limit: all of them (the removed ones summed), most accessed first,
        // equal ones by name, and no "(other)".
        let top = top_cgroups(&all, 5);
        assert_eq!(
            names(&top),
            [
                ("/", 50),
                ("(removed)", 35),
                ("/a", 10),
                ("/b", 10),
                ("/c", 1)
            ]
        );
        assert_eq!(top[1].samples, 2);
        assert_eq!(top[1].idle_bytes, [8, 6, 4, 2]);

        // One beyond it: the last one becomes "(other)", a series of the same count.
        let top = top_cgroups(&all, 4);
        assert_eq!(
            names(&top),
            [
                ("/", 50),
                ("(removed)", 35),
                ("/a", 10),
                ("/b", 10),
                (OTHER_CGROUPS, 1)
            ]
        );

        // Beyond it: the rest in one series, which adds up to the same totals.
        let top = top_cgroups(&all, 2);
        assert_eq!(
            names(&top),
            [("/", 50), ("(removed)", 35), (OTHER_CGROUPS, 21)]
        );
        assert_eq!(top[2].samples, 3);
        assert_eq!(top[2].idle_bytes, [12, 9, 6, 3]);
        let total = |u: &[CgroupUsage]| u.iter().map(|u| u.accessed_bytes).sum::<u64>();
        assert_eq!(total(&top), total(&all));

        // --max-cgroups 0: everything in "(other)".
        assert_eq!(names(&top_cgroups(&all, 0)), [(OTHER_CGROUPS, 106)]);
        assert_eq!(top_cgroups(&[], 0), []);
        // Sums saturate instead of wrapping.
        let huge = [usage("/x", u64::MAX), usage("/y", u64::MAX)];
        assert_eq!(names(&top_cgroups(&huge, 0)), [(OTHER_CGROUPS, u64::MAX)]);
    }
}
