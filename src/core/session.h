/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The life of a tracing command's BPF object, in one place:
 *   X__open() -> session_open (common filters, ring buffer size)
 *   -> the command sets its own .rodata and autoload
 *   -> session_start (load, cgroup filter map, attach each program, ring buffer)
 *   -> session_loop (epoll: ring buffer, signalfd, timerfds)
 *   -> session_close (detach, drain, report loss) -> X__destroy()
 */
#ifndef VIGIL_SESSION_H
#define VIGIL_SESSION_H

#include <bpf/libbpf.h>
#include <stdint.h>

struct vigil_session {
	const char *name;
	struct bpf_object_skeleton *skel;
	struct bpf_object *obj;
	struct ring_buffer *rb;
	int epfd, sigfd, tickfd, endfd, drainfd;
	/*
	 * Set by a command whose BPF side skips ring buffer wakeups for
	 * throughput (BPF_RB_NO_WAKEUP): the loop also drains every drain_ns.
	 */
	uint64_t drain_ns;
	uint64_t received;	/* records handed to the command */
	uint64_t lost_reported;
	int attached;
	ring_buffer_sample_fn on_event;
	void *on_event_ctx;
	/* optional, set after open: runs after load, before the status line
	 * (fill maps, attach programs that need arguments, e.g. XDP's ifindex;
	 * programs with autoattach off are left to it) */
	int (*prepare)(struct vigil_session *s, void *ctx);
	void *prepare_ctx;
	/* extra fds the loop watches (inotify...); fn returns non-zero to end */
	struct { int fd; int (*fn)(void *ctx); void *ctx; } watch[4];
	int nwatch;
};

/* libbpf messages: to stderr with -v, else kept for failure reports */
void vigil_libbpf_setup(void);
/* print the captured tail of libbpf's log (verifier output) */
void vigil_libbpf_dump_tail(int lines);
/* forget captured messages (after an expected failure, such as a probe) */
void vigil_libbpf_log_clear(void);

int vigil_session_open(struct vigil_session *s, const char *name,
		       struct bpf_object_skeleton *skel);
int vigil_session_start(struct vigil_session *s, ring_buffer_sample_fn on_event, void *ctx);
/* watch fd in the loop: fn(ctx) runs when it is readable */
int vigil_session_watch_fd(struct vigil_session *s, int fd, int (*fn)(void *ctx), void *ctx);
/* run until SIGINT/SIGTERM, --duration or lost output; tick runs every --interval */
int vigil_session_loop(struct vigil_session *s, int (*tick)(void *ctx), void *ctx);
/* err is the status so far; returns the exit code to use */
int vigil_session_close(struct vigil_session *s, int err);

uint64_t vigil_session_lost(struct vigil_session *s);
/* Set a .rodata variable by name, before load (checked against BTF). */
int vigil_rodata_set(struct bpf_object *obj, const char *var, const void *val, size_t size);
/* Load with a clear report naming the program and the verifier's last lines. */
int vigil_object_load(const char *name, struct bpf_object *obj);

#endif
