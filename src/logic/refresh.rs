// SPDX-License-Identifier: GPL-2.0

//! What one refresh of the published results computes, and how often it runs.

use super::bandwidth::estimated_bandwidth;
use super::damon_values::RegionSample;
use super::percentiles::{idle_ms_percentiles, IdleEntry, NR_PERCENTILES};
use super::published::Results;

/// Upstream DAMON_STAT refreshes its results at most every 5 seconds.
pub const REFRESH_PERIOD_NS: i64 = 5_000_000_000;

/// Lets a refresh through at most once per period.
///
/// A gate is made at every start, so its timestamp never carries over from an earlier
/// run (upstream once kept it in a function-static variable: no refresh for minutes
/// after boot on 32-bit, and a stale one after a restart).
#[derive(Clone, Copy, Debug)]
pub struct RefreshGate {
    period_ns: i64,
    last_ns: i64,
}

impl RefreshGate {
    /// A gate whose first refresh is due one period after `start_ns`.
    pub fn new(start_ns: i64, period_ns: i64) -> Self {
        Self {
            period_ns,
            last_ns: start_ns,
        }
    }

    /// Whether a refresh is due at `now_ns` (strictly more than a period since the
    /// last one); if so, `now_ns` becomes the last refresh time.
    pub fn due(&mut self, now_ns: i64) -> bool {
        if now_ns.saturating_sub(self.last_ns) > self.period_ns {
            self.last_ns = now_ns;
            true
        } else {
            false
        }
    }
}

/// Computes the results of one complete aggregation window of `aggr_interval_us`.
///
/// `entries` is scratch space for the percentile sort, at least as long as `regions`:
/// the caller sizes it once, so a refresh allocates nothing. Returns `None` when the
/// regions cover no memory (nothing to report) or `entries` is too short.
pub fn compute_results(
    regions: &[RegionSample],
    entries: &mut [IdleEntry],
    aggr_interval_us: u64,
) -> Option<Results> {
    let entries = entries.get_mut(..regions.len())?;
    for (entry, region) in entries.iter_mut().zip(regions) {
        *entry = IdleEntry::from_region(region);
    }
    let mut results = Results {
        bandwidth: estimated_bandwidth(regions.iter().copied(), aggr_interval_us),
        aggr_interval_us,
        idle_ms_percentiles: [0; NR_PERCENTILES],
    };
    idle_ms_percentiles(entries, aggr_interval_us, &mut results.idle_ms_percentiles)
        .then_some(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_hand_computed() {
        // 1 MiB accessed 10 times (age 4), 2 MiB idle (age 4), 1 MiB idle (age 0).
        let regions = [
            RegionSample::new(0, 1 << 20, 10, 4),
            RegionSample::new(1 << 20, 3 << 20, 0, 4),
            RegionSample::new(3 << 20, 4 << 20, 0, 0),
        ];
        let mut entries = [IdleEntry::default(); 4];
        let results = compute_results(&regions, &mut entries, 100_000).unwrap();
        // 1 MiB x 10 accesses per 100 ms = 104857600 bytes per second.
        assert_eq!(results.bandwidth, 104_857_600);
        assert_eq!(results.aggr_interval_us, 100_000);
        // Sorted: -500 ms (25 %), 100 ms (50 %), 500 ms (100 %).
        let p = &results.idle_ms_percentiles;
        assert!(p[..=25].iter().all(|&v| v == -500));
        assert!(p[26..=50].iter().all(|&v| v == 100));
        assert!(p[51..].iter().all(|&v| v == 500));
    }

    #[test]
    fn nothing_to_report() {
        let mut entries = [IdleEntry::default(); 2];
        assert_eq!(compute_results(&[], &mut entries, 100_000), None);
        let empty = [RegionSample::new(4096, 4096, 3, 0)];
        assert_eq!(compute_results(&empty, &mut entries, 100_000), None);
        // Scratch space shorter than the regions: refused, not a panic.
        let three = [RegionSample::new(0, 4096, 0, 0); 3];
        assert_eq!(compute_results(&three, &mut entries, 100_000), None);
    }

    #[test]
    fn first_refresh_comes_one_period_after_start() {
        let mut gate = RefreshGate::new(1_000, 5_000);
        assert!(!gate.due(1_000));
        assert!(!gate.due(6_000));
        assert!(gate.due(6_001));
        assert!(!gate.due(6_002));
        assert!(!gate.due(11_001));
        assert!(gate.due(11_002));
    }

    #[test]
    fn extreme_clocks_do_not_overflow() {
        let mut gate = RefreshGate::new(i64::MIN, REFRESH_PERIOD_NS);
        assert!(gate.due(i64::MAX));
        let mut gate = RefreshGate::new(i64::MAX, REFRESH_PERIOD_NS);
        assert!(!gate.due(i64::MIN));
    }
}
