# SPDX-License-Identifier: GPL-2.0
# damo, the DAMON user-space tool (the host's pinned copy, run in the guest), against the
# module: `damo module stat read/write`, `damo report access` from the damon_stat data
# source, `damo report damon`. Checks damo's output, not only its exit status.
# vm-timeout: 400
# vm-needs: host-userland
. /guest/lib.sh

# damo_out NAME ARGS...: runs damo ARGS, keeps its output (both streams) in
# /tmp/damo-NAME, passes when damo exits 0 and printed no Python traceback. Captured, so
# damo never pages through less (it does past 50 lines on a terminal).
damo_out() {
	name=$1
	shift
	damo "$@" > "/tmp/damo-$name" 2>&1
	status=$?
	if [ "$status" -ne 0 ] || grep -q '^Traceback' "/tmp/damo-$name"; then
		echo "damo $* exited $status:"
		sed 's/^/    /' "/tmp/damo-$name"
		return 1
	fi
}

check "damo is on the guest's PATH" sh -c "command -v damo >/dev/null"
check "damo is the pinned 3.4.3" [ "$(damo version)" = 3.4.3 ]
check "modprobe damon_stat" modprobe damon_stat
# damo caches what the kernel offers in $HOME/.damo.sysinfo and looks for modules again
# only when sysfs moves: a cache written before the module was loaded would hide it.
rm -f "$HOME/.damo.sysinfo"

check "damo report damon, monitoring off" damo_out damon-off report damon
check "damo report damon: damon_stat: off" grep -qx 'damon_stat: off' /tmp/damo-damon-off
check "damo module stat read enabled: N after load" \
	sh -c 'damo module stat read enabled | grep -qx N'

# The first refresh comes 5 s after the start. Before it, damo divides by
# aggr_interval_us: the module publishes the starting interval at once. (damo takes about
# 3 s here; damo's own write of enabled would add 1.5 s, too close to the refresh.)
check "echo Y > enabled" write_param enabled Y
check "aggr_interval_us is the starting 100000 at once" [ "$(cat $P/aggr_interval_us)" = 100000 ]
check "damo report access before the first refresh" damo_out access-early report access
check "damo report access reads from damon_stat" \
	grep -qx '# data source: damon_stat' /tmp/damo-access-early

workload=$(start_workload)
check "the first refresh comes" wait_until 15 sh -c "[ \"\$(cut -d, -f101 $P/memory_idle_ms_percentiles)\" != 0 ]"

check "damo module stat read" damo_out read module stat read
for param in enabled estimated_memory_bandwidth memory_idle_ms_percentiles aggr_interval_us kdamond_pid; do
	check "damo module stat read shows $param" grep -q "^$param: " /tmp/damo-read
done
check "damo module stat read: enabled: Y" grep -qx 'enabled: Y' /tmp/damo-read
check "damo module stat read: kdamond_pid is the kdamond's" \
	grep -qx "kdamond_pid: $(kdamond_pids | head -n 1)" /tmp/damo-read
nr_values=$(sed -n 's/^memory_idle_ms_percentiles: //p' /tmp/damo-read | awk -F, '
	{ for (i = 1; i <= NF; i++) if ($i ~ /^-?[0-9]+$/) n++ }
	END { print n + 0 }')
check "damo module stat read: 101 integer percentiles (got $nr_values)" [ "$nr_values" = 101 ]

# p0, p10, ..., p100, one per line as "K <time>", the times in order.
check "damo module stat read idle_time_percentiles" \
	damo_out percentiles module stat read idle_time_percentiles --raw_number
check "idle_time_percentiles: p0, p10, ..., p100" \
	[ "$(awk '{ print $1 }' /tmp/damo-percentiles | tr '\n' ' ')" = \
		"0 10 20 30 40 50 60 70 80 90 100 " ]
check "idle_time_percentiles: times in order" awk '
	$2 !~ /^-?[0-9.]+$/ || (NR > 1 && $2 + 0 < last) { exit 1 }
	{ last = $2 + 0 }' /tmp/damo-percentiles

check "damo report access after a refresh" damo_out access report access --raw_number
check "damo report access: data source damon_stat" \
	grep -qx '# data source: damon_stat' /tmp/damo-access
# damo rebuilds 100 regions of MemTotal / 100 from the percentiles and merges alike
# neighbours: one line each, "<index> addr <start> size <size> access ...".
nr_regions=$(grep -c '^[0-9][0-9]* *addr ' /tmp/damo-access)
check "damo report access shows 1 to 100 regions (got $nr_regions)" \
	[ "$nr_regions" -ge 1 -a "$nr_regions" -le 100 ]
check "damo report access: the regions add up to MemTotal" \
	grep -qx "total size: $(awk '/^MemTotal:/ { print $2 * 1024 }' /proc/meminfo)" /tmp/damo-access

check "damo report damon, monitoring on" damo_out damon-on report damon
check "damo report damon: damon_stat: on" grep -qx 'damon_stat: on' /tmp/damo-damon-on
kill "$workload"

check "damo module stat write enabled N" damo_out write-n module stat write enabled N
check "enabled reads N after damo's write" [ "$(cat $P/enabled)" = N ]
check "kdamond stops" wait_stopped
check "aggr_interval_us keeps its last value after the stop" [ "$(cat $P/aggr_interval_us)" -gt 0 ]
check "damo module stat write enabled Y" damo_out write-y module stat write enabled Y
check "enabled reads Y after damo's write" [ "$(cat $P/enabled)" = Y ]
check "a kdamond runs after damo's write" [ -n "$(kdamond_pids)" ]
check "damo module stat read enabled: Y" sh -c 'damo module stat read enabled | grep -qx Y'
check "rmmod damon_stat" rmmod damon_stat
finish
