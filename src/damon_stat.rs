// SPDX-License-Identifier: GPL-2.0

//! DAMON_STAT for Linux 6.12, as a loadable module.
//!
//! Runs DAMON over all physical memory with auto-tuned monitoring intervals and exposes
//! simple statistics as module parameters under `/sys/module/damon_stat/parameters/`:
//! `enabled`, `estimated_memory_bandwidth`, `memory_idle_ms_percentiles`,
//! `aggr_interval_us` and `kdamond_pid`. See `Documentation/admin-guide.rst`.
//!
//! Layout: [`ffi`] is the only place with `unsafe` code (bindings, symbol resolution,
//! parameter tables, DAMON callbacks, KUnit tables). [`logic`] is kernel-free and also
//! tested on the host. [`monitor`] and [`control`] are safe Rust on top of both.

use kernel::prelude::*;

mod control;
mod ffi;
pub mod logic;
mod monitor;
#[cfg(CONFIG_KUNIT)]
mod tests;

module! {
    type: DamonStatModule,
    name: "damon_stat",
    author: "damon_stat developers",
    description: "DAMON-based access monitoring statistics (DAMON_STAT for 6.12)",
    license: "GPL",
}

struct DamonStatModule;

impl kernel::Module for DamonStatModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        // Every DAMON function is resolved here, so a kernel that lacks one fails the
        // load with a message naming it rather than crashing later.
        let api = ffi::damon::DamonApi::resolve()?;
        ffi::params::with_param_lock(module, |control| control.init(api))?;
        Ok(DamonStatModule)
    }
}

impl Drop for DamonStatModule {
    fn drop(&mut self) {
        ffi::params::with_param_lock(&THIS_MODULE, |control| control.exit());
    }
}
