# SPDX-License-Identifier: GPL-2.0
# Fleet scenarios, in the guest that tests/fleet/run.py boots: 2 NUMA nodes, 4 CPUs,
# 6 GiB (below and above 4 GiB), THP always, QEMU's monitor driven by the host. While
# damon_stat monitors: the span covers every System RAM range and a workload above 4 GiB
# shows up as accessed; CPUs go offline and back; a memory block goes offline and back;
# a DIMM is plugged (a workload in it shows up as accessed), then unplugged.
. /guest/lib.sh

SHARE=/fleet
MEM=/sys/devices/system/memory
CPU=/sys/devices/system/cpu
GIB=$((1 << 30))
MIB=$((1 << 20))

# Said first, so that a guest that hangs here shows where (seen twice on the debug kernel).
echo "mounting the runner's share and tracefs"
mkdir -p $SHARE
if ! mount -t 9p -o trans=virtio,version=9p2000.L fleet $SHARE; then
	echo "FAIL: cannot mount the runner's share (tag 'fleet'): run this script through tests/fleet/run.py"
	exit 1
fi
# /guest/bin is on the PATH and writable: the rest of the guest is the host's root, read-only.
cp $SHARE/fleet-workload /guest/bin/fleet-workload
# The rig mounts tracefs already; a bare guest may not have.
mountpoint -q $T || mount -t tracefs nodev $T
echo "share and tracefs mounted"

# request ACTION ARGS...: asks the host runner to act through QEMU's monitor; its reply
# goes to REPLY and is printed. Fails on an error reply or none within 150 s. Not to be
# called in a subshell (the request counter must advance). The request goes to the
# console (the runner reads it there) and again every 5 s, since a kernel message may
# cut the line; the reply comes back as a file in the share.
REQUESTS=0
request() {
	REQUESTS=$((REQUESTS + 1))
	local polls=0
	REPLY=
	while [ ! -f $SHARE/reply-$REQUESTS ]; do
		[ $((polls % 25)) -eq 0 ] && echo "fleet-request: $REQUESTS $*" >/dev/console
		polls=$((polls + 1))
		[ $polls -lt 750 ] || { echo "no reply to request $REQUESTS ($*)"; return 1; }
		sleep 0.2
	done
	REPLY=$(cat $SHARE/reply-$REQUESTS)
	echo "reply to request $REQUESTS ($*): $REPLY"
	case "$REPLY" in ok*) return 0 ;; esac
	return 1
}

# accessed_share: how many of the 101 idle-time percentiles are negative (memory that
# was accessed): the accessed share of the monitored span, in percent, plus one.
accessed_share() {
	tr , '\n' <$P/memory_idle_ms_percentiles | awk '$1 < 0 { n++ } END { print n + 0 }'
}
share_reached() { [ "$(accessed_share)" -ge "$SHARE_TARGET" ]; }
# node_share N: the same for node N's own percentiles (breakdown/node<N>/).
BD=/sys/module/damon_stat/breakdown
node_share() {
	tr , '\n' <$BD/node$1/memory_idle_ms_percentiles | awk '$1 < 0 { n++ } END { print n + 0 }'
}
node_monitored() { cat $BD/node$1/monitored_bytes; }

# wait_refresh SECONDS: waits until the published results change (a refresh; idle
# memory ages every window, so a refresh always changes them); fails after SECONDS.
results() { cat $P/estimated_memory_bandwidth $P/memory_idle_ms_percentiles; }
results_changed() { [ "$(results)" != "$RESULTS_BEFORE" ]; }
wait_refresh() {
	RESULTS_BEFORE=$(results)
	wait_until "$1" results_changed
}
bandwidth_nonzero() { [ "$(cat $P/estimated_memory_bandwidth)" -gt 0 ]; }
kdamond_alive() { [ "$(cat $P/kdamond_pid)" = "$KDAMOND" ] && [ -d /proc/"$KDAMOND" ]; }

# start_placed NODE MIB [LOW HIGH]: starts the workload helper with its memory bound to
# NODE and waits for its placement line (in PLACED; placed FIELD reads a number of it).
start_placed() {
	rm -f /tmp/placed
	fleet-workload "$@" >/tmp/placed 2>&1 &
	WORKLOAD=$!
	wait_until 120 grep -qs 'fleet-workload: ' /tmp/placed
	PLACED=$(cat /tmp/placed)
	echo "$PLACED"
}
placed() { echo "$PLACED" | sed -n "s/.* $1=\([0-9a-fx]*\).*/\1/p"; }
stop_workload() {
	kill "$WORKLOAD"
	wait "$WORKLOAD" 2>/dev/null
}

# expect_accessed MIB SPAN_BYTES SECONDS: waits until the accessed share has grown from
# SHARE_BEFORE by at least half of what MIB of accessed memory make of the span.
expect_accessed() {
	local expected=$(($1 * MIB * 100 / $2))
	SHARE_TARGET=$((SHARE_BEFORE + (expected + 1) / 2))
	echo "accessed share before: $SHARE_BEFORE %; $1 MiB are $expected % of the span; waiting for $SHARE_TARGET %"
	wait_until "$3" share_reached
}

logged() { dmesg | grep -q "damon_stat: monitoring $1"; }
kdamond_cpu() { awk '{ print $39 }' /proc/"$KDAMOND"/stat; }
set_online() { (echo "$2" >"$1/online") 2>&1; }

# ---------------------------------------------------------------------------------
echo "== the machine"
check "2 NUMA nodes" [ "$(cat /sys/devices/system/node/online)" = 0-1 ]
cpus_online=$(cat $CPU/online)
echo "CPUs online: $cpus_online"
# CPUs that can go offline (the boot CPU cannot), highest first.
hot_cpus=$(ls -d $CPU/cpu[0-9]* | while read -r d; do [ -e "$d/online" ] && echo "${d##*cpu}"; done | sort -rn)
check "CPUs that can go offline: $(echo $hot_cpus)" [ -n "$hot_cpus" ]
# All 4 vCPUs, 2 on each node (kernel/test.config has CONFIG_NR_CPUS=4 for it).
check "all 4 vCPUs are online" [ "$cpus_online" = 0-3 ]
check "node 1 has CPUs 2-3" [ "$(cat /sys/devices/system/node/node1/cpulist)" = 2-3 ]
check "THP always" grep -q '\[always\]' /sys/kernel/mm/transparent_hugepage/enabled
system_ram | while read -r lo hi; do echo "System RAM $(hex "$lo")-$(hex "$hi")"; done
ram_lo=$(system_ram | head -n 1 | cut -d' ' -f1)
ram_hi=$(system_ram | tail -n 1 | cut -d' ' -f2)
check "several System RAM ranges" [ "$(system_ram | wc -l)" -ge 3 ]
check "System RAM above 4 GiB" [ "$ram_hi" -gt $((4 * GIB)) ]
block_size=$((0x$(cat $MEM/block_size_bytes)))
# Hot-added memory comes online by itself, movable (so that it can go away again).
echo online_movable >$MEM/auto_online_blocks

[ -e "$KMEMLEAK" ] && kmemleak_start

echo "== span: every System RAM range, and memory above 4 GiB shows up as accessed"
# A steady background workload below 4 GiB keeps the tuned intervals short.
start_placed 0 256
check "node 0's workload lies below 4 GiB" [ "$(placed below_4g)" = "$(placed pages)" ]
BACKGROUND=$WORKLOAD
check "modprobe damon_stat enabled=Y" modprobe damon_stat enabled=Y
KDAMOND=$(cat $P/kdamond_pid)
check "first results within 20 s" wait_until 20 bandwidth_nonzero
if span=$(monitored_span); then
	set -- $span
	span_lo=$1 span_hi=$2
	echo "monitored span: $(hex "$span_lo")-$(hex "$span_hi") ($(((span_hi - span_lo) / MIB)) MiB)"
	figure span-before-mib $(((span_hi - span_lo) / MIB))
	check "the span starts at or below the first System RAM range" [ "$span_lo" -le "$ram_lo" ]
	check "the span ends at or above the last System RAM range" [ "$span_hi" -ge "$ram_hi" ]
else
	fail "no complete aggregation window traced within 60 s"
	span_lo=$ram_lo span_hi=$ram_hi
fi
wait_refresh 20
SHARE_BEFORE=$(accessed_share)
node0_before=$(node_share 0) node1_before=$(node_share 1)
start_placed 1 512
check "node 1's workload lies above 4 GiB" [ "$(placed above_4g)" = "$(placed pages)" ]
t0=$(uptime_cs)
if expect_accessed 512 $((span_hi - span_lo)) 60; then
	pass "the workload above 4 GiB shows up as accessed after $((($(uptime_cs) - t0) / 100)) s ($(accessed_share) %)"
else
	fail "the workload above 4 GiB did not show up as accessed within 60 s ($(accessed_share) %)"
fi
# Per node: 512 MiB are a sixth of node 1's 3 GiB; node 0 keeps its background workload.
node0_after=$(node_share 0) node1_after=$(node_share 1)
echo "accessed share of node 0: $node0_before -> $node0_after %, node 1: $node1_before -> $node1_after %"
check "node 1's own figures show the workload (+8 points or more)" [ "$node1_after" -ge $((node1_before + 8)) ]
check "node 0's own figures do not (under +8 points)" [ "$node0_after" -lt $((node0_before + 8)) ]
# Together the nodes hold all System RAM, within the span (the PCI hole is in no node).
nodes_sum=$(($(node_monitored 0) + $(node_monitored 1)))
ram_sum=$(system_ram | awk '{ s += $2 - $1 } END { printf "%.0f", s }')
echo "monitored by node 0 and 1: $((nodes_sum / MIB)) MiB; System RAM $((ram_sum / MIB)) MiB; span $(((span_hi - span_lo) / MIB)) MiB"
check "node 0 and node 1 together monitor all System RAM, within the span" \
	[ "$nodes_sum" -ge "$ram_sum" -a "$nodes_sum" -le $((span_hi - span_lo)) ]

echo "== memory offline: a block of node 1 that the span covers, under the workload"
offlined=
for block in $(ls -d /sys/devices/system/node/node1/memory* | sed 's/.*memory//' | sort -rn); do
	if (echo offline >$MEM/memory$block/state) 2>/dev/null; then
		offlined=$block
		break
	fi
done
if [ -n "$offlined" ]; then
	block_lo=$((offlined * block_size))
	echo "memory$offlined ($(hex $block_lo)-$(hex $((block_lo + block_size)))) is offline"
	check "the offline block lies in the span" \
		[ "$block_lo" -ge "$span_lo" -a $((block_lo + block_size)) -le "$span_hi" ]
	check "kdamond keeps running" kdamond_alive
	check "results keep refreshing with the block offline" wait_refresh 30
	check "the block comes back online" sh -c "echo online > $MEM/memory$offlined/state"
	check "results keep refreshing after it is back" wait_refresh 30
else
	fail "no memory block of node 1 could be taken offline"
fi
stop_workload

echo "== CPU hotplug: CPUs $(echo $hot_cpus) offline and back, twice, kdamond's CPU among them"
top_cpu=$(echo $hot_cpus | cut -d' ' -f1)
kdamond_on_top_cpu() { [ "$(kdamond_cpu)" = "$top_cpu" ]; }
offline_events=0
for round in 1 2; do
	# kdamond goes to a CPU that goes offline, so that the scheduler must move it.
	taskset -p "$(printf %x $((1 << top_cpu)))" "$KDAMOND" >/dev/null
	check "round $round: kdamond $KDAMOND moved to CPU $top_cpu" wait_until 10 kdamond_on_top_cpu
	for c in $hot_cpus; do
		check "round $round: CPU $c goes offline" set_online $CPU/cpu$c 0
		offline_events=$((offline_events + 1))
	done
	check "round $round: only CPU 0 is online" [ "$(cat $CPU/online)" = 0 ]
	check "round $round: kdamond keeps running" kdamond_alive
	check "round $round: results keep refreshing on one CPU" wait_refresh 30
	for c in $hot_cpus; do
		check "round $round: CPU $c comes back" set_online $CPU/cpu$c 1
	done
	check "round $round: CPUs $cpus_online online again" [ "$(cat $CPU/online)" = "$cpus_online" ]
	check "round $round: results keep refreshing on all CPUs" wait_refresh 30
done
figure cpu-offline-events $offline_events

echo "== memory hot-add: a 1 GiB DIMM on node 1 (pc-dimm through QMP), auto-online"
mem_total() { awk '/^MemTotal:/ { print $2 }' /proc/meminfo; }
total_before=$(mem_total)
grown() { [ "$(mem_total)" -ge $((total_before + 1024 * 1024 - 65536)) ]; }
wait_refresh 30
SHARE_BEFORE=$(accessed_share)
node1_monitored_before=$(node_monitored 1)
if request dimm-add 1024 1; then
	set -- $REPLY
	dimm_lo=$(($2)) dimm_hi=$(($2 + $3))
	echo "DIMM at $(hex $dimm_lo)-$(hex $dimm_hi)"
	check "the DIMM lies beyond the span monitoring started with" [ "$dimm_hi" -gt "$span_hi" ]
	check "its memory comes online by itself within 60 s" wait_until 60 grown
	t_online=$(uptime_cs)
	start_placed 1 512 $dimm_lo $dimm_hi
	check "the workload lies in the DIMM (at least 90 % of its pages)" \
		[ $(($(placed in_range) * 10)) -ge $(($(placed pages) * 9)) ]
	t_placed=$(uptime_cs)
	if expect_accessed 512 $((dimm_hi - span_lo)) 60; then
		t_seen=$(uptime_cs)
		pass "the workload in the DIMM shows up as accessed $(((t_seen - t_placed) / 100)) s after it started, $(((t_seen - t_online) / 100)) s after the memory came online ($(accessed_share) %)"
		figure hot-add-seen-after-online-ms $(((t_seen - t_online) * 10))
		figure hot-add-seen-after-workload-ms $(((t_seen - t_placed) * 10))
	else
		fail "the workload in the DIMM did not show up as accessed within 60 s ($(accessed_share) %)"
	fi
	check "the kernel log says the monitoring range grew" wait_until 10 logged 'range grew'
	grew=$(dmesg | grep 'damon_stat: monitoring range grew' | tail -n 1)
	echo "kernel log: ${grew#*] }"
	# The log line's time stamp, in hundredths of a second like uptime_cs.
	grew_cs=$(echo "$grew" | sed -n 's/^\[ *\([0-9]*\)\.\([0-9][0-9]\).*/\1\2/p' | sed 's/^0*//')
	if [ -n "$grew_cs" ]; then
		# The poll that saw the memory online may come after kdamond did (0.2 s apart).
		after=$((grew_cs > t_online ? grew_cs - t_online : 0))
		echo "the range grew $((after / 100)).$((after % 100 / 10)) s after the memory came online"
		figure hot-add-range-grew-after-online-ms $((after * 10))
	fi
	if span=$(monitored_span); then
		set -- $span
		echo "monitored span: $(hex "$1")-$(hex "$2") ($((($2 - $1) / MIB)) MiB)"
		figure span-after-mib $((($2 - $1) / MIB))
		check "the span now covers the DIMM" [ "$2" -ge "$dimm_hi" ]
	fi
	node1_grown() { [ "$(node_monitored 1)" -ge $((node1_monitored_before + 1024 * MIB)) ]; }
	check "node 1's monitored bytes grew by the DIMM's 1 GiB" wait_until 30 node1_grown
	echo "node 1 monitored: $((node1_monitored_before / MIB)) -> $(($(node_monitored 1) / MIB)) MiB"
	stop_workload

	echo "== memory hot-remove: the DIMM unplugged (ACPI eject: offline, then removed)"
	check "the DIMM is unplugged" request dimm-del 1
	check "its System RAM range is gone" sh -c "! grep -q '$(printf %x $dimm_lo)-' /proc/iomem"
	check "kdamond keeps running" kdamond_alive
	check "results keep refreshing after the unplug" wait_refresh 30
	check "the kernel log says the monitoring range shrank" wait_until 10 logged 'range shrank'
	dmesg | grep 'damon_stat: monitoring range shrank' | sed 's/^\[[^]]*\] /kernel log: /'
	if span=$(monitored_span); then
		set -- $span
		echo "monitored span: $(hex "$1")-$(hex "$2") ($((($2 - $1) / MIB)) MiB)"
		check "the span ends where System RAM ends again" [ "$2" -eq "$ram_hi" ]
	fi
else
	fail "the host could not plug a DIMM"
fi

echo "== stop"
kill "$BACKGROUND"
check "writing N stops" write_param enabled N
check "no kdamond left" wait_until 10 no_kdamond
summary=$(dmesg | grep 'damon_stat: stopped:' | tail -n 1)
echo "kernel log: ${summary#*] }"
check "rmmod" rmmod damon_stat
[ -e "$KMEMLEAK" ] && check_no_leaks
finish
