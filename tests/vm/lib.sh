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
	# Local, so that a caller's loop variable survives (busybox sh has `local`).
	local polls=$(($1 * 5)) poll=0
	shift
	while [ "$poll" -lt "$polls" ]; do
		"$@" && return 0
		sleep 0.2
		poll=$((poll + 1))
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

# uptime_cs: the guest's uptime in hundredths of a second.
uptime_cs() {
	read up _ < /proc/uptime
	echo "${up%.*}${up#*.}" | sed 's/^0*//; s/^$/0/'
}

# cpu_ticks PID: user plus system time of a task, in clock ticks (1/100 s).
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# figure NAME VALUE: a number for the run's summary (tests/run-vm-tests.sh adds them up).
figure() {
	echo "figure: $1 $2"
}

# Guest memory leak checks (debug kernel, CONFIG_DEBUG_KMEMLEAK).
KMEMLEAK=/sys/kernel/debug/kmemleak

# kmemleak_start: no automatic scans from now on, and what is already suspected (boot)
# is forgotten, so that kmemleak_leaks reports only what the test leaked.
kmemleak_start() {
	echo scan=off > $KMEMLEAK
	echo scan > $KMEMLEAK
	echo clear > $KMEMLEAK
}

# kmemleak_leaks: prints how many objects kmemleak suspects leaked since kmemleak_start,
# and their reports on standard error. kmemleak only reports objects older than 5 s.
kmemleak_leaks() {
	sleep 6
	echo scan > $KMEMLEAK
	leaks=$(grep -c '^unreferenced object' $KMEMLEAK)
	[ "$leaks" -eq 0 ] || head -n 80 $KMEMLEAK >&2
	echo "$leaks"
}

# check_no_leaks: a kmemleak scan finds nothing since kmemleak_start; adds the figure.
check_no_leaks() {
	leaks=$(kmemleak_leaks)
	echo "kmemleak: $leaks suspected leaks"
	check "no leak (kmemleak)" [ "$leaks" -eq 0 ]
	figure leaks-found "$leaks"
}

# no_kdamond: no kdamond thread exists. wait_stopped: waits for that; fails after 10 s.
no_kdamond() { [ -z "$(kdamond_pids)" ]; }
wait_stopped() {
	wait_until 10 no_kdamond
}

# tracefs, mounted by the rig: monitored_span reads DAMON's damon_aggregated tracepoint there.
T=/sys/kernel/tracing

# hex N: N in hexadecimal.
hex() { printf '0x%x' "$1"; }

# system_ram: the System RAM ranges of /proc/iomem, "START END" in decimal (END
# exclusive), one per line.
system_ram() {
	sed -n 's/^ *\([0-9a-f]*\)-\([0-9a-f]*\) : System RAM$/\1 \2/p' /proc/iomem |
		while read -r lo hi; do echo $((0x$lo)) $((0x$hi + 1)); done
}

# monitored_span: "START END" of kdamond's regions in a complete aggregation window,
# read from the damon_aggregated tracepoint (which DAMON fires for every region of every
# window): the lowest start and highest end over at least two windows' worth of lines.
traced_span() {
	awk '/damon_aggregated:/ {
		for (i = 1; i <= NF; i++) {
			if ($i ~ /^nr_regions=/) n = substr($i, 12) + 0
			if ($i ~ /^[0-9]+-[0-9]+:$/) {
				split($i, a, /[-:]/)
				if (!lines || a[1] + 0 < lo) lo = a[1] + 0
				if (a[2] + 0 > hi) hi = a[2] + 0
				lines++
			}
		}
	}
	END { if (n > 0 && lines >= 2 * n) printf "%.0f %.0f\n", lo, hi }' $T/trace >/tmp/span
	[ -s /tmp/span ]
}
monitored_span() {
	local status=0
	echo > $T/trace
	echo 1 > $T/events/damon/damon_aggregated/enable
	wait_until 60 traced_span || status=1
	echo 0 > $T/events/damon/damon_aggregated/enable
	echo > $T/trace
	[ $status -eq 0 ] && cat /tmp/span
}

# refreshed: damon_stat has published a result (p100 is non-zero once it has).
refreshed() { [ "$(cut -d, -f101 $P/memory_idle_ms_percentiles)" != 0 ]; }

# promql QUERY: the value of the single series QUERY returns, through the HTTP API of the
# Prometheus at $PROMETHEUS_ADDR; fails (saying why on stderr) on an error or on any
# other number of series.
promql() {
	python3 - "$PROMETHEUS_ADDR" "$1" <<'EOF'
import json
import sys
import urllib.parse
import urllib.request

addr, query = sys.argv[1:]
url = f"http://{addr}/api/v1/query?" + urllib.parse.urlencode({"query": query})
try:
    with urllib.request.urlopen(url, timeout=10) as response:
        answer = json.load(response)
except Exception as e:
    sys.exit(f"query {query} failed: {e}")
result = answer.get("data", {}).get("result", [])
if answer.get("status") != "success" or len(result) != 1:
    sys.exit(f"query {query}: expected one series, got {answer}")
print(result[0]["value"][1])
EOF
}
