// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * vigil_map_each() against real maps the test creates (root, as make test
 * runs): every entry seen exactly once with its value, per-CPU values laid
 * out per CPU, for hash, per-CPU hash, array and per-CPU array maps, and
 * more entries than one batch holds. Without privileges it says so and passes
 * nothing off as tested.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "check.h"
#include "core/bpfmap.h"

struct seen {
	uint32_t n, max, bad;
	int ncpu;
	size_t vsize;	/* per CPU, rounded to 8 */
	uint8_t *hit;
};

/* key k holds k * 3 + cpu in each CPU's first u64 (per-CPU) or k * 3 */
static int visit(void *ctx, const void *key, const void *val)
{
	struct seen *s = ctx;
	uint32_t k = *(const uint32_t *)key;

	if (k >= s->max || s->hit[k]++) {
		s->bad++;
		return 0;
	}
	for (int c = 0; c < s->ncpu; c++)
		if (*(const uint64_t *)((const char *)val + c * s->vsize) != (uint64_t)k * 3 + c)
			s->bad++;
	s->n++;
	return 0;
}

static void run(enum bpf_map_type type, uint32_t entries, uint32_t value_size, bool percpu)
{
	int ncpu = libbpf_num_possible_cpus(), fd;
	size_t vs = (value_size + 7) & ~7u;
	uint8_t *val = calloc(percpu ? ncpu : 1, vs);
	struct seen s = { .max = entries, .ncpu = percpu ? ncpu : 1, .vsize = vs,
			  .hit = calloc(entries, 1) };

	fd = bpf_map_create(type, NULL, 4, value_size, entries, NULL);
	CHECK(fd >= 0);
	if (fd < 0)
		goto out;
	for (uint32_t k = 0; k < entries; k++) {
		for (int c = 0; c < s.ncpu; c++)
			*(uint64_t *)(val + c * vs) = (uint64_t)k * 3 + c;
		CHECK(!bpf_map_update_elem(fd, &k, val, BPF_ANY));
	}
	CHECK(vigil_map_each(fd, visit, &s) == 0);
	CHECK(s.n == entries);
	CHECK(s.bad == 0);
	close(fd);
out:
	free(val);
	free(s.hit);
}

static int stop_at_ten(void *ctx, const void *key, const void *val)
{
	(void)key;
	(void)val;
	return ++*(int *)ctx == 10 ? 42 : 0;
}

int main(void)
{
	int fd, calls = 0;
	uint32_t k;
	uint64_t v = 0;

	fd = bpf_map_create(BPF_MAP_TYPE_HASH, NULL, 4, 8, 16, NULL);
	if (fd < 0 && (errno == EPERM || errno == EACCES)) {
		printf("test_bpfmap: skipped: creating BPF maps needs root (%s)\n", strerror(errno));
		return 0;
	}
	close(fd);
	run(BPF_MAP_TYPE_HASH, 3000, 8, false);
	run(BPF_MAP_TYPE_HASH, 5, 8, false);
	/* 64 KiB values: four per 256 KiB batch, so many batches */
	run(BPF_MAP_TYPE_HASH, 40, 65536, false);
	run(BPF_MAP_TYPE_PERCPU_HASH, 2000, 24, true);
	run(BPF_MAP_TYPE_ARRAY, 1000, 12, false);
	run(BPF_MAP_TYPE_PERCPU_ARRAY, 700, 8, true);
	/* the callback's non-zero return ends the walk and is returned */
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, NULL, 4, 8, 100, NULL);
	for (k = 0; k < 100; k++)
		bpf_map_update_elem(fd, &k, &v, BPF_ANY);
	CHECK(vigil_map_each(fd, stop_at_ten, &calls) == 42);
	CHECK(calls == 10);
	close(fd);
	/* not a map */
	CHECK(vigil_map_each(-1, stop_at_ten, &calls) < 0);
	return check_done("test_bpfmap");
}
