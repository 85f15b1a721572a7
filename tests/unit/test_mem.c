// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* Unit tests of vigil mem's pure logic: --events, /proc/PID/maps lines, kinds, row merges, RSS growth. */
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "cmd/mem.h"

static void test_events_parse(void)
{
	char bad[32];
	uint32_t v = 0;

	CHECK(mem_events_parse("faults", &v, bad, sizeof(bad)) == 0 && v == MEM_EV_FAULTS);
	CHECK(mem_events_parse("rss,oom", &v, bad, sizeof(bad)) == 0 && v == (MEM_EV_RSS | MEM_EV_OOM));
	CHECK(mem_events_parse("faults,oom,rss", &v, bad, sizeof(bad)) == 0 && v == 7);
	CHECK(mem_events_parse("faults,faults", &v, bad, sizeof(bad)) == 0 && v == MEM_EV_FAULTS);
	v = 99;
	CHECK(mem_events_parse("faults,bogus", &v, bad, sizeof(bad)) < 0 && v == 99);
	CHECK_STR(bad, "bogus");
	CHECK(mem_events_parse("fault", &v, bad, sizeof(bad)) < 0);
	CHECK_STR(bad, "fault");
	CHECK(mem_events_parse("", &v, bad, sizeof(bad)) < 0);
	CHECK(mem_events_parse(",", &v, bad, sizeof(bad)) < 0);
	CHECK(mem_events_parse("OOM", &v, bad, sizeof(bad)) < 0);
}

static void test_maps_parse(void)
{
	struct mem_vma v;

	CHECK(mem_maps_parse("55d0c8a00000-55d0c8a21000 rw-p 00000000 00:00 0                          [heap]\n", &v) == 0);
	CHECK(v.start == 0x55d0c8a00000ull && v.end == 0x55d0c8a21000ull && v.ino == 0);
	CHECK_STR(v.path, "[heap]");
	CHECK(mem_vma_kind(&v) == VIGIL_MEM_MAP_HEAP);
	CHECK(mem_maps_parse("7f1c2a000000-7f1c2a028000 r--p 00000000 fe:01 1835023                    /usr/lib/x86_64-linux-gnu/libc.so.6\n", &v) == 0);
	CHECK(v.dev == (0xfeu << 20 | 1) && v.ino == 1835023);
	CHECK_STR(v.path, "/usr/lib/x86_64-linux-gnu/libc.so.6");
	CHECK(mem_vma_kind(&v) == VIGIL_MEM_MAP_FILE);
	/* anonymous: no path at all, not even trailing blanks */
	CHECK(mem_maps_parse("7f1c2a200000-7f1c2a300000 rw-p 00000000 00:00 0 \n", &v) == 0);
	CHECK_STR(v.path, "");
	CHECK(mem_vma_kind(&v) == VIGIL_MEM_MAP_ANON);
	CHECK(mem_maps_parse("7ffd1000-7ffd2000 rw-p 00000000 00:00 0    [stack]", &v) == 0);
	CHECK(mem_vma_kind(&v) == VIGIL_MEM_MAP_STACK);
	CHECK(mem_maps_parse("7ffd3000-7ffd5000 r-xp 00000000 00:00 0    [vdso]", &v) == 0);
	CHECK(mem_vma_kind(&v) == VIGIL_MEM_MAP_ANON);
	CHECK_STR(v.path, "[vdso]");
	/* a deleted file keeps its inode: still a file mapping */
	CHECK(mem_maps_parse("1000-2000 r--s 00000000 00:05 42 /memfd:x (deleted)", &v) == 0);
	CHECK(mem_vma_kind(&v) == VIGIL_MEM_MAP_FILE);
	CHECK_STR(v.path, "/memfd:x (deleted)");
	CHECK(mem_maps_parse("garbage", &v) < 0);
	CHECK(mem_maps_parse("", &v) < 0);
}

static void test_names(void)
{
	CHECK_STR(mem_map_kind(VIGIL_MEM_MAP_FILE), "file");
	CHECK_STR(mem_map_kind(VIGIL_MEM_MAP_ANON), "anon");
	CHECK_STR(mem_map_kind(VIGIL_MEM_MAP_UNKNOWN), "unknown");
	CHECK_STR(mem_map_kind(1234), "unknown");
	CHECK_STR(mem_map_default_name(VIGIL_MEM_MAP_HEAP), "[heap]");
	CHECK_STR(mem_map_default_name(VIGIL_MEM_MAP_STACK), "[stack]");
	CHECK_STR(mem_map_default_name(VIGIL_MEM_MAP_NONE), "(no mapping)");
}

static struct mem_show sh(uint32_t pid, uint32_t map, const char *name, uint64_t ino, uint64_t f,
			  uint64_t m)
{
	struct mem_show s;

	memset(&s, 0, sizeof(s));
	s.pid = pid;
	s.map = map;
	s.ino = ino;
	s.faults = f;
	s.major = m;
	snprintf(s.name, sizeof(s.name), "%s", name);
	return s;
}

static void test_merge(void)
{
	struct mem_show s[6] = {
		sh(2, VIGIL_MEM_MAP_ANON, "anon", 0, 10, 0),
		sh(1, VIGIL_MEM_MAP_FILE, "/lib/a", 7, 3, 1),
		sh(2, VIGIL_MEM_MAP_ANON, "anon", 0, 5, 0),
		sh(1, VIGIL_MEM_MAP_FILE, "/lib/a", 7, 4, 2),
		sh(1, VIGIL_MEM_MAP_FILE, "/lib/b", 8, 1, 0),
		sh(2, VIGIL_MEM_MAP_HEAP, "[heap]", 0, 2, 0),
	};
	size_t n = mem_show_merge(s, 6);

	CHECK(n == 4);
	/* key order: pid, kind, name */
	CHECK(s[0].pid == 1 && !strcmp(s[0].name, "/lib/a") && s[0].faults == 7 && s[0].major == 3);
	CHECK(s[1].pid == 1 && !strcmp(s[1].name, "/lib/b") && s[1].faults == 1);
	CHECK(s[2].pid == 2 && s[2].map == VIGIL_MEM_MAP_HEAP && s[2].faults == 2);
	CHECK(s[3].pid == 2 && s[3].map == VIGIL_MEM_MAP_ANON && s[3].faults == 15);
	qsort(s, n, sizeof(s[0]), mem_show_cmp);
	CHECK(s[0].faults == 15 && s[1].faults == 7 && s[2].faults == 2 && s[3].faults == 1);
	CHECK(mem_show_merge(s, 0) == 0);
	/* the same name in two files (different inodes) stays two rows */
	struct mem_show t[2] = { sh(1, VIGIL_MEM_MAP_FILE, "x", 1, 1, 0), sh(1, VIGIL_MEM_MAP_FILE, "x", 2, 1, 0) };
	CHECK(mem_show_merge(t, 2) == 2);
}

static void test_rss_growth(void)
{
	__s64 cur[VIGIL_RSS__COUNT] = { 4096, 100 << 20, 8192, 0 };
	__s64 base[VIGIL_RSS__COUNT] = { 8192, 1 << 20, 0, 4096 };
	__s64 d[VIGIL_RSS__COUNT];

	/* file -4K, anon +99M, swap +8K (not resident), shmem -4K */
	CHECK(mem_rss_growth(cur, base, d) == (99ll << 20) - 8192);
	CHECK(d[VIGIL_RSS_FILE] == -4096 && d[VIGIL_RSS_ANON] == 99ll << 20);
	CHECK(d[VIGIL_RSS_SWAP] == 8192 && d[VIGIL_RSS_SHMEM] == -4096);
}

int main(void)
{
	test_events_parse();
	test_maps_parse();
	test_names();
	test_merge();
	test_rss_growth();
	return check_done("test_mem");
}
