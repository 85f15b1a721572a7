/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * vigil disk's pure logic, kept apart for the unit test: operation names and
 * the --op list, the flags' letters, and percentiles estimated from log2
 * buckets.
 */
#ifndef VIGIL_CMD_DISK_H
#define VIGIL_CMD_DISK_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "vigil/events.h"
#include "core/hist.h"

static const char *const disk_op_names[VIGIL_DISK_OP__COUNT] = {
	"read", "write", "flush", "discard", "other",
};

static inline const char *disk_op_name(uint32_t op)
{
	return op < VIGIL_DISK_OP__COUNT ? disk_op_names[op] : "all";
}

/* "read,write" -> a bit per enum vigil_disk_op; -1 naming the bad word in bad */
static inline int disk_parse_ops(const char *s, uint32_t *mask, char *bad, size_t n)
{
	uint32_t m = 0;

	while (*s) {
		size_t len = strcspn(s, ",");
		int found = -1;

		for (int i = 0; i < VIGIL_DISK_OP__COUNT; i++)
			if (strlen(disk_op_names[i]) == len && !strncmp(s, disk_op_names[i], len))
				found = i;
		if (found < 0) {
			snprintf(bad, n, "%.*s", (int)len, s);
			return -1;
		}
		m |= 1u << found;
		s += len;
		if (*s == ',')
			s++;
	}
	if (!m) {
		snprintf(bad, n, "%s", "");
		return -1;
	}
	*mask = m;
	return 0;
}

/* the flags as biosnoop-like letters after the op: S sync, M meta, F fua, P preflush, A ahead */
static inline void disk_flag_str(uint32_t flags, char *buf, size_t n)
{
	static const struct { uint32_t bit; char c; } l[] = {
		{ VIGIL_DISK_F_SYNC, 'S' }, { VIGIL_DISK_F_META, 'M' }, { VIGIL_DISK_F_FUA, 'F' },
		{ VIGIL_DISK_F_PREFLUSH, 'P' }, { VIGIL_DISK_F_AHEAD, 'A' },
	};
	size_t o = 0;

	for (size_t i = 0; i < sizeof(l) / sizeof(l[0]) && o + 1 < n; i++)
		if (flags & l[i].bit)
			buf[o++] = l[i].c;
	if (n)
		buf[o < n ? o : n - 1] = 0;
}

/*
 * The value below which a fraction q (0..1) of the counted values lie,
 * estimated from log2 buckets: the bucket holding that rank, then a linear
 * guess inside it (values spread evenly over [low, high]). Exact to the
 * bucket; 0 for an empty histogram.
 */
static inline uint64_t disk_hist_quantile(const uint64_t *slots, double q)
{
	uint64_t total = vhist_count(slots), seen = 0, rank;

	if (!total)
		return 0;
	if (q < 0)
		q = 0;
	if (q > 1)
		q = 1;
	rank = (uint64_t)(q * (double)total + 0.999999);	/* ceil, the 1-based rank */
	if (rank < 1)
		rank = 1;
	for (unsigned int s = 0; s < VIGIL_HIST_SLOTS; s++) {
		uint64_t c = slots[s];

		if (!c)
			continue;
		if (seen + c >= rank) {
			double lo = (double)vhist_low(s), hi = (double)vhist_high(s);
			double frac = (double)(rank - seen) / (double)c;

			double v = lo + (hi - lo) * frac;

			/* the last bucket ends at UINT64_MAX, which a double rounds up */
			return v >= hi ? vhist_high(s) : (uint64_t)v;
		}
		seen += c;
	}
	return vhist_high(VIGIL_HIST_SLOTS - 1);
}

#endif /* VIGIL_CMD_DISK_H */
