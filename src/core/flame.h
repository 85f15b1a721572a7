/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Flame graphs: stacks (root first, with counts) merged into a tree and
 * written as one self-contained SVG, its search and click-to-zoom in inline
 * script, nothing fetched. Used by profile --svg and sched --stacks --svg.
 */
#ifndef VIGIL_FLAME_H
#define VIGIL_FLAME_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct vigil_flame;

struct vigil_flame *vigil_flame_new(void);
void vigil_flame_free(struct vigil_flame *fl);
/* one stack: frames[0] is the root (the comm), kernel[i] (may be NULL) colours
 * frame i as the kernel's; identical prefixes merge. 0 or -ENOMEM */
int vigil_flame_add(struct vigil_flame *fl, const char *const *frames, const bool *kernel, int n,
		    uint64_t count);
uint64_t vigil_flame_total(const struct vigil_flame *fl);
/* the samples of the frames named name, counted once per stack (recursion) */
uint64_t vigil_flame_frame_total(const struct vigil_flame *fl, const char *name);
/* title: the heading; unit: "samples" (profile) or "us" (off-CPU time). 0 or -1 */
int vigil_flame_svg(const struct vigil_flame *fl, FILE *f, const char *title, const char *unit);

#endif
