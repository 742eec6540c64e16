#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make install-source`: the module's sources, and nothing else of the checkout, into
# <DESTDIR>/usr/src/damon_stat-<version>, where DKMS looks for them (`dkms install
# damon_stat/<version>` then builds them). The Debian package damon-stat-dkms installs
# the same files (debian/rules).
source "$(dirname "$0")/lib.sh"

version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$REPO_ROOT/dkms.conf")
[ -n "$version" ] || die "dkms.conf has no PACKAGE_VERSION"
root=${DESTDIR:-}
[ -z "$root" ] || root=$(realpath -m "$root")
dest=$root/usr/src/damon_stat-$version
if [ -z "$root" ] && [ "$(id -u)" -ne 0 ]; then
	die "installing into /usr/src needs root: run 'sudo make install-source', or set DESTDIR=<dir>."
fi
# A previous copy of the same version is replaced whole, so no removed file lingers.
rm -rf "$dest"
mkdir -p "$dest/scripts"
copy_module_sources "$dest"
install -m644 -t "$dest" "$REPO_ROOT/dkms.conf" "$REPO_ROOT/LICENSE"
install -m755 -t "$dest/scripts" "$REPO_ROOT/scripts/build-module.sh"
install -m644 -t "$dest/scripts" "$REPO_ROOT/scripts/lib.sh"
step "installed the module's sources into $dest; build them with 'dkms install damon_stat/$version'"
