// SPDX-License-Identifier: GPL-2.0

//! Module parameters with custom `get`/`set`, in the spirit of 6.15+'s
//! `kernel::module_param` (which 6.12 lacks): a trait for what a parameter does, one
//! generic trampoline per direction, the `__param` table and its `.modinfo` descriptions.
//! Nothing here knows which parameters the module has.
//!
//! The kernel calls a parameter's `set` and `get` with the module's `param_lock` held: at
//! load time (`parse_args()`) and through sysfs (`param_attr_show()`/`_store()`). The
//! trampolines hand that fact down as a [`ParamLock`] token, and [`with_param_lock()`]
//! takes the same lock for module init and exit, so a [`ParamCell`] guarded by it is
//! safe to use from all of them.

use crate::logic::param_format::ParamWriter;
use core::cell::UnsafeCell;
use core::fmt;
use core::marker::PhantomData;
use kernel::bindings::{kernel_param, kernel_param_ops};
use kernel::error::{code::EPERM, from_result};
use kernel::ffi::{c_char, c_int};
use kernel::prelude::*;
use kernel::str::CStr;

/// Proof that the current thread holds the module's `param_lock`.
///
/// # Invariants
///
/// A `ParamLock` exists only while the current thread holds this module's `param_lock`,
/// and at most one exists at a time: only [`with_param_lock()`] and the trampolines make
/// one, each for the time it holds the lock (the trampolines run with it held by their
/// caller), and the lock is a mutex.
pub(crate) struct ParamLock {
    /// Not `Send`: the token belongs to the thread that holds the lock.
    _not_send: PhantomData<*mut ()>,
}

impl ParamLock {
    /// Makes the token.
    ///
    /// # Safety
    ///
    /// The current thread must hold the module's `param_lock`, no other token may exist,
    /// and the token must be dropped before the lock is released.
    unsafe fn assume_held() -> Self {
        Self {
            _not_send: PhantomData,
        }
    }
}

/// A value that only the holder of the module's `param_lock` touches.
///
/// # Invariants
///
/// The value is accessed only through [`ParamCell::get()`], that is, with a [`ParamLock`]
/// borrowed for as long as the reference lives.
pub(crate) struct ParamCell<T>(UnsafeCell<T>);

// SAFETY: By the type invariant, every access holds the module's `param_lock` (a mutex) and
// borrows the only `ParamLock` token, so accesses never overlap; `T: Send` because they
// happen on different threads.
unsafe impl<T: Send> Sync for ParamCell<T> {}

impl<T> ParamCell<T> {
    /// A cell holding `value`.
    pub(crate) const fn new(value: T) -> Self {
        // INVARIANT: The value is only reachable through `get()`.
        Self(UnsafeCell::new(value))
    }

    /// The value, for as long as the lock token is borrowed.
    pub(crate) fn get<'a>(&'a self, _lock: &'a mut ParamLock) -> &'a mut T {
        // SAFETY: The lock is held and this call borrows the only token mutably for `'a`
        // (`ParamLock`'s invariant), so no other reference to the value exists for `'a`
        // (`ParamCell`'s invariant).
        unsafe { &mut *self.0.get() }
    }
}

/// Runs `f` with the module's `param_lock` held, as the kernel runs parameter callbacks.
pub(crate) fn with_param_lock<R>(module: &ThisModule, f: impl FnOnce(&mut ParamLock) -> R) -> R {
    // SAFETY: `module` is this module, alive while its init or exit runs.
    unsafe { kernel::bindings::kernel_param_lock(module.as_ptr()) };
    // SAFETY: The lock was taken just above, and the token, a temporary, is dropped
    // before it is released below. No other token exists: the trampolines run with the
    // lock held and no trampoline calls this function.
    let result = f(&mut unsafe { ParamLock::assume_held() });
    // SAFETY: Taken above; the token is gone.
    unsafe { kernel::bindings::kernel_param_unlock(module.as_ptr()) };
    result
}

/// What a parameter shows when read.
pub(crate) trait Param {
    /// Writes the value as the parameter file shows it, newline included.
    fn show(lock: &mut ParamLock, out: &mut ParamWriter<'_>) -> fmt::Result;
}

/// A parameter that can be set, on load or through sysfs.
pub(crate) trait WritableParam: Param {
    /// Applies a write; `None` is a bare `name` on the command line (no `=value`). Bad
    /// input gets an error and changes nothing.
    fn store(lock: &mut ParamLock, input: Option<&[u8]>) -> Result;
}

/// The `get` of parameter `P`: formats its value into the page sysfs gives.
///
/// # Safety
///
/// Called by the kernel only, as a `kernel_param_ops::get` of this module: with the
/// module's `param_lock` held and `buffer` a `PAGE_SIZE` buffer.
unsafe extern "C" fn get_param<P: Param>(buffer: *mut c_char, _kp: *const kernel_param) -> c_int {
    // SAFETY: Per the function's contract, `buffer` is valid for `PAGE_SIZE` bytes.
    let page =
        unsafe { core::slice::from_raw_parts_mut(buffer.cast::<u8>(), kernel::page::PAGE_SIZE) };
    // SAFETY: The kernel holds the lock around this call, and no token exists elsewhere
    // (see `with_param_lock()`); the token is dropped on return.
    let mut lock = unsafe { ParamLock::assume_held() };
    let mut out = ParamWriter::new(page);
    from_result(|| {
        P::show(&mut lock, &mut out).map_err(|_| EINVAL)?;
        Ok(c_int::try_from(out.bytes_written()).unwrap_or(0))
    })
}

/// The `set` of parameter `P`.
///
/// # Safety
///
/// Called by the kernel only, as a `kernel_param_ops::set` of this module: with the
/// module's `param_lock` held and `value` NULL or a NUL-terminated string.
unsafe extern "C" fn set_param<P: WritableParam>(
    value: *const c_char,
    _kp: *const kernel_param,
) -> c_int {
    // A bare name (no value) comes as NULL, as for `param_set_bool()`.
    // SAFETY: A non-null value is a NUL-terminated string that outlives this call.
    let input = (!value.is_null()).then(|| unsafe { CStr::from_char_ptr(value) }.as_bytes());
    // SAFETY: As in `get_param()`.
    let mut lock = unsafe { ParamLock::assume_held() };
    from_result(|| P::store(&mut lock, input).map(|()| 0))
}

/// The `set` of a read-only parameter: refuses a value given on load.
///
/// sysfs never calls it (a file without write permission cannot be opened for writing),
/// but `parse_args()` calls `set` without checking that it exists.
///
/// # Safety
///
/// None beyond the C prototype: it reads neither argument.
unsafe extern "C" fn refuse_set(_value: *const c_char, _kp: *const kernel_param) -> c_int {
    EPERM.to_errno()
}

/// `KERNEL_PARAM_OPS_FL_NOARG`: a bare name (no `=value`) is accepted, as for bools.
const OPS_FL_NOARG: u32 = 1;

/// The callbacks of a read-only parameter `P`.
pub(crate) const fn read_only_ops<P: Param>() -> kernel_param_ops {
    kernel_param_ops {
        flags: 0,
        set: Some(refuse_set),
        get: Some(get_param::<P>),
        free: None,
    }
}

/// The callbacks of a writable parameter `P`, which also takes a bare name on load.
pub(crate) const fn writable_ops<P: WritableParam>() -> kernel_param_ops {
    kernel_param_ops {
        flags: OPS_FL_NOARG,
        set: Some(set_param::<P>),
        get: Some(get_param::<P>),
        free: None,
    }
}

/// The module's `__param` section entries, read by the module loader.
#[repr(transparent)]
pub(crate) struct ParamTable<const N: usize>(pub(crate) [kernel_param; N]);

// SAFETY: The table is immutable and only read by the kernel; its pointers refer to
// statics.
unsafe impl<const N: usize> Sync for ParamTable<N> {}

/// One entry of the table.
pub(crate) const fn param(
    module: &'static ThisModule,
    name: &'static CStr,
    ops: &'static kernel_param_ops,
    perm: u16,
) -> kernel_param {
    kernel_param {
        name: name.as_char_ptr(),
        mod_: module.as_ptr(),
        ops,
        perm,
        level: -1,
        flags: 0,
        __bindgen_anon_1: kernel::bindings::kernel_param__bindgen_ty_1 {
            arg: core::ptr::null_mut(),
        },
    }
}

/// Places a NUL-terminated string in `.modinfo`, where `modinfo` reads it.
macro_rules! modinfo {
    ($name:ident = $text:expr) => {
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
    };
}

/// Declares the module's parameters: for each, the type implementing [`Param`] (and
/// [`WritableParam`] if `writable`), its name, permissions, type name and description.
///
/// ```ignore
/// module_params! {
///     Enabled: "enabled", writable 0o600, "bool", "Enable or disable it";
///     KdamondPid: "kdamond_pid", read_only 0o400, "long", "PID of kdamond";
/// }
/// ```
macro_rules! module_params {
    ($($param:ident: $name:literal, $kind:ident $perm:literal, $type:literal, $desc:literal;)*) => {
        /// The `__param` section entries of this module.
        #[link_section = "__param"]
        #[used(compiler)]
        static PARAMS: $crate::ffi::params::ParamTable<{ [$($name),*].len() }> =
            $crate::ffi::params::ParamTable([$({
                static OPS: kernel::bindings::kernel_param_ops =
                    $crate::ffi::params::module_params!(@ops $kind $param);
                $crate::ffi::params::param(&crate::THIS_MODULE, kernel::c_str!($name), &OPS, $perm)
            }),*]);

        $(
            const _: () = {
                $crate::ffi::params::modinfo!(PARM = concat!("parm=", $name, ":", $desc));
                $crate::ffi::params::modinfo!(PARMTYPE = concat!("parmtype=", $name, ":", $type));
            };
        )*
    };
    (@ops writable $param:ident) => { $crate::ffi::params::writable_ops::<$param>() };
    (@ops read_only $param:ident) => { $crate::ffi::params::read_only_ops::<$param>() };
}

pub(crate) use {modinfo, module_params};
