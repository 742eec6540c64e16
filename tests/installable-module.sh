#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The module users install (plain `make module`) carries no test code: no KUnit suite
# section, no symbol of the KUnit layer or suite, while the test module (`make module
# KUNIT=1`) has them, which shows the checks can fail. Both describe the same five
# parameters to modinfo.
#
# Usage: installable-module.sh MODULE TEST_MODULE
source "$(dirname "$0")/../scripts/lib.sh"

module=${1:?usage: installable-module.sh MODULE TEST_MODULE}
test_module=${2:?usage: installable-module.sh MODULE TEST_MODULE}
for ko in "$module" "$test_module"; do
	[ -f "$ko" ] || die "$ko does not exist: build it first (make module, make module KUNIT=1)"
done

# The section KUnit finds a module's suites through. grep reads all of readelf's output
# (no -q): under pipefail, a reader that quits early can fail the pipe with SIGPIPE.
has_suite_section() {
	llvm-readelf --section-headers "$1" | grep -c '\.kunit_test_suites' >/dev/null
}
# Symbols (Rust paths are mangled in, e.g. ..._kunit_suite...) of KUnit code.
kunit_symbols() {
	llvm-nm "$1" | grep -ci kunit || true
}
parameters() {
	modinfo -F parm "$1" | cut -d: -f1 | sort | tr '\n' ' '
}

check "the test module has a KUnit suite section" has_suite_section "$test_module"
check "the test module has KUnit symbols ($(kunit_symbols "$test_module"))" \
	test "$(kunit_symbols "$test_module")" -gt 0
check "the installable module has no KUnit suite section" \
	eval '! has_suite_section "$module"'
check "the installable module has no KUnit symbol ($(kunit_symbols "$module"))" \
	test "$(kunit_symbols "$module")" -eq 0
want="aggr_interval_us enabled estimated_memory_bandwidth kdamond_pid memory_idle_ms_percentiles "
check "the installable module describes its five parameters" test "$(parameters "$module")" = "$want"
check "the test module describes the same parameters" test "$(parameters "$test_module")" = "$want"
check "the installable module is licensed GPL" test "$(modinfo -F license "$module")" = GPL

[ "$CHECK_FAILURES" -eq 0 ] || die "$CHECK_FAILURES check(s) of the built modules failed"
