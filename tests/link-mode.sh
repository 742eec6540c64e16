#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The two ways the module reaches DAMON, checked in the built .ko files:
# - KALLSYMS_MODULE, built against a stock 6.12 (no DAMON export): modinfo says
#   `damon_link: kallsyms`, it resolves kallsyms_lookup_name through a kprobe, and it has
#   no undefined DAMON symbol;
# - LINKED_MODULE, built against the kernel with patches/linux-6.12-export-damon.patch:
#   modinfo says `damon_link: linked`, every DAMON function it calls is an undefined
#   symbol for the module loader to resolve, and nothing refers to kallsyms_lookup_name
#   or kprobes, and every reference to a DAMON function is a direct call's relocation,
#   so no indirect call into DAMON is left for IBT or kCFI to refuse.
# Each side is the other's control: a check that never fails would fail on the other .ko.
#
# Usage: link-mode.sh KALLSYMS_MODULE LINKED_MODULE
source "$(dirname "$0")/../scripts/lib.sh"

kallsyms_ko=${1:?usage: link-mode.sh KALLSYMS_MODULE LINKED_MODULE}
linked_ko=${2:?usage: link-mode.sh KALLSYMS_MODULE LINKED_MODULE}
for ko in "$kallsyms_ko" "$linked_ko"; do
	[ -f "$ko" ] || die "$ko does not exist: build it first"
done

damon_functions=$(sed -n '/^--allowlist-function=damon_stat_/d; s/^--allowlist-function=\(damon_.*\)$/\1/p' "$REPO_ROOT/bindings/allowlist" | sort)
undefined() {
	llvm-nm -u "$1" | awk '{ print $2 }' | sort
}
undefined_damon() {
	undefined "$1" | grep -Fx "$damon_functions" || true
}
# Whether the .ko refers to the symbol resolver at all: kprobe calls, or the name of
# kallsyms_lookup_name (the kprobe's target) anywhere in it.
uses_resolver() {
	undefined "$1" | grep -Eq '^(register_kprobe|unregister_kprobe|kallsyms_lookup_name)$' ||
		llvm-strings "$1" | grep -q kallsyms_lookup_name
}
# The relocation types of every reference to a DAMON function, one per line.
damon_relocation_types() {
	llvm-readelf --relocations "$1" | awk -v names="$damon_functions" '
		BEGIN { n = split(names, list, "\n"); for (i = 1; i <= n; i++) damon[list[i]] = 1 }
		$5 in damon { print $3 }' | sort -u
}
# Only calls: a direct call's relocation (x86_64 PLT32/PC32, arm64 CALL26/JUMP26), never
# an address stored or loaded, which is how a function pointer would start.
only_direct_calls() {
	local types
	types=$(damon_relocation_types "$1")
	[ -n "$types" ] && ! grep -Evx 'R_X86_64_(PLT32|PC32)|R_AARCH64_(CALL26|JUMP26)' <<<"$types"
}
link_mode() {
	modinfo -F damon_link "$1"
}

check "kallsyms module: modinfo says damon_link kallsyms" [ "$(link_mode "$kallsyms_ko")" = kallsyms ]
check "kallsyms module: finds kallsyms_lookup_name through a kprobe" uses_resolver "$kallsyms_ko"
check "kallsyms module: no undefined DAMON symbol" [ -z "$(undefined_damon "$kallsyms_ko")" ]

check "linked module: modinfo says damon_link linked" [ "$(link_mode "$linked_ko")" = linked ]
check "linked module: every DAMON function it calls is resolved by the module loader" \
	[ "$(undefined_damon "$linked_ko")" = "$damon_functions" ]
check "linked module: no reference to kallsyms_lookup_name or kprobes" eval '! uses_resolver "$linked_ko"'
check "linked module: every reference to a DAMON function is a direct call ($(damon_relocation_types "$linked_ko" | tr '\n' ' '))" \
	only_direct_calls "$linked_ko"
echo "linked module's DAMON imports: $(undefined_damon "$linked_ko" | tr '\n' ' ')"

[ "$CHECK_FAILURES" -eq 0 ] || die "link modes: $CHECK_FAILURES check(s) failed"
step "link modes: passed"
