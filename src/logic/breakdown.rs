// SPDX-License-Identifier: GPL-2.0

//! What the hot memory is: the breakdowns beside upstream's five parameters.
//!
//! - Per NUMA node, exact: each region's bytes are split at node boundaries and each
//!   node gets upstream's figures (idle time percentiles, bandwidth) of its part, plus
//!   the bytes monitored.
//! - Per memory type and memory cgroup, sampled: after every aggregation window the folio
//!   under each region's last sampling address stands for the whole region (anon, file
//!   or other; base page or huge; its memory cgroup). The sums are averaged over the
//!   windows of a refresh period.
//!
//! Everything a refresh publishes is laid out as one array of words ([`layout`]), so one
//! seqlock ([`super::published::SeqWords`]) publishes it as one consistent set.

use core::fmt::{self, Write};
use core::num::NonZeroU64;

use super::bandwidth::estimated_bandwidth;
use super::damon_values::RegionSample;
use super::percentiles::{idle_ms, idle_ms_percentiles, IdleEntry, NR_PERCENTILES};

/// Nodes with figures of their own: node IDs from 0 to `MAX_NODES - 1`. Higher IDs are
/// counted in no node (their memory still counts in the machine-wide figures).
pub const MAX_NODES: usize = 64;

/// Memory cgroups the sampled table has room for; samples of further cgroups are
/// counted as dropped.
pub const CGROUP_CAPACITY: usize = 256;

/// The idle time thresholds of the per-cgroup figures, in milliseconds.
pub const IDLE_THRESHOLDS_MS: [i64; 4] = [1_000, 10_000, 60_000, 600_000];

/// What kind of memory a folio holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FolioKind {
    /// Anonymous memory (process heaps, stacks, private mappings).
    Anon,
    /// Page cache, tmpfs and shared memory included.
    File,
    /// Anything else: kernel memory, page tables, free pages.
    Other,
}

/// What the probe found at a region's sampling address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FolioInfo {
    /// The memory's kind.
    pub kind: FolioKind,
    /// Whether the folio is at least PMD-sized (a transparent or hugetlb huge page).
    pub huge: bool,
    /// Inode number of the memory cgroup it is charged to, 0 for none.
    pub memcg_ino: u64,
}

/// The memory classes of the sampled figures, in the order of [`layout`].
pub const NR_CLASSES: usize = 5;

// The classes: anon_base, anon_huge, file_base, file_huge, other (`FolioInfo::class()`).

impl FolioInfo {
    /// The class index ([`CLASS_NAMES`]) of this folio; `None` (no folio) is "other".
    fn class(info: Option<&FolioInfo>) -> usize {
        match info {
            Some(FolioInfo {
                kind: FolioKind::Anon,
                huge,
                ..
            }) => usize::from(*huge),
            Some(FolioInfo {
                kind: FolioKind::File,
                huge,
                ..
            }) => 2usize.saturating_add(usize::from(*huge)),
            _ => 4,
        }
    }
}

/// The sampled figures of memory in one state (accessed or idle) over a period.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClassTotals {
    /// Bytes per class, summed over the windows.
    pub bytes: [u64; NR_CLASSES],
    /// Region samples behind them.
    pub samples: u64,
}

/// One memory cgroup's sampled figures over a period.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CgroupEntry {
    /// The cgroup's inode number.
    pub ino: u64,
    /// Region samples that found its memory.
    pub samples: u64,
    /// Bytes accessed in the window, summed over the windows.
    pub accessed_bytes: u64,
    /// Bytes idle for at least each of [`IDLE_THRESHOLDS_MS`], summed over the windows.
    pub idle_bytes: [u64; IDLE_THRESHOLDS_MS.len()],
}

/// Accumulates the sampled figures of a refresh period.
///
/// The cgroup table is the caller's slice (sized once, at start): recording never
/// allocates. Its first `cgroups_len` entries are in use.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sampler {
    windows: u64,
    accessed: ClassTotals,
    idle: ClassTotals,
    cgroups_len: usize,
    dropped: u64,
}

impl Sampler {
    /// An empty period.
    pub const fn new() -> Self {
        Self {
            windows: 0,
            accessed: ClassTotals {
                bytes: [0; NR_CLASSES],
                samples: 0,
            },
            idle: ClassTotals {
                bytes: [0; NR_CLASSES],
                samples: 0,
            },
            cgroups_len: 0,
            dropped: 0,
        }
    }

    /// Records one region of a window, with what the probe found at its sampling address.
    pub fn record(
        &mut self,
        cgroups: &mut [CgroupEntry],
        region: &RegionSample,
        info: Option<&FolioInfo>,
        aggr_interval_us: u64,
    ) {
        let size = region.size();
        let accessed = region.nr_accesses > 0;
        let totals = if accessed {
            &mut self.accessed
        } else {
            &mut self.idle
        };
        let class = FolioInfo::class(info);
        if let Some(bytes) = totals.bytes.get_mut(class) {
            *bytes = bytes.saturating_add(size);
        }
        totals.samples = totals.samples.saturating_add(1);

        let Some(ino) = info.map(|i| i.memcg_ino).filter(|&ino| ino != 0) else {
            return;
        };
        let Some(entry) = self.cgroup_entry(cgroups, ino) else {
            self.dropped = self.dropped.saturating_add(1);
            return;
        };
        entry.samples = entry.samples.saturating_add(1);
        if accessed {
            entry.accessed_bytes = entry.accessed_bytes.saturating_add(size);
        } else {
            let idle = idle_ms(IdleEntry::from_region(region).idle_aggrs, aggr_interval_us);
            for (bytes, threshold) in entry.idle_bytes.iter_mut().zip(IDLE_THRESHOLDS_MS) {
                if idle >= threshold {
                    *bytes = bytes.saturating_add(size);
                }
            }
        }
    }

    /// The entry of cgroup `ino`, added if new and there is room.
    fn cgroup_entry<'a>(
        &mut self,
        cgroups: &'a mut [CgroupEntry],
        ino: u64,
    ) -> Option<&'a mut CgroupEntry> {
        let used = cgroups.get(..self.cgroups_len)?;
        let index = match used.iter().position(|e| e.ino == ino) {
            Some(index) => index,
            None => {
                let index = self.cgroups_len;
                *cgroups.get_mut(index)? = CgroupEntry {
                    ino,
                    ..CgroupEntry::default()
                };
                self.cgroups_len = index.saturating_add(1);
                index
            }
        };
        cgroups.get_mut(index)
    }

    /// Ends a window: the sums so far stand for one more window.
    pub fn end_window(&mut self) {
        self.windows = self.windows.saturating_add(1);
    }

    /// The number of windows recorded.
    #[cfg(not(MODULE))]
    pub fn windows(&self) -> u64 {
        self.windows
    }

    /// Writes the period's averages into `words` (the sampled part of [`layout`]),
    /// sorting the cgroups by accessed bytes first, then starts a new period.
    pub fn finish(&mut self, cgroups: &mut [CgroupEntry], words: &mut [u64]) {
        let windows = NonZeroU64::new(self.windows).unwrap_or(NonZeroU64::MIN);
        let used = cgroups.get_mut(..self.cgroups_len).unwrap_or(&mut []);
        // Unstable sort: no allocation.
        used.sort_unstable_by(|a, b| {
            b.accessed_bytes
                .cmp(&a.accessed_bytes)
                .then(a.ino.cmp(&b.ino))
        });
        let sampled = words.get_mut(layout::SAMPLED..).unwrap_or(&mut []);
        let split = (2 * layout::CLASS_WORDS).min(sampled.len());
        let (per_state, rest) = sampled.split_at_mut(split);
        // Past the generation word, which the publisher sets.
        let rest = rest.get_mut(1..).unwrap_or(&mut []);
        for (out, totals) in per_state
            .chunks_exact_mut(layout::CLASS_WORDS)
            .zip([&self.accessed, &self.idle])
        {
            let bytes = totals.bytes.map(|b| b / windows);
            for (dst, value) in out.iter_mut().zip(bytes.iter().chain([&totals.samples])) {
                *dst = *value;
            }
        }
        let count = used.len().min(CGROUP_CAPACITY);
        // `rest` starts at CGROUP_META: the count and the dropped samples, then the table.
        let meta = [u64::try_from(count).unwrap_or(u64::MAX), self.dropped];
        for (dst, value) in rest.iter_mut().zip(meta) {
            *dst = value;
        }
        let table = rest.get_mut(2..).unwrap_or(&mut []);
        for (out, entry) in table
            .chunks_exact_mut(layout::CGROUP_WORDS)
            .zip(used.iter())
        {
            let head = [entry.ino, entry.samples, entry.accessed_bytes / windows];
            let idle = entry.idle_bytes.map(|b| b / windows);
            for (dst, value) in out.iter_mut().zip(head.iter().chain(idle.iter())) {
                *dst = *value;
            }
        }
        *self = Self::new();
    }
}

/// Where each figure sits in the published words.
pub mod layout {
    use super::{CGROUP_CAPACITY, MAX_NODES, NR_CLASSES, NR_PERCENTILES};

    /// Per node: monitored bytes, bandwidth, then the percentiles (as `i64` bits).
    pub const NODES: usize = 0;
    /// Words per node.
    pub const NODE_WORDS: usize = 2 + NR_PERCENTILES;
    /// Accessed, then idle: the bytes of each class, then the samples.
    pub const SAMPLED: usize = NODES + MAX_NODES * NODE_WORDS;
    /// Words per state.
    pub const CLASS_WORDS: usize = NR_CLASSES + 1;
    /// The number of refreshes published; the cgroup table follows it, so that one read
    /// from here on gets the table with its generation.
    pub const GENERATION: usize = SAMPLED + 2 * CLASS_WORDS;
    /// The number of cgroups in the table, and the dropped samples.
    pub const CGROUP_META: usize = GENERATION + 1;
    /// Per cgroup: inode number, samples, accessed bytes, idle bytes per threshold.
    pub const CGROUPS: usize = CGROUP_META + 2;
    /// Words per cgroup.
    pub const CGROUP_WORDS: usize = 3 + super::IDLE_THRESHOLDS_MS.len();
    /// All of it.
    pub const WORDS: usize = CGROUPS + CGROUP_CAPACITY * CGROUP_WORDS;
    /// What the `cgroups` file is made of: the words from [`GENERATION`] on.
    pub const TABLE_WORDS: usize = WORDS - GENERATION;

    /// The first word of node `nid`'s figures.
    pub const fn node(nid: usize) -> usize {
        nid.saturating_mul(NODE_WORDS).saturating_add(NODES)
    }
}

/// Copies the parts of `regions` that lie in `[start, end)` into `out`, in order, and
/// returns how many there are; `None` if `out` is too short.
pub fn clip_regions(
    regions: &[RegionSample],
    (start, end): (u64, u64),
    out: &mut [RegionSample],
) -> Option<usize> {
    let mut slots = out.iter_mut();
    let mut count = 0usize;
    for r in regions {
        let (lo, hi) = (r.start.max(start), r.end.min(end));
        if lo < hi {
            *slots.next()? = RegionSample {
                start: lo,
                end: hi,
                ..*r
            };
            count = count.saturating_add(1);
        }
    }
    Some(count)
}

/// Writes node figures of `regions` clipped to `span` into `words` (a node's
/// [`layout::NODE_WORDS`]): monitored bytes, bandwidth, percentiles; all zero when the
/// node has no monitored memory. `clipped` and `entries` are scratch space at least as
/// long as `regions`.
pub fn node_figures(
    regions: &[RegionSample],
    span: Option<(u64, u64)>,
    clipped: &mut [RegionSample],
    entries: &mut [IdleEntry],
    aggr_interval_us: u64,
    words: &mut [u64],
) {
    words.iter_mut().for_each(|w| *w = 0);
    let Some(count) = span.and_then(|span| clip_regions(regions, span, clipped)) else {
        return;
    };
    let Some(clipped) = clipped.get(..count) else {
        return;
    };
    let Some(entries) = entries.get_mut(..count) else {
        return;
    };
    for (entry, region) in entries.iter_mut().zip(clipped) {
        *entry = IdleEntry::from_region(region);
    }
    let mut percentiles = [0i64; NR_PERCENTILES];
    if !idle_ms_percentiles(entries, aggr_interval_us, &mut percentiles) {
        return;
    }
    let monitored = clipped
        .iter()
        .fold(0u64, |sum, r| sum.saturating_add(r.size()));
    let bandwidth = estimated_bandwidth(clipped.iter().copied(), aggr_interval_us);
    if let Some((head, tail)) = words.split_first_chunk_mut::<2>() {
        *head = [monitored, bandwidth];
        for (dst, p) in tail.iter_mut().zip(percentiles) {
            // The bits of the signed value: readers convert back with `as i64`.
            *dst = u64::from_ne_bytes(p.to_ne_bytes());
        }
    }
}

/// Writes the `cgroups` file from `table`, the published words from
/// [`layout::GENERATION`] on.
pub fn write_cgroups(out: &mut impl Write, table: &[u64]) -> fmt::Result {
    const META: usize = layout::CGROUP_META - layout::GENERATION;
    let word = |i: usize| table.get(i).copied().unwrap_or(0);
    let generation = word(0);
    writeln!(out, "generation {generation}")?;
    writeln!(out, "dropped_samples {}", word(META + 1))?;
    out.write_str("ino samples accessed_bytes")?;
    for t in IDLE_THRESHOLDS_MS {
        write!(out, " idle_{}s_bytes", t / 1000)?;
    }
    out.write_char('\n')?;
    let count = usize::try_from(word(META))
        .unwrap_or(0)
        .min(CGROUP_CAPACITY);
    let entries = table
        .get(layout::CGROUPS - layout::GENERATION..)
        .unwrap_or(&[]);
    for entry in entries.chunks_exact(layout::CGROUP_WORDS).take(count) {
        for (i, value) in entry.iter().enumerate() {
            if i > 0 {
                out.write_char(' ')?;
            }
            write!(out, "{value}")?;
        }
        out.write_char('\n')?;
    }
    writeln!(out, "end {generation}")
}

/// The longest `cgroups` file: a bound for the buffer a reader formats it into.
pub const CGROUPS_TEXT_MAX: usize = 128 + 100 + CGROUP_CAPACITY * layout::CGROUP_WORDS * 21;

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;
    use std::string::String;

    const MIB: u64 = 1 << 20;

    fn anon(huge: bool, ino: u64) -> Option<FolioInfo> {
        Some(FolioInfo {
            kind: FolioKind::Anon,
            huge,
            memcg_ino: ino,
        })
    }

    #[test]
    fn clipping_splits_regions_at_node_boundaries() {
        let regions = [
            RegionSample::new(0, 4 * MIB, 3, 1),
            RegionSample::new(4 * MIB, 10 * MIB, 0, 7),
        ];
        let mut out = [RegionSample::new(0, 0, 0, 0); 2];
        assert_eq!(
            clip_regions(&regions, (2 * MIB, 6 * MIB), &mut out),
            Some(2)
        );
        assert_eq!(out[0], RegionSample::new(2 * MIB, 4 * MIB, 3, 1));
        assert_eq!(out[1], RegionSample::new(4 * MIB, 6 * MIB, 0, 7));
        // Nothing in the span, and a buffer too short: no panic.
        assert_eq!(
            clip_regions(&regions, (20 * MIB, 30 * MIB), &mut out),
            Some(0)
        );
        assert_eq!(clip_regions(&regions, (0, 10 * MIB), &mut out[..1]), None);
    }

    #[test]
    fn node_parts_add_up_to_the_machine() {
        // 4 MiB accessed 10 times, then 6 MiB idle; node 0 = [0, 5 MiB), node 1 the rest.
        let regions = [
            RegionSample::new(0, 4 * MIB, 10, 2),
            RegionSample::new(4 * MIB, 10 * MIB, 0, 9),
        ];
        let mut clipped = [RegionSample::new(0, 0, 0, 0); 2];
        let mut entries = [IdleEntry::default(); 2];
        let mut n0 = [0u64; layout::NODE_WORDS];
        let mut n1 = [0u64; layout::NODE_WORDS];
        node_figures(
            &regions,
            Some((0, 5 * MIB)),
            &mut clipped,
            &mut entries,
            100_000,
            &mut n0,
        );
        node_figures(
            &regions,
            Some((5 * MIB, 16 * MIB)),
            &mut clipped,
            &mut entries,
            100_000,
            &mut n1,
        );
        assert_eq!(n0[0], 5 * MIB);
        assert_eq!(n1[0], 5 * MIB);
        let all = estimated_bandwidth(regions.iter().copied(), 100_000);
        assert_eq!(n0[1], all);
        assert_eq!(n1[1], 0);
        // Node 0: 4/5 accessed (-300 ms), 1/5 idle 1 s; node 1 idle 1 s throughout.
        assert_eq!(n0[2] as i64, -300);
        assert_eq!(n0[2 + 80] as i64, -300);
        assert_eq!(n0[2 + 81] as i64, 1000);
        assert!(n1[2..].iter().all(|&p| p as i64 == 1000));
        // A node without memory reads zero.
        let mut none = [7u64; layout::NODE_WORDS];
        node_figures(
            &regions,
            None,
            &mut clipped,
            &mut entries,
            100_000,
            &mut none,
        );
        assert!(none.iter().all(|&w| w == 0));
    }

    #[test]
    fn sampled_classes_are_averaged_over_windows() {
        let mut cgroups = [CgroupEntry::default(); 4];
        let mut s = Sampler::new();
        let hot = RegionSample::new(0, 2 * MIB, 5, 0);
        let cold = RegionSample::new(2 * MIB, 10 * MIB, 0, 100);
        // Two windows: the hot region is a huge anon page in one, a base one in the other.
        s.record(&mut cgroups, &hot, anon(true, 0).as_ref(), 100_000);
        s.record(&mut cgroups, &cold, None, 100_000);
        s.end_window();
        s.record(&mut cgroups, &hot, anon(false, 0).as_ref(), 100_000);
        let file = FolioInfo {
            kind: FolioKind::File,
            huge: false,
            memcg_ino: 0,
        };
        s.record(&mut cgroups, &cold, Some(&file), 100_000);
        s.end_window();
        let mut words = [0u64; layout::WORDS];
        s.finish(&mut cgroups, &mut words);
        let accessed = &words[layout::SAMPLED..layout::SAMPLED + layout::CLASS_WORDS];
        let idle = &words[layout::SAMPLED + layout::CLASS_WORDS..layout::GENERATION];
        assert_eq!(accessed, &[MIB, MIB, 0, 0, 0, 2]);
        assert_eq!(idle, &[0, 0, 4 * MIB, 0, 4 * MIB, 2]);
        // A new period starts empty.
        assert_eq!(s.windows(), 0);
    }

    #[test]
    fn cgroups_get_thresholds_and_the_table_overflows_into_a_counter() {
        let mut cgroups = [CgroupEntry::default(); 2];
        let mut s = Sampler::new();
        // Idle (age + 1) x 100 ms: 0.5 s, 1.5 s, 15 s, 700 s.
        for (k, age) in [4u32, 14, 149, 6999].into_iter().enumerate() {
            let r = RegionSample::new(k as u64 * MIB, (k as u64 + 1) * MIB, 0, age);
            s.record(&mut cgroups, &r, anon(false, 7).as_ref(), 100_000);
        }
        s.record(
            &mut cgroups,
            &RegionSample::new(0, 3 * MIB, 2, 0),
            anon(false, 9).as_ref(),
            100_000,
        );
        // A third cgroup does not fit: dropped, and counted.
        s.record(
            &mut cgroups,
            &RegionSample::new(0, MIB, 2, 0),
            anon(false, 11).as_ref(),
            100_000,
        );
        s.end_window();
        let mut words = [0u64; layout::WORDS];
        words[layout::GENERATION] = 3;
        s.finish(&mut cgroups, &mut words);
        assert_eq!(&words[layout::CGROUP_META..layout::CGROUPS], &[2, 1]);
        let first = &words[layout::CGROUPS..layout::CGROUPS + layout::CGROUP_WORDS];
        let second = &words
            [layout::CGROUPS + layout::CGROUP_WORDS..layout::CGROUPS + 2 * layout::CGROUP_WORDS];
        // Sorted by accessed bytes: cgroup 9 first.
        assert_eq!(first, &[9, 1, 3 * MIB, 0, 0, 0, 0]);
        assert_eq!(second, &[7, 4, 0, 3 * MIB, 2 * MIB, MIB, MIB]);

        let mut text = String::new();
        write_cgroups(&mut text, &words[layout::GENERATION..]).unwrap();
        assert_eq!(
            text,
            format!(
                "generation 3\ndropped_samples 1\n\
                 ino samples accessed_bytes idle_1s_bytes idle_10s_bytes idle_60s_bytes idle_600s_bytes\n\
                 9 1 {} 0 0 0 0\n7 4 0 {} {} {} {}\nend 3\n",
                3 * MIB,
                3 * MIB,
                2 * MIB,
                MIB,
                MIB
            )
        );
    }

    #[test]
    fn the_largest_table_fits_its_bound() {
        let mut words = [u64::MAX; layout::WORDS];
        words[layout::CGROUP_META] = CGROUP_CAPACITY as u64;
        let mut text = String::new();
        write_cgroups(&mut text, &words).unwrap();
        assert!(
            text.len() <= CGROUPS_TEXT_MAX,
            "{} > {}",
            text.len(),
            CGROUPS_TEXT_MAX
        );
        // A corrupt count never reads past the table.
        words[layout::CGROUP_META] = u64::MAX;
        let mut again = String::new();
        write_cgroups(&mut again, &words[layout::GENERATION..]).unwrap();
        assert_eq!(again, text);
    }
}
