# SPDX-License-Identifier: GPL-2.0
# damon_stat.enabled=Y on the kernel command line starts monitoring at modprobe
# (modprobe passes damon_stat.* options from /proc/cmdline to the module).
# vm-cmdline: damon_stat.enabled=Y
. /guest/lib.sh

check "the option is on the command line" grep -q 'damon_stat.enabled=Y' /proc/cmdline
check "modprobe damon_stat" modprobe damon_stat
check "enabled reads Y" [ "$(cat $P/enabled)" = Y ]
check "a kdamond runs" [ -n "$(kdamond_pids)" ]
check "rmmod" rmmod damon_stat
finish
