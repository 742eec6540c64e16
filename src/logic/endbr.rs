// SPDX-License-Identifier: GPL-2.0

//! Indirect branch tracking (IBT): may a resolved kernel function be called indirectly?
//!
//! On x86 kernels built with `CONFIG_X86_KERNEL_IBT`, every function starts with
//! `ENDBR64`, and at boot the kernel seals the ones that are never address-taken by
//! overwriting their `ENDBR64` with a 4-byte NOP. On a CPU that enforces IBT, an
//! indirect call to a sealed function raises a control-protection fault. The unexported
//! DAMON functions are only ever called directly, so they are sealed: calling them
//! through a pointer is safe only while IBT is not enforced (a CPU without IBT, or the
//! `ibt=off` boot option).
//!
//! arm64 has no sealing: [`is_bti_call_target()`] lets the KUnit suite check that the
//! functions the module calls start with a BTI landing pad.

/// `endbr64` (`f3 0f 1e fa`) read as a little-endian `u32`.
pub const ENDBR64: u32 = 0xfa1e_0ff3;

/// What the kernel writes over a sealed `ENDBR64`: `osp nopl (%rax)`
/// (`gen_endbr_poison()` in `arch/x86/include/asm/ibt.h`).
pub const ENDBR_POISON: u32 = 0x001f_0f66;

/// The bit that tells `endbr32` from `endbr64`; the kernel accepts both.
const ENDBR32_BIT: u32 = 0x0100_0000;

/// How a function's first four bytes look.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FunctionEntry {
    /// Starts with `ENDBR64` (or `ENDBR32`): a valid indirect branch target.
    Endbr,
    /// Its `ENDBR64` was sealed at boot: an indirect call faults where IBT is enforced.
    Sealed,
    /// No `ENDBR` at all, as on kernels built without IBT.
    Plain,
}

/// Classifies a function by its first four bytes, as the kernel's `is_endbr()` does.
pub fn classify(first_bytes: [u8; 4]) -> FunctionEntry {
    let word = u32::from_le_bytes(first_bytes);
    if word == ENDBR_POISON {
        FunctionEntry::Sealed
    } else if word & !ENDBR32_BIT == ENDBR64 {
        FunctionEntry::Endbr
    } else {
        FunctionEntry::Plain
    }
}

/// The start of a function from the address a kprobe on it reports.
///
/// On IBT kernels a kprobe on a function that starts with `ENDBR` (sealed or not) is
/// placed after it, 4 bytes into the function (`arch_adjust_kprobe_addr()`).
/// `bytes_before` are the 4 bytes that precede `probe_addr`; they are only looked at on
/// IBT kernels, where reading them is what the caller did.
pub fn function_start_from_kprobe(probe_addr: usize, bytes_before: Option<[u8; 4]>) -> usize {
    match bytes_before.map(classify) {
        Some(FunctionEntry::Endbr | FunctionEntry::Sealed) => probe_addr.saturating_sub(4),
        _ => probe_addr,
    }
}

/// Whether an indirect call to a function with this entry is safe.
///
/// `ibt_kernel`: the kernel was built with `CONFIG_X86_KERNEL_IBT`. `ibt_enforced`: the
/// CPU enforces it now (`X86_FEATURE_IBT` is set only then; `ibt=off` clears it).
pub fn indirect_call_allowed(entry: FunctionEntry, ibt_kernel: bool, ibt_enforced: bool) -> bool {
    if !ibt_kernel || !ibt_enforced {
        return true;
    }
    entry == FunctionEntry::Endbr
}

/// arm64's counterpart, branch target identification (BTI): whether the instruction word
/// at a function's start lets an indirect call (`blr`) land there. `bti c` and `bti jc`
/// are landing pads for calls, and so are `paciasp` and `pacibsp`, which the compiler
/// puts first instead where it signs the return address. Nothing removes them at boot.
#[cfg(any(not(MODULE), damon_stat_kunit))]
pub fn is_bti_call_target(word: u32) -> bool {
    const BTI_C: u32 = 0xd503_245f;
    const BTI_JC: u32 = 0xd503_24df;
    const PACIASP: u32 = 0xd503_233f;
    const PACIBSP: u32 = 0xd503_237f;
    matches!(word, BTI_C | BTI_JC | PACIASP | PACIBSP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_endbr_poison_and_plain_code() {
        assert_eq!(classify([0xf3, 0x0f, 0x1e, 0xfa]), FunctionEntry::Endbr);
        // endbr32 differs from endbr64 in one bit of the last byte.
        assert_eq!(classify([0xf3, 0x0f, 0x1e, 0xfb]), FunctionEntry::Endbr);
        assert_eq!(classify([0x66, 0x0f, 0x1f, 0x00]), FunctionEntry::Sealed);
        // push %rbp; mov %rsp,%rbp: an ordinary function start.
        assert_eq!(classify([0x55, 0x48, 0x89, 0xe5]), FunctionEntry::Plain);
        assert_eq!(classify([0x0f, 0x1e, 0xfa, 0xf3]), FunctionEntry::Plain);
    }

    #[test]
    fn kprobe_address_is_moved_back_over_endbr_only() {
        let endbr = Some([0xf3, 0x0f, 0x1e, 0xfa]);
        let sealed = Some([0x66, 0x0f, 0x1f, 0x00]);
        let code = Some([0xcc, 0xcc, 0xcc, 0xcc]);
        assert_eq!(function_start_from_kprobe(0x1004, endbr), 0x1000);
        assert_eq!(function_start_from_kprobe(0x1004, sealed), 0x1000);
        assert_eq!(function_start_from_kprobe(0x1004, code), 0x1004);
        assert_eq!(function_start_from_kprobe(0x1004, None), 0x1004);
        assert_eq!(function_start_from_kprobe(2, endbr), 0);
    }

    #[test]
    fn bti_call_targets_are_told_from_other_instructions() {
        for word in [0xd503_245f, 0xd503_24df, 0xd503_233f, 0xd503_237f] {
            assert!(is_bti_call_target(word));
        }
        // nop, bti (no target), bti j: not landing pads for calls.
        for word in [0xd503_201f, 0xd503_241f, 0xd503_249f] {
            assert!(!is_bti_call_target(word));
        }
        // stp x29, x30, [sp, #-16]!: an ordinary function start.
        assert!(!is_bti_call_target(0xa9bf_7bfd));
    }

    #[test]
    fn sealed_functions_are_refused_only_where_ibt_is_enforced() {
        use FunctionEntry::*;
        for entry in [Endbr, Sealed, Plain] {
            assert!(indirect_call_allowed(entry, false, false));
            assert!(indirect_call_allowed(entry, false, true));
            assert!(indirect_call_allowed(entry, true, false));
        }
        assert!(indirect_call_allowed(Endbr, true, true));
        assert!(!indirect_call_allowed(Sealed, true, true));
        assert!(!indirect_call_allowed(Plain, true, true));
    }
}
