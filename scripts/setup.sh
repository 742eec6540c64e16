#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Installs what the rig needs and nothing else: Debian packages that are missing, and a
# pinned bindgen-cli and a pinned damo (for the guest tests) in the project's cache. A
# second run does nothing and says so.
source "$(dirname "$0")/lib.sh"

PACKAGES=(
	linux-source-6.12 rustc-web rust-web-src rust-web-clippy
	clang lld llvm libclang-dev
	systemd # systemd-analyze checks the exporter's unit (tools/exporter/tests/systemd_unit.rs)
	flex bison bc make libelf-dev libssl-dev cpio kmod xz-utils gzip
	qemu-system-x86 busybox-static python3 python3-venv dkms
	qemu-system-arm # qemu-system-aarch64, for ARCH=arm64 guests
	gcc libc6-dev gnuplot-nox
	stress-ng sqlite3 # programs that make compare runs in its guests
	debhelper dh-dkms help2man lintian fakeroot dpkg-dev # make deb
	mmdebstrap e2fsprogs rsync # make check-system: the Debian machine, its disk image, bindeb-pkg
)

missing=()
for pkg in "${PACKAGES[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] || missing+=("$pkg")
done

if [ ${#missing[@]} -gt 0 ]; then
	step "installing Debian packages: ${missing[*]}"
	if [ "$(id -u)" -ne 0 ]; then
		if command -v sudo >/dev/null 2>&1; then
			SUDO=sudo
		else
			die "missing packages: ${missing[*]}.
Run as root, or install them first:
  sudo apt-get update && sudo apt-get install --no-install-recommends ${missing[*]}"
		fi
	else
		SUDO=
	fi
	$SUDO apt-get update -qq || die "apt-get update failed; check your apt sources"
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null ||
		die "apt-get install failed for: ${missing[*]}.
rustc-web and rust-web-src come from bookworm-security; make sure it is in your apt sources."
	did_something=1
fi

[ -x "$KERNEL_RUSTC" ] || die "$KERNEL_RUSTC is missing: install Debian's rustc-web"
[ -d /usr/lib/rustlib/src/rust/library ] ||
	die "Rust standard library sources are missing: install Debian's rust-web-src"
[ -n "$(kernel_source_tarball)" ] ||
	die "/usr/src/linux-source-6.12.tar.xz is missing: install linux-source-6.12"

if [ ! -x "$BINDGEN" ]; then
	command -v cargo >/dev/null 2>&1 ||
		die "cargo is missing: install Rust with rustup (https://rustup.rs) or Debian's cargo"
	step "installing bindgen-cli $BINDGEN_VERSION into $BINDGEN_ROOT (about 2 minutes)"
	mkdir -p "$BINDGEN_ROOT"
	# libclang is loaded at run time (the default 'runtime' feature), from libclang-dev.
	cargo install --locked --quiet --root "$BINDGEN_ROOT" "bindgen-cli@$BINDGEN_VERSION" ||
		die "cargo install bindgen-cli@$BINDGEN_VERSION failed"
	did_something=1
fi

# pip writes the venv in place (its scripts name its own path), so a marker written last
# tells a complete install from an interrupted one.
if [ ! -f "$DAMO_ROOT/.installed" ]; then
	step "installing damo $DAMO_VERSION into $DAMO_ROOT"
	rm -rf "$DAMO_ROOT"
	/usr/bin/python3 -m venv "$DAMO_ROOT" ||
		die "python3 -m venv failed: install Debian's python3-venv"
	"$DAMO_ROOT/bin/pip" install --quiet --disable-pip-version-check "damo==$DAMO_VERSION" ||
		die "pip install damo==$DAMO_VERSION failed"
	touch "$DAMO_ROOT/.installed"
	did_something=1
fi

if [ ! -f "$PROMETHEUS_ROOT/.installed" ]; then
	step "unpacking Debian's prometheus into $PROMETHEUS_ROOT (not installed: no service starts)"
	rm -rf "$PROMETHEUS_ROOT"
	mkdir -p "$PROMETHEUS_ROOT/.deb"
	(cd "$PROMETHEUS_ROOT/.deb" && apt-get download -qq prometheus >/dev/null 2>&1) ||
		die "apt-get download prometheus failed: run 'apt-get update' as root, then 'make setup' again"
	dpkg-deb -x "$PROMETHEUS_ROOT"/.deb/prometheus_*.deb "$PROMETHEUS_ROOT"
	rm -rf "$PROMETHEUS_ROOT/.deb"
	[ -x "$PROMETHEUS" ] || die "Debian's prometheus package has no $PROMETHEUS"
	touch "$PROMETHEUS_ROOT/.installed"
	did_something=1
fi

# arm64 guests cannot run the host's (x86) programs: their initramfs carries bookworm's
# static busybox for arm64, downloaded through a private apt configuration (lib.sh) and
# unpacked here, never installed (no dpkg --add-architecture).
if [ ! -f "$ARM64_BUSYBOX_ROOT/.installed" ]; then
	step "unpacking bookworm's busybox-static for arm64 into $ARM64_BUSYBOX_ROOT"
	deb=$(private_apt_deb bookworm arm64 busybox-static) || exit 1
	rm -rf "$ARM64_BUSYBOX_ROOT" && mkdir -p "$ARM64_BUSYBOX_ROOT/.deb"
	dpkg-deb -x "$deb" "$ARM64_BUSYBOX_ROOT/.deb"
	mkdir -p "$ARM64_BUSYBOX_ROOT/bin"
	mv "$ARM64_BUSYBOX_ROOT/.deb/bin/busybox" "$ARM64_BUSYBOX"
	rm -rf "$ARM64_BUSYBOX_ROOT/.deb"
	file_type=$(od -An -tx1 -j18 -N2 "$ARM64_BUSYBOX" | tr -d ' ')
	# e_machine 0xb7 (EM_AARCH64), little-endian.
	[ "$file_type" = b700 ] || die "$deb holds no arm64 busybox (ELF machine $file_type)"
	touch "$ARM64_BUSYBOX_ROOT/.installed"
	did_something=1
fi

# A stamp marks a complete install: an interrupted one is redone from scratch.
FLEET_VENV=$(fleet_venv)
if [ ! -f "$FLEET_VENV/installed" ]; then
	step "installing the fleet scenarios' Python packages (tests/fleet/requirements.txt) into $FLEET_VENV"
	rm -rf "$FLEET_VENV"
	/usr/bin/python3 -m venv "$FLEET_VENV" &&
		"$FLEET_VENV/bin/pip" install --quiet --disable-pip-version-check --require-hashes \
			-r "$REPO_ROOT/tests/fleet/requirements.txt" ||
		die "installing tests/fleet/requirements.txt failed (is PyPI reachable?)"
	touch "$FLEET_VENV/installed"
	did_something=1
fi

if [ -n "${did_something:-}" ]; then
	step "set-up done"
else
	step "set-up: everything is already installed, nothing to do"
fi
