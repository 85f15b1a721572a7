// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * A memory workload with known page counts, for vigil mem's tests and bench.
 *
 *   memwork anon N        write one byte to each of N fresh anonymous pages
 *                         (one mapping of its own, no huge pages): N faults
 *   memwork file PATH     map PATH read-only and read one byte of each page
 *                         (MADV_RANDOM: no read-ahead)
 *   memwork kread N       one read() from /dev/zero into N fresh anonymous pages:
 *                         N faults the kernel takes on user memory, none in user mode
 *   memwork oom MB        allocate and touch up to MB MiB, a page at a time,
 *                         until the OOM killer ends it
 *   memwork loop N ITER   ITER times: map N pages, touch each, unmap
 *
 * It prints "pid P" on stdout and waits for a byte on stdin before the
 * counted work, so a tracer can attach first; then it prints "done ..."
 * (the pages touched, the start address of the mapping and the elapsed ns)
 * and, except in loop mode, waits for another byte before it exits, so its
 * maps can still be read.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static void wait_byte(void)
{
	char c;

	if (read(0, &c, 1) < 0)
		exit(1);
}

static char *anon(long pages)
{
	long pg = sysconf(_SC_PAGESIZE);
	char *m = mmap(NULL, pages * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	/* one fault per page: no transparent huge page may serve several */
	madvise(m, pages * pg, MADV_NOHUGEPAGE);
	return m;
}

int main(int argc, char **argv)
{
	long pg = sysconf(_SC_PAGESIZE), t0, n = 0;
	volatile char sink = 0;
	char *m = NULL;

	if (argc < 3) {
		fprintf(stderr, "usage: memwork anon N | file PATH | kread N | oom MB | loop N ITER\n");
		return 2;
	}
	printf("pid %d\n", getpid());
	fflush(stdout);
	if (!strcmp(argv[1], "anon")) {
		n = atol(argv[2]);
		m = anon(n);
		wait_byte();
		t0 = now_ns();
		for (long i = 0; i < n; i++)
			m[i * pg] = 1;
	} else if (!strcmp(argv[1], "file")) {
		int fd = open(argv[2], O_RDONLY);
		struct stat st;

		if (fd < 0 || fstat(fd, &st)) {
			perror(argv[2]);
			return 1;
		}
		n = (st.st_size + pg - 1) / pg;
		m = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (m == MAP_FAILED) {
			perror("mmap");
			return 1;
		}
		madvise(m, st.st_size, MADV_RANDOM);
		wait_byte();
		t0 = now_ns();
		for (long i = 0; i < n; i++)
			sink += m[i * pg];
	} else if (!strcmp(argv[1], "kread")) {
		int fd = open("/dev/zero", O_RDONLY);

		n = atol(argv[2]);
		m = anon(n);
		wait_byte();
		t0 = now_ns();
		if (fd < 0 || read(fd, m, n * pg) != n * pg) {
			perror("read /dev/zero");
			return 1;
		}
	} else if (!strcmp(argv[1], "oom")) {
		n = atol(argv[2]) * (1L << 20) / pg;
		m = anon(n);
		wait_byte();
		t0 = now_ns();
		for (long i = 0; i < n; i++)
			m[i * pg] = 1;
	} else if (!strcmp(argv[1], "loop") && argc > 3) {
		long iter = atol(argv[3]);

		n = atol(argv[2]);
		wait_byte();
		t0 = now_ns();
		for (long k = 0; k < iter; k++) {
			m = anon(n);
			for (long i = 0; i < n; i++)
				m[i * pg] = 1;
			munmap(m, n * pg);
		}
		printf("done %ld %lx %ld\n", n * iter, 0L, now_ns() - t0);
		return 0;
	} else {
		fprintf(stderr, "memwork: unknown mode '%s'\n", argv[1]);
		return 2;
	}
	printf("done %ld %lx %ld\n", n, (unsigned long)m, now_ns() - t0);
	fflush(stdout);
	wait_byte();
	(void)sink;
	return 0;
}
