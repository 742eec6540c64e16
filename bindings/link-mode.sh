#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Prints how the module reaches the DAMON functions it calls, for the kernel tree KDIR:
#   linked    KDIR's kernel exports all of them (patches/linux-6.12-export-damon.patch):
#             the module calls them directly and the module loader resolves them.
#   kallsyms  it exports none of them (a stock 6.12): the module finds them at load time
#             through a kprobe on kallsyms_lookup_name and calls them through pointers.
# The functions are the --allowlist-function=damon_* lines of bindings/allowlist (not
# damon_stat_*, the module's own C helpers), the
# exports those of KDIR/Module.symvers. DAMON_STAT_LINK=linked or kallsyms forces a mode
# (linked fails on a kernel that lacks an export); a kernel exporting only some of them
# is an error. Used by Kbuild, and by scripts/build-module.sh to say which mode it builds.
#
# Usage: link-mode.sh KDIR
set -eu
kdir=${1:?usage: link-mode.sh KDIR}
here=$(dirname "$0")
symvers=$kdir/Module.symvers
if [ ! -f "$symvers" ]; then
	echo "error: $symvers is missing: KDIR is not a built kernel tree" >&2
	exit 1
fi
functions=$(sed -n '/^--allowlist-function=damon_stat_/d; s/^--allowlist-function=\(damon_.*\)$/\1/p' "$here/allowlist")
missing=
nr_exported=0
for f in $functions; do
	if awk -v f="$f" '$2 == f && $3 == "vmlinux" { found = 1 } END { exit !found }' "$symvers"; then
		nr_exported=$((nr_exported + 1))
	else
		missing="$missing $f"
	fi
done
case "${DAMON_STAT_LINK:-auto}:$nr_exported" in
kallsyms:* | auto:0)
	echo kallsyms
	;;
linked:* | auto:*)
	if [ -n "$missing" ]; then
		echo "error: DAMON functions not exported by $kdir:$missing." >&2
		echo "The linked mode needs all of them: apply patches/linux-6.12-export-damon.patch" >&2
		echo "whole to that kernel, or build with DAMON_STAT_LINK=kallsyms." >&2
		exit 1
	fi
	echo linked
	;;
*)
	echo "error: DAMON_STAT_LINK=$DAMON_STAT_LINK: use linked, kallsyms or auto (the default)" >&2
	exit 1
	;;
esac
