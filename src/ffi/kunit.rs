// SPDX-License-Identifier: GPL-2.0

//! KUnit suites written in Rust.
//!
//! 6.12 has no `#[kunit_tests]`, so [`kunit_suite!`] builds the C tables itself: a
//! NUL-terminated `kunit_case` array, a `kunit_suite`, and a pointer to it in the
//! `.kunit_test_suites` section, which the module loader hands to KUnit. KUnit runs the
//! suite when the module goes live and reports it in KTAP on the kernel log.
//!
//! Only the test build has this module (`make module KUNIT=1`, which sets
//! `--cfg damon_stat_kunit`): the module users install carries no test code.

use core::cell::UnsafeCell;
use core::fmt;
use core::panic::Location;
use core::ptr::NonNull;
use kernel::bindings;
use kernel::prelude::*;
use kernel::str::CStr;

/// A KUnit table KUnit writes into (status, log), hence interior mutability.
#[repr(transparent)]
pub(crate) struct KunitCell<T>(pub(crate) UnsafeCell<T>);

// SAFETY: KUnit is the only user of the tables and serialises its own accesses.
unsafe impl<T> Sync for KunitCell<T> {}

/// A pointer in the `.kunit_test_suites` section.
#[repr(transparent)]
pub(crate) struct SuitePointer(pub(crate) *mut bindings::kunit_suite);

// SAFETY: Only the module loader and KUnit read it.
unsafe impl Sync for SuitePointer {}

/// One test case entry.
pub(crate) const fn case(
    name: &'static CStr,
    run: unsafe extern "C" fn(*mut bindings::kunit),
) -> bindings::kunit_case {
    // SAFETY: `kunit_case` is plain C data; all zeroes is what `KUNIT_CASE()` leaves in
    // the fields it does not set.
    let mut case: bindings::kunit_case = unsafe { core::mem::zeroed() };
    case.run_case = Some(run);
    case.name = name.as_char_ptr();
    case
}

/// The all-zero entry that ends a case array.
pub(crate) const fn end_of_cases() -> bindings::kunit_case {
    // SAFETY: As above; KUnit stops at the entry whose `run_case` is NULL.
    unsafe { core::mem::zeroed() }
}

/// A suite over the case array at `cases`.
pub(crate) const fn suite(name: &str, cases: *mut bindings::kunit_case) -> bindings::kunit_suite {
    // SAFETY: `kunit_suite` is plain C data; all zeroes is its static initial state.
    let mut suite: bindings::kunit_suite = unsafe { core::mem::zeroed() };
    let bytes = name.as_bytes();
    let mut i = 0;
    // Leave at least one NUL at the end of the fixed-size name.
    while i < bytes.len() && i + 1 < suite.name.len() {
        suite.name[i] = bytes[i];
        i += 1;
    }
    suite.test_cases = cases;
    suite
}

/// The test being run, handed to a case function.
///
/// # Invariants
///
/// `test` is KUnit's live test for the duration of the case, and only the case's thread
/// writes it.
pub(crate) struct Test {
    test: NonNull<bindings::kunit>,
}

/// Why a case stopped before its end: a step it needed failed.
#[derive(Debug)]
pub(crate) struct CaseError {
    error: Error,
    /// Where: the `?` that returned it.
    location: &'static Location<'static>,
}

impl From<Error> for CaseError {
    #[track_caller]
    fn from(error: Error) -> Self {
        Self {
            error,
            location: Location::caller(),
        }
    }
}

/// What a case returns: `Err` when a step it needed failed (the test then fails).
pub(crate) type CaseResult = core::result::Result<(), CaseError>;

impl Test {
    /// Records a failed expectation and logs it in KTAP diagnostic form.
    pub(crate) fn fail(&mut self, what: fmt::Arguments<'_>, file: &str, line: u32) {
        pr_err!("    # EXPECTATION FAILED at {}:{}: {}\n", file, line, what);
        // SAFETY: `test` is live and only this thread writes it (type invariant).
        unsafe { (*self.test.as_ptr()).status = bindings::kunit_status_KUNIT_FAILURE };
    }

    /// Marks the test skipped, with `reason` as KTAP's `# SKIP` comment.
    pub(crate) fn skip(&mut self, reason: &str) {
        // SAFETY: `test` is live and only this thread writes it (type invariant).
        let test = unsafe { &mut *self.test.as_ptr() };
        test.status = bindings::kunit_status_KUNIT_SKIPPED;
        // Truncated if need be, always leaving a NUL at the end.
        let room = test.status_comment.len().saturating_sub(1);
        for (dst, &src) in test
            .status_comment
            .iter_mut()
            .zip(reason.as_bytes().iter().take(room))
        {
            *dst = src;
        }
        if let Some(end) = test.status_comment.get_mut(reason.len().min(room)) {
            *end = 0;
        }
    }

    /// Checks `ok`; logs `what` and fails the test otherwise. Returns `ok`.
    pub(crate) fn expect(&mut self, ok: bool, what: &str, file: &str, line: u32) -> bool {
        if !ok {
            self.fail(format_args!("{what}"), file, line);
        }
        ok
    }
}

/// Sleeps for `ms` milliseconds; KUnit runs each case in a kernel thread that may sleep.
pub(crate) fn sleep_ms(ms: u32) {
    // SAFETY: `msleep()` only sleeps; test cases run in process context.
    unsafe { kernel::bindings::msleep(ms) };
}

/// Runs a case function on KUnit's test.
///
/// # Safety
///
/// `test` must be the live `struct kunit` KUnit passes to a case's `run_case`.
pub(crate) unsafe fn run_case(test: *mut bindings::kunit, case: fn(&mut Test) -> CaseResult) {
    let Some(test) = NonNull::new(test) else {
        return;
    };
    // INVARIANT: KUnit's test lives until `run_case` returns, and the case runs on this
    // thread.
    let mut test = Test { test };
    if let Err(e) = case(&mut test) {
        test.fail(
            format_args!("stopped: {:?}", e.error),
            e.location.file(),
            e.location.line(),
        );
    }
}

/// The kernel's own `kstrtobool()`, to test the module's parsing against.
pub(crate) fn kernel_kstrtobool(input: &CStr) -> Option<bool> {
    let mut value = false;
    // SAFETY: `input` is NUL-terminated and `value` is a valid `bool` to write to.
    let ret = unsafe { bindings::kstrtobool(input.as_char_ptr(), &mut value) };
    (ret == 0).then_some(value)
}

/// Room for what `sprint_symbol()` prints: more than `KSYM_SYMBOL_LEN` (about 670 bytes).
#[cfg(damon_stat_linked)]
pub(crate) type SymbolText = [u8; 1024];

/// The kernel's `sprint_symbol()`: how kallsyms names `addr` ("name+0xoff/0xsize"),
/// printed into `buf`.
#[cfg(damon_stat_linked)]
pub(crate) fn kernel_symbol_at(addr: usize, buf: &mut SymbolText) -> &[u8] {
    // SAFETY: `buf` holds more than `KSYM_SYMBOL_LEN` bytes, the most that
    // `sprint_symbol()` writes, NUL included; any address may be looked up.
    let len = unsafe { bindings::sprint_symbol(buf.as_mut_ptr().cast(), addr as _) };
    let len = usize::try_from(len).unwrap_or(0);
    buf.get(..len).unwrap_or(&[])
}

/// Expects a condition in a KUnit case; logs the expression when it is false.
macro_rules! kunit_expect {
    ($test:expr, $cond:expr $(,)?) => {
        $test.expect($cond, stringify!($cond), file!(), line!())
    };
}

/// Expects two values to be equal in a KUnit case; logs both when they differ.
macro_rules! kunit_expect_eq {
    ($test:expr, $left:expr, $right:expr $(,)?) => {{
        let (left, right) = (&$left, &$right);
        if left != right {
            $test.fail(
                format_args!(
                    "{} == {}: {:?} != {:?}",
                    stringify!($left),
                    stringify!($right),
                    left,
                    right
                ),
                file!(),
                line!(),
            );
        }
    }};
}

/// Declares a KUnit suite named `$name` running the `fn(&mut Test) -> CaseResult`
/// functions listed.
macro_rules! kunit_suite {
    ($name:literal, [$($case:ident),* $(,)?]) => {
        $(
            // The C entry point of each case lives in a module named after it.
            mod $case {
                /// The C entry point of the case.
                ///
                /// # Safety
                ///
                /// Called by KUnit only, with its live test.
                pub(super) unsafe extern "C" fn run(test: *mut kernel::bindings::kunit) {
                    // SAFETY: KUnit calls `run_case` with its live test.
                    unsafe { $crate::ffi::kunit::run_case(test, super::$case) }
                }
            }
        )*

        const NR_CASES: usize = [$(stringify!($case)),*].len();

        static CASES: $crate::ffi::kunit::KunitCell<
            [kernel::bindings::kunit_case; NR_CASES + 1],
        > = $crate::ffi::kunit::KunitCell(core::cell::UnsafeCell::new([
            $($crate::ffi::kunit::case(kernel::c_str!(stringify!($case)), $case::run),)*
            $crate::ffi::kunit::end_of_cases(),
        ]));

        static SUITE: $crate::ffi::kunit::KunitCell<kernel::bindings::kunit_suite> =
            $crate::ffi::kunit::KunitCell(core::cell::UnsafeCell::new(
                $crate::ffi::kunit::suite($name, CASES.0.get().cast()),
            ));

        #[link_section = ".kunit_test_suites"]
        #[used(compiler)]
        static SUITES: [$crate::ffi::kunit::SuitePointer; 1] =
            [$crate::ffi::kunit::SuitePointer(SUITE.0.get())];
    };
}

pub(crate) use {kunit_expect, kunit_expect_eq, kunit_suite};
