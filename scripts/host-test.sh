#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Host-side checks of the kernel-free logic: formatting (kernel rustfmt settings), the
# unit and property tests, and clippy on them.
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

command -v cargo >/dev/null || die "cargo is missing: install Rust (rustup or Debian's cargo)"

step "rustfmt --check (the kernel's .rustfmt.toml)"
mapfile -t sources < <(git ls-files '*.rs' 2>/dev/null || find src tests benches -name '*.rs')
rustfmt --edition 2021 --config-path .rustfmt.toml --check "${sources[@]}" ||
	die "rustfmt would reformat the files above: run rustfmt --edition 2021 on them"

step "layering: src/ffi/ uses nothing of the product above it"
# Code lines (not comments) of the unsafe layer that name a product module.
if grep -nE '^[^/]*crate::(control|monitor|params|kunit_suite)\b' src/ffi/*.rs; then
	die "src/ffi/ must not depend on the product (the lines above): move that code up"
fi

step "layering: no unsafe code outside src/ffi/"
# Code lines (not comments) with an unsafe block, fn, impl or trait.
if grep -nE '^[^/]*\bunsafe\b *(\{|fn|impl|trait|extern)' src/*.rs src/logic/*.rs |
	grep -v '^src/damon_bindings_generated\.rs:'; then
	die "unsafe code belongs in src/ffi/ behind a safe API (the lines above)"
fi

step "cargo test (host: the shared logic)"
# RUSTC, when set, names the kernel's rustc for the module build, not the host one.
unset RUSTC
cargo test --quiet 2>&1

step "promtool: the exporter's output and its rules"
"$REPO_ROOT/tests/exporter/promtool.sh"

step "python3 -m unittest (host: the rig's kernel log checker, the compare report)"
python3 -m unittest discover -s tests/rig -p 'test_*.py'

if cargo clippy --version >/dev/null 2>&1; then
	step "cargo clippy (host)"
	cargo clippy --quiet --all-targets -- -D warnings
fi
