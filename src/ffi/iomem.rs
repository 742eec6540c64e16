// SPDX-License-Identifier: GPL-2.0

//! Where physical memory is: the "System RAM" resources of the iomem tree.

use core::ptr::addr_of_mut;
use kernel::bindings::resource;
use kernel::ffi::{c_int, c_void};

/// The span from the start of the first "System RAM" resource to the end of the last.
///
/// Holes in between are fine: DAMON's adaptive regions merge them away.
pub(crate) fn system_ram_span() -> Option<(u64, u64)> {
    /// Widens the span in `arg` to cover `res`.
    ///
    /// # Safety
    ///
    /// `res` must be a valid resource and `arg` point to an `Option<(u64, u64)>`.
    unsafe extern "C" fn widen(res: *mut resource, arg: *mut c_void) -> c_int {
        // SAFETY: `walk_iomem_res_desc()` passes a valid resource and our `arg`, which
        // points to the `Option<(u64, u64)>` below, alive for the whole walk.
        let (res, span) = unsafe { (&*res, &mut *arg.cast::<Option<(u64, u64)>>()) };
        // Resource ends are inclusive.
        let (start, end) = (res.start, res.end.saturating_add(1));
        *span = Some(match *span {
            None => (start, end),
            Some((lo, hi)) => (lo.min(start), hi.max(end)),
        });
        0
    }
    let mut span: Option<(u64, u64)> = None;
    // SAFETY: The callback matches the expected prototype and only uses `arg` as the
    // pointer to `span` given here; the walk is synchronous.
    unsafe {
        kernel::bindings::walk_iomem_res_desc(
            kernel::bindings::IORES_DESC_NONE as _,
            (kernel::bindings::IORESOURCE_SYSTEM_RAM | kernel::bindings::IORESOURCE_BUSY) as _,
            0,
            u64::MAX,
            addr_of_mut!(span).cast::<c_void>(),
            Some(widen),
        )
    };
    span.filter(|(start, end)| start < end)
}
