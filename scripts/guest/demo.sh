# SPDX-License-Identifier: GPL-2.0
# `make demo`, inside the guest: enable damon_stat under a small workload and show what
# it exposes as it refreshes.
P=/sys/module/damon_stat/parameters

echo "--- modinfo damon_stat"
modinfo damon_stat | grep -E '^(description|parm|license)' | sed 's/^/    /'
echo "--- modprobe damon_stat enabled=Y"
modprobe damon_stat enabled=Y || exit 1

# Something to watch: 64 MiB read over and over, the rest of memory idle.
dd if=/dev/zero of=/tmp/hot bs=1M count=64 2>/dev/null
( while :; do cat /tmp/hot > /dev/null; done ) &
workload=$!

for round in 1 2 3 4; do
	sleep 6
	echo "--- after $((round * 6)) s"
	echo "    enabled:                    $(cat $P/enabled)"
	echo "    kdamond_pid:                $(cat $P/kdamond_pid)"
	echo "    aggr_interval_us:           $(cat $P/aggr_interval_us)"
	echo "    estimated_memory_bandwidth: $(cat $P/estimated_memory_bandwidth) bytes/s"
	echo "    memory_idle_ms_percentiles (p0 p10 p25 p50 p75 p90 p100):"
	echo "        $(cut -d, -f1,11,26,51,76,91,101 $P/memory_idle_ms_percentiles | tr , ' ')"
done
B=/sys/module/damon_stat/breakdown
echo "--- breakdown (sampled): accessed bytes by kind, of $(cat $B/accessed/samples) samples"
for kind in anon_base anon_huge file_base file_huge other; do
	printf '    %-10s %s\n' "$kind" "$(cat $B/accessed/${kind}_bytes)"
done
kill "$workload"
echo "--- echo N > enabled; rmmod damon_stat"
echo N > $P/enabled
rmmod damon_stat
echo "--- kernel log of damon_stat (its KUnit suite's expected errors left out)"
dmesg | awk '/Subtest: damon_stat/ { kunit = 1 } !kunit && /damon_stat/ { print "    " $0 }
	/ok [0-9]+ damon_stat$/ { kunit = 0 }'
