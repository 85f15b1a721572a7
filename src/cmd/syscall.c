// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * vigil syscall: every syscall with its arguments, result and latency
 * (stream), or counted per syscall/process in the kernel (--count), or as
 * log2 latency histograms (--hist). What strace -f, strace -c, syscount and
 * bpftrace one-liners are used for, at near-zero overhead.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <bpf/bpf.h>
#include "core/vigil.h"
#include "core/env.h"
#include "core/hist.h"
#include "core/names.h"
#include "core/opts.h"
#include "core/out.h"
#include "core/session.h"
#include "core/bpfmap.h"
#include "core/feature.h"
#include "core/metrics.h"
#include "core/syscalls.h"
#include "syscall.skel.h"

#define STREAM_RINGBUF_DEFAULT (16u << 20)	/* a firehose needs room for bursts */
#define MAX_ERRNOS 4				/* shown per count row */
#define KEPT_ERRNOS 32				/* kept per row, so interval deltas are exact */
#define DRAIN_NS (50 * 1000000ull)		/* longest an event waits in the ring */
#define WAKEUP_MAX (4u << 20)			/* bytes between wakeups of a stream, at most */

enum sort_key { SORT_CALLS, SORT_ERRORS, SORT_TIME };

struct sc_opts {
	bool count, per_process, hist, failed, latency;
	uint32_t top;
	enum sort_key sort;
	int err;			/* --errno, positive */
	uint64_t min_latency;
	bool filter_nr;
	uint8_t want_nr[VIGIL_SYSCALL_MAX];
};

static int opt_syscall(void *base, const char *arg)
{
	struct sc_opts *o = base;
	char *list = strdup(arg), *save = NULL;
	int err = 0;

	if (!list)
		return -1;
	for (char *name = strtok_r(list, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
		const char *near[5];
		int nr = vigil_syscall_nr(name), n;

		char hint[256] = "";
		size_t h = 0;

		if (nr >= 0) {
			o->want_nr[nr] = 1;
			o->filter_nr = true;
			continue;
		}
		n = vigil_syscall_suggest(name, near, 5);
		for (int i = 0; i < n && h < sizeof(hint); i++)
			h += snprintf(hint + h, sizeof(hint) - h, "%s'%s'", i ? ", " : "; did you mean ",
				      near[i]);
		vigil_usage_error("unknown syscall '%s'%s%s", name, hint, n ? "?" : "");
		err = -1;
	}
	if (!o->filter_nr && !err) {
		vigil_usage_error("'--syscall' needs at least one name");
		err = -1;
	}
	free(list);
	return err;
}

static int opt_errno(void *base, const char *arg)
{
	int e = vigil_errno_parse(arg);

	if (e <= 0) {
		vigil_usage_error("unknown errno '%s' (a name such as ENOENT, or a number)", arg);
		return -1;
	}
	((struct sc_opts *)base)->err = e;
	return 0;
}

static int opt_sort(void *base, const char *arg)
{
	struct sc_opts *o = base;

	if (!strcmp(arg, "calls"))
		o->sort = SORT_CALLS;
	else if (!strcmp(arg, "errors"))
		o->sort = SORT_ERRORS;
	else if (!strcmp(arg, "time"))
		o->sort = SORT_TIME;
	else {
		vigil_usage_error("invalid sort key '%s': calls, errors or time", arg);
		return -1;
	}
	return 0;
}

#define S(f) VOFF(struct sc_opts, f)

static const struct vigil_opt syscall_opts[] = {
	VOPT_SECTION("Modes (default: one event per syscall)"),
	{ "count", 'C', VO_FLAG, S(count), NULL,
	  "count in the kernel: calls and errors per syscall (one hook, like syscount)" },
	{ "latency", 'L', VO_FLAG, S(latency), NULL,
	  "with --count: also total/avg/max latency (two hooks, like syscount -L)" },
	{ "hist", 0, VO_FLAG, S(hist), NULL, "log2 latency histogram per syscall" },
	{ "per-process", 'P', VO_FLAG, S(per_process), NULL,
	  "with --count or --hist: per process and syscall" },
	{ "top", 0, VO_U32, S(top), "N", "with --count or --hist: only the first N rows" },
	{ "sort", 0, VO_FUNC, 0, "KEY", "with --count: calls (default), errors or time (needs -L)",
	  opt_sort },
	VOPT_SECTION("Syscall filters"),
	{ "syscall", 's', VO_FUNC, 0, "NAME[,NAME...]", "only these syscalls (names or numbers)",
	  opt_syscall },
	{ "failed", 'x', VO_FLAG, S(failed), NULL, "only failed calls" },
	{ "errno", 0, VO_FUNC, 0, "NAME", "only calls failing with this errno (ENOENT, or 2)",
	  opt_errno },
	{ "min-latency", 0, VO_DURATION, S(min_latency), "DUR", "only calls that took at least DUR",
	  .max = 3600ull * 1000000000ull },
	VOPT_END,
};

/* ---- stream -------------------------------------------------------------- */

/* Argument counts from tracefs when it is mounted (never required): 6 otherwise. */
static int sc_argc(int nr)
{
	static int8_t argc[VIGIL_SYSCALL_MAX];
	static const char *tracefs;
	static bool looked;
	const char *name = vigil_syscall_name(nr);
	char path[512], line[256];
	FILE *f;
	int n = 0;

	if (nr < 0 || nr >= VIGIL_SYSCALL_MAX)
		return 6;
	if (argc[nr])
		return argc[nr] - 1;
	if (!looked) {
		tracefs = vigil_tracefs_path();
		looked = true;
	}
	argc[nr] = 7;
	if (!tracefs || !name)
		return 6;
	snprintf(path, sizeof(path), "%s/events/syscalls/sys_enter_%s/format", tracefs, name);
	f = fopen(path, "re");
	if (!f)
		return 6;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "field:") && !strstr(line, "common_") && !strstr(line, "__syscall_nr"))
			n++;
	fclose(f);
	if (n > 6)
		n = 6;
	argc[nr] = n + 1;
	return n;
}

static void fmt_sockaddr(const char *data, uint32_t len, char *buf, size_t n)
{
	sa_family_t fam;

	if (len < sizeof(fam)) {
		snprintf(buf, n, "?");
		return;
	}
	memcpy(&fam, data, sizeof(fam));
	if (fam == AF_INET && len >= sizeof(struct sockaddr_in)) {
		struct sockaddr_in sin;
		char a[INET_ADDRSTRLEN];

		memcpy(&sin, data, sizeof(sin));
		inet_ntop(AF_INET, &sin.sin_addr, a, sizeof(a));
		snprintf(buf, n, "%s:%u", a, ntohs(sin.sin_port));
	} else if (fam == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		struct sockaddr_in6 sin6;
		char a[INET6_ADDRSTRLEN];

		memcpy(&sin6, data, sizeof(sin6));
		inet_ntop(AF_INET6, &sin6.sin6_addr, a, sizeof(a));
		snprintf(buf, n, "[%s]:%u", a, ntohs(sin6.sin6_port));
	} else if (fam == AF_UNIX) {
		const char *p = data + sizeof(fam);
		size_t l = len - sizeof(fam);

		/* abstract sockets start with a NUL; show them as @name */
		if (l && !p[0])
			snprintf(buf, n, "unix:@%.*s", (int)l - 1, p + 1);
		else
			snprintf(buf, n, "unix:%.*s", (int)strnlen(p, l), p);
	} else {
		snprintf(buf, n, "family %u", fam);
	}
}

/* strace-like: name(arg, "path", ...) = ret ERRNO */
static void col_call(const struct vrow *r, char *buf, size_t n)
{
	const struct vfield *args = vrow_get(r, "args");
	const struct vfield *path = vrow_get(r, "path");
	const struct vfield *addr = vrow_get(r, "addr");
	const struct vfield *err = vrow_get(r, "errno");
	int nr = vrow_u(r, "nr"), dec = -1, i = 0;
	size_t o = 0;

	if (path || addr)
		vigil_syscall_decoded_arg(nr, &dec);
	o += snprintf(buf + o, n - o, "%s(", vrow_s(r, "syscall"));
	for (uint32_t s = 0, j = 0; args && j < args->list.len && o < n; j++) {
		if (args->list.buf[j])
			continue;
		if (i == dec && path)
			o += snprintf(buf + o, n - o, "%s\"%s\"", i ? ", " : "", path->s);
		else if (i == dec && addr)
			o += snprintf(buf + o, n - o, "%s{%s}", i ? ", " : "", addr->s);
		else
			o += snprintf(buf + o, n - o, "%s%s", i ? ", " : "", args->list.buf + s);
		s = j + 1;
		i++;
	}
	if (o < n)
		o += snprintf(buf + o, n - o, ") = %lld", (long long)vrow_i(r, "ret"));
	if (err && o < n)
		snprintf(buf + o, n - o, " %s", err->s);
}

static void col_latency(const struct vrow *r, char *buf, size_t n)
{
	vigil_fmt_duration(vrow_u(r, "latency_ns"), buf, n);
}

static const struct vcol stream_cols[] = {
	VCOL_TIME,
	{ "PID", 7, "pid", NULL, true },
	{ "TID", 7, "tid", NULL, true },
	{ "COMM", 16, "comm" },
	{ "LATENCY", 9, NULL, col_latency, true },
	{ "CALL", 0, NULL, col_call },
	{ 0 },
};

static int on_event(void *ctx, void *data, size_t size)
{
	const struct vigil_syscall *e = data;
	char namebuf[24], argbuf[6 * 20], addr[160];
	const char *data_str = NULL;
	uint32_t alen = 0;
	struct vigil_inst *in = ctx;
	struct vrow r;
	int argc;

	if (size < sizeof(*e) || e->hdr.type != VIGIL_EV_SYSCALL)
		return 0;
	if (e->data_len && size >= sizeof(struct vigil_syscall_data))
		data_str = ((const struct vigil_syscall_data *)data)->data;

	vrow_init(&r);
	vrow_hdr(&r, "syscall", &e->hdr);
	vrow_str(&r, "syscall", vigil_syscall_label(e->nr, namebuf, sizeof(namebuf)));
	vrow_u64(&r, "nr", e->nr);
	argc = sc_argc(e->nr);
	for (int i = 0; i < argc; i++)
		alen += snprintf(argbuf + alen, sizeof(argbuf) - alen, "0x%llx",
				 (unsigned long long)e->args[i]) + 1;
	vrow_strlist(&r, "args", argbuf, alen);
	vrow_s64(&r, "ret", e->ret);
	if (e->ret < 0 && e->ret >= -4095)
		vrow_str(&r, "errno", vigil_errno_name(-e->ret));
	vrow_u64(&r, "latency_ns", e->latency_ns);
	if (data_str && (e->flags & VIGIL_SC_DATA_PATH)) {
		/* the kernel wrote a NUL-terminated string of data_len bytes */
		vrow_str(&r, "path", data_str);
		if (e->flags & VIGIL_SC_DATA_TRUNC)
			vrow_bool(&r, "path_truncated", true);
	} else if (data_str && (e->flags & VIGIL_SC_DATA_SOCKADDR)) {
		fmt_sockaddr(data_str, e->data_len, addr, sizeof(addr));
		vrow_str(&r, "addr", addr);
	}
	return out_row(in->sink, &r);
}

/* ---- count and histogram: collect from the maps, then render ------------- */

struct crow {
	struct vigil_sc_key key;
	struct vigil_sc_stat st;
	char comm[VIGIL_COMM_LEN];
	int nerrs;
	struct { uint32_t err; uint64_t n; } errs[KEPT_ERRNOS];
	uint64_t slots[VIGIL_HIST_SLOTS];
};

struct table {
	struct crow *rows;
	size_t n, cap;
};

struct sc_priv {
	struct vigil_session s;
	struct syscall_bpf *skel;
	bool started;
	enum vigil_sc_mode mode;
	struct table table, prev;
	/* errno names and counts of the row being rendered (VF_COUNTS) */
	const char *ename[MAX_ERRNOS];
	uint64_t ecount[MAX_ERRNOS];
};

static int key_cmp(const void *a, const void *b)
{
	const struct vigil_sc_key *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return x->nr < y->nr ? -1 : x->nr > y->nr;
}

static int row_cmp(const void *a, const void *b, void *arg)
{
	const struct crow *x = a, *y = b;
	enum sort_key sort = *(const enum sort_key *)arg;
	uint64_t vx, vy;

	switch (sort) {
	case SORT_ERRORS: vx = x->st.errors; vy = y->st.errors; break;
	case SORT_TIME: vx = x->st.total_ns; vy = y->st.total_ns; break;
	default: vx = x->st.calls; vy = y->st.calls; break;
	}
	if (vx != vy)
		return vx > vy ? -1 : 1;
	return key_cmp(&x->key, &y->key);
}

static int err_cmp(const void *a, const void *b)
{
	const uint64_t *x = (const uint64_t *)((const char *)a + 8);
	const uint64_t *y = (const uint64_t *)((const char *)b + 8);

	return *x > *y ? -1 : *x < *y;
}

/* Sum one per-CPU map into rows; fold is called with each key and the summed value. */
struct fold_ctx {
	struct sc_priv *p;
	struct bpf_map *map;
	size_t vsize, stride;
	int ncpu;
	char *sum;
	void (*fold)(struct table *t, const void *key, const void *sum);
	struct table *t;
};

static int fold_one(void *ctx, const void *key, const void *vals)
{
	struct fold_ctx *f = ctx;
	struct syscall_bpf *skel = f->p->skel;
	uint64_t *s = (uint64_t *)f->sum;

	memset(f->sum, 0, f->stride);
	for (int c = 0; c < f->ncpu; c++) {
		const uint64_t *v = (const uint64_t *)((const char *)vals + c * f->stride);

		for (size_t i = 0; i < f->vsize / 8; i++)
			s[i] += v[i];
	}
	/*
	 * A latency maximum is the max over CPUs, not their sum; an interval
	 * maximum counts only if that CPU touched the stat in the current interval.
	 */
	if (f->map == skel->maps.sc_counts || f->map == skel->maps.sc_counts_nr) {
		struct vigil_sc_stat *ss = (struct vigil_sc_stat *)f->sum;
		uint64_t epoch = skel->bss->interval_epoch;

		ss->max_ns = ss->imax_ns = 0;
		ss->epoch = epoch;
		for (int c = 0; c < f->ncpu; c++) {
			const struct vigil_sc_stat *vs = (const void *)((const char *)vals +
									c * f->stride);

			if (vs->max_ns > ss->max_ns)
				ss->max_ns = vs->max_ns;
			if (vs->epoch == epoch && vs->imax_ns > ss->imax_ns)
				ss->imax_ns = vs->imax_ns;
		}
	}
	f->fold(f->t, key, f->sum);
	return 0;
}

/* every entry of a per-CPU map, summed over CPUs, folded into the table */
static int collect_map(struct sc_priv *p, struct bpf_map *map, size_t vsize,
		       void (*fold)(struct table *t, const void *key, const void *sum),
		       struct table *t)
{
	struct fold_ctx f = { .p = p, .map = map, .vsize = vsize, .stride = (vsize + 7) & ~(size_t)7,
			      .ncpu = libbpf_num_possible_cpus(), .fold = fold, .t = t };
	int err;

	if (f.ncpu <= 0)
		return f.ncpu;
	if (!(f.sum = calloc(1, f.stride)))
		return -ENOMEM;
	err = vigil_map_each(bpf_map__fd(map), fold_one, &f);
	free(f.sum);
	return err;
}

static struct crow *table_add(struct table *t, const struct vigil_sc_key *k)
{
	struct crow *r;

	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		struct crow *n = realloc(t->rows, cap * sizeof(*n));

		if (!n)
			return NULL;
		t->rows = n;
		t->cap = cap;
	}
	r = &t->rows[t->n++];
	memset(r, 0, sizeof(*r));
	r->key = *k;
	return r;
}

static void fold_stat(struct table *t, const void *key, const void *sum)
{
	struct crow *r = table_add(t, key);

	if (r)
		r->st = *(const struct vigil_sc_stat *)sum;
}

/* sc_counts_nr: every syscall number has an entry; only the used ones are rows */
static void fold_stat_nr(struct table *t, const void *key, const void *sum)
{
	const struct vigil_sc_stat *st = sum;
	struct vigil_sc_key k = { .pid = 0, .nr = *(const uint32_t *)key };
	struct crow *r;

	if (!st->calls)
		return;
	r = table_add(t, &k);
	if (r)
		r->st = *st;
}

static void fold_hist(struct table *t, const void *key, const void *sum)
{
	struct crow *r = table_add(t, key);

	if (!r)
		return;
	memcpy(r->slots, sum, sizeof(r->slots));
	r->st.calls = vhist_count(r->slots);
}

static void fold_err(struct table *t, const void *key, const void *sum)
{
	const struct vigil_sc_err_key *ek = key;
	struct vigil_sc_key k = { .pid = ek->pid, .nr = ek->nr };
	struct crow *r = bsearch(&k, t->rows, t->n, sizeof(*r), key_cmp);
	uint64_t n = *(const uint64_t *)sum;

	if (!r)
		return;
	/* keep the KEPT_ERRNOS most frequent */
	if (r->nerrs < KEPT_ERRNOS) {
		r->errs[r->nerrs].err = ek->err;
		r->errs[r->nerrs++].n = n;
	} else if (n > r->errs[KEPT_ERRNOS - 1].n) {
		r->errs[KEPT_ERRNOS - 1].err = ek->err;
		r->errs[KEPT_ERRNOS - 1].n = n;
	}
	qsort(r->errs, r->nerrs, sizeof(r->errs[0]), err_cmp);
}

static int collect(struct vigil_inst *in, struct table *t)
{
	const struct sc_opts *o = in->opts;
	struct sc_priv *p = in->priv;
	int err;

	t->n = 0;
	if (o->hist)
		return collect_map(p, p->skel->maps.sc_hists, sizeof(struct vigil_hist), fold_hist, t);
	if (o->per_process)
		err = collect_map(p, p->skel->maps.sc_counts, sizeof(struct vigil_sc_stat),
				  fold_stat, t);
	else
		err = collect_map(p, p->skel->maps.sc_counts_nr, sizeof(struct vigil_sc_stat),
				  fold_stat_nr, t);
	if (err)
		return err;
	/* errno breakdowns join their rows by key */
	qsort(t->rows, t->n, sizeof(t->rows[0]), key_cmp);
	return collect_map(p, p->skel->maps.sc_errors, sizeof(uint64_t), fold_err, t);
}

static void row_names(struct sc_priv *p, bool per_process, struct crow *r)
{
	if (!per_process)
		return;
	if (bpf_map_lookup_elem(bpf_map__fd(p->skel->maps.sc_comms), &r->key.pid, r->comm))
		snprintf(r->comm, sizeof(r->comm), "?");
	r->comm[VIGIL_COMM_LEN - 1] = 0;
}

/* ---- the rows of an interval or of the run ---- */

static void col_dur(const struct vrow *r, char *buf, size_t n, const char *key)
{
	vigil_fmt_duration(vrow_u(r, key), buf, n);
}

static void col_total(const struct vrow *r, char *buf, size_t n) { col_dur(r, buf, n, "total_ns"); }
static void col_avg(const struct vrow *r, char *buf, size_t n) { col_dur(r, buf, n, "avg_ns"); }
static void col_max(const struct vrow *r, char *buf, size_t n) { col_dur(r, buf, n, "max_ns"); }

static void col_hist(const struct vrow *r, char *buf, size_t n)
{
	const struct vfield *pid = vrow_get(r, "pid");
	char comm[64] = "";
	size_t o;

	if (pid) {
		vigil_term_escape(vrow_s(r, "comm"), VIGIL_COMM_LEN, comm, sizeof(comm));
		o = snprintf(buf, n, "syscall = %s  pid = %llu  comm = %s  (%llu calls)\n",
			     vrow_s(r, "syscall"), (unsigned long long)pid->u, comm,
			     (unsigned long long)vrow_u(r, "count"));
	} else {
		o = snprintf(buf, n, "syscall = %s  (%llu calls)\n", vrow_s(r, "syscall"),
			     (unsigned long long)vrow_u(r, "count"));
	}
	if (o < n) {
		FILE *m = fmemopen(buf + o, n - o, "w");

		if (m) {
			vhist_print(m, vrow_need(r, "buckets", VF_HIST)->hist.slots, "nsecs");
			fclose(m);
		}
	}
}

#define COUNT_COLS(...) \
	__VA_ARGS__ \
	{ "SYSCALL", 20, "syscall" }, \
	{ "CALLS", 10, "calls", NULL, true }, \
	{ "ERRORS", 8, "errors", NULL, true },
#define LAT_COLS \
	{ "TOTAL", 10, NULL, col_total, true }, \
	{ "AVG", 10, NULL, col_avg, true }, \
	{ "MAX", 10, NULL, col_max, true },
#define PROC_COLS { "PID", 7, "pid", NULL, true }, { "COMM", 16, "comm" },

static const struct vcol count_cols[] = { COUNT_COLS() { " ERRNOS", 0, "errnos" }, { 0 } };
static const struct vcol count_lat_cols[] = { COUNT_COLS() LAT_COLS { " ERRNOS", 0, "errnos" }, { 0 } };
static const struct vcol count_p_cols[] = { COUNT_COLS(PROC_COLS) { " ERRNOS", 0, "errnos" }, { 0 } };
static const struct vcol count_p_lat_cols[] = {
	COUNT_COLS(PROC_COLS) LAT_COLS { " ERRNOS", 0, "errnos" }, { 0 } };
static const struct vcol hist_cols[] = { { "", 0, NULL, col_hist, false, true }, { 0 } };

static int render_row(struct vigil_inst *in, struct crow *r, const char *name, uint64_t now,
		      const char *iso, bool final)
{
	const struct sc_opts *o = in->opts;
	struct sc_priv *p = in->priv;
	struct vrow row;
	int ne = 0;

	vrow_init(&row);
	vrow_str(&row, "type", o->hist ? "syscall_hist" : "syscall_count");
	vrow_u64(&row, "ts", now);
	vrow_str(&row, "time", iso);
	vrow_bool(&row, "final", final);
	if (o->per_process) {
		vrow_u64(&row, "pid", r->key.pid);
		vrow_str(&row, "comm", r->comm);
	}
	vrow_str(&row, "syscall", name);
	vrow_u64(&row, "nr", r->key.nr);
	if (o->hist) {
		vrow_str(&row, "unit", "ns");
		vrow_u64(&row, "count", r->st.calls);
		vrow_hist(&row, "buckets", r->slots, "nsecs");
		return out_row(in->sink, &row);
	}
	vrow_u64(&row, "calls", r->st.calls);
	vrow_u64(&row, "errors", r->st.errors);
	if (o->latency) {
		vrow_u64(&row, "total_ns", r->st.total_ns);
		vrow_u64(&row, "avg_ns", r->st.calls ? r->st.total_ns / r->st.calls : 0);
		vrow_u64(&row, "max_ns", r->st.max_ns);
	}
	for (int i = 0; i < r->nerrs && i < MAX_ERRNOS; i++, ne++) {
		p->ename[i] = vigil_errno_name(r->errs[i].err);
		p->ecount[i] = r->errs[i].n;
	}
	vrow_counts(&row, "errnos", p->ename, p->ecount, ne);
	return out_row(in->sink, &row);
}

/*
 * Turn the cumulative rows of an interval tick into what happened since the
 * previous tick: the counters are subtracted from the previous snapshot (the
 * kernel keeps counting, nothing is reset under its feet), the maximum is the
 * kernel's per-interval one. Rows idle in the interval are dropped.
 */
static int interval_deltas(struct sc_priv *p, struct table *t)
{
	struct table snap = { 0 }, *prev = &p->prev;
	size_t kept = 0;

	if (t->n) {
		snap.rows = malloc(t->n * sizeof(*t->rows));
		if (!snap.rows)
			return -ENOMEM;
		memcpy(snap.rows, t->rows, t->n * sizeof(*t->rows));
		snap.n = snap.cap = t->n;
	}
	for (size_t i = 0; i < t->n; i++) {
		struct crow *r = &t->rows[i];
		const struct crow *q = prev->n ? bsearch(&r->key, prev->rows, prev->n,
							 sizeof(*r), key_cmp) : NULL;

		r->st.max_ns = r->st.imax_ns;
		if (q) {
			int ne = 0;

			r->st.calls -= q->st.calls;
			r->st.errors -= q->st.errors;
			r->st.total_ns -= q->st.total_ns;
			for (int s = 0; s < VIGIL_HIST_SLOTS; s++)
				r->slots[s] -= q->slots[s];
			for (int e = 0; e < r->nerrs; e++) {
				for (int k = 0; k < q->nerrs; k++)
					if (q->errs[k].err == r->errs[e].err)
						r->errs[e].n -= q->errs[k].n;
				if (r->errs[e].n)
					r->errs[ne++] = r->errs[e];
			}
			r->nerrs = ne;
			qsort(r->errs, r->nerrs, sizeof(r->errs[0]), err_cmp);
		}
		if (r->st.calls)
			t->rows[kept++] = *r;
	}
	t->n = kept;
	free(prev->rows);
	*prev = snap;
	/* maxima touched from now on belong to the next interval */
	p->skel->bss->interval_epoch++;
	return 0;
}

static int render(struct vigil_inst *in, bool final)
{
	const struct sc_opts *o = in->opts;
	struct sc_priv *p = in->priv;
	struct table *t = &p->table;
	uint64_t now = vigil_boot_ns();
	char iso[40], span[32] = "final, since start";
	struct vrow tr;
	char hhmmss[16];
	size_t n;
	int err;

	err = collect(in, t);
	if (!err && !final)
		err = interval_deltas(p, t);
	if (err) {
		vigil_error("cannot read the syscall counts: %s", strerror(-err));
		return VIGIL_EXIT_FAIL;
	}
	qsort_r(t->rows, t->n, sizeof(t->rows[0]), row_cmp, (void *)&o->sort);
	n = o->top && o->top < t->n ? o->top : t->n;
	vigil_iso_time(now, iso, sizeof(iso));
	vrow_init(&tr);
	vrow_u64(&tr, "ts", now);
	vcol_time(&tr, hhmmss, sizeof(hhmmss));
	if (!final) {
		char d[24];

		vigil_fmt_duration(in->c.interval_ns, d, sizeof(d));
		snprintf(span, sizeof(span), "last %s", d);
	}
	out_text(in->sink, "%s%s (%s%s)\n", in->c.interval_ns ? "\n" : "", hhmmss, span,
		 n < t->n ? ", top rows" : "");
	if (!o->hist)
		out_header(in->sink);
	for (size_t i = 0; i < n; i++) {
		struct crow *r = &t->rows[i];
		char nb[24];
		const char *name = vigil_syscall_label(r->key.nr, nb, sizeof(nb));

		row_names(p, o->per_process, r);
		if (render_row(in, r, name, now, iso, final) < 0)
			return -1;
	}
	return out_flush(in->sink) ? -1 : 0;
}

static int sc_tick(struct vigil_inst *in)
{
	struct sc_priv *p = in->priv;

	return p->mode == VIGIL_SC_STREAM ? 0 : render(in, false);
}

static uint64_t overflow(struct sc_priv *p, uint32_t which)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t total = 0;

	if (ncpu <= 0)
		return 0;
	uint64_t v[ncpu];

	if (bpf_map_lookup_elem(bpf_map__fd(p->skel->maps.sc_overflow), &which, v))
		return 0;
	for (int i = 0; i < ncpu; i++)
		total += v[i];
	return total;
}

/* ---- run ----------------------------------------------------------------- */

static int sc_check(struct vigil_inst *in)
{
	const struct sc_opts *o = in->opts;

	if (o->count && o->hist) {
		vigil_usage_error("--count and --hist exclude each other");
		return VIGIL_EXIT_USAGE;
	}
	if (!o->count && !o->hist && (o->per_process || o->top)) {
		vigil_usage_error("--per-process and --top need --count or --hist");
		return VIGIL_EXIT_USAGE;
	}
	if (o->latency && !o->count) {
		vigil_usage_error("--latency applies to --count (streams and --hist have latency)");
		return VIGIL_EXIT_USAGE;
	}
	if (o->hist && o->sort != SORT_CALLS) {
		vigil_usage_error("--sort applies to --count; histograms are sorted by calls");
		return VIGIL_EXIT_USAGE;
	}
	if (o->count && !o->latency && (o->sort == SORT_TIME || o->min_latency)) {
		vigil_usage_error("--sort time and --min-latency with --count need --latency");
		return VIGIL_EXIT_USAGE;
	}
	return 0;
}

static void set_decoders(struct syscall_bpf *skel)
{
	for (int nr = 0; nr < VIGIL_SYSCALL_MAX; nr++) {
		int arg;

		switch (vigil_syscall_decoded_arg(nr, &arg)) {
		case VIGIL_SC_ARG_PATH:
			skel->rodata->decode_nr[nr] = VIGIL_SC_DEC_PATH | (arg + 1);
			break;
		case VIGIL_SC_ARG_SOCKADDR:
			skel->rodata->decode_nr[nr] = VIGIL_SC_DEC_SOCKADDR | (arg + 1);
			break;
		default:
			break;
		}
	}
}

static int sc_start(struct vigil_inst *in)
{
	const struct sc_opts *o = in->opts;
	struct sc_priv *p = in->priv;
	enum vigil_sc_mode mode = o->count ? VIGIL_SC_COUNT : o->hist ? VIGIL_SC_HIST : VIGIL_SC_STREAM;
	/* counts and errors are known at exit alone; only latency needs the entry */
	bool one_hook = mode == VIGIL_SC_COUNT && !o->latency;
	struct syscall_bpf *skel;
	int err;

	p->mode = mode;
	skel = p->skel = syscall_bpf__open();
	err = vigil_session_open(&p->s, in, skel ? skel->skeleton : NULL);
	if (err)
		return err;
	skel->rodata->sc_mode = mode;
	skel->rodata->per_process = o->per_process;
	skel->rodata->failed_only = o->failed;
	skel->rodata->want_errno = o->err;
	skel->rodata->min_latency_ns = o->min_latency;
	skel->rodata->self_pid = getpid();
	skel->rodata->filter_nr = o->filter_nr;
	skel->rodata->interval_max = mode == VIGIL_SC_COUNT && in->c.interval_ns;
	memcpy((void *)skel->rodata->want_nr, o->want_nr, sizeof(o->want_nr));
	bpf_program__set_autoload(skel->progs.sc_enter, !one_hook);
	bpf_program__set_autoload(skel->progs.sc_exit, !one_hook);
	bpf_program__set_autoload(skel->progs.sc_task_exit, !one_hook);
	bpf_program__set_autoload(skel->progs.sc_task_exec, !one_hook);
	bpf_program__set_autoload(skel->progs.sc_exit_count, one_hook);
	if (one_hook)
		bpf_map__set_max_entries(skel->maps.sc_inflight, 1);

	/* maps a mode does not use still cost memory: shrink them to one entry */
	if (mode != VIGIL_SC_COUNT) {
		bpf_map__set_max_entries(skel->maps.sc_counts_nr, 1);
		bpf_map__set_max_entries(skel->maps.sc_errors, 1);
	}
	if (mode != VIGIL_SC_COUNT || !o->per_process)
		bpf_map__set_max_entries(skel->maps.sc_counts, 1);
	else
		bpf_map__set_max_entries(skel->maps.sc_counts_nr, 1);
	if (mode != VIGIL_SC_HIST)
		bpf_map__set_max_entries(skel->maps.sc_hists, 1);
	if (!o->per_process)
		bpf_map__set_max_entries(skel->maps.sc_comms, 1);
	if (mode == VIGIL_SC_STREAM) {
		set_decoders(skel);
		if (!in->c.ringbuf_size)
			bpf_map__set_max_entries(skel->maps.vigil_events, STREAM_RINGBUF_DEFAULT);
		/*
		 * batched wakeups: every quarter of the ring, and a drain every 50ms.
		 * A consumer woken often reads each record while the producer's CPU
		 * still holds its cache lines: at 1/32 it spent twice the CPU per
		 * event (bench/RESULTS.md, "Engine stream"); 3/4 of the ring is left
		 * for a burst while it wakes. At most 4 MiB: a bigger batch has left
		 * the caches by the time it is read.
		 */
		skel->rodata->wakeup_bytes = bpf_map__max_entries(skel->maps.vigil_events) / 4;
		if (skel->rodata->wakeup_bytes > WAKEUP_MAX)
			skel->rodata->wakeup_bytes = WAKEUP_MAX;
		p->s.drain_ns = DRAIN_NS;
		out_set_columns(in->sink, stream_cols);
	} else {
		/* nothing is shipped per call: the smallest ring buffer there is */
		bpf_map__set_max_entries(skel->maps.vigil_events, getpagesize());
		out_set_columns(in->sink, o->hist ? hist_cols :
				o->per_process ? (o->latency ? count_p_lat_cols : count_p_cols) :
				(o->latency ? count_lat_cols : count_cols));
	}
	err = vigil_session_start(&p->s, mode == VIGIL_SC_STREAM ? on_event : NULL, in);
	if (err)
		return err;
	p->started = true;
	/* a count table has its header with each interval's rows */
	if (mode != VIGIL_SC_STREAM)
		in->sink->header_done = true;
	return 0;
}

static int sc_stop(struct vigil_inst *in, int err)
{
	struct sc_priv *p = in->priv;
	uint64_t n;

	if (p->s.in)
		err = vigil_session_close(&p->s, err);
	if (p->started && !err && p->mode != VIGIL_SC_STREAM && !in->sink->broken_pipe)
		err = render(in, true) < 0 && !in->sink->broken_pipe ? VIGIL_EXIT_FAIL : 0;
	if (p->started && (n = overflow(p, 0) + overflow(p, 1)))
		vigil_warn("%llu syscalls not traced because a kernel map was full",
			   (unsigned long long)n);
	free(p->table.rows);
	free(p->prev.rows);
	syscall_bpf__destroy(p->skel);
	p->skel = NULL;
	return err;
}

static int sc_sessions(struct vigil_inst *in, struct vigil_session **out, int max)
{
	struct sc_priv *p = in->priv;

	out[0] = &p->s;
	return max > 0 && p->started ? 1 : 0;
}

/* the agent: counts and errors per syscall, or latency histograms (cumulative) */
static void sc_metrics(struct vigil_inst *in, struct vigil_metrics *m)
{
	const struct sc_opts *o = in->opts;
	struct sc_priv *p = in->priv;
	struct table t = { 0 };
	char nb[24];

	if (!p->started || p->mode == VIGIL_SC_STREAM || collect(in, &t))
		goto out;
	/* per process rows fold into their syscall: no pid label */
	if (o->hist) {
		vm_family(m, "vigil_syscall_latency_seconds", "histogram", "syscall latency, entry to exit");
		for (size_t i = 0; i < t.n; i++) {
			const char *name = vigil_syscall_label(t.rows[i].key.nr, nb, sizeof(nb));

			vm_hist(m, t.rows[i].slots, 1e-9, -1,
				(const char *[]){ "feature", in->name, "syscall", name, NULL });
		}
		goto out;
	}
	vm_family(m, "vigil_syscall_calls_total", "counter", "syscalls counted in the kernel");
	for (size_t i = 0; i < t.n; i++)
		vm_u64(m, t.rows[i].st.calls, (const char *[]){ "feature", in->name, "syscall",
				vigil_syscall_label(t.rows[i].key.nr, nb, sizeof(nb)), NULL });
	vm_family(m, "vigil_syscall_errors_total", "counter", "syscalls that failed");
	for (size_t i = 0; i < t.n; i++)
		vm_u64(m, t.rows[i].st.errors, (const char *[]){ "feature", in->name, "syscall",
				vigil_syscall_label(t.rows[i].key.nr, nb, sizeof(nb)), NULL });
out:
	free(t.rows);
}

static const struct vigil_feature feat_syscall = {
	.name = "syscall",
	.opts = syscall_opts,
	.opts_size = sizeof(struct sc_opts),
	.priv_size = sizeof(struct sc_priv),
	.check = sc_check,
	.start = sc_start,
	.tick = sc_tick,
	.stop = sc_stop,
	.sessions = sc_sessions,
	.metrics = sc_metrics,
};

const struct vigil_cmd cmd_syscall = {
	.name = "syscall",
	.summary = "trace, count or histogram syscalls (strace, strace -c, syscount in one)",
	.flags = VC_ROOT | VC_BTF | VC_TRACE,
	.needs = VIGIL_MECH(VIGIL_M_RAW_TP) | VIGIL_MECH(VIGIL_M_TP_BTF) |
		 VIGIL_MECH(VIGIL_M_RINGBUF),
	.feature = &feat_syscall,
};
