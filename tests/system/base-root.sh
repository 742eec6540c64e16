#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The Debian 12 root of make check-system's machine, as a tarball: mmdebstrap from
# Debian's registry with systemd, DKMS with what damon_stat's DKMS build needs (the
# dependencies of damon-stat-dkms, which apt would install with it: listed here so that
# the root is built and cached once, and the machine's apt needs no network), Prometheus
# and node_exporter. Nothing of the project is in it; run.sh installs the packages.
#
# Usage: base-root.sh OUT.tar
source "$(dirname "$0")/../../scripts/lib.sh"

out=${1:?usage: base-root.sh OUT.tar}
packages=(
	# A machine that boots with systemd, as Debian installs one (minus a boot loader and
	# an initramfs: QEMU loads the kernel, whose disk and file system drivers are
	# built in).
	systemd-sysv udev dbus kmod procps iproute2 less
	# damon-stat-dkms' dependencies (debian/control).
	dkms make python3 rustc-web clang lld llvm libclang-dev
	# What the headers' host programs link against: objtool (libelf) and sign-file
	# (libcrypto), which Debian's own headers get through linux-kbuild.
	libelf1 libssl3
	# Scraping the exporter, and its textfile mode.
	prometheus prometheus-node-exporter curl
)
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
rm -f "$out.tmp"
step "mmdebstrap: a Debian 12 root with ${#packages[@]} packages and their dependencies"
include=$(printf '%s,' "${packages[@]}")
mmdebstrap --variant=apt --format=tar --include="${include%,}" --aptopt='APT::Install-Recommends "false"' \
	bookworm "$out.tmp" \
	"deb $mirror bookworm main" "deb $mirror bookworm-updates main" \
	"deb $security bookworm-security main" >"$out.log" 2>&1 || {
	tail -n 30 "$out.log" >&2
	die "mmdebstrap failed (the end of $out.log above): is $mirror reachable? (DEBIAN_MIRROR sets another)"
}
mv "$out.tmp" "$out"
