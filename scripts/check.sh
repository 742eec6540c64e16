#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check`: every test. Host tests of the shared logic, the kernel (cached), the
# module and the test module (with the KUnit suite) built under clippy, a check that the
# module users install carries no test code, and the QEMU tests, KUnit included.
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

"$REPO_ROOT/scripts/host-test.sh"

kdir=$("$REPO_ROOT/scripts/build-kernel.sh" "${KERNEL_FLAVOR:-test}")
"$REPO_ROOT/scripts/build-module.sh" "$kdir" CLIPPY=1
KUNIT=1 "$REPO_ROOT/scripts/build-module.sh" "$kdir" CLIPPY=1

step "the installable module carries no test code"
"$REPO_ROOT/tests/installable-module.sh" "$REPO_ROOT/src/damon_stat.ko" "$KUNIT_MODULE"

step "QEMU tests"
KDIR=$kdir MODULE=$REPO_ROOT/src/damon_stat.ko TEST_MODULE=$KUNIT_MODULE \
	"$REPO_ROOT/tests/run-vm-tests.sh"
step "make check: all passed"
