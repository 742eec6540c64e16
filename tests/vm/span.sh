# SPDX-License-Identifier: GPL-2.0
# The monitored span covers physical memory wherever the machine puts it: from the first
# to the last System RAM range of /proc/iomem, as DAMON's own damon_aggregated tracepoint
# shows kdamond's regions. On x86_64 RAM starts near 0; on arm64's virt machine at 1 GiB.
. /guest/lib.sh

system_ram | while read -r lo hi; do echo "System RAM $(hex "$lo")-$(hex "$hi")"; done
ram_lo=$(system_ram | head -n 1 | cut -d' ' -f1)
ram_hi=$(system_ram | tail -n 1 | cut -d' ' -f2)
check "/proc/iomem lists System RAM" [ -n "$ram_lo" ]

check "modprobe damon_stat enabled=Y" modprobe damon_stat enabled=Y
if span=$(monitored_span); then
	set -- $span
	echo "monitored span: $(hex "$1")-$(hex "$2")"
	check "the span starts at the first System RAM range" [ "$1" -eq "$ram_lo" ]
	check "the span ends at the end of the last System RAM range" [ "$2" -eq "$ram_hi" ]
else
	fail "no complete aggregation window traced within 60 s"
fi
check "rmmod damon_stat" rmmod damon_stat
finish
