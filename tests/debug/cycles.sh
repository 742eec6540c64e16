# SPDX-License-Identifier: GPL-2.0
# vm-cmdline: kunit.enable=0
# vm-timeout: 900
# 1000 enable/disable cycles, then a kmemleak scan: no leak, no warning, and monitoring
# still works afterwards.
. /guest/lib.sh

CYCLES=1000
kmemleak_start
check "modprobe damon_stat" modprobe damon_stat
# Every stop logs a summary line; keep the serial console for what matters.
echo 4 > /proc/sys/kernel/printk

t0=$(date +%s)
done_cycles=0
errors=0
i=0
while [ $i -lt $CYCLES ]; do
	echo Y > $P/enabled || errors=$((errors + 1))
	[ "$(cat $P/enabled)" = Y ] || errors=$((errors + 1))
	echo N > $P/enabled || errors=$((errors + 1))
	[ "$(cat $P/kdamond_pid)" = -1 ] || errors=$((errors + 1))
	i=$((i + 1))
	done_cycles=$i
done
took=$(($(date +%s) - t0))
echo 7 > /proc/sys/kernel/printk
echo "$done_cycles enable/disable cycles in $took s, $errors errors"
check "every cycle started and stopped cleanly" [ $errors -eq 0 ]
check "no kdamond left" wait_stopped
check "the last stop logged its summary" sh -c "dmesg | tail -n 5 | grep -q 'damon_stat: stopped:'"

check "monitoring still works" write_param enabled Y
check "... and runs" [ "$(cat $P/enabled)" = Y ]
check "rmmod" rmmod damon_stat

check_no_leaks
figure enable-disable-cycles $done_cycles
finish
