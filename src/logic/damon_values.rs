// SPDX-License-Identifier: GPL-2.0

//! DAMON's values as the module exchanges them with the kernel: the attributes of a
//! context, its intervals, and a region as seen at an aggregation boundary. `ffi/damon.rs`
//! converts them from and to the C structures.

/// The sampling and aggregation intervals of a DAMON context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Intervals {
    /// Sampling interval in microseconds.
    pub sample_us: u64,
    /// Aggregation interval in microseconds.
    pub aggr_us: u64,
}

/// Monitoring attributes of a new context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attrs {
    /// Sampling and aggregation intervals.
    pub intervals: Intervals,
    /// How often the operations set updates its view of the address space, in µs.
    pub ops_update_us: u64,
    /// Lower bound on the number of regions.
    pub min_nr_regions: u64,
    /// Upper bound on the number of regions.
    pub max_nr_regions: u64,
}

/// One DAMON region as seen at an aggregation boundary.
///
/// The FFI layer fills it from `struct damon_region` in the `after_aggregation` callback,
/// when `nr_accesses` holds the count of the complete aggregation window and `age` has
/// just been updated by the merge step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegionSample {
    /// Start address of the region (inclusive).
    pub start: u64,
    /// End address of the region (exclusive).
    pub end: u64,
    /// Number of samples of the aggregation window that found the region accessed.
    pub nr_accesses: u32,
    /// Number of aggregation windows the region kept its access level.
    pub age: u32,
}

impl RegionSample {
    /// A region of `[start, end)` found accessed in `nr_accesses` samples of the window,
    /// at that access level for `age` windows.
    pub const fn new(start: u64, end: u64, nr_accesses: u32, age: u32) -> Self {
        Self {
            start,
            end,
            nr_accesses,
            age,
        }
    }

    /// Returns the size of the region in bytes.
    ///
    /// A malformed region whose end is below its start has size 0.
    pub fn size(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_is_end_minus_start() {
        let r = RegionSample::new(4096, 3 * 4096, 0, 0);
        // 12288 - 4096 = 8192.
        assert_eq!(r.size(), 8192);
    }

    #[test]
    fn size_saturates() {
        let inverted = RegionSample::new(10, 5, 1, 1);
        assert_eq!(inverted.size(), 0);
        let full = RegionSample::new(0, u64::MAX, u32::MAX, u32::MAX);
        assert_eq!(full.size(), u64::MAX);
    }
}
