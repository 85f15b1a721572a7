/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The life of a feature instance's BPF object, in one place:
 *   X__open() -> session_open (the instance's filters, ring buffer size)
 *   -> the feature sets its own .rodata and autoload
 *   -> session_start (load, cgroup filter map, attach each program, the ring
 *      buffer registered with the instance's loop)
 *   -> session_close (detach, bounded drain, report loss) -> X__destroy()
 */
#ifndef VIGIL_SESSION_H
#define VIGIL_SESSION_H

#include <bpf/libbpf.h>
#include <stdbool.h>
#include <stdint.h>
#include "core/vigil.h"

struct vigil_loop;
struct vigil_sink;
struct vigil_inst;

struct vigil_session {
	const char *name;
	struct vigil_inst *in;		/* whose filters, loop and sink */
	struct bpf_object_skeleton *skel;	/* NULL for a bare ring buffer */
	struct bpf_object *obj;
	struct ring_buffer *rb;
	int rb_fd;			/* its epoll fd, registered with the loop */
	int lost_fd;			/* a bare ring buffer's loss counter map, or -1 */
	int drainfd;
	/*
	 * Set by a command whose BPF side skips ring buffer wakeups for
	 * throughput (BPF_RB_NO_WAKEUP): the loop also drains every drain_ns.
	 */
	uint64_t drain_ns;
	uint64_t received;	/* records handed to the command */
	uint32_t batch;		/* records of the current consume call */
	uint64_t lost_reported;
	uint64_t unread;	/* left in the ring when the exit drain was cut short */
	int attached;
	bool streams;		/* records are handed to on_event */
	ring_buffer_sample_fn on_event;
	void *on_event_ctx;
	/* optional, set after open: runs after load, before the status line
	 * (fill maps, attach programs that need arguments, e.g. XDP's ifindex;
	 * programs with autoattach off are left to it) */
	int (*prepare)(struct vigil_session *s, void *ctx);
	void *prepare_ctx;
};

/* the BPF run-time cost of one program (kernel BPF stats) */
struct vigil_prog_cost {
	const char *name;
	uint64_t runs;
	uint64_t run_ns;
};

/* libbpf messages: to stderr with -v, else kept for failure reports */
void vigil_libbpf_setup(void);
/* print the captured tail of libbpf's log (verifier output) */
void vigil_libbpf_dump_tail(int lines);
/* forget captured messages (after an expected failure, such as a probe) */
void vigil_libbpf_log_clear(void);

int vigil_session_open(struct vigil_session *s, struct vigil_inst *in,
		       struct bpf_object_skeleton *skel);
/* records from a ring buffer that exists already (a pinned one): no object */
int vigil_session_open_rb(struct vigil_session *s, struct vigil_inst *in, int rb_map_fd,
			  int lost_map_fd, ring_buffer_sample_fn on_event, void *ctx);
/* load, attach, and register the ring buffer with the instance's loop */
int vigil_session_start(struct vigil_session *s, ring_buffer_sample_fn on_event, void *ctx);
/*
 * Detach (no new events), drain what is queued, report the loss. The drain
 * is bounded: a second SIGINT/SIGTERM or VIGIL_DRAIN_LIMIT_MS ends it, and
 * what was left unread is reported. err is the status so far; returns the
 * exit code to use.
 */
int vigil_session_close(struct vigil_session *s, int err);
#define VIGIL_DRAIN_LIMIT_MS 3000
#define VIGIL_RB_BATCH 4096	/* records per consume before the loop gets a turn */
/* the cost of each loaded program; returns how many were written */
int vigil_session_costs(struct vigil_session *s, struct vigil_prog_cost *out, int max);
/* kernel BPF stats on (held for the process's life once asked for) */
void vigil_bpf_stats_enable(void);
bool vigil_bpf_stats_on(void);

/*
 * Run-time mechanism choice: one command, several ways to hook the same
 * thing (fentry where the kernel allows it, classic tracepoints elsewhere).
 * A path counts as available only when its programs load, attach AND are
 * seen to fire on activity vigil makes itself at start-up (bpf/mech.bpf.h):
 * fexit on a syscall wrapper that the kernel inlined loads and attaches
 * fine, then never runs.
 */
struct vigil_mech_path {
	const char *name;		/* as --mechanism takes it: "fentry", "tracepoint" */
	enum vigil_mech mech;		/* the doctor mechanism it rests on */
	const char *hooks;		/* for people: "vfs_read, vfs_write" */
	const char *const *progs;	/* its programs, NULL-terminated; others' are not loaded */
	const char *const *seen;	/* hook per vigil_seen_hit() slot, NULL-terminated */
	bool tracefs;			/* classic tracepoints: tracefs mounted on demand */
};

struct vigil_mech_plan {
	const struct vigil_mech_path *paths;	/* in order of preference */
	int npaths;
	/* open the object and set the command's .rodata and map sizes (called
	 * again for each path tried); NULL with errno set on failure */
	struct bpf_object_skeleton *(*open)(struct vigil_inst *in, const struct vigil_mech_path *path);
	void (*destroy)(struct vigil_inst *in);
	/* activity of vigil's own that makes every seen slot of every path fire */
	void (*trigger)(struct vigil_inst *in);
	/* optional: the session's prepare (struct vigil_session) for each path tried,
	 * called with the instance; NULL for none */
	int (*prepare)(struct vigil_session *s, void *in);
	/* optional: a cheap check before a path is opened; a positive errno (and
	 * why) passes over it without creating its maps or loading its programs */
	int (*usable)(struct vigil_inst *in, const struct vigil_mech_path *path, char *why, size_t n);
};

struct vigil_mech_choice {
	const struct vigil_mech_path *path;	/* NULL when none works */
	bool forced;				/* --mechanism named it */
	int err;				/* positive errno of the last failure */
	char why[512];	/* why better paths were passed over: "fentry: load: Operation not permitted" */
};

/*
 * open + start with the first path of plan that works (only the one named
 * by --mechanism when given), then report the choice: a debug line (-v)
 * and, in JSON mode, one {"type":"mechanism"} record. On success s is
 * started as by vigil_session_start; on failure it is closed and the
 * object destroyed.
 */
int vigil_session_start_plan(struct vigil_session *s, struct vigil_inst *in,
			     const struct vigil_mech_plan *plan, ring_buffer_sample_fn on_event,
			     void *ctx, struct vigil_mech_choice *c);
/* what vigil_session_start_plan would pick here and now, leaving nothing loaded (doctor) */
void vigil_mech_plan_probe(struct vigil_inst *in, const struct vigil_mech_plan *plan,
			   struct vigil_mech_choice *c);

uint64_t vigil_session_lost(struct vigil_session *s);
/* the interval's loss report of a streaming session (a lost record when it grew) */
void vigil_session_tick(struct vigil_session *s);
/* Set a .rodata variable by name, before load (checked against BTF). */
int vigil_rodata_set(struct bpf_object *obj, const char *var, const void *val, size_t size);
/* Load with a clear report naming the program and the verifier's last lines. */
int vigil_object_load(const char *name, struct bpf_object *obj);

#endif
