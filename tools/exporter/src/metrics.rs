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

use std::fmt::Write as _;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

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

/// What to export beyond the default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// All 101 percentiles p0..p100 instead of [`DEFAULT_PERCENTILES`].
    pub all_percentiles: bool,
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
        "Whether DAMON_STAT's parameters were found and read without error",
        i64::from(stats.is_some()),
    );
    if let Some(stats) = stats {
        register_stats(&mut registry, stats, options);
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
}
