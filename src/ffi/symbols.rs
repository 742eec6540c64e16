// SPDX-License-Identifier: GPL-2.0

//! Resolution of unexported kernel functions.
//!
//! 6.12 exports no DAMON symbol, so a module cannot link against them. With `KPROBES`
//! and `KALLSYMS`, a kprobe on `kallsyms_lookup_name` tells where that function is, and
//! it in turn finds the DAMON functions by name. Every address is checked for indirect
//! branch tracking before it is turned into a function pointer (see
//! [`crate::logic::endbr`]).

use super::bindings;
use crate::logic::endbr::{self, FunctionEntry};
use core::mem::size_of;
use kernel::c_str;
use kernel::error::code::{ENOENT, EPERM};
use kernel::error::to_result;
use kernel::ffi::{c_char, c_ulong, c_void};
use kernel::prelude::*;
use kernel::str::CStr;

type KallsymsLookupName = unsafe extern "C" fn(name: *const c_char) -> c_ulong;

/// Finds kernel symbols by name.
pub(crate) struct Kallsyms {
    lookup_name: KallsymsLookupName,
}

/// Reads the first four bytes of kernel text at `addr`, or `None` if unreadable.
pub(crate) fn read_text(addr: usize) -> Option<[u8; 4]> {
    let mut bytes = [0u8; 4];
    // SAFETY: `copy_from_kernel_nofault` handles any source address, faulting or not, and
    // writes at most `bytes.len()` bytes to the local buffer.
    let ret = unsafe {
        kernel::bindings::copy_from_kernel_nofault(
            bytes.as_mut_ptr().cast::<c_void>(),
            addr as *const c_void,
            bytes.len(),
        )
    };
    (ret == 0).then_some(bytes)
}

/// Whether this CPU enforces IBT now (`X86_FEATURE_IBT` in `boot_cpu_data`).
#[cfg(CONFIG_X86)]
fn ibt_enforced() -> bool {
    let feature = kernel::bindings::X86_FEATURE_IBT as usize;
    let word = feature / 32;
    if word >= bindings::DAMON_STAT_X86_CAPABILITY_WORDS as usize {
        return false;
    }
    let offset = bindings::DAMON_STAT_X86_CAPABILITY_OFFSET as usize + word * 4;
    // SAFETY: `boot_cpu_data` is set up during early boot and only read afterwards;
    // `offset` addresses a `u32` of its `x86_capability` array (index checked above).
    let bits = unsafe {
        core::ptr::addr_of!(kernel::bindings::boot_cpu_data)
            .cast::<u8>()
            .add(offset)
            .cast::<u32>()
            .read()
    };
    bits & (1 << (feature % 32)) != 0
}

/// IBT is x86's. arm64's counterpart, BTI, needs no check: every global kernel function
/// starts with a landing pad (`bti c`, or `paciasp`, which is one too), and nothing seals
/// it at boot, so any function kallsyms finds may be called through a pointer.
#[cfg(not(CONFIG_X86))]
fn ibt_enforced() -> bool {
    false
}

/// How the function at `addr` starts, or `None` if its text cannot be read.
pub(crate) fn entry_of(addr: usize) -> Option<FunctionEntry> {
    read_text(addr).map(endbr::classify)
}

/// Checks that `name` at `addr` may be called through a pointer on this kernel and CPU.
pub(crate) fn check_callable(name: &CStr, addr: usize) -> Result {
    check_callable_on(name, addr, ibt_enforced())
}

/// [`check_callable()`] for a CPU that does or does not enforce IBT.
pub(crate) fn check_callable_on(name: &CStr, addr: usize, ibt_enforced: bool) -> Result {
    let ibt_kernel = cfg!(CONFIG_X86_KERNEL_IBT);
    let entry = if ibt_kernel {
        // Unreadable text is treated like a function without ENDBR64: refused where IBT
        // is enforced.
        entry_of(addr).unwrap_or(FunctionEntry::Plain)
    } else {
        FunctionEntry::Plain
    };
    if endbr::indirect_call_allowed(entry, ibt_kernel, ibt_enforced) {
        return Ok(());
    }
    pr_err!(
        "{} cannot be called from a module: its entry is {:?} and this CPU enforces IBT; boot with ibt=off to use damon_stat\n",
        name,
        entry
    );
    Err(EPERM)
}

impl Kallsyms {
    /// Finds `kallsyms_lookup_name` through a kprobe on it.
    pub(crate) fn find() -> Result<Self> {
        let name = c_str!("kallsyms_lookup_name");
        // SAFETY: `struct kprobe` is plain C data for which all zeroes is the documented
        // initial state before `register_kprobe()`.
        let mut probe: bindings::kprobe = unsafe { core::mem::zeroed() };
        probe.symbol_name = name.as_char_ptr();
        // SAFETY: `probe` is initialised as `register_kprobe()` requires and stays alive
        // and in place until `unregister_kprobe()` below.
        let ret = unsafe { bindings::register_kprobe(&mut probe) };
        to_result(ret).inspect_err(|_| {
            pr_err!("cannot find kallsyms_lookup_name: register_kprobe failed ({}); is CONFIG_KPROBES on?\n", ret);
        })?;
        let probe_addr = probe.addr as usize;
        // SAFETY: `probe` was registered above.
        unsafe { bindings::unregister_kprobe(&mut probe) };

        // On IBT kernels the probe sits after the function's ENDBR64.
        let bytes_before = if cfg!(CONFIG_X86_KERNEL_IBT) {
            read_text(probe_addr.wrapping_sub(4))
        } else {
            None
        };
        let start = endbr::function_start_from_kprobe(probe_addr, bytes_before);
        if start == 0 {
            return Err(ENOENT);
        }
        check_callable(name, start)?;
        // SAFETY: `start` is the entry point of `kallsyms_lookup_name`, whose C prototype
        // is `unsigned long kallsyms_lookup_name(const char *name)`, and
        // `check_callable()` has just allowed an indirect call to it.
        let lookup_name = unsafe { core::mem::transmute::<usize, KallsymsLookupName>(start) };
        Ok(Self { lookup_name })
    }

    /// Where [`Kallsyms::find()`] found `kallsyms_lookup_name` through its kprobe.
    #[cfg(damon_stat_kunit)]
    pub(crate) fn lookup_name_address(&self) -> usize {
        self.lookup_name as usize
    }

    /// Returns the address of `name` after checking that it may be called indirectly.
    pub(crate) fn function_address(&self, name: &CStr) -> Result<usize> {
        // SAFETY: `lookup_name` is `kallsyms_lookup_name` (see `find()`), and `name` is a
        // NUL-terminated string.
        let addr = unsafe { (self.lookup_name)(name.as_char_ptr()) };
        if addr == 0 {
            pr_err!("kernel symbol {} not found: this kernel lacks a DAMON function damon_stat needs (CONFIG_DAMON_PADDR=y?)\n", name);
            return Err(ENOENT);
        }
        check_callable(name, addr)?;
        Ok(addr)
    }

    /// Resolves `name` into a function pointer of type `F`.
    ///
    /// # Safety
    ///
    /// `F` must be an `unsafe extern "C" fn` type that matches the C prototype of `name`.
    pub(crate) unsafe fn function<F: Copy>(&self, name: &CStr) -> Result<F> {
        const { assert!(size_of::<F>() == size_of::<usize>()) };
        let addr = self.function_address(name)?;
        // SAFETY: `F` is a function pointer type (same size as `usize`, checked above)
        // matching the prototype of `name` (the caller's contract), and `addr` is the
        // non-null entry point of `name` that may be called indirectly.
        Ok(unsafe { core::mem::transmute_copy::<usize, F>(&addr) })
    }
}
