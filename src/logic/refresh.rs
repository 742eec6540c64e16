// SPDX-License-Identifier: GPL-2.0

//! How often the published results are refreshed.

/// Upstream DAMON_STAT refreshes its results at most every 5 seconds.
pub const REFRESH_PERIOD_NS: i64 = 5_000_000_000;

/// Lets a refresh through at most once per period.
///
/// A gate is made at every start, so its timestamp never carries over from an earlier
/// run (upstream once kept it in a function-static variable: no refresh for minutes
/// after boot on 32-bit, and a stale one after a restart).
#[derive(Clone, Copy, Debug)]
pub struct RefreshGate {
    period_ns: i64,
    last_ns: i64,
}

impl RefreshGate {
    /// A gate whose first refresh is due one period after `start_ns`.
    pub fn new(start_ns: i64, period_ns: i64) -> Self {
        Self {
            period_ns,
            last_ns: start_ns,
        }
    }

    /// Whether a refresh is due at `now_ns` (strictly more than a period since the
    /// last one); if so, `now_ns` becomes the last refresh time.
    pub fn due(&mut self, now_ns: i64) -> bool {
        if now_ns.saturating_sub(self.last_ns) > self.period_ns {
            self.last_ns = now_ns;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_refresh_comes_one_period_after_start() {
        let mut gate = RefreshGate::new(1_000, 5_000);
        assert!(!gate.due(1_000));
        assert!(!gate.due(6_000));
        assert!(gate.due(6_001));
        assert!(!gate.due(6_002));
        assert!(!gate.due(11_001));
        assert!(gate.due(11_002));
    }

    #[test]
    fn extreme_clocks_do_not_overflow() {
        let mut gate = RefreshGate::new(i64::MIN, REFRESH_PERIOD_NS);
        assert!(gate.due(i64::MAX));
        let mut gate = RefreshGate::new(i64::MAX, REFRESH_PERIOD_NS);
        assert!(!gate.due(i64::MIN));
    }
}
