// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "core/names.h"

#define MAX_ERRNO 4095

const char *vigil_errno_name(int err)
{
	static char buf[4][16];
	static int slot;
	const char *n = err > 0 ? strerrorname_np(err) : NULL;

	if (n)
		return n;
	slot = (slot + 1) % 4;
	snprintf(buf[slot], sizeof(buf[slot]), "E%d", err);
	return buf[slot];
}

int vigil_errno_parse(const char *name)
{
	char *end;
	long v = strtol(name, &end, 10);

	if (*name && !*end)
		return v > 0 && v <= MAX_ERRNO ? (int)v : -1;
	for (int e = 1; e <= MAX_ERRNO; e++) {
		const char *n = strerrorname_np(e);

		if (n && !strcasecmp(n, name))
			return e;
	}
	return -1;
}

const char *vigil_signal_name(int sig)
{
	static char buf[4][16];
	static int slot;
	const char *n = sig > 0 ? sigabbrev_np(sig) : NULL;

	slot = (slot + 1) % 4;
	if (n)
		snprintf(buf[slot], sizeof(buf[slot]), "SIG%s", n);
	else
		snprintf(buf[slot], sizeof(buf[slot]), "SIG%d", sig);
	return buf[slot];
}
