// SPDX-License-Identifier: GPL-2.0

//! `damon-stat-exporter`: DAMON_STAT's statistics for Prometheus.
//!
//! Reads `/sys/module/damon_stat/parameters/` on every scrape, so that one binary serves a
//! fleet of mixed kernels: damon_stat on 6.12 and upstream's built-in DAMON_STAT on 6.17
//! and later publish the same files.

pub mod breakdown;
pub mod metrics;
pub mod stats;
pub mod textfile;
