#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check`: every test. Host tests of the shared logic, the kernel (cached), the
# module and the test module (with the KUnit suite) built under clippy, a check that the
# module users install carries no test code, the QEMU tests, KUnit included, the same
# QEMU tests of the linked mode on the kernel with the export patch, the install
# tests (make install, DKMS and a headers-only tree in scratch directories, the export
# patch for fleets), and a short accuracy check against the TCG plugin's truth. Then arm64 (with the test flavour): its kernel (cached; about 6 minutes on
# 2 idle cores when first built), the module and the test module under clippy, and the
# QEMU tests, KUnit included, in an arm64 guest, the linked mode on arm64's kernel with the
# export patch, and DKMS and make install for arm64. The headers-only tree, the
# accuracy check and the fleet scenarios are x86_64 only.
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
# Every architecture is checked below, each named explicitly: an ARCH from the caller
# (make check ARCH=arm64) must not steer the x86_64-only parts.
unset ARCH

"$REPO_ROOT/scripts/host-test.sh"

# check_arch ARCH: the kernel (cached), the module and the test module of ARCH under
# clippy, the check that the installable one carries no test code, and the QEMU tests.
# Sets kdir to the kernel tree.
check_arch() {
	local arch=$1 module test_module
	kdir=$(ARCH=$arch "$REPO_ROOT/scripts/build-kernel.sh" "${KERNEL_FLAVOR:-test}")
	module=$(module_build_dir "$arch" n)/src/damon_stat.ko
	test_module=$(module_build_dir "$arch" y)/src/damon_stat.ko
	ARCH=$arch "$REPO_ROOT/scripts/build-module.sh" "$kdir" CLIPPY=1
	ARCH=$arch KUNIT=1 "$REPO_ROOT/scripts/build-module.sh" "$kdir" CLIPPY=1

	step "the installable module carries no test code ($arch)"
	"$REPO_ROOT/tests/installable-module.sh" "$module" "$test_module"

	step "QEMU tests ($arch)"
	ARCH=$arch KDIR=$kdir MODULE=$module TEST_MODULE=$test_module "$REPO_ROOT/tests/run-vm-tests.sh"
}

check_arch x86_64

# check_linked ARCH: the linked mode, on ARCH's kernel that carries
# patches/linux-6.12-export-damon.patch: the module and the test module built apart (see
# linked_build_dir), so the kallsyms-mode builds stay as they are; the link-mode checks of
# both modules; the same QEMU tests.
check_linked() {
	local arch=$1 linked_kdir module_dir test_module_dir
	linked_kdir=$(ARCH=$arch "$REPO_ROOT/scripts/build-kernel.sh" linked)
	module_dir=$(linked_build_dir "$arch" n)
	test_module_dir=$(linked_build_dir "$arch" y)
	copy_module_sources "$module_dir"
	copy_module_sources "$test_module_dir"
	ARCH=$arch MODULE_SRC=$module_dir "$REPO_ROOT/scripts/build-module.sh" "$linked_kdir" CLIPPY=1
	ARCH=$arch KUNIT=1 MODULE_SRC=$test_module_dir "$REPO_ROOT/scripts/build-module.sh" "$linked_kdir" CLIPPY=1
	step "link modes ($arch): what each module refers to"
	"$REPO_ROOT/tests/link-mode.sh" "$(module_build_dir "$arch" n)/src/damon_stat.ko" "$module_dir/src/damon_stat.ko"
	step "QEMU tests of the linked mode ($arch), on the kernel with the export patch"
	# The linked mode changes how the module calls DAMON's ten functions and nothing
	# above them: the tests of loading, enabling and monitoring run here; those of damo,
	# the exporter and the breakdown test what lies above and ran in the kallsyms mode.
	ARCH=$arch KDIR=$linked_kdir MODULE=$module_dir/src/damon_stat.ko \
		TEST_MODULE=$test_module_dir/src/damon_stat.ko "$REPO_ROOT/tests/run-vm-tests.sh" \
		foundation monitoring cmdline default-enabled exclusive span selftest
}

if [ "${KERNEL_FLAVOR:-test}" = test ]; then
	check_linked x86_64
fi

step "install tests: DKMS, the export patch, a headers-only tree, make install and uninstall"
for test in "$REPO_ROOT"/tests/install/*.sh; do
	[ "$(basename "$test")" = lib.sh ] || KDIR=$kdir "$test"
done

# dense-flush: the workload flushes its TLB after every pass, so that QEMU's software TLB
# cannot hide its accesses from either kernel for whole windows (see
# Documentation/accuracy-and-cost.md). 60 s, judged on the readings of its second half:
# in the first 30 s either kernel's regions can still straddle the hot set for a few
# refreshes (ours read 8 % for 12 s in one of 9 boots, upstream 6-7 % in 2 of 10).
# Judged against the truth that the TCG plugin records in the same boot (every access of
# the guest, benches/tcg-plugin/src/truth.rs): the reported share is whole percents
# rounded down, so a right module is under 1 point off, and one that reads nothing (or
# the huge-page inflation of sparse-thp) is 3 and more. damon_stat's boot only: the
# verdict is against the truth, and upstream's reading beside it asserted nothing, for
# the price of building Linux 7.3 (8 minutes on a fresh machine) and a second boot;
# `make compare` sets the two kernels side by side.
if [ "${KERNEL_FLAVOR:-test}" = test ]; then
	step "accuracy check: dense-flush scenario, share of memory reported accessed no more than 1.5 points off the plugin's truth"
	COMPARE_KERNELS=damon_stat COMPARE_SECONDS=60 COMPARE_REPEAT=1 COMPARE_SCENARIOS=dense-flush COMPARE_MAX_TRUTH_ERROR=1.5 \
		COMPARE_OUT="$REPO_ROOT/target/compare-check" "$REPO_ROOT/scripts/compare.sh"
fi

# arm64 on the test flavour only: the other flavours are x86_64 kernels.
if [ "${KERNEL_FLAVOR:-test}" = test ]; then
	check_arch arm64
	check_linked arm64
	# DKMS and make install as on an arm64 machine (the headers-only cut is Arch's x86_64
	# package, and the export patch is the same source on both).
	step "install tests (arm64): DKMS, make install and uninstall"
	for test in dkms install; do
		KDIR=$kdir "$REPO_ROOT/tests/install/$test.sh"
	done
fi
step "make check: all passed"
