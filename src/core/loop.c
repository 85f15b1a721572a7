// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include "core/loop.h"

static void loop_sigset(sigset_t *m)
{
	sigemptyset(m);
	sigaddset(m, SIGINT);
	sigaddset(m, SIGTERM);
	sigaddset(m, SIGHUP);
}

/*
 * While the loop runs, SIGINT/SIGTERM/SIGHUP are taken by a handler that
 * writes the signal to a pipe the loop watches. Unlike a signalfd, a
 * handler also interrupts a write() blocked on a full pipe (a reader that
 * stopped reading), so Ctrl-C always ends the run. Outside the loop (loads,
 * the exit drain) the signals stay blocked and wait for it.
 */
static int sig_pipe[2] = { -1, -1 };

static void on_signal_handler(int sig)
{
	unsigned char b = sig;
	int e = errno;

	if (write(sig_pipe[1], &b, 1) < 0) {
		/* full: the loop has signals to read already */
	}
	errno = e;
}

int vigil_loop_init(struct vigil_loop *l)
{
	sigset_t m;

	memset(l, 0, sizeof(*l));
	l->sigfd = -1;
	loop_sigset(&m);
	/* from here on a Ctrl-C is data for the loop, even during a load */
	sigprocmask(SIG_BLOCK, &m, NULL);
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		return -errno;
	if (sig_pipe[0] < 0 && pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK))
		return -errno;
	l->sigfd = sig_pipe[0];
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = UINT32_MAX };

	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->sigfd, &ev) ? -errno : 0;
}

void vigil_loop_fini(struct vigil_loop *l)
{
	for (int i = 0; i < l->nsrc; i++)
		if (l->src[i].fd >= 0 && l->src[i].timer)
			close(l->src[i].fd);
	free(l->src);
	if (l->epfd >= 0)
		close(l->epfd);
	l->src = NULL;
	l->nsrc = l->cap = 0;
	l->sigfd = l->epfd = -1;
}

static int slot_of(struct vigil_loop *l, int fd)
{
	for (int i = 0; i < l->nsrc; i++)
		if (l->src[i].fd == fd)
			return i;
	return -1;
}

static int add_src(struct vigil_loop *l, int fd, uint32_t events, vigil_loop_fn fn, void *ctx,
		   bool timer)
{
	struct epoll_event ev = { .events = events };
	int slot = slot_of(l, -1);

	if (fd < 0 || !fn)
		return -EINVAL;
	if (slot < 0) {
		if (l->nsrc == l->cap) {
			int cap = l->cap ? l->cap * 2 : 16;
			struct vigil_loop_src *p = realloc(l->src, cap * sizeof(*p));

			if (!p)
				return -ENOMEM;
			l->src = p;
			l->cap = cap;
		}
		slot = l->nsrc++;
	}
	ev.data.u32 = slot;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		l->src[slot].fd = -1;
		return -errno;
	}
	l->src[slot] = (struct vigil_loop_src){ fd, events, fn, ctx, timer };
	return 0;
}

int vigil_loop_add(struct vigil_loop *l, int fd, uint32_t events, vigil_loop_fn fn, void *ctx)
{
	return add_src(l, fd, events, fn, ctx, false);
}

int vigil_loop_mod(struct vigil_loop *l, int fd, uint32_t events)
{
	int slot = slot_of(l, fd);
	struct epoll_event ev = { .events = events, .data.u32 = slot };

	if (slot < 0)
		return -ENOENT;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev))
		return -errno;
	l->src[slot].events = events;
	return 0;
}

void vigil_loop_del(struct vigil_loop *l, int fd)
{
	int slot = fd >= 0 ? slot_of(l, fd) : -1;

	if (slot < 0)
		return;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	if (l->src[slot].timer)
		close(fd);
	/* a later event of this batch for the slot is ignored: fd < 0 */
	l->src[slot].fd = -1;
}

int vigil_loop_timer_set(struct vigil_loop *l, int fd, uint64_t ns, bool periodic)
{
	struct itimerspec its = { .it_value = { ns / 1000000000ull, ns % 1000000000ull } };

	(void)l;
	if (periodic)
		its.it_interval = its.it_value;
	return timerfd_settime(fd, 0, &its, NULL) ? -errno : 0;
}

int vigil_loop_timer(struct vigil_loop *l, uint64_t ns, bool periodic, vigil_loop_fn fn, void *ctx)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK), err;

	if (fd < 0)
		return -errno;
	if ((err = vigil_loop_timer_set(l, fd, ns, periodic)) ||
	    (err = add_src(l, fd, EPOLLIN, fn, ctx, true))) {
		close(fd);
		return err;
	}
	return fd;
}

void vigil_loop_stop(struct vigil_loop *l, int code)
{
	if (!l->stopping) {
		l->stopping = true;
		l->code = code;
	}
}

static int on_signals(struct vigil_loop *l)
{
	unsigned char sig;

	while (read(l->sigfd, &sig, 1) == 1) {
		int r = 0;

		if (sig != SIGHUP)
			l->signals++;
		if (l->on_signal)
			r = l->on_signal(l->signal_ctx, sig);
		else if (sig != SIGHUP)
			vigil_loop_stop(l, 0);
		if (r)
			vigil_loop_stop(l, r < 0 ? 1 : r);
	}
	return 0;
}

static void handlers(bool on, sigset_t *saved)
{
	/* SIGHUP restarts what it interrupts (an agent reload loads programs);
	 * SIGINT and SIGTERM interrupt a blocked write */
	struct sigaction hup = { .sa_handler = on_signal_handler, .sa_flags = SA_RESTART };
	struct sigaction stop = { .sa_handler = on_signal_handler };
	sigset_t m;

	loop_sigset(&m);
	if (on) {
		sigaction(SIGHUP, &hup, NULL);
		sigaction(SIGINT, &stop, NULL);
		sigaction(SIGTERM, &stop, NULL);
		sigprocmask(SIG_UNBLOCK, &m, saved);
	} else {
		sigprocmask(SIG_BLOCK, &m, NULL);
	}
}

static int loop_run(struct vigil_loop *l, int timeout_ms);

int vigil_loop_run(struct vigil_loop *l, int timeout_ms)
{
	sigset_t saved;
	int code;

	handlers(true, &saved);
	code = loop_run(l, timeout_ms);
	handlers(false, &saved);
	return code;
}

static int loop_run(struct vigil_loop *l, int timeout_ms)
{
	struct epoll_event evs[16];

	while (!l->stopping) {
		int n = epoll_wait(l->epfd, evs, 16, timeout_ms);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			vigil_loop_stop(l, 1);
			break;
		}
		if (n == 0 && timeout_ms >= 0)
			return -1;
		for (int i = 0; i < n && !l->stopping; i++) {
			uint32_t slot = evs[i].data.u32;
			struct vigil_loop_src *s;
			uint64_t ticks;
			int r;

			if (slot == UINT32_MAX) {
				on_signals(l);
				continue;
			}
			if (slot >= (uint32_t)l->nsrc || l->src[slot].fd < 0)
				continue;
			s = &l->src[slot];
			if (s->timer && read(s->fd, &ticks, sizeof(ticks)) < 0 && errno == EAGAIN)
				continue;
			r = s->fn(s->ctx, s->fd, evs[i].events);
			if (r)
				vigil_loop_stop(l, r < 0 ? 1 : r);
		}
	}
	return l->code;
}
