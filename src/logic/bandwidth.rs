// SPDX-License-Identifier: GPL-2.0

//! Estimated memory bandwidth, and overflow-free integer scaling helpers.

use core::num::NonZeroU64;

use super::damon_values::RegionSample;

/// Microseconds per second.
const USEC_PER_SEC: u64 = 1_000_000;

/// Returns `floor(x * mul / div)`, saturated to `u64::MAX`.
///
/// The result is exact whenever the true quotient fits in `u64`. No `u128` division is
/// used (the kernel has no `__udivti3`): a product that fits in `u64` takes one `u64`
/// division, a larger one a bitwise long division.
pub fn mul_div_saturating(x: u128, mul: u64, div: NonZeroU64) -> u64 {
    let Some(dividend) = x.checked_mul(u128::from(mul)) else {
        // The dividend is at least 2^128 and the divisor below 2^64, so the quotient is
        // above 2^64.
        return u64::MAX;
    };
    if let Ok(small) = u64::try_from(dividend) {
        return small / div;
    }
    u64::try_from(div_u128(dividend, div)).unwrap_or(u64::MAX)
}

/// Returns `floor(n / d)` by restoring binary long division.
///
/// It uses only shifts by one, comparisons and subtractions on `u128`, which the
/// compiler expands inline on every 64-bit architecture.
fn div_u128(mut n: u128, d: NonZeroU64) -> u128 {
    let d = u128::from(d.get());
    let mut rem: u128 = 0;
    let mut quot: u128 = 0;
    for _ in 0..u128::BITS {
        // `rem < d < 2^64` before the shift, so it stays below 2^65.
        rem = (rem << 1) | (n >> 127);
        n <<= 1;
        quot <<= 1;
        if rem >= d {
            // Cannot underflow: `rem >= d` was just checked.
            rem = rem.wrapping_sub(d);
            quot |= 1;
        }
    }
    quot
}

/// Returns the estimated memory bandwidth in bytes per second.
///
/// Upstream DAMON_STAT counts `size * nr_accesses` bytes for every region during one
/// aggregation interval and scales that to one second. The sum is accumulated in `u128`
/// and the result is exact whenever it fits in `u64`; larger results saturate to
/// `u64::MAX`. An `aggr_interval_us` of 0 gives 0.
pub fn estimated_bandwidth(
    regions: impl IntoIterator<Item = RegionSample>,
    aggr_interval_us: u64,
) -> u64 {
    let Some(aggr) = NonZeroU64::new(aggr_interval_us) else {
        return 0;
    };
    let access_bytes = regions.into_iter().fold(0u128, |sum, r| {
        // Each product is below 2^96; the sum only saturates past 2^32 regions.
        let bytes = u128::from(r.size()).saturating_mul(u128::from(r.nr_accesses));
        sum.saturating_add(bytes)
    });
    mul_div_saturating(access_bytes, USEC_PER_SEC, aggr)
}

#[cfg(test)]
#[path = "xorshift.rs"]
mod xorshift;

#[cfg(test)]
mod tests {
    use super::xorshift::XorShift64;
    use super::*;

    fn nz(v: u64) -> NonZeroU64 {
        NonZeroU64::new(v).unwrap()
    }

    #[test]
    fn hand_computed() {
        let regions = [
            RegionSample::new(0, 4096, 5, 0),
            RegionSample::new(4096, 12288, 0, 0),
            RegionSample::new(12288, 16384, 20, 0),
        ];
        // 4096 * 5 + 8192 * 0 + 4096 * 20 = 20480 + 81920 = 102400 bytes per 100 ms,
        // 102400 * 1_000_000 / 100_000 = 1_024_000 bytes per second.
        assert_eq!(estimated_bandwidth(regions, 100_000), 1_024_000);
        // Per 3 us: 102400 * 1_000_000 / 3 = 34_133_333_333.33, truncated.
        assert_eq!(estimated_bandwidth(regions, 3), 34_133_333_333);
    }

    #[test]
    fn zero_interval_or_no_region() {
        assert_eq!(
            estimated_bandwidth([RegionSample::new(0, 4096, 5, 0)], 0),
            0
        );
        assert_eq!(estimated_bandwidth([], 100_000), 0);
        assert_eq!(
            estimated_bandwidth([RegionSample::new(0, 4096, 0, 0)], 1),
            0
        );
    }

    #[test]
    fn exact_beyond_u64_sum() {
        // Sum (2^64 - 1) * 1, times 10^6, over 10^6 is exactly u64::MAX.
        assert_eq!(
            estimated_bandwidth([RegionSample::new(0, u64::MAX, 1, 0)], 1_000_000),
            u64::MAX
        );
        // (2^64 - 1) * 1000 * 10^6 / 2^40 = 2^24 * 10^9 - 10^9 / 2^40, floored to
        // 16_777_216_000_000_000 - 1.
        assert_eq!(
            estimated_bandwidth([RegionSample::new(0, u64::MAX, 1000, 0)], 1 << 40),
            16_777_215_999_999_999
        );
    }

    #[test]
    fn saturates() {
        assert_eq!(
            estimated_bandwidth([RegionSample::new(0, u64::MAX, u32::MAX, 0)], 1),
            u64::MAX
        );
        // Just over u64::MAX: (2^64 - 1) * 2 * 10^6 / 10^6.
        assert_eq!(
            estimated_bandwidth([RegionSample::new(0, u64::MAX, 2, 0)], 1_000_000),
            u64::MAX
        );
    }

    #[test]
    fn mul_div_hand_computed() {
        // 7 * 3 / 2 = 10.5, floored.
        assert_eq!(mul_div_saturating(7, 3, nz(2)), 10);
        // 2^100 * 1 / 2^40 = 2^60, through the long division.
        assert_eq!(mul_div_saturating(1 << 100, 1, nz(1 << 40)), 1 << 60);
        // 2^100 * 2^30 overflows u128 and saturates.
        assert_eq!(mul_div_saturating(1 << 100, 1 << 30, nz(3)), u64::MAX);
        // 2^64 / 1 is one past u64::MAX.
        assert_eq!(mul_div_saturating(1 << 64, 1, nz(1)), u64::MAX);
        // (2^64 + 1) / 2 = 2^63 (floor of 2^63 + 0.5).
        assert_eq!(mul_div_saturating((1 << 64) + 1, 1, nz(2)), 1 << 63);
        assert_eq!(mul_div_saturating(0, u64::MAX, nz(1)), 0);
        assert_eq!(mul_div_saturating(u128::MAX, 0, nz(1)), 0);
    }

    #[test]
    fn long_division_matches_u128_division() {
        let mut rng = XorShift64(0x9e37_79b9_7f4a_7c15);
        for _ in 0..2000 {
            let x = rng.next();
            let n = (u128::from(x) << (x % 64)) | u128::from(x.rotate_left(17));
            let d = (x.rotate_left(29) >> (x % 64)).max(1);
            assert_eq!(div_u128(n, nz(d)), n / u128::from(d), "{n} / {d}");
        }
    }
}
