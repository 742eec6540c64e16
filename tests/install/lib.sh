# SPDX-License-Identifier: GPL-2.0
# Shared by the install tests (KDIR in the environment). Sourced, never run.

source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

kdir=${KDIR:?KDIR must name the built kernel tree to install for}
release=$(<"$kdir/include/config/kernel.release")
PARAMETERS=(enabled estimated_memory_bandwidth memory_idle_ms_percentiles aggr_interval_us kdamond_pid)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/damon_stat-install.XXXXXX")
trap '[ -n "${KEEP_TMP:-}" ] || rm -rf "$tmp"' EXIT

fail() {
	die "install test: $*"
}

# A module tree under ROOT as a machine has it before anything is installed: what the
# kernel's own modules_install writes into lib/modules/<release>, and depmod's indexes.
make_system_root() {
	local moddir=$1/lib/modules/$release
	mkdir -p "$moddir"
	cp "$kdir/modules.builtin" "$kdir/modules.builtin.modinfo" "$moddir/"
	sed 's:^\(.*\)\.o$:kernel/\1.ko:' "$kdir/modules.order" >"$moddir/modules.order"
	depmod -b "$1" "$release"
}

# copy_checkout DEST: the checkout's own files (tracked, or new and not ignored), without
# build products, as a user's clean clone has them.
copy_checkout() {
	git -C "$REPO_ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1 ||
		die "$REPO_ROOT is not a git checkout: the install tests copy the files git tracks"
	mkdir -p "$1"
	local dest=$1 f
	(cd "$REPO_ROOT" && git ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do
			[ ! -e "$f" ] || cp --parents -a "$f" "$dest"
		done)
}

# Every path, type and content under a directory, to compare before and after.
snapshot() {
	(cd "$1" && find . -printf '%y %m %p\n' | sort && find . -type f -exec sha256sum {} + | sort -k2)
}

# check_installed ROOT: damon_stat is installed once under ROOT for the release, found
# by name through depmod's index as modprobe would, and describes itself.
check_installed() {
	local root=$1 found info dry
	mapfile -t found < <(find "$root" -name 'damon_stat.ko*')
	[ ${#found[@]} -eq 1 ] || fail "expected one damon_stat.ko under $root, found: ${found[*]:-none}"
	installed_ko=${found[0]}
	info=$(modinfo -b "$root" -k "$release" damon_stat) ||
		fail "modinfo does not find damon_stat by name in $root (depmod index)"
	grep -qx "filename: *$installed_ko" <<<"$info" || fail "modinfo names another file: $info"
	grep -qx 'license: *GPL' <<<"$info" || fail "modinfo: no GPL license"
	grep -Eq "^vermagic: *$release " <<<"$info" || fail "modinfo: vermagic is not $release"
	for p in "${PARAMETERS[@]}"; do
		grep -Eq "^parm: *$p:.{10,}" <<<"$info" || fail "modinfo does not describe parameter $p"
	done
	dry=$(modprobe --dry-run --show-depends -d "$root" -S "$release" damon_stat) ||
		fail "modprobe does not resolve damon_stat in $root"
	[ "$dry" = "insmod $installed_ko " ] || fail "modprobe would load '$dry', not $installed_ko alone"
	# -e -F: every symbol the module needs is exported by this kernel.
	local unresolved
	unresolved=$(depmod -n -e -F "$kdir/System.map" -b "$root" "$release" 2>&1 >/dev/null)
	[ -z "$unresolved" ] || fail "depmod reports: $unresolved"
	check_no_test_code "$installed_ko"
	# Built for KDIR's architecture, not the machine's (the arm64 kernel is cross-built).
	local machine want
	machine=$(llvm-readelf --file-header "$installed_ko" | sed -n 's/^ *Machine: *//p')
	case "$(tree_arch "$kdir")" in
	arm64) want=AArch64 ;;
	*) want="Advanced Micro Devices X86-64" ;;
	esac
	[ "$machine" = "$want" ] || fail "$installed_ko is for '$machine', not $want"
	note "installed: $installed_ko ($machine; modinfo, modprobe and depmod find it; no KUnit code)"
}

# What users install carries no test code: no KUnit suite section for the kernel to run
# at load, and no symbol of the suite or of KUnit's API.
check_no_test_code() {
	local ko=$1 found
	found=$({
		llvm-objdump -h "$ko" | grep -i kunit
		llvm-nm "$ko" | grep -i kunit
	} || true)
	[ -z "$found" ] || fail "the installed $ko carries KUnit test code:
$found"
}
