// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * vigil syscall: every syscall with its arguments, result and latency
 * (stream), or counted per syscall/process in the kernel (--count), or as
 * log2 latency histograms (--hist). What strace -f, strace -c, syscount and
 * bpftrace one-liners are used for, at near-zero overhead.
 */
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
#include "core/syscalls.h"
#include "syscall.skel.h"

#define STREAM_RINGBUF_DEFAULT (16u << 20)	/* a firehose needs room for bursts */
#define MAX_ERRNOS 4				/* shown per count row */
#define KEPT_ERRNOS 32				/* kept per row, so interval deltas are exact */
#define DRAIN_NS (50 * 1000000ull)		/* longest an event waits in the ring */

enum sort_key { SORT_CALLS, SORT_ERRORS, SORT_TIME };

static struct {
	bool count, per_process, hist, failed;
	uint32_t top;
	enum sort_key sort;
	int err;			/* --errno, positive */
	uint64_t min_latency;
	bool filter_nr;
	uint8_t want_nr[VIGIL_SYSCALL_MAX];
} o;

static int opt_syscall(const char *arg)
{
	char *list = strdup(arg), *save = NULL;
	int err = 0;

	if (!list)
		return -1;
	for (char *name = strtok_r(list, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
		const char *near[5];
		int nr = vigil_syscall_nr(name), n;

		if (nr >= 0) {
			o.want_nr[nr] = 1;
			o.filter_nr = true;
			continue;
		}
		fprintf(stderr, "vigil syscall: unknown syscall '%s'", name);
		n = vigil_syscall_suggest(name, near, 5);
		for (int i = 0; i < n; i++)
			fprintf(stderr, "%s'%s'", i ? ", " : "; did you mean ", near[i]);
		fprintf(stderr, n ? "?\n" : "\n");
		err = -1;
	}
	if (!o.filter_nr && !err) {
		fprintf(stderr, "vigil syscall: '--syscall' needs at least one name\n");
		err = -1;
	}
	free(list);
	return err;
}

static int opt_errno(const char *arg)
{
	int e = vigil_errno_parse(arg);

	if (e <= 0) {
		fprintf(stderr, "vigil syscall: unknown errno '%s' (a name such as ENOENT, or a number)\n",
			arg);
		return -1;
	}
	o.err = e;
	return 0;
}

static int opt_sort(const char *arg)
{
	if (!strcmp(arg, "calls"))
		o.sort = SORT_CALLS;
	else if (!strcmp(arg, "errors"))
		o.sort = SORT_ERRORS;
	else if (!strcmp(arg, "time"))
		o.sort = SORT_TIME;
	else {
		fprintf(stderr, "vigil syscall: invalid sort key '%s': calls, errors or time\n", arg);
		return -1;
	}
	return 0;
}

static const struct vigil_opt syscall_opts[] = {
	VOPT_SECTION("Modes (default: one event per syscall)"),
	{ "count", 'C', VO_FLAG, &o.count, NULL,
	  "count in the kernel: calls, errors, total/avg/max latency per syscall" },
	{ "hist", 0, VO_FLAG, &o.hist, NULL, "log2 latency histogram per syscall" },
	{ "per-process", 'P', VO_FLAG, &o.per_process, NULL,
	  "with --count or --hist: per process and syscall" },
	{ "top", 0, VO_U32, &o.top, "N", "with --count or --hist: only the first N rows" },
	{ "sort", 0, VO_FUNC, NULL, "KEY", "with --count: calls (default), errors or time", opt_sort },
	VOPT_SECTION("Syscall filters"),
	{ "syscall", 's', VO_FUNC, NULL, "NAME[,NAME...]", "only these syscalls (names or numbers)",
	  opt_syscall },
	{ "failed", 'x', VO_FLAG, &o.failed, NULL, "only failed calls" },
	{ "errno", 0, VO_FUNC, NULL, "NAME", "only calls failing with this errno (ENOENT, or 2)",
	  opt_errno },
	{ "min-latency", 0, VO_DURATION, &o.min_latency, "DUR", "only calls that took at least DUR" },
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
	int nr = vrow_get(r, "nr")->u, dec = -1, i = 0;
	size_t o = 0;

	if (path || addr)
		vigil_syscall_decoded_arg(nr, &dec);
	o += snprintf(buf + o, n - o, "%s(", vrow_get(r, "syscall")->s);
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
		o += snprintf(buf + o, n - o, ") = %lld", (long long)vrow_get(r, "ret")->i);
	if (err && o < n)
		snprintf(buf + o, n - o, " %s", err->s);
}

static void col_latency(const struct vrow *r, char *buf, size_t n)
{
	vigil_fmt_duration(vrow_get(r, "latency_ns")->u, buf, n);
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
	struct vrow r;
	int argc;

	(void)ctx;
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
	return out_row(&r);
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

static struct syscall_bpf *skel;

static int key_cmp(const void *a, const void *b)
{
	const struct vigil_sc_key *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return x->nr < y->nr ? -1 : x->nr > y->nr;
}

static int row_cmp(const void *a, const void *b)
{
	const struct crow *x = a, *y = b;
	uint64_t vx, vy;

	switch (o.sort) {
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
static int collect_map(struct bpf_map *map, size_t vsize,
		       void (*fold)(struct table *t, const void *key, const void *sum),
		       struct table *t)
{
	int ncpu = libbpf_num_possible_cpus(), fd = bpf_map__fd(map);
	size_t ksize = bpf_map__key_size(map), stride = (vsize + 7) & ~(size_t)7;
	char key[32], next[32], *vals = NULL, *sum = NULL;
	void *prev = NULL;
	int err = 0;

	if (ncpu <= 0)
		return ncpu;
	vals = calloc(ncpu, stride);
	sum = calloc(1, stride);
	if (!vals || !sum) {
		err = -ENOMEM;
		goto out;
	}
	while (bpf_map_get_next_key(fd, prev, next) == 0) {
		memcpy(key, next, ksize);
		prev = key;
		if (bpf_map_lookup_elem(fd, key, vals))
			continue;	/* deleted meanwhile */
		memset(sum, 0, stride);
		for (int c = 0; c < ncpu; c++) {
			const uint64_t *v = (const uint64_t *)(vals + c * stride);
			uint64_t *s = (uint64_t *)sum;

			for (size_t i = 0; i < vsize / 8; i++)
				s[i] += v[i];
		}
		/*
		 * A latency maximum is the max over CPUs, not their sum; an
		 * interval maximum counts only if that CPU touched the stat in
		 * the current interval.
		 */
		if (map == skel->maps.sc_counts || map == skel->maps.sc_counts_nr) {
			struct vigil_sc_stat *ss = (struct vigil_sc_stat *)sum;
			uint64_t epoch = skel->bss->interval_epoch;

			ss->max_ns = ss->imax_ns = 0;
			ss->epoch = epoch;
			for (int c = 0; c < ncpu; c++) {
				const struct vigil_sc_stat *vs = (const void *)(vals + c * stride);

				if (vs->max_ns > ss->max_ns)
					ss->max_ns = vs->max_ns;
				if (vs->epoch == epoch && vs->imax_ns > ss->imax_ns)
					ss->imax_ns = vs->imax_ns;
			}
		}
		fold(t, key, sum);
	}
out:
	free(vals);
	free(sum);
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

static int collect(struct table *t)
{
	int err;

	t->n = 0;
	if (o.hist)
		return collect_map(skel->maps.sc_hists, sizeof(struct vigil_hist), fold_hist, t);
	if (o.per_process)
		err = collect_map(skel->maps.sc_counts, sizeof(struct vigil_sc_stat), fold_stat, t);
	else
		err = collect_map(skel->maps.sc_counts_nr, sizeof(struct vigil_sc_stat),
				  fold_stat_nr, t);
	if (err)
		return err;
	/* errno breakdowns join their rows by key */
	qsort(t->rows, t->n, sizeof(t->rows[0]), key_cmp);
	return collect_map(skel->maps.sc_errors, sizeof(uint64_t), fold_err, t);
}

static void row_names(struct crow *r)
{
	if (!o.per_process)
		return;
	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.sc_comms), &r->key.pid, r->comm))
		snprintf(r->comm, sizeof(r->comm), "?");
	r->comm[VIGIL_COMM_LEN - 1] = 0;
}

static void json_head(struct jw *w, const char *type, uint64_t now, bool final,
		      const struct crow *r, const char *name)
{
	jw_record(w, type, now);
	jw_bool(w, "final", final);
	if (o.per_process) {
		jw_u64(w, "pid", r->key.pid);
		jw_str(w, "comm", r->comm);
	}
	jw_str(w, "syscall", name);
	jw_u64(w, "nr", r->key.nr);
}

static void render_count_row(const struct crow *r, const char *name, uint64_t now, bool final)
{
	uint64_t avg = r->st.calls ? r->st.total_ns / r->st.calls : 0;

	if (vigil.json) {
		struct jw w;

		json_head(&w, "syscall_count", now, final, r, name);
		jw_u64(&w, "calls", r->st.calls);
		jw_u64(&w, "errors", r->st.errors);
		jw_u64(&w, "total_ns", r->st.total_ns);
		jw_u64(&w, "avg_ns", avg);
		jw_u64(&w, "max_ns", r->st.max_ns);
		jw_obj(&w, "errnos");
		for (int i = 0; i < r->nerrs && i < MAX_ERRNOS; i++)
			jw_u64(&w, vigil_errno_name(r->errs[i].err), r->errs[i].n);
		jw_end_obj(&w);
		jw_end_obj(&w);
		return;
	}
	char tot[32], av[32], mx[32], errs[128] = "";
	size_t eo = 0;

	vigil_fmt_duration(r->st.total_ns, tot, sizeof(tot));
	vigil_fmt_duration(avg, av, sizeof(av));
	vigil_fmt_duration(r->st.max_ns, mx, sizeof(mx));
	for (int i = 0; i < r->nerrs && i < MAX_ERRNOS && eo < sizeof(errs); i++)
		eo += snprintf(errs + eo, sizeof(errs) - eo, "%s%s:%llu", i ? " " : "",
			       vigil_errno_name(r->errs[i].err), (unsigned long long)r->errs[i].n);
	if (o.per_process)
		fprintf(vigil.out, "%7u %-16s ", r->key.pid, r->comm);
	fprintf(vigil.out, "%-20s %10llu %8llu %10s %10s %10s  %s\n", name,
		(unsigned long long)r->st.calls, (unsigned long long)r->st.errors, tot, av, mx, errs);
}

static void render_hist_row(const struct crow *r, const char *name, uint64_t now, bool final)
{
	if (vigil.json) {
		struct jw w;

		json_head(&w, "syscall_hist", now, final, r, name);
		jw_str(&w, "unit", "ns");
		jw_u64(&w, "count", r->st.calls);
		vhist_json(&w, "buckets", r->slots);
		jw_end_obj(&w);
		return;
	}
	fprintf(vigil.out, "\nsyscall = %s", name);
	if (o.per_process)
		fprintf(vigil.out, "  pid = %u  comm = %s", r->key.pid, r->comm);
	fprintf(vigil.out, "  (%llu calls)\n", (unsigned long long)r->st.calls);
	vhist_print(vigil.out, r->slots, "nsecs");
}

static struct table table, prev;

/*
 * Turn the cumulative rows of an interval tick into what happened since the
 * previous tick: the counters are subtracted from the previous snapshot (the
 * kernel keeps counting, nothing is reset under its feet), the maximum is the
 * kernel's per-interval one. Rows idle in the interval are dropped.
 */
static int interval_deltas(struct table *t)
{
	struct table snap = { 0 };
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
		const struct crow *p = prev.n ? bsearch(&r->key, prev.rows, prev.n,
							sizeof(*r), key_cmp) : NULL;

		r->st.max_ns = r->st.imax_ns;
		if (p) {
			int ne = 0;

			r->st.calls -= p->st.calls;
			r->st.errors -= p->st.errors;
			r->st.total_ns -= p->st.total_ns;
			for (int s = 0; s < VIGIL_HIST_SLOTS; s++)
				r->slots[s] -= p->slots[s];
			for (int e = 0; e < r->nerrs; e++) {
				for (int q = 0; q < p->nerrs; q++)
					if (p->errs[q].err == r->errs[e].err)
						r->errs[e].n -= p->errs[q].n;
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
	free(prev.rows);
	prev = snap;
	/* maxima touched from now on belong to the next interval */
	skel->bss->interval_epoch++;
	return 0;
}

static int render(bool final)
{
	uint64_t now = vigil_boot_ns();
	char hhmmss[16];
	size_t n;
	int err;

	err = collect(&table);
	if (!err && !final)
		err = interval_deltas(&table);
	if (err) {
		vigil_error("cannot read the syscall counts: %s", strerror(-err));
		return VIGIL_EXIT_FAIL;
	}
	qsort(table.rows, table.n, sizeof(table.rows[0]), row_cmp);
	n = o.top && o.top < table.n ? o.top : table.n;
	if (!vigil.json) {
		struct vrow r;
		struct vcol tcol[] = { VCOL_TIME, { 0 } };

		vrow_init(&r);
		vrow_u64(&r, "ts", now);
		tcol[0].fmt(&r, hhmmss, sizeof(hhmmss));
		char span[32] = "final, since start";

		if (!final) {
			char d[24];

			vigil_fmt_duration(vigil.interval_ns, d, sizeof(d));
			snprintf(span, sizeof(span), "last %s", d);
		}
		fprintf(vigil.out, "%s%s (%s%s)\n", vigil.interval_ns ? "\n" : "", hhmmss, span,
			n < table.n ? ", top rows" : "");
		if (!o.hist) {
			if (o.per_process)
				fprintf(vigil.out, "%7s %-16s ", "PID", "COMM");
			fprintf(vigil.out, "%-20s %10s %8s %10s %10s %10s  %s\n", "SYSCALL", "CALLS",
				"ERRORS", "TOTAL", "AVG", "MAX", "ERRNOS");
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct crow *r = &table.rows[i];
		char nb[24];
		const char *name = vigil_syscall_label(r->key.nr, nb, sizeof(nb));

		row_names(r);
		if (o.hist)
			render_hist_row(r, name, now, final);
		else
			render_count_row(r, name, now, final);
	}
	return out_flush() ? -1 : 0;
}

static int on_tick(void *ctx)
{
	(void)ctx;
	return render(false);
}

static uint64_t overflow(uint32_t which)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t total = 0;

	if (ncpu <= 0)
		return 0;
	uint64_t v[ncpu];

	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.sc_overflow), &which, v))
		return 0;
	for (int i = 0; i < ncpu; i++)
		total += v[i];
	return total;
}

/* ---- run ----------------------------------------------------------------- */

static int check_usage(int argc, char **argv)
{
	if (argc > 0) {
		fprintf(stderr, "vigil syscall: unexpected argument '%s'\n", argv[0]);
		return VIGIL_EXIT_USAGE;
	}
	if (o.count && o.hist) {
		fprintf(stderr, "vigil syscall: --count and --hist exclude each other\n");
		return VIGIL_EXIT_USAGE;
	}
	if (!o.count && !o.hist && (o.per_process || o.top)) {
		fprintf(stderr, "vigil syscall: --per-process and --top need --count or --hist\n");
		return VIGIL_EXIT_USAGE;
	}
	if (o.hist && o.sort != SORT_CALLS) {
		fprintf(stderr, "vigil syscall: --sort applies to --count; histograms are sorted by calls\n");
		return VIGIL_EXIT_USAGE;
	}
	return 0;
}

static void set_decoders(void)
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

static int syscall_run(int argc, char **argv)
{
	enum vigil_sc_mode mode = o.count ? VIGIL_SC_COUNT : o.hist ? VIGIL_SC_HIST : VIGIL_SC_STREAM;
	struct vigil_session s;
	bool started = false;
	uint64_t n;
	int err;

	err = check_usage(argc, argv);
	if (err)
		return err;

	skel = syscall_bpf__open();
	err = vigil_session_open(&s, "syscall", skel ? skel->skeleton : NULL);
	if (err)
		goto out;
	skel->rodata->sc_mode = mode;
	skel->rodata->per_process = o.per_process;
	skel->rodata->failed_only = o.failed;
	skel->rodata->want_errno = o.err;
	skel->rodata->min_latency_ns = o.min_latency;
	skel->rodata->self_pid = getpid();
	skel->rodata->filter_nr = o.filter_nr;
	skel->rodata->interval_max = mode == VIGIL_SC_COUNT && vigil.interval_ns;
	memcpy((void *)skel->rodata->want_nr, o.want_nr, sizeof(o.want_nr));

	/* maps a mode does not use still cost memory: shrink them to one entry */
	if (mode != VIGIL_SC_COUNT) {
		bpf_map__set_max_entries(skel->maps.sc_counts_nr, 1);
		bpf_map__set_max_entries(skel->maps.sc_errors, 1);
	}
	if (mode != VIGIL_SC_COUNT || !o.per_process)
		bpf_map__set_max_entries(skel->maps.sc_counts, 1);
	else
		bpf_map__set_max_entries(skel->maps.sc_counts_nr, 1);
	if (mode != VIGIL_SC_HIST)
		bpf_map__set_max_entries(skel->maps.sc_hists, 1);
	if (!o.per_process)
		bpf_map__set_max_entries(skel->maps.sc_comms, 1);
	if (mode == VIGIL_SC_STREAM) {
		set_decoders();
		if (!vigil.ringbuf_size)
			bpf_map__set_max_entries(skel->maps.vigil_events, STREAM_RINGBUF_DEFAULT);
		/* batched wakeups: every 1/32 of the ring, and a drain every 50ms */
		skel->rodata->wakeup_bytes = bpf_map__max_entries(skel->maps.vigil_events) / 32;
		s.drain_ns = DRAIN_NS;
		out_set_columns(stream_cols);
	} else {
		/* nothing is shipped per call: the smallest ring buffer there is */
		bpf_map__set_max_entries(skel->maps.vigil_events, getpagesize());
	}

	err = vigil_session_start(&s, mode == VIGIL_SC_STREAM ? on_event : NULL, NULL);
	if (err)
		goto out;
	started = true;
	out_header();
	err = vigil_session_loop(&s, mode == VIGIL_SC_STREAM ? NULL : on_tick, NULL);
out:
	err = vigil_session_close(&s, err);
	if (started && !err && mode != VIGIL_SC_STREAM && !vigil.broken_pipe)
		err = render(true) < 0 && !vigil.broken_pipe ? VIGIL_EXIT_FAIL : 0;
	if (started && (n = overflow(0) + overflow(1)))
		vigil_warn("%llu syscalls not traced because a kernel map was full",
			   (unsigned long long)n);
	free(table.rows);
	free(prev.rows);
	syscall_bpf__destroy(skel);
	return err;
}

const struct vigil_cmd cmd_syscall = {
	.name = "syscall",
	.run = syscall_run,
	.summary = "trace, count or histogram syscalls (strace, strace -c, syscount in one)",
	.opts = syscall_opts,
	.flags = VC_ROOT | VC_BTF | VC_TRACE,
	.needs = VIGIL_MECH(VIGIL_M_RAW_TP) | VIGIL_MECH(VIGIL_M_TP_BTF) |
		 VIGIL_MECH(VIGIL_M_RINGBUF),
};
