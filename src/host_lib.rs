// SPDX-License-Identifier: GPL-2.0

//! Host build of the kernel-free logic of `damon_stat`.
//!
//! The kernel module compiles `src/logic/` as one of its own modules. This crate root
//! exists only so that the very same files can be unit-tested, linted and benchmarked on
//! the host with cargo.

#![no_std]
// The lints the kernel's top-level Makefile enables for all Rust code.
#![warn(missing_docs, rust_2018_idioms, unreachable_pub)]
#![warn(
    clippy::all,
    clippy::float_arithmetic,
    clippy::ignored_unit_patterns,
    clippy::mut_mut,
    clippy::needless_bitwise_bool,
    clippy::undocumented_unsafe_blocks
)]
// Stricter than the kernel: with `CONFIG_RUST_OVERFLOW_CHECKS=y` any overflow, failed
// bounds check or unwrap panics the kernel, so the non-test code must have none of them.
#![cfg_attr(
    not(test),
    warn(
        clippy::arithmetic_side_effects,
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented,
        clippy::cast_possible_truncation,
        clippy::cast_possible_wrap,
        clippy::cast_sign_loss
    )
)]

#[cfg(test)]
extern crate std;

#[path = "logic/mod.rs"]
pub mod logic;
