// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * vigil sched: run-queue latency as log2 histograms (host, per CPU, per
 * process or container), off-CPU time by why the task left the CPU (S, D,
 * preempted, other), context switches and migrations; or, with --min, one
 * event per run-queue wait over a threshold (runqslower). Everything is
 * counted in the kernel (bpf/sched.bpf.c). docs/sched.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "core/vigil.h"
#include "core/sym.h"
#include "core/container.h"
#include "core/env.h"
#include "core/feature.h"
#include "core/hist.h"
#include "core/metrics.h"
#include "core/opts.h"
#include "core/out.h"
#include "core/session.h"
#include "sched.skel.h"

#define MIN_RINGBUF_DEFAULT (4u << 20)

enum sched_sort { SS_RUNQ, SS_OFF, SS_SWITCHES };
static const char *const sort_names[] = { "runq", "off", "switches" };
static const char *const state_names[VIGIL_SCHED__STATES] = { "S", "D", "preempted", "other" };
static const char *const state_keys[VIGIL_SCHED__STATES] = {
	"off_sleep_ns", "off_disk_ns", "off_preempted_ns", "off_other_ns" };

struct sched_opts {
	bool per_process, threads, per_container, per_cgroup, per_cpu, stacks, no_rows;
	bool has_cpu;
	uint32_t cpu;
	uint32_t top;
	enum sched_sort sort;
	uint64_t min_ns;
};

/* a row as shown: a process, a thread, a container or the host (cgroup mode) */
struct srow {
	uint64_t key;			/* tgid, tid, or the container's top cgroup id (0: host) */
	uint64_t cgroup_id;
	uint32_t pid, tid;
	char comm[VIGIL_COMM_LEN];
	struct vigil_sched_counts c;
	uint64_t *slots;		/* VIGIL_HIST_SLOTS, with -P or --per-container */
};

struct stab {
	struct srow *rows;
	size_t n, cap;
};

#define SCHED_MAX_CGNAMES 16384

struct sched_priv {
	struct cg_name { uint64_t id; char path[256]; } *cg;	/* --per-cgroup */
	size_t ncg;
	struct vigil_session s;
	struct sched_bpf *skel;
	bool started;
	int ncpu;
	struct stab prev;		/* the last interval's cumulative rows, for deltas */
	struct vigil_sched_cpu *cpus, *cpus_prev;	/* ncpu each */
	struct vigil_symbolizer *sym;	/* --stacks: vigil profile's */
};

static int opt_sort(void *base, const char *arg)
{
	for (size_t i = 0; i < sizeof(sort_names) / sizeof(sort_names[0]); i++)
		if (!strcmp(arg, sort_names[i])) {
			((struct sched_opts *)base)->sort = i;
			return 0;
		}
	vigil_usage_error("invalid sort key '%s': runq, off or switches", arg);
	return -1;
}

static int opt_cpu(void *base, const char *arg)
{
	struct sched_opts *o = base;

	if (vigil_parse_u32(arg, &o->cpu)) {
		vigil_usage_error("invalid CPU '%s': a CPU number", arg);
		return -1;
	}
	o->has_cpu = true;
	return 0;
}

#define O(f) VOFF(struct sched_opts, f)

static const struct vigil_opt sched_opts[] = {
	VOPT_SECTION("Rows and histograms (default: the host histogram, counts per process)"),
	{ "per-process", 'P', VO_FLAG, O(per_process), NULL,
	  "a run-queue histogram per process (per thread with --threads)" },
	{ "threads", 0, VO_FLAG, O(threads), NULL, "rows per thread instead of per process" },
	{ "per-container", 0, VO_FLAG, O(per_container), NULL,
	  "rows and histograms per container (and one for the host)" },
	{ "per-cgroup", 0, VO_FLAG, O(per_cgroup), NULL,
	  "rows and histograms per cgroup v2 directory (the task's own)" },
	{ "per-cpu", 0, VO_FLAG, O(per_cpu), NULL, "a run-queue histogram per CPU" },
	{ "no-rows", 0, VO_FLAG, O(no_rows), NULL,
	  "only the host and per-CPU numbers (the cheapest: no per-task row)" },
	{ "stacks", 0, VO_FLAG, O(stacks), NULL,
	  "off-CPU time per kernel+user stack, as folded lines for a flame graph" },
	{ "top", 'n', VO_U32, O(top), "N", "only the first N rows (0: all)" },
	{ "sort", 's', VO_FUNC, 0, "KEY", "runq (default), off or switches", opt_sort },
	VOPT_SECTION("Events and filters"),
	{ "min", 0, VO_DURATION, O(min_ns), "DUR",
	  "one event per run-queue wait of at least DUR, no histograms (like runqslower)",
	  .min = 1000, .max = 3600ull * 1000000000ull },
	{ "cpu", 0, VO_FUNC, 0, "N", "only what happens on CPU N", opt_cpu },
	VOPT_END,
};

static enum vigil_sched_by by_of(const struct sched_opts *o)
{
	return o->per_container || o->per_cgroup ? VIGIL_SCHED_BY_CGROUP :
	       o->threads ? VIGIL_SCHED_BY_THREAD : VIGIL_SCHED_BY_PROCESS;
}

/* ---- collect: the maps, summed over CPUs, folded into rows ---------------- */

static void counts_add(struct vigil_sched_counts *a, const struct vigil_sched_counts *b)
{
	a->runq_ns += b->runq_ns;
	a->runq_n += b->runq_n;
	a->vol += b->vol;
	a->invol += b->invol;
	a->migrations += b->migrations;
	for (int s = 0; s < VIGIL_SCHED__STATES; s++)
		a->off_ns[s] += b->off_ns[s];
}

static void counts_sub(struct vigil_sched_counts *a, const struct vigil_sched_counts *b)
{
	a->runq_ns -= b->runq_ns;
	a->runq_n -= b->runq_n;
	a->vol -= b->vol;
	a->invol -= b->invol;
	a->migrations -= b->migrations;
	for (int s = 0; s < VIGIL_SCHED__STATES; s++)
		a->off_ns[s] -= b->off_ns[s];
}

static uint64_t off_total(const struct vigil_sched_counts *c)
{
	uint64_t t = 0;

	for (int s = 0; s < VIGIL_SCHED__STATES; s++)
		t += c->off_ns[s];
	return t;
}

static void stab_free(struct stab *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->rows[i].slots);
	free(t->rows);
	memset(t, 0, sizeof(*t));
}

static struct srow *stab_add(struct stab *t)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct srow *q = realloc(t->rows, cap * sizeof(*q));

		if (!q)
			return NULL;
		t->rows = q;
		t->cap = cap;
	}
	memset(&t->rows[t->n], 0, sizeof(t->rows[0]));
	return &t->rows[t->n++];
}

static int key_cmp(const void *a, const void *b)
{
	const struct srow *x = a, *y = b;

	return x->key < y->key ? -1 : x->key > y->key;
}

static struct srow *stab_find(const struct stab *t, uint64_t key)
{
	struct srow k = { .key = key };

	return t->n ? bsearch(&k, t->rows, t->n, sizeof(k), key_cmp) : NULL;
}

/* a cgroup's row key in --per-container: its container's top cgroup, or 0 (host) */
static uint64_t fold_key(struct vigil_inst *in, uint64_t key)
{
	const struct sched_opts *o = in->opts;
	const struct vigil_container *c;

	if (!o->per_container)
		return key;
	c = in->containers ? vigil_container_lookup(in->containers, key) : NULL;
	return c ? c->cgroup_id : 0;
}

/* sort by key and merge rows of one key (cgroups of one container) */
static void stab_merge(struct stab *t)
{
	size_t w = 0;

	qsort(t->rows, t->n, sizeof(t->rows[0]), key_cmp);
	for (size_t i = 0; i < t->n; i++) {
		if (w && t->rows[w - 1].key == t->rows[i].key) {
			counts_add(&t->rows[w - 1].c, &t->rows[i].c);
			continue;
		}
		t->rows[w++] = t->rows[i];
	}
	t->n = w;
}

static int collect(struct vigil_inst *in, struct stab *t)
{
	const struct sched_opts *o = in->opts;
	struct sched_priv *p = in->priv;
	int ncpu = p->ncpu, fd;
	uint64_t key, next, *prevk = NULL;
	void *vals;

	memset(t, 0, sizeof(*t));
	for (int c = 0; c < ncpu; c++) {
		uint32_t k = c;

		if (bpf_map_lookup_elem(bpf_map__fd(p->skel->maps.sched_cpus), &k, &p->cpus[c]))
			memset(&p->cpus[c], 0, sizeof(p->cpus[c]));
	}
	if (o->no_rows || o->min_ns)
		return 0;
	vals = calloc(ncpu, sizeof(struct vigil_hist) > sizeof(struct vigil_sched_row) ?
		      sizeof(struct vigil_hist) : sizeof(struct vigil_sched_row));
	if (!vals)
		return -ENOMEM;
	fd = bpf_map__fd(p->skel->maps.sched_rows);
	while (bpf_map_get_next_key(fd, prevk, &next) == 0) {
		const struct vigil_sched_row *v = vals;
		struct srow *r;

		key = next;
		prevk = &key;
		if (bpf_map_lookup_elem(fd, &key, vals))
			continue;
		r = stab_add(t);
		if (!r) {
			free(vals);
			return -ENOMEM;
		}
		r->key = fold_key(in, key);
		for (int c = 0; c < ncpu; c++) {
			counts_add(&r->c, &v[c].c);
			/* who the row is: set in the copy of the CPU that made it */
			if (v[c].pid && !r->pid) {
				r->pid = v[c].pid;
				r->tid = v[c].tid;
				r->cgroup_id = v[c].cgroup_id;
				memcpy(r->comm, v[c].comm, sizeof(r->comm));
			}
		}
		if (o->per_container)
			r->cgroup_id = r->key;
	}
	stab_merge(t);
	if (o->per_process || o->per_container || o->per_cgroup) {
		fd = bpf_map__fd(p->skel->maps.sched_hists);
		prevk = NULL;
		while (bpf_map_get_next_key(fd, prevk, &next) == 0) {
			const struct vigil_hist *h = vals;
			struct srow *r;

			key = next;
			prevk = &key;
			if (bpf_map_lookup_elem(fd, &key, vals))
				continue;
			r = stab_find(t, fold_key(in, key));
			if (!r)
				continue;
			if (!r->slots && !(r->slots = calloc(VIGIL_HIST_SLOTS, sizeof(uint64_t))))
				break;
			for (int c = 0; c < ncpu; c++)
				vhist_merge(r->slots, (const uint64_t *)h[c].slots);
		}
	}
	free(vals);
	return 0;
}

static uint64_t drops(struct sched_priv *p, uint32_t which)
{
	uint64_t v[p->ncpu], total = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(p->skel->maps.sched_drops), &which, v))
		return 0;
	for (int i = 0; i < p->ncpu; i++)
		total += v[i];
	return total;
}

/* what happened since the last tick: subtract the previous snapshot, drop idle rows */
static int deltas(struct sched_priv *p, struct stab *t)
{
	struct stab snap = { 0 };
	size_t kept = 0;

	for (size_t i = 0; i < t->n; i++) {
		struct srow *s = stab_add(&snap);

		if (!s)
			goto nomem;
		*s = t->rows[i];
		s->slots = NULL;
		if (t->rows[i].slots) {
			s->slots = malloc(VIGIL_HIST_SLOTS * sizeof(uint64_t));
			if (!s->slots)
				goto nomem;
			memcpy(s->slots, t->rows[i].slots, VIGIL_HIST_SLOTS * sizeof(uint64_t));
		}
	}
	for (size_t i = 0; i < t->n; i++) {
		struct srow *r = &t->rows[i];
		const struct srow *q = stab_find(&p->prev, r->key);

		if (q) {
			counts_sub(&r->c, &q->c);
			if (r->slots && q->slots)
				for (int s = 0; s < VIGIL_HIST_SLOTS; s++)
					r->slots[s] -= q->slots[s];
		}
		if (r->c.runq_n || r->c.vol || r->c.invol || r->c.migrations || off_total(&r->c))
			t->rows[kept++] = *r;
		else
			free(r->slots);
	}
	t->n = kept;
	stab_free(&p->prev);
	p->prev = snap;
	return 0;
nomem:
	stab_free(&snap);
	return -ENOMEM;
}

/* ---- render ---------------------------------------------------------------- */

static void col_hist(const struct vrow *r, char *buf, size_t n)
{
	const char *scope = vrow_s(r, "scope");
	const struct vfield *f;
	char comm[320] = "";
	size_t o;

	if ((f = vrow_get(r, "cpu")))
		o = snprintf(buf, n, "cpu = %llu", (unsigned long long)f->u);
	else if (!strcmp(scope, "process") || !strcmp(scope, "thread")) {
		vigil_term_escape(vrow_s(r, "comm"), VIGIL_COMM_LEN, comm, sizeof(comm));
		o = snprintf(buf, n, "%s = %llu  comm = %s", !strcmp(scope, "thread") ? "tid" : "pid",
			     (unsigned long long)vrow_u(r, !strcmp(scope, "thread") ? "tid" : "pid"),
			     comm);
	} else if (!strcmp(scope, "container") || !strcmp(scope, "cgroup")) {
		vigil_term_escape(vrow_s(r, "name"), strlen(vrow_s(r, "name")), comm, sizeof(comm));
		o = snprintf(buf, n, "%s = %s", scope, comm);
	} else {
		o = snprintf(buf, n, "all tasks");
	}
	if (o < n)
		o += snprintf(buf + o, n - o, "  (%llu waits, avg %llu ns)\n",
			      (unsigned long long)vrow_u(r, "count"),
			      (unsigned long long)(vrow_u(r, "total_ns") / (vrow_u(r, "count") ?: 1)));
	if (o < n) {
		FILE *m = fmemopen(buf + o, n - o, "w");

		if (m) {
			vhist_print(m, vrow_need(r, "buckets", VF_HIST)->hist.slots, "nsecs");
			fclose(m);
		}
	}
}

static void col_dur(const struct vrow *r, char *buf, size_t n, const char *key)
{
	vigil_fmt_duration(vrow_u(r, key), buf, n);
}

static void col_runq(const struct vrow *r, char *b, size_t n) { col_dur(r, b, n, "runq_ns"); }
static void col_avg(const struct vrow *r, char *b, size_t n) { col_dur(r, b, n, "runq_avg_ns"); }
static void col_s(const struct vrow *r, char *b, size_t n) { col_dur(r, b, n, "off_sleep_ns"); }
static void col_d(const struct vrow *r, char *b, size_t n) { col_dur(r, b, n, "off_disk_ns"); }
static void col_pre(const struct vrow *r, char *b, size_t n) { col_dur(r, b, n, "off_preempted_ns"); }
static void col_oth(const struct vrow *r, char *b, size_t n) { col_dur(r, b, n, "off_other_ns"); }
static void col_delay(const struct vrow *r, char *b, size_t n) { col_dur(r, b, n, "delay_ns"); }

static void col_who(const struct vrow *r, char *buf, size_t n)
{
	const char *scope = vrow_s(r, "scope");

	if (!strcmp(scope, "process"))
		snprintf(buf, n, "%llu %s", (unsigned long long)vrow_u(r, "pid"), vrow_s(r, "comm"));
	else if (!strcmp(scope, "thread"))
		snprintf(buf, n, "%llu %s", (unsigned long long)vrow_u(r, "tid"), vrow_s(r, "comm"));
	else
		snprintf(buf, n, "%s", vrow_s(r, "name"));
}

static const struct vcol hist_cols[] = { { "", 0, NULL, col_hist, false, true }, { 0 } };
static const struct vcol stat_cols[] = {
	{ "WHO", 24, NULL, col_who },
	{ "WAITS", 9, "runq_n", NULL, true },
	{ "RUNQ", 9, NULL, col_runq, true },
	{ "AVG", 9, NULL, col_avg, true },
	{ "VCSW", 9, "vol", NULL, true },
	{ "IVCSW", 9, "invol", NULL, true },
	{ "MIGR", 7, "migrations", NULL, true },
	{ "OFF_S", 9, NULL, col_s, true },
	{ "OFF_D", 9, NULL, col_d, true },
	{ "OFF_PRE", 9, NULL, col_pre, true },
	{ "OFF_OTH", 0, NULL, col_oth, true },
	{ 0 },
};
static const struct vcol wait_cols[] = {
	VCOL_TIME,
	{ "PID", 7, "pid", NULL, true },
	{ "TID", 7, "tid", NULL, true },
	{ "COMM", 16, "comm" },
	{ "CPU", 4, "cpu", NULL, true },
	{ "DELAY", 10, NULL, col_delay, true },
	{ "PREV_TID", 8, "prev_tid", NULL, true },
	{ "PREV_COMM", 0, "prev_comm" },
	{ 0 },
};

struct rctx {
	struct vigil_inst *in;
	uint64_t now;
	const char *iso;
	bool final;
};

static void row_start(struct vrow *r, const struct rctx *x, const char *type, const char *scope)
{
	vrow_init(r);
	vrow_str(r, "type", type);
	vrow_u64(r, "ts", x->now);
	vrow_str(r, "time", x->iso);
	vrow_bool(r, "final", x->final);
	vrow_str(r, "scope", scope);
}

static const char *scope_of(const struct sched_opts *o)
{
	return o->per_container ? "container" : o->per_cgroup ? "cgroup" :
	       o->threads ? "thread" : "process";
}

/* cgroup id -> path below the cgroup2 mount, from one walk per render */
static void cg_walk(struct sched_priv *p, char *path, size_t root_len, int depth)
{
	struct { struct file_handle fh; uint64_t id; } h = { .fh.handle_bytes = sizeof(uint64_t) };
	size_t len = strlen(path);
	struct dirent *e;
	int mnt;
	DIR *d;

	if (p->ncg == SCHED_MAX_CGNAMES || depth > 32)
		return;
	if (!name_to_handle_at(AT_FDCWD, path, &h.fh, &mnt, 0) &&
	    h.fh.handle_bytes == sizeof(uint64_t)) {
		p->cg[p->ncg].id = h.id;
		snprintf(p->cg[p->ncg].path, sizeof(p->cg[0].path), "%s",
			 path[root_len] ? path + root_len : "/");
		p->ncg++;
	}
	d = opendir(path);
	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_type != DT_DIR || e->d_name[0] == '.' ||
		    len + 1 + strlen(e->d_name) >= PATH_MAX)
			continue;
		snprintf(path + len, PATH_MAX - len, "/%s", e->d_name);
		cg_walk(p, path, root_len, depth + 1);
		path[len] = 0;
	}
	closedir(d);
}

static void cgroup_names(struct sched_priv *p)
{
	const char *root = vigil_cgroup2_path();
	char path[PATH_MAX];

	p->ncg = 0;
	if (!root || strlen(root) >= sizeof(path))
		return;
	if (!p->cg && !(p->cg = calloc(SCHED_MAX_CGNAMES, sizeof(*p->cg))))
		return;
	snprintf(path, sizeof(path), "%s", root);
	cg_walk(p, path, strlen(root), 0);
}

static const char *cgroup_name(struct sched_priv *p, uint64_t id)
{
	for (size_t i = 0; i < p->ncg; i++)
		if (p->cg[i].id == id)
			return p->cg[i].path;
	return "?";	/* removed since */
}

/* the identity of a row: pid/tid/comm, or the container (cgroup_id: the sink adds it) */
static void row_who(struct vrow *r, struct vigil_inst *in, const struct srow *s)
{
	const struct sched_opts *o = in->opts;

	if (o->per_cgroup) {
		struct sched_priv *p = in->priv;

		vrow_str(r, "name", cgroup_name(p, s->key));
		vrow_u64(r, "cgroup_id", s->key);
		return;
	}
	if (!o->per_container) {
		vrow_u64(r, "pid", s->pid);
		if (o->threads)
			vrow_u64(r, "tid", s->tid);
		vrow_str(r, "comm", s->comm);
		vrow_u64(r, "cgroup_id", s->cgroup_id);
		return;
	}
	if (!s->key) {
		vrow_str(r, "name", "(host)");
		return;
	}
	const struct vigil_container *c = in->containers ?
		vigil_container_lookup(in->containers, s->key) : NULL;

	vrow_str(r, "name", c && c->name_state == VIGIL_CNAME_KNOWN ? c->name : c ? c->id : "?");
	vrow_u64(r, "cgroup_id", s->key);
}

static int emit_hist(const struct rctx *x, const char *scope, const uint64_t *slots,
		     const struct vigil_sched_counts *c, struct vrow *r)
{
	vrow_str(r, "unit", "ns");
	vrow_u64(r, "count", c->runq_n);
	vrow_u64(r, "total_ns", c->runq_ns);
	vrow_hist(r, "buckets", slots, "nsecs");
	(void)scope;
	return out_row(x->in->sink, r);
}

static void stat_fields(struct vrow *r, const struct vigil_sched_counts *c)
{
	vrow_u64(r, "runq_n", c->runq_n);
	vrow_u64(r, "runq_ns", c->runq_ns);
	vrow_u64(r, "runq_avg_ns", c->runq_n ? c->runq_ns / c->runq_n : 0);
	vrow_u64(r, "vol", c->vol);
	vrow_u64(r, "invol", c->invol);
	vrow_u64(r, "migrations", c->migrations);
	for (int s = 0; s < VIGIL_SCHED__STATES; s++)
		vrow_u64(r, state_keys[s], c->off_ns[s]);
}

static int sort_cmp(const void *a, const void *b, void *arg)
{
	const struct srow *x = a, *y = b;
	enum sched_sort s = *(enum sched_sort *)arg;
	uint64_t vx, vy;

	if (s == SS_OFF) {
		vx = off_total(&x->c);
		vy = off_total(&y->c);
	} else if (s == SS_SWITCHES) {
		vx = x->c.vol + x->c.invol;
		vy = y->c.vol + y->c.invol;
	} else {
		vx = x->c.runq_ns;
		vy = y->c.runq_ns;
	}
	return vx != vy ? (vx > vy ? -1 : 1) : key_cmp(a, b);
}

static int render(struct vigil_inst *in, bool final)
{
	const struct sched_opts *o = in->opts;
	struct sched_priv *p = in->priv;
	struct vigil_sched_counts host = { 0 };
	uint64_t host_slots[VIGIL_HIST_SLOTS] = { 0 };
	char iso[40], hhmmss[16], span[40] = "final, since start";
	struct rctx x = { in, vigil_boot_ns(), iso, final };
	struct stab t;
	struct vrow r;
	size_t lim;
	int err;

	err = collect(in, &t);
	if (!err && !final)
		err = deltas(p, &t);
	if (!err && o->per_cgroup)
		cgroup_names(p);
	if (err) {
		stab_free(&t);
		vigil_error("cannot read the scheduler counts: %s", strerror(-err));
		return VIGIL_EXIT_FAIL;
	}
	for (int c = 0; c < p->ncpu; c++) {
		struct vigil_sched_cpu d = p->cpus[c];

		if (!final) {
			counts_sub(&d.c, &p->cpus_prev[c].c);
			for (int s = 0; s < VIGIL_HIST_SLOTS; s++)
				d.slots[s] -= p->cpus_prev[c].slots[s];
			p->cpus_prev[c] = p->cpus[c];
		}
		p->cpus[c] = d;
		counts_add(&host, &d.c);
		vhist_merge(host_slots, (const uint64_t *)d.slots);
	}
	vigil_iso_time(x.now, iso, sizeof(iso));
	vrow_init(&r);
	vrow_u64(&r, "ts", x.now);
	vcol_time(&r, hhmmss, sizeof(hhmmss));
	if (!final) {
		char d[24];

		vigil_fmt_duration(in->c.interval_ns, d, sizeof(d));
		snprintf(span, sizeof(span), "last %s", d);
	}
	out_text(in->sink, "%s%s (%s)\n", in->c.interval_ns ? "\n" : "", hhmmss, span);
	out_set_columns(in->sink, hist_cols);
	row_start(&r, &x, "sched_hist", "host");
	if (emit_hist(&x, "host", host_slots, &host, &r) < 0)
		goto gone;
	for (int c = 0; o->per_cpu && c < p->ncpu; c++) {
		if (o->has_cpu && (uint32_t)c != o->cpu)
			continue;
		row_start(&r, &x, "sched_hist", "cpu");
		vrow_u64(&r, "cpu", c);
		if (emit_hist(&x, "cpu", (const uint64_t *)p->cpus[c].slots, &p->cpus[c].c, &r) < 0)
			goto gone;
	}
	qsort_r(t.rows, t.n, sizeof(t.rows[0]), sort_cmp, (void *)&o->sort);
	lim = o->top && o->top < t.n ? o->top : t.n;
	for (size_t i = 0; i < lim; i++) {
		if (!t.rows[i].slots || !t.rows[i].c.runq_n)
			continue;
		row_start(&r, &x, "sched_hist", scope_of(o));
		row_who(&r, in, &t.rows[i]);
		if (emit_hist(&x, scope_of(o), t.rows[i].slots, &t.rows[i].c, &r) < 0)
			goto gone;
	}
	out_set_columns(in->sink, stat_cols);
	out_header(in->sink);
	row_start(&r, &x, "sched_stat", "host");
	vrow_str(&r, "name", "(host)");
	stat_fields(&r, &host);
	if (out_row(in->sink, &r) < 0)
		goto gone;
	for (size_t i = 0; i < lim; i++) {
		row_start(&r, &x, "sched_stat", scope_of(o));
		row_who(&r, in, &t.rows[i]);
		stat_fields(&r, &t.rows[i].c);
		if (out_row(in->sink, &r) < 0)
			goto gone;
	}
	stab_free(&t);
	return out_flush(in->sink) ? -1 : 0;
gone:
	stab_free(&t);
	return -1;
}

/*
 * A frame through vigil profile's symbolizer (kallsyms, ELF, debug files,
 * JIT maps); an address it cannot name stays an address (0x..., a kernel
 * one k:0x...), which a flame graph still groups exactly.
 */
static void fmt_frame(struct vigil_symbolizer *sy, uint32_t pid, uint64_t addr, bool kernel,
		      char *buf, size_t n)
{
	struct vigil_sym s;

	if (sy && (kernel ? vigil_sym_kernel(sy, addr, &s) : vigil_sym_user(sy, pid, addr, &s)) >= 0) {
		vigil_sym_format(&s, buf, n);
		return;
	}
	snprintf(buf, n, "%s0x%llx", kernel ? "k:" : "", (unsigned long long)addr);
}

/* frames of a stack id, outermost first, appended to buf as ";f1;f2" */
static size_t fold_stack(struct vigil_symbolizer *sy, int fd, int32_t id, uint32_t pid, bool kernel,
			 char *buf, size_t o, size_t n)
{
	uint64_t ips[VIGIL_SCHED_STACK_DEPTH] = { 0 };
	int depth = 0;

	if (id < 0 || bpf_map_lookup_elem(fd, &id, ips))
		return o;
	while (depth < VIGIL_SCHED_STACK_DEPTH && ips[depth])
		depth++;
	for (int i = depth - 1; i >= 0 && o < n; i--) {
		char f[256];

		fmt_frame(sy, pid, ips[i], kernel, f, sizeof(f));
		o += snprintf(buf + o, n - o, ";%s", f);
	}
	return o;
}

static void col_folded(const struct vrow *r, char *buf, size_t n)
{
	snprintf(buf, n, "%s %llu", vrow_s(r, "folded"), (unsigned long long)vrow_u(r, "ns"));
}

static const struct vcol stack_cols[] = { { "", 0, NULL, col_folded, false, true }, { 0 } };

/* true when pid is in seen[]; else added while there is room */
static bool pid_seen(uint32_t *seen, size_t *n, uint32_t pid)
{
	for (size_t i = 0; i < *n; i++)
		if (seen[i] == pid)
			return true;
	if (*n < 1024)
		seen[(*n)++] = pid;
	return false;
}

/* --stacks, at the end: one folded line per (row, state, stack pair) */
static int render_stacks(struct vigil_inst *in)
{
	const struct sched_opts *o = in->opts;
	struct sched_priv *p = in->priv;
	int fd = bpf_map__fd(p->skel->maps.sched_stack_ns);
	int sfd = bpf_map__fd(p->skel->maps.sched_stacks);
	struct vigil_sched_stack_key key, next, *prevk = NULL;
	char iso[40];
	struct rctx x = { in, vigil_boot_ns(), iso, true };
	struct stab t;
	uint32_t seen[1024];
	size_t nseen = 0;
	int err = collect(in, &t);

	if (err)
		return err;
	if (o->per_cgroup)
		cgroup_names(p);
	vigil_iso_time(x.now, iso, sizeof(iso));
	out_set_columns(in->sink, stack_cols);
	out_text(in->sink, "\n# off-CPU stacks, folded: comm;state;user frames;kernel frames ns\n");
	while (bpf_map_get_next_key(fd, prevk, &next) == 0) {
		char folded[4096];
		const struct srow *s = stab_find(&t, next.key);
		uint64_t ns;
		size_t l;
		struct vrow r;

		key = next;
		prevk = &key;
		if (bpf_map_lookup_elem(fd, &key, &ns) || !s)
			continue;
		l = snprintf(folded, sizeof(folded), "%s;%s", s->comm,
			     state_names[key.state & (VIGIL_SCHED__STATES - 1)]);
		/* the maps of a process still there, once per render; user frames of one
		 * that exited before the end stay addresses */
		if (p->sym && s->pid && !pid_seen(seen, &nseen, s->pid))
			vigil_sym_proc_seen(p->sym, s->pid);
		l = fold_stack(p->sym, sfd, key.ustack, s->pid, false, folded, l, sizeof(folded));
		fold_stack(p->sym, sfd, key.kstack, s->pid, true, folded, l, sizeof(folded));
		row_start(&r, &x, "sched_stack", scope_of(o));
		row_who(&r, in, s);
		vrow_str(&r, "state", state_names[key.state & (VIGIL_SCHED__STATES - 1)]);
		vrow_str(&r, "folded", folded);
		vrow_u64(&r, "ns", ns);
		if (out_row(in->sink, &r) < 0) {
			stab_free(&t);
			return -1;
		}
	}
	stab_free(&t);
	return out_flush(in->sink) ? -1 : 0;
}

/* ---- events (--min) -------------------------------------------------------- */

static int on_event(void *ctx, void *data, size_t size)
{
	struct vigil_inst *in = ctx;
	const struct vigil_sched_wait *w = data;
	struct vrow r;

	if (size < sizeof(*w) || w->hdr.type != VIGIL_EV_SCHED_WAIT)
		return 0;
	vrow_init(&r);
	vrow_hdr(&r, "sched_wait", &w->hdr);
	vrow_u64(&r, "delay_ns", w->delay_ns);
	vrow_u64(&r, "cpu", w->cpu);
	vrow_u64(&r, "prev_tid", w->prev_pid);
	vrow_str(&r, "prev_comm", w->prev_comm);
	return out_row(in->sink, &r) < 0 ? -1 : 0;
}

/* ---- run ------------------------------------------------------------------- */

static int sched_check(struct vigil_inst *in)
{
	const struct sched_opts *o = in->opts;
	int ncpu = libbpf_num_possible_cpus();

	if (o->min_ns && (o->per_process || o->per_container || o->per_cgroup || o->per_cpu || o->stacks ||
			  o->threads || o->no_rows || o->top)) {
		vigil_usage_error("--min is an event mode: it takes no -P, --threads, "
				  "--per-container, --per-cpu, --stacks, --no-rows or --top");
		return VIGIL_EXIT_USAGE;
	}
	if ((o->threads + o->per_container + o->per_cgroup) > 1) {
		vigil_usage_error("--threads, --per-container and --per-cgroup exclude each other");
		return VIGIL_EXIT_USAGE;
	}
	if (o->no_rows && (o->per_process || o->per_container || o->per_cgroup || o->threads || o->stacks ||
			   o->top)) {
		vigil_usage_error("--no-rows keeps no rows: it takes no -P, --threads, "
				  "--per-container, --stacks or --top");
		return VIGIL_EXIT_USAGE;
	}
	if (o->has_cpu && ncpu > 0 && o->cpu >= (uint32_t)ncpu) {
		vigil_usage_error("invalid CPU '%u': this machine has CPUs 0 to %d", o->cpu, ncpu - 1);
		return VIGIL_EXIT_USAGE;
	}
	return 0;
}

static int sched_start(struct vigil_inst *in)
{
	const struct sched_opts *o = in->opts;
	struct sched_priv *p = in->priv;
	bool hists = o->per_process || o->per_container || o->per_cgroup, rows = !o->no_rows && !o->min_ns;
	struct sched_bpf *skel;
	int err;

	p->ncpu = libbpf_num_possible_cpus();
	if (p->ncpu <= 0)
		return VIGIL_EXIT_FAIL;
	p->cpus = calloc(p->ncpu, sizeof(*p->cpus));
	p->cpus_prev = calloc(p->ncpu, sizeof(*p->cpus_prev));
	if (!p->cpus || !p->cpus_prev)
		return VIGIL_EXIT_FAIL;
	if (o->stacks && !(p->sym = vigil_sym_new()))
		return VIGIL_EXIT_FAIL;
	skel = p->skel = sched_bpf__open();
	err = vigil_session_open(&p->s, in, skel ? skel->skeleton : NULL);
	if (err)
		return err;
	skel->rodata->by = by_of(o);
	skel->rodata->want_rows = rows;
	skel->rodata->want_hists = hists;
	skel->rodata->want_stacks = o->stacks;
	skel->rodata->has_cpu = o->has_cpu;
	skel->rodata->targ_cpu = o->cpu;
	skel->rodata->min_ns = o->min_ns;
	bpf_map__set_max_entries(skel->maps.sched_cpus, p->ncpu);
	if (!rows)
		bpf_map__set_max_entries(skel->maps.sched_rows, 1);
	if (!hists)
		bpf_map__set_max_entries(skel->maps.sched_hists, 1);
	if (!o->stacks) {
		bpf_map__set_max_entries(skel->maps.sched_stacks, 1);
		bpf_map__set_max_entries(skel->maps.sched_stack_ns, 1);
	}
	if (o->min_ns) {
		bpf_program__set_autoload(skel->progs.sched_migrate, false);
		if (!in->c.ringbuf_size)
			bpf_map__set_max_entries(skel->maps.vigil_events, MIN_RINGBUF_DEFAULT);
	} else {
		/* nothing is shipped per event: the smallest ring buffer there is */
		bpf_map__set_max_entries(skel->maps.vigil_events, getpagesize());
	}
	out_set_columns(in->sink, o->min_ns ? wait_cols : stat_cols);
	err = vigil_session_start(&p->s, o->min_ns ? on_event : NULL, in);
	if (err)
		return err;
	p->started = true;
	if (!o->min_ns)
		in->sink->header_done = true;	/* each summary has its own */
	return 0;
}

static int sched_tick(struct vigil_inst *in)
{
	const struct sched_opts *o = in->opts;

	return o->min_ns ? 0 : render(in, false);
}

static void report_drops(struct vigil_inst *in)
{
	static const char *const what[VIGIL_SCHED__DROPS] = {
		"rows (the table is full)", "row histograms (the table is full)", "off-CPU stacks" };
	struct sched_priv *p = in->priv;

	for (uint32_t i = 0; i < VIGIL_SCHED__DROPS; i++) {
		uint64_t n = drops(p, i);

		if (n)
			vigil_warn("%s: %llu updates of %s were not counted", in->name,
				   (unsigned long long)n, what[i]);
	}
}

static int sched_stop(struct vigil_inst *in, int err)
{
	const struct sched_opts *o = in->opts;
	struct sched_priv *p = in->priv;

	if (p->s.in)
		err = vigil_session_close(&p->s, err);
	if (p->started && !err && !in->sink->broken_pipe && !o->min_ns) {
		/* cumulative, whatever the ticks printed */
		if (render(in, true) < 0 || (o->stacks && render_stacks(in) < 0))
			err = in->sink->broken_pipe ? 0 : VIGIL_EXIT_FAIL;
		report_drops(in);
	}
	sched_bpf__destroy(p->skel);
	p->skel = NULL;
	vigil_sym_free(p->sym);
	p->sym = NULL;
	stab_free(&p->prev);
	free(p->cg);
	p->cg = NULL;
	free(p->cpus);
	free(p->cpus_prev);
	p->cpus = p->cpus_prev = NULL;
	return err;
}

static int sched_sessions(struct vigil_inst *in, struct vigil_session **out, int max)
{
	struct sched_priv *p = in->priv;

	out[0] = &p->s;
	return max > 0 && p->started ? 1 : 0;
}

/* the agent: host numbers always, per container with per-container (cumulative) */
static void sched_metrics(struct vigil_inst *in, struct vigil_metrics *m)
{
	const struct sched_opts *o = in->opts;
	struct sched_priv *p = in->priv;
	struct vigil_sched_counts host = { 0 };
	uint64_t slots[VIGIL_HIST_SLOTS] = { 0 };
	struct stab t = { 0 };
	const char *hl[] = { "feature", in->name, "container", "(host)", NULL };

	if (!p->started || o->min_ns || collect(in, &t))
		return;
	for (int c = 0; c < p->ncpu; c++) {
		counts_add(&host, &p->cpus[c].c);
		vhist_merge(slots, (const uint64_t *)p->cpus[c].slots);
	}
	vm_family(m, "vigil_sched_runq_latency_seconds", "histogram",
		  "run-queue latency: wakeup or preemption to running");
	vm_hist(m, slots, 1e-9, host.runq_ns / 1e9, hl);
	for (size_t i = 0; o->per_container && i < t.n; i++) {
		const struct vigil_container *c = t.rows[i].key && in->containers ?
			vigil_container_lookup(in->containers, t.rows[i].key) : NULL;

		if (!c || !t.rows[i].slots)
			continue;
		vm_hist(m, t.rows[i].slots, 1e-9, t.rows[i].c.runq_ns / 1e9,
			(const char *[]){ "feature", in->name, "container",
					  c->name_state == VIGIL_CNAME_KNOWN ? c->name : c->id, NULL });
	}
	vm_family(m, "vigil_sched_offcpu_seconds_total", "counter",
		  "time off the CPU by why the task left: blocked until the wakeup, or preempted");
	for (int s = 0; s < VIGIL_SCHED__STATES; s++)
		vm_value(m, host.off_ns[s] / 1e9, (const char *[]){ "feature", in->name,
			 "container", "(host)", "state", state_names[s], NULL });
	for (size_t i = 0; o->per_container && i < t.n; i++) {
		const struct vigil_container *c = t.rows[i].key && in->containers ?
			vigil_container_lookup(in->containers, t.rows[i].key) : NULL;

		for (int s = 0; c && s < VIGIL_SCHED__STATES; s++)
			vm_value(m, t.rows[i].c.off_ns[s] / 1e9, (const char *[]){ "feature", in->name,
				 "container", c->name_state == VIGIL_CNAME_KNOWN ? c->name : c->id,
				 "state", state_names[s], NULL });
	}
	vm_family(m, "vigil_sched_context_switches_total", "counter",
		  "context switches: voluntary (blocked) or involuntary (preempted)");
	vm_u64(m, host.vol, (const char *[]){ "feature", in->name, "container", "(host)",
					     "kind", "voluntary", NULL });
	vm_u64(m, host.invol, (const char *[]){ "feature", in->name, "container", "(host)",
					       "kind", "involuntary", NULL });
	for (size_t i = 0; o->per_container && i < t.n; i++) {
		const struct vigil_container *c = t.rows[i].key && in->containers ?
			vigil_container_lookup(in->containers, t.rows[i].key) : NULL;
		const char *name = c ? c->name_state == VIGIL_CNAME_KNOWN ? c->name : c->id : NULL;

		if (!c)
			continue;
		vm_u64(m, t.rows[i].c.vol, (const char *[]){ "feature", in->name, "container", name,
							     "kind", "voluntary", NULL });
		vm_u64(m, t.rows[i].c.invol, (const char *[]){ "feature", in->name, "container", name,
							       "kind", "involuntary", NULL });
	}
	vm_family(m, "vigil_sched_migrations_total", "counter", "tasks moved between CPUs");
	vm_u64(m, host.migrations, hl);
	stab_free(&t);
}

static const struct vigil_feature feat_sched = {
	.name = "sched",
	.opts = sched_opts,
	.opts_size = sizeof(struct sched_opts),
	.priv_size = sizeof(struct sched_priv),
	.check = sched_check,
	.start = sched_start,
	.tick = sched_tick,
	.stop = sched_stop,
	.sessions = sched_sessions,
	.metrics = sched_metrics,
};

const struct vigil_cmd cmd_sched = {
	.name = "sched",
	.summary = "run-queue latency, off-CPU time by state, context switches, per process or container",
	.flags = VC_ROOT | VC_BTF | VC_TRACE,
	.needs = VIGIL_MECH(VIGIL_M_TP_BTF),
	.feature = &feat_sched,
};
