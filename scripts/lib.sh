# SPDX-License-Identifier: GPL-2.0
# Shared helpers for the rig scripts. Sourced, never run.

set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE_ROOT=${DAMON_STAT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/damon_stat}

# Pinned tool versions. Changing one changes the kernel cache key.
BINDGEN_VERSION=0.73.2
BINDGEN_ROOT=$CACHE_ROOT/tools/bindgen-$BINDGEN_VERSION
BINDGEN=$BINDGEN_ROOT/bin/bindgen
# The fleet scenarios' Python (Debian's, with the pinned tests/fleet/requirements.txt).
FLEET_VENV=$CACHE_ROOT/tools/fleet-venv-$(sha256sum <"$REPO_ROOT/tests/fleet/requirements.txt" | cut -c1-16)

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

die() {
	printf 'error: %s\n' "$*" >&2
	exit 1
}

note() {
	printf '%s\n' "$*" >&2
}

# step NAME: prints a numbered progress line with the time since the script began.
# The test build of the module (`make module KUNIT=1`: the KUnit suite compiled in) is
# made in a copy of the sources, so that the module users install (src/damon_stat.ko)
# and the test module never overwrite each other.
KUNIT_BUILD_DIR=$REPO_ROOT/build/kunit
KUNIT_MODULE=$KUNIT_BUILD_DIR/src/damon_stat.ko

# copy_module_sources DEST: the sources kbuild needs, without build products. Unchanged
# files keep their times, so a build in DEST stays incremental.
copy_module_sources() {
	mkdir -p "$1"
	tar -C "$REPO_ROOT" --exclude='*.o' --exclude='*.ko' --exclude='.*.cmd' \
		--exclude='*.mod' --exclude='*.mod.c' --exclude=damon_bindings_generated.rs \
		-cf - Kbuild src bindings | tar -C "$1" -xf -
}

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
