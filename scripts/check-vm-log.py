#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Reads a guest's serial log: KUnit results (KTAP) and kernel failure reports.

Exits 1 when any KUnit test or suite is `not ok`, when a suite named with
--expect-suite did not run, or when the kernel log shows an oops, BUG, WARNING, KASAN
or kmemleak report, a lockdep splat, or a Rust panic. Prints a one-line KUnit summary.
"""

import argparse
import re
import sys

KERNEL_LINE = re.compile(r"^\[\s*\d+\.\d+\] ?(.*)$")
RESULT = re.compile(r"^(\s*)(not ok|ok) (\d+) ([^#]*?)\s*(#.*)?$")
TOTALS = re.compile(r"# Totals: pass:(\d+) fail:(\d+) skip:(\d+) total:(\d+)")

# Reports a kernel maintainer would never let pass in a test run.
FAILURES = [
    (re.compile(r"\bOops\b|general protection fault|Unable to handle"), "oops"),
    (re.compile(r"\bBUG:|kernel BUG at"), "BUG"),
    (re.compile(r"^WARNING:|\bWARNING: CPU:"), "WARNING"),
    (re.compile(r"KASAN"), "KASAN"),
    (re.compile(r"kmemleak: \d+ new suspected memory leaks|unreferenced object"), "kmemleak"),
    # Lockdep's reports (most also start with WARNING: or BUG:), not its boot notices
    # such as "RCU lockdep checking is enabled".
    (re.compile(r"possible circular locking|possible recursive locking|"
                r"inconsistent lock state|possible irq lock inversion|"
                r"suspicious RCU usage|DEBUG_LOCKS_WARN_ON|bad unlock balance|"
                r"held lock freed|lock held when returning to user space|"
                r"lockdep is turned off"), "lockdep"),
    (re.compile(r"panicked at|Kernel panic"), "panic"),
    (re.compile(r"UBSAN:"), "UBSAN"),
    (re.compile(r"INFO: task .* blocked for more than|rcu: INFO: .*stall"), "hang"),
]


def failure_kind(line):
    """The kind of failure a kernel log line reports, or None."""
    for pattern, kind in FAILURES:
        if pattern.search(line):
            return kind
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("log")
    parser.add_argument("--expect-suite", action="append", default=[],
                        help="a KUnit suite that must have run and passed")
    args = parser.parse_args()

    failures = []
    suites = {}
    totals = [0, 0, 0, 0]
    with open(args.log, errors="replace") as f:
        for raw in f:
            raw = raw.rstrip("\n")
            m = KERNEL_LINE.match(raw)
            if not m:
                continue
            line = m.group(1)
            kind = failure_kind(line)
            if kind:
                failures.append(f"{kind}: {raw}")
            t = TOTALS.search(line)
            if t:
                totals = [a + int(b) for a, b in zip(totals, t.groups())]
                continue
            r = RESULT.match(line)
            if r:
                indent, verdict, _, name, directive = r.groups()
                skipped = bool(directive and "SKIP" in directive.upper())
                if verdict == "not ok" and not skipped:
                    failures.append(f"KUnit not ok: {line.strip()}")
                if indent == "":
                    suites[name.strip()] = verdict == "ok"

    for suite in args.expect_suite:
        if suite not in suites:
            failures.append(f"KUnit suite '{suite}' did not run")

    passed = sum(1 for ok in suites.values() if ok)
    print(f"kunit: {len(suites)} suites ({passed} ok), tests pass:{totals[0]} "
          f"fail:{totals[1]} skip:{totals[2]} total:{totals[3]}")
    print(f"figure: kernel-log-reports {len(failures)}")
    if failures:
        print("kernel log failures:")
        for line in failures[:40]:
            print(f"  {line}")
        if len(failures) > 40:
            print(f"  ... and {len(failures) - 40} more")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
