#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The test kernel as Debian packages, for make check-system's machine: kbuild's own
# `make bindeb-pkg`, run in a copy of the built test tree (so that the cached tree and its
# build number stay as every other test uses them), twice: as KDIR's release, and as
# <release>-2, the same kernel under a second release, which the machine installs as a
# kernel upgrade. Each linux-headers package gets what kbuild's install-extmod-build
# leaves out and a Rust module's build needs (README, "Installing"): .config, rust/*.rmeta,
# rust/*.so and the two rust/bindings files. Distributions that ship Rust headers add the
# same (Arch's PKGBUILD does); without them DKMS cannot build damon_stat.
#
# Usage: kernel-debs.sh KDIR OUTDIR   (the packages land in OUTDIR, the logs beside them)
source "$(dirname "$0")/../../scripts/lib.sh"

kdir=${1:?usage: kernel-debs.sh KDIR OUTDIR}
out=${2:?usage: kernel-debs.sh KDIR OUTDIR}
release=$(<"$kdir/include/config/kernel.release")
work=$out.tmp
rm -rf "$work" && mkdir -p "$work"
step "kernel packages: copying $kdir for make bindeb-pkg"
cp -a "$kdir" "$work/linux"
mapfile -t make_args < <(kernel_make_args x86_64)

# add_rust_headers DEB: the headers package DEB rebuilt with the Rust build products of
# the tree that made it (and its md5sums brought up to date).
add_rust_headers() {
	local deb=$1 unpacked=$work/unpacked headers
	rm -rf "$unpacked"
	dpkg-deb -R "$deb" "$unpacked"
	headers=$(echo "$unpacked"/usr/src/linux-headers-*)
	[ -d "$headers" ] || die "$deb has no /usr/src/linux-headers-* directory"
	(
		cd "$work/linux"
		install -m644 -t "$headers" .config
		install -D -m644 -t "$headers/rust" rust/*.rmeta
		install -D -m755 -t "$headers/rust" rust/*.so
		install -D -m644 -t "$headers/rust/bindings" rust/bindings/.bindings_generated.rs.cmd \
			rust/bindings/bindings_generated.rs
	)
	[ -f "$headers/scripts/target.json" ] || die "$deb has no scripts/target.json"
	(cd "$unpacked" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' |
		LC_ALL=C sort -z | xargs -0 md5sum >DEBIAN/md5sums)
	dpkg-deb --root-owner-group -Znone -b "$unpacked" "$deb" >/dev/null
	rm -rf "$unpacked"
}

for localversion in "" -2; do
	step "kernel packages: make bindeb-pkg for $release$localversion"
	# The package version fixed (kbuild's default counts the builds of the tree).
	# DPKG_FLAGS=-d: the packaging asks for gcc-x86-64-linux-gnu, to rebuild the headers'
	# host programs with the kernel's compiler when it is not the host's; with LLVM=1 both
	# are clang, and nothing is rebuilt.
	# KDEB_COMPRESS=none, as in the repack above: these packages go from the cache into one
	# image and nowhere else, and xz took 33 s for each headers package, twice.
	make -C "$work/linux" "${make_args[@]}" LOCALVERSION="$localversion" \
		KDEB_PKGVERSION="$release$localversion-1" KDEB_COMPRESS=none DPKG_FLAGS=-d \
		-j"$(nproc)" bindeb-pkg >"$work/bindeb-pkg$localversion.log" 2>&1 || {
		tail -n 30 "$work/bindeb-pkg$localversion.log" >&2
		die "make bindeb-pkg failed for $release$localversion (the end of its log above)"
	}
	[ "$(<"$work/linux/include/config/kernel.release")" = "$release$localversion" ] ||
		die "make bindeb-pkg built $(<"$work/linux/include/config/kernel.release"), not $release$localversion"
	headers_deb=$(ls "$work"/linux-headers-"$release${localversion}"_*.deb)
	add_rust_headers "$headers_deb"
done

mkdir -p "$out"
rm -f "$out"/*.deb
mv -t "$out" "$work"/linux-image-"$release"_*.deb "$work"/linux-headers-"$release"_*.deb \
	"$work"/linux-image-"$release"-2_*.deb "$work"/linux-headers-"$release"-2_*.deb
# The key the kernel trusts (CONFIG_MODULE_SIG_KEY, generated at build time), for DKMS
# to sign with in the machine, as a Secure Boot machine's enrolled key would be.
install -m600 "$kdir/certs/signing_key.pem" "$out/signing_key.pem"
install -m644 "$kdir/certs/signing_key.x509" "$out/signing_key.x509"
rm -rf "$work"
ls "$out"/*.deb >&2
