# SPDX-License-Identifier: GPL-2.0
# vm-cmdline: kunit.enable=0
# vm-timeout: 900
# insmod/rmmod 40 times, every other time with monitoring running, then a kmemleak
# scan: nothing left behind.
. /guest/lib.sh

CYCLES=40
kmemleak_start
echo 4 > /proc/sys/kernel/printk
errors=0
i=0
t0=$(date +%s)
while [ $i -lt $CYCLES ]; do
	if [ $((i % 2)) -eq 0 ]; then
		modprobe damon_stat enabled=Y || errors=$((errors + 1))
		[ -n "$(kdamond_pids)" ] || errors=$((errors + 1))
	else
		modprobe damon_stat || errors=$((errors + 1))
		[ "$(cat $P/enabled)" = N ] || errors=$((errors + 1))
	fi
	rmmod damon_stat || errors=$((errors + 1))
	[ ! -e /sys/module/damon_stat ] || errors=$((errors + 1))
	no_kdamond || errors=$((errors + 1))
	i=$((i + 1))
done
took=$(($(date +%s) - t0))
echo 7 > /proc/sys/kernel/printk
echo "$i load/unload cycles ($((CYCLES / 2)) with monitoring running) in $took s, $errors errors"
check "every load and unload was clean" [ $errors -eq 0 ]

check_no_leaks
figure load-unload-cycles $i
finish
