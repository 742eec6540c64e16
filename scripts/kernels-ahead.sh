#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Builds kernels into the cache ahead of a run that needs them later (.ci/run), at idle
# CPU and I/O priority: they take only what the run leaves of the two cores (its guests
# keep about one busy; a kernel build's serial steps, its links, leave one free), and the
# run never waits for them more than it would have built them itself. Each kernel is
# built once: a run that reaches one still being built here waits for its lock
# (build-kernel.sh) and takes the built tree.
#
# Usage: kernels-ahead.sh [ARCH:]FLAVOUR...   e.g. kernels-ahead.sh upstream arm64:test debug
source "$(dirname "$0")/lib.sh"

[ $# -gt 0 ] || die "usage: kernels-ahead.sh [ARCH:]FLAVOUR... (e.g. upstream arm64:test debug)"
# SCHED_IDLE and the idle I/O class for this shell and so for every process it starts.
chrt --idle -p 0 $$ || die "chrt --idle failed: the kernels would compete with the run"
ionice -c 3 -p $$ || true
for spec in "$@"; do
	arch=x86_64 flavor=$spec
	case "$spec" in *:*) arch=${spec%%:*} flavor=${spec#*:} ;; esac
	step "kernels ahead: $flavor ($arch)"
	ARCH=$arch "$REPO_ROOT/scripts/build-kernel.sh" "$flavor" >/dev/null ||
		die "kernels ahead: the $flavor kernel ($arch) failed to build (above)"
done
step "kernels ahead: all built"
