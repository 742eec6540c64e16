# vm-cmdline: kunit.enable=0
# vm-timeout: 600
# Memory pressure while monitoring: tmpfs filled to within 64 MiB of what the guest has
# available. Monitoring goes on refreshing its results, with no warning in the log.
. /guest/lib.sh

check "modprobe damon_stat enabled=Y" modprobe damon_stat enabled=Y
sleep 7
first=$(cat $P/memory_idle_ms_percentiles)

mount -o remount,size=100% /tmp
avail_mib=$(($(sed -n 's/^MemAvailable: *\([0-9]*\) kB$/\1/p' /proc/meminfo) / 1024))
fill_mib=$((avail_mib - 64))
echo "MemAvailable ${avail_mib} MiB: filling ${fill_mib} MiB of tmpfs"
check "tmpfs filled" dd if=/dev/zero of=/tmp/fill bs=1M count=$fill_mib
grep -E '^(MemFree|MemAvailable|Shmem):' /proc/meminfo

refreshes=0
last=$first
for i in 1 2 3; do
	sleep 6
	now=$(cat $P/memory_idle_ms_percentiles)
	[ "$now" != "$last" ] && refreshes=$((refreshes + 1))
	last=$now
	echo "under pressure, +$((i * 6)) s: bandwidth $(cat $P/estimated_memory_bandwidth) B/s," \
		"p50 $(echo "$now" | cut -d, -f51) ms, p100 $(echo "$now" | cut -d, -f101) ms"
done
check "results kept refreshing under pressure ($refreshes of 3 reads changed)" [ $refreshes -ge 2 ]
check "still enabled" [ "$(cat $P/enabled)" = Y ]
check "percentiles well-formed" percentiles_well_formed
rm /tmp/fill
check "rmmod" rmmod damon_stat
figure pressure-refreshes $refreshes
finish
