# SPDX-License-Identifier: GPL-2.0
"""Host tests of scripts/check-vm-log.py: which kernel log lines fail a guest run.

Run by scripts/host-test.sh (python3 -m unittest). The lines are real ones, from the
test and debug kernels' boot logs and from kernel reports.
"""

import contextlib
import importlib.util
import io
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SPEC = importlib.util.spec_from_file_location(
    "check_vm_log", os.path.join(HERE, "..", "..", "scripts", "check-vm-log.py"))
check_vm_log = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(check_vm_log)

# Printed by every boot of the debug kernel: notices, not reports.
HARMLESS = [
    "rcu: \tRCU lockdep checking is enabled.",
    "Lock dependency validator: Copyright (c) 2006 Red Hat, Inc., Ingo Molnar",
    "kasan: KernelAddressSanitizer initialized (generic)",
    "kmemleak: Kernel memory leak detector initialized (mem pool available: 15814)",
    "damon_stat: stopped: 15 aggregation windows (callback avg 43548 ns, max 219839 ns)",
    "    ok 8 kdamond_stopped_right_after_start_is_reaped # SKIP another DAMON user runs",
    "clocksource: Switched to clocksource tsc",
]

REPORTS = [
    ("WARNING: CPU: 0 PID: 306 at drivers/misc/lkdtm/bugs.c:112 lkdtm_WARNING+0xd/0x10",
     "WARNING"),
    ("BUG: KASAN: slab-use-after-free in kdamond_fn+0x1d/0x2a0", "BUG"),
    ("WARNING: possible circular locking dependency detected", "WARNING"),
    ("possible recursive locking detected", "lockdep"),
    ("WARNING: suspicious RCU usage", "WARNING"),
    ("BUG: sleeping function called from invalid context at kernel/locking/mutex.c:585",
     "BUG"),
    ("kmemleak: 2 new suspected memory leaks (see /sys/kernel/debug/kmemleak)", "kmemleak"),
    ("Oops: general protection fault, probably for non-canonical address", "oops"),
    ("rust_kernel: panicked at src/logic/tuner.rs:10:5:", "panic"),
    ("INFO: task kdamond.0:123 blocked for more than 120 seconds.", "hang"),
    ("UBSAN: shift-out-of-bounds in mm/damon/core.c:10:5", "UBSAN"),
]


def run_checker(lines):
    with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as f:
        for i, line in enumerate(lines):
            f.write(f"[    {i}.000000] {line}\n")
        name = f.name
    argv = sys.argv
    try:
        sys.argv = ["check-vm-log.py", name]
        with contextlib.redirect_stdout(io.StringIO()):
            return check_vm_log.main()
    finally:
        sys.argv = argv
        os.unlink(name)


class FailureKind(unittest.TestCase):
    def test_boot_notices_are_not_failures(self):
        for line in HARMLESS:
            self.assertIsNone(check_vm_log.failure_kind(line), line)

    def test_reports_are_failures(self):
        for line, kind in REPORTS:
            self.assertEqual(check_vm_log.failure_kind(line), kind, line)


class WholeLog(unittest.TestCase):
    def test_clean_log_passes(self):
        self.assertEqual(run_checker(HARMLESS + ["ok 1 damon_stat"]), 0)

    def test_kunit_not_ok_fails(self):
        self.assertEqual(run_checker(["    not ok 3 refresh", "not ok 1 damon_stat"]), 1)

    def test_a_report_fails(self):
        self.assertEqual(run_checker(HARMLESS + [REPORTS[1][0]]), 1)


if __name__ == "__main__":
    unittest.main()
