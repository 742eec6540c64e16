# SPDX-License-Identifier: GPL-2.0
# /sys/module/damon_stat/breakdown/: the node figures against the parameters (one node:
# the same figures), bad input, and the sampled figures under workloads of known kind:
# one byte touched per 2 MiB under THP `always` (huge pages), a dense 4 KiB anonymous
# set under THP `never`, a hot tmpfs file, each in a cgroup v2 group of its own beside an
# idle group.
# vm-timeout: 400
# vm-needs: host-userland
. /guest/lib.sh

B=/sys/module/damon_stat/breakdown
THP=/sys/kernel/mm/transparent_hugepage/enabled
CG=/sys/fs/cgroup

# b FILE: a breakdown figure.
b() { cat "$B/$1"; }
generation() { b generation; }
# after_refreshes N: waits until N more refreshes have been published (5 s each).
after_refreshes() {
	local until=$(($(generation) + $1))
	wait_until $(($1 * 8)) sh -c "[ \$(cat $B/generation) -ge $until ]"
}
# cgroup_field INO COLUMN: a column of cgroup INO's line of the cgroups table (0 if absent).
cgroup_field() {
	awk -v ino="$1" -v col="$2" '$1 == ino && NF == 7 { v = $col } END { print v + 0 }' "$B/cgroups"
}
# share PART WHOLE: PART in per cent of WHOLE (0 when WHOLE is 0).
share() { [ "$2" -gt 0 ] && echo $(($1 * 100 / $2)) || echo 0; }
accessed_anon() { echo $(($(b accessed/anon_base_bytes) + $(b accessed/anon_huge_bytes))); }
accessed_file() { echo $(($(b accessed/file_base_bytes) + $(b accessed/file_huge_bytes))); }

# touch_loop MIB STRIDE MADVISE: a Python process that maps MIB of anonymous memory and
# writes one byte every STRIDE bytes, over and over (MADV_HUGEPAGE first if MADVISE=huge).
touch_loop() {
	python3 -c '
import mmap, sys
size, stride, advice = int(sys.argv[1]) << 20, int(sys.argv[2]), sys.argv[3]
m = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
if advice == "huge":
    m.madvise(mmap.MADV_HUGEPAGE)
while True:
    for off in range(0, size, stride):
        m[off] = 1
' "$@" >/dev/null 2>&1 &
	echo $!
}
# in_cgroup NAME PID: moves PID into cgroup NAME.
in_cgroup() { echo "$2" > "$CG/$1/cgroup.procs"; }

mountpoint -q $CG || mount -t cgroup2 none $CG
check "cgroup v2 has the memory controller" grep -qw memory $CG/cgroup.controllers
echo +memory > $CG/cgroup.subtree_control
mkdir -p $CG/hot $CG/idle
hot_ino=$(stat -c %i $CG/hot)
idle_ino=$(stat -c %i $CG/idle)

check "modprobe damon_stat enabled=Y" modprobe damon_stat enabled=Y
check "the breakdown directory exists" [ -d $B ]
check "one directory per possible node" [ "$(ls -d $B/node* | wc -l)" = "$(cat /sys/devices/system/node/possible | awk -F- '{ print ($2 == "" ? $1 : $2) + 1 }')" ]

# An idle group: memory touched once, then left alone.
python3 -c 'import mmap, time; m = mmap.mmap(-1, 16 << 20); m.write(b"x" * (16 << 20)); time.sleep(10**6)' >/dev/null 2>&1 &
idle=$!
in_cgroup idle $idle

echo "== one byte per 2 MiB, THP always, in cgroup hot"
echo always > $THP
sparse=$(touch_loop 128 2097152 huge)
in_cgroup hot $sparse
sleep 2
huge_kb=$(awk '/AnonHugePages/ { print $2 }' /proc/$sparse/smaps_rollup)
echo "AnonHugePages of the workload: $huge_kb kB"
check "the workload got huge pages" [ "${huge_kb:-0}" -ge 65536 ]
after_refreshes 3
echo "accessed: anon_base $(b accessed/anon_base_bytes) anon_huge $(b accessed/anon_huge_bytes) file $(accessed_file) other $(b accessed/other_bytes) samples $(b accessed/samples)"
cat $B/cgroups
huge_share=$(share "$(b accessed/anon_huge_bytes)" "$(accessed_anon)")
figure thp-always-sparse-huge-share-percent "$huge_share"
check "huge pages: $huge_share % of the accessed anonymous bytes are huge (>= 80)" [ "$huge_share" -ge 80 ]
check "cgroup hot has accessed bytes" [ "$(cgroup_field "$hot_ino" 3)" -gt 0 ]
# Sampled: a region that holds both groups' memory is counted for the folio its sample
# found, so the idle group may get a trace of accessed bytes, not more.
check "cgroup idle has under 1 % of cgroup hot's accessed bytes" \
	[ $(($(cgroup_field "$idle_ino" 3) * 100)) -lt "$(cgroup_field "$hot_ino" 3)" ]
check "cgroup idle has bytes idle for at least 1 s" [ "$(cgroup_field "$idle_ino" 4)" -gt 0 ]
check "the table starts and ends with one generation" sh -c \
	"[ \"\$(head -n 1 $B/cgroups | cut -d' ' -f2)\" = \"\$(tail -n 1 $B/cgroups | cut -d' ' -f2)\" ]"
kill $sparse

echo "== 32 MiB dense 4 KiB writes, THP never, in cgroup hot"
echo never > $THP
dense=$(touch_loop 32 4096 none)
in_cgroup hot $dense
after_refreshes 3
echo "accessed: anon_base $(b accessed/anon_base_bytes) anon_huge $(b accessed/anon_huge_bytes) file $(accessed_file) other $(b accessed/other_bytes) samples $(b accessed/samples)"
base_share=$(share "$(b accessed/anon_base_bytes)" "$(accessed_anon)")
figure thp-never-dense-base-share-percent "$base_share"
check "base pages: $base_share % of the accessed anonymous bytes are base pages (>= 80)" [ "$base_share" -ge 80 ]
check "cgroup hot has accessed bytes" [ "$(cgroup_field "$hot_ino" 3)" -gt 0 ]
kill $dense

echo "== a 32 MiB tmpfs file read in a loop"
workload=$(start_workload)
after_refreshes 3
echo "accessed: anon $(accessed_anon) file $(accessed_file) other $(b accessed/other_bytes)"
check "the hot file shows as file more than as anon" [ "$(accessed_file)" -gt "$(accessed_anon)" ]
kill $workload

echo "== node 0 of a one-node guest is the whole machine"
same_refresh() {
	local g=$(generation)
	[ "$(b node0/memory_idle_ms_percentiles)" = "$(cat $P/memory_idle_ms_percentiles)" ] &&
		[ "$(b node0/estimated_memory_bandwidth)" = "$(cat $P/estimated_memory_bandwidth)" ] &&
		[ "$(generation)" = "$g" ]
}
check "node0's percentiles and bandwidth are the parameters'" wait_until 20 same_refresh
ram=0
while read -r start end; do ram=$((ram + end - start)); done <<EOF
$(system_ram | awk '{ print $1, $2 }')
EOF
echo "node0 monitored_bytes $(b node0/monitored_bytes), System RAM $ram"
check "node0 monitors at least all System RAM" [ "$(b node0/monitored_bytes)" -ge "$ram" ]

echo "== bad input"
for f in generation accessed/samples node0/monitored_bytes cgroups; do
	if sh -c "echo 1 > $B/$f" 2>/dev/null; then fail "$f accepted a write"; else pass "$f rejects writes"; fi
done
check "a read past the end of cgroups is empty" [ -z "$(dd if=$B/cgroups bs=4096 skip=64 2>/dev/null)" ]
check "reading cgroups in 7-byte pieces gives the same table" sh -c \
	"a=\$(dd if=$B/cgroups bs=7 2>/dev/null | head -n 2); b=\$(head -n 2 $B/cgroups); [ \"\$a\" = \"\$b\" ]"

kill $idle
check "rmmod while running" rmmod damon_stat
check "the directory is gone with the module" [ ! -e $B ]
finish
