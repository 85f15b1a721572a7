/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * log2 histograms: the kernel side counts values into VIGIL_HIST_SLOTS
 * power-of-two buckets (bpf/hist.bpf.h); this is the user side: the same
 * bucket math, summing per-CPU copies, and the two renderings (a text
 * histogram with stars, and JSON buckets). Slot 0 holds 0 and 1; slot k
 * holds [2^k, 2^(k+1) - 1].
 */
#ifndef VIGIL_HIST_H
#define VIGIL_HIST_H

#include <stdint.h>
#include <stdio.h>
#include "vigil/events.h"

struct jw;

unsigned int vhist_slot(uint64_t v);	/* the bucket of v, as the kernel computes it */
uint64_t vhist_low(unsigned int slot);	/* smallest value in the bucket */
uint64_t vhist_high(unsigned int slot);	/* largest value in the bucket */
void vhist_add(uint64_t *slots, uint64_t v);
void vhist_merge(uint64_t *dst, const uint64_t *src);	/* dst += src, slot by slot */
uint64_t vhist_count(const uint64_t *slots);
/* the first and one past the last non-empty slot; 0, 0 when empty */
void vhist_range(const uint64_t *slots, unsigned int *lo, unsigned int *hi);

/*
 * Text rendering, one line per bucket from the first to the last non-empty
 * one, stars scaled to the fullest bucket:
 *        nsecs             : count    distribution
 *      256 -> 511          : 12       |*****                 |
 */
void vhist_print(FILE *f, const uint64_t *slots, const char *unit);
/* "key": [{"low":256,"high":511,"count":12}, ...] over the non-empty range */
void vhist_json(struct jw *w, const char *key, const uint64_t *slots);

#endif
