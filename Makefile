# SPDX-License-Identifier: GPL-2.0
#
# damon_stat: the user-facing targets. kbuild reads ./Kbuild, not this file.
#
#   make demo        set-up, kernel, module, boot, enable, show live statistics
#   make check       every test: host cargo tests, module build, KUnit, QEMU tests, and a
#                    differential check against upstream DAMON_STAT (Linux 7.3)
#   make check-debug the hardening suite (stress, fault injection, hostile input) on the
#                    debug kernel (KASAN, kmemleak, lockdep)
#   make check-fleet the fleet scenarios: NUMA, memory above 4 GiB, THP always, CPU and
#                    memory hotplug driven through QEMU's monitor (tests/fleet/)
#   make module      build src/damon_stat.ko (against KDIR, default: the project's kernel)
#   make module KUNIT=1   the test module, with the KUnit suite: build/kunit/src/damon_stat.ko
#                    (KUNIT=1 also makes vm-run and demo use it)
#   make vm-run GUEST=<script> [CMDLINE=...] [VM_MEM=1G] [VM_CPUS=2] [VM_TIMEOUT=300]
#                    [KERNEL_FLAVOR=debug|linked|upstream] [VM_FILES="host files for /guest/"]
#                    (the upstream flavour boots Linux 7.3 with its built-in DAMON_STAT and
#                    no module; the linked one 6.12 with patches/linux-6.12-export-damon.patch,
#                    and the module builds in its linked mode)
#   make install     build and install damon_stat.ko into /lib/modules/<release>/extra
#                    of KDIR's release (default KDIR: the running kernel's build
#                    directory), then depmod; INSTALL_MOD_PATH=<dir> installs under <dir>
#   make uninstall   remove what make install put there, then depmod
#   make install-source  the module's sources into <DESTDIR>/usr/src/damon_stat-<version>,
#                    for DKMS
#   make deb         the Debian packages damon-stat-dkms and damon-stat-exporter, in
#                    target/deb/ (checked with lintian)
#   make check-system  as root: a Debian 12 machine with systemd under QEMU that installs
#                    the test kernel's and the project's packages, and checks it boots,
#                    reboots and uninstalls as a user's would (tests/system/)
#   make setup       install what is missing (Debian packages, pinned bindgen)
#   make kernel      build (or find in the cache) the 6.12 test kernel
#   make clippy      build the module and the test module under clippy (CLIPPY=1)
#   make bench       host benchmark of one refresh
#   make compare     damon_stat on 6.12 side by side with upstream DAMON_STAT on 7.3, with
#                    ground truth [COMPARE_SECONDS=60] [COMPARE_REPEAT=3]
#   make clean
#
# ARCH=arm64 (default x86_64) makes kernel, module, clippy, vm-run, vm-tests and demo
# build for and boot arm64 (qemu-system-aarch64): the kernel is cached apart, the modules
# go to build/arm64/ and build/arm64-kunit/. make check covers both architectures itself.

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

# Installing targets a real machine: without KDIR, the running kernel's build tree.
ifeq ($(origin KDIR),undefined)
install_kdir = /lib/modules/$$(uname -r)/build
else
install_kdir = $(KDIR)
endif

# KUNIT=1 and ARCH=arm64 (exported to the scripts, as every command-line variable is)
# select the test module and the architecture; lib.sh's module_ko names the module
# build-module.sh builds for them (src/damon_stat.ko for x86_64, the others under build/).
module_ko = $$(source scripts/lib.sh && module_ko)

.PHONY: all setup kernel module exporter clippy host-test bench bench-shape bench-memory bench-plugin bench-moment compare \
	vm-run vm-tests check \
	check-debug check-fleet check-system demo install uninstall install-source deb clean

all: module

setup:
	@scripts/setup.sh

kernel: setup
	@scripts/build-kernel.sh $(KERNEL_FLAVOR) >/dev/null

# Against a given KDIR the build needs no test rig: no 'setup' (Debian-only, apt and pip).
module: $(if $(filter undefined,$(origin KDIR)),setup)
	@k=$(kdir) && scripts/build-module.sh "$$k"

clippy: $(if $(filter undefined,$(origin KDIR)),setup)
	@k=$(kdir) && scripts/build-module.sh "$$k" CLIPPY=1 && \
		KUNIT=1 scripts/build-module.sh "$$k" CLIPPY=1

# The exporter that guests run (tests/vm/ builds it too).
exporter:
	@source scripts/lib.sh && build_exporter

host-test:
	@scripts/host-test.sh

bench:
	@cargo bench --bench refresh

compare: setup
	@scripts/compare.sh

# kdamond's cost in guest instructions, per part of the kernel's shape and per memory size.
bench-shape: setup
	@benches/kernel-shape.sh

bench-memory: setup
	@benches/memory-sweep.sh

# What the TCG plugin (instruction counts, the truth of every access) costs the guest.
bench-plugin: setup
	@benches/plugin-slowdown.sh

# Whether the moment of reading explains damon_stat's readings against upstream's.
bench-moment: setup
	@benches/reading-moment.sh

# The upstream kernel has DAMON_STAT built in: no module to build or install.
vm_module = $(if $(filter upstream,$(KERNEL_FLAVOR)),,$(module_ko))

vm-run: $(if $(filter upstream,$(KERNEL_FLAVOR)),setup,module) exporter
	@k=$(kdir) && m=$(vm_module) && KDIR="$$k" MODULE="$$m" GUEST="$(GUEST)" CMDLINE="$(CMDLINE)" \
		VM_MEM="$(VM_MEM)" VM_CPUS="$(VM_CPUS)" VM_TIMEOUT="$(VM_TIMEOUT)" \
		VM_FILES="$(VM_FILES)" scripts/vm-run.sh

vm-tests: module
	@k=$(kdir) && m=$(module_ko) && KDIR="$$k" MODULE="$$m" tests/run-vm-tests.sh

check: setup
	@scripts/check.sh

check-debug: setup
	@scripts/check-debug.sh

check-fleet: setup
	@scripts/check-fleet.sh

demo: module
	@k=$(kdir) && m=$(module_ko) && KDIR="$$k" MODULE="$$m" GUEST=scripts/guest/demo.sh \
		VM_TIMEOUT=180 scripts/vm-run.sh

# No 'setup' here: installing needs no Debian package, and runs on any distribution.
install:
	@INSTALL_MOD_PATH="$(INSTALL_MOD_PATH)" scripts/install-module.sh install "$(install_kdir)"

uninstall:
	@INSTALL_MOD_PATH="$(INSTALL_MOD_PATH)" scripts/install-module.sh uninstall "$(install_kdir)"

install-source:
	@DESTDIR="$(DESTDIR)" scripts/install-source.sh

deb: setup
	@scripts/deb.sh

check-system: setup
	@tests/system/run.sh

# Without building a kernel to ask kbuild: these are the files an out-of-tree build makes.
clean:
	rm -f src/*.o src/*.ko src/*.mod src/*.mod.c src/.*.cmd src/damon_bindings_generated.rs \
		Module.symvers modules.order .module-common.o .*.cmd
	rm -rf build
	cargo clean 2>/dev/null || true
