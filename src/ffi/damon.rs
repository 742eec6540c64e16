// SPDX-License-Identifier: GPL-2.0

//! Typed DAMON contexts on top of the resolved DAMON functions.
//!
//! The types encode a context's life: [`Context::new_paddr()`] builds one,
//! [`Context::start()`] consumes it into a [`Running`] context (so it cannot be started
//! twice), and dropping either frees it exactly once, after its kdamond has fully exited.

use super::bindings;
#[cfg(not(damon_stat_linked))]
use super::symbols::Kallsyms;
use crate::logic::damon_values::{Attrs, Intervals, RegionSample};
use crate::logic::span::{Span, MAX_RANGES};
use core::ptr::{addr_of, addr_of_mut, NonNull};
#[cfg(not(damon_stat_linked))]
use kernel::c_str;
use kernel::error::code::{EINVAL, ENOMEM};
use kernel::error::{from_result, to_result};
use kernel::ffi::{c_int, c_uint, c_void};
use kernel::prelude::*;
use kernel::task::Task;
use kernel::types::ARef;

// DAMON's addresses and intervals are `unsigned long` (`usize` in the bindings), and the
// shared logic keeps them as `u64`: the casts between them are lossless because both
// architectures the module is built for, x86_64 and arm64, are LP64. A 32-bit target
// fails to build here rather than truncating.
const _: () = assert!(core::mem::size_of::<usize>() == core::mem::size_of::<u64>());

/// Declares the DAMON functions the module calls and how it calls them.
///
/// How is chosen at build time (`bindings/link-mode.sh`, from the kernel tree's
/// `Module.symvers`), the same source either way:
/// - kallsyms mode (a stock 6.12, which exports no DAMON function): they are resolved by
///   name when the module loads and called through pointers; a compile-time check ties
///   each pointer type to the generated C declaration.
/// - linked mode (`damon_stat_linked`: the kernel carries
///   `patches/linux-6.12-export-damon.patch`): they are called directly through the
///   generated declarations and the module loader resolves them. No kprobe, no kallsyms,
///   no pointer into DAMON: nothing for IBT to refuse or for kCFI to check.
macro_rules! damon_api {
    ($($symbol:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)?;)*) => {
        /// The DAMON functions of the running kernel: a proof that the module can call
        /// them, passed to whatever calls them.
        #[derive(Clone, Copy)]
        pub(crate) struct DamonApi {
            $(
                #[cfg(not(damon_stat_linked))]
                $symbol: unsafe extern "C" fn($($ty),*) $(-> $ret)?,
            )*
        }

        // The generated declarations are the source of truth for the prototypes: a
        // mismatch fails the build here rather than corrupting the stack at run time.
        #[cfg(not(damon_stat_linked))]
        const _: () = {
            $(let _ = bindings::$symbol as unsafe extern "C" fn($($ty),*) $(-> $ret)?;)*
        };

        impl DamonApi {
            /// Resolves every DAMON function; fails naming the first one that is missing
            /// or cannot be called on this CPU.
            #[cfg(not(damon_stat_linked))]
            pub(crate) fn resolve() -> Result<Self> {
                let kallsyms = Kallsyms::find()?;
                Ok(Self {
                    $(
                        // SAFETY: The pointer type is the one of the generated
                        // declaration of the same symbol (checked above).
                        $symbol: unsafe { kallsyms.function(c_str!(stringify!($symbol)))? },
                    )*
                })
            }

            /// The module loader has resolved every DAMON function (it refuses to load a
            /// module with an unresolved symbol): nothing is left to do.
            #[cfg(damon_stat_linked)]
            pub(crate) fn resolve() -> Result<Self> {
                Ok(Self {})
            }

            $(
                #[doc = concat!("Calls `", stringify!($symbol), "()`.")]
                ///
                /// # Safety
                ///
                /// The arguments must satisfy the C function's contract.
                #[inline]
                unsafe fn $symbol(&self, $($arg: $ty),*) $(-> $ret)? {
                    #[cfg(not(damon_stat_linked))]
                    // SAFETY: The field holds the function of this name, with the type of
                    // its declaration (see `resolve()`); the caller keeps its contract.
                    let ret = unsafe { (self.$symbol)($($arg),*) };
                    #[cfg(damon_stat_linked)]
                    // SAFETY: The kernel exports the function (this build's link mode),
                    // and the caller keeps its contract.
                    let ret = unsafe { bindings::$symbol($($arg),*) };
                    ret
                }
            )*

            /// The names of the DAMON functions the module calls.
            #[cfg(all(damon_stat_kunit, not(damon_stat_linked)))]
            pub(crate) const SYMBOLS: &'static [&'static str] = &[$(stringify!($symbol)),*];

            /// Each DAMON function the module calls, with the address the module loader
            /// linked the call to.
            #[cfg(all(damon_stat_kunit, damon_stat_linked))]
            pub(crate) fn linked_addresses() -> [(&'static str, usize); [$(stringify!($symbol)),*].len()] {
                [$((stringify!($symbol), bindings::$symbol as *const () as usize)),*]
            }
        }
    };
}

damon_api! {
    damon_new_ctx() -> *mut bindings::damon_ctx;
    damon_destroy_ctx(ctx: *mut bindings::damon_ctx);
    damon_set_attrs(ctx: *mut bindings::damon_ctx, attrs: *mut bindings::damon_attrs) -> c_int;
    damon_select_ops(ctx: *mut bindings::damon_ctx, id: bindings::damon_ops_id) -> c_int;
    damon_new_target() -> *mut bindings::damon_target;
    damon_add_target(ctx: *mut bindings::damon_ctx, t: *mut bindings::damon_target);
    damon_set_regions(
        t: *mut bindings::damon_target,
        ranges: *mut bindings::damon_addr_range,
        nr_ranges: c_uint
    ) -> c_int;
    damon_start(ctxs: *mut *mut bindings::damon_ctx, nr_ctxs: c_int, exclusive: bool) -> c_int;
    damon_is_running(ctx: *mut bindings::damon_ctx) -> bool;
    damon_kdamond_pid(ctx: *mut bindings::damon_ctx) -> c_int;
}

// `modinfo` shows which mode a built module is in.
#[cfg(damon_stat_linked)]
super::params::modinfo!(DAMON_LINK = "damon_link=linked");
#[cfg(not(damon_stat_linked))]
super::params::modinfo!(DAMON_LINK = "damon_link=kallsyms");

/// What kdamond calls at the end of each aggregation window, with the window's data.
///
/// The handler lives as long as its context, and only kdamond touches it while the
/// context runs.
pub(crate) trait AggregationHandler: Send + Sized {
    /// Handles one complete aggregation window. Returning an error stops kdamond.
    fn after_aggregation(&mut self, window: &mut Window<'_>) -> Result;
}

/// A context's state at an aggregation boundary, as kdamond sees it.
pub(crate) struct Window<'a> {
    ctx: NonNull<bindings::damon_ctx>,
    api: &'a DamonApi,
}

impl Window<'_> {
    /// The current sampling and aggregation intervals.
    pub(crate) fn intervals(&self) -> Intervals {
        // SAFETY: `ctx` is kdamond's context, valid during the callback; kdamond is the
        // only writer of its attributes.
        let attrs = unsafe { &*addr_of!((*self.ctx.as_ptr()).attrs) };
        // Lossless: `unsigned long` is 64 bits (asserted at the top of this file).
        Intervals {
            sample_us: attrs.sample_interval as u64,
            aggr_us: attrs.aggr_interval as u64,
        }
    }

    /// Calls `f` with every region of every target, in list order.
    fn for_each_region(&self, mut f: impl FnMut(&bindings::damon_region)) {
        // SAFETY: During the callback kdamond owns its targets and regions; the lists are
        // well-formed `list_head` rings of `damon_target.list` and `damon_region.list`.
        unsafe {
            let targets = addr_of!((*self.ctx.as_ptr()).adaptive_targets);
            let mut t_node = (*targets).next.cast_const();
            while t_node != targets.cast() {
                let target = kernel::container_of!(t_node, bindings::damon_target, list);
                let regions = addr_of!((*target).regions_list);
                let mut r_node = (*regions).next.cast_const();
                while r_node != regions.cast() {
                    f(&*kernel::container_of!(
                        r_node,
                        bindings::damon_region,
                        list
                    ));
                    r_node = (*r_node).next.cast_const();
                }
                t_node = (*t_node).next.cast_const();
            }
        }
    }

    /// Copies the regions of every target into `buf`.
    ///
    /// Returns the number copied, or `Err(n)` with the number of regions when they do not
    /// all fit (then `buf` holds the first `buf.len()` of them).
    pub(crate) fn copy_regions(&self, buf: &mut [RegionSample]) -> Result<usize, usize> {
        let mut slots = buf.iter_mut();
        let mut count = 0usize;
        self.for_each_region(|r| {
            if let Some(slot) = slots.next() {
                *slot = RegionSample {
                    start: r.ar.start as u64,
                    end: r.ar.end as u64,
                    nr_accesses: r.nr_accesses,
                    age: r.age,
                };
            }
            count = count.saturating_add(1);
        });
        if count > buf.len() {
            Err(count)
        } else {
            Ok(count)
        }
    }

    /// Copies each region's last sampling address into `buf`, in the order of
    /// [`Window::copy_regions()`]; returns how many were copied (at most `buf.len()`).
    pub(crate) fn copy_sampling_addrs(&self, buf: &mut [u64]) -> usize {
        let mut slots = buf.iter_mut();
        let mut count = 0usize;
        self.for_each_region(|r| {
            if let Some(slot) = slots.next() {
                *slot = r.sampling_addr as u64;
                count = count.saturating_add(1);
            }
        });
        count
    }

    /// Changes the sampling and aggregation intervals through `damon_set_attrs()`, which
    /// also rescales the regions' `nr_accesses` and `age` to the new intervals.
    pub(crate) fn set_intervals(&mut self, intervals: Intervals) -> Result {
        // SAFETY: As in `intervals()`; the copy is passed by pointer and not kept.
        let mut attrs = unsafe { *addr_of!((*self.ctx.as_ptr()).attrs) };
        attrs.sample_interval = intervals.sample_us as usize;
        attrs.aggr_interval = intervals.aggr_us as usize;
        // SAFETY: `damon_set_attrs()` may be called from `after_aggregation` on the
        // context being aggregated, with a valid attrs pointer.
        to_result(unsafe { self.api.damon_set_attrs(self.ctx.as_ptr(), &mut attrs) })
    }

    /// Gives every target the address ranges `ranges` (see [`set_target_ranges()`]), for
    /// the windows from the next one on.
    ///
    /// Allocates only for memory the ranges newly cover: called when System RAM changed,
    /// not in every window.
    pub(crate) fn set_ranges(&mut self, ranges: &[Span]) -> Result {
        // SAFETY: During the callback kdamond owns its targets; `adaptive_targets` is a
        // well-formed `list_head` ring of `damon_target.list`, which `damon_set_regions()`
        // leaves as it is (it changes each target's regions only).
        unsafe {
            let targets = addr_of!((*self.ctx.as_ptr()).adaptive_targets);
            let mut t_node = (*targets).next;
            while t_node.cast_const() != targets.cast() {
                let target = kernel::container_of!(t_node, bindings::damon_target, list);
                set_target_ranges(self.api, target.cast_mut(), ranges)?;
                t_node = (*t_node).next;
            }
        }
        Ok(())
    }
}

/// Sets the address ranges of `target` with `damon_set_regions()`: regions outside them
/// go, the regions at their edges are trimmed or stretched to them (keeping their access
/// history), and what no region covers gets new regions. At most [`MAX_RANGES`] ranges.
///
/// # Safety
///
/// `target` must be a valid target that nothing else uses during the call: one of a
/// context that does not run, or kdamond's own target from its callback.
unsafe fn set_target_ranges(
    api: &DamonApi,
    target: *mut bindings::damon_target,
    ranges: &[Span],
) -> Result {
    let mut addr_ranges = [bindings::damon_addr_range { start: 0, end: 0 }; MAX_RANGES];
    let slots = addr_ranges.get_mut(..ranges.len()).ok_or(EINVAL)?;
    for (slot, range) in slots.iter_mut().zip(ranges) {
        // Lossless: `unsigned long` is 64 bits (asserted at the top of this file).
        *slot = bindings::damon_addr_range {
            start: range.start as usize,
            end: range.end as usize,
        };
    }
    // SAFETY: `target` is valid and ours alone for the call (the caller's contract); the
    // first `ranges.len()` entries of `addr_ranges` are initialised and not kept.
    to_result(unsafe {
        api.damon_set_regions(target, addr_ranges.as_mut_ptr(), ranges.len() as c_uint)
    })
}

/// What `damon_ctx.callback.private` points to: allocated by [`Context::new_paddr()`],
/// freed by [`Context`]'s `Drop`.
///
/// Each side touches only its own fields, through raw pointers, never a reference to the
/// whole: kdamond uses `api` and `handler` in its callbacks and writes `kdamond` once in
/// `before_start`; the owner reads `handler` only while no kdamond runs, and takes
/// `kdamond` only once kdamond has passed `before_start` (see [`Running::reap()`]).
struct CallbackData<H> {
    api: DamonApi,
    /// kdamond's own task, recorded by kdamond in `before_start`.
    kdamond: Option<ARef<Task>>,
    handler: H,
}

/// kdamond's `before_start` callback: records kdamond's task.
///
/// 6.12's `kdamond_fn()` calls it before any of its exit paths, so however soon kdamond
/// ends, its owner can wait for its complete exit (see [`Running::reap()`]).
///
/// # Safety
///
/// `ctx` must be a context built by [`Context::new_paddr()`] with handler type `H`, called
/// from its kdamond.
unsafe extern "C" fn before_start<H: AggregationHandler>(ctx: *mut bindings::damon_ctx) -> c_int {
    let task = ARef::from(&*kernel::current!());
    // SAFETY: `callback.private` points to the live `CallbackData<H>` of this context
    // (the caller's contract); the owner does not touch `kdamond` before kdamond has
    // passed this point, which is ordered by `kdamond_lock` or kdamond's exit.
    let old = unsafe {
        let data = (*ctx).callback.private.cast::<CallbackData<H>>();
        core::ptr::replace(addr_of_mut!((*data).kdamond), Some(task))
    };
    // Only a restarted context had one, and `Running::reap()` took it.
    drop(old);
    0
}

/// kdamond's `after_aggregation` callback: runs the context's handler.
///
/// # Safety
///
/// `ctx` must be a context built by [`Context::new_paddr()`] with handler type `H`, called
/// from its kdamond.
unsafe extern "C" fn after_aggregation<H: AggregationHandler>(
    ctx: *mut bindings::damon_ctx,
) -> c_int {
    // SAFETY: kdamond calls this with the context that `Context::new_paddr()` built, whose
    // `callback.private` points to a live `CallbackData<H>`; while kdamond runs, only
    // kdamond uses its `api` and `handler` fields.
    let (ctx, api, handler) = unsafe {
        let data = (*ctx).callback.private.cast::<CallbackData<H>>();
        (
            NonNull::new_unchecked(ctx),
            &*addr_of!((*data).api),
            &mut *addr_of_mut!((*data).handler),
        )
    };
    let mut window = Window { ctx, api };
    from_result(|| handler.after_aggregation(&mut window).map(|()| 0))
}

/// A built DAMON context that is not running. Dropping it frees it.
///
/// # Invariants
///
/// - `ctx` comes from `damon_new_ctx()` and only this value frees it, in `Drop`.
/// - `data` is a leaked `KBox<CallbackData<H>>`, live until `Drop`, which frees it after
///   `ctx`; `ctx`'s callbacks, once set, are those of handler type `H`, with `data` as
///   `callback.private`.
/// - No kdamond runs on `ctx`, except while the `Context` is inside a [`Running`].
pub(crate) struct Context<H: AggregationHandler> {
    ctx: NonNull<bindings::damon_ctx>,
    api: DamonApi,
    /// A leaked `KBox<CallbackData<H>>`, shared with kdamond through `callback.private`.
    data: NonNull<CallbackData<H>>,
}

// SAFETY: The context is only used through `&mut self` or by value, and its handler is
// `Send`; DAMON contexts are not tied to the thread that built them.
unsafe impl<H: AggregationHandler> Send for Context<H> {}

impl<H: AggregationHandler> Context<H> {
    /// Builds a physical address space context over `[start, end)` that calls `handler`
    /// after every aggregation window.
    pub(crate) fn new_paddr(
        api: DamonApi,
        attrs: Attrs,
        (start, end): (u64, u64),
        handler: H,
    ) -> Result<Self> {
        if start >= end {
            return Err(EINVAL);
        }
        let data = KBox::new(
            CallbackData {
                api,
                kdamond: None,
                handler,
            },
            GFP_KERNEL,
        )?;
        // SAFETY: `damon_new_ctx()` has no preconditions.
        let ctx = NonNull::new(unsafe { api.damon_new_ctx() }).ok_or(ENOMEM)?;
        // From here on, dropping `this` frees the context and the data on every error path.
        // INVARIANT: `ctx` is new and never started; `data` is leaked here, and the
        // callbacks set below are those of `H` with `data` as their private data.
        let this = Self {
            ctx,
            api,
            data: NonNull::from(KBox::leak(data)),
        };

        let mut damon_attrs = bindings::damon_attrs {
            sample_interval: attrs.intervals.sample_us as usize,
            aggr_interval: attrs.intervals.aggr_us as usize,
            ops_update_interval: attrs.ops_update_us as usize,
            min_nr_regions: attrs.min_nr_regions as usize,
            max_nr_regions: attrs.max_nr_regions as usize,
        };
        let ptr = this.ctx.as_ptr();
        // SAFETY: `ptr` is a new context nobody else uses yet; each call gets valid
        // pointers that are not kept beyond it.
        unsafe {
            to_result(api.damon_set_attrs(ptr, &mut damon_attrs))?;
            to_result(api.damon_select_ops(ptr, bindings::damon_ops_id_DAMON_OPS_PADDR))?;
            let target = api.damon_new_target();
            if target.is_null() {
                return Err(ENOMEM);
            }
            // The context owns the target from now on; `damon_destroy_ctx()` frees it.
            api.damon_add_target(ptr, target);
            set_target_ranges(&api, target, &[Span::new(start, end)])?;
            (*ptr).callback.private = this.data.as_ptr().cast::<c_void>();
            (*ptr).callback.before_start = Some(before_start::<H>);
            (*ptr).callback.after_aggregation = Some(after_aggregation::<H>);
        }
        Ok(this)
    }

    /// The callback handler, while no kdamond uses it.
    pub(crate) fn handler(&self) -> &H {
        // SAFETY: `data` is live and no kdamond runs on the context, so nothing writes it
        // (type invariants; a `Context` inside a `Running` is not reachable from outside).
        unsafe { &*addr_of!((*self.data.as_ptr()).handler) }
    }

    /// Starts kdamond on this context, exclusively of any other DAMON user.
    ///
    /// On failure the context is freed (it never ran) and the error returned: `EBUSY`
    /// when another DAMON context runs.
    pub(crate) fn start(self) -> Result<Running<H>> {
        let mut ptr = self.ctx.as_ptr();
        // SAFETY: `ptr` is a fully built context on which no kdamond runs (type invariant).
        to_result(unsafe { self.api.damon_start(&mut ptr, 1, true) })?;
        // INVARIANT: `damon_start()` succeeded, so a kdamond was started on the context.
        Ok(Running { context: self })
    }
}

impl<H: AggregationHandler> Drop for Context<H> {
    fn drop(&mut self) {
        // SAFETY: By the type invariants, `ctx` comes from `damon_new_ctx()`, only this
        // `Drop` (which runs once) frees it, and no kdamond runs on it: a `Running` drops
        // its `Context` only after `reap()`.
        unsafe { self.api.damon_destroy_ctx(self.ctx.as_ptr()) };
        // SAFETY: `data` is a leaked `KBox` (type invariant) and nothing uses it any more:
        // the context that pointed to it is gone.
        drop(unsafe { KBox::from_raw(self.data.as_ptr()) });
    }
}

/// A context whose kdamond was started. Dropping it stops kdamond, waits for its complete
/// exit, then frees the context.
///
/// # Invariants
///
/// A kdamond was started on `context` by `damon_start()`; it may have exited since, but
/// until [`Running::reap()`] returns, nothing assumes it has.
pub(crate) struct Running<H: AggregationHandler> {
    context: Context<H>,
}

impl<H: AggregationHandler> Running<H> {
    /// Whether kdamond still runs; it may have stopped on its own.
    pub(crate) fn is_running(&self) -> bool {
        // SAFETY: The context is live (`Context`'s invariants); `damon_is_running()` takes
        // its `kdamond_lock`, so a running kdamond does not matter.
        unsafe { self.context.api.damon_is_running(self.context.ctx.as_ptr()) }
    }

    /// kdamond's PID, or `None` when it no longer runs.
    pub(crate) fn kdamond_pid(&self) -> Option<i32> {
        // SAFETY: As in `is_running()`.
        let pid = unsafe {
            self.context
                .api
                .damon_kdamond_pid(self.context.ctx.as_ptr())
        };
        (pid > 0).then_some(pid)
    }

    /// Stops kdamond, waits until it has fully exited, and returns the stopped context.
    pub(crate) fn stop(mut self) -> Context<H> {
        self.reap();
        let this = core::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again, so its context moves out once.
        // INVARIANT: `reap()` waited for kdamond's complete exit, so no kdamond runs on
        // the context handed back.
        unsafe { core::ptr::read(&this.context) }
    }

    /// Stops kdamond if it still runs and waits for its complete exit.
    ///
    /// kdamond still touches the context after it clears `ctx->kdamond` (it unlocks
    /// `kdamond_lock`), so `damon_is_running()` turning false is not enough to free it:
    /// this waits for the thread itself to be gone. `kthread_stop()` asks a running
    /// kdamond to stop and waits for its exit, and returns once the exit is complete for
    /// one that ended on its own; it must be called once per thread (it consumes the
    /// exit completion).
    fn reap(&mut self) {
        let ctx = self.context.ctx.as_ptr();
        // SAFETY: `kdamond_lock` guards `kdamond`: while it is non-null under the lock,
        // kdamond has not exited and its task's reference count is non-zero.
        let running = unsafe {
            let lock = addr_of_mut!((*ctx).kdamond_lock);
            kernel::bindings::mutex_lock(lock);
            let task = (*ctx).kdamond;
            let task_ref = (!task.is_null()).then(|| ARef::from(&*task.cast::<Task>()));
            kernel::bindings::mutex_unlock(lock);
            task_ref
        };
        if let Some(task) = &running {
            // SAFETY: `task` is a kthread we hold a reference to, stopped once here.
            unsafe { kernel::bindings::kthread_stop(task_ptr(task)) };
        }
        // kdamond wrote `kdamond` in `before_start`, before it cleared `ctx->kdamond`
        // under the lock taken above (if that read null), or before the exit that
        // `kthread_stop()` just waited for: either way the write is visible and final.
        // SAFETY: `data` is live (`Context`'s invariants), and kdamond no longer writes
        // this field (see above).
        let recorded = unsafe {
            core::ptr::replace(addr_of_mut!((*self.context.data.as_ptr()).kdamond), None)
        };
        if running.is_none() {
            if let Some(task) = &recorded {
                // kdamond ended on its own, maybe just now: wait for its exit to complete.
                // SAFETY: As above; not stopped before, since `running` was `None`.
                unsafe { kernel::bindings::kthread_stop(task_ptr(task)) };
            }
        }
    }
}

/// The C task behind `task`, for functions that take a `struct task_struct *`.
fn task_ptr(task: &Task) -> *mut kernel::bindings::task_struct {
    // `Task` is a transparent wrapper of `struct task_struct`.
    core::ptr::from_ref(task).cast_mut().cast()
}

impl<H: AggregationHandler> Drop for Running<H> {
    fn drop(&mut self) {
        self.reap();
        // `self.context` drops next and frees the context.
    }
}
