/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C helpers for what the kernel offers only as static inline functions or macros (folio
 * reference counting, memcg lookup, node spans). Like the kernel's own rust/helpers/,
 * each one is a thin wrapper with no policy; src/ffi/probe.rs is their only caller.
 */
#ifndef DAMON_STAT_HELPERS_H
#define DAMON_STAT_HELPERS_H

#include <linux/types.h>

/* What a folio is, as damon_stat_probe_paddr() found it. */
enum damon_stat_folio_kind {
	DAMON_STAT_FOLIO_OTHER = 0,	/* kernel memory, free, or not a folio */
	DAMON_STAT_FOLIO_ANON = 1,
	DAMON_STAT_FOLIO_FILE = 2,
};

struct damon_stat_folio_info {
	u32 kind;		/* enum damon_stat_folio_kind */
	u32 pmd_mappable;	/* a folio of at least PMD size: a huge page */
	u64 memcg_ino;		/* inode number of its memory cgroup, 0 for none */
};

/*
 * Looks at the folio that holds physical address @paddr, under a reference of its own.
 * Returns false when there is no online page there or its folio is free (refcount 0):
 * then @info is untouched.
 */
bool damon_stat_probe_paddr(u64 paddr, struct damon_stat_folio_info *info);

/* nr_node_ids: the possible node IDs are below it. */
int damon_stat_nr_node_ids(void);

/*
 * The physical address span of node @nid's memory, [*start, *end). Returns false for a
 * node that has no memory (or is not a possible node).
 */
bool damon_stat_node_span(int nid, u64 *start, u64 *end);

#endif
