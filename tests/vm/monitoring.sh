# SPDX-License-Identifier: GPL-2.0
# DAMON_STAT behaviour end to end: load with enabled=Y, results under a busy workload,
# interval tuning, N/Y, kdamond_pid, bad input, read-only parameters, rmmod while running.
. /guest/lib.sh

bandwidth_nonzero() { [ "$(cat $P/estimated_memory_bandwidth)" -gt 0 ]; }
one_kdamond() { [ "$(kdamond_pids | wc -l)" -eq 1 ]; }

workload=$(start_workload)
t0=$(uptime_cs)
check "modprobe damon_stat enabled=Y" modprobe damon_stat enabled=Y
check "enabled reads Y" [ "$(cat $P/enabled)" = Y ]
check "one kdamond runs" one_kdamond
check "kdamond_pid is the running kdamond" [ "$(cat $P/kdamond_pid)" = "$(kdamond_pids)" ]

if wait_until 10 bandwidth_nonzero; then
	first_cs=$(($(uptime_cs) - t0))
	pass "bandwidth non-zero $((first_cs / 100)).$((first_cs % 100 / 10)) s after enabling: $(cat $P/estimated_memory_bandwidth) B/s"
	figure first-results-ms $((first_cs * 10))
else
	fail "bandwidth still zero 10 s after enabling"
fi
check "percentiles: 101 non-decreasing integers" percentiles_well_formed
echo "percentiles: $(cat $P/memory_idle_ms_percentiles)"
check "accessed memory shows as negative idle time (p0 < 0)" \
	[ "$(cut -d, -f1 $P/memory_idle_ms_percentiles)" -lt 0 ]
check "idle memory shows as positive idle time (p100 > 0)" \
	[ "$(cut -d, -f101 $P/memory_idle_ms_percentiles)" -gt 0 ]

aggr=$(cat $P/aggr_interval_us)
echo "aggr_interval_us: $aggr"
check "aggr_interval_us moved away from 100000 (mostly idle guest)" [ "$aggr" -ne 100000 ]
check "aggr_interval_us within the tuner's bounds [100000, 200000000]" \
	test "$aggr" -ge 100000 -a "$aggr" -le 200000000

# Bad values fail with EINVAL and change nothing.
for bad in "" "2" "maybe" "-1" " y" "x"; do
	out=$(write_param enabled "$bad")
	if [ $? -ne 0 ] && echo "$out" | grep -q "Invalid argument"; then
		pass "enabled rejects '$bad' with EINVAL"
	else
		fail "enabled accepted '$bad' ($out)"
	fi
done
check "still enabled after bad writes" [ "$(cat $P/enabled)" = Y ]
check "writing Y again is a no-op (same kdamond)" sh -c \
	"pid=\$(cat $P/kdamond_pid); echo Y > $P/enabled && [ \"\$(cat $P/kdamond_pid)\" = \"\$pid\" ]"

# Read-only parameters reject writes, even from root.
for ro in estimated_memory_bandwidth memory_idle_ms_percentiles aggr_interval_us kdamond_pid; do
	if write_param $ro 5 >/dev/null; then fail "$ro accepted a write"; else pass "$ro rejects writes"; fi
done

pid=$(cat $P/kdamond_pid)
ticks=$(cpu_ticks "$pid")
ran_cs=$(($(uptime_cs) - t0))
echo "kdamond CPU time: $ticks ticks of 10 ms in $((ran_cs / 100)) s of monitoring" \
	"($((ticks * 1000 / ran_cs)) per mille of one CPU, under TCG emulation)"
figure kdamond-cpu-permille $((ticks * 1000 / ran_cs))

check "writing N stops" write_param enabled N
check "enabled reads N" [ "$(cat $P/enabled)" = N ]
check "no kdamond left" wait_until 5 no_kdamond
check "kdamond_pid reads -1" [ "$(cat $P/kdamond_pid)" = -1 ]
# The stop summary: what the kdamond callback cost, timed in the kernel.
summary=$(dmesg | grep 'damon_stat: stopped:' | tail -n 1)
echo "kernel log: ${summary#*] }"
summary_field() { echo "$summary" | sed -n "s/.*$1.*/\1/p"; }
refreshes=$(summary_field ' \([0-9]*\) refreshes')
check "the stop logged a summary with at least one refresh" [ "${refreshes:-0}" -ge 1 ]
figure callback-avg-ns "$(summary_field 'callback avg \([0-9]*\) ns')"
figure callback-max-ns "$(summary_field 'callback avg [0-9]* ns, max \([0-9]*\) ns')"
figure refresh-avg-ns "$(summary_field 'refreshes (avg \([0-9]*\) ns')"
figure refresh-max-ns "$(summary_field 'refreshes (avg [0-9]* ns, max \([0-9]*\) ns')"
check "writing Y restarts" write_param enabled Y
check "enabled reads Y again" [ "$(cat $P/enabled)" = Y ]
check "one kdamond again" one_kdamond
check "kdamond_pid matches the new kdamond" [ "$(cat $P/kdamond_pid)" = "$(kdamond_pids)" ]
check "kstrtobool spellings work: 'off'" write_param enabled off
check "... stopped" [ "$(cat $P/enabled)" = N ]
check "kstrtobool spellings work: 'on'" write_param enabled on
check "... started" [ "$(cat $P/enabled)" = Y ]

check "rmmod while running" rmmod damon_stat
check "no kdamond after rmmod" wait_until 5 no_kdamond
check "module gone" test ! -e /sys/module/damon_stat
kill "$workload"
finish
