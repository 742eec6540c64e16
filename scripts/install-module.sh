#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make install` and `make uninstall`: installs damon_stat.ko like any external module,
# with kbuild's modules_install (which compresses and signs it as the kernel's
# configuration says), into <INSTALL_MOD_PATH>/lib/modules/<KDIR's release>/extra, then
# runs depmod on that same tree; or removes exactly that file and runs depmod again.
#
# Usage: install-module.sh install|uninstall KDIR   (INSTALL_MOD_PATH in the environment)
source "$(dirname "$0")/lib.sh"

action=${1:-}
kdir=${2:-}
case "$action" in
install | uninstall) ;;
*) die "usage: install-module.sh install|uninstall KDIR" ;;
esac
[ -n "$kdir" ] || die "usage: install-module.sh install|uninstall KDIR"
[ -d "$kdir" ] || die "KDIR=$kdir does not exist. Install the headers package of the kernel to
install into (it must carry the kernel's rust/ build products: see README, 'Installing on
your machine'), or pass KDIR=<a built Linux 6.12 tree>."
[ -f "$kdir/include/config/kernel.release" ] ||
	die "KDIR=$kdir is not a built kernel tree (no include/config/kernel.release): run 'make' in it first."
kdir=$(cd "$kdir" && pwd)
release=$(<"$kdir/include/config/kernel.release")

# kbuild runs in KDIR, so a relative INSTALL_MOD_PATH would land inside the tree.
root=${INSTALL_MOD_PATH:-}
[ -z "$root" ] || root=$(realpath -m "$root")
moddir=$root/lib/modules/$release
installdir=$moddir/extra
if [ -z "$root" ] && [ "$(id -u)" -ne 0 ]; then
	die "installing into /lib/modules needs root: run 'sudo make $action', or set INSTALL_MOD_PATH=<dir>."
fi

# depmod with the base directory modules_install used, and the kernel's System.map when
# the tree has one (headers packages do not), which also checks the symbols resolve.
run_depmod() {
	local args=(-a)
	[ -z "$root" ] || args+=(-b "$root")
	[ ! -f "$kdir/System.map" ] || args+=(-e -F "$kdir/System.map")
	step "depmod ${args[*]} $release"
	depmod "${args[@]}" "$release"
}

case "$action" in
install)
	"$REPO_ROOT/scripts/build-module.sh" "$kdir"
	mapfile -t make_args < <(module_make_args "$kdir")
	# Where build-module.sh built it: the checkout for x86_64, build/arm64 for arm64.
	module_dir=$(module_build_dir "$(tree_arch "$kdir")" n)
	step "installing damon_stat.ko into $installdir"
	# DEPMOD=true: kbuild's own depmod call is skipped where the tree has no System.map;
	# run_depmod below runs it either way, once.
	make -s -C "$kdir" M="$module_dir" "${make_args[@]}" INSTALL_MOD_DIR=extra \
		INSTALL_MOD_PATH="$root" DEPMOD=true modules_install
	# modules_install keeps the module's path below M (src/): extra/ is where a module
	# that is not the kernel's belongs, as DKMS puts it.
	for f in "$installdir"/src/damon_stat.ko*; do
		[ ! -f "$f" ] || mv -f "$f" "$installdir/"
	done
	rmdir --ignore-fail-on-non-empty "$installdir/src"
	run_depmod
	installed=$(find "$installdir" -maxdepth 1 -name 'damon_stat.ko*' -print)
	[ -n "$installed" ] || die "modules_install put no damon_stat.ko into $installdir"
	step "installed $installed; load it with 'modprobe damon_stat'"
	;;
uninstall)
	# What modules_install may have written: the module, compressed if the kernel's
	# CONFIG_MODULE_COMPRESS_* says so.
	# extra/src/ is where earlier versions installed it.
	removed=()
	for f in "$installdir"{,/src}/damon_stat.ko{,.gz,.xz,.zst}; do
		if [ -f "$f" ]; then
			rm -f "$f"
			removed+=("$f")
		fi
	done
	if [ ${#removed[@]} -eq 0 ]; then
		step "damon_stat is not installed in $installdir: nothing to remove"
		exit 0
	fi
	step "removed ${removed[*]}"
	[ ! -d "$installdir/src" ] || rmdir --ignore-fail-on-non-empty "$installdir/src"
	rmdir --ignore-fail-on-non-empty "$installdir"
	run_depmod
	;;
esac
