#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make install` and `make uninstall` into a scratch INSTALL_MOD_PATH that starts as a
# machine's module tree: the module lands in extra/src/ of KDIR's release (kbuild keeps
# its path in the checkout), depmod indexes it
# (modinfo and modprobe find it by name), and uninstalling restores the tree byte for
# byte. Bad input fails with a message and creates nothing.
source "$(dirname "$0")/lib.sh"

root=$tmp/root
make_system_root "$root"
before=$(snapshot "$root")

step "install test: make install INSTALL_MOD_PATH=$root"
make -s -C "$REPO_ROOT" install KDIR="$kdir" INSTALL_MOD_PATH="$root"
check_installed "$root"
[ "$installed_ko" = "$root/lib/modules/$release/extra/src/damon_stat.ko" ] ||
	fail "installed into $installed_ko, not extra/src/damon_stat.ko of $release"
built_ko=$(module_build_dir "$(tree_arch "$kdir")" n)/src/damon_stat.ko
cmp -s "$installed_ko" "$built_ko" || fail "the installed module is not the one built ($built_ko)"

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
