// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Scheduler workloads with known sizes, for vigil sched's tests and bench.
 *
 *   sched_work spin2 CPU MS     two threads pinned to CPU, each busy for MS ms of
 *                               wall time once both run; each prints "tid T cpu_ns C
 *                               wall_ns W" (from its creation): W - C is the time it
 *                               was runnable but not running
 *   sched_work sleep N          N sleeps of exactly 10 ms (timer slack 1 ns)
 *   sched_work odirect DEV N    N O_DIRECT 4 KiB reads at distinct offsets of DEV;
 *                               prints "read_ns R", the time spent in them
 *   sched_work pingpong N       N one-byte round trips with a child over two pipes
 *   sched_work vfork N          N vforks whose child sleeps 10 ms: the parent waits
 *                               for it in TASK_KILLABLE (D) meanwhile; prints
 *                               "vfork_ns V", the time the parent spent in vfork()
 *
 * It prints "pid P" on stdout, then blocks reading one byte from stdin, so a
 * tracer can attach after the process exists and before the measured part.
 * After it, it prints "done" and blocks on stdin again until the second byte
 * (or EOF), so a test can read /proc/PID/status while nothing else happens.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void wait_byte(void)
{
	char b;

	if (read(0, &b, 1) < 0)
		exit(1);
}

static int spin_cpu;
static uint64_t spin_ns;
static uint64_t created_ns[2];
static int ready;

/*
 * From its creation to its last clock read a spinner never sleeps: it is
 * running or runnable, so its wall time minus its CPU time is all run-queue
 * wait, the wait for its first run included (the window starts just before
 * pthread_create). The two meet by spinning, not at a barrier, for that.
 */
static void *spinner(void *arg)
{
	long i = (long)arg;
	uint64_t w0, w1, c1;

	__atomic_add_fetch(&ready, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&ready, __ATOMIC_SEQ_CST) < 2)
		;
	w0 = ns(CLOCK_MONOTONIC);
	do
		w1 = ns(CLOCK_MONOTONIC);
	while (w1 - w0 < spin_ns);
	c1 = ns(CLOCK_THREAD_CPUTIME_ID);
	w1 = ns(CLOCK_MONOTONIC);
	printf("tid %ld cpu_ns %llu wall_ns %llu\n", (long)syscall(SYS_gettid),
	       (unsigned long long)c1, (unsigned long long)(w1 - created_ns[i]));
	return NULL;
}

static void spin2(void)
{
	pthread_t t[2];
	cpu_set_t set;

	/* the threads inherit it: they never run anywhere else, not even at their start */
	CPU_ZERO(&set);
	CPU_SET(spin_cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		exit(1);
	for (long i = 0; i < 2; i++) {
		created_ns[i] = ns(CLOCK_MONOTONIC);
		pthread_create(&t[i], NULL, spinner, (void *)i);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
}

/* prints "slept NS": the wall time the sleeps took, which a late timer (an
 * emulated guest, a loaded host) makes longer than N x 10 ms */
static void sleeps(long n)
{
	struct timespec d = { 0, 10 * 1000000L }, a, b;
	long long total = 0;

	prctl(PR_SET_TIMERSLACK, 1UL);
	for (long i = 0; i < n; i++) {
		clock_gettime(CLOCK_MONOTONIC, &a);
		clock_nanosleep(CLOCK_MONOTONIC, 0, &d, NULL);
		clock_gettime(CLOCK_MONOTONIC, &b);
		total += (b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
	}
	printf("slept %lld\n", total);
}

static void odirect(const char *dev, long n)
{
	int fd = open(dev, O_RDONLY | O_DIRECT);
	void *buf;
	uint64_t t = 0;

	if (fd < 0 || posix_memalign(&buf, 4096, 4096)) {
		perror(dev);
		exit(1);
	}
	for (long i = 0; i < n; i++) {
		uint64_t t0 = ns(CLOCK_MONOTONIC);

		if (pread(fd, buf, 4096, (off_t)i * 4096) != 4096) {
			perror("pread");
			exit(1);
		}
		t += ns(CLOCK_MONOTONIC) - t0;
	}
	printf("read_ns %llu\n", (unsigned long long)t);
	close(fd);
}

static void pingpong(long n)
{
	int a[2], b[2];
	char c = 'x';
	pid_t child;

	if (pipe(a) || pipe(b))
		exit(1);
	child = fork();
	if (child == 0) {
		close(a[1]);
		close(b[0]);
		while (read(a[0], &c, 1) == 1)
			if (write(b[1], &c, 1) != 1)
				_exit(1);
		_exit(0);
	}
	for (long i = 0; i < n; i++)
		if (write(a[1], &c, 1) != 1 || read(b[0], &c, 1) != 1)
			exit(1);
	close(a[1]);
	close(b[0]);
	waitpid(child, NULL, 0);
}

static void vforks(long n)
{
	struct timespec d = { 0, 10 * 1000000L };
	uint64_t t = 0;

	prctl(PR_SET_TIMERSLACK, 1UL);
	for (long i = 0; i < n; i++) {
		uint64_t t0 = ns(CLOCK_MONOTONIC);
		pid_t c = vfork();

		if (c == 0) {
			/* only syscalls before _exit: the parent's memory is shared */
			syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &d, NULL);
			_exit(0);
		}
		t += ns(CLOCK_MONOTONIC) - t0;
		waitpid(c, NULL, 0);
	}
	printf("vfork_ns %llu\n", (unsigned long long)t);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: sched_work spin2 CPU MS | sleep N | odirect DEV N | pingpong N\n");
		return 2;
	}
	printf("pid %d\n", getpid());
	fflush(stdout);
	wait_byte();
	if (!strcmp(argv[1], "spin2") && argc == 4) {
		spin_cpu = atoi(argv[2]);
		spin_ns = strtoull(argv[3], NULL, 10) * 1000000ull;
		spin2();
	} else if (!strcmp(argv[1], "sleep")) {
		sleeps(atol(argv[2]));
	} else if (!strcmp(argv[1], "odirect") && argc == 4) {
		odirect(argv[2], atol(argv[3]));
	} else if (!strcmp(argv[1], "pingpong")) {
		pingpong(atol(argv[2]));
	} else if (!strcmp(argv[1], "vfork")) {
		vforks(atol(argv[2]));
	} else {
		fprintf(stderr, "sched_work: unknown mode '%s'\n", argv[1]);
		return 2;
	}
	printf("done\n");
	fflush(stdout);
	wait_byte();
	return 0;
}
