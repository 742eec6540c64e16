#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The exporter as Prometheus' own tool sees it:
# - `promtool check metrics` (the metric and label naming lint) on the exporter's real
#   output for every fixture of tools/exporter/tests/fixtures, with and without
#   --all-percentiles: no finding at all is accepted;
# - the control: the same lint does reject a gauge with a quantile label, the mistake it
#   is here to catch, so a promtool that lints nothing cannot pass;
# - `promtool check rules` and `promtool test rules` on the shipped rules
#   (tools/exporter/prometheus/).
#
# promtool is Debian's, unpacked by `make setup` with Prometheus; PROMTOOL overrides it.
# The exporter is the one cargo builds for `cargo test` (built here if needed).
#
# Usage: tests/exporter/promtool.sh
source "$(dirname "$0")/../../scripts/lib.sh"

PROMTOOL=${PROMTOOL:-$PROMETHEUS_ROOT/usr/bin/promtool}
[ -x "$PROMTOOL" ] || die "no promtool at $PROMTOOL: run 'make setup' (it unpacks Debian's prometheus package), or set PROMTOOL"
build_exporter
[ -x "$EXPORTER" ] || die "no exporter at $EXPORTER after the build"

fixtures=$REPO_ROOT/tools/exporter/tests/fixtures
rules_dir=$REPO_ROOT/tools/exporter/prometheus
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# lint_clean FILE: promtool check metrics finds nothing in FILE (its findings on stdout
# or stderr, exit status 0 either way in some versions, so the output must be empty).
lint_clean() {
	local out
	out=$("$PROMTOOL" check metrics <"$1" 2>&1) || {
		printf '%s\n' "$out" >&2
		return 1
	}
	[ -z "$out" ] || {
		printf '%s\n' "$out" >&2
		return 1
	}
}

# lint_rejects FILE: promtool check metrics has a finding in FILE.
lint_rejects() {
	! lint_clean "$1" 2>/dev/null
}

# exports ROOT FILE FLAGS...: the exporter writes FILE once from fixture ROOT.
exports() {
	local root=$1 file=$2
	shift 2
	"$EXPORTER" --textfile "$file" --sysfs-root "$root/sys" --procfs-root "$root/proc" "$@" 2>/dev/null &&
		grep -q '^damon_stat_up ' "$file"
}

nr_fixtures=0
for root in "$fixtures"/*/; do
	root=${root%/}
	name=$(basename "$root")
	for flags in "" --all-percentiles; do
		file=$work/$name${flags:+-all}.prom
		# shellcheck disable=SC2086 # flags: none or one word
		if check "the exporter writes $name ${flags:-(default)}" exports "$root" "$file" $flags; then
			check "promtool check metrics: $name ${flags:-(default)}" lint_clean "$file"
		fi
	done
	nr_fixtures=$((nr_fixtures + 1))
done
check "fixtures were found ($nr_fixtures)" [ "$nr_fixtures" -ge 5 ]

# The control: what the exporter used to serve.
cat >"$work/quantile.prom" <<'PROM'
# HELP damon_stat_memory_idle_seconds Per-byte idle time percentiles.
# TYPE damon_stat_memory_idle_seconds gauge
damon_stat_memory_idle_seconds{quantile="0.5"} 96.0
PROM
check "control: promtool check metrics rejects a gauge with a quantile label" \
	lint_rejects "$work/quantile.prom"

check "promtool check rules: damon_stat.rules.yml" \
	"$PROMTOOL" check rules "$rules_dir/damon_stat.rules.yml"
check "promtool test rules: damon_stat.rules.test.yml" \
	sh -c 'cd "$1" && "$2" test rules damon_stat.rules.test.yml' sh "$rules_dir" "$PROMTOOL"

[ "$CHECK_FAILURES" -eq 0 ] || die "exporter and promtool: $CHECK_FAILURES check(s) failed"
step "exporter and promtool: passed"
