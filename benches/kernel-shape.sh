#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench-shape`: what each part of the test kernel's distribution shape
# (kernel/test.config) does to kdamond's cost. Builds the test kernel with each
# KERNEL_SHAPE of benches/kernel-shape/ undone, cumulatively (tinyconfig's choices back
# in, one group at a time), boots each with the TCG plugin and runs the bare 6.12 core at
# 50 ms and 5 ms sampling and damon_stat's dense-flush scenario, and prints one table:
# kdamond instructions per second and per region-sample, with their spread.
#
# Environment: SHAPE_SECONDS (default 40) and SHAPE_REPEAT (default 2), passed to make
# compare as COMPARE_SECONDS and COMPARE_REPEAT; SHAPE_OUT (default target/kernel-shape).
# Each shape is a kernel build (about 6 minutes on 2 idle cores the first time, cached
# after) and about 3 minutes of guests per repeat.
source "$(dirname "$0")/../scripts/lib.sh"
x86_64_only "make bench-shape"
cd "$REPO_ROOT"

seconds=${SHAPE_SECONDS:-40}
repeat=${SHAPE_REPEAT:-2}
out=${SHAPE_OUT:-$REPO_ROOT/target/kernel-shape}
# From tinyconfig's shape to the distribution's, one group at a time.
shapes=("size classic-sparsemem tiny-rest" "size tiny-rest" "tiny-rest" "")
names=("tinyconfig shape" "+ vmemmap" "+ -O2" "distribution shape")

mkdir -p "$out"
for i in "${!shapes[@]}"; do
	kdir=$(KERNEL_SHAPE="${shapes[$i]}" scripts/build-kernel.sh test)
	step "kernel shape: ${names[$i]} (KERNEL_SHAPE=\"${shapes[$i]}\")"
	COMPARE_TRUTH=0 COMPARE_TEST_KDIR=$kdir COMPARE_KERNELS=damon_stat COMPARE_SECONDS=$seconds \
		COMPARE_REPEAT=$repeat COMPARE_SCENARIOS="core-50ms core-5ms dense-flush" \
		COMPARE_OUT="$out/$i" scripts/compare.sh >"$out/$i.txt" ||
		die "make compare failed for KERNEL_SHAPE=\"${shapes[$i]}\" (output: $out/$i.txt)"
done
# The module is built against each shape in turn: leave it built for the test kernel.
scripts/build-module.sh "$(scripts/build-kernel.sh test)" >/dev/null

python3 - "$out" "${names[@]}" <<'PY'
import csv, os, sys
out, names = sys.argv[1], sys.argv[2:]
rows = {}
for i, name in enumerate(names):
    with open(os.path.join(out, str(i), "compare.csv")) as f:
        r = csv.reader(f)
        next(r)
        last = None
        for scenario, figure, ours, *_ in r:
            figure = figure.strip()
            if figure == "spread % between repeats":
                figure = last + " spread %"
            else:
                last = figure
            rows.setdefault((scenario, figure), {})[name] = ours
wanted = ("kdamond Minstructions/s", "kdamond Minstructions/s spread %",
          "instructions per region-sample", "instructions per region-sample spread %",
          "regions per aggregation window")
print(f"{'scenario':12} {'figure':42} " + " ".join(f"{n:>19}" for n in names))
for scenario in ("core-50ms", "core-5ms", "dense-flush"):
    for figure in wanted:
        v = rows.get((scenario, figure), {})
        print(f"{scenario:12} {figure:42} " + " ".join(f"{v.get(n, '-') or '-':>19}" for n in names))
PY
