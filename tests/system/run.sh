#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check-system`: a Debian 12 machine set up as a user's, under QEMU, that installs
# damon_stat from its packages.
#
# On the host (native speed): the test kernel as linux-image and linux-headers packages
# (kernel-debs.sh, twice: its release and a second one), a Debian 12 root from mmdebstrap
# (base-root.sh; both cached, keyed by what goes into them), and the project's packages
# (make deb). In a chroot of that root, apt-get installs the first kernel, then both
# packages (DKMS builds the module and signs it with the key the kernel trusts, in DKMS's
# own key location), then the second kernel (DKMS builds for it from its kernel hook, as
# on an upgrade). /etc gets what an administrator adds: options damon_stat enabled=Y in
# modprobe.d, damon_stat in modules-load.d, the exporter and node_exporter as Prometheus
# jobs. The root becomes an ext4 disk image (mkfs.ext4 -d).
#
# Then three boots of that disk, virtio, systemd as PID 1, module.sig_enforce=1, each
# running guest-check.sh (from damon-stat-system-check.service): the first kernel; the
# second kernel (the reboot after the upgrade), which ends with apt-get remove and purge
# of both packages; the first kernel again, with no damon_stat. A boot fails on a FAIL
# line, a missing end line, a timeout or a kernel failure report in its serial log.
#
# Needs root (chroot, mounts in a private namespace). Environment: SYSTEM_TIMEOUT
# (seconds per boot, default 900), SYSTEM_OUT (default target/check-system: serial logs,
# the install log; the disk image is removed after a passing run).
source "$(dirname "$0")/../../scripts/lib.sh"
x86_64_only "make check-system"
cd "$REPO_ROOT"
[ "$(id -u)" -eq 0 ] ||
	die "make check-system installs packages in a chroot and mounts file systems: run it as root"
for tool in mmdebstrap mkfs.ext4 qemu-system-x86_64 dpkg-deb unshare rsync; do
	command -v "$tool" >/dev/null || die "$tool is missing: run 'make setup'"
done
[ -x "$BINDGEN" ] || die "bindgen is missing at $BINDGEN: run 'make setup'"
timeout_s=${SYSTEM_TIMEOUT:-900}
[[ "$timeout_s" =~ ^[1-9][0-9]*$ ]] || die "SYSTEM_TIMEOUT=$timeout_s: give seconds, e.g. 900"
out=${SYSTEM_OUT:-$REPO_ROOT/target/check-system}
STEP_START=$(date +%s)

kdir=$("$REPO_ROOT/scripts/build-kernel.sh" test)
release=$(<"$kdir/include/config/kernel.release")
upgrade=$release-2
cache=$CACHE_ROOT/system

# What systemd (252, Debian 12's) asks of the kernel, from its README's REQUIREMENTS, and
# what the exporter's sandbox uses: namespaces (PrivateTmp=, PrivateNetwork=, ...),
# seccomp (SystemCallFilter=), cgroup BPF (IPAddressDeny=), memory cgroups.
missing=()
for option in DEVTMPFS CGROUPS INOTIFY_USER SIGNALFD TIMERFD EPOLL UNIX SYSFS PROC_FS FHANDLE \
	DMIID AUTOFS_FS TMPFS_POSIX_ACL TMPFS_XATTR NAMESPACES NET_NS USER_NS PID_NS \
	SECCOMP SECCOMP_FILTER CGROUP_BPF BPF_SYSCALL MEMCG VIRTIO_BLK EXT4_FS MODULE_SIG; do
	grep -qx "CONFIG_$option=y" "$kdir/.config" || missing+=("CONFIG_$option=y")
done
for option in SYSFS_DEPRECATED FW_LOADER_USER_HELPER; do
	! grep -qx "CONFIG_$option=y" "$kdir/.config" || missing+=("CONFIG_$option off")
done
! grep -q '^CONFIG_UEVENT_HELPER_PATH="..*"' "$kdir/.config" || missing+=('CONFIG_UEVENT_HELPER_PATH=""')
[ "${#missing[@]}" -eq 0 ] ||
	die "the test kernel lacks what systemd and the machine need: ${missing[*]} (kernel/test.config)"

# The kernel packages, keyed by the test kernel's cache entry and the packaging script.
kernel_debs=$cache/kernel-$(basename "$(dirname "$kdir")")-$(sha256_of_stdin <tests/system/kernel-debs.sh)
if [ ! -f "$kernel_debs/complete" ]; then
	rm -rf "$cache"/kernel-*
	tests/system/kernel-debs.sh "$kdir" "$kernel_debs"
	touch "$kernel_debs/complete"
fi
step "kernel packages: $kernel_debs"

# The Debian root, keyed by its script (the package list) and the host's rustc-web: the
# machine's rustc must be the one that built the kernel, and both come from the same
# archive.
host_rustc=$("$KERNEL_RUSTC" --version)
root_tar=$cache/root-$({
	cat tests/system/base-root.sh
	echo "$host_rustc ${DEBIAN_MIRROR:-} ${DEBIAN_SECURITY_MIRROR:-}"
} | sha256_of_stdin).tar
if [ ! -f "$root_tar" ]; then
	rm -f "$cache"/root-*.tar
	mkdir -p "$cache"
	tests/system/base-root.sh "$root_tar"
fi
step "Debian 12 root: $root_tar"

"$REPO_ROOT/scripts/deb.sh"
project_debs=("$REPO_ROOT"/target/deb/damon-stat-dkms_*_all.deb "$REPO_ROOT"/target/deb/damon-stat-exporter_*.deb)

mkdir -p "$out"
work=$out/work
rm -rf "$work" && mkdir -p "$work"
root=$work/root
step "unpacking the root into $root"
mkdir -p "$root" && tar -C "$root" -xf "$root_tar"
stage=/var/tmp/damon-stat-check
mkdir -p "$root$stage"
cp -t "$root$stage" "$kernel_debs"/*.deb "${project_debs[@]}"
# Debian 12 has no bindgen new enough for 6.12: as README tells its users, one installed
# with cargo, in /usr/local/bin.
install -m755 "$BINDGEN" "$root/usr/local/bin/bindgen"
# DKMS signs with /var/lib/dkms/mok.key and mok.pub, where a Secure Boot machine keeps
# the key it enrolled; here the test kernel's own key, which it trusts.
install -m600 "$kernel_debs/signing_key.pem" "$root/var/lib/dkms/mok.key"
install -m644 "$kernel_debs/signing_key.x509" "$root/var/lib/dkms/mok.pub"

# in_root SCRIPT: runs SCRIPT with bash in the root, with /proc, /sys and /dev mounted in
# a mount namespace of its own (gone when it ends).
in_root() {
	unshare --mount --propagation private -- bash -euo pipefail -c '
		root=$1 script=$2
		mount -t proc proc "$root/proc"
		mount -t sysfs sysfs "$root/sys"
		mount --rbind /dev "$root/dev"
		exec chroot "$root" /usr/bin/env -i HOME=/root LC_ALL=C.UTF-8 \
			PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
			DEBIAN_FRONTEND=noninteractive bash -euo pipefail -c "$script"' \
		in_root "$root" "$1"
}

install_log=$out/install.log
step "in the root: apt-get install the kernel $release, then damon-stat-dkms and damon-stat-exporter (DKMS builds and signs; log: $install_log)"
in_root "
cd $stage
apt-get install -y -q ./linux-image-${release}_*.deb ./linux-headers-${release}_*.deb
rustc --version | grep -qxF '$host_rustc' ||
	{ echo \"the machine's rustc is \$(rustc --version), the kernel's '$host_rustc'\"; exit 1; }
apt-get install -y -q ./damon-stat-dkms_*.deb ./damon-stat-exporter_*.deb
dkms status damon_stat
echo '--- upgrade: the kernel $upgrade'
apt-get install -y -q ./linux-image-${upgrade}_*.deb ./linux-headers-${upgrade}_*.deb
dkms status damon_stat
" >"$install_log" 2>&1 || {
	tail -n 40 "$install_log" >&2
	for log in "$root"/var/lib/dkms/damon_stat/*/*/*/log/make.log; do
		[ ! -f "$log" ] || { echo "--- $log" >&2; tail -n 20 "$log" >&2; }
	done
	die "installing in the root failed (the end of $install_log above)"
}
for k in "$release" "$upgrade"; do
	grep -q "^damon_stat/[^,]*, $k, x86_64: installed" "$install_log" ||
		die "DKMS did not install damon_stat for $k (see $install_log)"
done
step "DKMS built and installed damon_stat for $release and for $upgrade"
rm -rf "${root:?}$stage"

# What the administrator adds.
echo 'options damon_stat enabled=Y' >"$root/etc/modprobe.d/damon_stat.conf"
echo damon_stat >"$root/etc/modules-load.d/damon_stat.conf"
cat >"$root/etc/prometheus/prometheus.yml" <<'EOF'
global:
  scrape_interval: 2s
  evaluation_interval: 2s
scrape_configs:
  - job_name: damon_stat
    static_configs:
      - targets: ['127.0.0.1:9816']
  - job_name: node
    static_configs:
      - targets: ['127.0.0.1:9100']
EOF
echo '/dev/vda / ext4 defaults 0 1' >"$root/etc/fstab"
echo damon-stat-check >"$root/etc/hostname"
# Not a first boot: systemd-firstboot would ask for a locale and a time zone.
printf '%s\n' 5c0d1a3e7f2b4c6d8e9f0a1b2c3d4e5f >"$root/etc/machine-id"
install -D -m755 tests/system/guest-check.sh "$root/usr/local/lib/damon-stat-check/check.sh"
install -m644 tests/vm/lib.sh "$root/usr/local/lib/damon-stat-check/lib.sh"
install -m644 tests/system/damon-stat-system-check.service "$root/etc/systemd/system/"
ln -s ../damon-stat-system-check.service \
	"$root/etc/systemd/system/multi-user.target.wants/damon-stat-system-check.service"

image=$work/disk.img
step "the disk image: mkfs.ext4 -d (root $(du -sh "$root" | cut -f1))"
mkfs.ext4 -q -F -L root -d "$root" "$image" 6G
cp "$root/boot/vmlinuz-$release" "$root/boot/vmlinuz-$upgrade" "$work/"
rm -rf "$root"

# boot PHASE KERNEL: boots the disk with KERNEL, its checks for PHASE, to the power-off.
boot() {
	local phase=$1 kernel=$2 log=$out/serial-$1.log rc=0 failures
	step "boot '$phase': $kernel, systemd (serial log: $log)"
	timeout --foreground "$timeout_s" qemu-system-x86_64 -nographic -no-reboot -nic none \
		-cpu qemu64,+rdrand -smp 2 -m 2G -kernel "$work/vmlinuz-$kernel" \
		-append "console=ttyS0 acpi=noirq root=/dev/vda rw module.sig_enforce=1 damon_stat_check.phase=$phase" \
		-drive file="$image",format=raw,if=virtio </dev/null >"$log" 2>&1 || rc=$?
	# What guest-check.sh printed, as the journal puts it on the console.
	tr -d '\r' <"$log" | sed -n 's/^.*check\.sh\[[0-9]*\]: //p' >"$log.checks"
	sed 's/^/    /' "$log.checks" >&2
	[ "$rc" -ne 124 ] || die "boot '$phase' did not power off within ${timeout_s}s (see $log)"
	failures=$(sed -n "s/^SYSTEM-CHECK-DONE $phase \([0-9]*\)$/\1/p" "$log.checks")
	[ -n "$failures" ] || die "boot '$phase' ended without its checks' last line (see $log)"
	[ "$failures" -eq 0 ] || die "boot '$phase': $failures check(s) failed (see $log)"
	python3 "$REPO_ROOT/scripts/check-vm-log.py" "$log" >/dev/null ||
		die "boot '$phase': the kernel reported a failure (see $log)"
}

boot first "$release"
boot upgraded "$upgrade"
boot removed "$release"
rm -rf "$work"
step "make check-system: all passed"
