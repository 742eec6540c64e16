#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs every *.sh of a test directory (default tests/vm; VM_TESTS_DIR=tests/debug for
# the debug kernel's suite) in its own guest boot (scripts/vm-run.sh) and checks its
# outcome. A script states what it needs and expects in header lines:
#   # vm-cmdline: <extra kernel arguments>
#   # vm-mem: <guest memory>
#   # vm-timeout: <seconds before the guest is killed>
#   # vm-expect-status: <exit status of vm-run, default 0>
#   # vm-expect-suite: <KUnit suite that must run and pass>
#   # vm-module: test   (the test module, with the KUnit suite: `make module KUNIT=1`;
#                       TEST_MODULE names it, else it is built when first needed)
#   # vm-module-make: <make variables for a module built for this test alone, e.g.
#                       DAMON_STAT_ENABLED_DEFAULT=y>
#   # vm-needs: host-userland   (runs the host's programs in the guest: Python, damo, the
#                       exporter, Prometheus; skipped, with a line that says so, where the
#                       guest cannot run them: arm64, whose guest has busybox only)
# Lines `figure: NAME N` in a run's output are added up over all runs and printed last.
# Usage: run-vm-tests.sh [name-filter...]   (KDIR and MODULE in the environment); a test
# runs when its name contains any of the filters, or always without filters.
source "$(dirname "$0")/../scripts/lib.sh"

filters=("$@")
tests_dir=${VM_TESTS_DIR:-$REPO_ROOT/tests/vm}
[ -d "$tests_dir" ] || die "VM_TESTS_DIR=$tests_dir: no such directory"
outputs=$(mktemp -d "${TMPDIR:-/tmp}/damon_stat-vm-tests.XXXXXX")
trap 'rm -rf "$outputs"' EXIT
test_module=${TEST_MODULE:-}
arch=$(tree_arch "$KDIR")
# vm-run.sh boots KDIR's architecture, and checks that ARCH, when given, agrees.
export ARCH=${ARCH:-$arch}
# Host programs run in x86_64 guests only (see vm-needs above).
[ "$arch" != x86_64 ] || build_exporter
passed=0
failed=0
skipped=0
failed_names=()
for test in "$tests_dir"/*.sh; do
	name=$(basename "$test" .sh)
	[ "$name" = lib ] && continue
	if [ ${#filters[@]} -gt 0 ]; then
		wanted=false
		for filter in "${filters[@]}"; do [[ "$name" == *"$filter"* ]] && wanted=true; done
		$wanted || continue
	fi
	header() { sed -n "s/^# $1: //p" "$test" | head -n 1; }
	case "$(header vm-needs)" in
	'') ;;
	host-userland)
		if [ "$arch" != x86_64 ]; then
			skipped=$((skipped + 1))
			step "SKIP $name on $arch: it runs the host's x86_64 programs (Python, damo, the exporter, Prometheus) in the guest; what it tests does not depend on the architecture, and it runs on x86_64"
			continue
		fi
		;;
	*) die "$test: unknown '# vm-needs: $(header vm-needs)' (only 'host-userland' is known)" ;;
	esac
	expect=$(header vm-expect-status)
	expect=${expect:-0}
	start=$(date +%s)
	module=${MODULE:-}
	case "$(header vm-module)" in
	'') ;;
	test)
		if [ -z "$test_module" ]; then
			KUNIT=1 "$REPO_ROOT/scripts/build-module.sh" "$KDIR" ||
				die "building the test module (KUNIT=1) failed"
			test_module=$(module_build_dir "$arch" y)/src/damon_stat.ko
		fi
		module=$test_module
		;;
	*) die "$test: unknown '# vm-module: $(header vm-module)' (only 'test' is known)" ;;
	esac
	make_vars=$(header vm-module-make)
	if [ -n "$make_vars" ]; then
		# A copy of the sources, built apart so that the checkout's module stays as it is.
		variant=$outputs/module-$name
		copy_module_sources "$variant"
		env $make_vars MODULE_SRC="$variant" "$REPO_ROOT/scripts/build-module.sh" "$KDIR" ||
			die "building the module with $make_vars failed"
		module=$variant/src/damon_stat.ko
	fi
	set +e
	MODULE=$module CMDLINE=$(header vm-cmdline) VM_MEM=$(header vm-mem) VM_TIMEOUT=$(header vm-timeout) \
		VM_EXPECT_SUITES=$(header vm-expect-suite) GUEST=$test \
		"$REPO_ROOT/scripts/vm-run.sh" 2>&1 | tee "$outputs/$name.out"
	status=${PIPESTATUS[0]}
	set -e
	took=$(($(date +%s) - start))
	# The rig's self-tests fail on purpose: their reports are not the product's figures.
	[ "$expect" = 0 ] || rm -f "$outputs/$name.out"
	if [ "$status" = "$expect" ]; then
		passed=$((passed + 1))
		step "PASS $name (exit $status as expected, ${took}s)"
	else
		failed=$((failed + 1))
		failed_names+=("$name")
		step "FAIL $name (exit $status, expected $expect, ${took}s)"
	fi
done
[ ${#failed_names[@]} -eq 0 ] || note "failed: ${failed_names[*]}"
# grep reads the files itself: `cat | grep -q` fails under pipefail when grep stops
# at its first match and cat gets SIGPIPE.
if grep -qh '^figure: ' "$outputs"/*.out 2>/dev/null; then
	echo "figures (summed over the runs):"
	cat "$outputs"/*.out | sed -n 's/^figure: \([^ ]*\) \([0-9]*\)$/\1 \2/p' |
		awk '{ sum[$1] += $2 } END { for (k in sum) printf "  %-28s %d\n", k, sum[k] }' | sort
fi
echo "vm-tests ($arch): $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
