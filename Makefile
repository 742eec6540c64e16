# SPDX-License-Identifier: GPL-2.0
#
# damon_stat: the user-facing targets. kbuild reads ./Kbuild, not this file.
#
#   make demo        set-up, kernel, module, boot, enable, show live statistics
#   make check       every test: host cargo tests, module build, KUnit, QEMU tests
#   make check-debug the hardening suite (stress, fault injection, hostile input) on the
#                    debug kernel (KASAN, kmemleak, lockdep)
#   make check-fleet the fleet scenarios: NUMA, memory above 4 GiB, THP always, CPU and
#                    memory hotplug driven through QEMU's monitor (tests/fleet/)
#   make module      build src/damon_stat.ko (against KDIR, default: the project's kernel)
#   make module KUNIT=1   the test module, with the KUnit suite: build/kunit/src/damon_stat.ko
#                    (KUNIT=1 also makes vm-run and demo use it)
#   make vm-run GUEST=<script> [CMDLINE=...] [VM_MEM=1G] [VM_CPUS=2] [VM_TIMEOUT=300]
#                    [KERNEL_FLAVOR=debug]
#   make setup       install what is missing (Debian packages, pinned bindgen)
#   make kernel      build (or find in the cache) the 6.12 test kernel
#   make clippy      build the module and the test module under clippy (CLIPPY=1)
#   make bench       host benchmark of one refresh
#   make clean

SHELL := /bin/bash
.SUFFIXES:

KERNEL_FLAVOR ?= test
# Only KERNEL_FLAVOR is exported by hand: RUSTC and DAMON_STAT_ENABLED_DEFAULT reach the
# scripts when the user sets them (make exports command-line and environment variables),
# and an empty exported RUSTC would break cargo ("could not execute process ` -vV`").
export KERNEL_FLAVOR

# Without KDIR, the project's cached kernel (built on first use).
ifeq ($(origin KDIR),undefined)
kdir = $$(scripts/build-kernel.sh $(KERNEL_FLAVOR))
else
kdir = $(KDIR)
endif

# KUNIT=1 (exported to the scripts, as every command-line variable is) selects the test
# module, which build-module.sh builds in build/kunit/.
ifneq ($(filter 1 y,$(KUNIT)),)
MODULE_KO := build/kunit/src/damon_stat.ko
else
MODULE_KO := src/damon_stat.ko
endif

.PHONY: all setup kernel module clippy host-test bench vm-run vm-tests check check-debug check-fleet \
	demo clean

all: module

setup:
	@scripts/setup.sh

kernel: setup
	@scripts/build-kernel.sh $(KERNEL_FLAVOR) >/dev/null

module: setup
	@k=$(kdir) && scripts/build-module.sh "$$k"

clippy: setup
	@k=$(kdir) && scripts/build-module.sh "$$k" CLIPPY=1 && \
		KUNIT=1 scripts/build-module.sh "$$k" CLIPPY=1

host-test:
	@scripts/host-test.sh

bench:
	@cargo bench --bench refresh

vm-run: module
	@k=$(kdir) && KDIR="$$k" MODULE=$(MODULE_KO) GUEST="$(GUEST)" CMDLINE="$(CMDLINE)" \
		VM_MEM="$(VM_MEM)" VM_CPUS="$(VM_CPUS)" VM_TIMEOUT="$(VM_TIMEOUT)" \
		scripts/vm-run.sh

vm-tests: module
	@k=$(kdir) && KDIR="$$k" MODULE=$(MODULE_KO) tests/run-vm-tests.sh

check: setup
	@scripts/check.sh

check-debug: setup
	@scripts/check-debug.sh

check-fleet: setup
	@scripts/check-fleet.sh

demo: module
	@k=$(kdir) && KDIR="$$k" MODULE=$(MODULE_KO) GUEST=scripts/guest/demo.sh \
		VM_TIMEOUT=180 scripts/vm-run.sh

# Without building a kernel to ask kbuild: these are the files an out-of-tree build makes.
clean:
	rm -f src/*.o src/*.ko src/*.mod src/*.mod.c src/.*.cmd src/damon_bindings_generated.rs \
		Module.symvers modules.order .module-common.o .*.cmd
	rm -rf build
	cargo clean 2>/dev/null || true
