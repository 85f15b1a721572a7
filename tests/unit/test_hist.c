// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* log2 histogram bucket math and both renderings. */
#define _GNU_SOURCE
#include <stdlib.h>
#include "check.h"
#include "core/hist.h"
#include "core/out.h"

/* the kernel helper, compiled as plain C to prove both sides agree */
#undef __always_inline
#define __always_inline inline
#define VIGIL_HIST_BPF_USER_TEST
#include "../../bpf/hist.bpf.h"

static char *render(const uint64_t *slots, int json)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct jw w;

	if (json) {
		jw_init(&w, f);
		jw_obj(&w, NULL);
		vhist_json(&w, "buckets", slots);
		jw_end_obj(&w);
	} else {
		vhist_print(f, slots, "nsecs");
	}
	fclose(f);
	return buf;
}

int main(void)
{
	uint64_t h[VIGIL_HIST_SLOTS] = { 0 }, g[VIGIL_HIST_SLOTS] = { 0 };
	unsigned int lo, hi;
	char *s;

	CHECK(vhist_slot(0) == 0);
	CHECK(vhist_slot(1) == 0);
	CHECK(vhist_slot(2) == 1);
	CHECK(vhist_slot(3) == 1);
	CHECK(vhist_slot(4) == 2);
	CHECK(vhist_slot(1023) == 9);
	CHECK(vhist_slot(1024) == 10);
	CHECK(vhist_slot(UINT64_MAX) == 63);
	for (unsigned int i = 1; i < 63; i++) {
		CHECK(vhist_slot(vhist_low(i)) == i);
		CHECK(vhist_slot(vhist_high(i)) == i);
	}
	CHECK(vhist_low(0) == 0 && vhist_high(0) == 1);
	CHECK(vhist_low(10) == 1024 && vhist_high(10) == 2047);
	CHECK(vhist_high(63) == UINT64_MAX);

	/* the BPF helper gives the same slot for every boundary */
	int agree = 1;
	for (unsigned int i = 0; i < 64; i++) {
		uint64_t v = 1ull << i;

		if (vigil_log2(v) != vhist_slot(v) || vigil_log2(v - 1) != vhist_slot(v - 1) ||
		    vigil_log2(v + 1) != vhist_slot(v + 1))
			agree = 0;
	}
	CHECK(agree);
	CHECK(vigil_log2(0) == 0 && vigil_log2(UINT64_MAX) == 63);

	vhist_range(h, &lo, &hi);
	CHECK(lo == 0 && hi == 0);
	CHECK(vhist_count(h) == 0);
	s = render(h, 0);
	CHECK(strstr(s, "no samples") != NULL);
	free(s);

	for (int i = 0; i < 100; i++)
		vhist_add(h, 300);	/* slot 8: 256..511 */
	for (int i = 0; i < 50; i++)
		vhist_add(h, 3000);	/* slot 11: 2048..4095 */
	vhist_range(h, &lo, &hi);
	CHECK(lo == 8 && hi == 12);
	CHECK(vhist_count(h) == 150);

	g[8] = 1;
	vhist_merge(g, h);
	CHECK(g[8] == 101 && g[11] == 50);

	s = render(h, 0);
	/* one line per slot from the first to the last non-empty one, plus the header */
	int lines = 0;
	for (char *p = s; *p; p++)
		lines += *p == '\n';
	CHECK(lines == 1 + 4);
	CHECK(strstr(s, "256 -> 511") != NULL);
	CHECK(strstr(s, "2048 -> 4095") != NULL);
	CHECK(strstr(s, "|****************************************|") != NULL);	/* the fullest */
	CHECK(strstr(s, "|********************                    |") != NULL);	/* half of it */
	CHECK(strstr(s, "nsecs") != NULL);
	free(s);

	s = render(h, 1);
	CHECK_STR(s, "{\"buckets\":[{\"low\":256,\"high\":511,\"count\":100},"
		     "{\"low\":512,\"high\":1023,\"count\":0},{\"low\":1024,\"high\":2047,\"count\":0},"
		     "{\"low\":2048,\"high\":4095,\"count\":50}]}\n");
	free(s);
	return check_done("test_hist");
}
