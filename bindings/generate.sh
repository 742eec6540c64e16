#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Generates the module's bindings from the kernel tree it is built against.
#
# Struct layouts depend on the kernel configuration (lock debugging changes struct
# mutex, for one), so the bindings must come from the very tree and config the module is
# built against. The kernel records the bindgen command line it used for its own
# bindings in rust/bindings/.bindings_generated.rs.cmd; this script reuses its clang
# flags and bindgen options, and swaps in our wrapper header and allowlist.
#
# Usage: generate.sh KDIR OUTPUT
set -euo pipefail

kdir=${1:?usage: generate.sh KDIR OUTPUT}
out=${2:?usage: generate.sh KDIR OUTPUT}
here=$(cd "$(dirname "$0")" && pwd)
cmdfile=$kdir/rust/bindings/.bindings_generated.rs.cmd

if [ ! -f "$cmdfile" ]; then
	echo "error: $cmdfile is missing: KDIR=$kdir is not a built CONFIG_RUST=y kernel tree." >&2
	echo "Build the kernel first (make kernel), or point KDIR at a built Rust-enabled tree." >&2
	exit 1
fi

python3 - "$cmdfile" "$here" "$out" "${BINDGEN:-}" <<'PY'
import shlex, subprocess, sys, os

cmdfile, here, out, bindgen_override = sys.argv[1:5]
out = os.path.abspath(out)
# The first line is the make assignment "savedcmd_<target> := <command>"; dependency
# lists follow it.
first = open(cmdfile).readline()
if not first.startswith("savedcmd_") or ":=" not in first:
    sys.exit(f"error: unexpected format of {cmdfile}; is KDIR a 6.12 tree?")
cmd = first.split(":=", 1)[1].strip()
words = shlex.split(cmd)
# The command may start with environment assignments (VAR=value ...).
while words and "=" in words[0] and not words[0].startswith("-"):
    words.pop(0)
bindgen = bindgen_override or words[0]
# The kernel's command goes on after ';' with a sed over its own output: not ours.
if ";" in words:
    words = words[:words.index(";")]
sep = words.index("--")
options, clang_flags = words[1:sep], words[sep + 1:]

kept = []
i = 0
while i < len(options):
    w = options[i]
    if w == "-o":
        i += 2
        continue
    if w.endswith(".h") and not w.startswith("-"):
        i += 1  # The kernel's own input header.
        continue
    kept.append(w)
    i += 1

# Drop the kernel's dependency-file output (it would write into the kernel tree).
clang_flags = [f for f in clang_flags if not f.startswith("-Wp,-MMD")]

extra = [l.strip() for l in open(os.path.join(here, "allowlist"))
         if l.strip() and not l.startswith("#")]
argv = [bindgen, os.path.join(here, "damon_wrapper.h")] + kept + extra + \
       ["-o", out + ".tmp", "--"] + clang_flags
kdir = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(cmdfile))))
if os.environ.get("DAMON_STAT_BINDGEN_DEBUG"): print(shlex.join(argv))
r = subprocess.run(argv, cwd=kdir)
if r.returncode != 0:
    sys.exit("error: bindgen failed on bindings/damon_wrapper.h (command above)")
os.replace(out + ".tmp", out)
PY
