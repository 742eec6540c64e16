# SPDX-License-Identifier: GPL-2.0
# `make compare`'s guest: runs the scenarios on whichever kernel booted (damon_stat as a
# module on 6.12, or upstream's built-in DAMON_STAT on 7.3: both have the same files in
# /sys/module/damon_stat/parameters/) and prints one `CMP` line per reading for the host
# to parse (benches/compare/report.py). Settings come from /guest/compare.env:
#   COMPARE_SECONDS    length of each scenario (the phase change runs twice as long)
#   COMPARE_SCENARIOS  which scenarios to run, in order (names below)
#   COMPARE_PLUGIN     1 when QEMU runs the TCG plugin (benches/tcg-plugin/): the guest
#                      then runs the plugin's known-answer test first, and measures each
#                      scenario's cost in instructions (cost_begin, cost_end)
#   COMPARE_TRUTH      1 when the plugin also keeps the truth of every access
#                      (truth_mib): the guest tells it the System RAM span DAMON_STAT
#                      monitors, runs the truth's known-answer test, and has it write
#                      the truth after every reading (CMP-TRUTH pairs them)
#
# kdamond gets vCPU 1 to itself (compare.sh boots with isolcpus=1; this script and the
# workload stay on vCPU 0), so that the plugin's count of vCPU 1 is kdamond's work plus
# that vCPU's idle activity, measured apart with monitoring off.
. /guest/lib.sh
. /guest/compare.env

# Everything this script starts runs on vCPU 0 (busybox's taskset takes a mask).
taskset -p 1 $$ >/dev/null || {
	echo "compare: taskset failed"
	exit 1
}

WL=/guest/workload
THP=/sys/kernel/mm/transparent_hugepage/enabled
ADMIN=/sys/kernel/mm/damon/admin

[ -d "$P" ] || modprobe damon_stat || {
	echo "compare: no damon_stat (neither built in nor loadable)"
	exit 1
}
ram=$($WL system-ram) || exit 1
set -- $ram
SPAN_START=$2
SPAN_END=$3
SPAN_BYTES=$(($3 - $2))
echo "CMP-KERNEL release=$(uname -r) system_ram=$1 span=$SPAN_BYTES ram_ranges=$(grep -c ': System RAM$' /proc/iomem)"
[ "${COMPARE_TRUTH:-0}" = 1 ] && $WL truth-range "$SPAN_START" "$SPAN_END"

# truth SCENARIO: has the plugin write the truth for the current aggregation interval
# (the n-th truth line goes with the n-th CMP-TRUTH line).
truth() {
	[ "${COMPARE_TRUTH:-0}" = 1 ] || return 0
	$WL truth "$aggr"
	echo "CMP-TRUTH scenario=$1 t=$t"
}

now() { cut -d' ' -f1 /proc/uptime; }

# mark SCENARIO WHAT [profile]: executes the plugin's marker (a no-op without it) and
# names it: the host pairs the plugin's n-th marker with the n-th CMP-MARK line.
mark() {
	[ "${COMPARE_PLUGIN:-0}" = 1 ] || return 0
	$WL mark "${3:-snapshot}"
	echo "CMP-MARK scenario=$1 what=$2"
}

# The DAMON tracepoint that both kernels fire once per region at the end of every
# aggregation window: its region count, for instructions per region-sample.
TR=/sys/kernel/tracing
start_window_trace() {
	echo 4096 >"$TR/buffer_size_kb"
	echo >"$TR/trace"
	echo 1 >"$TR/events/damon/damon_aggregated/enable" || exit 1
	awk -v name="$1" -f /guest/windows.awk "$TR/trace_pipe" &
	TRACE_PID=$!
}
stop_window_trace() {
	echo 0 >"$TR/events/damon/damon_aggregated/enable"
	sleep 1
	kill "$TRACE_PID"
	wait "$TRACE_PID" 2>/dev/null
}

# cost_begin NAME KDAMOND_PID / cost_end NAME: the cost window. kdamond moves to vCPU 1;
# the window's instructions (plugin), ticks and aggregation windows (tracepoint) are
# those between the two.
cost_begin() {
	COST_PID=$2
	taskset -p 2 "$COST_PID" >/dev/null || {
		echo "compare: cannot move kdamond $COST_PID to vCPU 1"
		exit 1
	}
	[ "${COMPARE_PLUGIN:-0}" = 1 ] && start_window_trace "$1"
	COST_TICKS=$(ticks "$COST_PID")
	COST_T=$(now)
	mark "$1" cost-begin profile
}
cost_end() {
	mark "$1" cost-end profile
	COST_TICKS=$(($(ticks "$COST_PID") - COST_TICKS))
	COST_T=$(elapsed "$COST_T" "$(now)")
	[ "${COMPARE_PLUGIN:-0}" = 1 ] && stop_window_trace
	echo "CMP-COST scenario=$1 ticks=$COST_TICKS elapsed=$COST_T"
}

# idle_baseline NAME: vCPU 1's own activity (timer, RCU, kworkers) for 5 s with the
# workload running and monitoring off, subtracted from the cost window's count.
idle_baseline() {
	[ "${COMPARE_PLUGIN:-0}" = 1 ] || return 0
	mark "$1" idle-begin profile
	sleep 5
	mark "$1" idle-end profile
}
# kdamond's user plus system time in clock ticks (USER_HZ, 100 per second).
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

ready_or_gone() {
	grep -q '^ready' /tmp/wl.out 2>/dev/null || ! kill -0 "$WL_PID" 2>/dev/null
}

# start_workload THP_MODE ARGS...: sets the THP mode, starts the workload, waits for its
# first pass over all of its memory; WL_PID and TRUTH_HOT are set.
start_workload() {
	echo "$1" >"$THP"
	shift
	rm -f /tmp/wl.out
	$WL run "$@" >/tmp/wl.out 2>&1 &
	WL_PID=$!
	wait_until 120 ready_or_gone
	grep -q '^ready' /tmp/wl.out || {
		echo "compare: the workload did not start: $(cat /tmp/wl.out)"
		exit 1
	}
	TRUTH_HOT=$(sed -n 's/^ready .*hot_bytes=\([0-9]*\).*/\1/p' /tmp/wl.out)
	# What THP really gave: the huge pages mapped once all of the memory is resident.
	ANON_HUGE_KB=$(awk '/^AnonHugePages:/ { print $2 }' /proc/meminfo)
	echo "CMP-WORKLOAD thp=$(cat "$THP") args='$*' anon_huge_kb=$ANON_HUGE_KB"
}

stop_workload() {
	kill "$WL_PID" 2>/dev/null
	wait "$WL_PID" 2>/dev/null
}

# stat_scenario NAME SECONDS THP_MODE WORKLOAD_ARGS...: enables DAMON_STAT with the
# workload running, reads every parameter every second, disables it.
stat_scenario() {
	name=$1 seconds=$2
	shift 2
	start_workload "$@"
	idle_baseline "$name"
	measure "$name" "$seconds"
	moved=$(sed -n 's/^moved .*at=\([0-9.]*\)$/\1/p' /tmp/wl.out)
	[ -n "$moved" ] && moved=$(elapsed "$t0" "$moved") || moved=-1
	stop_workload
	echo "CMP-END scenario=$name ticks=$((ticks1 - ticks0)) elapsed=$(elapsed "$t0" "$t1") truth_hot=$TRUTH_HOT span=$SPAN_BYTES first_result=$first moved_at=$moved anon_huge_kb=$ANON_HUGE_KB"
}

program_ready_or_gone() {
	[ -e /tmp/program.ready ] || ! kill -0 "$PROGRAM_PID" 2>/dev/null
}

# program_scenario NAME SECONDS THP_MODE COMMAND: the same with a program that no one
# here wrote (from Debian's packages, run from the host's userland) instead of the
# workload. COMMAND creates /tmp/program.ready when its set-up is done; the measurement
# starts 10 s later. Its truth is the plugin's only.
program_scenario() {
	name=$1 seconds=$2
	echo "$3" >"$THP"
	rm -f /tmp/program.out /tmp/program.ready
	# A process group of its own, to stop the program with whatever it started.
	setsid sh -c "$4" >/tmp/program.out 2>&1 &
	PROGRAM_PID=$!
	# Its set-up (a database to fill, an input to write), then 10 s of its steady state.
	wait_until 400 program_ready_or_gone
	sleep 10
	kill -0 "$PROGRAM_PID" 2>/dev/null || {
		echo "compare: $name stopped early: $(tail -5 /tmp/program.out)"
		exit 1
	}
	ANON_HUGE_KB=$(awk '/^AnonHugePages:/ { print $2 }' /proc/meminfo)
	echo "CMP-WORKLOAD thp=$(cat "$THP") program=$name anon_huge_kb=$ANON_HUGE_KB"
	idle_baseline "$name"
	measure "$name" "$seconds"
	kill -TERM -- "-$PROGRAM_PID" 2>/dev/null
	wait "$PROGRAM_PID" 2>/dev/null
	sleep 1
	umount /tmp/sq 2>/dev/null
	rm -f /tmp/xz.in
	echo "CMP-END scenario=$name ticks=$((ticks1 - ticks0)) elapsed=$(elapsed "$t0" "$t1") truth_hot=-1 span=$SPAN_BYTES first_result=$first moved_at=-1 anon_huge_kb=$ANON_HUGE_KB"
}

# measure NAME SECONDS: enables DAMON_STAT, reads every parameter (and the truth) every
# second, with the cost window in the second half, and disables it; sets t0, t1,
# ticks0, ticks1 and first for the CMP-END line.
measure() {
	name=$1 seconds=$2
	before=$(cat "$P/memory_idle_ms_percentiles")
	t0=$(now)
	echo Y >"$P/enabled" || exit 1
	pid=$(cat "$P/kdamond_pid")
	ticks0=$(ticks "$pid")
	fresh=0 first=-1 i=0
	while [ "$i" -lt "$seconds" ]; do
		[ "$i" = $((seconds / 2)) ] && cost_begin "$name" "$pid"
		sleep 1
		i=$((i + 1))
		pct=$(cat "$P/memory_idle_ms_percentiles")
		aggr=$(cat "$P/aggr_interval_us")
		bw=$(cat "$P/estimated_memory_bandwidth")
		t=$(elapsed "$t0" "$(now)")
		# Both kernels keep the last run's results until their first refresh.
		if [ "$fresh" = 0 ] && [ "$pct" != "$before" ]; then
			fresh=1 first=$t
		fi
		echo "CMP scenario=$name t=$t fresh=$fresh aggr_us=$aggr bw=$bw pct=$pct"
		truth "$name"
	done
	cost_end "$name"
	ticks1=$(ticks "$pid")
	t1=$(now)
	echo N >"$P/enabled"
}

# core_scenario NAME SECONDS SAMPLE_US: the bare DAMON core through DAMON sysfs, paddr
# over the System RAM span, fixed intervals (20 samples per aggregation, no tuning),
# with the dense workload running.
core_scenario() {
	name=$1 seconds=$2 sample=$3
	start_workload never --size 512 --hot 64 --stride 4096
	idle_baseline "$name"
	echo 1 >"$ADMIN/kdamonds/nr_kdamonds"
	k=$ADMIN/kdamonds/0
	echo 1 >"$k/contexts/nr_contexts"
	c=$k/contexts/0
	echo paddr >"$c/operations"
	echo "$sample" >"$c/monitoring_attrs/intervals/sample_us"
	echo $((sample * 20)) >"$c/monitoring_attrs/intervals/aggr_us"
	echo 60000000 >"$c/monitoring_attrs/intervals/update_us"
	echo 1000 >"$c/monitoring_attrs/nr_regions/max"
	echo 10 >"$c/monitoring_attrs/nr_regions/min"
	echo 1 >"$c/targets/nr_targets"
	echo 1 >"$c/targets/0/regions/nr_regions"
	echo "$SPAN_START" >"$c/targets/0/regions/0/start"
	echo "$SPAN_END" >"$c/targets/0/regions/0/end"
	t0=$(now)
	echo on >"$k/state" || exit 1
	pid=$(cat "$k/pid")
	ticks0=$(ticks "$pid")
	sleep $((seconds / 2))
	cost_begin "$name" "$pid"
	sleep $((seconds - seconds / 2))
	cost_end "$name"
	ticks1=$(ticks "$pid")
	t1=$(now)
	echo off >"$k/state"
	echo 0 >"$ADMIN/kdamonds/nr_kdamonds"
	stop_workload
	echo "CMP-END scenario=$name ticks=$((ticks1 - ticks0)) elapsed=$(elapsed "$t0" "$t1") truth_hot=$TRUTH_HOT span=$SPAN_BYTES first_result=-1 moved_at=-1 anon_huge_kb=$ANON_HUGE_KB"
}

# trace_windows NAME SECONDS THP_MODE WORKLOAD_ARGS...: runs DAMON_STAT like
# stat_scenario, but prints one line per aggregation window, from the damon_aggregated
# tracepoint (same format on 6.12 and 7.3): its end, its length, its region count and the
# observed access ratio that the intervals tuner scores (sum of size x nr_accesses over
# sum of size x 20 samples, in basis points; the tuner aims at 400) with both sums; and
# one line per damon_set_attrs() call, from a kprobe: the tuner's every step on both
# kernels. A tuning step's line comes right before the window it scored (both kernels
# tune before they reset the window).
trace_windows() {
	name=$1 seconds=$2
	shift 2
	start_workload "$@"
	tr=/sys/kernel/tracing
	[ -d "$tr/events" ] || mount -t tracefs tracefs "$tr" || exit 1
	echo 4096 >"$tr/buffer_size_kb"
	# struct damon_attrs starts with sample_interval and aggr_interval on both kernels.
	echo 'p:cmp/set_attrs damon_set_attrs sample_us=+0(%si):u64 aggr_us=+8(%si):u64' \
		>"$tr/kprobe_events" || exit 1
	echo 1 >"$tr/events/cmp/set_attrs/enable"
	echo 1 >"$tr/events/damon/damon_aggregated/enable"
	awk -v name="$name" -v tune=1 -f /guest/windows.awk "$tr/trace_pipe" &
	awk_pid=$!
	echo Y >"$P/enabled" || exit 1
	sleep "$seconds"
	echo N >"$P/enabled"
	echo 0 >"$tr/events/damon/damon_aggregated/enable"
	echo 0 >"$tr/events/cmp/set_attrs/enable"
	sleep 1
	kill "$awk_pid"
	echo >"$tr/kprobe_events"
	stop_workload
}

# The plugin's known answer: 10 million passes of a 4-instruction loop on vCPU 1.
if [ "${COMPARE_PLUGIN:-0}" = 1 ]; then
	taskset 2 $WL spin 10000000 || exit 1
	echo "CMP-MARK scenario=plugin what=spin-begin"
	echo "CMP-MARK scenario=plugin what=spin-end"
fi
# The truth's known answer: pages written at known times, one huge page partly
# (benches/compare/truth.py checks what the plugin saw).
if [ "${COMPARE_TRUTH:-0}" = 1 ]; then
	echo always >"$THP"
	$WL truth-test >/tmp/truth-test.out || {
		echo "compare: the truth's known-answer test failed: $(cat /tmp/truth-test.out)"
		exit 1
	}
	sed 's/^/CMP-TRUTH-TEST /' /tmp/truth-test.out
fi
# The module's symbols, for the plugin's profile (the kernel's come from its System.map).
grep '\[damon_stat\]' /proc/kallsyms | sed 's/^/CMP-KSYM /'

# The programs (make setup installs them). stress-ng: one stressor writes 384 MiB once
# and sleeps, another keeps writing 64 MiB. sqlite3: a 120 MB table of 400,000 rows on a
# tmpfs of its own (huge pages there with THP always), point queries on a random row of
# the first 40,000, through a 1 MB page cache of sqlite's own. xz: compresses 48 MiB of
# the host's shared libraries again and again at level 6 (a 94 MiB match finder).
stress_ng_program() {
	# stress-ng's vm stressor gives its memory random madvise() advice unless told one.
	echo "stress-ng --vm 1 --vm-bytes 384m --vm-keep --vm-hang 0 --vm-method write64 --vm-madvise $1 --quiet &
	sleep 20; stress-ng --vm 1 --vm-bytes 64m --vm-keep --vm-method write64 --vm-madvise $1 --quiet &
	sleep 5; touch /tmp/program.ready; wait"
}
sqlite_program() {
	echo "mkdir -p /tmp/sq && mount -t tmpfs -o huge=$1,size=400m tmpfs /tmp/sq &&
	sqlite3 /tmp/sq/db 'CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB);
		WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c LIMIT 400000)
		INSERT INTO t SELECT i, randomblob(300) FROM c;' && touch /tmp/program.ready &&
	awk 'BEGIN { srand(1); for (;;) printf \"SELECT length(v) FROM t WHERE id = %d;\\n\", 1 + int(rand() * 40000) }' |
		sqlite3 -cmd 'PRAGMA cache_size = -1000' /tmp/sq/db >/dev/null"
}
# Debian's xz, not busybox's (first on the PATH, it only decompresses); the loop ends,
# and the scenario fails, when a run fails.
XZ='cat /usr/lib/x86_64-linux-gnu/*.so* 2>/dev/null | head -c 48m >/tmp/xz.in && touch /tmp/program.ready &&
	while /usr/bin/xz -6 -T1 -c /tmp/xz.in >/dev/null; do :; done'

S=$COMPARE_SECONDS
for scenario in $COMPARE_SCENARIOS; do
	case "$scenario" in
	dense) stat_scenario dense "$S" never --size 512 --hot 64 --stride 4096 ;;
	dense-flush) stat_scenario dense-flush "$S" never --size 512 --hot 64 --stride 4096 \
		--flush-tlb 1 ;;
	sparse-thp) stat_scenario sparse-thp "$S" always --size 512 --hot 512 --stride 2097152 ;;
	sparse-4k) stat_scenario sparse-4k "$S" never --size 512 --hot 512 --stride 2097152 ;;
	idle) stat_scenario idle "$S" never --size 512 --hot 0 ;;
	phase) stat_scenario phase $((2 * S)) never --size 512 --hot 64 --stride 4096 \
		--move-after "$S" --move-to 256 ;;
	stress-ng-thp) program_scenario stress-ng-thp "$S" always "$(stress_ng_program hugepage)" ;;
	stress-ng-4k) program_scenario stress-ng-4k "$S" never "$(stress_ng_program normal)" ;;
	sqlite-thp) program_scenario sqlite-thp "$S" always "$(sqlite_program always)" ;;
	sqlite-4k) program_scenario sqlite-4k "$S" never "$(sqlite_program never)" ;;
	xz-thp) program_scenario xz-thp "$S" always "$XZ" ;;
	xz-4k) program_scenario xz-4k "$S" never "$XZ" ;;
	core-50ms) core_scenario core-50ms "$S" 50000 ;;
	core-5ms) core_scenario core-5ms "$S" 5000 ;;
	trace-dense) trace_windows trace-dense "$S" never --size 512 --hot 64 --stride 4096 ;;
	trace-dense-flush) trace_windows trace-dense-flush "$S" never --size 512 --hot 64 \
		--stride 4096 --flush-tlb 1 ;;
	*)
		echo "compare: unknown scenario '$scenario'"
		exit 1
		;;
	esac
done

# One binary for a mixed fleet: the exporter reads this kernel's DAMON_STAT (upstream's
# built in, or the module), once, in textfile mode, after a refresh; the host checks
# what it says (scripts/compare.sh).
if command -v damon-stat-exporter >/dev/null; then
	echo Y >"$P/enabled"
	refreshed() { [ "$(cut -d, -f101 "$P/memory_idle_ms_percentiles")" != 0 ]; }
	wait_until 15 refreshed
	p50_before=$(cut -d, -f51 "$P/memory_idle_ms_percentiles")
	damon-stat-exporter --textfile /tmp/damon_stat.prom 2>&1 | sed 's/^/CMP-EXPORTER-ERROR /'
	grep -E '^damon_stat_(up|info|enabled|node_monitored_bytes)[ {]' /tmp/damon_stat.prom |
		sed 's/^/CMP-EXPORTER /'
	# Before and after: a refresh may come between the exporter's reading and ours.
	echo "CMP-EXPORTER p50_file_ms $p50_before $(cut -d, -f51 "$P/memory_idle_ms_percentiles")"
	grep '^damon_stat_memory_idle_seconds{percentile="50"}' /tmp/damon_stat.prom | sed 's/^/CMP-EXPORTER /'
	echo N >"$P/enabled"
fi
echo "CMP-DONE"
