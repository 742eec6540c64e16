// SPDX-License-Identifier: GPL-2.0

//! The module's parameters under `/sys/module/damon_stat/parameters/`: what each shows,
//! what writing `enabled` does, and the control state they share.

use crate::control::Control;
use crate::ffi::damon::DamonApi;
use crate::ffi::params::{
    module_params, with_param_lock, Param, ParamCell, ParamLock, WritableParam,
};
use crate::logic::param_format::{write_list, ParamWriter};
use crate::logic::published::Results;
use crate::monitor::RESULTS;
use core::fmt::{self, Write};
use kernel::prelude::*;

/// The state behind `enabled` and `kdamond_pid`, guarded by the module's `param_lock`.
static CONTROL: ParamCell<Control> = ParamCell::new(Control::new());

/// Module init: from now on `enabled` acts at once (see [`Control::init()`]).
pub(crate) fn init(module: &ThisModule, api: DamonApi) -> Result {
    with_param_lock(module, |lock| CONTROL.get(lock).init(api))
}

/// Module exit: stops monitoring and frees everything.
pub(crate) fn exit(module: &ThisModule) {
    with_param_lock(module, |lock| CONTROL.get(lock).exit());
}

/// `enabled`: whether kdamond runs; writing it starts or stops monitoring.
struct Enabled;

impl Param for Enabled {
    fn show(lock: &mut ParamLock, out: &mut ParamWriter<'_>) -> fmt::Result {
        out.write_str(if CONTROL.get(lock).is_enabled() {
            "Y\n"
        } else {
            "N\n"
        })
    }
}

impl WritableParam for Enabled {
    fn store(lock: &mut ParamLock, input: Option<&[u8]>) -> Result {
        CONTROL.get(lock).set_enabled(input)
    }
}

/// `kdamond_pid`: kdamond's PID, -1 when it does not run.
struct KdamondPid;

impl Param for KdamondPid {
    fn show(lock: &mut ParamLock, out: &mut ParamWriter<'_>) -> fmt::Result {
        writeln!(out, "{}", CONTROL.get(lock).kdamond_pid())
    }
}

/// A parameter that shows part of the published results, read without locks.
trait ResultParam {
    /// Writes this parameter's part of `results`.
    fn show_result(results: &Results, out: &mut ParamWriter<'_>) -> fmt::Result;
}

impl<P: ResultParam> Param for P {
    fn show(_lock: &mut ParamLock, out: &mut ParamWriter<'_>) -> fmt::Result {
        // One read of the published set: a parameter's values come from one refresh.
        P::show_result(&RESULTS.read(), out)
    }
}

/// `estimated_memory_bandwidth`, in bytes per second.
struct EstimatedMemoryBandwidth;

impl ResultParam for EstimatedMemoryBandwidth {
    fn show_result(results: &Results, out: &mut ParamWriter<'_>) -> fmt::Result {
        writeln!(out, "{}", results.bandwidth)
    }
}

/// `memory_idle_ms_percentiles`: p0..p100, as the kernel prints an array parameter.
struct MemoryIdleMsPercentiles;

impl ResultParam for MemoryIdleMsPercentiles {
    fn show_result(results: &Results, out: &mut ParamWriter<'_>) -> fmt::Result {
        write_list(out, &results.idle_ms_percentiles)
    }
}

/// `aggr_interval_us`: the auto-tuned aggregation interval.
struct AggrIntervalUs;

impl ResultParam for AggrIntervalUs {
    fn show_result(results: &Results, out: &mut ParamWriter<'_>) -> fmt::Result {
        writeln!(out, "{}", results.aggr_interval_us)
    }
}

module_params! {
    Enabled: "enabled", writable 0o600, "bool",
        "Enable or disable DAMON_STAT (Y/N; reads whether kdamond really runs)";
    EstimatedMemoryBandwidth: "estimated_memory_bandwidth", read_only 0o400, "ulong",
        "Estimated memory bandwidth usage in bytes per second";
    MemoryIdleMsPercentiles: "memory_idle_ms_percentiles", read_only 0o400, "array of long",
        "Memory idle time percentiles p0..p100 in milliseconds (negative: accessed for that long)";
    AggrIntervalUs: "aggr_interval_us", read_only 0o400, "ulong",
        "Current auto-tuned DAMON aggregation interval in microseconds";
    KdamondPid: "kdamond_pid", read_only 0o400, "long",
        "PID of the kdamond thread, -1 when not running";
}
