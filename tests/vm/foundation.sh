# The foundation layer: the module loads, resolves every DAMON function it declares
# (init fails otherwise), runs its KUnit suite, exposes its parameters, and unloads
# leaving nothing behind.
# vm-expect-suite: damon_stat
. /guest/lib.sh

# modinfo describes every parameter (busybox prints "parm: NAME:DESCRIPTION").
for p in enabled estimated_memory_bandwidth memory_idle_ms_percentiles aggr_interval_us kdamond_pid; do
	check "modinfo describes $p" sh -c "modinfo damon_stat | grep -Eq '^parm: +$p:.{10,}'"
done
check "modinfo: license GPL" sh -c "modinfo damon_stat | grep -Eq '^license: +GPL$'"
check "modprobe damon_stat" modprobe damon_stat
check "module is listed" grep -q '^damon_stat ' /proc/modules
for p in enabled estimated_memory_bandwidth memory_idle_ms_percentiles aggr_interval_us kdamond_pid; do
	check "parameter $p exists" test -e "$P/$p"
done
check "enabled reads N when loaded without arguments" [ "$(cat $P/enabled)" = N ]
check "kdamond_pid reads -1 when stopped" [ "$(cat $P/kdamond_pid)" = -1 ]
check "no kdamond runs" [ -z "$(kdamond_pids)" ]
check "rmmod damon_stat" rmmod damon_stat
check "module is gone" sh -c '! grep -q "^damon_stat " /proc/modules'
check "its sysfs directory is gone" test ! -e /sys/module/damon_stat
finish
