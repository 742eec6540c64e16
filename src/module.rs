// SPDX-License-Identifier: GPL-2.0

//! DAMON_STAT for Linux 6.12, as a loadable module.
//!
//! Runs DAMON over all physical memory with auto-tuned monitoring intervals and exposes
//! simple statistics as module parameters under `/sys/module/damon_stat/parameters/`:
//! `enabled`, `estimated_memory_bandwidth`, `memory_idle_ms_percentiles`,
//! `aggr_interval_us` and `kdamond_pid`. See `Documentation/admin-guide.rst`.
//!
//! Layout: [`ffi`] is the only place with `unsafe` code (bindings, symbol resolution,
//! DAMON contexts and callbacks, the generic parameter layer, KUnit tables) and knows
//! nothing of the product. [`logic`] is kernel-free and also tested on the host.
//! [`params`], [`control`] and [`monitor`] are safe Rust on top of both.
//!
//! The KUnit suite ([`kunit_suite`]) is only in the test build (`make module KUNIT=1`).

use kernel::prelude::*;

mod breakdown;
mod control;
mod ffi;
#[cfg(damon_stat_kunit)]
mod kunit_suite;
// `logic/` is also the host crate's public API (src/host_lib.rs), hence its `pub` items.
#[expect(
    unreachable_pub,
    reason = "the host crate exports what the module keeps private"
)]
mod logic;
mod monitor;
mod params;

module! {
    type: DamonStatModule,
    name: "damon_stat",
    author: "damon_stat developers",
    description: "DAMON-based access monitoring statistics (DAMON_STAT for 6.12)",
    license: "GPL",
}

struct DamonStatModule {
    /// `/sys/module/damon_stat/breakdown/`, removed after monitoring has stopped.
    _breakdown: ffi::sysfs::Dir<breakdown::BreakdownFiles>,
}

impl kernel::Module for DamonStatModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        // Every DAMON function is resolved here, so a kernel that lacks one fails the
        // load with a message naming it rather than crashing later.
        let api = ffi::damon::DamonApi::resolve()?;
        // Before `params::init()`: `enabled=Y` starts kdamond there, and its first refresh
        // may come before init returns.
        let breakdown = breakdown::create(module)?;
        params::init(module, api)?;
        Ok(DamonStatModule {
            _breakdown: breakdown,
        })
    }
}

impl Drop for DamonStatModule {
    fn drop(&mut self) {
        params::exit(&THIS_MODULE);
    }
}
