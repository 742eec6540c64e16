# SPDX-License-Identifier: GPL-2.0
# `make compare`'s guest: runs the scenarios on whichever kernel booted (damon_stat as a
# module on 6.12, or upstream's built-in DAMON_STAT on 7.3: both have the same files in
# /sys/module/damon_stat/parameters/) and prints one `CMP` line per reading for the host
# to parse (benches/compare/report.py). Settings come from /guest/compare.env:
#   COMPARE_SECONDS    length of each scenario (the phase change runs twice as long)
#   COMPARE_SCENARIOS  which scenarios to run, in order (names below)
. /guest/lib.sh
. /guest/compare.env

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
echo "CMP-KERNEL release=$(uname -r) system_ram=$1 span=$SPAN_BYTES"

now() { cut -d' ' -f1 /proc/uptime; }
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
	before=$(cat "$P/memory_idle_ms_percentiles")
	t0=$(now)
	echo Y >"$P/enabled" || exit 1
	pid=$(cat "$P/kdamond_pid")
	ticks0=$(ticks "$pid")
	fresh=0 first=-1 i=0
	while [ "$i" -lt "$seconds" ]; do
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
	done
	ticks1=$(ticks "$pid")
	t1=$(now)
	echo N >"$P/enabled"
	moved=$(sed -n 's/^moved .*at=\([0-9.]*\)$/\1/p' /tmp/wl.out)
	[ -n "$moved" ] && moved=$(elapsed "$t0" "$moved") || moved=-1
	stop_workload
	echo "CMP-END scenario=$name ticks=$((ticks1 - ticks0)) elapsed=$(elapsed "$t0" "$t1") truth_hot=$TRUTH_HOT span=$SPAN_BYTES first_result=$first moved_at=$moved anon_huge_kb=$ANON_HUGE_KB"
}

# core_scenario NAME SECONDS SAMPLE_US: the bare DAMON core through DAMON sysfs, paddr
# over the System RAM span, fixed intervals (20 samples per aggregation, no tuning),
# with the dense workload running.
core_scenario() {
	name=$1 seconds=$2 sample=$3
	start_workload never --size 512 --hot 64 --stride 4096
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
	sleep "$seconds"
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
	awk -v name="$name" '
		/set_attrs:/ {
			for (i = 1; i <= NF; i++) {
				if ($i ~ /^[0-9]+\.[0-9]+:$/) ts = substr($i, 1, length($i) - 1)
				if ($i ~ /^(sample|aggr)_us=/) { split($i, a, "="); v[a[1]] = a[2] }
			}
			printf "CMP-TUNE scenario=%s ts=%s sample_us=%s aggr_us=%s\n", name, ts, v["sample_us"], v["aggr_us"]
			next
		}
		/damon_aggregated:/ {
			for (i = 1; i <= NF; i++) {
				if ($i ~ /^nr_regions=/) { split($i, a, "="); n = a[2] }
				if ($i ~ /^[0-9]+-[0-9]+:$/) {
					split(substr($i, 1, length($i) - 1), r, "-")
					acc = $(i + 1)
				}
				if ($i ~ /^[0-9]+\.[0-9]+:$/) ts = substr($i, 1, length($i) - 1)
			}
			sz = r[2] - r[1]; tot += sz; ev += sz * acc; seen++
			if (seen == n) {
				printf "CMP-WINDOW scenario=%s ts=%s len_ms=%.1f regions=%d access_bp=%.1f events=%.0f bytes=%.0f\n", name, ts, last ? (ts - last) * 1000 : 0, n, tot ? ev * 10000 / (tot * 20) : 0, ev, tot
				last = ts; tot = 0; ev = 0; seen = 0
			}
		}' "$tr/trace_pipe" &
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
echo "CMP-DONE"
