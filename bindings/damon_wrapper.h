/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What damon_stat needs from the kernel beyond the `kernel` crate: DAMON's types and
 * (unexported) functions, kprobes for finding kallsyms_lookup_name, module parameter
 * tables, KUnit's suite and case structures, and a few exported helpers.
 *
 * bindings/generate.sh runs bindgen on this header with the target kernel's own flags,
 * so struct layouts match the kernel the module is built against.
 */
#include <linux/damon.h>
#include <linux/errno.h>
#include <linux/ioport.h>
#include <linux/kprobes.h>
#include <linux/kthread.h>
#include <linux/moduleparam.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/kstrtox.h>
#include <asm/processor.h>
#include <asm/cpufeatures.h>
#include <kunit/test.h>

/* Function-like or computed macros bindgen cannot see through. */
enum {
	DAMON_STAT_X86_FEATURE_IBT = X86_FEATURE_IBT,
	DAMON_STAT_IORESOURCE_SYSTEM_RAM_BUSY = IORESOURCE_SYSTEM_RAM | IORESOURCE_BUSY,
	/* x86_capability sits in an anonymous union whose bindgen name varies. */
	DAMON_STAT_X86_CAPABILITY_OFFSET = offsetof(struct cpuinfo_x86, x86_capability),
	DAMON_STAT_X86_CAPABILITY_WORDS = NCAPINTS + NBUGINTS,
};
