// SPDX-License-Identifier: GPL-2.0
/*
 * A memory access workload with a known ground truth, for `make compare`.
 *
 * It maps anonymous memory, writes every 4 KiB page of it once (so all of it is resident),
 * then keeps writing one byte every STRIDE bytes of a hot part until killed, pausing
 * 1 ms between passes. The pages it keeps touching are the truly hot memory: their
 * number times 4 KiB is printed as the ground truth.
 *
 * Usage:
 *   workload run --size MIB [--hot MIB] [--hot-offset MIB] [--stride BYTES]
 *                [--thp huge|nohuge|default] [--move-after SEC --move-to MIB]
 *                [--flush-tlb 1]
 *   workload system-ram      prints the bytes of System RAM in /proc/iomem, then the start
 *                            and end (exclusive) of the span from its lowest to its highest
 *                            address, in decimal
 *   workload mark snapshot|profile
 *                            executes the TCG plugin's marker instruction
 *                            (benches/tcg-plugin/): the plugin writes every vCPU's
 *                            instruction count, and with `profile` the profiled vCPU's
 *                            blocks too; a no-op without the plugin
 *   workload spin N          the plugin's known answer: a profile marker, N passes of a
 *                            loop of exactly 4 instructions, a profile marker; prints the
 *                            loop's address
 *   workload truth-range START END
 *                            tells the plugin's truth which guest-physical bytes to report
 *                            on (what DAMON_STAT monitors)
 *   workload truth AGGR_US   makes the plugin write the truth, AGGR_US being the current
 *                            aggregation interval
 *   workload truth-test      the truth's known answer (see truth_test())
 *
 * --hot 0 (the default) is the idle workload: after the first pass nothing is touched.
 * --thp huge/nohuge asks for or refuses transparent huge pages with madvise(); the
 * system-wide setting (/sys/kernel/mm/transparent_hugepage/enabled) still applies.
 * --move-after moves the hot part to --move-to after that many seconds (a phase change)
 * and prints the CLOCK_BOOTTIME second (the clock of /proc/uptime) when it did.
 * --flush-tlb 1 makes the CPU running it drop its cached translations after every pass
 * (an mprotect() of 1 MiB of its own, more pages than the kernel flushes one by one), so
 * that the next pass sets the Accessed bits that DAMON cleared again even where the TLB
 * could hold all of the hot part (QEMU's software TLB can: see
 * Documentation/accuracy-and-cost.md).
 *
 * Built static (gcc -static) so that it runs in the busybox guest. Written in C rather
 * than Rust to need nothing but Debian's gcc and libc6-dev, already there for kbuild.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024UL * 1024UL)
#define PAGE 4096UL
#define HUGE (2 * MIB)

/*
 * The TCG plugin's marker, `nopl 0xda57TTTT(%rax)` (benches/tcg-plugin/src/marker.rs):
 * a no-op on any x86_64 CPU.
 */
#define MARK(tag) asm volatile(".byte 0x0f, 0x1f, 0x80\n\t.long 0xda570000 + " #tag ::: "memory")

static void usage(void)
{
	fprintf(stderr,
		"usage: workload run --size MIB [--hot MIB] [--hot-offset MIB] [--stride BYTES]\n"
		"                    [--thp huge|nohuge|default] [--move-after SEC --move-to MIB]\n"
		"                    [--flush-tlb 1]\n"
		"       workload system-ram\n"
		"       workload mark snapshot|profile\n"
		"       workload spin N\n"
		"       workload truth-range START END | truth AGGR_US | truth-test\n");
	exit(2);
}

/* Parses a non-negative decimal number or exits with a message naming the option. */
static unsigned long number(const char *opt, const char *text)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno || end == text || *end || text[0] == '-') {
		fprintf(stderr, "workload: %s wants a non-negative number, not '%s'\n", opt,
			text);
		exit(2);
	}
	return v;
}

static double boottime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Sums the System RAM ranges of /proc/iomem (root sees real addresses). */
static int system_ram(void)
{
	FILE *f = fopen("/proc/iomem", "r");
	char line[256];
	uint64_t start, end, total = 0, lowest = UINT64_MAX, highest = 0;

	if (!f) {
		perror("workload: /proc/iomem");
		return 1;
	}
	while (fgets(line, sizeof(line), f)) {
		/* Top-level lines only: nested ones start with spaces. */
		if (line[0] == ' ' || !strstr(line, ": System RAM"))
			continue;
		if (sscanf(line, "%" SCNx64 "-%" SCNx64, &start, &end) == 2 && end > start) {
			total += end - start + 1;
			lowest = start < lowest ? start : lowest;
			highest = end + 1 > highest ? end + 1 : highest;
		}
	}
	fclose(f);
	if (!total) {
		fprintf(stderr, "workload: no System RAM in /proc/iomem (not root?)\n");
		return 1;
	}
	printf("%" PRIu64 " %" PRIu64 " %" PRIu64 "\n", total, lowest, highest);
	return 0;
}

static void touch(volatile unsigned char *p, unsigned long from, unsigned long len,
		  unsigned long stride)
{
	for (unsigned long off = from; off < from + len; off += stride)
		p[off]++;
}

/*
 * Makes every 4 KiB page of p resident with a plain store, never a read first: on 6.12 a
 * read fault on an untouched 2 MiB range maps the shared huge zero page, and the write
 * that follows splits it into 4 KiB pages instead of allocating a huge one (7.3 allocates
 * one), so touch()'s read-then-write would leave 6.12 with no huge pages under THP
 * `always` (see Documentation/accuracy-and-cost.md).
 */
static void populate(volatile unsigned char *p, unsigned long len)
{
	for (unsigned long off = 0; off < len; off += PAGE)
		p[off] = 1;
}

extern const char spin_loop[];

/*
 * N passes of a 4-instruction loop between two markers. The loop starts a translation
 * block of its own on every pass but the first (which falls into it from the block
 * before), so the plugin's profile must show the block at spin_loop, 4 instructions,
 * executed exactly N - 1 times, and the vCPU's count must grow by at least 4 N.
 */
static int spin(unsigned long n)
{
	unsigned long left = n;

	if (n < 2) {
		fprintf(stderr, "workload: spin wants at least 2 passes\n");
		return 2;
	}
	MARK(2);
	asm volatile("	.p2align 6\n"
		     "	.globl spin_loop\n"
		     "spin_loop:\n"
		     "	add $1, %%rax\n"
		     "	xor %%rdx, %%rax\n"
		     "	sub $1, %0\n"
		     "	jnz spin_loop\n"
		     : "+r"(left)
		     :
		     : "rax", "rdx", "cc");
	MARK(2);
	printf("spin passes=%lu loop_insns=4 loop_vaddr=%#lx\n", n, (unsigned long)spin_loop);
	return 0;
}

/* One nibble marker per digit, tags 0x10 to 0x1f (marker.rs). */
static void nibble(unsigned int digit)
{
	switch (digit & 15) {
	case 0: MARK(0x10); break;
	case 1: MARK(0x11); break;
	case 2: MARK(0x12); break;
	case 3: MARK(0x13); break;
	case 4: MARK(0x14); break;
	case 5: MARK(0x15); break;
	case 6: MARK(0x16); break;
	case 7: MARK(0x17); break;
	case 8: MARK(0x18); break;
	case 9: MARK(0x19); break;
	case 10: MARK(0x1a); break;
	case 11: MARK(0x1b); break;
	case 12: MARK(0x1c); break;
	case 13: MARK(0x1d); break;
	case 14: MARK(0x1e); break;
	default: MARK(0x1f); break;
	}
}

/* Passes a number to the plugin's truth: 16 nibbles, most significant first. */
static void mark_number(uint64_t v)
{
	for (int shift = 60; shift >= 0; shift -= 4)
		nibble((unsigned int)(v >> shift));
}

/* The frame number of the page at p, from /proc/self/pagemap (root sees it), or 0. */
static uint64_t pfn_of(int pagemap, const void *p)
{
	uint64_t entry;
	off_t at = (off_t)((uintptr_t)p / PAGE * sizeof(entry));

	if (pread(pagemap, &entry, sizeof(entry), at) != sizeof(entry) || !(entry >> 63))
		return 0;
	return entry & ((1ULL << 55) - 1);
}

static void sleep_ms(long ms)
{
	const struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

#define TEST_PAGES 64
static const unsigned int huge_touched[] = { 0, 1, 2, 100, 200, 300, 511 };

/*
 * The truth's known answer. Maps 64 resident 4 KiB pages and one huge page (THP must be
 * `always` or `madvise`), then, 300 ms apart: a stamp marker, writes pages 0-15 (set a),
 * a stamp, writes pages 16-31 (set b) and 7 of the huge page's 512 subpages, a stamp,
 * and queries the frame of every page and subpage. Nothing else touches them (the
 * kernel zeroed the huge page at the fault, before the first stamp), so every frame's
 * last access must fall between the stamps its set says: a between the first and the
 * second, b between the second and the third, c (the rest) before the first. Prints
 * the expected set of every queried frame, in the order of the queries.
 */
static int truth_test(void)
{
	unsigned char *small = mmap(NULL, TEST_PAGES * PAGE, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *raw = mmap(NULL, 2 * HUGE, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int pagemap = open("/proc/self/pagemap", O_RDONLY);
	uint64_t small_pfn[TEST_PAGES], huge_pfn;
	char expect[TEST_PAGES + HUGE / PAGE + 1];
	size_t n = 0;

	if (small == MAP_FAILED || raw == MAP_FAILED || pagemap < 0) {
		perror("workload: truth-test");
		return 1;
	}
	unsigned char *huge = (unsigned char *)(((uintptr_t)raw + HUGE - 1) & ~(HUGE - 1));

	if (madvise(small, TEST_PAGES * PAGE, MADV_NOHUGEPAGE) ||
	    madvise(huge, HUGE, MADV_HUGEPAGE)) {
		perror("workload: madvise");
		return 1;
	}
	populate(small, TEST_PAGES * PAGE);
	populate(huge, HUGE);
	if (mlock(small, TEST_PAGES * PAGE) || mlock(huge, HUGE)) {
		perror("workload: mlock");
		return 1;
	}
	for (int i = 0; i < TEST_PAGES; i++)
		small_pfn[i] = pfn_of(pagemap, small + i * PAGE);
	huge_pfn = pfn_of(pagemap, huge);
	for (unsigned long i = 0; i < HUGE / PAGE; i++) {
		if (!huge_pfn || pfn_of(pagemap, huge + i * PAGE) != huge_pfn + i) {
			fprintf(stderr, "workload: truth-test got no huge page (THP never?)\n");
			return 1;
		}
	}
	for (int i = 0; i < TEST_PAGES; i++) {
		if (!small_pfn[i]) {
			fprintf(stderr, "workload: truth-test: no frame number (not root?)\n");
			return 1;
		}
	}

	sleep_ms(300);
	MARK(7);
	touch(small, 0, 16 * PAGE, PAGE);
	sleep_ms(300);
	MARK(7);
	touch(small, 16 * PAGE, 16 * PAGE, PAGE);
	for (size_t i = 0; i < sizeof(huge_touched) / sizeof(huge_touched[0]); i++)
		touch(huge, huge_touched[i] * PAGE, 1, PAGE);
	sleep_ms(300);
	MARK(7);

	for (int i = 0; i < TEST_PAGES; i++) {
		mark_number(small_pfn[i]);
		MARK(6);
		expect[n++] = i < 16 ? 'a' : i < 32 ? 'b' : 'c';
	}
	for (unsigned long i = 0; i < HUGE / PAGE; i++) {
		char set = 'c';

		for (size_t j = 0; j < sizeof(huge_touched) / sizeof(huge_touched[0]); j++)
			set = huge_touched[j] == i ? 'b' : set;
		mark_number(huge_pfn + i);
		MARK(6);
		expect[n++] = set;
	}
	expect[n] = 0;
	printf("truth-test stamps=3 pages=%zu huge_pfn=%" PRIu64 " expect=%s\n", n, huge_pfn,
	       expect);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long size = 0, hot = 0, hot_off = 0, stride = PAGE, move_after = 0;
	unsigned long move_to = 0;
	const char *thp = "default";
	int has_move_to = 0, flush_tlb = 0;

	if (argc == 2 && !strcmp(argv[1], "system-ram"))
		return system_ram();
	if (argc == 3 && !strcmp(argv[1], "mark") && !strcmp(argv[2], "snapshot")) {
		MARK(1);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "mark") && !strcmp(argv[2], "profile")) {
		MARK(2);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "spin"))
		return spin(number("spin", argv[2]));
	if (argc == 4 && !strcmp(argv[1], "truth-range")) {
		mark_number(number("truth-range", argv[2]));
		MARK(4);
		mark_number(number("truth-range", argv[3]));
		MARK(5);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "truth")) {
		mark_number(number("truth", argv[2]));
		MARK(3);
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "truth-test"))
		return truth_test();
	if (argc < 2 || strcmp(argv[1], "run"))
		usage();
	for (int i = 2; i < argc; i += 2) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			usage();
		if (!strcmp(o, "--size"))
			size = number(o, v) * MIB;
		else if (!strcmp(o, "--hot"))
			hot = number(o, v) * MIB;
		else if (!strcmp(o, "--hot-offset"))
			hot_off = number(o, v) * MIB;
		else if (!strcmp(o, "--stride"))
			stride = number(o, v);
		else if (!strcmp(o, "--thp"))
			thp = v;
		else if (!strcmp(o, "--move-after"))
			move_after = number(o, v);
		else if (!strcmp(o, "--move-to")) {
			move_to = number(o, v) * MIB;
			has_move_to = 1;
		} else if (!strcmp(o, "--flush-tlb"))
			flush_tlb = number(o, v) != 0;
		else
			usage();
	}
	if (!size || !stride || hot_off + hot > size ||
	    (move_after && (!has_move_to || move_to + hot > size))) {
		fprintf(stderr, "workload: the hot part (and where it moves) must lie within "
				"--size, and --stride must be positive\n");
		return 2;
	}

	/* Map 2 MiB more and align, so that huge pages are possible from the start. */
	unsigned char *raw = mmap(NULL, size + HUGE, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED) {
		perror("workload: mmap");
		return 1;
	}
	unsigned char *p = (unsigned char *)(((uintptr_t)raw + HUGE - 1) & ~(HUGE - 1));

	if (!strcmp(thp, "huge") || !strcmp(thp, "nohuge")) {
		int advice = !strcmp(thp, "huge") ? MADV_HUGEPAGE : MADV_NOHUGEPAGE;

		if (madvise(p, size, advice)) {
			perror("workload: madvise");
			return 1;
		}
	} else if (strcmp(thp, "default")) {
		usage();
	}

	populate(p, size);
	/* Every distinct 4 KiB page the hot loop writes is truly hot. */
	unsigned long hot_pages = 0;
	if (hot)
		hot_pages = stride >= PAGE ? (hot + stride - 1) / stride : (hot + PAGE - 1) / PAGE;
	printf("ready resident_bytes=%lu hot_bytes=%lu stride=%lu at=%.3f\n", size,
	       hot_pages * PAGE, stride, boottime());
	fflush(stdout);

	/* 256 resident pages whose protection changes after each pass: more than the 33
	 * pages x86 flushes one by one, so the kernel flushes this CPU's whole TLB. */
	unsigned char *scratch = NULL;
	if (flush_tlb) {
		scratch = mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);
		if (scratch == MAP_FAILED) {
			perror("workload: mmap");
			return 1;
		}
		populate(scratch, MIB);
	}

	double start = boottime();
	int moved = 0;
	const struct timespec pause_1ms = { 0, 1000000 };

	for (;;) {
		if (!hot) {
			pause();
			continue;
		}
		if (move_after && !moved && boottime() - start >= move_after) {
			hot_off = move_to;
			moved = 1;
			printf("moved hot_offset=%lu at=%.3f\n", hot_off, boottime());
			fflush(stdout);
		}
		touch(p, hot_off, hot, stride);
		if (scratch && (mprotect(scratch, MIB, PROT_READ) ||
				mprotect(scratch, MIB, PROT_READ | PROT_WRITE))) {
			perror("workload: mprotect");
			return 1;
		}
		nanosleep(&pause_1ms, NULL);
	}
}
