# SPDX-License-Identifier: GPL-2.0
# `make bench-plugin`'s guest (benches/plugin-slowdown.sh): the same three jobs, three
# times each, timed by the guest's clock (under TCG it follows the host's). One line per
# run: `SLOW job=NAME run=N ms=MS`.
#   spin  1,000 million passes of the workload's 4-instruction loop: no memory access, the
#         cost of the plugin's per-block count alone
#   xz    xz -6 of 4 MiB of the host's shared libraries (a 94 MiB match finder): a real
#         program's loads and stores, what the truth's per-access callback costs
#   page  writes 256 MiB once, a byte per 4 KiB page (dd of a tmpfs file): fresh pages
. /guest/lib.sh
WL=/guest/workload
cat /usr/lib/x86_64-linux-gnu/*.so* 2>/dev/null | head -c 4m >/tmp/xz.in
ms() { awk '{ printf "%d", $1 * 1000 }' /proc/uptime; }
for run in 1 2 3; do
	t=$(ms)
	$WL spin 1000000000 >/dev/null || exit 1
	echo "SLOW job=spin run=$run ms=$(($(ms) - t))"
	t=$(ms)
	/usr/bin/xz -6 -T1 -c /tmp/xz.in >/dev/null || exit 1
	echo "SLOW job=xz run=$run ms=$(($(ms) - t))"
	t=$(ms)
	dd if=/dev/zero of=/tmp/page bs=4k count=65536 2>/dev/null || exit 1
	echo "SLOW job=page run=$run ms=$(($(ms) - t))"
	rm -f /tmp/page
done
echo "SLOW-DONE"
