// SPDX-License-Identifier: GPL-2.0
//! The ground truth of memory accesses: for every 4 KiB guest-physical frame, when the
//! guest last read or wrote it, as the emulator saw it.
//!
//! Times are milliseconds of the plugin's clock ([`Clock`]), which runs with the host's
//! monotonic clock: under TCG without `-icount` the guest's clocks do too, so idle times
//! measured here are the guest's. A frame never accessed since the plugin loaded reads as
//! last accessed at 0 (when the guest started).
//!
//! Per frame the plugin keeps two words, written by whichever vCPU thread accesses the
//! frame (relaxed atomics: a race between two vCPUs on the same frame keeps either
//! access's time, both of the same millisecond or two):
//! - `last`: the time of the last access;
//! - `since`: when the current run of accesses began, a run being accesses no farther
//!   apart than the current aggregation interval (the guest sets it, [`PageTimes::set_window`]).
//!   That is the truth's counterpart of DAMON's age of an accessed region: "accessed in
//!   every aggregation interval for that long".
//!
//! A frame is *touched* once per sampling interval (the aggregation interval over
//! [`SAMPLES_PER_WINDOW`]) at most: the count of touches times 4 KiB per second is the
//! truth's counterpart of DAMON_STAT's `estimated_memory_bandwidth`, which counts a
//! region's bytes once for every sample that found it accessed.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use damon_stat_logic::logic::percentiles::{idle_ms_percentiles, IdleEntry, NR_PERCENTILES};

/// Bytes per frame.
pub const PAGE_SIZE: u64 = 4096;
/// Frames per 2 MiB frame (a PMD-mapped huge page on x86_64).
pub const SUBPAGES: u64 = 512;
/// DAMON_STAT's samples per aggregation interval, on 6.12 and 7.3 alike.
pub const SAMPLES_PER_WINDOW: u32 = 20;

/// Milliseconds since the plugin loaded, advanced by a thread of its own every
/// millisecond, so that a memory access reads the time with one load.
pub struct Clock(AtomicU32);

impl Clock {
    /// Starts the clock's thread. The clock starts at 1, so that 0 ("before the guest
    /// started") is older than any access.
    pub fn start() -> Arc<Self> {
        let clock = Arc::new(Clock(AtomicU32::new(1)));
        let tick = clock.clone();
        let start = Instant::now();
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_micros(500));
            let ms = u32::try_from(start.elapsed().as_millis()).unwrap_or(u32::MAX);
            tick.0.store(ms.saturating_add(1), Ordering::Relaxed);
        });
        clock
    }

    /// A clock that only [`Clock::set`] moves, for the tests.
    pub fn manual(ms: u32) -> Self {
        Clock(AtomicU32::new(ms))
    }

    pub fn set(&self, ms: u32) {
        self.0.store(ms, Ordering::Relaxed);
    }

    pub fn now(&self) -> u32 {
        self.0.load(Ordering::Relaxed)
    }
}

/// What the truth says at one moment ([`PageTimes::report`]).
#[derive(Debug, PartialEq, Eq)]
pub struct Report {
    /// Frames in the reported range.
    pub pages: u64,
    /// Frames accessed within the last aggregation interval.
    pub hot_pages: u64,
    /// p0..p100 of the time since last access in ms, weighted by bytes, negative for
    /// the frames accessed within the last aggregation interval: minus how long their
    /// run of accesses has lasted, at least one interval (DAMON counts an accessed
    /// region's age plus one interval). The same walk as `memory_idle_ms_percentiles`.
    pub percentiles: [i64; NR_PERCENTILES],
    /// For every 2 MiB frame with at least one 4 KiB frame accessed within the last
    /// aggregation interval: its number (physical address / 2 MiB) and how many of its
    /// 512 frames were.
    pub huge_frames: Vec<(u64, u32)>,
}

/// Per-frame access times of guest-physical memory from address 0 up to a size given at
/// load.
pub struct PageTimes {
    last: Box<[AtomicU32]>,
    since: Box<[AtomicU32]>,
    /// The aggregation interval in ms: the longest gap within a run of accesses.
    window_ms: AtomicU32,
    /// The sampling interval in ms: a frame is touched once per interval at most.
    sample_ms: AtomicU32,
}

impl PageTimes {
    /// Times for `pages` frames, all "not accessed since load", with an aggregation
    /// interval of 100 ms until the guest says otherwise.
    pub fn new(pages: u64) -> Self {
        let n = usize::try_from(pages).unwrap_or(0);
        let zeros = || (0..n).map(|_| AtomicU32::new(0)).collect::<Box<[_]>>();
        let t = PageTimes {
            last: zeros(),
            since: zeros(),
            window_ms: AtomicU32::new(0),
            sample_ms: AtomicU32::new(0),
        };
        t.set_window(100);
        t
    }

    pub fn pages(&self) -> u64 {
        self.last.len() as u64
    }

    /// Sets the aggregation interval (at least 1 ms), which makes the sampling interval
    /// a twentieth of it.
    pub fn set_window(&self, window_ms: u32) {
        let w = window_ms.max(1);
        self.window_ms.store(w, Ordering::Relaxed);
        self.sample_ms
            .store((w / SAMPLES_PER_WINDOW).max(1), Ordering::Relaxed);
    }

    pub fn window_ms(&self) -> u32 {
        self.window_ms.load(Ordering::Relaxed)
    }

    /// Records an access to frame `pfn` at `now`; returns true when it is the frame's
    /// first touch in this sampling interval. Frames beyond the size are ignored.
    ///
    /// The memory callback of every guest load and store: one load when the frame was
    /// accessed in the same millisecond already.
    #[inline]
    pub fn access(&self, pfn: u64, now: u32) -> bool {
        let Some(last) = usize::try_from(pfn).ok().and_then(|i| self.last.get(i)) else {
            return false;
        };
        let before = last.load(Ordering::Relaxed);
        if before == now {
            return false;
        }
        last.store(now, Ordering::Relaxed);
        // 0: never accessed since load, so this access starts a run however early.
        if before == 0 || now.wrapping_sub(before) > self.window_ms.load(Ordering::Relaxed) {
            if let Some(since) = self.since.get(pfn as usize) {
                since.store(now, Ordering::Relaxed);
            }
        }
        let sample = self.sample_ms.load(Ordering::Relaxed);
        before / sample != now / sample
    }

    /// Frame `pfn`'s last access and the start of its run, or `None` beyond the size.
    pub fn page(&self, pfn: u64) -> Option<(u32, u32)> {
        let i = usize::try_from(pfn).ok()?;
        Some((
            self.last.get(i)?.load(Ordering::Relaxed),
            self.since.get(i)?.load(Ordering::Relaxed),
        ))
    }

    /// The truth over frames `start..end` (clipped to the size) at `now`. `scratch` is
    /// the sort buffer, kept by the caller between reports.
    pub fn report(&self, start: u64, end: u64, now: u32, scratch: &mut Vec<IdleEntry>) -> Report {
        let window = self.window_ms();
        let end = end.min(self.pages());
        let start = start.min(end);
        scratch.clear();
        let mut hot_pages = 0;
        let mut huge_frames: Vec<(u64, u32)> = Vec::new();
        for pfn in start..end {
            let Some((last, since)) = self.page(pfn) else {
                break;
            };
            let idle = now.saturating_sub(last);
            let value = if idle <= window {
                hot_pages += 1;
                let frame = pfn / SUBPAGES;
                match huge_frames.last_mut() {
                    Some((f, n)) if *f == frame => *n += 1,
                    _ => huge_frames.push((frame, 1)),
                }
                -i64::from(now.saturating_sub(since).max(window))
            } else {
                i64::from(idle)
            };
            scratch.push(IdleEntry {
                idle_aggrs: value,
                size: PAGE_SIZE,
            });
        }
        let mut percentiles = [0; NR_PERCENTILES];
        // Values are in ms already: an "aggregation interval" of 1000 us leaves them so.
        idle_ms_percentiles(scratch, 1000, &mut percentiles);
        Report {
            pages: end - start,
            hot_pages,
            percentiles,
            huge_frames,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accesses_within_a_window_extend_the_run() {
        let t = PageTimes::new(4);
        t.set_window(100);
        assert!(t.access(1, 10));
        assert!(!t.access(1, 10), "same millisecond: nothing changes");
        t.access(1, 90);
        t.access(1, 180);
        assert_eq!(t.page(1), Some((180, 10)));
        // A gap longer than the window starts a new run.
        t.access(1, 400);
        assert_eq!(t.page(1), Some((400, 400)));
        assert_eq!(t.page(0), Some((0, 0)));
        assert_eq!(t.page(4), None);
        assert!(!t.access(4, 5), "beyond the size: ignored");
    }

    #[test]
    fn a_frame_is_touched_once_per_sampling_interval() {
        let t = PageTimes::new(1);
        t.set_window(200); // 10 ms sampling
        let touches: usize = [11, 12, 19, 20, 25, 31, 55]
            .iter()
            .filter(|&&ms| t.access(0, ms))
            .count();
        // Intervals 1, 2, 3, 5.
        assert_eq!(touches, 4);
    }

    #[test]
    fn report_follows_damon_stat_conventions() {
        // 100 frames: 10 accessed for a long run up to now, 30 idle for 500 ms, 60 never.
        let t = PageTimes::new(100);
        t.set_window(100);
        for pfn in 0..10 {
            for ms in (1000..=5000).step_by(50) {
                t.access(pfn, ms);
            }
        }
        for pfn in 10..40 {
            t.access(pfn, 4500);
        }
        let mut scratch = Vec::new();
        let r = t.report(0, 100, 5000, &mut scratch);
        assert_eq!((r.pages, r.hot_pages), (100, 10));
        assert_eq!(r.percentiles[0], -4000);
        assert_eq!(r.percentiles[9], -4000);
        assert_eq!(
            r.percentiles[10], -4000,
            "p10: 10 % of the bytes reached at the 10th frame"
        );
        assert_eq!(r.percentiles[11], 500);
        assert_eq!(r.percentiles[40], 500);
        assert_eq!(r.percentiles[41], 5000);
        assert_eq!(r.percentiles[100], 5000);
        assert_eq!(r.huge_frames, vec![(0, 10)]);
    }

    #[test]
    fn a_fresh_access_counts_one_window() {
        let t = PageTimes::new(1);
        t.set_window(300);
        t.access(0, 990);
        let r = t.report(0, 1, 1000, &mut Vec::new());
        assert_eq!(r.percentiles, [-300; NR_PERCENTILES]);
    }

    #[test]
    fn huge_frames_count_their_touched_subpages() {
        let t = PageTimes::new(3 * SUBPAGES);
        t.set_window(1000);
        // 7 subpages of the second 2 MiB frame, 1 of the third, within the window.
        for i in [0, 1, 2, 100, 200, 300, 511] {
            t.access(SUBPAGES + i, 5000);
        }
        t.access(2 * SUBPAGES + 3, 5500);
        // One of the first, but long ago.
        t.access(3, 100);
        let r = t.report(0, 3 * SUBPAGES, 6000, &mut Vec::new());
        assert_eq!(r.huge_frames, vec![(1, 7), (2, 1)]);
        assert_eq!(r.hot_pages, 8);
        // A range that starts inside a frame counts only the part in the range.
        let r = t.report(SUBPAGES + 2, 3 * SUBPAGES, 6000, &mut Vec::new());
        assert_eq!(r.huge_frames, vec![(1, 5), (2, 1)]);
    }

    #[test]
    fn report_clips_the_range() {
        let t = PageTimes::new(8);
        let r = t.report(4, 100, 10, &mut Vec::new());
        assert_eq!(r.pages, 4);
        let r = t.report(100, 200, 10, &mut Vec::new());
        assert_eq!(r.pages, 0);
        assert_eq!(r.percentiles, [0; NR_PERCENTILES]);
    }
}
