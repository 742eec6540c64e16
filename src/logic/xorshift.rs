// SPDX-License-Identifier: GPL-2.0

//! A deterministic pseudo-random generator for tests: the host unit tests, the KUnit
//! suite (test build only), and the host property tests and benchmarks, which include
//! this file with `#[path]`, so each keeps its own copy of what it uses.

/// Deterministic xorshift64 pseudo-random generator.
pub(crate) struct XorShift64(pub(crate) u64);

#[allow(dead_code, reason = "each includer uses only some of the methods")]
impl XorShift64 {
    /// The next value.
    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform enough in `0..n` for tests.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A value of random bit width, so that small and huge values both show up.
    pub(crate) fn any_width(&mut self) -> u64 {
        let bits = self.below(65) as u32;
        self.next().checked_shr(64 - bits).unwrap_or(0)
    }
}
