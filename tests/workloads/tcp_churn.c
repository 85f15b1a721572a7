// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Many short TCP connections over loopback, for bench/tcp.py: a server
 * thread accepts, reads SIZE bytes, writes SIZE back and closes after the
 * client; the client connects, writes, reads, closes, N times.
 * Prints "CONNS SECONDS". Usage: tcp_churn N [SIZE]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int lfd, n, size;

static int full(int fd, char *buf, int len, int wr)
{
	for (int o = 0; o < len;) {
		ssize_t r = wr ? write(fd, buf + o, len - o) : read(fd, buf + o, len - o);

		if (r <= 0)
			return -1;
		o += r;
	}
	return 0;
}

static void *server(void *arg)
{
	char buf[65536];

	for (int i = 0; i < n; i++) {
		int c = accept(lfd, NULL, NULL);

		if (c < 0 || full(c, buf, size, 0) || full(c, buf, size, 1))
			exit(1);
		while (read(c, buf, sizeof(buf)) > 0)
			;
		close(c);
	}
	return arg;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	char buf[65536];
	struct timespec t0, t1;
	pthread_t th;

	n = argc > 1 ? atoi(argv[1]) : 1000;
	size = argc > 2 ? atoi(argv[2]) : 100;
	if (n <= 0 || size <= 0 || size > (int)sizeof(buf))
		return 2;
	memset(buf, 'x', sizeof(buf));
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 1024) ||
	    getsockname(lfd, (struct sockaddr *)&a, &al))
		return 1;
	pthread_create(&th, NULL, server, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < n; i++) {
		int c = socket(AF_INET, SOCK_STREAM, 0);

		if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) ||
		    full(c, buf, size, 1) || full(c, buf, size, 0))
			return 1;
		close(c);
	}
	pthread_join(th, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%d %.6f\n", n, (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	return 0;
}
