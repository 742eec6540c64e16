#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make deb`: the Debian packages damon-stat-dkms (the module's source, built by DKMS for
# each suitable kernel) and damon-stat-exporter (the exporter and its systemd unit), with
# debhelper from debian/, built from a copy of the checkout's own files as a clean clone
# has them, then checked with lintian. The packages land in target/deb/.
source "$(dirname "$0")/lib.sh"

for tool in dpkg-buildpackage dh dh_dkms lintian cargo; do
	command -v "$tool" >/dev/null || die "$tool is not installed: run 'make setup'"
done
version=$(dpkg-parsechangelog -l "$REPO_ROOT/debian/changelog" -S Version)
upstream=${version%-*}
dkms_version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$REPO_ROOT/dkms.conf")
[ "$upstream" = "$dkms_version" ] ||
	die "debian/changelog's version $version is not dkms.conf's $dkms_version: update debian/changelog"

out=$REPO_ROOT/target/deb
work=$out/build
rm -rf "$work" && mkdir -p "$work"
src=$work/damon-stat-$upstream
step "copying the checkout's files to $src"
mkdir -p "$src"
(cd "$REPO_ROOT" && git ls-files -z --cached --others --exclude-standard |
	while IFS= read -r -d '' f; do
		[ ! -e "$f" ] || cp --parents -a "$f" "$src"
	done)

step "dpkg-buildpackage -b (damon-stat $version)"
# The exporter builds in the checkout's target/, incrementally, as cargo test's does.
(cd "$src" && CARGO_TARGET_DIR=$REPO_ROOT/target dpkg-buildpackage -b -us -uc --no-sign \
	>"$work/build.log" 2>&1) || {
	tail -n 40 "$work/build.log" >&2
	die "dpkg-buildpackage failed (the end of $work/build.log above)"
}
arch=$(dpkg --print-architecture)
debs=("$work/damon-stat-dkms_${version}_all.deb" "$work/damon-stat-exporter_${version}_$arch.deb")
for deb in "${debs[@]}"; do
	[ -f "$deb" ] || die "dpkg-buildpackage made no $(basename "$deb")"
done
rm -f "$out"/*.deb
mv -t "$out" "${debs[@]}"

step "lintian"
# A tag that remains is overridden in debian/<package>.lintian-overrides, with the reason.
lintian --fail-on error,warning --tag-display-limit 0 "$out"/*.deb >"$work/lintian.log" 2>&1 || {
	cat "$work/lintian.log" >&2
	die "lintian found errors or warnings (above)"
}
# lintian says it should not run as root (make check-system's image build needs root).
grep -v '^running with root privileges' "$work/lintian.log" >&2 || true
for deb in "$out"/*.deb; do
	step "built $deb"
done
