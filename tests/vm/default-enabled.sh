# SPDX-License-Identifier: GPL-2.0
# vm-module-make: DAMON_STAT_ENABLED_DEFAULT=y
# The build-time default, like upstream's CONFIG_DAMON_STAT_ENABLED_DEFAULT: a module
# built with `make DAMON_STAT_ENABLED_DEFAULT=y` monitors as soon as it is loaded, and
# an explicit enabled=N on load still wins.
. /guest/lib.sh

check "modprobe damon_stat (no arguments)" modprobe damon_stat
check "enabled reads Y" [ "$(cat $P/enabled)" = Y ]
check "a kdamond runs" [ -n "$(kdamond_pids)" ]
check "rmmod" rmmod damon_stat
check "no kdamond left" wait_stopped
check "modprobe damon_stat enabled=N" modprobe damon_stat enabled=N
check "enabled reads N" [ "$(cat $P/enabled)" = N ]
check "no kdamond runs" no_kdamond
check "rmmod" rmmod damon_stat
finish
