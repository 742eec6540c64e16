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

/// The state behind the `enabled` and `kdamond_pid` parameters.
pub(crate) struct Control {
    /// The resolved DAMON functions; `None` until module init.
    api: Option<DamonApi>,
    /// What `enabled` was set to before module init (load arguments, or the build-time
    /// default); init acts on it.
    requested: bool,
    /// The monitoring context, once started. Its kdamond may have exited on its own.
    monitor: Option<Running<StatHandler>>,
}

impl Control {
    /// The state before module init.
    pub(crate) const fn new() -> Self {
        Self {
            api: None,
            requested: cfg!(damon_stat_enabled_default),
            monitor: None,
        }
    }

    /// Module init: from now on `enabled` acts at once. Starts monitoring if it was
    /// requested before init; a failed start fails the load with its error.
    pub(crate) fn init(&mut self, api: DamonApi) -> Result {
        self.api = Some(api);
        if self.requested {
            self.start(api)?;
        }
        Ok(())
    }

    /// Module exit: stops monitoring and frees everything.
    pub(crate) fn exit(&mut self) {
        self.stop();
        self.api = None;
    }

    /// Whether monitoring runs: kdamond's real state, not a cached flag, since kdamond
    /// can exit on its own.
    pub(crate) fn is_enabled(&self) -> bool {
        match self.api {
            None => self.requested,
            Some(_) => self.monitor.as_ref().is_some_and(|m| m.is_running()),
        }
    }

    /// kdamond's PID, or -1 when it does not run.
    pub(crate) fn kdamond_pid(&self) -> i64 {
        self.monitor
            .as_ref()
            .and_then(|m| m.kdamond_pid())
            .map_or(-1, i64::from)
    }

    /// A write to `enabled`. Bad input is rejected with `EINVAL` and changes nothing;
    /// writing the current state does nothing.
    pub(crate) fn set_enabled(&mut self, input: Option<&[u8]>) -> Result {
        let want = parse_bool(input).ok_or(EINVAL)?;
        let Some(api) = self.api else {
            // Before init (load arguments): init acts on it.
            self.requested = want;
            return Ok(());
        };
        if want == self.is_enabled() {
            return Ok(());
        }
        if want {
            self.start(api)
        } else {
            self.stop();
            Ok(())
        }
    }

    fn start(&mut self, api: DamonApi) -> Result {
        // A kdamond that exited on its own is reaped first: this waits for the end of its
        // exit path, which still touches the old context, before freeing it.
        self.stop();
        match monitor::start(api) {
            Ok(running) => {
                self.monitor = Some(running);
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
        if let Some(running) = self.monitor.take() {
            let stopped = running.stop();
            stopped.handler().log_summary();
        }
    }
}
