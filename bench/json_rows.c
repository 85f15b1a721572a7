// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * The user-space half of a stream, alone: N rows shaped like `vigil syscall`'s
 * getppid records, rendered as NDJSON by the core's sink to /dev/null, flushed
 * per batch as the event loop does. No BPF and no root: the per-row cost of
 * out_row() and the row builders, to set beside bench/stream.sh (the whole
 * consumer, ring buffer and write() included).
 *
 *   build/bench/json_rows [N]     prints ns per row and rows per CPU-second
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "core/out.h"
#include "vigil/events.h"

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 2000000;
	struct vigil_hdr h = { .ts = 1234567890123ull, .cgroup_id = 4242, .pid = 31337,
			       .tid = 31337, .ppid = 31000, .uid = 0 };
	struct vigil_sink k;
	FILE *f = fopen("/dev/null", "w");
	double t0, t;

	if (!f || n <= 0) {
		fprintf(stderr, "json_rows: usage: json_rows [N]\n");
		return 2;
	}
	strcpy(h.comm, "sc_loop");
	out_sink_init(&k, f, true);
	k.defer = true;
	t0 = cpu_s();
	for (long i = 0; i < n; i++) {
		struct vrow r;

		h.ts += 1731;
		vrow_init(&r);
		vrow_hdr(&r, "syscall", &h);
		vrow_str(&r, "syscall", "getppid");
		vrow_u64(&r, "nr", 110);
		vrow_strlist(&r, "args", "", 0);
		vrow_s64(&r, "ret", 31000);
		vrow_u64(&r, "latency_ns", 0);
		out_row(&k, &r);
		if ((i & 63) == 63)
			out_flush(&k);
	}
	out_flush(&k);
	t = cpu_s() - t0;
	printf("%ld rows in %.3f CPU-s: %.1f ns per row, %.2f M rows per CPU-second\n", n, t,
	       t * 1e9 / n, n / t / 1e6);
	return 0;
}
