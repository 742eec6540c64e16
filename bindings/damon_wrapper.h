/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What damon_stat needs from the kernel beyond the `kernel` crate's bindings: DAMON's
 * types and (unexported) functions, kprobes for finding kallsyms_lookup_name, and (on x86)
 * where the CPU feature words are; the module's own C helpers.
 *
 * bindings/generate.py runs bindgen on this header with the target kernel's own flags,
 * so struct layouts match the kernel the module is built against.
 */
#include <linux/damon.h>
#include <linux/kprobes.h>
#include <linux/stddef.h>

/* The module's C helpers (src/ffi/helpers.c). */
#include "../src/ffi/helpers.h"

#ifdef CONFIG_X86
#include <asm/processor.h>

/*
 * Computed values bindgen cannot see through. Only the x86 IBT check reads the CPU
 * feature words (src/ffi/symbols.rs); other architectures have no struct cpuinfo_x86.
 */
enum {
	/* x86_capability sits in an anonymous union whose bindgen name varies. */
	DAMON_STAT_X86_CAPABILITY_OFFSET = offsetof(struct cpuinfo_x86, x86_capability),
	DAMON_STAT_X86_CAPABILITY_WORDS = NCAPINTS + NBUGINTS,
};
#endif
