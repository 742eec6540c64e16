#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# What a kernel headers package must carry for damon_stat (README, "Installing on your
# machine"), checked on a headers-only tree cut from KDIR the way Arch's linux-headers
# PKGBUILD cuts it (.config, Makefile, Module.symvers, System.map, scripts/, include/,
# the arch's headers, objtool, Kconfig files), nothing else of the built tree:
# - without the kernel's Rust build products (as Debian's 7.x headers) the build stops
#   and says so;
# - with rust/*.rmeta and rust/*.so (as Arch's) it stops at the two rust/bindings files
#   damon_stat's bindgen step reads, and names them;
# - with those two files added, the module builds, for KDIR's release.
source "$(dirname "$0")/lib.sh"

headers=$tmp/headers
step "headers test: a headers-only tree of $release in $headers"
mkdir -p "$headers"
(
	cd "$kdir"
	install -Dt "$headers" -m644 .config Makefile Module.symvers System.map
	install -Dt "$headers/kernel" -m644 kernel/Makefile
	install -Dt "$headers/arch/x86" -m644 arch/x86/Makefile
	cp -t "$headers" -a scripts include
	cp -t "$headers/arch/x86" -a arch/x86/include
	install -Dt "$headers/arch/x86/kernel" -m644 arch/x86/kernel/asm-offsets.s
	install -Dt "$headers/tools/objtool" tools/objtool/objtool
	find . -name 'Kconfig*' -print0 | cpio -0 -pdmu --quiet "$headers"
)
find "$headers" -type f -name '*.o' -delete
module_src=$tmp/module
copy_checkout "$module_src"

# build_fails_saying WHAT: the build against the headers fails, and names WHAT.
build_fails_saying() {
	if MODULE_SRC=$module_src "$REPO_ROOT/scripts/build-module.sh" "$headers" >"$tmp/build.out" 2>&1; then
		fail "the module built against headers that lack $1"
	fi
	grep -q "$1" "$tmp/build.out" || fail "the build did not name what is missing ($1):
$(tail -n 20 "$tmp/build.out")"
}

step "headers test: without the kernel's Rust build products"
build_fails_saying rust/libkernel.rmeta

step "headers test: with rust/*.rmeta and rust/*.so, without rust/bindings/"
install -Dt "$headers/rust" -m644 "$kdir"/rust/*.rmeta
install -Dt "$headers/rust" "$kdir"/rust/*.so
build_fails_saying rust/bindings/.bindings_generated.rs.cmd

step "headers test: with rust/bindings/.bindings_generated.rs.cmd and bindings_generated.rs"
install -Dt "$headers/rust/bindings" -m644 "$kdir/rust/bindings/.bindings_generated.rs.cmd" \
	"$kdir/rust/bindings/bindings_generated.rs"
MODULE_SRC=$module_src "$REPO_ROOT/scripts/build-module.sh" "$headers" >"$tmp/build.out" 2>&1 ||
	fail "the module does not build against the headers tree:
$(tail -n 20 "$tmp/build.out")"
modinfo -F vermagic "$module_src/src/damon_stat.ko" | grep -q "^$release " ||
	fail "the module built against the headers is not for $release"
step "headers test: passed"
