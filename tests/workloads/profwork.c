// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Known CPU activity for vigil profile's tests, with frame pointers (the
 * kernel's user stack walker follows them):
 *   profwork hot SECS     prof_parent() -> prof_hot(): a spin, all the time
 *   profwork mix SECS     prof_hot_a() twice as long as prof_hot_b(), both from prof_parent(),
 *                         in short chunks in a random order
 *   profwork syscall SECS read(2) of /dev/zero in a loop: time in the kernel
 *   profwork libc SECS    rand() in a loop: time in libc.so.6
 *   profwork bench SECS   prof_hot() calls in SECS, printed at the end (throughput)
 *   profwork tree SECS    16384 distinct stacks: prof_tree0..3() nested 7 deep, by the bits
 *                         of a counter (the symbolizer's and the SVG's bench)
 *   profwork exit SECS    a child spins in prof_exiting() for SECS, exits; the parent
 *                         sleeps as long again, then exits
 * With PROFWORK_WAIT set it first waits for a byte on stdin. Prints "ready PID" (the spinning process) once it runs, and "cpu SECONDS" (its CPU
 * time) at the end.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

volatile unsigned long sink;

__attribute__((noinline)) void prof_hot(unsigned long n)
{
	for (unsigned long i = 0; i < n; i++)
		sink += i * 7;
}

__attribute__((noinline)) void prof_hot_a(unsigned long n)
{
	for (unsigned long i = 0; i < n; i++)
		sink += i * 3;
}

__attribute__((noinline)) void prof_hot_b(unsigned long n)
{
	for (unsigned long i = 0; i < n; i++)
		sink += i * 5;
}

/*
 * A fixed a-then-b cycle is periodic in the process's CPU time, and on a host
 * whose other load preempts it at a steady rate the samplers alias with it:
 * perf record and vigil (one per-task timer, one per-CPU timer) saw 81/19 and
 * 53/47 in one run. Chunks of 0.1 ms, each a's with a chance of 2 in 3, keep
 * the 2:1 share and have no period.
 */
__attribute__((noinline)) void prof_parent(int mix, double end)
{
	unsigned long x = 0x9e3779b97f4a7c15ul;

	while (now() < end) {
		if (mix) {
			for (int i = 0; i < 30; i++) {
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				if (x % 3)
					prof_hot_a(100000);
				else
					prof_hot_b(100000);
			}
		} else {
			prof_hot(1000000);
		}
	}
}

__attribute__((noinline)) void prof_syscalls(double end)
{
	static char buf[65536];
	int fd = open("/dev/zero", O_RDONLY);

	while (now() < end)
		for (int i = 0; i < 100; i++)
			if (read(fd, buf, sizeof(buf)) < 0)
				exit(1);
	close(fd);
}

__attribute__((noinline)) void prof_libc(double end)
{
	while (now() < end)
		for (int i = 0; i < 100000; i++)
			sink += rand();
}

__attribute__((noinline)) void prof_exiting(double end)
{
	while (now() < end)
		prof_hot(1000000);
}

static void tree_step(int level, unsigned long i);

/* the empty asm after the call keeps it a call, not a jump: one frame per level */
#define TREE_FN(n)							\
	__attribute__((noinline)) void prof_tree##n(int level, unsigned long i) \
	{								\
		if (level == 0)						\
			prof_hot(20000);				\
		else							\
			tree_step(level - 1, i);			\
		__asm__ volatile("" ::: "memory");			\
	}
TREE_FN(0)
TREE_FN(1)
TREE_FN(2)
TREE_FN(3)

static void tree_step(int level, unsigned long i)
{
	switch ((i >> (2 * level)) & 3) {
	case 0: prof_tree0(level, i); break;
	case 1: prof_tree1(level, i); break;
	case 2: prof_tree2(level, i); break;
	default: prof_tree3(level, i); break;
	}
}

int main(int argc, char **argv)
{
	double secs = argc > 2 ? atof(argv[2]) : 2;
	const char *mode = argc > 1 ? argv[1] : "hot";
	double end;
	char go;

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* PROFWORK_WAIT: start once a byte arrives on stdin (the profiler is attached) */
	if (getenv("PROFWORK_WAIT")) {
		printf("waiting %d\n", getpid());
		if (read(0, &go, 1) != 1)
			return 1;
	}
	end = now() + secs;
	if (!strcmp(mode, "exit")) {
		pid_t pid = fork();

		if (pid == 0) {
			struct timespec cpu;

			printf("ready %d\n", getpid());
			prof_exiting(end);
			clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
			printf("cpu %.3f\n", cpu.tv_sec + cpu.tv_nsec / 1e9);
			_exit(0);
		}
		waitpid(pid, NULL, 0);
		printf("exited %d\n", pid);
		usleep(secs * 1e6);
		return 0;
	}
	printf("ready %d\n", getpid());
	if (!strcmp(mode, "hot") || !strcmp(mode, "mix"))
		prof_parent(!strcmp(mode, "mix"), end);
	else if (!strcmp(mode, "bench")) {
		unsigned long n = 0;

		while (now() < end) {
			prof_hot(100000);
			n++;
		}
		printf("calls %lu\n", n);
	} else if (!strcmp(mode, "tree")) {
		for (unsigned long i = 0; now() < end; i++)
			tree_step(7, i * 2654435761u);
	} else if (!strcmp(mode, "syscall"))
		prof_syscalls(end);
	else if (!strcmp(mode, "libc"))
		prof_libc(end);
	else
		return 2;
	{
		struct timespec cpu;

		/* what a sampler at F Hz should have seen of it: F samples per CPU second */
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
		printf("cpu %.3f\n", cpu.tv_sec + cpu.tv_nsec / 1e9);
	}
	return 0;
}
