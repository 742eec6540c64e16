# SPDX-License-Identifier: GPL-2.0
# The foundation layer, on the test module (with the KUnit suite): the module loads,
# resolves every DAMON function it declares (init fails otherwise), runs its KUnit suite,
# exposes its parameters, and unloads leaving nothing behind.
# vm-module: test
# vm-expect-suite: damon_stat
. /guest/lib.sh

# modinfo describes every parameter (busybox prints "parm: NAME:DESCRIPTION").
for p in enabled estimated_memory_bandwidth memory_idle_ms_percentiles aggr_interval_us kdamond_pid; do
	check "modinfo describes $p" sh -c "modinfo damon_stat | grep -Eq '^parm: +$p:.{10,}'"
done
check "modinfo: license GPL" sh -c "modinfo damon_stat | grep -Eq '^license: +GPL$'"
# A value for a read-only parameter on load is refused, and the load with it.
check "modprobe damon_stat kdamond_pid=1 fails" sh -c '! modprobe damon_stat kdamond_pid=1'
check "... and leaves no module loaded" sh -c '! grep -q "^damon_stat " /proc/modules'
check "modprobe damon_stat" modprobe damon_stat
check "module is listed" grep -q '^damon_stat ' /proc/modules
for p in enabled estimated_memory_bandwidth memory_idle_ms_percentiles aggr_interval_us kdamond_pid; do
	check "parameter $p exists" test -e "$P/$p"
done
check "enabled reads N when loaded without arguments" [ "$(cat $P/enabled)" = N ]
check "kdamond_pid reads -1 when stopped" [ "$(cat $P/kdamond_pid)" = -1 ]
check "no kdamond runs" [ -z "$(kdamond_pids)" ]
# The KUnit suite timed a refresh of max_nr_regions regions when the module loaded.
timed=$(dmesg | grep 'damon_stat: kunit: refresh of' | tail -n 1)
echo "kernel log: ${timed#*] }"
check "the KUnit suite timed a refresh" [ -n "$timed" ]
figure refresh-1000-regions-ns "$(echo "$timed" | sed -n 's/.*regions: \([0-9]*\) ns per refresh.*/\1/p')"
check "rmmod damon_stat" rmmod damon_stat
check "module is gone" sh -c '! grep -q "^damon_stat " /proc/modules'
check "its sysfs directory is gone" test ! -e /sys/module/damon_stat
finish
