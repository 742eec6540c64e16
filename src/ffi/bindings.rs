// SPDX-License-Identifier: GPL-2.0

//! The DAMON and kprobe bindings, generated at build time from the target kernel tree.
//!
//! `bindings/generate.py` runs bindgen on `bindings/damon_wrapper.h` with the kernel's
//! own flags; `bindings/allowlist` says what is included: only what `kernel::bindings`
//! lacks, with the C types these items refer to imported from there. Declarations of
//! unexported functions are only used for their types: calling them directly would fail
//! at modpost.

// Generated code: the lints of hand-written code do not apply to it, and which of them
// would fire depends on the kernel configuration and architecture (arm64's
// `kprobe_opcode_t` is a `u32`, so the `u8_` import goes unused), so `#[expect]` cannot be
// used.
#![allow(
    clippy::all,
    clippy::undocumented_unsafe_blocks,
    dead_code,
    missing_docs,
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    improper_ctypes,
    unreachable_pub,
    unsafe_op_in_unsafe_fn,
    unused_imports
)]

include!("../damon_bindings_generated.rs");
