#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Builds the 6.12 test kernel from Debian's linux-source-6.12 and caches the built tree
# outside the checkout. Prints the tree's path (the KDIR to build the module against) on
# standard output; progress goes to standard error.
#
# The cache key hashes everything the built tree depends on: the kernel source package
# version, the config fragments, any patches, the toolchain versions and the recipe
# version below. Unchanged inputs mean no rebuild. A build happens in a temporary
# directory that is renamed into place only once complete, under a lock, so neither a
# half-finished build nor a concurrent run can leave a broken tree behind.
#
# Usage: build-kernel.sh [test|debug]
source "$(dirname "$0")/lib.sh"

# Bump when the build procedure below changes in a way that changes the result.
RECIPE_VERSION=1

flavor=${1:-${KERNEL_FLAVOR:-test}}
case "$flavor" in
test) fragments=("$REPO_ROOT/kernel/test.config") ;;
debug) fragments=("$REPO_ROOT/kernel/test.config" "$REPO_ROOT/kernel/debug.config") ;;
*) die "unknown kernel flavour '$flavor' (use test or debug)" ;;
esac
for f in "${fragments[@]}"; do
	[ -f "$f" ] || die "missing config fragment $f"
done

tarball=$(kernel_source_tarball)
[ -n "$tarball" ] || die "linux-source-6.12 is not installed: run 'make setup' first"
[ -x "$BINDGEN" ] || die "bindgen is not installed in $BINDGEN_ROOT: run 'make setup' first"
[ -x "$KERNEL_RUSTC" ] || die "$KERNEL_RUSTC is missing: run 'make setup' first"

srcver=$(kernel_source_version)
patches=()
if [ -d "$REPO_ROOT/kernel/patches" ]; then
	mapfile -t patches < <(find "$REPO_ROOT/kernel/patches" -name '*.patch' | sort)
fi
key=$({
	echo "recipe $RECIPE_VERSION"
	echo "linux-source-6.12 $srcver"
	toolchain_fingerprint
	cat "${fragments[@]}"
	[ ${#patches[@]} -eq 0 ] || cat "${patches[@]}"
} | sha256_of_stdin)

kernel_cache=$CACHE_ROOT/kernel
name=$flavor-${srcver%%-*}-$key
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

step "kernel ($flavor): extracting linux-source-6.12 $srcver (key $key)"
tar -xf "$tarball" -C "$tmp"
mv "$tmp/linux-source-6.12" "$tmp/linux"
cd "$tmp/linux"

for p in "${patches[@]}"; do
	step "applying $(basename "$p")"
	patch -p1 --quiet <"$p" || die "patch $p does not apply to linux-source-6.12 $srcver"
done

mapfile -t make_args < <(kernel_make_args)
step "configuring: tinyconfig + ${fragments[*]##*/}"
make -s "${make_args[@]}" tinyconfig >/dev/null
scripts/kconfig/merge_config.sh -m -O . .config "${fragments[@]}" >/dev/null
make -s "${make_args[@]}" olddefconfig >/dev/null

# olddefconfig silently drops options whose dependencies are unmet: check every line.
missing=()
for f in "${fragments[@]}"; do
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
	done <"$f"
done
if [ ${#missing[@]} -gt 0 ]; then
	{
		echo "error: these options of the fragment are not in the final .config:"
		printf '  %s\n' "${missing[@]}"
		echo "Their dependencies are unmet. For CONFIG_RUST check 'make rustavailable' with"
		echo "RUSTC=$KERNEL_RUSTC; for others add what they depend on to the fragment."
	} >&2
	exit 1
fi

step "building the kernel with $(nproc) jobs (on 2 idle cores: about 5 minutes, the debug flavour about 7)"
if ! make -s -j"$(nproc)" "${make_args[@]}" >"$tmp/build.log" 2>&1; then
	tail -n 40 "$tmp/build.log" >&2
	die "kernel build failed (log above)"
fi

{
	echo "flavor $flavor"
	echo "recipe $RECIPE_VERSION"
	echo "linux-source-6.12 $srcver"
	toolchain_fingerprint
} >"$tmp/inputs.txt"
touch "$tmp/.built"
mv "$tmp" "$final"
trap - EXIT

# Keep the two most recent trees of this flavour: each is about 2 GB.
find "$kernel_cache" -mindepth 1 -maxdepth 1 -type d -name "$flavor-*" -printf '%T@ %p\n' |
	sort -rn | tail -n +3 | cut -d' ' -f2- | xargs -r rm -rf

step "kernel ($flavor): built and cached at $final"
echo "$kdir"
