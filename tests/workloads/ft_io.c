// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Every way of doing file I/O that filetop counts beyond read/write, with
 * known sizes, for tests/e2e/test_filetop.py:
 *
 *   ft_io DIR N M K U
 *
 * creates DIR/a, DIR/b, DIR/c, DIR/d, DIR/e, prints "pid P", waits for one
 * byte on stdin, then:
 *   writev    N bytes into a, in three iovecs
 *   sendfile  M bytes from a into b
 *   copy_file_range K bytes from a into c
 *   io_uring  U bytes read from a with IORING_OP_READ, 4096 per request
 *             (raw io_uring syscalls: no liburing needed)
 *   pwritev + pwritev2 100 + 50 bytes into d, preadv + preadv2 of them back,
 *   readv of d from 0
 *   splice    d -> a pipe -> e, 150 bytes each way
 * and prints one JSON line of what the calls returned, summed per file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

static char buf[1 << 16];

static void die(const char *what)
{
	fprintf(stderr, "ft_io: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int open_in(const char *dir, const char *name)
{
	char p[4096];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		die(p);
	return fd;
}

/* U bytes of fd from offset 0 through io_uring, one 4096-byte IORING_OP_READ at a time */
static long uring_read(int fd, long total)
{
	struct io_uring_params pr = { 0 };
	unsigned *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
	void *sq, *cq;
	long done = 0;
	int ring;

	ring = syscall(__NR_io_uring_setup, 4, &pr);
	if (ring < 0)
		die("io_uring_setup");
	sq = mmap(NULL, pr.sq_off.array + pr.sq_entries * sizeof(unsigned), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQ_RING);
	cq = mmap(NULL, pr.cq_off.cqes + pr.cq_entries * sizeof(struct io_uring_cqe),
		  PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_CQ_RING);
	sqes = mmap(NULL, pr.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED)
		die("mmap io_uring");
	sq_tail = (unsigned *)((char *)sq + pr.sq_off.tail);
	sq_mask = (unsigned *)((char *)sq + pr.sq_off.ring_mask);
	sq_array = (unsigned *)((char *)sq + pr.sq_off.array);
	cq_head = (unsigned *)((char *)cq + pr.cq_off.head);
	cq_tail = (unsigned *)((char *)cq + pr.cq_off.tail);
	cq_mask = (unsigned *)((char *)cq + pr.cq_off.ring_mask);
	cqes = (struct io_uring_cqe *)((char *)cq + pr.cq_off.cqes);

	while (done < total) {
		unsigned tail = *sq_tail, idx = tail & *sq_mask, head;
		struct io_uring_sqe *e = &sqes[idx];
		long want = total - done < 4096 ? total - done : 4096;

		memset(e, 0, sizeof(*e));
		e->opcode = IORING_OP_READ;
		e->fd = fd;
		e->addr = (uint64_t)(uintptr_t)buf;
		e->len = want;
		e->off = done;
		sq_array[idx] = idx;
		__atomic_store_n(sq_tail, tail + 1, __ATOMIC_RELEASE);
		if (syscall(__NR_io_uring_enter, ring, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
			die("io_uring_enter");
		head = __atomic_load_n(cq_head, __ATOMIC_ACQUIRE);
		if (head == __atomic_load_n(cq_tail, __ATOMIC_ACQUIRE)) {
			errno = EAGAIN;
			die("no completion");
		}
		if (cqes[head & *cq_mask].res <= 0) {
			errno = -cqes[head & *cq_mask].res;
			die("io_uring read");
		}
		done += cqes[head & *cq_mask].res;
		__atomic_store_n(cq_head, head + 1, __ATOMIC_RELEASE);
	}
	close(ring);
	return done;
}

int main(int argc, char **argv)
{
	long n, m, k, u, r, wv, sf, cfr, ur, dw = 0, dr = 0, sp_in, sp_out;
	int a, b, c, d, e, pfd[2];
	loff_t off_in = 0, off_out = 0;
	struct iovec iov[3];
	char go;

	if (argc != 6) {
		fprintf(stderr, "usage: ft_io DIR N M K U\n");
		return 2;
	}
	n = atol(argv[2]);
	m = atol(argv[3]);
	k = atol(argv[4]);
	u = atol(argv[5]);
	if (n > (long)sizeof(buf) * 3 || m > n || k > n || u > n) {
		fprintf(stderr, "ft_io: sizes: M, K, U <= N <= %zu\n", sizeof(buf) * 3);
		return 2;
	}
	a = open_in(argv[1], "a");
	b = open_in(argv[1], "b");
	c = open_in(argv[1], "c");
	d = open_in(argv[1], "d");
	e = open_in(argv[1], "e");
	if (pipe(pfd))
		die("pipe");
	memset(buf, 'v', sizeof(buf));
	printf("pid %d\n", getpid());
	fflush(stdout);
	if (read(0, &go, 1) != 1)
		die("stdin");

	iov[0] = (struct iovec){ buf, n / 3 };
	iov[1] = (struct iovec){ buf, n / 3 };
	iov[2] = (struct iovec){ buf, n - 2 * (n / 3) };
	wv = writev(a, iov, 3);
	if (wv != n)
		die("writev");
	sf = sendfile(b, a, &off_in, m);
	if (sf != m)
		die("sendfile");
	off_in = 0;
	cfr = copy_file_range(a, &off_in, c, &off_out, k, 0);
	if (cfr != k)
		die("copy_file_range");
	ur = uring_read(a, u);

	iov[0] = (struct iovec){ buf, 100 };
	if ((r = pwritev(d, iov, 1, 0)) != 100)
		die("pwritev");
	dw += r;
	iov[0] = (struct iovec){ buf, 50 };
	if ((r = pwritev2(d, iov, 1, 100, 0)) != 50)
		die("pwritev2");
	dw += r;
	iov[0] = (struct iovec){ buf, 100 };
	if ((r = preadv(d, iov, 1, 0)) != 100)
		die("preadv");
	dr += r;
	iov[0] = (struct iovec){ buf, 50 };
	if ((r = preadv2(d, iov, 1, 100, 0)) != 50)
		die("preadv2");
	dr += r;
	lseek(d, 0, SEEK_SET);
	iov[0] = (struct iovec){ buf, 4096 };
	if ((r = readv(d, iov, 1)) != 150)
		die("readv");
	dr += r;
	off_in = 0;
	sp_in = splice(d, &off_in, pfd[1], NULL, 150, 0);
	if (sp_in != 150)
		die("splice in");
	sp_out = splice(pfd[0], NULL, e, NULL, 150, 0);
	if (sp_out != 150)
		die("splice out");
	dr += sp_in;

	printf("{\"writev\": %ld, \"sendfile\": %ld, \"copy_file_range\": %ld, \"io_uring\": %ld, "
	       "\"d_read\": %ld, \"d_written\": %ld, \"e_written\": %ld}\n",
	       wv, sf, cfr, ur, dr, dw, sp_out);
	return 0;
}
