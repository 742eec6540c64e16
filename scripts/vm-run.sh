#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boots the test kernel under QEMU (TCG) on the host's own userland, runs a shell script
# in the guest as root, streams its output and exits with the script's exit status.
#
# The guest's root is a small initramfs: static busybox (in /.rig/bin, first on the
# PATH, so guest scripts run on the same tools everywhere), the module installed under
# /lib/modules/<release>/ (so `modprobe damon_stat` works and applies damon_stat.*
# options from the kernel command line), and the script in /guest/. Its /init mounts the
# host's root read-only over virtio 9p and binds the host's top-level directories (/usr,
# /etc, /var, /root, ...) into it, so host programs run in the guest: Python and damo,
# the exporter, Prometheus. /tmp, /run and /dev/shm are the guest's own tmpfs, /proc,
# /sys, /dev, debugfs and tracefs its own, and loopback is up. Host files under /tmp
# or /run are not visible in the guest: pass them with VM_FILES.
#
# ARCH=arm64 boots the arm64 kernel under qemu-system-aarch64 (`virt` machine, `-cpu max`:
# pointer authentication and BTI enforced). The host's programs are x86 and cannot run
# there: the guest has the initramfs only, with an arm64 static busybox (make setup),
# and no host root (tests/run-vm-tests.sh skips the tests that need host programs).
#
# The run fails, whatever the script's status, when the serial log shows a KUnit
# `not ok`, or a kernel oops, BUG, WARNING, KASAN or kmemleak report, or a Rust panic.
#
# Environment:
#   KDIR        built kernel tree (its image and kernel.release are taken from it)
#   ARCH        x86_64 (default) or arm64: must be KDIR's architecture
#   MODULE      damon_stat.ko to install in the guest (optional)
#   GUEST       the script to run in the guest (required)
#   CMDLINE     extra kernel command line arguments
#   VM_MEM      guest memory (default 1G)
#   VM_CPUS     guest CPUs (default 2)
#   VM_TIMEOUT  seconds before a hung guest is killed (default 300)
#   VM_FILES    host files copied into the guest's /guest/ (space separated)
#   VM_LOG      where to keep the serial log (default: a temporary file)
#   VM_VERBOSE  1 streams every kernel line too, not only the script's output
#   VM_EXPECT_SUITES  KUnit suites that must have run and passed (space separated)
#   VM_FILES    host files to copy into the guest's /guest/ (space separated), e.g. a
#               static workload binary
#   VM_QEMU_ARGS  extra QEMU arguments, split on spaces (NUMA nodes, a QMP socket, ...)
#   VM_PLUGIN   a TCG plugin and its arguments, as QEMU's -plugin takes them
#               (file=PATH.so,out=FILE,...; the benchmarks' benches/tcg-plugin/)
source "$(dirname "$0")/lib.sh"

: "${KDIR:?KDIR must name a built kernel tree (make vm-run sets it)}"
: "${GUEST:?GUEST must name a script to run in the guest, e.g. make vm-run GUEST=tests/vm/foundation.sh}"
[ -f "$GUEST" ] || die "GUEST=$GUEST: no such file"
VM_MEM=${VM_MEM:-1G}
VM_CPUS=${VM_CPUS:-2}
VM_TIMEOUT=${VM_TIMEOUT:-300}

arch=$(tree_arch "$KDIR")
[ "$(kernel_arch)" = "$arch" ] ||
	die "KDIR=$KDIR is a kernel for $arch, but ARCH=${ARCH:-x86_64}: make vm-run ARCH=$arch, or another KDIR"
case "$arch" in
x86_64)
	image=$KDIR/arch/x86/boot/bzImage
	qemu=qemu-system-x86_64
	# /init runs before the host's root is mounted, so busybox must be static (ldd
	# fails on a static executable).
	busybox=/bin/busybox
	[ -x "$busybox" ] && ! ldd "$busybox" >/dev/null 2>&1 ||
		die "static busybox is missing: run 'make setup' (busybox-static)"
	host_root=y
	# acpi=noirq: the 9p device's interrupt comes from the PCI routing table, not an ACPI
	# interrupt link, whose set-up took 24 s of a debug kernel's (lockdep, KASAN) boot.
	console_args="console=ttyS0 acpi=noirq"
	# RDRAND, as on every x86 CPU since 2012: the kernel seeds its random number
	# generator from it at boot. Without a source of entropy the generator never becomes
	# ready, and each random number 6.12's DAMON draws (a sampling address per region per
	# sample) runs the entropy extraction instead of the per-CPU batch: 10 times the
	# instructions per sample of a real machine (Documentation/accuracy-and-cost.md).
	machine_args=(-cpu qemu64,+rdrand)
	;;
arm64)
	image=$KDIR/arch/arm64/boot/Image
	qemu=qemu-system-aarch64
	busybox=$ARM64_BUSYBOX
	[ -x "$busybox" ] || die "the arm64 busybox is missing: run 'make setup'"
	host_root=n
	console_args="console=ttyAMA0"
	# pauth-impdef: QEMU's own pointer authentication algorithm instead of QARMA, far
	# cheaper to emulate (here the KUnit suite's 1000-region refresh took 0.22 ms instead
	# of 1.2 ms, and foundation, monitoring and span 12 s instead of 19); the kernel signs
	# and checks return addresses all the same. BTI is part of -cpu max and enforced on
	# the kernel's text. -cpu max has RNDR, which seeds the random number generator as
	# RDRAND does on x86.
	machine_args=(-M virt -cpu max,pauth-impdef=on)
	;;
esac
[ -f "$image" ] || die "$image is missing: build the kernel first (make kernel ARCH=$arch)"
release=$(cat "$KDIR/include/config/kernel.release")
command -v "$qemu" >/dev/null || die "$qemu is missing: run 'make setup'"

work=$(mktemp -d "${TMPDIR:-/tmp}/damon_stat-vm.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{.rig/bin,.host,dev,proc,sys,tmp,run,guest/bin,lib/modules/"$release"/extra}
cp "$busybox" "$root/.rig/busybox"

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
for f in ${VM_FILES:-}; do
	[ -e "$f" ] || die "VM_FILES: $f: no such file"
	cp -r "$f" "$root/guest/"
done

if [ "$host_root" = y ]; then
	# Host tools on the guest's PATH (/guest/bin): a link to the host's file, seen through
	# 9p, or a copy where the guest would not see it.
	guest_tool() {
		local name=$1 path=$2
		[ -x "$path" ] || return 0
		case "$path" in
		"$CACHE_ROOT"/*) ln -s "$path" "$root/guest/bin/$name" ;;
		/tmp/* | /run/* | /dev/* | /proc/* | /sys/*) cp "$path" "$root/guest/bin/$name" ;;
		*) ln -s "$path" "$root/guest/bin/$name" ;;
		esac
	}
	# The cache holds damo's Python environment (its scripts name their interpreter by
	# absolute path), the exporter and Prometheus. Under the guest's own /tmp or /run
	# (DAMON_STAT_CACHE=/tmp/...) the guest binds the host's cache directory over the same
	# path, so those paths work there too.
	case "$CACHE_ROOT" in
	/tmp/* | /run/*) realpath -- "$CACHE_ROOT" >"$root/.rig/host-binds" ;;
	esac
	guest_tool damo "$DAMO"
	guest_tool damon-stat-exporter "$EXPORTER"
	guest_tool prometheus "$PROMETHEUS"

	# The host's top level as the guest sees it, laid out here rather than by the guest
	# (every command costs more there): the host's links (bin -> usr/bin, ...) as they are, a
	# mount point for each directory (listed for /init to bind from the 9p mount), and /lib
	# as links to the host's entries beside this kernel's module tree. /proc, /sys, /dev,
	# /tmp, /run and /guest are the guest's own.
	for entry in /*; do
		name=${entry#/}
		[ -e "$root/$name" ] || [ -L "$root/$name" ] && continue
		if [ -L "$entry" ]; then
			ln -s "$(readlink "$entry")" "$root/$name"
		elif [ -d "$entry" ]; then
			mkdir "$root/$name"
			echo "$name" >>"$root/.rig/host-dirs"
		fi
	done
	hostlib=/.host/lib
	[ -L /lib ] && hostlib=$(realpath /lib)
	for entry in /lib/*; do
		name=${entry#/lib/}
		[ "$name" = modules ] || ln -s "$hostlib/$name" "$root/lib/$name"
	done
fi

cat >"$root/init" <<'INIT'
#!/.rig/busybox sh
# The guest's PID 1: its own pseudo file systems, the host's root read-only, the script.
/.rig/busybox --install -s /.rig/bin
export PATH=/.rig/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=755 tmpfs /run
mount -t debugfs debugfs /sys/kernel/debug
mount -t tracefs tracefs /sys/kernel/tracing
ip link set lo up

# Only where the host's programs can run (not on arm64): vm-run.sh lists its directories.
if [ -f /.rig/host-dirs ]; then
	if ! mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 hostroot /.host; then
		echo "damon_stat-vm: cannot mount the host's root over 9p: the kernel needs" \
			"CONFIG_VIRTIO_PCI, CONFIG_NET_9P_VIRTIO and CONFIG_9P_FS"
		echo "damon_stat-vm: exit status 125"
		reboot -f
	fi
	while read -r name; do
		mount -o bind "/.host/$name" "/$name"
	done </.rig/host-dirs
	if [ -f /.rig/host-binds ]; then
		while read -r path; do
			mkdir -p "$path" && mount -o bind "/.host$path" "$path"
		done </.rig/host-binds
	fi
fi

export PATH=/.rig/bin:/guest/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/ TERM=dumb PYTHONDONTWRITEBYTECODE=1
echo "damon_stat-vm: guest up, running the script"
cd /guest
sh /guest/run.sh
status=$?
echo "damon_stat-vm: exit status $status"
sync
reboot -f
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initramfs.cpio.gz"

log=${VM_LOG:-$work/serial.log}
append="$console_args panic=-1 rdinit=/init ${CMDLINE:-}"
step "booting $release ($arch, TCG, $VM_CPUS CPUs, $VM_MEM) with $(basename "$GUEST")${CMDLINE:+, cmdline: $CMDLINE}"

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
[ -z "${VM_PLUGIN:-}" ] || qemu_extra_args+=(-plugin "$VM_PLUGIN")
set +e
host_root_args=()
[ "$host_root" = y ] &&
	host_root_args=(-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap)
timeout --kill-after=5 "$VM_TIMEOUT" "$qemu" "${machine_args[@]}" \
	-accel tcg -m "$VM_MEM" -smp "$VM_CPUS" \
	-kernel "$image" -initrd "$work/initramfs.cpio.gz" -append "$append" \
	"${host_root_args[@]}" -device virtio-rng-pci -nic none -display none -monitor none -serial stdio -no-reboot "${qemu_extra_args[@]}" </dev/null 2>&1 |
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
