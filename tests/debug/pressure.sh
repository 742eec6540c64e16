# SPDX-License-Identifier: GPL-2.0
# vm-cmdline: kunit.enable=0
# vm-timeout: 600
# Memory pressure while monitoring: tmpfs filled to within 64 MiB of what the guest has
# available, a small workload still running. Monitoring goes on refreshing its results,
# with no warning in the log.
. /guest/lib.sh

workload=$(start_workload)
check "modprobe damon_stat enabled=Y" modprobe damon_stat enabled=Y
sleep 7

mount -o remount,size=100% /tmp
avail_mib=$(($(sed -n 's/^MemAvailable: *\([0-9]*\) kB$/\1/p' /proc/meminfo) / 1024))
fill_mib=$((avail_mib - 64))
echo "MemAvailable ${avail_mib} MiB: filling ${fill_mib} MiB of tmpfs"
check "tmpfs filled" dd if=/dev/zero of=/tmp/fill bs=1M count=$fill_mib
grep -E '^(MemFree|MemAvailable|Shmem):' /proc/meminfo

# A refresh comes at most every 5 s, at the end of an aggregation window; wait for
# three of them, 30 s at most each.
refreshes=0
last=$(cat $P/memory_idle_ms_percentiles)
changed() { [ "$(cat $P/memory_idle_ms_percentiles)" != "$last" ]; }
for i in 1 2 3; do
	wait_until 30 changed || break
	refreshes=$((refreshes + 1))
	last=$(cat $P/memory_idle_ms_percentiles)
	echo "under pressure, refresh $i: bandwidth $(cat $P/estimated_memory_bandwidth) B/s," \
		"aggr $(cat $P/aggr_interval_us) us, p50 $(echo "$last" | cut -d, -f51) ms," \
		"p100 $(echo "$last" | cut -d, -f101) ms"
done
check "results kept refreshing under pressure ($refreshes refreshes seen)" [ $refreshes -eq 3 ]
check "the workload shows as bandwidth" [ "$(cat $P/estimated_memory_bandwidth)" -gt 0 ]
check "still enabled" [ "$(cat $P/enabled)" = Y ]
check "percentiles well-formed" percentiles_well_formed
kill "$workload"
rm /tmp/fill
check "rmmod" rmmod damon_stat
figure pressure-refreshes $refreshes
finish
