#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Generates the module's DAMON and kprobe bindings from the kernel tree it is built against.

Struct layouts depend on the kernel configuration, so the bindings must come from the very
tree and config the module is built against. The kernel records the bindgen command line
it used for its own bindings in rust/bindings/.bindings_generated.rs.cmd; this script
reuses its clang flags and bindgen options, and swaps in our wrapper header and
allowlist.

Only what the `kernel` crate lacks is generated: the allowlist is not followed
recursively, and the C types the DAMON and kprobe structures refer to (`struct mutex`,
`struct list_head`, ...) are imported from `kernel::bindings`, so there is one Rust copy
of each C type.

Usage: generate.py KDIR OUTPUT   (BINDGEN in the environment overrides the kernel's bindgen;
DAMON_STAT_BINDGEN_DEBUG=1 prints the command)
"""

import os
import shlex
import subprocess
import sys


def die(message):
    sys.exit(f"error: {message}")


def kernel_bindgen_command(cmdfile):
    """The kernel's bindgen, its options and its clang flags, from kbuild's .cmd file."""
    if not os.path.isfile(cmdfile):
        die(f"{cmdfile} is missing: KDIR is not a built CONFIG_RUST=y kernel tree.\n"
            "Build the kernel first (make kernel), or point KDIR at a built Rust-enabled tree.")
    # The first line is the make assignment "savedcmd_<target> := <command>"; dependency
    # lists follow it.
    with open(cmdfile) as f:
        first = f.readline()
    if not first.startswith("savedcmd_") or ":=" not in first:
        die(f"unexpected format of {cmdfile}; is KDIR a 6.12 tree?")
    words = shlex.split(first.split(":=", 1)[1])
    # The command may start with environment assignments (VAR=value ...).
    while words and "=" in words[0] and not words[0].startswith("-"):
        words.pop(0)
    # The kernel's command goes on after ';' with a sed over its own output: not ours.
    if ";" in words:
        words = words[:words.index(";")]
    sep = words.index("--")
    bindgen, options, clang_flags = words[0], words[1:sep], words[sep + 1:]

    kept = []
    skip = False
    for word in options:
        if skip:
            skip = False
        elif word == "-o":
            skip = True  # The kernel's output file and the option itself.
        elif word.endswith(".h") and not word.startswith("-"):
            pass  # The kernel's own input header.
        else:
            kept.append(word)
    # Drop the kernel's dependency-file output (it would write into the kernel tree).
    clang_flags = [f for f in clang_flags if not f.startswith("-Wp,-MMD")]
    return bindgen, kept, clang_flags


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: generate.py KDIR OUTPUT")
    kdir, out = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    here = os.path.dirname(os.path.abspath(__file__))
    bindgen, options, clang_flags = kernel_bindgen_command(
        os.path.join(kdir, "rust/bindings/.bindings_generated.rs.cmd"))
    bindgen = os.environ.get("BINDGEN") or bindgen

    with open(os.path.join(here, "allowlist")) as f:
        ours = [line.strip() for line in f if line.strip() and not line.startswith("#")]
    argv = ([bindgen, os.path.join(here, "damon_wrapper.h")] + options + ours +
            ["-o", out + ".tmp", "--"] + clang_flags)
    if os.environ.get("DAMON_STAT_BINDGEN_DEBUG"):
        print(shlex.join(argv))
    if subprocess.run(argv, cwd=kdir).returncode != 0:
        die("bindgen failed on bindings/damon_wrapper.h (run with DAMON_STAT_BINDGEN_DEBUG=1 "
            "to see the command)")
    os.replace(out + ".tmp", out)


if __name__ == "__main__":
    main()
