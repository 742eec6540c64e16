// SPDX-License-Identifier: GPL-2.0

//! The module's one unsafe layer: everything that touches C goes through here.
//!
//! - [`bindings`]: types and declarations generated from the target kernel tree.
//! - [`symbols`]: finds the unexported DAMON functions through `kallsyms_lookup_name`.
//! - [`damon`]: typed DAMON contexts whose states make misuse impossible.
//! - [`params`]: the module parameter table and the lock that guards it.
//! - [`kunit`]: KUnit suites written in Rust (6.12 has no `#[kunit_tests]`).
//!
//! Code above this layer is safe Rust.

pub(crate) mod bindings;
pub(crate) mod damon;
#[cfg(CONFIG_KUNIT)]
pub(crate) mod kunit;
pub(crate) mod params;
pub(crate) mod symbols;
