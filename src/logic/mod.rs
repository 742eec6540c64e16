// SPDX-License-Identifier: GPL-2.0

//! Kernel-free logic of `damon_stat`.
//!
//! Everything below this module uses `core` only: no allocation, no floating point, no
//! `u128` division and no operation that can panic. The kernel module and the host tests
//! and benchmarks (`cargo test`, `cargo bench`) share these files unchanged.
//!
//! The module users install carries no test-only item: what only tests use is compiled
//! for `#[cfg(any(not(MODULE), damon_stat_kunit))]`, the host crate and the test module.
//! `xorshift.rs`, a generator for tests, is included with `#[path]` by its users.

pub mod bandwidth;
pub mod bool_param;
pub mod breakdown;
pub mod damon_values;
// The kallsyms mode's IBT checks; the linked mode makes no indirect call into DAMON.
#[cfg(not(damon_stat_linked))]
pub mod endbr;
pub mod param_format;
pub mod percentiles;
pub mod published;
pub mod refresh;
pub mod span;
pub mod timing;
pub mod tuner;
