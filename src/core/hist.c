// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <string.h>
#include <time.h>
#include "core/hist.h"
#include "core/out.h"

#define STARS 40

unsigned int vhist_slot(uint64_t v)
{
	unsigned int s = 0;

	/* floor(log2(v)), and 0 for 0: the same answer as vigil_log2() in BPF */
	while (v > 1) {
		v >>= 1;
		s++;
	}
	return s;
}

uint64_t vhist_low(unsigned int slot)
{
	return slot ? 1ull << slot : 0;
}

uint64_t vhist_high(unsigned int slot)
{
	return slot >= 63 ? UINT64_MAX : (1ull << (slot + 1)) - 1;
}

void vhist_add(uint64_t *slots, uint64_t v)
{
	slots[vhist_slot(v)]++;
}

void vhist_merge(uint64_t *dst, const uint64_t *src)
{
	for (int i = 0; i < VIGIL_HIST_SLOTS; i++)
		dst[i] += src[i];
}

uint64_t vhist_count(const uint64_t *slots)
{
	uint64_t n = 0;

	for (int i = 0; i < VIGIL_HIST_SLOTS; i++)
		n += slots[i];
	return n;
}

void vhist_range(const uint64_t *slots, unsigned int *lo, unsigned int *hi)
{
	*lo = *hi = 0;
	for (unsigned int i = 0; i < VIGIL_HIST_SLOTS; i++) {
		if (!slots[i])
			continue;
		if (!*hi)
			*lo = i;
		*hi = i + 1;
	}
}

static void stars(FILE *f, uint64_t v, uint64_t max)
{
	int n = max ? (int)((v * STARS + max - 1) / max) : 0;

	if (n > STARS)
		n = STARS;
	for (int i = 0; i < STARS; i++)
		fputc(i < n ? '*' : ' ', f);
}

void vhist_print(FILE *f, const uint64_t *slots, const char *unit)
{
	unsigned int lo, hi;
	uint64_t max = 0;

	vhist_range(slots, &lo, &hi);
	if (hi == 0) {
		fprintf(f, "%*s\n", 24, "(no samples)");
		return;
	}
	for (unsigned int i = lo; i < hi; i++)
		if (slots[i] > max)
			max = slots[i];
	fprintf(f, "%*s%*s : count    distribution\n", 19, unit, 11, "");
	for (unsigned int i = lo; i < hi; i++) {
		/* the low end right-aligned on its arrow, like the familiar tools */
		fprintf(f, "%*llu -> %-*llu : %-8llu |", 14, (unsigned long long)vhist_low(i), 12,
			(unsigned long long)vhist_high(i), (unsigned long long)slots[i]);
		stars(f, slots[i], max);
		fputs("|\n", f);
	}
}

void vhist_json(struct jw *w, const char *key, const uint64_t *slots)
{
	unsigned int lo, hi;

	vhist_range(slots, &lo, &hi);
	jw_arr(w, key);
	for (unsigned int i = lo; i < hi; i++) {
		jw_obj(w, NULL);
		jw_u64(w, "low", vhist_low(i));
		jw_u64(w, "high", vhist_high(i));
		jw_u64(w, "count", slots[i]);
		jw_end_obj(w);
	}
	jw_end_arr(w);
}
