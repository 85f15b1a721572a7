// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * File lifecycle calls made as io_uring requests, not syscalls, for
 * tests/e2e/test_file.py:
 *
 *   fl_uring DIR
 *
 * prints "pid P", waits for one byte on stdin, then submits one request at
 * a time (raw io_uring syscalls: no liburing needed) and waits for it:
 *   openat   DIR/u1 O_WRONLY|O_CREAT|O_EXCL 0640 (absolute)
 *   openat   "missing" relative to a dirfd of DIR            (ENOENT)
 *   openat2  DIR/u1 O_RDONLY, RESOLVE_NO_SYMLINKS
 *   mkdirat  "ud" 0750 relative to the dirfd
 *   renameat DIR/u1 -> "ud/u2" (relative to the dirfd)
 *   symlinkat "tgt" -> DIR/ud/sl
 *   linkat   DIR/ud/u2 -> DIR/hl
 *   unlinkat DIR/ud/sl, DIR/hl, DIR/ud/u2, then DIR/ud with AT_REMOVEDIR
 *   unlinkat DIR/missing                                      (ENOENT)
 * and prints one JSON line of each result and the dirfd.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

struct ring {
	int fd;
	unsigned *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
};

static void die(const char *what)
{
	fprintf(stderr, "fl_uring: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void ring_init(struct ring *r)
{
	struct io_uring_params pr = { 0 };
	void *sq, *cq;

	r->fd = syscall(__NR_io_uring_setup, 4, &pr);
	if (r->fd < 0)
		die("io_uring_setup");
	sq = mmap(NULL, pr.sq_off.array + pr.sq_entries * sizeof(unsigned), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQ_RING);
	cq = mmap(NULL, pr.cq_off.cqes + pr.cq_entries * sizeof(struct io_uring_cqe),
		  PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_CQ_RING);
	r->sqes = mmap(NULL, pr.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || r->sqes == MAP_FAILED)
		die("mmap io_uring");
	r->sq_tail = (unsigned *)((char *)sq + pr.sq_off.tail);
	r->sq_mask = (unsigned *)((char *)sq + pr.sq_off.ring_mask);
	r->sq_array = (unsigned *)((char *)sq + pr.sq_off.array);
	r->cq_head = (unsigned *)((char *)cq + pr.cq_off.head);
	r->cq_tail = (unsigned *)((char *)cq + pr.cq_off.tail);
	r->cq_mask = (unsigned *)((char *)cq + pr.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)((char *)cq + pr.cq_off.cqes);
}

/* submit *sqe alone, wait for its completion, return its result */
static int run(struct ring *r, const struct io_uring_sqe *sqe)
{
	unsigned tail = *r->sq_tail, idx = tail & *r->sq_mask, head;
	int res;

	r->sqes[idx] = *sqe;
	r->sq_array[idx] = idx;
	__atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
	if (syscall(__NR_io_uring_enter, r->fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
		die("io_uring_enter");
	head = __atomic_load_n(r->cq_head, __ATOMIC_ACQUIRE);
	if (head == __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE)) {
		errno = EAGAIN;
		die("no completion");
	}
	res = r->cqes[head & *r->cq_mask].res;
	__atomic_store_n(r->cq_head, head + 1, __ATOMIC_RELEASE);
	return res;
}

static uint64_t p2u(const char *p)
{
	return (uint64_t)(uintptr_t)p;
}

int main(int argc, char **argv)
{
	char u1[4096], missing[4096], sl[4096], u2[4096], hl[4096], ud[4096], go;
	struct open_how how = { .flags = O_RDONLY, .resolve = RESOLVE_NO_SYMLINKS };
	struct io_uring_sqe e;
	struct ring r;
	int dfd, res[13], n = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: fl_uring DIR\n");
		return 2;
	}
	snprintf(u1, sizeof(u1), "%s/u1", argv[1]);
	snprintf(missing, sizeof(missing), "%s/missing", argv[1]);
	snprintf(sl, sizeof(sl), "%s/ud/sl", argv[1]);
	snprintf(u2, sizeof(u2), "%s/ud/u2", argv[1]);
	snprintf(hl, sizeof(hl), "%s/hl", argv[1]);
	snprintf(ud, sizeof(ud), "%s/ud", argv[1]);
	dfd = open(argv[1], O_RDONLY | O_DIRECTORY);
	if (dfd < 0)
		die(argv[1]);
	ring_init(&r);
	printf("pid %d\n", getpid());
	fflush(stdout);
	if (read(0, &go, 1) != 1)
		die("stdin");

#define SQE(op, fd_) do { memset(&e, 0, sizeof(e)); e.opcode = (op); e.fd = (fd_); } while (0)
	SQE(IORING_OP_OPENAT, AT_FDCWD);
	e.addr = p2u(u1), e.open_flags = O_WRONLY | O_CREAT | O_EXCL, e.len = 0640;
	res[n++] = run(&r, &e);
	SQE(IORING_OP_OPENAT, dfd);
	e.addr = p2u("missing"), e.open_flags = O_RDONLY;
	res[n++] = run(&r, &e);
	SQE(IORING_OP_OPENAT2, AT_FDCWD);
	e.addr = p2u(u1), e.addr2 = p2u((char *)&how), e.len = sizeof(how);
	res[n++] = run(&r, &e);
	SQE(IORING_OP_MKDIRAT, dfd);
	e.addr = p2u("ud"), e.len = 0750;
	res[n++] = run(&r, &e);
	SQE(IORING_OP_RENAMEAT, AT_FDCWD);
	e.addr = p2u(u1), e.len = dfd, e.addr2 = p2u("ud/u2");
	res[n++] = run(&r, &e);
	SQE(IORING_OP_SYMLINKAT, AT_FDCWD);
	e.addr = p2u("tgt"), e.addr2 = p2u(sl);
	res[n++] = run(&r, &e);
	SQE(IORING_OP_LINKAT, AT_FDCWD);
	e.addr = p2u(u2), e.len = AT_FDCWD, e.addr2 = p2u(hl);
	res[n++] = run(&r, &e);
	SQE(IORING_OP_UNLINKAT, AT_FDCWD);
	e.addr = p2u(sl);
	res[n++] = run(&r, &e);
	SQE(IORING_OP_UNLINKAT, AT_FDCWD);
	e.addr = p2u(hl);
	res[n++] = run(&r, &e);
	SQE(IORING_OP_UNLINKAT, AT_FDCWD);
	e.addr = p2u(u2);
	res[n++] = run(&r, &e);
	SQE(IORING_OP_UNLINKAT, AT_FDCWD);
	e.addr = p2u(ud), e.unlink_flags = AT_REMOVEDIR;
	res[n++] = run(&r, &e);
	SQE(IORING_OP_UNLINKAT, AT_FDCWD);
	e.addr = p2u(missing);
	res[n++] = run(&r, &e);
	printf("{\"dirfd\":%d,\"open_create\":%d,\"open_missing\":%d,\"openat2\":%d,\"mkdir\":%d,"
	       "\"rename\":%d,\"symlink\":%d,\"link\":%d,\"unlink_sl\":%d,\"unlink_hl\":%d,"
	       "\"unlink_u2\":%d,\"rmdir\":%d,\"unlink_missing\":%d}\n",
	       dfd, res[0], res[1], res[2], res[3], res[4], res[5], res[6], res[7], res[8], res[9],
	       res[10], res[11]);
	return 0;
}
