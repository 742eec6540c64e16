// SPDX-License-Identifier: GPL-2.0

//! Lock-free publication of the latest results to the parameter readers.
//!
//! The kdamond callback is the only writer; the sysfs parameter getters read at any time.
//! A sequence counter (a seqlock without the lock, since there is a single writer) lets
//! readers retry until they get a consistent snapshot. Every shared field is an atomic,
//! so the scheme is sound in the Rust memory model: a racing read is retried, never
//! undefined behaviour.

use core::hint::spin_loop;
use core::sync::atomic::{fence, AtomicI64, AtomicU64, AtomicUsize, Ordering};

use super::percentiles::NR_PERCENTILES;

/// One consistent set of the results `damon_stat` exposes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Results {
    /// Estimated memory bandwidth in bytes per second.
    pub bandwidth: u64,
    /// Aggregation interval in microseconds the results were computed with.
    pub aggr_interval_us: u64,
    /// Per-byte idle time percentiles p0 to p100, in milliseconds.
    pub idle_ms_percentiles: [i64; NR_PERCENTILES],
}

impl Results {
    /// All zero: what readers see before the first publication.
    #[cfg(any(not(MODULE), damon_stat_kunit))]
    pub const ZERO: Results = Results {
        bandwidth: 0,
        aggr_interval_us: 0,
        idle_ms_percentiles: [0; NR_PERCENTILES],
    };
}

/// The published results, written by one writer and read by any number of readers.
pub struct Published {
    /// Odd while a publication is in progress; twice the completed publications otherwise.
    seq: AtomicUsize,
    bandwidth: AtomicU64,
    aggr_interval_us: AtomicU64,
    percentiles: [AtomicI64; NR_PERCENTILES],
}

impl Published {
    /// Creates an instance holding [`Results::ZERO`]; usable in a `static`.
    // The host crate exports this type (the module does not, hence no lint there); a
    // `Default` would serve no caller.
    #[cfg_attr(
        not(MODULE),
        expect(clippy::new_without_default, reason = "nothing needs a Default")
    )]
    pub const fn new() -> Self {
        Self {
            seq: AtomicUsize::new(0),
            bandwidth: AtomicU64::new(0),
            aggr_interval_us: AtomicU64::new(0),
            percentiles: [const { AtomicI64::new(0) }; NR_PERCENTILES],
        }
    }

    /// Publishes `results`; it never blocks.
    ///
    /// Callers must guarantee that only one publication runs at a time (in `damon_stat`,
    /// only the kdamond callback publishes). Concurrent publications cannot cause
    /// undefined behaviour, but readers could then see a mix of two result sets.
    pub fn publish(&self, results: &Results) {
        let seq = self.seq.load(Ordering::Relaxed);
        self.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        // Orders the odd counter before the data: a reader that sees any new value below
        // also sees the odd (or a later) counter when it checks again.
        fence(Ordering::Release);
        self.bandwidth.store(results.bandwidth, Ordering::Relaxed);
        self.aggr_interval_us
            .store(results.aggr_interval_us, Ordering::Relaxed);
        for (dst, src) in self.percentiles.iter().zip(results.idle_ms_percentiles) {
            dst.store(src, Ordering::Relaxed);
        }
        // Orders the data before the even counter for readers that acquire it.
        self.seq.store(seq.wrapping_add(2), Ordering::Release);
    }

    /// Returns a consistent snapshot of the last completed publication.
    ///
    /// Spins while a publication is in progress, which takes well under a microsecond.
    pub fn read(&self) -> Results {
        loop {
            let before = self.seq.load(Ordering::Acquire);
            if before & 1 == 0 {
                let mut results = Results {
                    bandwidth: self.bandwidth.load(Ordering::Relaxed),
                    aggr_interval_us: self.aggr_interval_us.load(Ordering::Relaxed),
                    idle_ms_percentiles: [0; NR_PERCENTILES],
                };
                for (dst, src) in results
                    .idle_ms_percentiles
                    .iter_mut()
                    .zip(self.percentiles.iter())
                {
                    *dst = src.load(Ordering::Relaxed);
                }
                // Orders the data loads before the second counter load: if any of them
                // saw a newer publication, the counter has moved.
                fence(Ordering::Acquire);
                if self.seq.load(Ordering::Relaxed) == before {
                    return results;
                }
            }
            spin_loop();
        }
    }

    /// Returns the number of completed publications (wrapping after `usize::MAX / 2`).
    #[cfg(any(not(MODULE), damon_stat_kunit))]
    pub fn generation(&self) -> usize {
        self.seq.load(Ordering::Acquire) >> 1
    }
}

/// `N` words published together under one sequence counter, read in parts.
///
/// The same scheme as [`Published`], for a set of figures too large to copy whole at
/// every read: a reader copies only the words it shows, and they all come from one
/// publication.
pub struct SeqWords<const N: usize> {
    /// As [`Published`]'s.
    seq: AtomicUsize,
    words: [AtomicU64; N],
}

impl<const N: usize> SeqWords<N> {
    /// All zero; usable in a `static`.
    #[cfg_attr(
        not(MODULE),
        expect(clippy::new_without_default, reason = "nothing needs a Default")
    )]
    pub const fn new() -> Self {
        Self {
            seq: AtomicUsize::new(0),
            words: [const { AtomicU64::new(0) }; N],
        }
    }

    /// Publishes the first `N` words of `words` (missing ones as 0); it never blocks.
    ///
    /// Callers must guarantee a single publisher at a time, as for [`Published`].
    pub fn publish(&self, words: &[u64]) {
        let seq = self.seq.load(Ordering::Relaxed);
        self.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        let mut src = words.iter();
        for dst in &self.words {
            dst.store(src.next().copied().unwrap_or(0), Ordering::Relaxed);
        }
        self.seq.store(seq.wrapping_add(2), Ordering::Release);
    }

    /// Copies words `start..start + out.len()` of one publication into `out`; `false`
    /// (and `out` untouched) when the range is not within the `N` words.
    pub fn read(&self, start: usize, out: &mut [u64]) -> bool {
        let Some(src) = start
            .checked_add(out.len())
            .and_then(|end| self.words.get(start..end))
        else {
            return false;
        };
        loop {
            let before = self.seq.load(Ordering::Acquire);
            if before & 1 == 0 {
                for (dst, word) in out.iter_mut().zip(src) {
                    *dst = word.load(Ordering::Relaxed);
                }
                fence(Ordering::Acquire);
                if self.seq.load(Ordering::Relaxed) == before {
                    return true;
                }
            }
            spin_loop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_zero_then_returns_the_last_publication() {
        static PUBLISHED: Published = Published::new();
        assert_eq!(PUBLISHED.read(), Results::ZERO);
        assert_eq!(PUBLISHED.generation(), 0);

        let mut r = Results {
            bandwidth: 1_024_000,
            aggr_interval_us: 100_000,
            idle_ms_percentiles: [0; NR_PERCENTILES],
        };
        for (k, p) in r.idle_ms_percentiles.iter_mut().enumerate() {
            *p = k as i64 * 100 - 500;
        }
        PUBLISHED.publish(&r);
        assert_eq!(PUBLISHED.generation(), 1);
        assert_eq!(PUBLISHED.read(), r);

        r.bandwidth = u64::MAX;
        r.idle_ms_percentiles[100] = i64::MIN;
        PUBLISHED.publish(&r);
        assert_eq!(PUBLISHED.generation(), 2);
        assert_eq!(PUBLISHED.read(), r);
    }

    #[test]
    fn words_are_read_in_parts_of_one_publication() {
        static WORDS: SeqWords<4> = SeqWords::new();
        let mut out = [9u64; 2];
        assert!(WORDS.read(2, &mut out));
        assert_eq!(out, [0, 0]);
        WORDS.publish(&[1, 2, 3]);
        assert!(WORDS.read(1, &mut out));
        assert_eq!(out, [2, 3]);
        assert!(WORDS.read(2, &mut out));
        assert_eq!(out, [3, 0]);
        // Out of range: refused, not a panic.
        assert!(!WORDS.read(3, &mut out));
        assert!(!WORDS.read(usize::MAX, &mut out));
        assert_eq!(out, [3, 0]);
    }

    #[test]
    fn new_reads_zero() {
        assert_eq!(Published::new().read(), Results::ZERO);
    }
}
