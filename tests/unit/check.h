/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * A minimal unit test harness: CHECK() records failures and keeps going;
 * check_done() prints the closing "N passed, N failed" line and returns the
 * exit status.
 */
#ifndef VIGIL_CHECK_H
#define VIGIL_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_pass, check_fail;

#define CHECK(cond) do {							\
	if (cond) {								\
		check_pass++;							\
	} else {								\
		check_fail++;							\
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
	}									\
} while (0)

#define CHECK_STR(a, b) do {							\
	const char *_a = (a), *_b = (b);					\
	if (_a && _b && !strcmp(_a, _b)) {					\
		check_pass++;							\
	} else {								\
		check_fail++;							\
		fprintf(stderr, "%s:%d: check failed: %s == \"%s\" (got \"%s\")\n", \
			__FILE__, __LINE__, #a, _b ? _b : "(null)", _a ? _a : "(null)"); \
	}									\
} while (0)

static inline int check_done(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, check_pass, check_fail);
	return check_fail ? 1 : 0;
}

#endif
