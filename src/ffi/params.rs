// SPDX-License-Identifier: GPL-2.0

//! The module parameter table (`__param` section), its `.modinfo` descriptions, and the
//! lock that serialises every access to the module's control state.
//!
//! The kernel calls a parameter's `set` and `get` with the module's `param_lock` held:
//! at load time (`parse_args()`) and through sysfs (`param_attr_show()`/`_store()`).
//! Module init and exit take the same lock with [`with_param_lock()`], so that one mutex
//! guards the [`Control`] state wherever it is used.

use super::bindings;
use crate::control::Control;
use crate::logic::text::{write_list, BufWriter};
use core::cell::UnsafeCell;
use core::fmt::Write;
use kernel::c_str;
use kernel::ffi::{c_char, c_int};
use kernel::prelude::*;
use kernel::str::CStr;

/// The control state, accessed only with the module's `param_lock` held.
struct ParamLocked<T>(UnsafeCell<T>);

// SAFETY: Every access goes through `with_param_lock()` or a parameter callback, both of
// which hold the module's `param_lock` mutex, so accesses never overlap; `T: Send`
// because they happen on different threads.
unsafe impl<T: Send> Sync for ParamLocked<T> {}

static CONTROL: ParamLocked<Control> = ParamLocked(UnsafeCell::new(Control::new()));

/// Runs `f` on the control state with the module's `param_lock` held.
pub(crate) fn with_param_lock<R>(module: &ThisModule, f: impl FnOnce(&mut Control) -> R) -> R {
    let module = module.as_ptr().cast::<bindings::module>();
    // SAFETY: `module` is this module, alive while its init or exit runs.
    unsafe { bindings::kernel_param_lock(module) };
    // SAFETY: The lock is held (see `ParamLocked`), so this is the only reference.
    let result = f(unsafe { &mut *CONTROL.0.get() });
    // SAFETY: Taken above.
    unsafe { bindings::kernel_param_unlock(module) };
    result
}

/// The control state from inside a parameter callback.
///
/// # Safety
///
/// Only for `set`/`get` callbacks of this module's parameters, which the kernel calls
/// with the module's `param_lock` held; the reference must not outlive the callback.
unsafe fn locked_control<'a>() -> &'a mut Control {
    // SAFETY: The caller holds the lock (see above), so no other reference exists.
    unsafe { &mut *CONTROL.0.get() }
}

/// The kernel's own `kstrtobool()`, to test [`crate::logic::bool_param`] against.
#[cfg(CONFIG_KUNIT)]
pub(crate) fn kernel_kstrtobool(input: &CStr) -> Option<bool> {
    let mut value = false;
    // SAFETY: `input` is NUL-terminated and `value` is a valid `bool` to write to.
    let ret = unsafe { bindings::kstrtobool(input.as_char_ptr(), &mut value) };
    (ret == 0).then_some(value)
}

/// The page that sysfs hands to a getter.
///
/// # Safety
///
/// `buffer` must be the `PAGE_SIZE` buffer of a `kernel_param_ops::get` call.
unsafe fn getter_page<'a>(buffer: *mut c_char) -> &'a mut [u8] {
    // SAFETY: Per the caller's contract, `buffer` is valid for `PAGE_SIZE` bytes.
    unsafe { core::slice::from_raw_parts_mut(buffer.cast::<u8>(), kernel::page::PAGE_SIZE) }
}

/// Formats a getter's output; the kernel wants the byte count or a negative errno.
fn format_into(page: &mut [u8], f: impl FnOnce(&mut BufWriter<'_>) -> core::fmt::Result) -> c_int {
    let mut out = BufWriter::new(page);
    match f(&mut out) {
        Ok(()) => c_int::try_from(out.len()).unwrap_or(0),
        Err(_) => EINVAL.to_errno(),
    }
}

/// `set` of `enabled`.
///
/// # Safety
///
/// Called by the kernel only, with the module's `param_lock` held and `value` NULL or a
/// NUL-terminated string.
unsafe extern "C" fn enabled_set(
    value: *const c_char,
    _kp: *const bindings::kernel_param,
) -> c_int {
    // A bare `damon_stat.enabled` (no value) comes as NULL, as for `param_set_bool()`.
    // SAFETY: A non-null value is a NUL-terminated string that outlives this call.
    let input = (!value.is_null()).then(|| unsafe { CStr::from_char_ptr(value) }.as_bytes());
    // SAFETY: A parameter callback, called with the lock held.
    match unsafe { locked_control() }.set_enabled(input) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// `get` of `enabled`.
///
/// # Safety
///
/// Called by the kernel only, with the module's `param_lock` held and `buffer` a
/// `PAGE_SIZE` buffer.
unsafe extern "C" fn enabled_get(buffer: *mut c_char, _kp: *const bindings::kernel_param) -> c_int {
    // SAFETY: A parameter callback, called with the lock held.
    let enabled = unsafe { locked_control() }.is_enabled();
    // SAFETY: `buffer` is the getter's page.
    format_into(unsafe { getter_page(buffer) }, |out| {
        out.write_str(if enabled { "Y\n" } else { "N\n" })
    })
}

/// `get` of `estimated_memory_bandwidth`.
///
/// # Safety
///
/// Called by the kernel only, with the module's `param_lock` held and `buffer` a
/// `PAGE_SIZE` buffer.
unsafe extern "C" fn bandwidth_get(
    buffer: *mut c_char,
    _kp: *const bindings::kernel_param,
) -> c_int {
    let results = crate::monitor::RESULTS.read();
    // SAFETY: `buffer` is the getter's page.
    format_into(unsafe { getter_page(buffer) }, |out| {
        writeln!(out, "{}", results.bandwidth)
    })
}

/// `get` of `memory_idle_ms_percentiles`.
///
/// # Safety
///
/// Called by the kernel only, with the module's `param_lock` held and `buffer` a
/// `PAGE_SIZE` buffer.
unsafe extern "C" fn percentiles_get(
    buffer: *mut c_char,
    _kp: *const bindings::kernel_param,
) -> c_int {
    // One read of the published set: the 101 values come from the same refresh.
    let results = crate::monitor::RESULTS.read();
    // SAFETY: `buffer` is the getter's page.
    format_into(unsafe { getter_page(buffer) }, |out| {
        write_list(out, &results.idle_ms_percentiles)
    })
}

/// `get` of `aggr_interval_us`.
///
/// # Safety
///
/// Called by the kernel only, with the module's `param_lock` held and `buffer` a
/// `PAGE_SIZE` buffer.
unsafe extern "C" fn aggr_interval_get(
    buffer: *mut c_char,
    _kp: *const bindings::kernel_param,
) -> c_int {
    let results = crate::monitor::RESULTS.read();
    // SAFETY: `buffer` is the getter's page.
    format_into(unsafe { getter_page(buffer) }, |out| {
        writeln!(out, "{}", results.aggr_interval_us)
    })
}

/// `get` of `kdamond_pid`.
///
/// # Safety
///
/// Called by the kernel only, with the module's `param_lock` held and `buffer` a
/// `PAGE_SIZE` buffer.
unsafe extern "C" fn kdamond_pid_get(
    buffer: *mut c_char,
    _kp: *const bindings::kernel_param,
) -> c_int {
    // SAFETY: A parameter callback, called with the lock held.
    let pid = unsafe { locked_control() }.kdamond_pid();
    // SAFETY: `buffer` is the getter's page.
    format_into(unsafe { getter_page(buffer) }, |out| writeln!(out, "{pid}"))
}

/// `KERNEL_PARAM_OPS_FL_NOARG`: a bare `enabled` (no `=value`) is accepted, as for bools.
const OPS_FL_NOARG: u32 = 1;

const fn ops(
    flags: u32,
    set: Option<unsafe extern "C" fn(*const c_char, *const bindings::kernel_param) -> c_int>,
    get: unsafe extern "C" fn(*mut c_char, *const bindings::kernel_param) -> c_int,
) -> bindings::kernel_param_ops {
    bindings::kernel_param_ops {
        flags,
        set,
        get: Some(get),
        free: None,
    }
}

static ENABLED_OPS: bindings::kernel_param_ops = ops(OPS_FL_NOARG, Some(enabled_set), enabled_get);
static BANDWIDTH_OPS: bindings::kernel_param_ops = ops(0, None, bandwidth_get);
static PERCENTILES_OPS: bindings::kernel_param_ops = ops(0, None, percentiles_get);
static AGGR_INTERVAL_OPS: bindings::kernel_param_ops = ops(0, None, aggr_interval_get);
static KDAMOND_PID_OPS: bindings::kernel_param_ops = ops(0, None, kdamond_pid_get);

/// The `__param` section entries of this module, read by the module loader.
#[repr(transparent)]
struct ParamTable<const N: usize>([bindings::kernel_param; N]);

// SAFETY: The table is immutable and only read by the kernel; its pointers refer to
// statics.
unsafe impl<const N: usize> Sync for ParamTable<N> {}

const fn param(
    name: &'static CStr,
    ops: &'static bindings::kernel_param_ops,
    perm: u16,
) -> bindings::kernel_param {
    bindings::kernel_param {
        name: name.as_char_ptr(),
        mod_: crate::THIS_MODULE.as_ptr().cast::<bindings::module>(),
        ops,
        perm,
        level: -1,
        flags: 0,
        __bindgen_anon_1: bindings::kernel_param__bindgen_ty_1 {
            arg: core::ptr::null_mut(),
        },
    }
}

#[link_section = "__param"]
#[used(compiler)]
static PARAMS: ParamTable<5> = ParamTable([
    param(c_str!("enabled"), &ENABLED_OPS, 0o600),
    param(c_str!("estimated_memory_bandwidth"), &BANDWIDTH_OPS, 0o400),
    param(
        c_str!("memory_idle_ms_percentiles"),
        &PERCENTILES_OPS,
        0o400,
    ),
    param(c_str!("aggr_interval_us"), &AGGR_INTERVAL_OPS, 0o400),
    param(c_str!("kdamond_pid"), &KDAMOND_PID_OPS, 0o400),
]);

/// Places a NUL-terminated `key=value` string in `.modinfo`, where `modinfo` reads it.
macro_rules! modinfo {
    ($($name:ident = $text:expr;)*) => {$(
        #[link_section = ".modinfo"]
        #[used(compiler)]
        static $name: [u8; $text.len() + 1] = {
            let text = $text.as_bytes();
            let mut bytes = [0u8; $text.len() + 1];
            let mut i = 0;
            while i < text.len() {
                bytes[i] = text[i];
                i += 1;
            }
            bytes
        };
    )*};
}

modinfo! {
    PARM_ENABLED = "parm=enabled:Enable or disable DAMON_STAT (Y/N; reads whether kdamond really runs)";
    TYPE_ENABLED = "parmtype=enabled:bool";
    PARM_BANDWIDTH = "parm=estimated_memory_bandwidth:Estimated memory bandwidth usage in bytes per second";
    TYPE_BANDWIDTH = "parmtype=estimated_memory_bandwidth:ulong";
    PARM_PERCENTILES = "parm=memory_idle_ms_percentiles:Memory idle time percentiles p0..p100 in milliseconds (negative: accessed for that long)";
    TYPE_PERCENTILES = "parmtype=memory_idle_ms_percentiles:array of long";
    PARM_AGGR = "parm=aggr_interval_us:Current auto-tuned DAMON aggregation interval in microseconds";
    TYPE_AGGR = "parmtype=aggr_interval_us:ulong";
    PARM_PID = "parm=kdamond_pid:PID of the kdamond thread, -1 when not running";
    TYPE_PID = "parmtype=kdamond_pid:long";
}
