# SPDX-License-Identifier: GPL-2.0
# The exporter end to end: damon_stat enabled, damon-stat-exporter serving on its default
# address (loopback, port 9816), a real Prometheus (Debian's) scraping it every second,
# and PromQL queries through Prometheus' HTTP API: the median idle time checked against
# the parameter file, the default set of eight percentiles, damon_stat_info for a loaded
# module on this kernel, kdamond_running, MemTotal, and the breakdown: node 0's monitored
# bytes, the accessed bytes of the cgroup the workload runs in, the sampled page cache.
# vm-timeout: 400
# vm-needs: host-userland
. /guest/lib.sh

EXPORTER_ADDR=127.0.0.1:9816
PROMETHEUS_ADDR=127.0.0.1:9090

exporter_up() { wget -qO- "http://$EXPORTER_ADDR/metrics" 2>/dev/null | grep -qx 'damon_stat_up 1'; }
scraped() { [ "$(promql 'up{job="damon_stat"}' 2>/dev/null)" = 1 ]; }
median_ms() { cut -d, -f51 $P/memory_idle_ms_percentiles; }
eight_percentiles() { [ "$(promql 'count(damon_stat_memory_idle_seconds)' 2>/dev/null)" = 8 ]; }

check "damon-stat-exporter is on the guest's PATH" sh -c 'command -v damon-stat-exporter >/dev/null'
check "prometheus is on the guest's PATH" sh -c 'command -v prometheus >/dev/null'
# The rest of the test, the workload and the exporter included, runs in cgroup /work.
mountpoint -q /sys/fs/cgroup || mount -t cgroup2 none /sys/fs/cgroup
echo +memory > /sys/fs/cgroup/cgroup.subtree_control
mkdir -p /sys/fs/cgroup/work
echo $$ > /sys/fs/cgroup/work/cgroup.procs
check "modprobe damon_stat enabled=Y" modprobe damon_stat enabled=Y
workload=$(start_workload)

# No --listen: the default is $EXPORTER_ADDR.
damon-stat-exporter 2>/tmp/exporter.log &
exporter=$!
cat > /tmp/prometheus.yml <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: damon_stat
    static_configs:
      - targets: ['$EXPORTER_ADDR']
EOF
prometheus --config.file=/tmp/prometheus.yml --storage.tsdb.path=/tmp/prometheus \
	--web.listen-address="$PROMETHEUS_ADDR" > /tmp/prometheus.log 2>&1 &
prometheus=$!

check "the exporter serves damon_stat_up 1" wait_until 30 exporter_up
check "damon_stat refreshes its results" wait_until 15 refreshed
if check "Prometheus scrapes the exporter (up == 1)" wait_until 120 scraped; then :; else
	echo "--- exporter's log"; cat /tmp/exporter.log
	echo "--- Prometheus' log"; tail -n 20 /tmp/prometheus.log
fi
check "PromQL: damon_stat_enabled is 1" [ "$(promql damon_stat_enabled)" = 1 ]
check "PromQL: damon_stat_kdamond_running is 1" [ "$(promql damon_stat_kdamond_running)" = 1 ]
# A loaded module (it has /sys/module/damon_stat/initstate), whose link mode sysfs does
# not show, on the guest's kernel.
check "PromQL: damon_stat_info says module (link_mode unknown) on $(uname -r)" \
	[ "$(promql "damon_stat_info{link_mode=\"unknown\",version=\"unknown\",kernel=\"$(uname -r)\"}")" = 1 ]
# Waited for: the first scrapes may predate the first refresh, which has no percentiles.
check "PromQL: eight percentiles by default" \
	wait_until 10 eight_percentiles
check "PromQL: they are p0, p10, p25, p50, p75, p90, p99 and p100, labelled percentile" \
	[ "$(promql 'count(damon_stat_memory_idle_seconds{percentile=~"0|10|25|50|75|90|99|100"})')" = 8 ]
mem_total_kib=$(awk '$1 == "MemTotal:" { print $2 }' /proc/meminfo)
check "PromQL: damon_stat_memory_total_bytes is MemTotal ($mem_total_kib kB)" \
	awk -v v="$(promql damon_stat_memory_total_bytes)" -v kib="$mem_total_kib" \
	'BEGIN { exit !(v == kib * 1024) }'

# The median Prometheus holds is the one the parameter file shows, in seconds. The file
# is read before and after the query, 1.5 s apart so that Prometheus scrapes in between;
# refreshes come 5 s or more apart, so a round that saw one (or a late scrape) is tried
# again.
matched=no
for round in 1 2 3 4 5 6 7 8 9 10; do
	before=$(median_ms)
	sleep 1.5
	median=$(promql 'damon_stat_memory_idle_seconds{percentile="50"}') || break
	after=$(median_ms)
	echo "round $round: Prometheus says $median s; p50 in the file $before ms, then $after ms"
	[ "$after" = "$before" ] || continue
	if awk -v s="$median" -v ms="$before" \
		'BEGIN { exit !(sprintf("%.3f", s) == sprintf("%.3f", ms / 1000)) }'; then
		matched=yes
		break
	fi
done
check "PromQL: the median idle time is p50 of memory_idle_ms_percentiles, in seconds" \
	[ "$matched" = yes ]
check "the median idle time is positive: most of the guest's memory is idle" \
	awk -v s="$median" 'BEGIN { exit !(s > 0) }'

# The breakdown: a per-node and a per-cgroup series, and the sampled page cache.
node0_bytes=$(cat /sys/module/damon_stat/breakdown/node0/monitored_bytes)
check "PromQL: node 0's monitored bytes are breakdown/node0's ($node0_bytes)" \
	[ "$(promql 'damon_stat_node_monitored_bytes{node="0"}')" = "$node0_bytes" ]
work_accessed() {
	awk -v v="$(promql 'damon_stat_cgroup_accessed_bytes{cgroup="/work"}' 2>/dev/null)" \
		'BEGIN { exit !(v > 0) }'
}
check "PromQL: cgroup /work, which reads the hot file, has accessed bytes" wait_until 30 work_accessed
check "PromQL: the sampled accessed page cache is non-zero" awk -v v="$(promql \
	'sum(damon_stat_sampled_memory_bytes{state="accessed",type="file"})')" 'BEGIN { exit !(v > 0) }'

kill "$prometheus" "$exporter" "$workload"
finish
