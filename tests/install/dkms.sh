#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The real dkms (Debian's package) adds, builds, installs and removes damon_stat for
# KDIR's kernel, from the sources make install-source installs, as README tells users
# to. Its trees (--dkmstree, --sourcetree, --installtree) and signing key paths are
# scratch directories, and depmod is ours with -b, so the host's /var/lib/dkms, /usr/src
# and /lib/modules are left alone (checked at the end).
source "$(dirname "$0")/lib.sh"

command -v dkms >/dev/null || die "dkms is not installed: run 'make setup'"

version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$REPO_ROOT/dkms.conf")
cargo_version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$REPO_ROOT/Cargo.toml" | head -n 1)
[ -n "$version" ] && [ "$version" = "$cargo_version" ] ||
	fail "dkms.conf's PACKAGE_VERSION '$version' is not Cargo.toml's version '$cargo_version'"

# What of the host's trees exists now: checked again at the end.
marker=$tmp/marker
touch "$marker"
host_dirs=(/var/lib/dkms /usr/src /lib/modules)
host_existed=()
for dir in "${host_dirs[@]}"; do
	[ ! -e "$dir" ] || host_existed+=("$dir")
done

# The sources as make install-source installs them (and the damon-stat-dkms package).
DESTDIR=$tmp/installed "$REPO_ROOT/scripts/install-source.sh"
sources=$tmp/installed/usr/src/damon_stat-$version

root=$tmp/root
make_system_root "$root"
before=$(snapshot "$root")
dkms_tree=$tmp/dkms
mkdir -p "$dkms_tree" "$tmp/src"

# dkms keeps its signing key paths only from framework.conf or the environment: a
# kernel with a sign-file would otherwise get a key generated into /var/lib/dkms.
dkms_in_scratch() {
	sign_file=$tmp/no-sign-file mok_signing_key=$tmp/mok.key mok_certificate=$tmp/mok.pub \
		dkms "$@" --dkmstree "$dkms_tree" --sourcetree "$tmp/src" \
		--installtree "$root/lib/modules" --kernelsourcedir "${dkms_kdir:-$kdir}" --no-depmod
}
# run_dkms ACTION ...: an action that must succeed; dkms's chatter goes to a log, shown
# when it fails.
run_dkms() {
	dkms_in_scratch "$@" >>"$tmp/dkms.log" 2>&1 || {
		tail -n 30 "$tmp/dkms.log" >&2
		[ ! -f "$make_log" ] || tail -n 30 "$make_log" >&2
		fail "dkms $1 failed (its output and make.log above)"
	}
}
make_log=$dkms_tree/damon_stat/$version/build/make.log
mvk=(-m damon_stat -v "$version" -k "$release")

step "dkms test: dkms add $sources"
run_dkms add "$sources"
[ -f "$tmp/src/damon_stat-$version/dkms.conf" ] || fail "dkms add did not copy the source tree"

step "dkms test: a kernel without CONFIG_RUST is skipped (exit 77), not built"
mkdir -p "$tmp/no-rust/include"
grep -v '^CONFIG_RUST=y$' "$kdir/.config" >"$tmp/no-rust/.config"
status=0
dkms_kdir=$tmp/no-rust dkms_in_scratch build "${mvk[@]}" >"$tmp/no-rust.out" 2>&1 || status=$?
{ [ "$status" = 77 ] && grep -q BUILD_EXCLUSIVE "$tmp/no-rust.out"; } ||
	fail "dkms build for a kernel without CONFIG_RUST exited $status, not 77 (BUILD_EXCLUSIVE):
$(cat "$tmp/no-rust.out")"

step "dkms test: a build that cannot succeed must fail (RUSTC=/bin/false)"
if RUSTC=/bin/false dkms_in_scratch build "${mvk[@]}" >"$tmp/bad-build.out" 2>&1; then
	cat "$tmp/bad-build.out" >&2
	fail "dkms build succeeded with a wrong rustc"
fi
grep -q "A module must be built by the rustc that built its kernel" "$make_log" ||
	fail "make.log of the failed build does not say why"

step "dkms test: dkms build"
run_dkms build "${mvk[@]}"
built=$dkms_tree/damon_stat/$version/$release/$(uname -m)/module/damon_stat.ko
[ -f "$built" ] || fail "dkms build reported success but $built is missing"

step "dkms test: dkms install"
run_dkms install "${mvk[@]}"
depmod -b "$root" "$release"
check_installed "$root"
status=$(dkms_in_scratch status -m damon_stat -v "$version" -k "$release")
grep -q ': installed$' <<<"$status" || fail "dkms status does not say installed: $status"

step "dkms test: dkms remove"
run_dkms remove "${mvk[@]}"
depmod -b "$root" "$release"
after=$(snapshot "$root")
[ "$before" = "$after" ] || fail "dkms remove left the module tree different from before:
$(diff <(echo "$before") <(echo "$after"))"
[ ! -e "$dkms_tree/damon_stat" ] || fail "dkms remove left $dkms_tree/damon_stat"

for dir in "${host_dirs[@]}"; do
	if [[ " ${host_existed[*]} " == *" $dir "* ]]; then
		changed=$(find "$dir" -newer "$marker" -print -quit)
		[ -z "$changed" ] || fail "the host's $dir changed during the test: $changed"
	else
		[ ! -e "$dir" ] || fail "the host's $dir appeared during the test"
	fi
done
step "dkms test: passed"
