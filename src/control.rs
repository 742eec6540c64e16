// SPDX-License-Identifier: GPL-2.0

//! What `enabled` does: the module's control state machine.
//!
//! Guarded by the module's parameter lock (see [`crate::params`]), so every method runs
//! alone.

use crate::ffi::damon::{DamonApi, Running};
use crate::logic::bool_param::parse_bool;
use crate::monitor::{self, StatHandler};
use kernel::error::code::{EBUSY, EINVAL};
use kernel::prelude::*;

/// The state behind the `enabled` and `kdamond_pid` parameters, in the module's two
/// phases.
pub(crate) enum Control {
    /// Before module init, while load arguments are parsed: `enabled` only records what
    /// is asked (or the build-time default), and init acts on it.
    Loading {
        /// What `enabled` was last set to.
        requested: bool,
    },
    /// From module init on: `enabled` acts at once.
    Loaded(Monitor),
}

/// The control state once the DAMON functions are resolved.
pub(crate) struct Monitor {
    api: DamonApi,
    /// The monitoring context, once started. Its kdamond may have exited on its own.
    running: Option<Running<StatHandler>>,
}

impl Control {
    /// The state before module init.
    pub(crate) const fn new() -> Self {
        Self::Loading {
            requested: cfg!(damon_stat_enabled_default),
        }
    }

    /// Module init: from now on `enabled` acts at once. Starts monitoring if it was
    /// requested before init; a failed start fails the load with its error.
    pub(crate) fn init(&mut self, api: DamonApi) -> Result {
        let requested = matches!(self, Self::Loading { requested: true });
        let mut monitor = Monitor { api, running: None };
        let started = if requested { monitor.start() } else { Ok(()) };
        *self = Self::Loaded(monitor);
        started
    }

    /// Module exit: stops monitoring and frees everything.
    pub(crate) fn exit(&mut self) {
        if let Self::Loaded(monitor) = self {
            monitor.stop();
        }
    }

    /// Whether monitoring runs: kdamond's real state, not a cached flag, since kdamond
    /// can exit on its own. Before init, what was requested.
    pub(crate) fn is_enabled(&self) -> bool {
        match self {
            Self::Loading { requested } => *requested,
            Self::Loaded(monitor) => monitor.is_running(),
        }
    }

    /// kdamond's PID, or -1 when it does not run.
    pub(crate) fn kdamond_pid(&self) -> i64 {
        match self {
            Self::Loaded(Monitor {
                running: Some(running),
                ..
            }) => running.kdamond_pid().map_or(-1, i64::from),
            _ => -1,
        }
    }

    /// A write to `enabled`. Bad input is rejected with `EINVAL` and changes nothing;
    /// writing the current state does nothing.
    pub(crate) fn set_enabled(&mut self, input: Option<&[u8]>) -> Result {
        let want = parse_bool(input).ok_or(EINVAL)?;
        match self {
            Self::Loading { requested } => {
                *requested = want;
                Ok(())
            }
            Self::Loaded(monitor) if want == monitor.is_running() => Ok(()),
            Self::Loaded(monitor) if want => monitor.start(),
            Self::Loaded(monitor) => {
                monitor.stop();
                Ok(())
            }
        }
    }
}

impl Monitor {
    fn is_running(&self) -> bool {
        self.running.as_ref().is_some_and(|r| r.is_running())
    }

    fn start(&mut self) -> Result {
        // A kdamond that exited on its own is reaped first: this waits for the end of its
        // exit path, which still touches the old context, before freeing it.
        self.stop();
        match monitor::start(self.api) {
            Ok(running) => {
                self.running = Some(running);
                Ok(())
            }
            Err(e) => {
                if e == EBUSY {
                    pr_err!("cannot start: another DAMON user (a DAMON sysfs kdamond, DAMON_RECLAIM or DAMON_LRU_SORT) is running\n");
                } else {
                    pr_err!("cannot start monitoring: error {}\n", e.to_errno());
                }
                Err(e)
            }
        }
    }

    fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            let stopped = running.stop();
            stopped.handler().log_summary();
        }
    }
}
