#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make install` and `make uninstall` into a scratch INSTALL_MOD_PATH that starts as a
# machine's module tree: the module lands in extra/ of KDIR's release, depmod indexes it
# (modinfo and modprobe find it by name), and uninstalling restores the tree byte for
# byte. Bad input fails with a message and creates nothing.
source "$(dirname "$0")/lib.sh"

root=$tmp/root
make_system_root "$root"
before=$(snapshot "$root")

step "install test: make install INSTALL_MOD_PATH=$root"
make -s -C "$REPO_ROOT" install KDIR="$kdir" INSTALL_MOD_PATH="$root"
check_installed "$root"
[ "$installed_ko" = "$root/lib/modules/$release/extra/damon_stat.ko" ] ||
	fail "installed into $installed_ko, not extra/damon_stat.ko of $release"
built_ko=$(module_build_dir "$(tree_arch "$kdir")" n)/src/damon_stat.ko
# A kernel with CONFIG_MODULE_SIG_ALL (distribution kernels, the test kernel) has
# modules_install sign the module with the tree's key: the installed file is the built
# one with a signature appended. Without it, the two are the same file.
sig_magic='~Module signature appended~'
if grep -qx 'CONFIG_MODULE_SIG_ALL=y' "$kdir/.config" && [ -f "$kdir/certs/signing_key.pem" ]; then
	size=$(stat -c %s "$built_ko")
	cmp -s -n "$size" "$installed_ko" "$built_ko" ||
		fail "the installed module does not start with the one built ($built_ko)"
	# The magic ends the file, with a newline that $(...) drops.
	[ "$(tail -c $((${#sig_magic} + 1)) "$installed_ko")" = "$sig_magic" ] ||
		fail "the installed module carries no signature, though $kdir signs what it installs"
	step "install test: the installed module is the one built, signed with the tree's key"
else
	cmp -s "$installed_ko" "$built_ko" || fail "the installed module is not the one built ($built_ko)"
fi

step "install test: make uninstall INSTALL_MOD_PATH=$root"
make -s -C "$REPO_ROOT" uninstall KDIR="$kdir" INSTALL_MOD_PATH="$root"
after=$(snapshot "$root")
[ "$before" = "$after" ] || fail "make uninstall left the tree different from before:
$(diff <(echo "$before") <(echo "$after"))"
out=$(make -s -C "$REPO_ROOT" uninstall KDIR="$kdir" INSTALL_MOD_PATH="$root" 2>&1) ||
	fail "a second make uninstall failed: $out"
grep -q 'nothing to remove' <<<"$out" || fail "a second make uninstall did not say there was nothing to remove: $out"

step "install test: bad KDIR"
if out=$(make -s -C "$REPO_ROOT" install KDIR="$tmp/no-such-tree" INSTALL_MOD_PATH="$tmp/bad" 2>&1); then
	fail "make install with a missing KDIR succeeded"
fi
grep -q "KDIR=$tmp/no-such-tree does not exist" <<<"$out" || fail "unclear error for a missing KDIR: $out"
mkdir -p "$tmp/unbuilt"
cp "$kdir/Makefile" "$tmp/unbuilt/"
if out=$(make -s -C "$REPO_ROOT" install KDIR="$tmp/unbuilt" INSTALL_MOD_PATH="$tmp/bad" 2>&1); then
	fail "make install with an unbuilt KDIR succeeded"
fi
grep -q 'is not a built kernel tree' <<<"$out" || fail "unclear error for an unbuilt KDIR: $out"
[ ! -e "$tmp/bad" ] || fail "a failed make install created $tmp/bad"
step "install test: passed"
