# SPDX-License-Identifier: GPL-2.0
# vm-cmdline: kunit.enable=0
# vm-timeout: 900
# Fault injection. (1) Every allocation on the start path, in the task that writes Y to
# `enabled`, fails in turn (failslab and fail_page_alloc through /proc/self/fail-nth):
# each time the write fails or survives cleanly, `enabled` reads N after a failed write,
# no kdamond is left, nothing leaks, and a clean enable works afterwards. (2) kdamond
# exits on its own: its first allocation fails (failslab aimed at kdamond_fn by the
# stack trace filter); `enabled` must then read N, and Y must start it again. kmemleak
# scans at the end.
. /guest/lib.sh

F=/sys/kernel/debug
for attr in failslab fail_page_alloc; do
	echo N > $F/$attr/ignore-gfp-wait
	echo 1 > $F/$attr/verbose # one line per injected fault, no stack dump
done
# fail_page_alloc keeps its default min-order 1: multi-page allocations (the module's
# region buffers) fail, order-0 pages do not, so that a page fault of the shell itself
# (a page table) never fails and brings in the OOM killer.

faults() { dmesg | grep -c 'FAULT_INJECTION: forcing a failure'; }

kmemleak_start
check "modprobe damon_stat" modprobe damon_stat
echo 4 > /proc/sys/kernel/printk

# One attempt: a shell that arms fail-nth for itself, writes Y, then reads fail-nth back
# (non-zero: the fault was not reached; zero: it fired; unreadable: the read's own open
# took it, after the write). Prints "<write status> <fail-nth left>".
attempt() {
	sh -c "echo $1 > /proc/self/fail-nth || exit 9
		echo Y > $P/enabled 2>/dev/null; st=\$?
		left=-; read left 2>/dev/null < /proc/self/fail-nth
		echo \$st \$left"
}

injected=0
survived=0
failed_writes=0
nth=1
while [ $nth -le 400 ]; do
	set -- $(attempt $nth)
	status=$1 left=$2
	if [ "$left" != 0 ]; then
		# The nth allocation came after the write: every earlier one has been failed.
		[ "$status" = 0 ] || fail "write $nth failed without an injected fault (status $status)"
		break
	fi
	injected=$((injected + 1))
	ok=true
	if [ "$status" != 0 ]; then
		failed_writes=$((failed_writes + 1))
		[ "$(cat $P/enabled)" = N ] || { fail "fault $nth: the write failed but enabled reads Y"; ok=false; }
		no_kdamond || { fail "fault $nth: the write failed but a kdamond runs"; ok=false; }
	else
		# The failed allocation had a fallback (kvmalloc falls back to vmalloc).
		[ "$(cat $P/enabled)" = Y ] || { fail "fault $nth: the write succeeded but enabled reads N"; ok=false; }
		echo N > $P/enabled
		wait_stopped || { fail "fault $nth: kdamond did not stop"; ok=false; }
	fi
	$ok && survived=$((survived + 1))
	nth=$((nth + 1))
done
echo 7 > /proc/sys/kernel/printk
echo "start path: $injected allocations failed in turn, $failed_writes writes failed, $survived survived"
[ "$(cat $P/enabled)" = Y ] && echo N > $P/enabled
check "faults were injected and some failed the write" [ $injected -gt 0 -a $failed_writes -gt 0 ]
check "every fault was survived" [ $survived -eq $injected ]
check "the start path was exhausted (a write with no fault left to inject)" [ $nth -le 400 ]

check "a clean enable works" write_param enabled Y
check "... and runs" [ "$(cat $P/enabled)" = Y ]
check "stop" write_param enabled N
check "no kdamond left" wait_stopped

# (2) kdamond exits on its own.
range=$(sort /proc/kallsyms | awk 'found && $1 != start { print "0x" start, "0x" $1; exit }
	$3 == "kdamond_fn" { found = 1; start = $1 }')
echo "kdamond_fn: $range"
set -- $range
echo "$1" > $F/failslab/require-start
echo "$2" > $F/failslab/require-end
echo 1 > $F/failslab/times
echo 100 > $F/failslab/probability
before=$(faults)
check "Y starts a kdamond whose first allocation will fail" write_param enabled Y
check "kdamond exits on its own and enabled reads N" wait_until 10 sh -c "[ \$(cat $P/enabled) = N ]"
echo 0 > $F/failslab/probability
echo 0 > $F/failslab/require-start
echo 18446744073709551615 > $F/failslab/require-end
self_exit_faults=$(($(faults) - before))
check "the fault was injected in kdamond" [ $self_exit_faults -eq 1 ]
injected=$((injected + self_exit_faults))
check "kdamond_pid reads -1" [ "$(cat $P/kdamond_pid)" = -1 ]
check "no kdamond left" no_kdamond
if write_param enabled Y && [ "$(cat $P/enabled)" = Y ] && [ -n "$(kdamond_pids)" ]; then
	pass "Y starts it again"
	survived=$((survived + self_exit_faults))
else
	fail "Y did not start it again"
fi
check "rmmod" rmmod damon_stat

check_no_leaks
figure faults-injected $injected
figure faults-survived $survived
finish
