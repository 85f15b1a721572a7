/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The one event loop of a vigil process: epoll over any number of sources
 * ({fd, callback, ctx}: ring buffers, timers, inotify, listening and client
 * sockets), and a signalfd for SIGINT, SIGTERM and SIGHUP. A CLI command and
 * the agent both run on one loop; each feature instance registers its own
 * sources with its own ctx, so nothing of a feature lives in the loop.
 */
#ifndef VIGIL_LOOP_H
#define VIGIL_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

struct vigil_loop;

/*
 * A source is ready. events are the epoll bits (EPOLLIN, EPOLLOUT, EPOLLHUP,
 * ...); for a timer the loop has already read the expiration count. Return 0
 * to go on, > 0 to end the loop with that exit code, < 0 (-errno) to end it
 * as a runtime failure.
 */
typedef int (*vigil_loop_fn)(void *ctx, int fd, uint32_t events);

struct vigil_loop_src {
	int fd;
	uint32_t events;
	vigil_loop_fn fn;
	void *ctx;
	bool timer;		/* the loop owns and closes timer fds */
};

struct vigil_loop {
	int epfd, sigfd;
	struct vigil_loop_src *src;	/* indexed by slot; fd < 0 = free */
	int nsrc, cap;
	bool stopping;
	int code;			/* exit code once stopping */
	int signals;			/* SIGINT/SIGTERM seen */
	/* SIGINT/SIGTERM: the default ends the loop with 0; SIGHUP is ignored
	 * unless on_signal is set. Return as for vigil_loop_fn. */
	int (*on_signal)(void *ctx, int signo);
	void *signal_ctx;
};

/* blocks SIGINT/SIGTERM/SIGHUP (read through the signalfd from now on) */
int vigil_loop_init(struct vigil_loop *l);
void vigil_loop_fini(struct vigil_loop *l);
int vigil_loop_add(struct vigil_loop *l, int fd, uint32_t events, vigil_loop_fn fn, void *ctx);
int vigil_loop_mod(struct vigil_loop *l, int fd, uint32_t events);
/* safe from inside a callback, including the source's own */
void vigil_loop_del(struct vigil_loop *l, int fd);
/* a CLOCK_MONOTONIC timer source; returns its fd (the loop closes it on del) */
int vigil_loop_timer(struct vigil_loop *l, uint64_t ns, bool periodic, vigil_loop_fn fn, void *ctx);
/* re-arm (0 disarms) */
int vigil_loop_timer_set(struct vigil_loop *l, int fd, uint64_t ns, bool periodic);
/* end vigil_loop_run with code once the current callback returns */
void vigil_loop_stop(struct vigil_loop *l, int code);
/* wait up to timeout_ms (-1: until stopped) and dispatch; returns the exit
 * code once stopped, else -1 when it returned on the timeout */
int vigil_loop_run(struct vigil_loop *l, int timeout_ms);

#endif
