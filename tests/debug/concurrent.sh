# SPDX-License-Identifier: GPL-2.0
# vm-cmdline: kunit.enable=0
# vm-timeout: 600
# Three writers toggle `enabled` while two readers read every parameter and a third the
# breakdown directory, for 30 s: no oops, no lockdep report, no failed write, and every
# value read is well-formed. Then rmmod while readers keep reading the breakdown.
. /guest/lib.sh

SECONDS_TO_RUN=30
check "modprobe damon_stat" modprobe damon_stat
echo 4 > /proc/sys/kernel/printk
workload=$(start_workload)
end=$(($(date +%s) + SECONDS_TO_RUN))

writer() {
	writes=0 errors=0
	while [ "$(date +%s)" -lt $end ]; do
		if [ $((RANDOM % 2)) -eq 0 ]; then v=Y; else v=N; fi
		echo $v > $P/enabled || errors=$((errors + 1))
		writes=$((writes + 1))
	done
	echo "writer $1: $writes writes, $errors failed"
	[ $errors -eq 0 ]
}

# A reader checks each value's shape; the percentiles and the bandwidth it reads in one
# go must be one refresh's, so the percentiles are always non-decreasing.
reader() {
	reads=0 bad=0
	while [ "$(date +%s)" -lt $end ]; do
		case "$(cat $P/enabled)" in Y | N) ;; *) bad=$((bad + 1)) ;; esac
		grep -qxE '[0-9]+' $P/estimated_memory_bandwidth || bad=$((bad + 1))
		grep -qxE '[0-9]+' $P/aggr_interval_us || bad=$((bad + 1))
		grep -qxE -- '-1|[0-9]+' $P/kdamond_pid || bad=$((bad + 1))
		percentiles_well_formed > /dev/null || bad=$((bad + 1))
		reads=$((reads + 5))
	done
	echo "reader $1: $reads reads, $bad malformed"
	echo "$reads $bad" > /tmp/reader.$1
	[ $bad -eq 0 ]
}

# The breakdown: node 0's percentiles non-decreasing (one refresh's), the cgroups table
# complete (a "generation" line first, an "end" line last: the generations may differ
# when a read straddled a refresh), the sampled figures numbers.
B=/sys/module/damon_stat/breakdown
breakdown_reader() {
	reads=0 bad=0
	while [ "$(date +%s)" -lt $end ]; do
		awk -F, 'NF != 101 { exit 1 } { for (i = 2; i <= NF; i++) if ($i + 0 < $(i - 1) + 0) exit 1 }' \
			$B/node0/memory_idle_ms_percentiles || bad=$((bad + 1))
		head -n 1 $B/cgroups | grep -qxE 'generation [0-9]+' || bad=$((bad + 1))
		tail -n 1 $B/cgroups | grep -qxE 'end [0-9]+' || bad=$((bad + 1))
		grep -qxE '[0-9]+' $B/accessed/samples || bad=$((bad + 1))
		reads=$((reads + 4))
	done
	echo "breakdown reader: $reads reads, $bad malformed"
	echo "$reads $bad" > /tmp/reader.3
	[ $bad -eq 0 ]
}

writer 1 & w1=$!
writer 2 & w2=$!
writer 3 & w3=$!
reader 1 & r1=$!
reader 2 & r2=$!
breakdown_reader & r3=$!
for pid in $w1 $w2 $w3; do
	wait $pid || fail "a writer's write failed"
done
for pid in $r1 $r2 $r3; do
	wait $pid || fail "a reader read a malformed value"
done
kill "$workload"
echo 7 > /proc/sys/kernel/printk
reads=$(cat /tmp/reader.* | awk '{ s += $1 } END { print s }')
malformed=$(cat /tmp/reader.* | awk '{ s += $2 } END { print s }')
pass "$reads reads in ${SECONDS_TO_RUN} s, $malformed malformed"

check "a final Y works" write_param enabled Y
check "one kdamond" [ "$(kdamond_pids | wc -l)" -eq 1 ]
# Readers in the breakdown directory while the module goes: their reads fail once the
# directory is gone, nothing else happens (no oops: the log is checked after the run).
( while :; do cat $B/cgroups $B/node0/memory_idle_ms_percentiles >/dev/null 2>&1; done ) &
stop_reader1=$!
( while :; do cat $B/generation $B/idle/samples >/dev/null 2>&1; done ) &
stop_reader2=$!
sleep 1
check "rmmod while running, with readers in the breakdown" rmmod damon_stat
check "no kdamond left" wait_stopped
check "the breakdown directory is gone" [ ! -e $B ]
kill $stop_reader1 $stop_reader2
figure concurrent-reads $reads
figure malformed-values $malformed
finish
