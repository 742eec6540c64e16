#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make compare`: damon_stat on 6.12 side by side with upstream DAMON_STAT on 7.3, on the
# same workloads with a known ground truth, in 2 GiB QEMU guests. Builds what it needs
# (the test kernel and module, the upstream kernel, the static workload), boots each
# kernel COMPARE_REPEAT times (alternating, so that both see the same machine load), and
# prints the table of medians (benches/compare/report.py); writes compare.csv and
# idle-percentiles.svg into COMPARE_OUT.
#
# Environment:
#   COMPARE_SECONDS    length of each scenario (default 60; the phase change runs twice)
#   COMPARE_REPEAT     boots per kernel (default 3)
#   COMPARE_SCENARIOS  default: dense dense-flush sparse-thp sparse-4k idle phase
#                      stress-ng-thp stress-ng-4k sqlite-thp sqlite-4k xz-thp xz-4k
#                      core-50ms core-5ms (dense-flush: dense with a TLB flush after
#                      every pass; the -thp and -4k ones run Debian's stress-ng, sqlite3
#                      and xz under THP always and never, benches/compare/guest.sh);
#                      trace-dense (not in the default) prints every aggregation window's
#                      length and observed access ratio and every tuning step, to compare
#                      the interval tuners; trace-dense-flush the same with a workload
#                      that flushes its CPU's TLB after every pass
#   COMPARE_OUT        where logs and results go (default: target/compare)
#   COMPARE_PLUGIN     1 (default): count guest instructions with the TCG plugin
#                      (benches/tcg-plugin/), kdamond alone on vCPU 1; 0: ticks only
#   COMPARE_TRUTH      1 (default, with the plugin): the plugin also records when every
#                      4 KiB page of guest memory was last accessed, and the table gets
#                      truth columns from it (benches/compare/truth.py); 0: only the
#                      workloads' design truth (the guests run several times faster)
#   COMPARE_TEST_KDIR, COMPARE_UPSTREAM_KDIR  built kernel trees to measure instead of
#                      the test and upstream flavours (benches/kernel-shape.sh); the module
#                      is built against the first
#   COMPARE_KERNELS    which of the two to boot (default: damon_stat upstream)
#   COMPARE_MEM        guest memory (default 2G; benches/memory-sweep.sh)
#   COMPARE_MAX_EXTRA_ERROR  fail when a scenario's share of memory reported accessed is
#                      more than this many percentage points farther from the ground truth
#                      than upstream's (the differential check without the truth)
#   COMPARE_MAX_TRUTH_ERROR  fail when damon_stat's share of memory reported accessed is
#                      more than this many percentage points off the plugin's truth of
#                      its own boot (make check's differential check)
source "$(dirname "$0")/lib.sh"
x86_64_only "make compare (upstream 7.3 is built for x86_64)"
cd "$REPO_ROOT"

seconds=${COMPARE_SECONDS:-60}
repeat=${COMPARE_REPEAT:-3}
programs="stress-ng-thp stress-ng-4k sqlite-thp sqlite-4k xz-thp xz-4k"
scenarios=${COMPARE_SCENARIOS:-dense dense-flush sparse-thp sparse-4k idle phase $programs core-50ms core-5ms}
out=${COMPARE_OUT:-$REPO_ROOT/target/compare}
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || die "COMPARE_SECONDS=$seconds: give a whole number of seconds (e.g. 60)"
[[ "$repeat" =~ ^[1-9][0-9]*$ ]] || die "COMPARE_REPEAT=$repeat: give a positive whole number (e.g. 3)"
plugin=${COMPARE_PLUGIN:-1}
[[ "$plugin" =~ ^[01]$ ]] || die "COMPARE_PLUGIN=$plugin: give 1 (count instructions) or 0"
truth=${COMPARE_TRUTH:-$plugin}
[[ "$truth" =~ ^[01]$ ]] || die "COMPARE_TRUTH=$truth: give 1 (the plugin's truth of every access) or 0"
[ "$truth" = 0 ] || [ "$plugin" = 1 ] || die "COMPARE_TRUTH=1 needs the plugin: leave COMPARE_PLUGIN at 1"
mem=${COMPARE_MEM:-2G}
case "$mem" in
[1-9]*G) mem_mib=$((${mem%G} * 1024)) ;;
[1-9]*M) mem_mib=${mem%M} ;;
*) die "COMPARE_MEM=$mem: give a size like 2G or 1536M" ;;
esac
[ "$truth" = 0 ] || [ "$mem_mib" -le 3072 ] ||
	die "COMPARE_MEM=$mem: the truth follows guests of up to 3 GiB (QEMU puts more above 4 GiB); set COMPARE_TRUTH=0"
kernels=${COMPARE_KERNELS:-damon_stat upstream}
for k in $kernels; do
	case "$k" in
	damon_stat | upstream) ;;
	*) die "COMPARE_KERNELS: unknown kernel '$k' (damon_stat upstream)" ;;
	esac
done
for s in $scenarios; do
	case "$s" in
	dense | dense-flush | sparse-thp | sparse-4k | idle | phase | core-50ms | core-5ms | trace-dense | trace-dense-flush) ;;
	stress-ng-thp | stress-ng-4k | sqlite-thp | sqlite-4k | xz-thp | xz-4k)
		program=${s%-*}
		[ "$program" != sqlite ] || program=sqlite3
		command -v "$program" >/dev/null || die "$program is missing: run 'make setup'"
		;;
	*) die "COMPARE_SCENARIOS: unknown scenario '$s' (dense dense-flush sparse-thp sparse-4k idle phase $programs core-50ms core-5ms trace-dense trace-dense-flush)" ;;
	esac
done
command -v gcc >/dev/null || die "gcc is missing: run 'make setup'"
command -v gnuplot >/dev/null || die "gnuplot is missing: run 'make setup' (gnuplot-nox)"

# Guest time: the scenarios, the phase change's second half, a minute to boot and start
# each workload under TCG, and as much again in slack.
n=0 guest_seconds=0
for s in $scenarios; do
	n=$((n + 1))
	guest_seconds=$((guest_seconds + seconds + 25))
	[ "$s" = phase ] && guest_seconds=$((guest_seconds + seconds))
	# The programs' set-up: a database to fill, an input to write.
	case " $programs " in *" $s "*) guest_seconds=$((guest_seconds + 90)) ;; esac
done
guest_seconds=$((guest_seconds + 60))
step "compare: $n scenario(s) of ${seconds} s, $repeat boot(s) per kernel: about $((2 * repeat * guest_seconds / 60)) minutes of guests after the builds"

upstream_kdir=${COMPARE_UPSTREAM_KDIR:-}
test_kdir=${COMPARE_TEST_KDIR:-}
case " $kernels " in *" upstream "*) [ -n "$upstream_kdir" ] || upstream_kdir=$(scripts/build-kernel.sh upstream) ;; esac
case " $kernels " in *" damon_stat "*)
	[ -n "$test_kdir" ] || test_kdir=$(scripts/build-kernel.sh test)
	scripts/build-module.sh "$test_kdir"
	;;
esac
[ "$plugin" = 0 ] || build_tcg_plugin
# The guests run the exporter against each kernel's DAMON_STAT (see the end of guest.sh).
[ "$(kernel_arch)" != x86_64 ] || build_exporter

rm -rf "$out/logs"
mkdir -p "$out/logs"
gcc -O2 -static -Wall -Wextra -Werror -o "$out/workload" benches/compare/workload.c ||
	die "building the workload failed (gcc -static needs Debian's libc6-dev)"
printf 'COMPARE_SECONDS=%s\nCOMPARE_SCENARIOS="%s"\nCOMPARE_PLUGIN=%s\nCOMPARE_TRUTH=%s\n' "$seconds" "$scenarios" "$plugin" "$truth" >"$out/compare.env"
# The kernels' symbols, for the plugin's profile.
for k in $kernels; do
	if [ "$k" = upstream ]; then cp "$upstream_kdir/System.map" "$out/upstream.System.map"; else cp "$test_kdir/System.map" "$out/damon_stat.System.map"; fi
done

for r in $(seq 1 "$repeat"); do
	for kernel in $kernels; do
		# No KUnit at boot: the test kernel's suites (and the module's, at modprobe) would
		# run kdamonds of their own before the measurements. vCPU 1 is kdamond's alone
		# (isolcpus); no KASLR, so that the profile's addresses are System.map's.
		# nohz=off: with the idle tick off, an idle vCPU's timers expire on another vCPU,
		# and 6.12's kdamond, woken on vCPU 1 at the end of a sleep of 20 ms or more
		# (a timer_list timer), spins in del_timer_sync() until vCPU 0 has finished that
		# timer's callback: no time on hardware, where the woken CPU takes longer to leave
		# its idle state, but under TCG 3/4 of the bare 6.12 core's instructions at 50 ms
		# sampling (2.75 against 0.62 million per second). 7.3's kdamond, on the same
		# kind of timer, did not spin there (0 % of its instructions).
		cmdline="isolcpus=1 nokaslr nohz=off"
		if [ "$kernel" = upstream ]; then
			kdir=$upstream_kdir module=
		else
			kdir=$test_kdir module=$REPO_ROOT/src/damon_stat.ko cmdline="$cmdline kunit.enable=0"
		fi
		vm_plugin=
		[ "$plugin" = 0 ] || vm_plugin="$TCG_PLUGIN,out=$out/logs/$kernel-$r.insns,profile_vcpu=1"
		# Guest-physical memory starts at 0; above 3 GiB QEMU moves some of it past 4 GiB,
		# which the truth does not follow (memory-sweep.sh runs without it).
		[ "$truth" = 0 ] || vm_plugin="$vm_plugin,truth_mib=$mem_mib"
		rm -f "$out/logs/$kernel-$r.insns"
		step "compare: $kernel, boot $r of $repeat"
		set +e
		# The per-second readings go to the log only.
		KDIR=$kdir MODULE=$module CMDLINE="$cmdline ${COMPARE_CMDLINE:-}" GUEST=benches/compare/guest.sh VM_MEM=$mem VM_CPUS=2 \
			VM_TIMEOUT=$((2 * guest_seconds)) VM_PLUGIN=$vm_plugin \
			VM_FILES="$out/workload $out/compare.env $REPO_ROOT/benches/compare/windows.awk" \
			VM_LOG="$out/logs/$kernel-$r.log" scripts/vm-run.sh |
			grep --line-buffered -v '^CMP scenario='
		status=${PIPESTATUS[0]}
		set -e
		[ "$status" = 0 ] || die "the $kernel guest failed (log: $out/logs/$kernel-$r.log)"
	done
done

# The exporter, one binary for both: upstream's built-in DAMON_STAT reads as builtin with
# no breakdown, the module as a module with per-node series; both report up and the
# median of the parameter file.
exporter_checked=0
for log in "$out"/logs/*.log; do
	grep -q '^CMP-EXPORTER ' "$log" || continue
	kernel=$(basename "$log" .log)
	kernel=${kernel%-*}
	lines=$(grep '^CMP-EXPORTER' "$log" | tr -d '\r')
	has() { echo "$lines" | grep -qE "$1"; }
	has '^CMP-EXPORTER damon_stat_up 1$' || die "exporter on the $kernel guest: damon_stat_up is not 1 ($log)"
	if [ "$kernel" = upstream ]; then
		has 'damon_stat_info\{.*link_mode="builtin"' || die "exporter on upstream's DAMON_STAT: not reported as builtin ($log)"
		! has 'damon_stat_node_' || die "exporter on upstream's DAMON_STAT: breakdown series where there is no breakdown ($log)"
	else
		has 'damon_stat_info\{.*link_mode="unknown"' || die "exporter on damon_stat: not reported as a module ($log)"
		has 'damon_stat_node_monitored_bytes\{node="0"\} [1-9]' || die "exporter on damon_stat: no node 0 series ($log)"
	fi
	file_ms=$(echo "$lines" | sed -n 's/^CMP-EXPORTER p50_file_ms //p')
	metric_s=$(echo "$lines" | sed -n 's/^CMP-EXPORTER damon_stat_memory_idle_seconds{percentile="50"} //p')
	# The file's p50 just before or just after the exporter read it.
	awk -v ms="$file_ms" -v s="$metric_s" 'BEGIN { n = split(ms, m, " "); if (s == "") exit 1
		for (i = 1; i <= n; i++) if (sprintf("%.3f", s) == sprintf("%.3f", m[i] / 1000)) exit 0
		exit 1 }' ||
		die "exporter on the $kernel guest: p50 ${metric_s:-none} s, the parameter file ${file_ms:-none} ms ($log)"
	exporter_checked=$((exporter_checked + 1))
done
[ "$(kernel_arch)" != x86_64 ] || [ "$exporter_checked" -gt 0 ] ||
	die "no guest ran the exporter (see the end of benches/compare/guest.sh)"
note "    the exporter read each kernel's DAMON_STAT ($exporter_checked boots): built in on 7.3 without a breakdown, a module with one on 6.12, p50 as in the parameter file"

step "compare: the table (machine load now: $(cut -d' ' -f1-3 /proc/loadavg))"
report_args=()
if [ -n "${COMPARE_MAX_EXTRA_ERROR:-}" ]; then
	report_args+=(--max-extra-error "$COMPARE_MAX_EXTRA_ERROR")
fi
if [ -n "${COMPARE_MAX_TRUTH_ERROR:-}" ]; then
	report_args+=(--max-truth-error "$COMPARE_MAX_TRUTH_ERROR")
fi
python3 benches/compare/report.py "${report_args[@]}" "$out" "$out"/logs/*.log
