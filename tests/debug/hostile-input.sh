# SPDX-License-Identifier: GPL-2.0
# vm-module: test
# vm-expect-suite: damon_stat
# vm-timeout: 600
# Hostile input: bad writes to `enabled` (stopped and running), writes to every read-only
# parameter and breakdown file, and an unprivileged user, all rejected with the errno a user expects, with
# the module's state and the kernel log unchanged. On the test module, so that its KUnit
# suite also runs on the debug kernel (KASAN, lockdep, kmemleak watching).
. /guest/lib.sh

tried=0
rejected=0
# as_nobody COMMAND: runs COMMAND (a shell command line) as the unprivileged user nobody.
as_nobody() { su -s /bin/sh nobody -c "$1"; }

state() { echo "$(cat $P/enabled) $(cat $P/kdamond_pid)"; }
# Kernel log lines about DAMON (other subsystems, e.g. TCG clocksource notes, may log).
log_lines() { dmesg | grep -ci damon; }

# reject WHO EXPECTED_ERROR PARAM FILE: writes FILE's bytes to PARAM in one write(2), as
# root or as nobody; passes when the write fails with EXPECTED_ERROR and changes nothing.
reject() {
	who=$1 want=$2 param=$3 input=$4
	before=$(state)
	lines=$(log_lines)
	if [ "$who" = nobody ]; then
		out=$(as_nobody "dd if=$input of=$P/$param bs=65536" 2>&1)
	else
		out=$(dd if="$input" of="$P/$param" bs=65536 2>&1)
	fi
	status=$?
	tried=$((tried + 1))
	desc="$who: $(od -An -c "$input" | tr -s ' \n' ' ' | cut -c1-40) > $param"
	if [ $status -eq 0 ]; then
		fail "$desc was accepted"
	elif ! echo "$out" | grep -q "$want"; then
		fail "$desc failed, but not with '$want': $out"
	elif [ "$(state)" != "$before" ]; then
		fail "$desc changed the state: $before -> $(state)"
	elif [ "$(log_lines)" != "$lines" ]; then
		fail "$desc wrote to the kernel log: $(dmesg | tail -n 2)"
	else
		rejected=$((rejected + 1))
		return 0
	fi
	return 1
}

# Bad values for `enabled`: kstrtobool looks at the first one or two bytes only, so each
# of these starts with something it refuses.
mkdir -p /tmp/bad
n=0
bad() { n=$((n + 1)); printf "$1" > /tmp/bad/$n; }
bad '\n'                       # echo > enabled
bad ' \n'
bad '\t\n'
bad '\r\n'
bad ' Y\n'
bad '\tN\n'
bad '\nY\n'
bad '2\n'
bad '9'
bad '-1\n'
bad '+1\n'
bad '-0\n'
bad 'maybe\n'
bad 'x'
bad 'o\n'
bad 'ox\n'
bad 'O-N\n'
bad 'enable\n'
bad 'disable\n'
bad 'ja\n'
bad '\\x59\n'
bad '\303\251\n'               # UTF-8 e-acute
bad '\377\376'
bad '\001\002\003'
bad '\000Y\n'                  # a NUL first: the C string is empty
bad '99999999999999999999999999\n'
bad '-9223372036854775809\n'
bad '%%s%%n%%x\n'
bad '$(reboot)\n'
bad '(null)\n'                 # not 'null': kstrtobool reads its n as false
head -c 4096 /dev/zero | tr '\0' x > /tmp/bad/4k-x; n=$((n + 1))
head -c 4095 /dev/zero | tr '\0' ' ' > /tmp/bad/4k-space; n=$((n + 1))
head -c 8192 /dev/zero | tr '\0' z > /tmp/bad/8k-z; n=$((n + 1))
head -c 4096 /dev/urandom | tr -d 'yYtT1nNfF0oO' > /tmp/bad/random; n=$((n + 1))
echo "bad values for enabled: $n"

check "modprobe damon_stat" modprobe damon_stat
check "the guest has an unprivileged user" [ "$(as_nobody 'id -u')" = 65534 ]
for round in stopped running; do
	if [ $round = running ]; then
		check "enabling" write_param enabled Y
	fi
	failed_before=$TEST_FAILURES
	for f in /tmp/bad/*; do
		reject root "Invalid argument" enabled "$f"
	done
	[ $TEST_FAILURES -eq $failed_before ] && pass "$n bad values rejected with EINVAL while $round"
done

# Read-only parameters: the open for writing fails (EACCES), even for root.
printf '5\n' > /tmp/five
printf 'Y\n' > /tmp/yes
printf 'N\n' > /tmp/no
for ro in estimated_memory_bandwidth memory_idle_ms_percentiles aggr_interval_us kdamond_pid; do
	reject root "Permission denied" $ro /tmp/five && pass "root cannot write $ro"
	reject nobody "Permission denied" $ro /tmp/five && pass "nobody cannot write $ro"
done
# The breakdown's files are read-only (0400) too, the cgroups table included.
breakdown_files="../breakdown/generation ../breakdown/node0/monitored_bytes ../breakdown/node0/memory_idle_ms_percentiles ../breakdown/accessed/anon_huge_bytes ../breakdown/idle/samples ../breakdown/cgroups"
for ro in $breakdown_files; do
	reject root "Permission denied" $ro /tmp/five && pass "root cannot write ${ro#../}"
	reject nobody "Permission denied" $ro /tmp/five && pass "nobody cannot write ${ro#../}"
done

# An unprivileged user can neither change nor read the 0600 `enabled`, nor read the 0400
# results.
reject nobody "Permission denied" enabled /tmp/no && pass "nobody cannot stop monitoring"
check "still running" [ "$(cat $P/enabled)" = Y ]
write_param enabled N >/dev/null
reject nobody "Permission denied" enabled /tmp/yes && pass "nobody cannot start monitoring"
check "still stopped" [ "$(cat $P/enabled)" = N ]
for param in enabled estimated_memory_bandwidth memory_idle_ms_percentiles aggr_interval_us kdamond_pid $breakdown_files; do
	tried=$((tried + 1))
	if out=$(as_nobody "cat $P/$param" 2>&1); then
		fail "nobody can read $param: $out"
	elif echo "$out" | grep -q "Permission denied"; then
		rejected=$((rejected + 1))
		pass "nobody cannot read $param"
	else
		fail "nobody's read of $param failed, but not with EACCES: $out"
	fi
done

check "a good write still works after all that" write_param enabled Y
check "... and runs" [ "$(cat $P/enabled)" = Y ]
check "rmmod" rmmod damon_stat
check "no kdamond left" wait_stopped
echo "bad inputs: $tried tried, $rejected rejected"
figure bad-inputs-tried $tried
figure bad-inputs-rejected $rejected
finish
