#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check`: every test. Host tests of the shared logic, the kernel (cached), the
# module build (also under clippy when available), the QEMU tests, KUnit included, and
# the install tests: make install, DKMS and a headers-only tree in scratch directories,
# and the export patch for fleets.
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

"$REPO_ROOT/scripts/host-test.sh"

kdir=$("$REPO_ROOT/scripts/build-kernel.sh" "${KERNEL_FLAVOR:-test}")
"$REPO_ROOT/scripts/build-module.sh" "$kdir" CLIPPY=1

step "QEMU tests"
KDIR=$kdir MODULE=$REPO_ROOT/src/damon_stat.ko "$REPO_ROOT/tests/run-vm-tests.sh"

step "install tests: DKMS, the export patch, a headers-only tree, make install and uninstall"
for test in "$REPO_ROOT"/tests/install/*.sh; do
	[ "$(basename "$test")" = lib.sh ] || KDIR=$kdir "$test"
done
step "make check: all passed"
