// SPDX-License-Identifier: GPL-2.0

//! The module's one unsafe layer: everything that touches C goes through here.
//!
//! - [`bindings`]: types and declarations generated from the target kernel tree.
//! - `symbols`: finds the unexported DAMON functions through `kallsyms_lookup_name`
//!   (kallsyms mode only; the linked mode has no use for it, see [`damon`]).
//! - [`damon`]: typed DAMON contexts whose states make misuse impossible.
//! - [`iomem`]: where System RAM is.
//! - [`probe`]: what the memory at an address is, where the NUMA nodes are (through the
//!   C helpers of `helpers.c`, for what the kernel has only as inline functions).
//! - [`sysfs`]: read-only sysfs directories of text files over a trait.
//! - [`params`]: module parameters over a trait, their table, and the lock that guards
//!   them.
//! - [`kunit`]: KUnit suites written in Rust (6.12 has no `#[kunit_tests]`), in the test
//!   build only.
//!
//! Nothing here knows the product (its parameters, its control state, its results):
//! `crate::params`, `crate::control` and `crate::monitor` are safe Rust on top of this
//! layer and of `crate::logic`.

pub(crate) mod bindings;
pub(crate) mod damon;
pub(crate) mod iomem;
#[cfg(damon_stat_kunit)]
pub(crate) mod kunit;
pub(crate) mod params;
pub(crate) mod probe;
#[cfg(not(damon_stat_linked))]
pub(crate) mod symbols;
pub(crate) mod sysfs;
