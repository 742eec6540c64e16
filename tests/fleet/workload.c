// SPDX-License-Identifier: GPL-2.0
/*
 * A memory workload placed on one NUMA node, for the fleet scenarios.
 *
 * Usage: fleet-workload NODE MIB [LOW HIGH]
 *
 * Binds its memory to NODE with set_mempolicy(MPOL_BIND) (the guest has no libnuma or
 * numactl), faults in MIB MiB of anonymous memory, and prints one line saying where the
 * pages landed in physical memory (read from /proc/self/pagemap, which shows frame
 * numbers to root): how many pages lie below 4 GiB, above it, and in the physical range
 * [LOW, HIGH) when given (hexadecimal or decimal). Then it writes one byte of every page,
 * pass after pass, until killed, so that the pages keep being accessed.
 *
 * Built static by tests/fleet/run.py, since the guest has no C library.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MPOL_BIND 2
#define PAGE_SIZE 4096UL
#define PAGEMAP_PRESENT (1ULL << 63)
#define PAGEMAP_PFN_MASK ((1ULL << 55) - 1)
#define FOUR_GIB (4ULL << 30)

static void die(const char *what)
{
	fprintf(stderr, "fleet-workload: %s: %s\n", what, strerror(errno));
	exit(1);
}

static unsigned long long parse_number(const char *text, const char *what)
{
	char *end;

	errno = 0;
	unsigned long long value = strtoull(text, &end, 0);
	if (errno || end == text || *end) {
		fprintf(stderr, "fleet-workload: %s: not a number: '%s'\n", what, text);
		exit(2);
	}
	return value;
}

int main(int argc, char **argv)
{
	if (argc != 3 && argc != 5) {
		fprintf(stderr, "usage: fleet-workload NODE MIB [LOW HIGH]\n");
		return 2;
	}
	unsigned long long node = parse_number(argv[1], "NODE");
	unsigned long long mib = parse_number(argv[2], "MIB");
	unsigned long long low = argc == 5 ? parse_number(argv[3], "LOW") : 0;
	unsigned long long high = argc == 5 ? parse_number(argv[4], "HIGH") : 0;
	if (node >= 64 || mib == 0 || mib > (1ULL << 20)) {
		fprintf(stderr, "fleet-workload: NODE must be below 64, MIB in 1..1048576\n");
		return 2;
	}

	unsigned long nodemask = 1UL << node;
	if (syscall(SYS_set_mempolicy, MPOL_BIND, &nodemask, 64UL))
		die("set_mempolicy");

	size_t size = mib << 20;
	size_t pages = size / PAGE_SIZE;
	volatile unsigned char *mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
					   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap");
	for (size_t i = 0; i < pages; i++)
		mem[i * PAGE_SIZE] = 1;

	uint64_t *entries = malloc(pages * sizeof(*entries));
	if (!entries)
		die("malloc");
	int fd = open("/proc/self/pagemap", O_RDONLY);
	if (fd < 0)
		die("open /proc/self/pagemap");
	off_t offset = (uintptr_t)mem / PAGE_SIZE * sizeof(*entries);
	size_t want = pages * sizeof(*entries);
	for (size_t done = 0; done < want;) {
		ssize_t got = pread(fd, (char *)entries + done, want - done, offset + done);
		if (got <= 0)
			die("read /proc/self/pagemap");
		done += got;
	}
	close(fd);

	size_t below = 0, above = 0, in_range = 0, absent = 0;
	unsigned long long lowest = ~0ULL, highest = 0;
	for (size_t i = 0; i < pages; i++) {
		if (!(entries[i] & PAGEMAP_PRESENT) || !(entries[i] & PAGEMAP_PFN_MASK)) {
			absent++;
			continue;
		}
		unsigned long long addr = (entries[i] & PAGEMAP_PFN_MASK) * PAGE_SIZE;
		if (addr < FOUR_GIB)
			below++;
		else
			above++;
		if (addr >= low && addr < high)
			in_range++;
		if (addr < lowest)
			lowest = addr;
		if (addr > highest)
			highest = addr;
	}
	free(entries);
	printf("fleet-workload: %llu MiB on node %llu: pages=%zu below_4g=%zu above_4g=%zu in_range=%zu absent=%zu lowest=0x%llx highest=0x%llx\n",
	       mib, node, pages, below, above, in_range, absent, lowest, highest);
	fflush(stdout);

	/* A pause between passes keeps the vCPU from spinning: a pass already spans many
	 * of DAMON's sampling intervals. */
	const struct timespec pause = { .tv_nsec = 20 * 1000 * 1000 };
	for (unsigned char round = 2;; round++) {
		for (size_t i = 0; i < pages; i++)
			mem[i * PAGE_SIZE] = round;
		nanosleep(&pause, NULL);
	}
}
