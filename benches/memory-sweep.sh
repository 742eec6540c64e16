#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench-memory`: how kdamond's cost grows with the memory it monitors. The same
# workload (64 MiB written continuously out of 512 MiB) in guests of 1, 4, 16 and 64 GiB,
# under DAMON_STAT (make compare's dense-flush: damon_stat and upstream's, whose tuner
# settles on intervals that follow the hot share of memory) and under each kernel's
# bare core at fixed intervals (core-5ms: what the cost is for the same sampling), with
# the TCG plugin; then damon_stat in a 16 GiB guest whose memory map the command line cuts into
# 60 more "System RAM" ranges (memmap=4K$ADDR holes), for the walk of the iomem resources
# that follows hotplug at every window. Prints kdamond's instructions per second and per
# region-sample, regions per window, and damon_stat's refresh cost (its own count at
# stop), and writes target/memory-sweep/sweep.csv and sweep.svg.
#
# QEMU allocates guest memory on first touch: a 64 GiB guest touches its memory map (64
# bytes of struct page per 4 KiB page: 1 GiB) and what the workload uses, not 64 GiB.
#
# Environment: SWEEP_MEMS (default "1G 4G 16G 64G"), SWEEP_SECONDS (default 40),
# SWEEP_REPEAT (default 1), SWEEP_OUT (default target/memory-sweep).
source "$(dirname "$0")/../scripts/lib.sh"
x86_64_only "make bench-memory"
cd "$REPO_ROOT"

mems=${SWEEP_MEMS:-1G 4G 16G 64G}
seconds=${SWEEP_SECONDS:-40}
repeat=${SWEEP_REPEAT:-1}
out=${SWEEP_OUT:-$REPO_ROOT/target/memory-sweep}
for m in $mems; do
	[[ "$m" =~ ^[1-9][0-9]*G$ ]] || die "SWEEP_MEMS: '$m' is not a size in GiB like 16G"
done
mkdir -p "$out"

# Guest memory without a reservation (MAP_NORESERVE): a guest larger than the host's
# memory starts, and touches only what its memory map and workload need.
noreserve() { echo "-object memory-backend-ram,id=ram0,size=$1,reserve=off -machine memory-backend=ram0"; }

for m in $mems; do
	step "memory sweep: $m guests"
	VM_QEMU_ARGS=$(noreserve "$m") COMPARE_TRUTH=0 COMPARE_MEM=$m COMPARE_SECONDS=$seconds COMPARE_REPEAT=$repeat COMPARE_SCENARIOS="dense-flush core-5ms" \
		COMPARE_OUT="$out/$m" scripts/compare.sh >"$out/$m.txt" ||
		die "make compare failed for a $m guest (output: $out/$m.txt)"
done

# 60 holes of 4 KiB, 128 MiB apart from 1 GiB on: 61 more System RAM ranges.
holes=
for i in $(seq 0 59); do
	holes="$holes memmap=4K\$$(printf '%#x' $(((8 + i) * 128 * 1024 * 1024)))"
done
step "memory sweep: 16G guest with 60 holes in its memory map"
VM_QEMU_ARGS=$(noreserve 16G) COMPARE_TRUTH=0 COMPARE_MEM=16G COMPARE_SECONDS=$seconds COMPARE_REPEAT=$repeat \
	COMPARE_SCENARIOS=dense-flush COMPARE_KERNELS=damon_stat COMPARE_CMDLINE="$holes" COMPARE_OUT="$out/16G-holes" \
	scripts/compare.sh >"$out/16G-holes.txt" ||
	die "make compare failed for the 16G guest with holes (output: $out/16G-holes.txt)"

python3 benches/memory_sweep_report.py "$out" $mems 16G-holes
