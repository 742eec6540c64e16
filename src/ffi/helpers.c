// SPDX-License-Identifier: GPL-2.0
/*
 * See helpers.h. Every function here may be called from kdamond's callbacks: none
 * sleeps or allocates.
 */
#include <linux/cgroup.h>
#include <linux/memcontrol.h>
#include <linux/memory_hotplug.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/nodemask.h>
#include <linux/pagemap.h>
#include <linux/rcupdate.h>

#include "helpers.h"

bool damon_stat_probe_paddr(u64 paddr, struct damon_stat_folio_info *info)
{
	struct page *page = pfn_to_online_page(PHYS_PFN(paddr));
	struct folio *folio;
#ifdef CONFIG_MEMCG
	struct mem_cgroup *memcg;
#endif

	if (!page)
		return false;
	folio = page_folio(page);
	/* As DAMON's own damon_get_folio(): no reference on a free or frozen folio. */
	if (!folio_try_get(folio))
		return false;
	if (unlikely(page_folio(page) != folio)) {
		/* Split or freed and reused under us. */
		folio_put(folio);
		return false;
	}
	if (folio_test_anon(folio))
		info->kind = DAMON_STAT_FOLIO_ANON;
	/*
	 * Page cache (tmpfs and shmem included). Only a folio on the LRU: slab and page
	 * table pages reuse the mapping word for their own pointers.
	 */
	else if (folio_test_lru(folio) && folio_mapping(folio))
		info->kind = DAMON_STAT_FOLIO_FILE;
	else
		info->kind = DAMON_STAT_FOLIO_OTHER;
	info->pmd_mappable = folio_test_pmd_mappable(folio);
	info->memcg_ino = 0;
#ifdef CONFIG_MEMCG
	rcu_read_lock();
	/* Kernel memory is charged through objcgs: not a workload's memory. */
	memcg = folio_memcg_kmem(folio) ? NULL : folio_memcg_check(folio);
	/* Memory of a removed cgroup counts for its closest live ancestor. */
	while (memcg && !mem_cgroup_online(memcg))
		memcg = parent_mem_cgroup(memcg);
	if (memcg)
		info->memcg_ino = cgroup_ino(memcg->css.cgroup);
	rcu_read_unlock();
#endif
	folio_put(folio);
	return true;
}

int damon_stat_nr_node_ids(void)
{
	return nr_node_ids;
}

bool damon_stat_node_span(int nid, u64 *start, u64 *end)
{
	unsigned long start_pfn, end_pfn;

	if (nid < 0 || nid >= nr_node_ids || !node_state(nid, N_MEMORY))
		return false;
	/* Read without pgdat_resize_lock: a racing hotplug shows at the next refresh. */
	start_pfn = READ_ONCE(NODE_DATA(nid)->node_start_pfn);
	end_pfn = start_pfn + READ_ONCE(NODE_DATA(nid)->node_spanned_pages);
	*start = PFN_PHYS(start_pfn);
	*end = PFN_PHYS(end_pfn);
	return start_pfn < end_pfn;
}
