#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench-moment`: does the moment of reading explain why damon_stat reports more
# memory hot than upstream in some scenarios? damon_stat reads each aggregation window
# once it is complete; upstream reads the window in progress when its 5 s timer fires.
# This boots three kernels on the same scenarios, each with the plugin's truth: damon_stat
# on 6.12, upstream 7.3, and upstream 7.3 with benches/compare/upstream-window-ends.patch
# (it reads at the first window end after 5 s, as damon_stat does). If the moment is the
# cause, the patched upstream reads as damon_stat does.
#
# Environment: MOMENT_SECONDS (default 30) and MOMENT_REPEAT (default 2), passed to make
# compare as COMPARE_SECONDS and, one boot of each kernel per round, as the number of
# rounds; MOMENT_SCENARIOS (default: sparse-4k stress-ng-4k phase xz-4k); MOMENT_OUT
# (default target/reading-moment). The patched kernel is a copy of the cached upstream
# tree with one file rebuilt (about a minute after the upstream build); each round is
# about 17 minutes of guests with the default scenarios.
source "$(dirname "$0")/../scripts/lib.sh"
x86_64_only "make bench-moment"
cd "$REPO_ROOT"

seconds=${MOMENT_SECONDS:-30}
repeat=${MOMENT_REPEAT:-2}
scenarios=${MOMENT_SCENARIOS:-sparse-4k stress-ng-4k phase xz-4k}
out=${MOMENT_OUT:-$REPO_ROOT/target/reading-moment}
[[ "$repeat" =~ ^[1-9][0-9]*$ ]] || die "MOMENT_REPEAT=$repeat: give a positive whole number (e.g. 2)"

upstream_kdir=$(scripts/build-kernel.sh upstream)
window_ends_kdir=$(KERNEL_PATCHES=benches/compare/upstream-window-ends.patch scripts/build-kernel.sh upstream)

rm -rf "$out"
mkdir -p "$out"
# Rounds alternate the kernels, so that all three see the same machine load.
for r in $(seq 1 "$repeat"); do
	mkdir -p "$out/$r"
	step "reading moment: round $r of $repeat: damon_stat and upstream"
	COMPARE_UPSTREAM_KDIR=$upstream_kdir COMPARE_SECONDS=$seconds COMPARE_REPEAT=1 \
		COMPARE_SCENARIOS="$scenarios" COMPARE_OUT="$out/$r/both" scripts/compare.sh >"$out/$r/both.txt" 2>&1 ||
		die "make compare failed (output: $out/$r/both.txt)"
	step "reading moment: round $r of $repeat: upstream reading at window ends"
	COMPARE_UPSTREAM_KDIR=$window_ends_kdir COMPARE_KERNELS=upstream COMPARE_SECONDS=$seconds \
		COMPARE_REPEAT=1 COMPARE_SCENARIOS="$scenarios" COMPARE_OUT="$out/$r/window-ends" \
		scripts/compare.sh >"$out/$r/window-ends.txt" 2>&1 ||
		die "make compare failed (output: $out/$r/window-ends.txt)"
done

python3 - "$out" "$repeat" <<'PY'
import csv, os, statistics, sys
out, repeat = sys.argv[1], int(sys.argv[2])
FIGURES = ("plugin: hot share % (same boot)", "hot share % (negative percentiles)",
           "hot share error vs plugin (points)", "percentile error vs plugin (mean |log10 ms|)",
           "bandwidth / plugin (median)")
# (scenario, figure) -> {kernel: [value of each round]}
values = {}
order = []
for r in range(1, repeat + 1):
    for run, columns in (("both", {"damon_stat 6.12": "damon_stat", "upstream 7.3": "upstream"}),
                         ("window-ends", {"upstream 7.3": "upstream at window ends"})):
        with open(os.path.join(out, str(r), run, "compare.csv")) as f:
            for row in csv.DictReader(f):
                if row["figure"] not in FIGURES:
                    continue
                key = (row["scenario"], row["figure"])
                if key not in values:
                    values[key] = {}
                    order.append(key)
                for column, kernel in columns.items():
                    if row[column]:
                        values[key].setdefault(kernel, []).append(float(row[column]))
kernels = ("damon_stat", "upstream", "upstream at window ends")
print(f"Medians of {repeat} round(s), each round's value in brackets.")
print(f"{'scenario':13} {'figure':46} " + " ".join(f"{k:>26}" for k in kernels))
for key in order:
    cells = []
    for k in kernels:
        v = values[key].get(k, [])
        cells.append(f"{statistics.median(v):.3g} [{' '.join(f'{x:.3g}' for x in v)}]" if v else "-")
    print(f"{key[0]:13} {key[1]:46} " + " ".join(f"{c:>26}" for c in cells))
PY
