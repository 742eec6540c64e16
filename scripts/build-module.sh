#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Builds damon_stat.ko out of tree against KDIR, after checking that KDIR can take it:
# a built 6.12 tree with CONFIG_RUST, the DAMON options the module relies on, and the
# same rustc as the one given (a module must be built by the rustc that built the kernel).
#
# Usage: build-module.sh KDIR [extra make arguments, e.g. CLIPPY=1]
# The architecture is KDIR's; ARCH, when set, must match it. MODULE_SRC names another copy
# of the module's sources to build; by default the x86_64 module is built in this
# checkout and every other build (KUNIT=1: the test module, with the KUnit suite; arm64)
# in a copy under build/ (see module_build_dir in lib.sh).
source "$(dirname "$0")/lib.sh"

kdir=${1:?usage: build-module.sh KDIR [make arguments]}
shift
rustc=${RUSTC:-$KERNEL_RUSTC}

[ -d "$kdir" ] || die "KDIR=$kdir does not exist. Leave KDIR unset to use the project's kernel
(built by 'make kernel'), or point it at a built Linux 6.12 tree."
[ -f "$kdir/Makefile" ] && [ -f "$kdir/.config" ] ||
	die "KDIR=$kdir is not a configured kernel tree (no Makefile or .config)."
[ -f "$kdir/Module.symvers" ] ||
	die "KDIR=$kdir is not built (no Module.symvers): run 'make' in it first."

# --no-print-directory: a "make -C" above us would have make print "Entering directory".
version=$(make -s --no-print-directory -C "$kdir" kernelversion 2>/dev/null || true)
case "$version" in
6.12.*) ;;
*) die "KDIR=$kdir is Linux '$version'; damon_stat targets 6.12 (its DAMON API and layouts)." ;;
esac

config_has() {
	grep -qx "$1=y" "$kdir/.config"
}
link_mode=$("$REPO_ROOT/bindings/link-mode.sh" "$kdir") || exit 1
needed=(CONFIG_RUST CONFIG_DAMON CONFIG_DAMON_PADDR CONFIG_MODULES)
case "$link_mode" in
linked) link_note="linked mode: the kernel exports the DAMON functions, called directly" ;;
*)
	link_note="kallsyms mode: the DAMON functions are found at load time through kallsyms"
	needed+=(CONFIG_KPROBES CONFIG_KALLSYMS)
	;;
esac
for opt in "${needed[@]}"; do
	config_has "$opt" || die "KDIR=$kdir has no $opt=y; damon_stat needs it ($link_mode mode). Enable it and rebuild."
done
kunit=$(kunit_wanted) || exit 1
arch=$(tree_arch "$kdir")
if [ -n "${ARCH:-}" ]; then
	wanted=$(kernel_arch) || exit 1
	[ "$wanted" = "$arch" ] || die "KDIR=$kdir is a kernel for $arch, but ARCH=$ARCH asks for $wanted.
Leave KDIR unset to use the project's $wanted kernel, or point it at an $wanted tree."
fi
if [ "$kunit" = y ]; then
	config_has CONFIG_KUNIT || die "KDIR=$kdir has no CONFIG_KUNIT=y: the test module (KUNIT=1) needs it."
fi

# A headers package, unlike a built tree, may lack what a Rust module builds from.
[ -f "$kdir/rust/libkernel.rmeta" ] ||
	die "KDIR=$kdir has no rust/libkernel.rmeta: these kernel headers lack the kernel's Rust
build products (rust/*.rmeta, rust/libmacros.so), which a Rust module is compiled against.
Build against the kernel's build tree, or see README, 'Installing on your machine'."
for f in rust/bindings/.bindings_generated.rs.cmd rust/bindings/bindings_generated.rs; do
	[ -f "$kdir/$f" ] || die "KDIR=$kdir has no $f: damon_stat generates its DAMON bindings
with the kernel's own bindgen flags, read from there. Headers packages such as Arch's leave
it out: copy rust/bindings/.bindings_generated.rs.cmd and rust/bindings/bindings_generated.rs
from the kernel's build tree into $kdir/rust/bindings/."
done

[ -x "$rustc" ] || die "rustc '$rustc' not found. Install Debian's rustc-web, or pass RUSTC=<the rustc that built KDIR>."
want=$(sed -n 's/^CONFIG_RUSTC_VERSION_TEXT="\(.*\)"$/\1/p' "$kdir/.config")
# A failing --version must reach the message below, not end the script silently.
have=$("$rustc" --version 2>&1 || true)
if [ "$want" != "$have" ]; then
	die "KDIR=$kdir was built by '$want', but RUSTC=$rustc is '$have'.
A module must be built by the rustc that built its kernel: pass RUSTC=<that rustc>."
fi

mapfile -t make_args < <(module_make_args "$kdir")
bindgen=$(printf '%s\n' "${make_args[@]}" | sed -n 's/^BINDGEN=//p')
command -v "$bindgen" >/dev/null ||
	die "bindgen is not installed: install bindgen 0.65.1 or later on the PATH or in /usr/local/bin (Debian 13: 'apt install bindgen'; Debian 12, whose bindgen is too old, and elsewhere: 'cargo install --locked --root /usr/local bindgen-cli'), or run 'make setup' on the project's Debian build machine."
# kbuild's M= must be an absolute path.
module_src=${MODULE_SRC:+$(realpath -- "$MODULE_SRC")}
if [ -z "$module_src" ]; then
	module_src=$(module_build_dir "$arch" "$kunit")
	[ "$module_src" = "$REPO_ROOT" ] || copy_module_sources "$module_src"
fi
what="${module_src#"$REPO_ROOT"/}/src/damon_stat.ko ($arch)"
[ "$module_src" = "$REPO_ROOT" ] && what="src/damon_stat.ko ($arch)"
[ "$kunit" = y ] && what="the test module $what, with the KUnit suite"

step "building $what against $kdir${DAMON_STAT_ENABLED_DEFAULT:+ (DAMON_STAT_ENABLED_DEFAULT=$DAMON_STAT_ENABLED_DEFAULT)}"
note "    $link_note"
# kbuild rebuilds what changed in the module's sources and flags, but not for another
# tree of the same release (a kernel rebuilt with another configuration, or a
# benchmark's variant): its objects would load as "invalid module format". The tree
# the objects were built against is recorded beside them; another tree cleans first.
stamp=$module_src/.damon_stat-kdir
tree_id=$(realpath -- "$kdir"; sha256sum "$kdir/.config" "$kdir/Module.symvers" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" != "$tree_id" ]; then
	note "    built against another kernel tree before: cleaning first"
	make -s -C "$kdir" M="$module_src" "${make_args[@]}" clean >/dev/null 2>&1 || true
	rm -f "$module_src/src/damon_bindings_generated.rs"
fi
rm -f "$stamp"
make -C "$kdir" M="$module_src" "${make_args[@]}" \
	DAMON_STAT_ENABLED_DEFAULT="${DAMON_STAT_ENABLED_DEFAULT:-n}" DAMON_STAT_KUNIT="$kunit" \
	"$@" modules || exit 1
echo "$tree_id" >"$stamp"

