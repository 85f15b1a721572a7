// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * vigil top: one row per container and one for the host, every interval:
 * CPU time, execs, forks, syscalls and failed ones, bytes read and written.
 * Counted in the kernel per cgroup (bpf/top.bpf.c); the cgroups of a
 * container are folded into it here. docs/top.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "core/vigil.h"
#include "core/container.h"
#include "core/feature.h"
#include "core/metrics.h"
#include "core/opts.h"
#include "core/out.h"
#include "core/session.h"
#include "top.skel.h"

#define TOP_INTERVAL_DEFAULT 1000000000ull
#define TOP_MAX_ROWS 4096

enum top_sort { TS_CPU, TS_EXECS, TS_SYSCALLS, TS_FAILED, TS_RBYTES, TS_WBYTES };
static const char *const sort_names[] = { "cpu", "execs", "syscalls", "failed", "rbytes", "wbytes" };

struct top_opts {
	enum top_sort sort;
	uint32_t top;
	bool once;
};

/* a container (or the host), with its counters summed over its cgroups */
struct top_row {
	char key[72];			/* container id, or "" for the host */
	uint64_t cgroup_id;		/* the container's top cgroup: its identity in the record */
	struct vigil_top_val now, prev;
	bool seen;
};

struct top_priv {
	struct vigil_session s;
	struct top_bpf *skel;
	bool started;
	struct top_row *rows;
	size_t n, cap;
	uint64_t span_start, run_start;
	int ncpu;
	bool tty;
};

static int opt_sort(void *base, const char *arg)
{
	for (size_t i = 0; i < sizeof(sort_names) / sizeof(sort_names[0]); i++)
		if (!strcmp(arg, sort_names[i])) {
			((struct top_opts *)base)->sort = i;
			return 0;
		}
	vigil_usage_error("invalid sort key '%s': cpu, execs, syscalls, failed, rbytes or wbytes", arg);
	return -1;
}

static const struct vigil_opt top_opts[] = {
	VOPT_SECTION("Rows (default: every container and the host, by CPU, every second)"),
	{ "sort", 's', VO_FUNC, 0, "KEY", "cpu (default), execs, syscalls, failed, rbytes or wbytes",
	  opt_sort },
	{ "top", 'n', VO_U32, VOFF(struct top_opts, top), "N", "only the first N rows (0: all)",
	  .max = TOP_MAX_ROWS },
	{ "once", 0, VO_FLAG, VOFF(struct top_opts, once), NULL,
	  "print one table per interval even on a terminal (no redraw)" },
	VOPT_END,
};

static struct top_row *row_of(struct top_priv *p, const char *key, uint64_t cgid)
{
	struct top_row *r;

	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->rows[i].key, key))
			return &p->rows[i];
	if (p->n == TOP_MAX_ROWS)
		return NULL;
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		struct top_row *q = realloc(p->rows, cap * sizeof(*q));

		if (!q)
			return NULL;
		p->rows = q;
		p->cap = cap;
	}
	r = &p->rows[p->n++];
	memset(r, 0, sizeof(*r));
	snprintf(r->key, sizeof(r->key), "%s", key);
	r->cgroup_id = cgid;
	return r;
}

static void add(struct vigil_top_val *a, const struct vigil_top_val *b)
{
	a->cpu_ns += b->cpu_ns;
	a->execs += b->execs;
	a->forks += b->forks;
	a->syscalls += b->syscalls;
	a->syscalls_failed += b->syscalls_failed;
	a->rbytes += b->rbytes;
	a->wbytes += b->wbytes;
}

/* the map's cgroups, summed over CPUs, folded into containers (cumulative) */
static int collect(struct vigil_inst *in)
{
	struct top_priv *p = in->priv;
	int fd = bpf_map__fd(p->skel->maps.top_stats);
	struct vigil_top_val vals[p->ncpu];
	uint64_t key, next, *prev = NULL;

	for (size_t i = 0; i < p->n; i++) {
		p->rows[i].prev = p->rows[i].now;
		memset(&p->rows[i].now, 0, sizeof(p->rows[i].now));
	}
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		const struct vigil_container *c;
		struct vigil_top_val sum = { 0 };
		struct top_row *r;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, vals))
			continue;
		for (int k = 0; k < p->ncpu; k++)
			add(&sum, &vals[k]);
		c = in->containers ? vigil_container_lookup(in->containers, key) : NULL;
		r = c ? row_of(p, c->id, c->cgroup_id) : row_of(p, "", 0);
		if (r) {
			add(&r->now, &sum);
			r->seen = true;
		}
	}
	return 0;
}

static uint64_t sort_val(const struct vigil_top_val *v, enum top_sort s)
{
	switch (s) {
	case TS_EXECS: return v->execs;
	case TS_SYSCALLS: return v->syscalls;
	case TS_FAILED: return v->syscalls_failed;
	case TS_RBYTES: return v->rbytes;
	case TS_WBYTES: return v->wbytes;
	default: return v->cpu_ns;
	}
}

struct shown {
	struct top_row *r;
	struct vigil_top_val d;
};

static int shown_cmp(const void *a, const void *b, void *arg)
{
	const struct shown *x = a, *y = b;
	uint64_t vx = sort_val(&x->d, *(enum top_sort *)arg), vy = sort_val(&y->d, *(enum top_sort *)arg);

	return vx != vy ? (vx > vy ? -1 : 1) : strcmp(x->r->key, y->r->key);
}

static void col_cpu(const struct vrow *r, char *buf, size_t n)
{
	snprintf(buf, n, "%.1f", vrow_u(r, "cpu_ns") * 100.0 / (vrow_u(r, "span_ns") ?: 1));
}

static void col_name(const struct vrow *r, char *buf, size_t n)
{
	snprintf(buf, n, "%s", vrow_s(r, "name"));
}

static void col_kb(const struct vrow *r, char *buf, size_t n, const char *k)
{
	snprintf(buf, n, "%llu", (unsigned long long)(vrow_u(r, k) / 1024));
}

static void col_rkb(const struct vrow *r, char *b, size_t n) { col_kb(r, b, n, "rbytes"); }
static void col_wkb(const struct vrow *r, char *b, size_t n) { col_kb(r, b, n, "wbytes"); }

static const struct vcol top_cols[] = {
	{ "CONTAINER", 24, NULL, col_name },
	{ "RUNTIME", 10, "runtime" },
	{ "CPU%", 6, NULL, col_cpu, true },
	{ "EXECS", 7, "execs", NULL, true },
	{ "FORKS", 7, "forks", NULL, true },
	{ "SYSCALLS", 10, "syscalls", NULL, true },
	{ "FAILED", 8, "syscalls_failed", NULL, true },
	{ "READ_KB", 9, NULL, col_rkb, true },
	{ "WRITE_KB", 0, NULL, col_wkb, true },
	{ 0 },
};

static int render(struct vigil_inst *in, bool final)
{
	const struct top_opts *o = in->opts;
	struct top_priv *p = in->priv;
	struct vigil_sink *k = in->sink;
	uint64_t now = vigil_boot_ns(), mono = vigil_mono_ns();
	uint64_t span = final ? mono - p->run_start : mono - p->span_start;
	char iso[40], hhmmss[16];
	struct shown *sh;
	size_t n = 0, lim;
	struct vrow r;

	collect(in);
	sh = calloc(p->n ? p->n : 1, sizeof(*sh));
	if (!sh)
		return VIGIL_EXIT_FAIL;
	for (size_t i = 0; i < p->n; i++) {
		struct top_row *t = &p->rows[i];
		struct vigil_top_val d = t->now;

		if (!final) {
			d.cpu_ns -= t->prev.cpu_ns;
			d.execs -= t->prev.execs;
			d.forks -= t->prev.forks;
			d.syscalls -= t->prev.syscalls;
			d.syscalls_failed -= t->prev.syscalls_failed;
			d.rbytes -= t->prev.rbytes;
			d.wbytes -= t->prev.wbytes;
		}
		sh[n].r = t;
		sh[n++].d = d;
	}
	qsort_r(sh, n, sizeof(*sh), shown_cmp, (void *)&o->sort);
	lim = o->top && o->top < n ? o->top : n;
	vigil_iso_time(now, iso, sizeof(iso));
	vrow_init(&r);
	vrow_u64(&r, "ts", now);
	vcol_time(&r, hhmmss, sizeof(hhmmss));
	if (!k->json) {
		if (p->tty && !o->once && !final)
			out_text(k, "\033[H\033[2J");
		out_text(k, "%s%s  %s: %zu containers and the host\n", p->tty && !o->once ? "" : "\n",
			 hhmmss, final ? "total since start" : "last interval", n ? n - 1 : 0);
		out_header(k);
	}
	for (size_t i = 0; i < lim; i++) {
		const struct vigil_container *c = sh[i].r->key[0] && in->containers ?
			vigil_container_lookup(in->containers, sh[i].r->cgroup_id) : NULL;
		const struct vigil_top_val *d = &sh[i].d;

		vrow_init(&r);
		vrow_str(&r, "type", "top");
		vrow_u64(&r, "ts", now);
		vrow_str(&r, "time", iso);
		vrow_bool(&r, "final", final);
		vrow_u64(&r, "span_ns", span);
		vrow_str(&r, "scope", sh[i].r->key[0] ? "container" : "host");
		vrow_str(&r, "name", !sh[i].r->key[0] ? "(host)" :
			 c && c->name_state == VIGIL_CNAME_KNOWN ? c->name : sh[i].r->key);
		vrow_str(&r, "runtime", c ? vigil_runtime_name(c->runtime) : "-");
		if (sh[i].r->key[0])
			vrow_u64(&r, "cgroup_id", sh[i].r->cgroup_id);
		vrow_u64(&r, "cpu_ns", d->cpu_ns);
		vrow_u64(&r, "execs", d->execs);
		vrow_u64(&r, "forks", d->forks);
		vrow_u64(&r, "syscalls", d->syscalls);
		vrow_u64(&r, "syscalls_failed", d->syscalls_failed);
		vrow_u64(&r, "rbytes", d->rbytes);
		vrow_u64(&r, "wbytes", d->wbytes);
		if (out_row(k, &r) < 0) {
			free(sh);
			return -1;
		}
	}
	free(sh);
	p->span_start = mono;
	return out_flush(k) ? -1 : 0;
}

static int top_tick(struct vigil_inst *in)
{
	return render(in, false);
}

static int top_start(struct vigil_inst *in)
{
	struct top_priv *p = in->priv;
	int err;

	p->ncpu = libbpf_num_possible_cpus();
	p->tty = isatty(fileno(in->sink->f));
	p->skel = top_bpf__open();
	err = vigil_session_open(&p->s, in, p->skel ? p->skel->skeleton : NULL);
	if (err)
		return err;
	/* nothing is shipped per event: the smallest ring buffer there is */
	bpf_map__set_max_entries(p->skel->maps.vigil_events, getpagesize());
	out_set_columns(in->sink, top_cols);
	err = vigil_session_start(&p->s, NULL, in);
	if (err)
		return err;
	p->started = true;
	p->run_start = p->span_start = vigil_mono_ns();
	in->sink->header_done = true;	/* each table has its own */
	return 0;
}

static int top_stop(struct vigil_inst *in, int err)
{
	struct top_priv *p = in->priv;

	if (p->s.in)
		err = vigil_session_close(&p->s, err);
	if (p->started && !err && !in->sink->broken_pipe && render(in, true) < 0 &&
	    !in->sink->broken_pipe)
		err = VIGIL_EXIT_FAIL;
	top_bpf__destroy(p->skel);
	p->skel = NULL;
	free(p->rows);
	p->rows = NULL;
	p->n = p->cap = 0;
	return err;
}

static int top_sessions(struct vigil_inst *in, struct vigil_session **out, int max)
{
	struct top_priv *p = in->priv;

	out[0] = &p->s;
	return max > 0 && p->started ? 1 : 0;
}

/* the agent: per-container counters, labelled by container name (opt in: a top section) */
static void top_metrics(struct vigil_inst *in, struct vigil_metrics *m)
{
	static const struct { const char *name, *help; size_t off; } fams[] = {
		{ "vigil_top_cpu_seconds_total", "on-CPU time",
		  offsetof(struct vigil_top_val, cpu_ns) },
		{ "vigil_top_execs_total", "execs", offsetof(struct vigil_top_val, execs) },
		{ "vigil_top_syscalls_total", "syscalls", offsetof(struct vigil_top_val, syscalls) },
		{ "vigil_top_syscalls_failed_total", "failed syscalls",
		  offsetof(struct vigil_top_val, syscalls_failed) },
	};
	struct top_priv *p = in->priv;

	if (!p->started)
		return;
	collect(in);
	for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
		vm_family(m, fams[f].name, "counter", fams[f].help);
		for (size_t i = 0; i < p->n; i++) {
			const struct vigil_container *c = p->rows[i].key[0] && in->containers ?
				vigil_container_lookup(in->containers, p->rows[i].cgroup_id) : NULL;
			uint64_t v = *(const uint64_t *)((const char *)&p->rows[i].now + fams[f].off);
			const char *name = !p->rows[i].key[0] ? "(host)" :
				c && c->name_state == VIGIL_CNAME_KNOWN ? c->name : p->rows[i].key;

			const char *pod = c && c->name_state == VIGIL_CNAME_KNOWN ? c->pod : "";
			const char *ns = c && c->name_state == VIGIL_CNAME_KNOWN ? c->namespace : "";
			const char *l[] = { "feature", in->name, "container", name, "pod", pod,
					    "namespace", ns, NULL };

			if (f == 0)
				vm_value(m, v / 1e9, l);
			else
				vm_u64(m, v, l);
		}
	}
}

static const struct vigil_feature feat_top = {
	.name = "top",
	.opts = top_opts,
	.opts_size = sizeof(struct top_opts),
	.priv_size = sizeof(struct top_priv),
	.start = top_start,
	.tick = top_tick,
	.stop = top_stop,
	.sessions = top_sessions,
	.metrics = top_metrics,
	.default_interval_ns = TOP_INTERVAL_DEFAULT,
};

const struct vigil_cmd cmd_top = {
	.name = "top",
	.summary = "a live per-container view: CPU, execs, forks, syscalls, bytes, counted in the kernel",
	.flags = VC_ROOT | VC_BTF | VC_TRACE,
	.needs = VIGIL_MECH(VIGIL_M_TP_BTF) | VIGIL_MECH(VIGIL_M_RAW_TP),
	.feature = &feat_top,
};
