// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * The loops bench/file.py times:
 *   fl_loop open N PATH    N times open(PATH, O_RDONLY) + close
 *   fl_loop write N PATH   N one-byte write() calls into PATH (truncated first)
 * prints the nanoseconds per iteration.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long n, i;
	long long t0;
	int fd;

	if (argc != 4 || (strcmp(argv[1], "open") && strcmp(argv[1], "write"))) {
		fprintf(stderr, "usage: fl_loop open|write N PATH\n");
		return 2;
	}
	n = atol(argv[2]);
	if (!strcmp(argv[1], "open")) {
		t0 = now_ns();
		for (i = 0; i < n; i++) {
			fd = open(argv[3], O_RDONLY);
			if (fd < 0) {
				perror(argv[3]);
				return 1;
			}
			close(fd);
		}
	} else {
		fd = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0) {
			perror(argv[3]);
			return 1;
		}
		t0 = now_ns();
		for (i = 0; i < n; i++)
			if (write(fd, "x", 1) != 1) {
				perror("write");
				return 1;
			}
		close(fd);
	}
	printf("%.1f\n", (double)(now_ns() - t0) / n);
	return 0;
}
