// SPDX-License-Identifier: GPL-2.0

//! What the memory at a physical address is, and where the NUMA nodes are: the C helpers
//! of `src/ffi/helpers.c`, for what the kernel offers only as inline functions.

use super::bindings;
use crate::logic::breakdown::{FolioInfo, FolioKind};

/// The folio that holds physical address `paddr`: its kind, size and memory cgroup;
/// `None` where there is no online page or the page is free.
///
/// Takes and drops a reference on the folio; never sleeps or allocates.
pub(crate) fn folio_at(paddr: u64) -> Option<FolioInfo> {
    let mut info = bindings::damon_stat_folio_info {
        kind: 0,
        pmd_mappable: 0,
        memcg_ino: 0,
    };
    // SAFETY: The helper takes any address and writes only `info`, valid for the call.
    if !unsafe { bindings::damon_stat_probe_paddr(paddr, &mut info) } {
        return None;
    }
    let kind = match info.kind {
        bindings::damon_stat_folio_kind_DAMON_STAT_FOLIO_ANON => FolioKind::Anon,
        bindings::damon_stat_folio_kind_DAMON_STAT_FOLIO_FILE => FolioKind::File,
        _ => FolioKind::Other,
    };
    Some(FolioInfo {
        kind,
        huge: info.pmd_mappable != 0,
        memcg_ino: info.memcg_ino,
    })
}

/// The number of possible node IDs (`nr_node_ids`).
pub(crate) fn nr_node_ids() -> usize {
    // SAFETY: The helper reads a variable that is set before modules load.
    usize::try_from(unsafe { bindings::damon_stat_nr_node_ids() }).unwrap_or(0)
}

/// The physical address span `[start, end)` of node `nid`'s memory, `None` for a node
/// without memory.
pub(crate) fn node_span(nid: usize) -> Option<(u64, u64)> {
    let nid = i32::try_from(nid).ok()?;
    let (mut start, mut end) = (0u64, 0u64);
    // SAFETY: The helper checks `nid` and writes only `start` and `end`, valid for the
    // call.
    unsafe { bindings::damon_stat_node_span(nid, &mut start, &mut end) }.then_some((start, end))
}
