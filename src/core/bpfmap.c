// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "core/bpfmap.h"

#define ENOTSUPP_KERNEL 524	/* the kernel's ENOTSUPP, which user space has no name for */
#define BATCH_BYTES (256u << 10)	/* values per batch: bounded memory, whatever the map */

static bool percpu_type(__u32 type)
{
	return type == BPF_MAP_TYPE_PERCPU_ARRAY || type == BPF_MAP_TYPE_PERCPU_HASH ||
	       type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

static int each_key(int fd, size_t ksize, size_t vsize,
		    int (*fn)(void *ctx, const void *key, const void *val), void *ctx)
{
	char *key = malloc(ksize), *next = malloc(ksize), *val = malloc(vsize);
	void *prev = NULL;
	int r = 0;

	if (!key || !next || !val) {
		r = -ENOMEM;
		goto out;
	}
	while (!r && bpf_map_get_next_key(fd, prev, next) == 0) {
		memcpy(key, next, ksize);
		prev = key;
		if (bpf_map_lookup_elem(fd, key, val))
			continue;	/* deleted meanwhile */
		r = fn(ctx, key, val);
	}
out:
	free(key);
	free(next);
	free(val);
	return r;
}

int vigil_map_each(int fd, int (*fn)(void *ctx, const void *key, const void *val), void *ctx)
{
	struct bpf_map_info mi;
	__u32 len = sizeof(mi), chunk;
	int ncpu = libbpf_num_possible_cpus(), r = 0;
	size_t ksize, vsize;
	char tok[64], *keys = NULL, *vals = NULL;
	bool first = true;

	memset(&mi, 0, sizeof(mi));
	if (bpf_obj_get_info_by_fd(fd, &mi, &len))
		return -errno;
	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	ksize = mi.key_size;
	vsize = percpu_type(mi.type) ? (size_t)((mi.value_size + 7) & ~7u) * ncpu : mi.value_size;
	if (!mi.max_entries || !ksize || ksize > sizeof(tok))
		return mi.max_entries ? each_key(fd, ksize, vsize, fn, ctx) : 0;
	chunk = BATCH_BYTES / vsize ? BATCH_BYTES / vsize : 1;
	if (chunk > mi.max_entries)
		chunk = mi.max_entries;
	for (;;) {
		__u32 count = chunk;
		int e = 0;

		if (!keys) {
			keys = malloc((size_t)chunk * ksize);
			vals = malloc((size_t)chunk * vsize);
			if (!keys || !vals) {
				r = -ENOMEM;
				break;
			}
		}
		if (bpf_map_lookup_batch(fd, first ? NULL : tok, tok, keys, vals, &count, NULL))
			e = errno;
		/* a hash bucket holding more entries than fit: a bigger batch */
		if (e == ENOSPC && chunk < mi.max_entries) {
			chunk = chunk * 2 < mi.max_entries ? chunk * 2 : mi.max_entries;
			free(keys);
			free(vals);
			keys = vals = NULL;
			continue;
		}
		if (e && e != ENOENT) {
			if (first && (e == EINVAL || e == ENOTSUPP_KERNEL || e == EOPNOTSUPP)) {
				r = each_key(fd, ksize, vsize, fn, ctx);
			} else {
				r = -e;
			}
			break;
		}
		for (__u32 i = 0; i < count && !r; i++)
			r = fn(ctx, keys + (size_t)i * ksize, vals + (size_t)i * vsize);
		if (r || e == ENOENT || !count)
			break;
		first = false;
	}
	free(keys);
	free(vals);
	return r;
}
