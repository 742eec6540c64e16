# SPDX-License-Identifier: GPL-2.0
# Shared helpers for the rig scripts. Sourced, never run.

set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE_ROOT=${DAMON_STAT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/damon_stat}

# Pinned tool versions. Changing one changes the kernel cache key.
BINDGEN_VERSION=0.73.2
BINDGEN_ROOT=$CACHE_ROOT/tools/bindgen-$BINDGEN_VERSION
BINDGEN=$BINDGEN_ROOT/bin/bindgen
# fleet_venv: the fleet scenarios' Python (Debian's, with the pinned
# tests/fleet/requirements.txt). A function, not read when this file is sourced: the
# module's installed sources (make install-source, DKMS's build) have no tests/.
fleet_venv() {
	echo "$CACHE_ROOT/tools/fleet-venv-$(sha256sum <"$REPO_ROOT/tests/fleet/requirements.txt" | cut -c1-16)"
}

# damo, the DAMON user-space tool, for the guest tests: a venv of Debian's python3. It
# does not shape the kernel.
DAMO_VERSION=3.4.3
DAMO_ROOT=$CACHE_ROOT/tools/damo-$DAMO_VERSION
DAMO=$DAMO_ROOT/bin/damo

# Prometheus, for the exporter's end-to-end guest test: Debian's package unpacked into the
# cache rather than installed, so that setup starts no Prometheus service on the host.
PROMETHEUS_ROOT=$CACHE_ROOT/tools/prometheus
PROMETHEUS=$PROMETHEUS_ROOT/usr/bin/prometheus

# The exporter (tools/exporter), as cargo builds it for `cargo test`.
EXPORTER=${CARGO_TARGET_DIR:-$REPO_ROOT/target}/debug/damon-stat-exporter

# build_exporter: builds (or finds up to date) the exporter that guests run.
build_exporter() {
	command -v cargo >/dev/null || die "cargo is missing: install Rust (rustup or Debian's cargo)"
	# RUSTC, when set, names the kernel's rustc for the module build, not the host one.
	(cd "$REPO_ROOT" && env -u RUSTC cargo build --quiet -p damon-stat-exporter) ||
		die "cargo build -p damon-stat-exporter failed"
}

# The QEMU TCG plugin of the benchmarks (benches/tcg-plugin/): guest instructions per vCPU.
TCG_PLUGIN=${CARGO_TARGET_DIR:-$REPO_ROOT/target}/release/libdamon_stat_tcg_plugin.so

# build_tcg_plugin: builds (or finds up to date) the TCG plugin. Optimised: it runs on
# every translated block the guest executes.
build_tcg_plugin() {
	command -v cargo >/dev/null || die "cargo is missing: install Rust (rustup or Debian's cargo)"
	(cd "$REPO_ROOT" && env -u RUSTC cargo build --quiet --release -p damon-stat-tcg-plugin) ||
		die "cargo build -p damon-stat-tcg-plugin failed"
}

# The kernel is built with Debian's rustc (it ships rust-src); rustup's has none.
KERNEL_RUSTC=/usr/bin/rustc
KERNEL_RUSTDOC=/usr/bin/rustdoc

# kernel_arch: the architecture to build and boot for, from ARCH (default x86_64), in the
# kernel's spelling. Fails with a message for one the project does not support.
kernel_arch() {
	case "${ARCH:-x86_64}" in
	x86_64 | x86) echo x86_64 ;;
	arm64 | aarch64) echo arm64 ;;
	*) die "ARCH=$ARCH is not supported: use ARCH=x86_64 (the default) or ARCH=arm64" ;;
	esac
}

# x86_64_only WHAT: fails with a message when ARCH asks for another architecture.
x86_64_only() {
	[ "$(kernel_arch)" = x86_64 ] ||
		die "$1 is x86_64 only (ARCH=$ARCH): leave ARCH unset. On arm64: make check, make vm-tests ARCH=arm64"
}

# tree_arch KDIR: the architecture a configured kernel tree was built for.
tree_arch() {
	if grep -qx 'CONFIG_ARM64=y' "$1/.config"; then
		echo arm64
	else
		echo x86_64
	fi
}

# Arguments every kernel make call needs for architecture $1: Kconfig decides
# RUST_IS_AVAILABLE from them, so leaving any of them out silently drops CONFIG_RUST.
# Clang is a cross compiler for every target, so LLVM=1 needs no CROSS_COMPILE.
kernel_make_args() {
	printf '%s\n' "ARCH=$1" LLVM=1 "RUSTC=$KERNEL_RUSTC" "RUSTDOC=$KERNEL_RUSTDOC" \
		"HOSTRUSTC=$KERNEL_RUSTC" "BINDGEN=$BINDGEN" \
		CLIPPY_DRIVER=/usr/bin/clippy-driver
}

# Arguments of a make call that builds or installs the module against KDIR: those of
# kernel_make_args for KDIR's architecture, adapted to a tree someone else built (a
# distribution's headers, a fleet's kernel): LLVM=1 only if clang built it, RUSTC when
# the user names one, and the pinned bindgen only where 'make setup' installed it (else
# the PATH's, or /usr/local/bin's: apt runs package scripts, so DKMS's builds at a
# package's installation and on a kernel upgrade, with PATH=/usr/sbin:/usr/bin:/sbin:/bin
# (its DPkg::Path), and /usr/local/bin is where Debian 12 users put the bindgen that
# cargo installs).
module_make_args() {
	local kdir=$1 arg
	while IFS= read -r arg; do
		case "$arg" in
		LLVM=1) grep -qx 'CONFIG_CC_IS_CLANG=y' "$kdir/.config" || continue ;;
		RUSTC=*) [ -z "${RUSTC:-}" ] || arg=RUSTC=$RUSTC ;;
		BINDGEN=*)
			if [ -x "$BINDGEN" ]; then
				:
			elif ! command -v bindgen >/dev/null && [ -x /usr/local/bin/bindgen ]; then
				arg=BINDGEN=/usr/local/bin/bindgen
			else
				arg=BINDGEN=bindgen
			fi
			;;
		esac
		printf '%s\n' "$arg"
	done < <(kernel_make_args "$(tree_arch "$kdir")")
}

# check WHAT COMMAND...: runs COMMAND and prints "ok: WHAT" or "FAIL: WHAT", counting
# failures in CHECK_FAILURES for the script to act on once all its checks have run.
CHECK_FAILURES=0
check() {
	local what=$1
	shift
	if "$@"; then
		echo "ok: $what"
	else
		echo "FAIL: $what"
		CHECK_FAILURES=$((CHECK_FAILURES + 1))
	fi
}

die() {
	printf 'error: %s\n' "$*" >&2
	exit 1
}

note() {
	printf '%s\n' "$*" >&2
}

# Where the module is built (build-module.sh) for an architecture, as the test module
# (`make module KUNIT=1`: the KUnit suite compiled in) or not. Every build but the x86_64
# module users install (src/damon_stat.ko, built in the checkout) is made in a copy of
# the sources under build/, so that no build overwrites another or makes it rebuild:
# build/kunit (x86_64 test module), build/arm64, build/arm64-kunit.

# kunit_wanted: y when KUNIT asks for the test module, n when not; fails on other values.
kunit_wanted() {
	case "${KUNIT:-}" in
	1 | y) echo y ;;
	'' | 0 | n) echo n ;;
	*) die "KUNIT=$KUNIT: use KUNIT=1 for the test module (with its KUnit suite), or leave it unset." ;;
	esac
}

# module_build_dir ARCH y|n: the directory kbuild builds the module in (M=).
module_build_dir() {
	case "$1-$2" in
	x86_64-n) echo "$REPO_ROOT" ;;
	x86_64-y) echo "$REPO_ROOT/build/kunit" ;;
	*-n) echo "$REPO_ROOT/build/$1" ;;
	*-y) echo "$REPO_ROOT/build/$1-kunit" ;;
	esac
}

# module_ko [y|n]: the module built for ARCH (kernel_arch), the test module with y
# (default: from KUNIT).
module_ko() {
	local arch kunit
	arch=$(kernel_arch) && kunit=${1:-$(kunit_wanted)} || return 1
	echo "$(module_build_dir "$arch" "$kunit")/src/damon_stat.ko"
}

# The x86_64 test module (tests and checks that are x86_64 only name it).
KUNIT_MODULE=$(module_build_dir x86_64 y)/src/damon_stat.ko

# linked_build_dir ARCH y|n: where `make check` builds the linked-mode module (n) or test
# module (y) of ARCH against the linked flavour, apart from the kallsyms-mode builds.
linked_build_dir() {
	local dir=$REPO_ROOT/build/linked
	[ "$1" = x86_64 ] || dir=$REPO_ROOT/build/$1-linked
	[ "$2" = y ] && dir=$dir-kunit
	echo "$dir"
}

# copy_module_sources DEST: the sources kbuild needs, without build products. Unchanged
# files keep their times, so a build in DEST stays incremental.
copy_module_sources() {
	mkdir -p "$1"
	tar -C "$REPO_ROOT" --exclude='*.o' --exclude='*.ko' --exclude='.*.cmd' \
		--exclude='*.mod' --exclude='*.mod.c' --exclude=damon_bindings_generated.rs \
		-cf - Kbuild src bindings | tar -C "$1" -xf -
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

# private_apt_deb SUITE ARCH PACKAGE: prints the path of PACKAGE's .deb for ARCH from
# Debian's SUITE, kept in the cache and downloaded on first use through a private apt
# configuration under the cache (its own sources list, package lists and architecture):
# the system's apt sources, lists and dpkg architectures are neither read nor changed.
# Progress goes to standard error.
DEBIAN_MIRROR_URL=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
private_apt_deb() {
	local suite=$1 arch=$2 package=$3 apt deb
	# Architecture-independent packages keep the directory they had before arm64.
	apt=$CACHE_ROOT/apt-$suite
	[ "$arch" = all ] || apt=$apt-$arch
	deb=$(ls "$apt"/debs/"$package"_*.deb 2>/dev/null | tail -n 1 || true)
	if [ -n "$deb" ]; then
		echo "$deb"
		return 0
	fi
	mkdir -p "$apt"/lists/partial "$apt"/cache/archives/partial "$apt"/debs
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $DEBIAN_MIRROR_URL $suite main" \
		>"$apt/sources.list"
	local opts=(-o "Dir::Etc::sourcelist=$apt/sources.list" -o Dir::Etc::sourceparts=-
		-o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o APT::Get::List-Cleanup=0
		-o APT::Sandbox::User=root)
	[ "$arch" = all ] || opts+=(-o "APT::Architecture=$arch" -o "APT::Architectures=$arch")
	step "fetching the package list of $suite ($arch) (private apt configuration in $apt)"
	apt-get -qq "${opts[@]}" update >&2 ||
		die "apt-get update of $suite failed: is $DEBIAN_MIRROR_URL reachable? (set DEBIAN_MIRROR to use another mirror)"
	step "downloading $package ($arch) from $suite"
	# apt-get download writes into the current directory; a partial file is never renamed
	# into debs/, so an interrupted download is retried whole.
	rm -rf "$apt/download" && mkdir -p "$apt/download"
	(cd "$apt/download" && apt-get -qq "${opts[@]}" download "$package" >&2) ||
		die "apt-get download $package ($arch) from $suite failed"
	deb=$(ls "$apt"/download/"$package"_*.deb 2>/dev/null | tail -n 1 || true)
	[ -n "$deb" ] || die "apt-get download left no $package package in $apt/download"
	mv "$deb" "$apt/debs/" && rm -rf "$apt/download"
	echo "$apt/debs/${deb##*/}"
}

# The path of linux-source-7.3's package (about 170 MB) from trixie-backports.
upstream_source_deb() {
	private_apt_deb trixie-backports all linux-source-7.3
}

# The static busybox that arm64 guests run (the host's is x86): bookworm's busybox-static
# for arm64, unpacked into the cache by 'make setup'.
ARM64_BUSYBOX_ROOT=$CACHE_ROOT/tools/busybox-static-arm64
ARM64_BUSYBOX=$ARM64_BUSYBOX_ROOT/bin/busybox

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
