// SPDX-License-Identifier: GPL-2.0
//! A QEMU TCG plugin for the benchmarks: it counts the guest instructions that each vCPU
//! executes, and writes the counts out whenever the guest executes a marker instruction.
//!
//! Load it with `-plugin PATH/libdamon_stat_tcg_plugin.so,out=FILE[,profile_vcpu=N][,truth_mib=M]`.
//!
//! - Every translation block gets an execution callback that adds its instruction count
//!   to the counter of the vCPU running it. Each vCPU thread writes only its own
//!   counter, on a cache line of its own, so the callback needs no atomic read-modify-write
//!   and no lock.
//! - A marker is the 7-byte no-op `nopl 0xda57TTTT(%rax)` ([`marker`]): harmless on any
//!   x86 CPU, never emitted by a compiler (whose padding no-ops carry a zero
//!   displacement), and seen by the plugin at translation time without reading a
//!   register (which plugin API v1 cannot do). When a marker executes, one line goes to
//!   `out` ([`report::mark_line`]): the marker's sequence number, its tag, the vCPU that
//!   ran it, host nanoseconds since load, and every vCPU's count.
//! - With `profile_vcpu=N`, vCPU N's executions are also counted per translation block; a
//!   marker with tag [`marker::TAG_PROFILE`] writes them (aggregated by guest address,
//!   [`report::profile_lines`]) and starts them again from zero. The host maps the
//!   addresses to kernel symbols.
//!
//! - With `truth_mib=M`, every guest load and store of the first M MiB of guest-physical
//!   memory also records the time of the access to its 4 KiB frame ([`truth`]); the
//!   truth's markers ([`marker::TAG_TRUTH`] and the others) write what it says.
//!
//! A block's instructions are counted when it starts, so an exception in the middle of a
//! block (a page fault, for instance) counts the rest of it too: the counts are exact for
//! straight-line code and an upper bound by the faulting blocks' tails otherwise.

pub mod marker;
pub mod report;
pub mod truth;

// Not in the host tests: those link no QEMU, which the plugin's callbacks call into.
#[cfg(not(test))]
mod plugin;
