#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make check-system's checks inside the Debian machine, run by
# damon-stat-system-check.service once the boot has begun; which boot this is comes from
# the kernel command line (damon_stat_check.phase=...):
#   first    damon_stat loaded at boot from the DKMS package with its options in /etc,
#            signed and the only copy the kernel takes; the exporter under systemd and
#            its sandbox; Prometheus scraping it, and node_exporter's textfile collector
#            reading its textfile mode: the same p50 as the parameter file
#   upgraded the boot after the kernel upgrade: the module DKMS built for the new kernel
#            comes up the same way; then apt-get remove and purge of both packages leave
#            nothing behind
#   removed  the boot after the removal: no damon_stat, no failed unit
# Prints "ok: ..." and "FAIL: ..." lines and then "SYSTEM-CHECK-DONE <phase> <failures>"
# on the console, and powers the machine off.
. /usr/local/lib/damon-stat-check/lib.sh

phase=$(sed -n 's/.*damon_stat_check\.phase=\([a-z]*\).*/\1/p' /proc/cmdline)
EXPORTER=127.0.0.1:9816
NODE_EXPORTER=127.0.0.1:9100
PROMETHEUS_ADDR=127.0.0.1:9090
SAMPLES=/run/damon-stat-check-p50

done_and_poweroff() {
	echo "SYSTEM-CHECK-DONE $phase $TEST_FAILURES"
	systemctl poweroff
	exit 0
}

system_running() {
	state=$(systemctl is-system-running --wait)
	echo "systemctl is-system-running: $state"
	[ "$state" = running ] && return 0
	systemctl --failed --no-legend --plain
	return 1
}

kdamond_running() {
	pid=$(cat $P/kdamond_pid)
	[ "$pid" -gt 0 ] && case "$(cat /proc/$pid/comm)" in kdamond.*) true ;; *) false ;; esac
}

# The median idle time in the parameter file, sampled every 0.5 s into $SAMPLES by a
# background loop: what Prometheus holds was scraped up to a scrape interval (or, through
# the textfile, a rewrite interval) ago, so it is checked against the values the file has
# shown since.
start_sampling() {
	: >$SAMPLES
	(while :; do cut -d, -f51 $P/memory_idle_ms_percentiles >>$SAMPLES; sleep 0.5; done) &
	sampler=$!
}

# p50_matches JOB: Prometheus' p50 of damon_stat_memory_idle_seconds scraped by JOB, in
# seconds, is a positive median the parameter file showed, in milliseconds.
p50_matches() {
	median=$(promql "damon_stat_memory_idle_seconds{percentile=\"50\",job=\"$1\"}" 2>/dev/null) ||
		return 1
	awk -v s="$median" 'BEGIN { exit !(s > 0) }' || return 1
	grep -qx "$(awk -v s="$median" 'BEGIN { printf "%d", s * 1000 + 0.5 }')" $SAMPLES || return 1
	echo "Prometheus (job $1) holds p50 = $median s, a median the parameter file showed"
}

scraped() { [ "$(promql "up{job=\"$1\"}" 2>/dev/null)" = 1 ]; }
# serves_up ADDR: ADDR's /metrics has damon_stat_up 1.
serves_up() {
	metrics=$(curl -fsS --max-time 5 "http://$1/metrics") &&
		echo "$metrics" | grep -qx 'damon_stat_up 1'
}
exporter_serves() { serves_up $EXPORTER; }
textfile_read() { serves_up $NODE_EXPORTER; }

# security_exposure: systemd-analyze security's overall exposure of the exporter's unit.
security_exposure() {
	systemd-analyze security --no-pager damon-stat-exporter.service |
		sed -n 's/.*Overall exposure level for damon-stat-exporter.service: \([0-9.]*\).*/\1/p'
}

# The module as loaded at boot: by systemd-modules-load, with the options of modprobe.d.
check_module_at_boot() {
	check "damon_stat is loaded" [ -d /sys/module/damon_stat ]
	check "systemd-modules-load inserted it at boot" sh -c \
		"journalctl -b -o cat -t systemd-modules-load | grep -q \"^Inserted module 'damon_stat'\""
	check "enabled=Y from /etc/modprobe.d/damon_stat.conf" [ "$(cat $P/enabled)" = Y ]
	check "kdamond runs (kdamond_pid names a kdamond thread)" kdamond_running
	check "results are refreshed" wait_until 60 refreshed
	check "the module is the one DKMS built for $(uname -r)" sh -c \
		"modinfo -n damon_stat | grep -qx '/lib/modules/$(uname -r)/updates/dkms/damon_stat.ko'"
}

check_exporter() {
	check "damon-stat-exporter.service is active" systemctl -q is-active damon-stat-exporter.service
	pid=$(systemctl show -P MainPID damon-stat-exporter.service)
	uid=$(awk '$1 == "Uid:" { print $2 }' /proc/"$pid"/status)
	check "it runs as a dynamic user (uid $uid, in systemd's 61184-65519)" \
		[ "$uid" -ge 61184 -a "$uid" -le 65519 ]
	check "it serves damon_stat_up 1 on $EXPORTER" wait_until 30 exporter_serves
	check "Prometheus scrapes it (up{job=\"damon_stat\"} == 1)" wait_until 120 scraped damon_stat
	check "PromQL: the exporter's p50 is the parameter file's, in seconds" \
		wait_until 60 p50_matches damon_stat
}

case "$phase" in
first)
	check "the system is running, no unit failed" system_running
	check "the kernel enforces module signatures (module.sig_enforce=1)" \
		[ "$(cat /sys/module/module/parameters/sig_enforce)" = Y ]
	check_module_at_boot
	signer=$(modinfo -F signer damon_stat)
	check "DKMS signed it with the kernel's key (signer: $signer)" [ -n "$signer" ]

	# An unsigned copy: the installed module without its appended signature.
	python3 - "$(modinfo -n damon_stat)" /run/damon_stat-unsigned.ko <<'EOF'
import struct, sys
data = open(sys.argv[1], "rb").read()
magic = b"~Module signature appended~\n"
assert data.endswith(magic), "the installed module is not signed"
sig_len = struct.unpack(">I", data[-len(magic) - 4:-len(magic)])[0]
open(sys.argv[2], "wb").write(data[:-len(magic) - 12 - sig_len])
EOF
	rmmod damon_stat
	if out=$(insmod /run/damon_stat-unsigned.ko 2>&1); then
		fail "the kernel loaded an unsigned damon_stat"
	else
		echo "insmod of the unsigned copy: $out"
		check "the kernel refuses the unsigned copy (Key was rejected by service)" \
			sh -c "echo '$out' | grep -q 'Key was rejected by service'"
		check "and says why in its log" sh -c \
			"dmesg | grep -q 'Loading of unsigned module is rejected'"
	fi
	check "the signed module loads again (modprobe, options from /etc)" modprobe damon_stat
	check "enabled=Y again" [ "$(cat $P/enabled)" = Y ]
	check "results are refreshed again" wait_until 60 refreshed
	start_sampling
	systemctl restart damon-stat-exporter.service

	exposure=$(security_exposure)
	echo "systemd-analyze security damon-stat-exporter.service: $exposure"
	check "the unit's sandbox rates 2.0 or better (0 best, 10 worst)" \
		awk -v e="$exposure" 'BEGIN { exit !(e != "" && e <= 2.0) }'
	check_exporter

	# The textfile mode, as Documentation/fleet.md installs it.
	mkdir -p /etc/systemd/system/damon-stat-exporter.service.d
	cp /usr/share/doc/damon-stat-exporter/examples/textfile.conf \
		/etc/systemd/system/damon-stat-exporter.service.d/
	systemctl daemon-reload
	systemctl restart damon-stat-exporter.service
	check "with the textfile drop-in, the service is active" \
		systemctl -q is-active damon-stat-exporter.service
	check "it writes /var/lib/prometheus/node-exporter/damon_stat.prom" \
		wait_until 30 test -s /var/lib/prometheus/node-exporter/damon_stat.prom
	exposure=$(security_exposure)
	echo "systemd-analyze security, textfile mode: $exposure"
	check "node_exporter's textfile collector serves damon_stat_up 1" wait_until 30 textfile_read
	check "Prometheus scrapes node_exporter (up{job=\"node\"} == 1)" wait_until 120 scraped node
	check "PromQL: p50 through the textfile is the parameter file's, in seconds" \
		wait_until 90 p50_matches node
	rm -r /etc/systemd/system/damon-stat-exporter.service.d
	systemctl daemon-reload
	systemctl restart damon-stat-exporter.service
	kill "$sampler"
	;;
upgraded)
	check "the system is running, no unit failed" system_running
	status=$(dkms status damon_stat 2>&1)
	echo "$status"
	check "dkms status lists damon_stat installed for both kernels" \
		[ "$(echo "$status" | grep -c ': installed$')" -eq 2 ]
	check_module_at_boot
	start_sampling
	check_exporter
	kill "$sampler"

	dpkg-query -L damon-stat-dkms damon-stat-exporter | sort -u >/run/package-paths
	dpkg-query -W -f='${Conffiles}\n' damon-stat-dkms damon-stat-exporter |
		awk 'NF { print $1 }' >/run/conffiles
	built=$(ls /lib/modules/*/updates/dkms/damon_stat.ko* | wc -l)
	echo "DKMS built copies before removal: $built"
	check "apt-get remove damon-stat-dkms damon-stat-exporter" sh -c \
		'DEBIAN_FRONTEND=noninteractive apt-get remove -y -q damon-stat-dkms damon-stat-exporter >/run/remove.log 2>&1 || { cat /run/remove.log; false; }'
	check "the exporter service is stopped" sh -c '! systemctl -q is-active damon-stat-exporter.service'
	check "DKMS removed every build (no /lib/modules/*/updates/dkms/damon_stat.ko)" sh -c \
		'! ls /lib/modules/*/updates/dkms/damon_stat.ko* 2>/dev/null'
	check "and its tree (/var/lib/dkms/damon_stat)" [ ! -e /var/lib/dkms/damon_stat ]
	check "the sources are gone (/usr/src/damon_stat-*)" sh -c '! ls -d /usr/src/damon_stat-* 2>/dev/null'
	left=$(while read -r path; do
		# Files and links; not directories (nor /lib, a link to one).
		[ ! -d "$path" ] || continue
		[ -f "$path" ] || [ -L "$path" ] || continue
		grep -qx "$path" /run/conffiles || echo "$path"
	done </run/package-paths)
	check "no file of either package is left but its configuration ($(wc -l </run/conffiles) conffile)" \
		[ -z "$left" ]
	[ -z "$left" ] || echo "left behind: $left"
	check "apt-get purge removes the configuration too" sh -c \
		'DEBIAN_FRONTEND=noninteractive apt-get purge -y -q damon-stat-dkms damon-stat-exporter >/run/purge.log 2>&1 && ! ls $(cat /run/conffiles) 2>/dev/null'
	check "the unit is gone" sh -c \
		'[ -z "$(systemctl list-unit-files --no-legend damon-stat-exporter.service)" ]'
	# What the administrator added to enable the module at boot goes with it.
	rm -f /etc/modprobe.d/damon_stat.conf /etc/modules-load.d/damon_stat.conf
	;;
removed)
	check "the system is running, no unit failed" system_running
	check "no damon_stat is loaded" [ ! -d /sys/module/damon_stat ]
	check "and none is installed (modprobe finds none)" sh -c '! modprobe -n damon_stat 2>/dev/null'
	check "no kdamond runs" [ -z "$(kdamond_pids)" ]
	;;
*)
	fail "unknown phase '$phase' (damon_stat_check.phase= on the kernel command line)"
	;;
esac
done_and_poweroff
