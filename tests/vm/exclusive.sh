# SPDX-License-Identifier: GPL-2.0
# Enabling while another DAMON user (a DAMON sysfs kdamond) runs fails with EBUSY, says
# why in the kernel log, and leaves enabled N; once it stops, enabling works.
. /guest/lib.sh

K=/sys/kernel/mm/damon/admin/kdamonds
echo 1 > $K/nr_kdamonds
echo 1 > $K/0/contexts/nr_contexts
echo paddr > $K/0/contexts/0/operations
echo 1 > $K/0/contexts/0/targets/nr_targets
check "a DAMON sysfs kdamond starts" sh -c "echo on > $K/0/state"

check "modprobe damon_stat" modprobe damon_stat
out=$(write_param enabled Y)
if [ $? -ne 0 ] && echo "$out" | grep -q "busy"; then
	pass "enabling fails with EBUSY ($out)"
else
	fail "enabling did not fail with EBUSY ($out)"
fi
check "enabled reads N" [ "$(cat $P/enabled)" = N ]
check "the kernel log says why" sh -c "dmesg | grep -q 'damon_stat: cannot start: another DAMON user'"
check "only the sysfs kdamond runs" [ "$(kdamond_pids | wc -l)" -eq 1 ]

check "the sysfs kdamond stops" sh -c "echo off > $K/0/state"
check "enabling now works" write_param enabled Y
check "enabled reads Y" [ "$(cat $P/enabled)" = Y ]
check "rmmod" rmmod damon_stat
finish
