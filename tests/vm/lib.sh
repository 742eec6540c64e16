# SPDX-License-Identifier: GPL-2.0
# Helpers for guest scripts (busybox sh). Sourced as /guest/lib.sh.

P=/sys/module/damon_stat/parameters
TEST_FAILURES=0

fail() {
	echo "FAIL: $*"
	TEST_FAILURES=$((TEST_FAILURES + 1))
}

pass() {
	echo "ok: $*"
}

# check DESCRIPTION COMMAND...: runs the command, passes when it succeeds.
check() {
	desc=$1
	shift
	if "$@"; then pass "$desc"; else fail "$desc"; fi
}

# finish: the script's exit status, from the failures counted so far.
finish() {
	if [ "$TEST_FAILURES" -eq 0 ]; then
		echo "all checks passed"
		exit 0
	fi
	echo "$TEST_FAILURES check(s) failed"
	exit 1
}

# PIDs of kdamond threads, one per line.
kdamond_pids() {
	for d in /proc/[0-9]*; do
		case "$(cat "$d/comm" 2>/dev/null)" in
		kdamond.*) echo "${d#/proc/}" ;;
		esac
	done
}

# wait_until SECONDS COMMAND...: polls every 0.2 s; fails after SECONDS.
wait_until() {
	limit=$(($1 * 5))
	shift
	i=0
	while [ "$i" -lt "$limit" ]; do
		"$@" && return 0
		sleep 0.2
		i=$((i + 1))
	done
	return 1
}

# write_param NAME VALUE: writes VALUE and a newline, as `echo VALUE > file` does, prints
# the error (if any), returns the write's status. busybox's echo reports a failed write;
# its printf does not.
write_param() {
	( echo "$2" > "$P/$1" ) 2>&1
}

# percentiles_well_formed: 101 integers, non-decreasing.
percentiles_well_formed() {
	awk -F, '
		NF != 101 { print "expected 101 values, got " NF; exit 1 }
		{
			for (i = 1; i <= NF; i++) {
				if ($i !~ /^-?[0-9]+$/) { print "not an integer: " $i; exit 1 }
				if (i > 1 && $i + 0 < $(i - 1) + 0) { print "decreasing at " i; exit 1 }
			}
		}' "$P/memory_idle_ms_percentiles"
}

# A busy workload: 32 MiB in tmpfs, read again and again. Prints its PID. The loop's
# output goes to /dev/null so that `$(start_workload)` does not wait for it to end.
start_workload() {
	dd if=/dev/zero of=/tmp/hot bs=1M count=32 2>/dev/null
	( while :; do cat /tmp/hot > /dev/null; done ) > /dev/null 2>&1 &
	echo $!
}
