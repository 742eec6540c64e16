// SPDX-License-Identifier: GPL-2.0

//! Per-byte idle time percentiles (`memory_idle_ms_percentiles`).

use core::num::NonZeroU64;

use super::bandwidth::mul_div_saturating;
use super::damon_values::RegionSample;

/// Number of percentiles exposed: p0, p1, ..., p100.
pub const NR_PERCENTILES: usize = 101;

/// The last percentile, p100.
const MAX_PERCENTILE: u128 = 100;

/// Microseconds per millisecond.
const USEC_PER_MSEC: NonZeroU64 = match NonZeroU64::new(1000) {
    Some(v) => v,
    None => NonZeroU64::MIN,
};

/// Idle time and size of one region, the sort key of the percentile computation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IdleEntry {
    /// Idle time in aggregation intervals; negative for accessed regions.
    pub idle_aggrs: i64,
    /// Size of the region in bytes.
    pub size: u64,
}

impl IdleEntry {
    /// Builds the entry of one region with upstream's (6.18) semantics.
    ///
    /// A region that was not accessed has been idle for `age + 1` aggregation intervals.
    /// An accessed region gets the negative value `-(age + 1)`, "kept this access level
    /// that long", so the hottest, longest-hot memory sorts first.
    pub fn from_region(r: &RegionSample) -> Self {
        // `age + 1` is at most 2^32 and fits in i64 either way.
        let aggrs = i64::from(r.age).saturating_add(1);
        Self {
            idle_aggrs: if r.nr_accesses == 0 {
                aggrs
            } else {
                aggrs.saturating_neg()
            },
            size: r.size(),
        }
    }
}

/// Returns `idle_aggrs * aggr_interval_us / 1000`, rounded toward zero like C.
///
/// The product is computed without overflow and the result saturates at `i64::MIN` and
/// `i64::MAX`.
pub fn idle_ms(idle_aggrs: i64, aggr_interval_us: u64) -> i64 {
    let ms = mul_div_saturating(
        u128::from(idle_aggrs.unsigned_abs()),
        aggr_interval_us,
        USEC_PER_MSEC,
    );
    if idle_aggrs < 0 {
        0i64.saturating_sub_unsigned(ms)
    } else {
        0i64.saturating_add_unsigned(ms)
    }
}

/// Computes the per-byte idle time percentiles in milliseconds.
///
/// Sorts `entries` in place by `idle_aggrs` (unstable sort: no allocation, O(n log n)),
/// then walks them accumulating their sizes. Percentile `k` is the idle time of the first
/// entry at which the accumulated size reaches `k` % of the total, exactly like upstream's
/// `next <= accounted * 100 / total` (an integer `k` is at most `floor(x)` if and only if
/// it is at most `x`, so the test is done as `k * total <= accounted * 100`).
///
/// p0 is therefore the idle time of the first sorted entry, even of size 0, and p100 that
/// of the last entry of non-zero size. Sizes are summed in `u128`, which is exact for
/// fewer than 2^64 entries; the products only saturate beyond 2^57 entries, which no
/// slice of 16-byte entries can hold in a 64-bit address space.
///
/// Returns false and leaves `out` untouched when `entries` is empty or its total size is
/// 0; otherwise fills all of `out` and returns true.
pub fn idle_ms_percentiles(
    entries: &mut [IdleEntry],
    aggr_interval_us: u64,
    out: &mut [i64; NR_PERCENTILES],
) -> bool {
    let total = entries
        .iter()
        .fold(0u128, |sum, e| sum.saturating_add(u128::from(e.size)));
    if total == 0 {
        return false;
    }
    entries.sort_unstable_by_key(|e| e.idle_aggrs);

    // A bounded range: an open `0..` would carry an (unreachable) overflow panic path.
    let mut slots = out.iter_mut().zip(0..=MAX_PERCENTILE).peekable();
    let mut accounted: u128 = 0;
    for e in entries.iter() {
        accounted = accounted.saturating_add(u128::from(e.size));
        let reached = accounted.saturating_mul(100);
        let mut ms = None;
        while let Some((slot, _)) = slots.next_if(|(_, k)| k.saturating_mul(total) <= reached) {
            // Computed at most once per entry, and only for entries that fill a slot.
            *slot = *ms.get_or_insert_with(|| idle_ms(e.idle_aggrs, aggr_interval_us));
        }
        if slots.peek().is_none() {
            break;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(idle_aggrs: i64, size: u64) -> IdleEntry {
        IdleEntry { idle_aggrs, size }
    }

    #[test]
    fn from_region_signs() {
        let e = IdleEntry::from_region(&RegionSample::new(0, 4096, 0, 0));
        assert_eq!(e, entry(1, 4096));
        // Not accessed for age 9: idle for 9 + 1 = 10 aggregations.
        assert_eq!(
            IdleEntry::from_region(&RegionSample::new(0, 1, 0, 9)).idle_aggrs,
            10
        );
        // Accessed: -(age + 1).
        assert_eq!(
            IdleEntry::from_region(&RegionSample::new(0, 1, 1, 0)).idle_aggrs,
            -1
        );
        assert_eq!(
            IdleEntry::from_region(&RegionSample::new(0, 1, 3, 4)).idle_aggrs,
            -5
        );
        // u32::MAX + 1 = 4_294_967_296.
        assert_eq!(
            IdleEntry::from_region(&RegionSample::new(0, 1, 0, u32::MAX)).idle_aggrs,
            4_294_967_296
        );
        assert_eq!(
            IdleEntry::from_region(&RegionSample::new(0, 1, u32::MAX, u32::MAX)).idle_aggrs,
            -4_294_967_296
        );
    }

    #[test]
    fn idle_ms_hand_computed() {
        // -5 * 100_000 / 1000 = -500.
        assert_eq!(idle_ms(-5, 100_000), -500);
        // 7 * 1500 / 1000 = 10.5, truncated toward zero in both signs like C.
        assert_eq!(idle_ms(7, 1500), 10);
        assert_eq!(idle_ms(-7, 1500), -10);
        assert_eq!(idle_ms(0, u64::MAX), 0);
        assert_eq!(idle_ms(3, 0), 0);
        // (2^64 - 1) / 1000 = 18_446_744_073_709_551.
        assert_eq!(idle_ms(1, u64::MAX), 18_446_744_073_709_551);
        // 2^32 * (2^64 - 1) / 1000 is about 7.9e25: saturates.
        assert_eq!(idle_ms(1 << 32, u64::MAX), i64::MAX);
        assert_eq!(idle_ms(-(1 << 32), u64::MAX), i64::MIN);
        assert_eq!(idle_ms(i64::MIN, u64::MAX), i64::MIN);
        assert_eq!(idle_ms(i64::MIN, 1000), i64::MIN);
        // 2^63 - 1 times 1000 over 1000 is exact, past the u64 product.
        assert_eq!(idle_ms(i64::MAX, 1000), i64::MAX);
        assert_eq!(idle_ms(-i64::MAX, 1000), -i64::MAX);
    }

    #[test]
    fn three_regions_hand_computed() {
        // A: 100 bytes idle for 10 aggregations (1000 ms at 100 ms),
        // B: 300 bytes accessed, age 4 (-500 ms),
        // C: 600 bytes idle for 1 aggregation (100 ms).
        let mut entries = [
            IdleEntry::from_region(&RegionSample::new(0, 100, 0, 9)),
            IdleEntry::from_region(&RegionSample::new(0, 300, 3, 4)),
            IdleEntry::from_region(&RegionSample::new(0, 600, 0, 0)),
        ];
        let mut out = [i64::MIN; NR_PERCENTILES];
        assert!(idle_ms_percentiles(&mut entries, 100_000, &mut out));
        // Sorted: B, C, A. Total 1000.
        // After B, 300 * 100 / 1000 = 30: p0..=p30 = -500.
        // After C, 900 * 100 / 1000 = 90: p31..=p90 = 100.
        // After A, 1000 * 100 / 1000 = 100: p91..=p100 = 1000.
        for (k, v) in out.iter().enumerate() {
            let expected = match k {
                0..=30 => -500,
                31..=90 => 100,
                _ => 1000,
            };
            assert_eq!(*v, expected, "p{k}");
        }
        assert_eq!(entries[0].size, 300);
        assert_eq!(entries[2].size, 100);
    }

    #[test]
    fn thirds_hand_computed() {
        // Three 1-byte entries idle for 3, 1 and 2 aggregations of 1 ms.
        let mut entries = [entry(3, 1), entry(1, 1), entry(2, 1)];
        let mut out = [0; NR_PERCENTILES];
        assert!(idle_ms_percentiles(&mut entries, 1000, &mut out));
        // 1 * 100 / 3 = 33, 2 * 100 / 3 = 66, 3 * 100 / 3 = 100.
        assert!(out[..=33].iter().all(|&v| v == 1));
        assert!(out[34..=66].iter().all(|&v| v == 2));
        assert!(out[67..].iter().all(|&v| v == 3));
    }

    #[test]
    fn zero_sized_first_entry_gives_p0() {
        // Upstream's loop gives p0 to the first entry even if it has no byte:
        // 0 <= 0 * 100 / total.
        let mut entries = [entry(5, 10), entry(-2, 0), entry(9, 0)];
        let mut out = [0; NR_PERCENTILES];
        assert!(idle_ms_percentiles(&mut entries, 1000, &mut out));
        assert_eq!(out[0], -2);
        assert!(out[1..].iter().all(|&v| v == 5));
    }

    #[test]
    fn empty_or_zero_total_leaves_out_untouched() {
        let mut out = [42; NR_PERCENTILES];
        assert!(!idle_ms_percentiles(&mut [], 100_000, &mut out));
        let mut zero = [entry(1, 0); 3];
        assert!(!idle_ms_percentiles(&mut zero, 100_000, &mut out));
        assert_eq!(out, [42; NR_PERCENTILES]);
    }

    #[test]
    fn single_entry_fills_everything() {
        let mut entries = [IdleEntry::from_region(&RegionSample::new(0, 4096, 2, 0))];
        let mut out = [0; NR_PERCENTILES];
        assert!(idle_ms_percentiles(&mut entries, 5_000, &mut out));
        // -1 * 5000 / 1000 = -5.
        assert_eq!(out, [-5; NR_PERCENTILES]);
    }
}
