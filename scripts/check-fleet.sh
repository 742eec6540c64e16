#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check-fleet`: the fleet scenarios (tests/fleet/): a NUMA guest with memory above
# 4 GiB, THP always, CPUs and memory going offline, plugged and unplugged while
# damon_stat monitors, driven through QEMU's monitor by tests/fleet/run.py.
# KERNEL_FLAVOR=debug runs them on the debug kernel, with a kmemleak check.
source "$(dirname "$0")/lib.sh"
x86_64_only "make check-fleet (the fleet scenarios)"
cd "$REPO_ROOT"

FLEET_VENV=$(fleet_venv)
[ -f "$FLEET_VENV/installed" ] || die "the fleet scenarios' Python packages are missing: run 'make setup'"
kdir=$("$REPO_ROOT/scripts/build-kernel.sh" "${KERNEL_FLAVOR:-test}")
"$REPO_ROOT/scripts/build-module.sh" "$kdir"

step "fleet scenarios (2 NUMA nodes, 4 CPUs, 6 GiB, hotplug through QMP)"
"$FLEET_VENV/bin/python3" -B "$REPO_ROOT/tests/fleet/run.py" "$kdir" "$REPO_ROOT/src/damon_stat.ko"
step "make check-fleet: all passed"
