// SPDX-License-Identifier: GPL-2.0

//! The monitored physical address range, and how it follows memory hotplug.

/// DAMON's smallest region, `DAMON_MIN_REGION`: a page. `damon_set_regions()` widens the
/// ranges it gets to whole pages.
pub const DAMON_MIN_REGION: u64 = 4096;

/// Most ranges [`span_update()`] gives.
pub const MAX_RANGES: usize = 3;

/// A physical address range `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// First byte (inclusive).
    pub start: u64,
    /// End (exclusive).
    pub end: u64,
}

impl Span {
    /// The range `[start, end)`.
    pub const fn new(start: u64, end: u64) -> Self {
        Self { start, end }
    }

    /// Its size in bytes; 0 for an empty or inverted span.
    pub fn size(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    /// The span widened to whole DAMON regions (pages), as DAMON itself widens it.
    pub fn page_aligned(&self) -> Self {
        let mask = DAMON_MIN_REGION - 1;
        Self {
            start: self.start & !mask,
            end: self.end.checked_add(mask).map_or(!mask, |e| e & !mask),
        }
    }
}

impl From<(u64, u64)> for Span {
    fn from((start, end): (u64, u64)) -> Self {
        Self::new(start, end)
    }
}

/// How the System RAM span moved against the monitored one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpanChange {
    /// The new span contains the old one: memory was added at an edge.
    Grew,
    /// The old span contains the new one: memory at an edge was removed.
    Shrank,
    /// Neither contains the other.
    Moved,
}

impl SpanChange {
    /// The word the kernel log uses for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Grew => "grew",
            Self::Shrank => "shrank",
            Self::Moved => "moved",
        }
    }
}

/// What the monitoring target must be given for its span to become a new one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpanUpdate {
    /// How the span changed.
    pub change: SpanChange,
    ranges: [Span; MAX_RANGES],
    count: usize,
}

impl SpanUpdate {
    /// The ranges for `damon_set_regions()`, in address order.
    pub fn ranges(&self) -> &[Span] {
        self.ranges.get(..self.count).unwrap_or(&[])
    }
}

/// What moves a monitoring target from the span `old` to the span `new`; `None` when they
/// are the same, or `new` is empty.
///
/// The ranges cover `new` exactly, in order, cut where `old` begins and ends. So memory
/// that joins the span gets regions of its own, with no access history, instead of
/// stretching the regions at the old edges (and their access history) over it; regions
/// inside both keep theirs.
pub fn span_update(old: Span, new: Span) -> Option<SpanUpdate> {
    if old == new || new.size() == 0 {
        return None;
    }
    let change = if new.start <= old.start && new.end >= old.end {
        SpanChange::Grew
    } else if new.start >= old.start && new.end <= old.end {
        SpanChange::Shrank
    } else {
        SpanChange::Moved
    };
    let below = Span::new(new.start, old.start.min(new.end));
    let common = Span::new(old.start.max(new.start), old.end.min(new.end));
    let above = Span::new(old.end.max(new.start), new.end);
    let mut update = SpanUpdate {
        change,
        ranges: [new; MAX_RANGES],
        count: 0,
    };
    for range in [below, common, above] {
        if range.size() == 0 {
            continue;
        }
        if let Some(slot) = update.ranges.get_mut(update.count) {
            *slot = range;
            update.count = update.count.saturating_add(1);
        }
    }
    Some(update)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    #[test]
    fn no_change_no_update() {
        let span = Span::new(4096, 7 * GIB);
        assert_eq!(span_update(span, span), None);
        assert_eq!(span_update(span, Span::new(GIB, GIB)), None);
    }

    #[test]
    fn memory_added_above_gets_a_range_of_its_own() {
        // The fleet guest: a 1 GiB DIMM plugged right after the last System RAM range.
        let update = span_update(Span::new(4096, 7 * GIB), Span::new(4096, 8 * GIB)).unwrap();
        assert_eq!(update.change, SpanChange::Grew);
        assert_eq!(
            update.ranges(),
            &[Span::new(4096, 7 * GIB), Span::new(7 * GIB, 8 * GIB)]
        );
    }

    #[test]
    fn memory_added_on_both_sides() {
        let update = span_update(Span::new(GIB, 2 * GIB), Span::new(0, 3 * GIB)).unwrap();
        assert_eq!(update.change, SpanChange::Grew);
        assert_eq!(
            update.ranges(),
            &[
                Span::new(0, GIB),
                Span::new(GIB, 2 * GIB),
                Span::new(2 * GIB, 3 * GIB)
            ]
        );
    }

    #[test]
    fn memory_removed_at_the_end() {
        let update = span_update(Span::new(4096, 8 * GIB), Span::new(4096, 7 * GIB)).unwrap();
        assert_eq!(update.change, SpanChange::Shrank);
        assert_eq!(update.ranges(), &[Span::new(4096, 7 * GIB)]);
    }

    #[test]
    fn moved_and_disjoint_spans() {
        let update = span_update(Span::new(0, 2 * GIB), Span::new(GIB, 3 * GIB)).unwrap();
        assert_eq!(update.change, SpanChange::Moved);
        assert_eq!(
            update.ranges(),
            &[Span::new(GIB, 2 * GIB), Span::new(2 * GIB, 3 * GIB)]
        );
        let update = span_update(Span::new(0, GIB), Span::new(2 * GIB, 3 * GIB)).unwrap();
        assert_eq!(update.ranges(), &[Span::new(2 * GIB, 3 * GIB)]);
        let update = span_update(Span::new(2 * GIB, 3 * GIB), Span::new(0, GIB)).unwrap();
        assert_eq!(update.ranges(), &[Span::new(0, GIB)]);
    }

    #[test]
    fn page_alignment_widens_like_damon() {
        // /proc/iomem's first range on a pc machine ends mid-page: 0x1000-0x9fbff.
        assert_eq!(
            Span::new(0x1000, 0x9fc00).page_aligned(),
            Span::new(0x1000, 0xa0000)
        );
        assert_eq!(
            Span::new(0x1234, 0x2000).page_aligned(),
            Span::new(0x1000, 0x2000)
        );
        assert_eq!(Span::new(0, u64::MAX).page_aligned().end, !0xfff);
    }
}
