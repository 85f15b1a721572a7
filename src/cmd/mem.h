/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * vigil mem's pure logic, kept apart so tests/unit/test_mem.c checks it
 * without a kernel: /proc/PID/maps lines, what a mapping is called, the
 * events list, and merging rows that name the same mapping.
 */
#ifndef VIGIL_CMD_MEM_H
#define VIGIL_CMD_MEM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "vigil/events.h"

#define MEM_PATH_LEN 256

enum mem_events { MEM_EV_FAULTS = 1 << 0, MEM_EV_OOM = 1 << 1, MEM_EV_RSS = 1 << 2 };

/* "faults,oom,rss" (any order, at least one); 0, or -1 naming the bad word in bad */
static inline int mem_events_parse(const char *s, uint32_t *out, char *bad, size_t n)
{
	static const char *const names[] = { "faults", "oom", "rss" };
	uint32_t v = 0;

	while (*s) {
		size_t len = strcspn(s, ",");
		bool ok = false;

		for (int i = 0; i < 3; i++)
			if (len == strlen(names[i]) && !strncmp(s, names[i], len)) {
				v |= 1u << i;
				ok = true;
			}
		if (!ok) {
			snprintf(bad, n, "%.*s", (int)len, s);
			return -1;
		}
		s += len;
		if (*s == ',')
			s++;
	}
	if (!v) {
		snprintf(bad, n, "%s", "");
		return -1;
	}
	*out = v;
	return 0;
}

static inline const char *mem_map_kind(uint32_t map)
{
	switch (map) {
	case VIGIL_MEM_MAP_FILE: return "file";
	case VIGIL_MEM_MAP_HEAP: return "heap";
	case VIGIL_MEM_MAP_STACK: return "stack";
	case VIGIL_MEM_MAP_ANON: return "anon";
	case VIGIL_MEM_MAP_NONE: return "none";
	default: return "unknown";
	}
}

/* the name a mapping of this kind gets when there is no path */
static inline const char *mem_map_default_name(uint32_t map)
{
	switch (map) {
	case VIGIL_MEM_MAP_HEAP: return "[heap]";
	case VIGIL_MEM_MAP_STACK: return "[stack]";
	case VIGIL_MEM_MAP_ANON: return "anon";
	case VIGIL_MEM_MAP_NONE: return "(no mapping)";
	default: return "(unknown)";
	}
}

/* one line of /proc/PID/maps */
struct mem_vma {
	uint64_t start, end, ino;
	uint32_t dev;		/* kernel encoding, major << 20 | minor, as s_dev */
	char path[MEM_PATH_LEN];	/* "" for anonymous memory */
};

/* "start-end perms offset MAJ:MIN inode   path"; 0 or -1 */
static inline int mem_maps_parse(const char *line, struct mem_vma *v)
{
	unsigned long long s, e, off, ino;
	unsigned int maj, min;
	char perms[8];
	int pos = 0;

	if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %n", &s, &e, perms, &off, &maj, &min,
		   &ino, &pos) < 7)
		return -1;
	v->start = s;
	v->end = e;
	v->ino = ino;
	v->dev = maj << 20 | min;
	v->path[0] = 0;
	if (pos > 0) {
		const char *p = line + pos;
		size_t len = strcspn(p, "\n");

		while (len && p[len - 1] == ' ')
			len--;
		if (len >= sizeof(v->path))
			len = sizeof(v->path) - 1;
		memcpy(v->path, p, len);
		v->path[len] = 0;
	}
	return 0;
}

/* the kind of a /proc/PID/maps mapping, for the "maps" path */
static inline uint32_t mem_vma_kind(const struct mem_vma *v)
{
	if (v->path[0] == '/' || v->ino)
		return VIGIL_MEM_MAP_FILE;
	if (!strcmp(v->path, "[heap]"))
		return VIGIL_MEM_MAP_HEAP;
	if (!strcmp(v->path, "[stack]"))
		return VIGIL_MEM_MAP_STACK;
	return VIGIL_MEM_MAP_ANON;	/* also [vdso] and [vvar], as bpf_find_vma sees them */
}

/* a row as shown: one process, one mapping, the interval's counts */
struct mem_show {
	uint32_t pid, uid, map;
	uint64_t cgroup_id;
	uint64_t faults, major;
	uint64_t dev, ino;
	char comm[VIGIL_COMM_LEN];
	char name[MEM_PATH_LEN];
};

static inline int mem_show_key_cmp(const void *a, const void *b)
{
	const struct mem_show *x = a, *y = b;
	int c;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->map != y->map)
		return x->map < y->map ? -1 : 1;
	c = strcmp(x->name, y->name);
	if (c)
		return c;
	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

/* most faults first; ties in key order so runs print alike */
static inline int mem_show_cmp(const void *a, const void *b)
{
	const struct mem_show *x = a, *y = b;

	if (x->faults != y->faults)
		return x->faults > y->faults ? -1 : 1;
	return mem_show_key_cmp(a, b);
}

/*
 * Sum rows that name the same process and mapping (the "maps" path counts
 * per 64 KiB, and several chunks fall in one mapping). Sorts by key;
 * returns the new count.
 */
static inline size_t mem_show_merge(struct mem_show *s, size_t n)
{
	size_t o = 0;

	if (!n)
		return 0;
	qsort(s, n, sizeof(*s), mem_show_key_cmp);
	for (size_t i = 1; i < n; i++) {
		struct mem_show *d = &s[o];

		if (s[i].pid == d->pid && s[i].map == d->map && s[i].dev == d->dev && s[i].ino == d->ino &&
		    !strcmp(s[i].name, d->name)) {
			d->faults += s[i].faults;
			d->major += s[i].major;
		} else {
			s[++o] = s[i];
		}
	}
	return o + 1;
}

/* a process's RSS change by kind: cur - base, and the sum of the resident kinds */
static inline __s64 mem_rss_growth(const __s64 *cur, const __s64 *base, __s64 *d)
{
	for (int i = 0; i < VIGIL_RSS__COUNT; i++)
		d[i] = cur[i] - base[i];
	return d[VIGIL_RSS_ANON] + d[VIGIL_RSS_FILE] + d[VIGIL_RSS_SHMEM];
}

#endif /* VIGIL_CMD_MEM_H */
