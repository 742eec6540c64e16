// SPDX-License-Identifier: GPL-2.0

//! Kernel-free logic of `damon_stat`.
//!
//! Everything below this module uses `core` only: no allocation, no floating point, no
//! `u128` division and no operation that can panic. The kernel module and the host tests
//! and benchmarks (`cargo test`, `cargo bench`) share these files unchanged.

pub mod bandwidth;
pub mod bool_param;
pub mod cost;
pub mod endbr;
pub mod percentiles;
pub mod published;
pub mod refresh;
pub mod region;
pub mod text;
pub mod tuner;
