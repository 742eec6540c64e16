# SPDX-License-Identifier: GPL-2.0
# Shared helpers for the rig scripts. Sourced, never run.

set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE_ROOT=${DAMON_STAT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/damon_stat}

# Pinned tool versions. Changing one changes the kernel cache key.
BINDGEN_VERSION=0.73.2
BINDGEN_ROOT=$CACHE_ROOT/tools/bindgen-$BINDGEN_VERSION
BINDGEN=$BINDGEN_ROOT/bin/bindgen

# The kernel is built with Debian's rustc (it ships rust-src); rustup's has none.
KERNEL_RUSTC=/usr/bin/rustc
KERNEL_RUSTDOC=/usr/bin/rustdoc

# Arguments every kernel make call needs: Kconfig decides RUST_IS_AVAILABLE from
# them, so leaving any of them out silently drops CONFIG_RUST.
kernel_make_args() {
	printf '%s\n' ARCH=x86_64 LLVM=1 "RUSTC=$KERNEL_RUSTC" "RUSTDOC=$KERNEL_RUSTDOC" \
		"HOSTRUSTC=$KERNEL_RUSTC" "BINDGEN=$BINDGEN" \
		CLIPPY_DRIVER=/usr/bin/clippy-driver
}

# Arguments of a make call that builds or installs the module against KDIR: those of
# kernel_make_args, adapted to a tree someone else built (a distribution's headers, a
# fleet's kernel): LLVM=1 only if clang built it, RUSTC when the user names one, and the
# pinned bindgen only where 'make setup' installed it (else the PATH's).
module_make_args() {
	local kdir=$1 arg
	while IFS= read -r arg; do
		case "$arg" in
		LLVM=1) grep -qx 'CONFIG_CC_IS_CLANG=y' "$kdir/.config" || continue ;;
		RUSTC=*) [ -z "${RUSTC:-}" ] || arg=RUSTC=$RUSTC ;;
		BINDGEN=*) [ -x "$BINDGEN" ] || arg=BINDGEN=bindgen ;;
		esac
		printf '%s\n' "$arg"
	done < <(kernel_make_args)
}

die() {
	printf 'error: %s\n' "$*" >&2
	exit 1
}

note() {
	printf '%s\n' "$*" >&2
}

# step NAME: prints a numbered progress line with the time since the script began.
STEP_START=$(date +%s)
step() {
	local now
	now=$(date +%s)
	printf '==> [%4ss] %s\n' "$((now - STEP_START))" "$*" >&2
}

# The version of linux-source-6.12 that apt installed, e.g. 6.12.117-1~deb12u1.
kernel_source_version() {
	dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null || true
}

kernel_source_tarball() {
	ls /usr/src/linux-source-6.12.tar.xz 2>/dev/null || true
}

# Versions of everything that shapes the built kernel, one per line.
toolchain_fingerprint() {
	"$KERNEL_RUSTC" --version
	"$BINDGEN" --version 2>/dev/null || echo "bindgen missing"
	clang --version | head -n 1
	ld.lld --version | head -n 1
}

sha256_of_stdin() {
	sha256sum | cut -c1-16
}
