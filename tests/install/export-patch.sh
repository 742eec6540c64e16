#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# patches/linux-6.12-export-damon.patch, for fleets that build their own kernels: it
# applies to the kernel source the project builds (KDIR's mm/damon/core.c, from
# linux-source-6.12), and exports exactly the DAMON functions the built module calls,
# found in the .ko itself (names it resolves through kallsyms, or undefined symbols)
# and matched against KDIR's System.map, so a function added to the module but not to
# the patch fails here.
source "$(dirname "$0")/lib.sh"

patch_file=$REPO_ROOT/patches/linux-6.12-export-damon.patch
module=${MODULE:-$REPO_ROOT/src/damon_stat.ko}
[ -f "$module" ] || die "$module does not exist: build it first (make module)"

step "export patch: applies to $release's mm/damon/core.c"
mkdir -p "$tmp/tree/mm/damon"
cp "$kdir/mm/damon/core.c" "$tmp/tree/mm/damon/"
patch -d "$tmp/tree" -p1 --quiet <"$patch_file" || fail "$patch_file does not apply to $release"
grep -q '^EXPORT_SYMBOL_GPL(damon_start);$' "$tmp/tree/mm/damon/core.c" ||
	fail "the patched core.c does not export damon_start"

step "export patch: exports the DAMON functions $(basename "$module") calls"
exported=$(sed -n 's/^+EXPORT_SYMBOL_GPL(\(.*\));$/\1/p' "$patch_file" | sort)
kernel_functions=$(awk '$2 ~ /^[Tt]$/ && $3 ~ /^damon_/ { print $3 }' "$kdir/System.map" | sort -u)
called=$({
	llvm-strings "$module" | tr -c 'a-z_0-9\n' '\n'
	llvm-nm -u "$module" | awk '{ print $2 }'
} | sort -u | comm -12 - <(echo "$kernel_functions"))
[ -n "$called" ] || fail "found no DAMON function name in $module"
[ "$exported" = "$called" ] || fail "the patch exports other functions than the module calls:
$(diff <(echo "$exported") <(echo "$called") | sed -n 's/^< /  only exported: /p; s/^> /  only called: /p')"
note "exported and called: $(echo $called)"
step "export patch: passed"
