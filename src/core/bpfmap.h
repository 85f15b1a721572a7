/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Reading a whole BPF map from user space: in batches (BPF_MAP_LOOKUP_BATCH,
 * a few syscalls for thousands of entries) where the kernel has them, key by
 * key where it does not. A scrape of the agent reads every feature's maps, and
 * each syscall of the agent itself also runs the programs that trace syscalls,
 * so the count of syscalls is the cost.
 */
#ifndef VIGIL_BPFMAP_H
#define VIGIL_BPFMAP_H

#include <stddef.h>

/*
 * fn(ctx, key, val) for every entry; for a per-CPU map val holds ncpu values,
 * each rounded up to 8 bytes (libbpf's layout). A non-zero return of fn ends
 * the walk and is returned. 0, or -errno.
 */
int vigil_map_each(int fd, int (*fn)(void *ctx, const void *key, const void *val), void *ctx);

#endif
