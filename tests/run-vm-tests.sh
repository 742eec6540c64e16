#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs every tests/vm/*.sh in its own guest boot (scripts/vm-run.sh) and checks its
# outcome. A script states what it needs and expects in header lines:
#   # vm-cmdline: <extra kernel arguments>
#   # vm-mem: <guest memory>
#   # vm-expect-status: <exit status of vm-run, default 0>
#   # vm-expect-suite: <KUnit suite that must run and pass>
# Usage: run-vm-tests.sh [name-filter...]   (KDIR and MODULE in the environment); a test
# runs when its name contains any of the filters, or always without filters.
source "$(dirname "$0")/../scripts/lib.sh"

filters=("$@")
passed=0
failed=0
failed_names=()
for test in "$REPO_ROOT"/tests/vm/*.sh; do
	name=$(basename "$test" .sh)
	[ "$name" = lib ] && continue
	if [ ${#filters[@]} -gt 0 ]; then
		wanted=false
		for filter in "${filters[@]}"; do [[ "$name" == *"$filter"* ]] && wanted=true; done
		$wanted || continue
	fi
	header() { sed -n "s/^# $1: //p" "$test" | head -n 1; }
	expect=$(header vm-expect-status)
	expect=${expect:-0}
	start=$(date +%s)
	set +e
	CMDLINE=$(header vm-cmdline) VM_MEM=$(header vm-mem) \
		VM_EXPECT_SUITES=$(header vm-expect-suite) GUEST=$test \
		"$REPO_ROOT/scripts/vm-run.sh"
	status=$?
	set -e
	took=$(($(date +%s) - start))
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
echo "vm-tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
