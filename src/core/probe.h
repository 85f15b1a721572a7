/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* Feature probing by loading, attaching and running a tiny program. */
#ifndef VIGIL_PROBE_H
#define VIGIL_PROBE_H

#include <stdbool.h>
#include <stdint.h>
#include "core/vigil.h"

#define VIGIL_PING_COUNT 20

struct vigil_probe {
	bool probed;
	bool ok;		/* the program ran when triggered */
	const char *stage;	/* where it failed: open, load, attach, trigger, run */
	int err;		/* positive errno, or 0 */
	uint64_t hits;
	char reason[256];	/* one line, when !ok */
};

/* the ring buffer probe is a timed round trip kernel -> ring buffer -> user */
struct vigil_ping_stats {
	int sent, received;
	double median_us, max_us;
};

/* Probe one mechanism now (needs privileges); ping may be NULL. */
void vigil_probe_mech(enum vigil_mech m, struct vigil_probe *r, struct vigil_ping_stats *ping);
/* The active LSMs, from securityfs ("" when unknown). */
const char *vigil_lsm_list(void);

#endif
