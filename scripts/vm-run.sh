#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boots the test kernel under QEMU (TCG) with an initramfs of static busybox and the
# module installed under /lib/modules/<release>/ (so `modprobe damon_stat` works and
# applies damon_stat.* options from the kernel command line), runs a shell script in the
# guest as root, streams its output and exits with the script's exit status.
#
# The run fails, whatever the script's status, when the serial log shows a KUnit
# `not ok`, or a kernel oops, BUG, WARNING, KASAN or kmemleak report, or a Rust panic.
#
# Environment:
#   KDIR        built kernel tree (bzImage and kernel.release are taken from it)
#   MODULE      damon_stat.ko to install in the guest (optional)
#   GUEST       the script to run in the guest (required)
#   CMDLINE     extra kernel command line arguments
#   VM_MEM      guest memory (default 1G)
#   VM_CPUS     guest CPUs (default 2)
#   VM_TIMEOUT  seconds before a hung guest is killed (default 300)
#   VM_LOG      where to keep the serial log (default: a temporary file)
#   VM_VERBOSE  1 streams every kernel line too, not only the script's output
#   VM_EXPECT_SUITES  KUnit suites that must have run and passed (space separated)
#   VM_QEMU_ARGS  extra QEMU arguments, split on spaces (NUMA nodes, a QMP socket, ...)
source "$(dirname "$0")/lib.sh"

: "${KDIR:?KDIR must name a built kernel tree (make vm-run sets it)}"
: "${GUEST:?GUEST must name a script to run in the guest, e.g. make vm-run GUEST=tests/vm/smoke.sh}"
[ -f "$GUEST" ] || die "GUEST=$GUEST: no such file"
VM_MEM=${VM_MEM:-1G}
VM_CPUS=${VM_CPUS:-2}
VM_TIMEOUT=${VM_TIMEOUT:-300}

bzimage=$KDIR/arch/x86/boot/bzImage
[ -f "$bzimage" ] || die "$bzimage is missing: build the kernel first (make kernel)"
release=$(cat "$KDIR/include/config/kernel.release")
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 is missing: run 'make setup'"
busybox=$(command -v busybox || true)
[ -n "$busybox" ] && file -L "$busybox" 2>/dev/null | grep -q static ||
	busybox=/bin/busybox
[ -x "$busybox" ] || die "static busybox is missing: run 'make setup' (busybox-static)"

work=$(mktemp -d "${TMPDIR:-/tmp}/damon_stat-vm.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{bin,dev,proc,sys,tmp,etc,guest,lib/modules/"$release"/extra}
cp "$busybox" "$root/bin/busybox"

if [ -n "${MODULE:-}" ]; then
	[ -f "$MODULE" ] || die "MODULE=$MODULE: no such file (make module builds it)"
	cp "$MODULE" "$root/lib/modules/$release/extra/"
	for f in modules.order modules.builtin modules.builtin.modinfo; do
		[ -f "$KDIR/$f" ] && cp "$KDIR/$f" "$root/lib/modules/$release/"
	done
	depmod -b "$root" "$release" || die "depmod failed for the guest's module tree"
fi

cp "$GUEST" "$root/guest/run.sh"
cp "$REPO_ROOT/tests/vm/lib.sh" "$root/guest/lib.sh"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"

cat >"$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t debugfs debugfs /sys/kernel/debug
export PATH=/bin HOME=/ TERM=dumb
echo "damon_stat-vm: guest up, running the script"
cd /guest
sh /guest/run.sh
status=$?
echo "damon_stat-vm: exit status $status"
sync
reboot -f
EOF
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initramfs.cpio.gz"

log=${VM_LOG:-$work/serial.log}
append="console=ttyS0 panic=-1 rdinit=/init ${CMDLINE:-}"
step "booting $release (TCG, $VM_CPUS CPUs, $VM_MEM) with $(basename "$GUEST")${CMDLINE:+, cmdline: $CMDLINE}"

show_lines() {
	if [ "${VM_VERBOSE:-0}" = 1 ]; then
		cat
	else
		# The script's own output, plus kernel lines that matter to a reader.
		grep --line-buffered -E -v '^\[ *[0-9]+\.[0-9]+\] ' ||
			true
	fi
}

read -ra qemu_extra_args <<<"${VM_QEMU_ARGS:-}"
set +e
timeout --kill-after=5 "$VM_TIMEOUT" qemu-system-x86_64 \
	-accel tcg -m "$VM_MEM" -smp "$VM_CPUS" \
	-kernel "$bzimage" -initrd "$work/initramfs.cpio.gz" -append "$append" \
	-display none -monitor none -serial stdio -no-reboot "${qemu_extra_args[@]}" </dev/null 2>&1 |
	# Line by line, so that a reader of the output (tests/fleet/run.py) sees each line at once.
	stdbuf -oL tr -d '\r' | tee "$log" | show_lines
qemu_status=${PIPESTATUS[0]}
set -e

if [ "$qemu_status" = 124 ] || [ "$qemu_status" = 137 ]; then
	tail -n 30 "$log" >&2
	die "the guest did not finish within VM_TIMEOUT=${VM_TIMEOUT}s and was killed"
fi

status=$(sed -n 's/^damon_stat-vm: exit status \([0-9]*\)$/\1/p' "$log" | tail -n 1)
checker_status=0
expect_args=()
for suite in ${VM_EXPECT_SUITES:-}; do
	expect_args+=(--expect-suite "$suite")
done
python3 "$REPO_ROOT/scripts/check-vm-log.py" "${expect_args[@]}" "$log" || checker_status=$?

if [ -z "$status" ]; then
	tail -n 30 "$log" >&2
	die "the guest stopped before the script finished (QEMU exit $qemu_status): see the log above"
fi
if [ "$status" != 0 ]; then
	step "guest script exited with status $status"
	exit "$status"
fi
if [ "$checker_status" != 0 ]; then
	step "guest script passed, but the kernel log shows failures (above)"
	exit 1
fi
step "guest script passed"
