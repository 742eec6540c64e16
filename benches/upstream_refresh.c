// SPDX-License-Identifier: GPL-2.0
/*
 * The C baseline of the refresh benchmark: upstream DAMON_STAT's refresh algorithm
 * (mm/damon/stat.c, Linux 7.3), written here for user space so that benches/refresh.rs
 * can time it next to the module's own refresh, on the same regions, in the same process.
 *
 * What is kept from the kernel, because it is what costs: the regions are separately
 * allocated nodes of a doubly linked list shaped like struct damon_region; every refresh
 * allocates an array of region pointers (kmalloc_objs() there, malloc() here), sorts it
 * with a generic heap sort that calls the comparator through a pointer (lib/sort.c's
 * sort()), using upstream's comparator (idle time, negative for accessed regions), then
 * walks it for the percentiles, and sums the bandwidth over the list.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

struct list_head {
	struct list_head *next, *prev;
};

struct damon_addr_range {
	unsigned long start, end;
};

/* The fields of 7.3's struct damon_region that the refresh reads, in its order. */
struct damon_region {
	struct damon_addr_range ar;
	unsigned long sampling_addr;
	unsigned int nr_accesses;
	unsigned int nr_accesses_bp;
	struct list_head list;
	unsigned int age;
	unsigned int last_nr_accesses;
};

/* What the Rust side hands over: RegionSample's fields. */
struct region_in {
	uint64_t start, end;
	uint32_t nr_accesses, age;
};

struct upstream_target {
	struct list_head regions;
	unsigned int nr_regions;
};

#define region_of(node) \
	((struct damon_region *)((char *)(node) - offsetof(struct damon_region, list)))

#define USEC_PER_MSEC 1000L
#define MSEC_PER_SEC 1000L

struct upstream_target *upstream_target_new(const struct region_in *in, size_t n)
{
	struct upstream_target *t = malloc(sizeof(*t));

	if (!t)
		return NULL;
	t->regions.next = t->regions.prev = &t->regions;
	t->nr_regions = 0;
	for (size_t i = 0; i < n; i++) {
		struct damon_region *r = calloc(1, sizeof(*r));

		if (!r)
			abort();
		r->ar.start = in[i].start;
		r->ar.end = in[i].end;
		r->nr_accesses = in[i].nr_accesses;
		r->age = in[i].age;
		/* list_add_tail() */
		r->list.prev = t->regions.prev;
		r->list.next = &t->regions;
		t->regions.prev->next = &r->list;
		t->regions.prev = &r->list;
		t->nr_regions++;
	}
	return t;
}

void upstream_target_free(struct upstream_target *t)
{
	struct list_head *node = t->regions.next;

	while (node != &t->regions) {
		struct list_head *next = node->next;

		free(region_of(node));
		node = next;
	}
	free(t);
}

static int damon_stat_idletime(const struct damon_region *r)
{
	if (r->nr_accesses)
		return -1 * (r->age + 1);
	return r->age + 1;
}

static int damon_stat_cmp_regions(const void *a, const void *b)
{
	const struct damon_region *ra = *(const struct damon_region **)a;
	const struct damon_region *rb = *(const struct damon_region **)b;

	return damon_stat_idletime(ra) - damon_stat_idletime(rb);
}

/* lib/sort.c's way: swap word by word, and sift down with the fewest comparisons. */
static void swap_words(void *a, void *b, size_t size)
{
	unsigned long *x = a, *y = b;

	for (size_t i = 0; i < size / sizeof(unsigned long); i++) {
		unsigned long t = x[i];

		x[i] = y[i];
		y[i] = t;
	}
}

/* The offset of the parent of the element at offset @i, for elements of @size bytes. */
static size_t parent(size_t i, unsigned int lsbit, size_t size)
{
	i -= size;
	i -= size & -(i & lsbit);
	return i / 2;
}

/*
 * lib/sort.c's bottom-up heap sort of @num elements of @size bytes, comparing through
 * @cmp: sift down to a leaf along the larger children, then back up to where the element
 * belongs, which takes about half the comparisons of the textbook sift-down.
 */
static void heap_sort(void *base, size_t num, size_t size,
		      int (*cmp)(const void *, const void *))
{
	char *p = base;
	size_t n = num * size, a = (num / 2) * size;
	const unsigned int lsbit = size & -size;

	if (!a) /* fewer than two elements */
		return;
	for (;;) {
		size_t b, c, d;

		if (a) /* building the heap: sift down the element before a */
			a -= size;
		else if (n -= size) /* sorting: move the root to the end */
			swap_words(p, p + n, size);
		else
			break;
		for (b = a; c = 2 * b + size, (d = c + size) < n;)
			b = cmp(p + c, p + d) >= 0 ? c : d;
		if (d == n) /* the last leaf has no sibling */
			b = c;
		while (b != a && cmp(p + a, p + b) >= 0)
			b = parent(b, lsbit, size);
		c = b; /* where the element at a belongs */
		while (b != a) {
			b = parent(b, lsbit, size);
			swap_words(p + b, p + c, size);
		}
	}
}

/*
 * One refresh: the bandwidth and the 101 idle time percentiles (in ms) of the target.
 * Returns 0, or -1 when the pointer array cannot be allocated (as upstream, which then
 * keeps its old percentiles).
 */
int upstream_refresh(const struct upstream_target *t, unsigned long aggr_interval,
		     unsigned long *bandwidth, long *percentiles)
{
	const struct list_head *node;
	struct damon_region **sorted;
	unsigned long access_bytes = 0, total_sz = 0, accounted_bytes = 0;
	unsigned int nr_regions = 0;
	int next_percentile = 0;

	/* damon_stat_set_estimated_memory_bandwidth() */
	for (node = t->regions.next; node != &t->regions; node = node->next) {
		const struct damon_region *r = region_of(node);

		access_bytes += (r->ar.end - r->ar.start) * r->nr_accesses;
	}
	*bandwidth = access_bytes * USEC_PER_MSEC * MSEC_PER_SEC / aggr_interval;

	/* damon_stat_sort_regions() */
	sorted = malloc(sizeof(*sorted) * t->nr_regions);
	if (!sorted)
		return -1;
	for (node = t->regions.next; node != &t->regions; node = node->next) {
		struct damon_region *r = region_of(node);

		sorted[nr_regions++] = r;
		total_sz += r->ar.end - r->ar.start;
	}
	heap_sort(sorted, nr_regions, sizeof(*sorted), damon_stat_cmp_regions);

	/* damon_stat_set_idletime_percentiles() */
	for (unsigned int i = 0; i < nr_regions; i++) {
		const struct damon_region *region = sorted[i];

		accounted_bytes += region->ar.end - region->ar.start;
		while (next_percentile <= 100 &&
		       (unsigned long)next_percentile <= accounted_bytes * 100 / total_sz)
			percentiles[next_percentile++] =
				damon_stat_idletime(region) * (long)aggr_interval / USEC_PER_MSEC;
	}
	free(sorted);
	return 0;
}
