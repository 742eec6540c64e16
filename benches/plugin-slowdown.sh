#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench-plugin`: what the TCG plugin (benches/tcg-plugin/) costs the guest. Boots
# the test kernel in a 2 GiB guest three ways, in turn, PLUGIN_REPEAT times: without the
# plugin, with it counting instructions (as make compare runs it with COMPARE_TRUTH=0),
# and with the truth of every access too (truth_mib=2048, make compare's default); the
# guest times the same three jobs three times each (benches/plugin-slowdown-guest.sh).
# Prints per job and way the median run and the spread (max/min) over all runs, and the
# slowdown against the guest without the plugin.
#
# Environment: PLUGIN_REPEAT (default 2), PLUGIN_OUT (default target/plugin-slowdown).
source "$(dirname "$0")/../scripts/lib.sh"
x86_64_only "make bench-plugin"
cd "$REPO_ROOT"

repeat=${PLUGIN_REPEAT:-2}
[[ "$repeat" =~ ^[1-9][0-9]*$ ]] || die "PLUGIN_REPEAT=$repeat: give a positive whole number (e.g. 2)"
out=${PLUGIN_OUT:-$REPO_ROOT/target/plugin-slowdown}
command -v xz >/dev/null || die "xz is missing: run 'make setup'"
command -v gcc >/dev/null || die "gcc is missing: run 'make setup'"
rm -rf "$out"
mkdir -p "$out"
kdir=$(scripts/build-kernel.sh test)
build_tcg_plugin
gcc -O2 -static -Wall -Wextra -Werror -o "$out/workload" benches/compare/workload.c ||
	die "building the workload failed (gcc -static needs Debian's libc6-dev)"

for r in $(seq 1 "$repeat"); do
	for way in none count truth; do
		case $way in
		none) plugin= ;;
		count) plugin="$TCG_PLUGIN,out=$out/$way-$r.insns,profile_vcpu=1" ;;
		truth) plugin="$TCG_PLUGIN,out=$out/$way-$r.insns,profile_vcpu=1,truth_mib=2048" ;;
		esac
		step "plugin slowdown: $way, boot $r of $repeat"
		KDIR=$kdir MODULE= CMDLINE="kunit.enable=0" GUEST=benches/plugin-slowdown-guest.sh VM_MEM=2G VM_CPUS=2 \
			VM_TIMEOUT=1200 VM_PLUGIN=$plugin VM_FILES="$out/workload" VM_LOG="$out/$way-$r.log" \
			scripts/vm-run.sh >/dev/null || die "the guest failed (log: $out/$way-$r.log)"
		grep -q '^SLOW-DONE' "$out/$way-$r.log" || die "the guest did not finish its jobs (log: $out/$way-$r.log)"
	done
done

python3 - "$out" <<'PY'
import glob, os, re, statistics, sys
out = sys.argv[1]
runs = {}
for log in glob.glob(os.path.join(out, "*.log")):
    way = os.path.basename(log).rsplit("-", 1)[0]
    for line in open(log, errors="replace"):
        m = re.match(r"SLOW job=(\w+) run=\d+ ms=(\d+)", line.strip())
        if m:
            runs.setdefault((m[1], way), []).append(int(m[2]))
ways = ["none", "count", "truth"]
print(f"{'job':6} " + " ".join(f"{w + ' ms (spread)':>22}" for w in ways) + f" {'count/none':>11} {'truth/none':>11}")
rows = []
for job in ["spin", "xz", "page"]:
    med = {w: statistics.median(runs[(job, w)]) for w in ways}
    cells = [f"{med[w]:>10.0f} ({max(runs[(job, w)]) / max(1, min(runs[(job, w)])):4.2f}x)" for w in ways]
    ratios = [med[w] / max(1, med["none"]) for w in ("count", "truth")]
    print(f"{job:6} " + " ".join(f"{c:>22}" for c in cells) + "".join(f" {r:>10.1f}x" for r in ratios))
    rows.append([job] + [str(med[w]) for w in ways] + [f"{r:.2f}" for r in ratios])
with open(os.path.join(out, "slowdown.csv"), "w") as f:
    f.write("job,none_ms,count_ms,truth_ms,count_over_none,truth_over_none\n")
    f.writelines(",".join(r) + "\n" for r in rows)
PY
