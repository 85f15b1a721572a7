// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * A syscall workload with exactly known counts, for tests and benchmarks.
 *
 *   sc_loop getppid N      N getppid() calls
 *   sc_loop enoent N       N openat() calls on a missing file (ENOENT)
 *   sc_loop threads T N    T threads, each doing N getppid() calls
 *   sc_loop fchmodat2 N    N fchmodat2() calls on a missing file (number 452, Linux 6.6+:
 *                          newer than the headers vigil's name table is built from)
 *
 * With -w it first blocks reading one byte from stdin, so a tracer can
 * attach after the process exists and before the counted calls start.
 * It prints its pid (and with threads each tid) on stdout, then the
 * elapsed nanoseconds of the counted loop on stderr.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long n;

static void loop_getppid(void)
{
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
}

static void *thread_main(void *arg)
{
	(void)arg;
	printf("tid %ld\n", (long)syscall(SYS_gettid));
	fflush(stdout);
	loop_getppid();
	return NULL;
}

int main(int argc, char **argv)
{
	struct timespec t0, t1;
	int wait = 0, a = 1;
	char c;

	if (argc > 1 && !strcmp(argv[1], "-w")) {
		wait = 1;
		a++;
	}
	if (argc - a < 2) {
		fprintf(stderr, "usage: sc_loop [-w] getppid|enoent|fchmodat2 N | threads T N\n");
		return 2;
	}
	printf("pid %d\n", getpid());
	fflush(stdout);
	if (wait && read(0, &c, 1) != 1)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!strcmp(argv[a], "getppid")) {
		n = atol(argv[a + 1]);
		loop_getppid();
	} else if (!strcmp(argv[a], "enoent")) {
		n = atol(argv[a + 1]);
		for (long i = 0; i < n; i++)
			syscall(SYS_openat, AT_FDCWD, "/nonexistent/vigil-test", O_RDONLY);
	} else if (!strcmp(argv[a], "fchmodat2")) {
		n = atol(argv[a + 1]);
		for (long i = 0; i < n; i++)
			syscall(452, AT_FDCWD, "/nonexistent/vigil-test", 0644, 0);
	} else if (!strcmp(argv[a], "threads") && argc - a >= 3) {
		int t = atoi(argv[a + 1]);
		pthread_t th[256];

		n = atol(argv[a + 2]);
		if (t > 256)
			t = 256;
		for (int i = 0; i < t; i++)
			pthread_create(&th[i], NULL, thread_main, NULL);
		for (int i = 0; i < t; i++)
			pthread_join(th[i], NULL);
	} else {
		fprintf(stderr, "sc_loop: unknown workload '%s'\n", argv[a]);
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fprintf(stderr, "%lld\n", (long long)((t1.tv_sec - t0.tv_sec) * 1000000000ll +
					      (t1.tv_nsec - t0.tv_nsec)));
	/* _exit: no stdio flush or atexit syscalls after the counted ones */
	_exit(0);
}
