#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check-debug`: the hardening suite (tests/debug/) on the debug kernel flavour
# (KASAN, kmemleak, lockdep, fault injection): stress, fault injection, hostile input.
# Ends with the figures: cycles done, leaks and warnings found, bad inputs tried and
# rejected, faults injected and survived.
source "$(dirname "$0")/lib.sh"
x86_64_only "make check-debug"
cd "$REPO_ROOT"

kdir=$("$REPO_ROOT/scripts/build-kernel.sh" debug)
"$REPO_ROOT/scripts/build-module.sh" "$kdir"

step "QEMU hardening tests on the debug kernel"
set +e
VM_TESTS_DIR=$REPO_ROOT/tests/debug KDIR=$kdir MODULE=$REPO_ROOT/src/damon_stat.ko \
	"$REPO_ROOT/tests/run-vm-tests.sh" | tee "${TMPDIR:-/tmp}/damon_stat-check-debug.log"
status=${PIPESTATUS[0]}
set -e
[ "$status" = 0 ] || die "make check-debug: failed (above)"

# Back to the test kernel, as the next `make check` builds: switching KDIR in one checkout
# rebuilds everything (the bindings' command names the tree).
step "switching the module build back to the test kernel"
"$REPO_ROOT/scripts/build-module.sh" "$("$REPO_ROOT/scripts/build-kernel.sh" test)" >/dev/null
step "make check-debug: all passed"
