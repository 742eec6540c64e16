#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Builds a kernel and caches the built tree outside the checkout. Prints the tree's path
# (the KDIR to build the module against, or to boot) on standard output; progress goes to
# standard error.
#
# Flavours (each on top of tinyconfig + kernel/test.config + kernel/<arch>.config):
#   test      Debian's linux-source-6.12, LLVM=1 with Debian's rustc: what the module needs.
#   debug     the same plus kernel/debug.config (KASAN, kmemleak, lockdep).
#   linked    the test kernel with patches/linux-6.12-export-damon.patch applied: it exports
#             the DAMON functions, so the module builds in its linked mode (no kallsyms,
#             no kprobe; see README, "Kernels with indirect branch tracking").
#   upstream  Debian's linux-source-7.3 from trixie-backports (fetched through a private
#             apt configuration in the cache, never the system's sources), built with gcc
#             (7.3 wants clang >= 17; bookworm has 14), C only, with the built-in upstream
#             DAMON_STAT: the reference that `make compare` measures damon_stat against.
#             x86_64 only.
#
# KERNEL_SHAPE (benchmarks only): names of fragments in benches/kernel-shape/ applied
# last, each undoing one part of the distribution kernels' shape (test.config), to
# measure what that part costs (benches/kernel-shape.sh). The tree is named
# FLAVOUR+NAME+..., so the flavours' own trees stay cached.
#
# KERNEL_PATCHES (benchmarks only): patches, by path from the top of the checkout, applied
# after the flavour's own, to measure what one change to the kernel does (e.g.
# benches/reading-moment.sh). The tree is named FLAVOUR+NAME+... and is built from a copy
# of the flavour's cached tree, as the linked flavour is.
#
# Architectures (ARCH, default x86_64): x86_64, arm64 (cross-built with the same clang
# and rustc; see kernel/arm64.config).
#
# The cache key hashes everything the built tree depends on: the kernel source package
# version, the config fragments, any patches, the toolchain versions and the recipe
# version below. Unchanged inputs mean no rebuild. A build happens in a temporary
# directory that is renamed into place only once complete, under a lock, so neither a
# half-finished build nor a concurrent run can leave a broken tree behind.
#
# Usage: [ARCH=x86_64|arm64] build-kernel.sh [test|debug|linked|upstream]
source "$(dirname "$0")/lib.sh"

# Bump when the build procedure below changes in a way that changes the result.
RECIPE_VERSION=1

flavor=${1:-${KERNEL_FLAVOR:-test}}
arch=$(kernel_arch) || exit 1
fragments=("$REPO_ROOT/kernel/test.config" "$REPO_ROOT/kernel/$arch.config")
patches=()
case "$flavor" in
test) ;;
debug) fragments+=("$REPO_ROOT/kernel/debug.config") ;;
linked) patches=("$REPO_ROOT/patches/linux-6.12-export-damon.patch") ;;
upstream)
	[ "$arch" = x86_64 ] || die "the upstream flavour is built for x86_64 only (ARCH=$arch)"
	fragments+=("$REPO_ROOT/kernel/upstream.config")
	;;
*) die "unknown kernel flavour '$flavor' (use test, debug, linked or upstream)" ;;
esac
tree_flavor=$flavor
for shape in ${KERNEL_SHAPE:-}; do
	[ -f "$REPO_ROOT/benches/kernel-shape/$shape.config" ] ||
		die "KERNEL_SHAPE: no benches/kernel-shape/$shape.config (there: $(cd "$REPO_ROOT/benches/kernel-shape" && echo *.config))"
	fragments+=("$REPO_ROOT/benches/kernel-shape/$shape.config")
	tree_flavor=$tree_flavor+$shape
done
for p in ${KERNEL_PATCHES:-}; do
	[ -f "$REPO_ROOT/$p" ] || die "KERNEL_PATCHES: no $p in the checkout"
	patches+=("$REPO_ROOT/$p")
	patch_name=${p##*/}
	tree_flavor=$tree_flavor+${patch_name%.patch}
done
for f in "${fragments[@]}" "${patches[@]}"; do
	[ -f "$f" ] || die "missing $f"
done

# The upstream kernel is C only: test.config without its Rust and KUnit lines (kept in
# one place, so that the test kernel's other options follow it), and without voluntary
# preemption, which 7.3 has no more on x86 (upstream.config asks for lazy preemption,
# as distribution kernels of 7.x have it).
c_only_fragment() {
	grep -v -E '^(# )?CONFIG_(RUST|KUNIT|[A-Z0-9_]*_KUNIT_TEST|PREEMPT_VOLUNTARY)[ =_]' "$1"
}
fragment_text() {
	local f
	for f in "${fragments[@]}"; do
		if [ "$flavor" = upstream ] && [ "$f" = "$REPO_ROOT/kernel/test.config" ]; then
			c_only_fragment "$f"
		else
			cat "$f"
		fi
	done
}

if [ "$flavor" = upstream ]; then
	source_name=linux-source-7.3
	command -v gcc >/dev/null || die "gcc is missing: run 'make setup'"
	deb=$(upstream_source_deb) || exit 1
	srcver=$(dpkg-deb -f "$deb" Version)
	fingerprint() { gcc --version | head -n 1; ld --version | head -n 1; }
	make_args=(ARCH=x86_64 CC=gcc HOSTCC=gcc)
else
	source_name=linux-source-6.12
	tarball=$(kernel_source_tarball)
	[ -n "$tarball" ] || die "linux-source-6.12 is not installed: run 'make setup' first"
	[ -x "$BINDGEN" ] || die "bindgen is not installed in $BINDGEN_ROOT: run 'make setup' first"
	[ -x "$KERNEL_RUSTC" ] || die "$KERNEL_RUSTC is missing: run 'make setup' first"
	srcver=$(kernel_source_version)
	fingerprint() { toolchain_fingerprint; }
	mapfile -t make_args < <(kernel_make_args "$arch")
fi

key=$({
	echo "recipe $RECIPE_VERSION"
	echo "arch $arch"
	echo "$source_name $srcver"
	fingerprint
	fragment_text
	[ ${#patches[@]} -eq 0 ] || cat "${patches[@]}"
} | sha256_of_stdin)

kernel_cache=$CACHE_ROOT/kernel
name=$tree_flavor-$arch-${srcver%%-*}-$key
final=$kernel_cache/$name
kdir=$final/linux

if [ -f "$final/.built" ]; then
	step "kernel ($flavor): cached at $final"
	echo "$kdir"
	exit 0
fi

mkdir -p "$kernel_cache"
exec 9>"$kernel_cache/.lock-$name"
if ! flock -n 9; then
	step "kernel ($flavor): another run is building it; waiting for its lock"
	flock 9
fi
if [ -f "$final/.built" ]; then
	step "kernel ($flavor): built by the other run, cached at $final"
	echo "$kdir"
	exit 0
fi

# The linked flavour is the test kernel plus a patch to one C file: it starts from a copy
# of the cached test tree (built first if missing), and kbuild rebuilds only what the
# patch reaches (mm/damon/core.o, vmlinux's link, Module.symvers): about a minute, not
# five. Its cache key is still its own (the patch is part of it). KERNEL_PATCHES trees
# start from their flavour's tree in the same way.
base_kdir=
if [ "$flavor" = linked ]; then
	base_kdir=$(ARCH=$arch KERNEL_SHAPE= KERNEL_PATCHES= "$REPO_ROOT/scripts/build-kernel.sh" test)
elif [ -n "${KERNEL_PATCHES:-}" ]; then
	base_kdir=$(ARCH=$arch KERNEL_PATCHES= "$REPO_ROOT/scripts/build-kernel.sh" "$flavor")
fi

tmp=$kernel_cache/.tmp-$name-$$
rm -rf "$tmp" "$final"
# Leftovers of interrupted builds of this key are ours to remove: we hold its lock. Those
# of other keys go when the run that made them is gone.
rm -rf "$kernel_cache/.tmp-$name-"*
for stale in "$kernel_cache"/.tmp-*; do
	[ -d "$stale" ] && ! kill -0 "${stale##*-}" 2>/dev/null && rm -rf "$stale"
done
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

fragment_text >"$tmp/fragment.config"
if [ -n "$base_kdir" ]; then
	step "kernel ($tree_flavor): copying the built tree $base_kdir (key $key)"
	cp -a "$base_kdir" "$tmp/linux"
	cmp -s "$base_kdir/../fragment.config" "$tmp/fragment.config" ||
		die "the tree at $base_kdir was configured from other fragments"
else
	step "kernel ($flavor): extracting $source_name $srcver (key $key)"
	if [ "$flavor" = upstream ]; then
		# The package holds the source as a tarball: unpack the package, then the tarball.
		dpkg-deb -x "$deb" "$tmp/deb"
		tar -xf "$tmp/deb/usr/src/$source_name.tar.xz" -C "$tmp"
		rm -rf "$tmp/deb"
	else
		tar -xf "$tarball" -C "$tmp"
	fi
	mv "$tmp/$source_name" "$tmp/linux"
fi
cd "$tmp/linux"

for p in "${patches[@]}"; do
	step "applying $(basename "$p")"
	patch -p1 --quiet <"$p" || die "patch $p does not apply to $source_name $srcver"
done

configure() {
	step "configuring ($arch): tinyconfig + ${fragments[*]##*/}"
	make -s "${make_args[@]}" tinyconfig >/dev/null
	scripts/kconfig/merge_config.sh -m -O . .config "$tmp/fragment.config" >/dev/null
	make -s "${make_args[@]}" olddefconfig >/dev/null

	# olddefconfig silently drops options whose dependencies are unmet: check every line.
	# A later fragment's line for an option overrides an earlier one (KERNEL_SHAPE).
	missing=()
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=*)
			grep -qxF "$line" .config || missing+=("$line")
			;;
		"# CONFIG_"*" is not set")
			opt=${line#\# }
			opt=${opt%% *}
			grep -q "^$opt=" .config && missing+=("$line")
			;;
		esac
	done < <(sed -n -e 's/^\(CONFIG_[A-Z0-9_]*\)=.*/\1 &/p' -e 's/^# \(CONFIG_[A-Z0-9_]*\) is not set$/\1 &/p' \
		"$tmp/fragment.config" | awk '{ opt = $1; sub(/^[^ ]* /, ""); last[opt] = $0; order[opt] = NR }
			END { for (o in last) print order[o] "\t" last[o] }' | sort -n | cut -f2-)
	if [ ${#missing[@]} -gt 0 ]; then
		{
			echo "error: these options of the fragment are not in the final .config:"
			printf '  %s\n' "${missing[@]}"
			echo "Their dependencies are unmet. For CONFIG_RUST check 'make rustavailable' with"
			echo "RUSTC=$KERNEL_RUSTC; for others add what they depend on to the fragment."
		} >&2
		exit 1
	fi
}
# A copied tree is configured already, from the same fragments (checked above).
[ -n "$base_kdir" ] || configure

if [ -n "$base_kdir" ]; then
	step "building the kernel with $(nproc) jobs (what the patch reaches, in the copied tree: about 1 minute)"
else
	step "building the kernel with $(nproc) jobs (on 2 idle cores: about 5 minutes, the debug flavour about 7, upstream about 4.5)"
fi
if ! make -s -j"$(nproc)" "${make_args[@]}" >"$tmp/build.log" 2>&1; then
	tail -n 40 "$tmp/build.log" >&2
	die "kernel build failed (log above)"
fi

{
	echo "flavor $flavor"
	echo "arch $arch"
	echo "recipe $RECIPE_VERSION"
	echo "$source_name $srcver"
	fingerprint
} >"$tmp/inputs.txt"
touch "$tmp/.built"
mv "$tmp" "$final"
trap - EXIT

# Keep the two most recent trees of this flavour: each is about 2 GB. NUL-separated, so
# that a cache path with spaces or newlines is removed whole and nothing else is.
find "$kernel_cache" -mindepth 1 -maxdepth 1 -type d -name "$tree_flavor-$arch-*" -printf '%T@ %p\0' |
	sort -z -rn | tail -z -n +3 | cut -z -d' ' -f2- | xargs -0 -r rm -rf --
# Trees named before the architecture was part of the name (flavour-version-key).
find "$kernel_cache" -mindepth 1 -maxdepth 1 -type d -name "$flavor-[0-9]*" -exec rm -rf -- {} +

step "kernel ($flavor): built and cached at $final"
echo "$kdir"
