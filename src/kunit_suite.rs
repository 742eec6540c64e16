// SPDX-License-Identifier: GPL-2.0

//! The module's KUnit suite `damon_stat`: the foundation layer against the real kernel
//! (symbol resolution, IBT checks, context construction) and the shared logic in-kernel.
//!
//! Only in the test build (`make module KUNIT=1`). KUnit runs it when that module is
//! loaded; `make check` fails on any `not ok`.

use crate::ffi::damon::{AggregationHandler, Context, DamonApi, Running, Window};
use crate::ffi::iomem::system_ram_span;
use crate::ffi::kunit::{
    kernel_kstrtobool, kunit_expect, kunit_expect_eq, kunit_suite, sleep_ms, CaseError, CaseResult,
    Test,
};
#[cfg(damon_stat_linked)]
use crate::ffi::kunit::{kernel_symbol_at, SymbolText};
use crate::ffi::probe;
#[cfg(not(damon_stat_linked))]
use crate::ffi::symbols::{self, Kallsyms};
use crate::logic::bool_param::parse_bool;
use crate::logic::damon_values::{Attrs, Intervals, RegionSample};
#[cfg(not(damon_stat_linked))]
use crate::logic::endbr::{self, FunctionEntry};
use crate::logic::percentiles::NR_PERCENTILES;
use crate::logic::published::{Published, Results};
use crate::logic::tuner::{IntervalsGoal, Tuner};
use crate::monitor::{StatHandler, ATTRS};
#[cfg(not(damon_stat_linked))]
use kernel::c_str;
#[cfg(not(damon_stat_linked))]
use kernel::error::code::EPERM;
use kernel::error::code::{EBUSY, EINTR, EINVAL, ENODEV};
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::time::Ktime;

#[path = "logic/xorshift.rs"]
mod xorshift;
use xorshift::XorShift64;

/// The suite: the cases of this build's link mode (see `crate::ffi::damon`), then the
/// ones every build runs.
macro_rules! damon_stat_suite {
    ($($mode_case:ident),*) => {
        kunit_suite!(
            "damon_stat",
            [
                $($mode_case,)*
                system_ram_span_covers_memory,
                node_spans_cover_system_ram,
                probe_finds_folios_in_ram_and_none_beyond,
                paddr_context_is_built_and_freed,
                kdamond_stopped_right_after_start_is_reaped,
                kdamond_that_stops_on_its_own_is_reaped,
                context_rejects_an_empty_range,
                parse_bool_matches_kstrtobool,
                refresh_computes_percentiles_and_bandwidth,
                refresh_of_max_regions_is_well_formed_and_timed,
                tuner_doubles_intervals_without_accesses,
                published_results_read_back_whole,
            ]
        );
    };
}

#[cfg(not(damon_stat_linked))]
damon_stat_suite!(
    kallsyms_is_found_through_a_kprobe,
    every_damon_function_resolves,
    resolved_entries_match_the_ibt_build,
    sealed_functions_are_refused_when_ibt_is_enforced,
    missing_symbols_fail_cleanly
);

#[cfg(damon_stat_linked)]
damon_stat_suite!(damon_calls_reach_the_kernels_functions);

/// In the linked mode the module loader resolved every DAMON call: each one must land at
/// the start of the kernel's function of the same name.
#[cfg(damon_stat_linked)]
fn damon_calls_reach_the_kernels_functions(test: &mut Test) -> CaseResult {
    let mut text = KBox::<SymbolText>::new([0; 1024], GFP_KERNEL).map_err(Error::from)?;
    for (name, addr) in DamonApi::linked_addresses() {
        let printed = kernel_symbol_at(addr, &mut text);
        // "damon_start+0x0/0x1a0": the name, then offset 0.
        let at_start = printed.starts_with(name.as_bytes())
            && printed
                .get(name.len()..)
                .is_some_and(|rest| rest.starts_with(b"+0x0/"));
        if !at_start {
            pr_err!(
                "kunit: {} is linked to {}\n",
                name,
                core::str::from_utf8(printed).unwrap_or("?")
            );
        }
        kunit_expect!(test, at_start);
    }
    Ok(())
}

#[cfg(not(damon_stat_linked))]
fn kallsyms_is_found_through_a_kprobe(test: &mut Test) -> CaseResult {
    let kallsyms = Kallsyms::find()?;
    // Where the kprobe led (moved back over ENDBR64 on IBT kernels) against where
    // kallsyms itself says kallsyms_lookup_name starts: a wrong adjustment disagrees.
    let by_name = kallsyms.function_address(c_str!("kallsyms_lookup_name"))?;
    kunit_expect_eq!(test, kallsyms.lookup_name_address(), by_name);
    kunit_expect!(test, callable_under_bti(by_name));
    Ok(())
}

/// On arm64 kernels built with BTI, whether the function at `addr`, which the module
/// calls through a pointer, starts with a landing pad (the arm64 guest's CPU, QEMU's
/// `max`, enforces BTI); elsewhere true.
#[cfg(not(damon_stat_linked))]
fn callable_under_bti(addr: usize) -> bool {
    !cfg!(CONFIG_ARM64_BTI_KERNEL)
        || symbols::read_text(addr)
            .is_some_and(|b| endbr::is_bti_call_target(u32::from_le_bytes(b)))
}

#[cfg(not(damon_stat_linked))]
fn every_damon_function_resolves(test: &mut Test) -> CaseResult {
    kunit_expect!(test, DamonApi::resolve().is_ok());
    let kallsyms = Kallsyms::find()?;
    let mut name_buf = [0u8; 64];
    for name in DamonApi::SYMBOLS {
        let name = c_name(name, &mut name_buf).ok_or(EINVAL)?;
        let addr = kallsyms.function_address(name);
        kunit_expect!(test, addr.is_ok_and(|a| a != 0));
        kunit_expect!(test, addr.is_ok_and(callable_under_bti));
    }
    Ok(())
}

/// Copies `name` into `buf` with a NUL terminator.
#[cfg(not(damon_stat_linked))]
fn c_name<'a>(name: &str, buf: &'a mut [u8; 64]) -> Option<&'a CStr> {
    let len = name.len();
    let dst = buf.get_mut(..len)?;
    dst.copy_from_slice(name.as_bytes());
    *buf.get_mut(len)? = 0;
    CStr::from_bytes_with_nul(buf.get(..=len)?).ok()
}

#[cfg(not(damon_stat_linked))]
fn resolved_entries_match_the_ibt_build(test: &mut Test) -> CaseResult {
    let addr = Kallsyms::find()?.function_address(c_str!("damon_new_ctx"))?;
    let entry = symbols::entry_of(addr);
    if cfg!(CONFIG_X86_KERNEL_IBT) {
        // Only ever called directly, so its ENDBR64 was sealed at boot.
        kunit_expect_eq!(test, entry, Some(FunctionEntry::Sealed));
    } else {
        kunit_expect_eq!(test, entry, Some(FunctionEntry::Plain));
    }
    Ok(())
}

#[cfg(not(damon_stat_linked))]
fn sealed_functions_are_refused_when_ibt_is_enforced(test: &mut Test) -> CaseResult {
    // TCG does not enforce IBT, so the enforcing CPU is simulated; the function and its
    // bytes are real.
    let name = c_str!("damon_start");
    let addr = Kallsyms::find()?.function_address(name)?;
    kunit_expect!(test, symbols::check_callable_on(name, addr, false).is_ok());
    let enforced = symbols::check_callable_on(name, addr, true);
    if cfg!(CONFIG_X86_KERNEL_IBT) {
        kunit_expect!(test, enforced == Err(EPERM));
    } else {
        kunit_expect!(test, enforced.is_ok());
    }
    kunit_expect!(
        test,
        !endbr::indirect_call_allowed(FunctionEntry::Sealed, true, true)
    );
    Ok(())
}

#[cfg(not(damon_stat_linked))]
fn missing_symbols_fail_cleanly(test: &mut Test) -> CaseResult {
    let kallsyms = Kallsyms::find()?;
    kunit_expect!(
        test,
        kallsyms
            .function_address(c_str!("damon_stat_no_such_function"))
            .is_err()
    );
    Ok(())
}

fn system_ram_span_covers_memory(test: &mut Test) -> CaseResult {
    let (start, end) = system_ram_span().ok_or(ENODEV)?;
    kunit_expect!(test, start < end);
    // The guest has at least 64 MiB of RAM.
    kunit_expect!(test, end - start >= 64 << 20);
    Ok(())
}

fn node_spans_cover_system_ram(test: &mut Test) -> CaseResult {
    let (start, end) = system_ram_span().ok_or(ENODEV)?;
    let nodes = probe::nr_node_ids();
    kunit_expect!(test, nodes >= 1);
    // Every node with memory lies within the RAM span, and together they reach both ends.
    let (mut lo, mut hi) = (u64::MAX, 0u64);
    for nid in 0..nodes {
        if let Some((s, e)) = probe::node_span(nid) {
            kunit_expect!(test, s < e);
            lo = lo.min(s);
            hi = hi.max(e);
        }
    }
    kunit_expect!(test, lo <= start);
    kunit_expect!(test, hi >= end);
    // Not a node: no span, no crash.
    kunit_expect!(test, probe::node_span(nodes).is_none());
    kunit_expect!(test, probe::node_span(usize::MAX).is_none());
    Ok(())
}

fn probe_finds_folios_in_ram_and_none_beyond(test: &mut Test) -> CaseResult {
    let (start, end) = system_ram_span().ok_or(ENODEV)?;
    // 64 addresses across RAM: the kernel's own memory and the page cache are in use, so
    // some hold a folio with a reference count.
    let step = (end - start) / 64;
    let found = (0..64u64)
        .filter(|k| probe::folio_at(start + k * step).is_some())
        .count();
    kunit_expect!(test, found > 0);
    // Beyond the end of RAM there is no page: `None`, not a crash.
    kunit_expect!(test, probe::folio_at(end + (1 << 30)).is_none());
    kunit_expect!(test, probe::folio_at(!0xfff).is_none());
    Ok(())
}

fn paddr_context_is_built_and_freed(test: &mut Test) -> CaseResult {
    let api = DamonApi::resolve()?;
    let span = system_ram_span().ok_or(ENODEV)?;
    let context = Context::new_paddr(api, ATTRS, span, StatHandler::new()?);
    kunit_expect!(test, context.is_ok());
    // Dropping it frees the context, its target and its regions.
    Ok(())
}

/// Counts its aggregation windows and stops kdamond at the end of the first one.
struct StopAtFirstWindow {
    windows: u32,
}

impl AggregationHandler for StopAtFirstWindow {
    fn after_aggregation(&mut self, _window: &mut Window<'_>) -> Result {
        self.windows = self.windows.saturating_add(1);
        // A non-zero return from the callback makes kdamond leave its loop and exit.
        Err(EINTR)
    }
}

/// Starts a context over all System RAM whose kdamond stops after one window of 2 ms.
///
/// `None` (and the test skipped) when another DAMON user runs: damon_stat itself when it
/// was loaded with `enabled=Y`, since its monitoring is exclusive.
fn start_stop_at_first_window(
    test: &mut Test,
) -> Result<Option<Running<StopAtFirstWindow>>, CaseError> {
    let api = DamonApi::resolve()?;
    let span = system_ram_span().ok_or(ENODEV)?;
    let attrs = Attrs {
        intervals: Intervals {
            sample_us: 1_000,
            aggr_us: 2_000,
        },
        ops_update_us: 60_000_000,
        min_nr_regions: 3,
        max_nr_regions: 10,
    };
    let context = Context::new_paddr(api, attrs, span, StopAtFirstWindow { windows: 0 })?;
    match context.start() {
        Ok(running) => Ok(Some(running)),
        Err(e) if e == EBUSY => {
            test.skip("another DAMON user runs (damon_stat loaded with enabled=Y?)");
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

fn kdamond_stopped_right_after_start_is_reaped(test: &mut Test) -> CaseResult {
    let Some(running) = start_stop_at_first_window(test)? else {
        return Ok(());
    };
    kunit_expect!(test, running.kdamond_pid().is_some());
    // Stopped at once, maybe before kdamond got to `before_start`: `stop()` must still
    // wait for its exit and hand the context back, which is then freed.
    let stopped = running.stop();
    kunit_expect!(test, stopped.handler().windows <= 1);
    Ok(())
}

fn kdamond_that_stops_on_its_own_is_reaped(test: &mut Test) -> CaseResult {
    let Some(running) = start_stop_at_first_window(test)? else {
        return Ok(());
    };
    // The first window ends after 2 ms; give kdamond 2 s to end on its own.
    let mut waited_ms = 0;
    while running.is_running() && waited_ms < 2_000 {
        sleep_ms(10);
        waited_ms += 10;
    }
    kunit_expect!(test, !running.is_running());
    kunit_expect_eq!(test, running.kdamond_pid(), None);
    // The exited kdamond is reaped (its exit waited for, once) and the context freed.
    let stopped = running.stop();
    kunit_expect_eq!(test, stopped.handler().windows, 1u32);
    Ok(())
}

fn context_rejects_an_empty_range(test: &mut Test) -> CaseResult {
    let api = DamonApi::resolve()?;
    let context = Context::new_paddr(api, ATTRS, (1 << 20, 1 << 20), StatHandler::new()?);
    kunit_expect!(test, context.err() == Some(EINVAL));
    Ok(())
}

fn parse_bool_matches_kstrtobool(test: &mut Test) -> CaseResult {
    // Every one- and two-byte input made of the bytes kstrtobool looks at, and some
    // others, against the kernel's own implementation.
    const BYTES: &[u8] = b"yYtT1nNfF0oO2 \n\0x";
    for &first in BYTES {
        for &second in BYTES {
            let input = [first, second, 0];
            let len = input.iter().position(|&b| b == 0).unwrap_or(0);
            let c_input = input.get(..=len).ok_or(EINVAL)?;
            let c_input = CStr::from_bytes_with_nul(c_input).map_err(|_| EINVAL)?;
            let kernels = kernel_kstrtobool(c_input);
            let ours = parse_bool(input.get(..len));
            if ours != kernels {
                test.fail(
                    format_args!(
                        "parse_bool({:?}) = {:?}, kstrtobool = {:?}",
                        input, ours, kernels
                    ),
                    file!(),
                    line!(),
                );
            }
        }
    }
    Ok(())
}

fn refresh_computes_percentiles_and_bandwidth(test: &mut Test) -> CaseResult {
    let mut handler = StatHandler::new()?;
    // 3 regions: 1 MiB accessed 10 times (age 4), 2 MiB idle for 5 windows (age 4), 1 MiB
    // idle for 1 window (age 0).
    let regions = [
        RegionSample::new(0, 1 << 20, 10, 4),
        RegionSample::new(1 << 20, 3 << 20, 0, 4),
        RegionSample::new(3 << 20, 4 << 20, 0, 0),
    ];
    for (slot, region) in handler.regions_mut().iter_mut().zip(regions) {
        *slot = region;
    }
    let intervals = Intervals {
        sample_us: 5_000,
        aggr_us: 100_000,
    };
    let results = handler.compute(regions.len(), intervals).ok_or(EINVAL)?;
    // 1 MiB x 10 accesses per 100 ms = 10 MiB per 0.1 s = 104857600 bytes/s.
    kunit_expect_eq!(test, results.bandwidth, 104_857_600u64);
    kunit_expect_eq!(test, results.aggr_interval_us, 100_000u64);
    let p = &results.idle_ms_percentiles;
    // Sorted: -500 ms (1 MiB, 25 %), 100 ms (1 MiB, 50 %), 500 ms (2 MiB, 100 %).
    kunit_expect_eq!(test, p[0], -500i64);
    kunit_expect_eq!(test, p[25], -500i64);
    kunit_expect_eq!(test, p[26], 100i64);
    kunit_expect_eq!(test, p[50], 100i64);
    kunit_expect_eq!(test, p[51], 500i64);
    kunit_expect_eq!(test, p[NR_PERCENTILES - 1], 500i64);
    kunit_expect!(test, p.windows(2).all(|w| w[0] <= w[1]));
    Ok(())
}

fn refresh_of_max_regions_is_well_formed_and_timed(test: &mut Test) -> CaseResult {
    const RUNS: i64 = 20;
    let mut handler = StatHandler::new()?;
    // `max_nr_regions` contiguous regions of 4 KiB to 4 GiB, about half of them accessed,
    // with pseudo-random ages.
    let n = ATTRS.max_nr_regions as usize;
    let mut rng = XorShift64(0x9e37_79b9_7f4a_7c15);
    let mut start: u64 = 1 << 32;
    for slot in handler.regions_mut().iter_mut().take(n) {
        let x = rng.next();
        let end = start.saturating_add((1 + x % (1 << 20)) * 4096);
        let nr_accesses = if x & 1 == 0 {
            0
        } else {
            (1 + (x >> 8) % 20) as u32
        };
        *slot = RegionSample::new(start, end, nr_accesses, ((x >> 16) % 1000) as u32);
        start = end;
    }
    // Each run redoes the whole refresh (the sort starts again from region order) and
    // publishes, like kdamond; into a local set, not the live one.
    let published = Published::new();
    let begin = Ktime::ktime_get();
    for _ in 0..RUNS {
        if let Some(results) = handler.compute(n, ATTRS.intervals) {
            published.publish(&results);
        }
    }
    let per_run_ns = (Ktime::ktime_get() - begin).to_ns() / RUNS;
    kunit_expect_eq!(test, published.generation(), RUNS as usize);
    let results = published.read();
    let p = &results.idle_ms_percentiles;
    kunit_expect!(test, p.windows(2).all(|w| w[0] <= w[1]));
    kunit_expect!(test, p[0] < 0 && p[NR_PERCENTILES - 1] > 0);
    kunit_expect!(test, results.bandwidth > 0);
    // A figure for the test log, not a pass/fail threshold.
    pr_info!(
        "kunit: refresh of {} regions: {} ns per refresh in the kernel (mean of {} runs)\n",
        n,
        per_run_ns,
        RUNS
    );
    Ok(())
}

fn tuner_doubles_intervals_without_accesses(test: &mut Test) -> CaseResult {
    let mut tuner = Tuner::new(IntervalsGoal::DAMON_STAT, ATTRS.intervals);
    let idle = [RegionSample::new(0, 1 << 30, 0, 0)];
    kunit_expect_eq!(test, tuner.after_aggregation(idle, ATTRS.intervals), None);
    kunit_expect_eq!(test, tuner.after_aggregation(idle, ATTRS.intervals), None);
    kunit_expect_eq!(
        test,
        tuner.after_aggregation(idle, ATTRS.intervals),
        Some(Intervals {
            sample_us: 10_000,
            aggr_us: 200_000
        })
    );
    Ok(())
}

fn published_results_read_back_whole(test: &mut Test) -> CaseResult {
    let published = Published::new();
    kunit_expect_eq!(test, published.read(), Results::ZERO);
    let mut results = Results::ZERO;
    results.bandwidth = 42;
    results.aggr_interval_us = 7;
    for (i, p) in results.idle_ms_percentiles.iter_mut().enumerate() {
        *p = i as i64 - 50;
    }
    published.publish(&results);
    kunit_expect_eq!(test, published.read(), results);
    kunit_expect_eq!(test, published.generation(), 1usize);
    Ok(())
}
