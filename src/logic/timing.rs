// SPDX-License-Identifier: GPL-2.0

//! Running totals of how long something took, for the summary logged at stop.

/// Count, total and maximum of a series of durations in nanoseconds; saturating.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DurationStats {
    /// How many durations were recorded.
    pub count: u64,
    /// Their sum.
    pub total_ns: u64,
    /// The longest one.
    pub max_ns: u64,
}

impl DurationStats {
    /// Records the duration from `start_ns` to `end_ns` of a monotonic clock; a clock
    /// that went backwards counts as 0.
    pub fn record(&mut self, start_ns: i64, end_ns: i64) {
        let ns = u64::try_from(end_ns.saturating_sub(start_ns)).unwrap_or(0);
        self.count = self.count.saturating_add(1);
        self.total_ns = self.total_ns.saturating_add(ns);
        self.max_ns = self.max_ns.max(ns);
    }

    /// The mean duration, 0 when nothing was recorded.
    pub fn avg_ns(&self) -> u64 {
        self.total_ns.checked_div(self.count).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed() {
        let mut stats = DurationStats::default();
        assert_eq!(stats.avg_ns(), 0);
        stats.record(100, 400);
        stats.record(1_000, 1_100);
        stats.record(5, 5);
        // (300 + 100 + 0) / 3 = 133.
        assert_eq!(
            stats,
            DurationStats {
                count: 3,
                total_ns: 400,
                max_ns: 300
            }
        );
        assert_eq!(stats.avg_ns(), 133);
    }

    #[test]
    fn backwards_and_extreme_clocks() {
        let mut stats = DurationStats::default();
        stats.record(10, 5);
        assert_eq!(stats.max_ns, 0);
        // The difference saturates at i64::MAX; two of them sum to 2^64 - 2, a third
        // saturates the total.
        stats.record(i64::MIN, i64::MAX);
        stats.record(i64::MIN, i64::MAX);
        assert_eq!(stats.total_ns, u64::MAX - 1);
        stats.record(i64::MIN, i64::MAX);
        assert_eq!(stats.total_ns, u64::MAX);
        assert_eq!(stats.max_ns, i64::MAX as u64);
        assert_eq!(stats.count, 4);
    }
}
