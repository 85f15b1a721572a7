// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* vigil proc: process exec, fork and exit in one stream. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include "core/vigil.h"
#include "core/env.h"
#include "core/opts.h"
#include "core/out.h"
#include "core/session.h"
#include "core/feature.h"
#include "core/metrics.h"
#include "core/names.h"
#include "proc.skel.h"

struct proc_opts {
	bool exec_only, fork_only, exit_only;
	bool failed, threads;
};

struct proc_priv {
	struct vigil_session s;
	struct proc_bpf *skel;
	uint64_t events[3];	/* exec, fork, exit: the agent's counters */
};

#define P(f) VOFF(struct proc_opts, f)

static const struct vigil_opt proc_opts[] = {
	VOPT_SECTION("Events"),
	{ "exec-only", 0, VO_FLAG, P(exec_only), NULL, "only exec events" },
	{ "fork-only", 0, VO_FLAG, P(fork_only), NULL, "only fork events" },
	{ "exit-only", 0, VO_FLAG, P(exit_only), NULL, "only exit events" },
	{ "failed", 'x', VO_FLAG, P(failed), NULL, "also show failed execs, with their error" },
	{ "threads", 'T', VO_FLAG, P(threads), NULL, "also show thread creation and thread exits" },
	VOPT_END,
};

static void col_event(const struct vrow *r, char *buf, size_t n)
{
	snprintf(buf, n, "%s", vrow_s(r, "type"));
}

/* what differs per event type, in one column */
static void col_detail(const struct vrow *r, char *buf, size_t n)
{
	const char *type = vrow_s(r, "type");
	const struct vfield *f;
	char dur[32];
	size_t o = 0;

	if (!strcmp(type, "exec")) {
		f = vrow_get(r, "errno");
		if (f)
			o += snprintf(buf + o, n - o, "[%s] ", f->s);
		f = vrow_get(r, "argv");
		for (uint32_t i = 0; f && i < f->list.len && o + 1 < n; i++)
			buf[o++] = f->list.buf[i] ? f->list.buf[i] : ' ';
		if (o && buf[o - 1] == ' ')
			o--;
		buf[o] = 0;
		if (vrow_b(r, "args_truncated") && o + 4 < n)
			snprintf(buf + o, n - o, " ...");
		if (!o)
			snprintf(buf, n, "%s", vrow_s(r, "filename"));
	} else if (!strcmp(type, "fork")) {
		snprintf(buf, n, "child=%llu%s", (unsigned long long)vrow_u(r, "child_pid"),
			 vrow_b(r, "thread") ? " (thread)" : "");
	} else {
		vigil_fmt_duration(vrow_u(r, "lifetime_ns"), dur, sizeof(dur));
		f = vrow_get(r, "signal");
		if (f)
			snprintf(buf, n, "killed by %s after %s%s", vrow_s(r, "signal_name"), dur,
				 vrow_b(r, "core_dumped") ? " (core dumped)" : "");
		else
			snprintf(buf, n, "code=%lld after %s", (long long)vrow_i(r, "exit_code"), dur);
	}
}

static const struct vcol proc_cols[] = {
	VCOL_TIME,
	{ "EVENT", 5, NULL, col_event },
	{ "PID", 7, "pid", NULL, true },
	{ "PPID", 7, "ppid", NULL, true },
	{ "UID", 5, "uid", NULL, true },
	{ "COMM", 16, "comm" },
	{ "DETAIL", 0, NULL, col_detail },
	{ 0 },
};

static int on_event(void *ctx, void *data, size_t size)
{
	struct vigil_inst *in = ctx;
	const struct vigil_hdr *h = data;
	struct vrow r;

	vrow_init(&r);
	switch (h->type) {
	case VIGIL_EV_EXEC: {
		const struct vigil_exec *e = data;

		if (size < sizeof(*e))
			return 0;
		vrow_hdr(&r, "exec", h);
		vrow_str(&r, "filename", e->filename);
		vrow_strlist(&r, "argv", e->args, e->args_len);
		vrow_u64(&r, "argc", e->argc);
		vrow_bool(&r, "args_truncated", e->flags & VIGIL_EXEC_ARGS_TRUNC);
		vrow_s64(&r, "retval", e->retval);
		if (e->retval < 0)
			vrow_str(&r, "errno", vigil_errno_name(-e->retval));
		break;
	}
	case VIGIL_EV_FORK: {
		const struct vigil_fork *e = data;

		if (size < sizeof(*e))
			return 0;
		vrow_hdr(&r, "fork", h);
		vrow_u64(&r, "child_pid", e->child_pid);
		vrow_u64(&r, "child_tid", e->child_tid);
		vrow_bool(&r, "thread", e->clone_thread);
		break;
	}
	case VIGIL_EV_EXIT: {
		const struct vigil_exit *e = data;
		int sig = e->exit_code & 0x7f;

		if (size < sizeof(*e))
			return 0;
		vrow_hdr(&r, "exit", h);
		vrow_u64(&r, "lifetime_ns", e->lifetime_ns);
		vrow_s64(&r, "exit_code", (e->exit_code >> 8) & 0xff);
		if (sig) {
			vrow_u64(&r, "signal", sig);
			vrow_str(&r, "signal_name", vigil_signal_name(sig));
			vrow_bool(&r, "core_dumped", e->exit_code & 0x80);
		}
		break;
	}
	default:
		return 0;
	}
	((struct proc_priv *)in->priv)->events[h->type == VIGIL_EV_EXEC ? 0 : h->type == VIGIL_EV_FORK ? 1 : 2]++;
	return out_row(in->sink, &r);
}

static int proc_check(struct vigil_inst *in)
{
	const struct proc_opts *o = in->opts;
	int only = o->exec_only + o->fork_only + o->exit_only;

	if (only > 1) {
		vigil_usage_error("--exec-only, --fork-only and --exit-only exclude each other");
		return VIGIL_EXIT_USAGE;
	}
	if (o->failed && only && !o->exec_only) {
		vigil_usage_error("--failed needs exec events");
		return VIGIL_EXIT_USAGE;
	}
	return 0;
}

static int proc_start(struct vigil_inst *in)
{
	const struct proc_opts *o = in->opts;
	struct proc_priv *p = in->priv;
	int only = o->exec_only + o->fork_only + o->exit_only;
	bool want_exec = !only || o->exec_only;
	bool want_fork = !only || o->fork_only;
	bool want_exit = !only || o->exit_only;
	struct proc_bpf *skel;
	int err;

	/* failed execs come from the syscall tracepoints, which need tracefs */
	if (o->failed && (err = vigil_env_need_tracefs()))
		return err;
	skel = p->skel = proc_bpf__open();
	err = vigil_session_open(&p->s, in, skel ? skel->skeleton : NULL);
	if (err)
		return err;
	skel->rodata->want_fork = want_fork;
	skel->rodata->want_exit = want_exit;
	skel->rodata->want_threads = o->threads;
	bpf_program__set_autoload(skel->progs.proc_exec, want_exec);
	bpf_program__set_autoload(skel->progs.proc_fork, want_fork);
	bpf_program__set_autoload(skel->progs.proc_exit, want_exit);
	bpf_program__set_autoload(skel->progs.proc_enter_execve, o->failed);
	bpf_program__set_autoload(skel->progs.proc_enter_execveat, o->failed);
	bpf_program__set_autoload(skel->progs.proc_exit_execve, o->failed);
	bpf_program__set_autoload(skel->progs.proc_exit_execveat, o->failed);
	bpf_program__set_autoload(skel->progs.proc_free, o->failed);
	if (!o->failed) {
		/* unused maps still cost memory: shrink them */
		bpf_map__set_max_entries(skel->maps.exec_stash, 1);
	}
	out_set_columns(in->sink, proc_cols);
	return vigil_session_start(&p->s, on_event, in);
}

static int proc_stop(struct vigil_inst *in, int err)
{
	struct proc_priv *p = in->priv;

	if (p->s.in)
		err = vigil_session_close(&p->s, err);
	proc_bpf__destroy(p->skel);
	p->skel = NULL;
	return err;
}

static int proc_sessions(struct vigil_inst *in, struct vigil_session **out, int max)
{
	struct proc_priv *p = in->priv;

	out[0] = &p->s;
	return max > 0 && p->skel ? 1 : 0;
}

static void proc_metrics(struct vigil_inst *in, struct vigil_metrics *m)
{
	static const char *const types[3] = { "exec", "fork", "exit" };
	struct proc_priv *p = in->priv;

	vm_family(m, "vigil_proc_events_total", "counter", "process events by type");
	for (int i = 0; i < 3; i++)
		vm_u64(m, p->events[i], (const char *[]){ "feature", in->name, "type", types[i], NULL });
}

static const struct vigil_feature feat_proc = {
	.name = "proc",
	.opts = proc_opts,
	.opts_size = sizeof(struct proc_opts),
	.priv_size = sizeof(struct proc_priv),
	.check = proc_check,
	.start = proc_start,
	.stop = proc_stop,
	.sessions = proc_sessions,
	.metrics = proc_metrics,
};

const struct vigil_cmd cmd_proc = {
	.name = "proc",
	.summary = "trace process exec, fork and exit (execsnoop + exitsnoop in one stream)",
	.flags = VC_ROOT | VC_BTF | VC_TRACE,
	.needs = VIGIL_MECH(VIGIL_M_TP_BTF) | VIGIL_MECH(VIGIL_M_RINGBUF),
	.feature = &feat_proc,
};
