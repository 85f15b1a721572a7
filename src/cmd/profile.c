// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * vigil profile: CPU profiles with kernel and user stacks. A perf_event
 * program samples every CPU (or --cpu) at -F Hz and counts stack pairs in
 * the kernel (bpf/profile.bpf.c); at the end, or every -i, the counts are
 * read, symbolized (core/sym.h) and rendered: the hottest functions, folded
 * stacks, NDJSON of the stacks, a flame graph SVG (core/flame.h).
 * docs/profile.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "core/vigil.h"
#include "core/feature.h"
#include "core/flame.h"
#include "core/metrics.h"
#include "core/opts.h"
#include "core/out.h"
#include "core/perf.h"
#include "core/session.h"
#include "core/sym.h"
#include "profile.skel.h"

#define PROF_FREQ_DEFAULT 99
#define PROF_FREQ_MAX 100000
#define PROF_TOP_DEFAULT 20
#define PROF_FRAME_LEN 256

struct prof_opts {
	uint32_t freq;
	const char *cpus;
	bool folded;
	const char *folded_file;
	const char *svg;
	uint32_t top;
	uint32_t stacks;	/* stack map entries */
	bool kernel_only, user_only, idle;
};

static const struct prof_opts prof_defaults = {
	.freq = PROF_FREQ_DEFAULT, .top = PROF_TOP_DEFAULT, .stacks = 16384,
};

static const struct vigil_opt prof_opts_table[] = {
	VOPT_SECTION("Sampling (default: every CPU at 99 Hz, kernel and user stacks)"),
	{ "frequency", 'F', VO_U32, VOFF(struct prof_opts, freq), "HZ",
	  "samples per second on each CPU", .min = 1, .max = PROF_FREQ_MAX },
	{ "cpu", 0, VO_STR, VOFF(struct prof_opts, cpus), "LIST", "only these CPUs: 0,2-3" },
	{ "kernel-only", 0, VO_FLAG, VOFF(struct prof_opts, kernel_only), NULL, "no user stacks" },
	{ "user-only", 0, VO_FLAG, VOFF(struct prof_opts, user_only), NULL, "no kernel stacks" },
	{ "idle", 0, VO_FLAG, VOFF(struct prof_opts, idle), NULL, "count the idle task too" },
	{ "stack-storage", 0, VO_U32, VOFF(struct prof_opts, stacks), "N",
	  "distinct stacks kept in the kernel (default 16384)", .min = 256, .max = 1u << 20 },
	VOPT_SECTION("Output (default: the hottest functions)"),
	{ "folded", 0, VO_FLAG, VOFF(struct prof_opts, folded), NULL,
	  "folded stacks instead of the table (comm;frame;...;leaf count: flamegraph.pl, inferno)" },
	{ "folded-file", 0, VO_STR, VOFF(struct prof_opts, folded_file), "FILE",
	  "write folded stacks to FILE (with -i: the last interval's)" },
	{ "svg", 0, VO_STR, VOFF(struct prof_opts, svg), "FILE", "write a flame graph to FILE" },
	{ "top", 'n', VO_U32, VOFF(struct prof_opts, top), "N",
	  "functions in the table (0: all; default 20)", .max = 1u << 20 },
	VOPT_END,
};

/* one counted (pid, kernel stack, user stack) of the kernel map, and what was shown */
struct pkey {
	struct vigil_prof_key k;
	uint64_t count, shown;
};

/* a symbolized stack: frames root first, [0] is the comm */
struct pstack {
	uint32_t pid;
	uint32_t nf, nk;	/* frames, and how many of the last are the kernel's */
	uint64_t count;
	char *folded;		/* "comm;f1;...;fn" */
	bool truncated;		/* the user stack does not reach its thread's start */
};

/* a string -> index hash (open addressing, power of two slots) */
struct strmap {
	uint32_t *slot;		/* index + 1, or 0 */
	size_t cap;
};

struct prof_fn {
	char *name;
	bool kernel;
	uint64_t self, total, last_stack;
};

struct prof_priv {
	struct vigil_session s;
	struct profile_bpf *skel;
	struct vigil_perf_links perf;
	struct vigil_symbolizer *sym;
	bool started;
	int ncpu;
	int sampled;		/* CPUs with a perf event */
	struct pkey *keys;
	size_t nkeys, keycap;
	uint64_t stats[VIGIL_PROF_STAT__COUNT];		/* cumulative */
	uint64_t stats_shown[VIGIL_PROF_STAT__COUNT];
	uint64_t truncated_total;
	uint64_t span_start, run_start;
};

static int prof_check(struct vigil_inst *in)
{
	struct prof_opts *o = in->opts;
	FILE *f;

	if (o->kernel_only && o->user_only) {
		vigil_usage_error("'--kernel-only' and '--user-only' exclude each other");
		return VIGIL_EXIT_USAGE;
	}
	if (o->cpus) {
		int max = libbpf_num_possible_cpus();
		bool set[max > 0 ? max : 1];

		if (max <= 0 || vigil_parse_cpulist(o->cpus, set, max)) {
			vigil_usage_error("invalid cpu list '%s': CPUs 0 to %d, as in 0,2-3", o->cpus,
					  max - 1);
			return VIGIL_EXIT_USAGE;
		}
	}
	f = fopen("/proc/sys/kernel/perf_event_max_sample_rate", "re");
	if (f) {
		unsigned int max = 0;

		if (fscanf(f, "%u", &max) == 1 && max && o->freq > max) {
			fclose(f);
			vigil_usage_error("invalid frequency '%u': this kernel allows at most %u Hz "
					  "(kernel.perf_event_max_sample_rate)", o->freq, max);
			return VIGIL_EXIT_USAGE;
		}
		fclose(f);
	}
	return 0;
}

static int on_event(void *ctx, void *data, size_t len)
{
	struct vigil_inst *in = ctx;
	struct prof_priv *p = in->priv;
	const struct vigil_hdr *h = data;

	if (len < sizeof(*h) || h->type != VIGIL_EV_PROFILE_PROC)
		return 0;
	/* now, while it lives: its maps are what names its addresses after it exits */
	vigil_sym_proc_seen(p->sym, h->pid);
	return 0;
}

static int prof_prepare(struct vigil_session *s, void *ctx)
{
	struct vigil_inst *in = ctx;
	struct prof_opts *o = in->opts;
	struct prof_priv *p = in->priv;
	int max = libbpf_num_possible_cpus();
	bool set[max > 0 ? max : 1];
	char why[256] = "";
	int err;

	if (o->cpus)
		vigil_parse_cpulist(o->cpus, set, max);
	err = vigil_perf_attach(&p->perf, p->skel->progs.profile_sample, o->freq,
				o->cpus ? set : NULL, max, why, sizeof(why));
	if (err) {
		vigil_error("cannot sample the CPUs: %s", why);
		return err == EACCES || err == EPERM || err == ENOENT || err == EOPNOTSUPP ?
			VIGIL_EXIT_UNSUPPORTED : VIGIL_EXIT_FAIL;
	}
	s->attached++;
	p->sampled = p->perf.n;
	vigil_debug("sampling %d CPUs at %u Hz", p->perf.n, o->freq);
	return 0;
}

static int prof_start(struct vigil_inst *in)
{
	struct prof_opts *o = in->opts;
	struct prof_priv *p = in->priv;
	int err;

	p->ncpu = libbpf_num_possible_cpus();
	p->sym = vigil_sym_new();
	if (!p->sym)
		return VIGIL_EXIT_FAIL;
	p->skel = profile_bpf__open();
	err = vigil_session_open(&p->s, in, p->skel ? p->skel->skeleton : NULL);
	if (err)
		return err;
	/* one small record per process, not per sample */
	if (!in->c.ringbuf_size)
		bpf_map__set_max_entries(p->skel->maps.vigil_events, 64 * getpagesize());
	/*
	 * The stack map has one stack per bucket, buckets are max_entries rounded
	 * up to a power of two, and a new stack whose bucket is taken is refused:
	 * one entry more doubles the buckets of a power-of-two size (fewer stacks
	 * lost) for 8 bytes per bucket, not another preallocated stack per bucket.
	 */
	bpf_map__set_max_entries(p->skel->maps.prof_stacks, o->stacks + 1);
	bpf_map__set_max_entries(p->skel->maps.prof_counts, o->stacks);
	p->skel->rodata->prof_idle = o->idle;
	p->skel->rodata->prof_no_kernel = o->user_only;
	p->skel->rodata->prof_no_user = o->kernel_only;
	/* perf events are per CPU: attached in prepare, not by the skeleton */
	bpf_program__set_autoattach(p->skel->progs.profile_sample, false);
	p->s.prepare = prof_prepare;
	p->s.prepare_ctx = in;
	err = vigil_session_start(&p->s, on_event, in);
	if (err)
		return err;
	p->started = true;
	p->run_start = p->span_start = vigil_mono_ns();
	return 0;
}

/* ---- collecting ---- */

static int read_stats(struct prof_priv *p)
{
	int fd = bpf_map__fd(p->skel->maps.prof_stats);
	uint64_t v[p->ncpu];

	for (uint32_t i = 0; i < VIGIL_PROF_STAT__COUNT; i++) {
		uint64_t sum = 0;

		if (bpf_map_lookup_elem(fd, &i, v))
			return -1;
		for (int c = 0; c < p->ncpu; c++)
			sum += v[c];
		p->stats[i] = sum;
	}
	return 0;
}

static int key_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct pkey *)a)->k, &((const struct pkey *)b)->k,
		      sizeof(struct vigil_prof_key));
}

/* the kernel's counts into p->keys (sorted by key, counts cumulative) */
static int read_counts(struct prof_priv *p)
{
	int fd = bpf_map__fd(p->skel->maps.prof_counts);
	struct vigil_prof_key key, next, *prev = NULL;
	size_t known = p->nkeys;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		struct pkey probe = { .k = next }, *e;
		uint64_t v;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &v))
			continue;
		e = bsearch(&probe, p->keys, known, sizeof(*p->keys), key_cmp);
		if (e) {
			e->count = v;
			continue;
		}
		if (p->nkeys == p->keycap) {
			size_t cap = p->keycap ? p->keycap * 2 : 1024;
			struct pkey *q = realloc(p->keys, cap * sizeof(*q));

			if (!q)
				return -1;
			p->keys = q;
			p->keycap = cap;
		}
		p->keys[p->nkeys++] = (struct pkey){ .k = key, .count = v };
	}
	qsort(p->keys, p->nkeys, sizeof(*p->keys), key_cmp);
	return 0;
}

static uint64_t str_hash(const char *s, uint32_t pid)
{
	uint64_t h = 1469598103934665603ull ^ pid;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* the index of (pid, s) in the map over v, or where to put it */
static uint32_t *strmap_slot(struct strmap *m, const char *s, uint32_t pid, const char *(*name)(
				     void *v, uint32_t i, uint32_t *pid), void *v)
{
	size_t i = str_hash(s, pid) & (m->cap - 1);

	for (;; i = (i + 1) & (m->cap - 1)) {
		uint32_t epid;

		if (!m->slot[i])
			return &m->slot[i];
		if (!strcmp(name(v, m->slot[i] - 1, &epid), s) && epid == pid)
			return &m->slot[i];
	}
}

static int strmap_init(struct strmap *m, size_t n)
{
	m->cap = 64;
	while (m->cap < n * 2 + 2)
		m->cap *= 2;
	m->slot = calloc(m->cap, sizeof(*m->slot));
	return m->slot ? 0 : -1;
}

struct render {
	struct pstack *st;
	size_t n, cap;
	struct prof_fn *fn;
	size_t nfn, fncap;
	uint64_t samples;	/* in the stacks shown */
	uint64_t truncated;
};

static const char *stack_name(void *v, uint32_t i, uint32_t *pid)
{
	struct render *r = v;

	*pid = r->st[i].pid;
	return r->st[i].folded;
}

static const char *fn_name(void *v, uint32_t i, uint32_t *pid)
{
	struct render *r = v;

	*pid = r->fn[i].kernel;
	return r->fn[i].name;
}

/* where a user stack that reached its thread's beginning ends */
static bool stack_root(const char *name)
{
	static const char *const roots[] = { "_start", "__libc_start_main", "__libc_start_call_main",
					     "start_thread", "clone", "clone3", "__clone",
					     "__clone3", "thread_start", NULL };

	for (int i = 0; roots[i]; i++)
		if (!strcmp(name, roots[i]))
			return true;
	return false;
}

/*
 * A walk that ends in a thread's first function reached the root; one that
 * ends anywhere else lost the chain. libc's start functions are local
 * symbols: without libc's debug file they are an unnamed address in libc.
 */
static bool reached_root(const struct vigil_sym *s)
{
	if (s->name)
		return stack_root(s->name);
	return s->module && (!strncmp(s->module, "libc.so", 7) || !strncmp(s->module, "libc-", 5));
}

static int append(char **buf, size_t *len, size_t *cap, const char *s)
{
	size_t n = strlen(s);

	if (*len + n + 2 > *cap) {
		size_t c = (*cap ? *cap : 256);
		char *q;

		while (*len + n + 2 > c)
			c *= 2;
		q = realloc(*buf, c);
		if (!q)
			return -1;
		*buf = q;
		*cap = c;
	}
	if (*len)
		(*buf)[(*len)++] = ';';
	memcpy(*buf + *len, s, n + 1);
	*len += n;
	return 0;
}

/* one pkey's stacks, symbolized and joined: comm; user root..leaf; kernel root..leaf */
static char *symbolize(struct prof_priv *p, const struct vigil_prof_key *k, uint32_t *nf,
		       uint32_t *nk, bool *truncated)
{
	uint64_t ips[VIGIL_PROF_DEPTH];
	int sfd = bpf_map__fd(p->skel->maps.prof_stacks);
	char comm[VIGIL_COMM_LEN + 1], frame[PROF_FRAME_LEN];
	char *buf = NULL;
	size_t len = 0, cap = 0;
	struct vigil_sym s = { 0 };

	*nf = *nk = 0;
	*truncated = false;
	memcpy(comm, k->comm, VIGIL_COMM_LEN);
	comm[VIGIL_COMM_LEN] = 0;
	s.module = comm;	/* formatted as the name below */
	s.name = comm;
	vigil_sym_format(&s, frame, sizeof(frame));
	if (append(&buf, &len, &cap, frame[0] ? frame : "[unknown]"))
		return NULL;
	(*nf)++;
	if (k->ustack >= 0 && !bpf_map_lookup_elem(sfd, &k->ustack, ips)) {
		int d = 0;

		while (d < VIGIL_PROF_DEPTH && ips[d])
			d++;
		for (int i = d - 1; i >= 0; i--) {
			/* a return address points after its call: name the call */
			vigil_sym_user(p->sym, k->pid, i ? ips[i] - 1 : ips[i], &s);
			vigil_sym_format(&s, frame, sizeof(frame));
			if (i == d - 1)
				*truncated = d == VIGIL_PROF_DEPTH || !reached_root(&s);
			if (append(&buf, &len, &cap, frame))
				goto fail;
			(*nf)++;
		}
	} else if (k->ustack >= 0 || k->ustack < -1) {
		if (append(&buf, &len, &cap, "[missing user stack]"))
			goto fail;
		(*nf)++;
	}
	if (k->kstack >= 0 && !bpf_map_lookup_elem(sfd, &k->kstack, ips)) {
		int d = 0;

		while (d < VIGIL_PROF_DEPTH && ips[d])
			d++;
		for (int i = d - 1; i >= 0; i--) {
			vigil_sym_kernel(p->sym, i ? ips[i] - 1 : ips[i], &s);
			vigil_sym_format(&s, frame, sizeof(frame));
			if (append(&buf, &len, &cap, frame))
				goto fail;
			(*nf)++;
			(*nk)++;
		}
	}
	return buf;
fail:
	free(buf);
	return NULL;
}

static void render_free(struct render *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->st[i].folded);
	for (size_t i = 0; i < r->nfn; i++)
		free(r->fn[i].name);
	free(r->st);
	free(r->fn);
	memset(r, 0, sizeof(*r));
}

/* the frames of a folded string, in place: ';' -> NUL; returns the count */
static uint32_t split(char *s, const char **v, uint32_t max)
{
	uint32_t n = 0;

	v[n++] = s;
	for (; *s && n < max; s++)
		if (*s == ';') {
			*s = 0;
			v[n++] = s + 1;
		}
	return n;
}

/* self and total per function, over the stacks */
static int count_functions(struct render *r)
{
	struct strmap m;
	const char *v[2 * VIGIL_PROF_DEPTH + 4];

	if (strmap_init(&m, 4096))
		return -1;
	for (size_t i = 0; i < r->n; i++) {
		struct pstack *st = &r->st[i];
		char *copy = strdup(st->folded);
		uint32_t n;

		if (!copy)
			goto fail;
		n = split(copy, v, sizeof(v) / sizeof(v[0]));
		for (uint32_t j = 1; j < n; j++) {
			bool kernel = j >= n - st->nk;
			uint32_t *slot;
			struct prof_fn *f;

			if (r->nfn * 2 + 2 > m.cap) {	/* grow: rehash */
				struct strmap g;

				if (strmap_init(&g, r->nfn * 2)) {
					free(copy);
					goto fail;
				}
				for (size_t q = 0; q < r->nfn; q++)
					*strmap_slot(&g, r->fn[q].name, r->fn[q].kernel, fn_name, r) =
						q + 1;
				free(m.slot);
				m = g;
			}
			slot = strmap_slot(&m, v[j], kernel, fn_name, r);
			if (!*slot) {
				if (r->nfn == r->fncap) {
					size_t cap = r->fncap ? r->fncap * 2 : 256;
					struct prof_fn *q = realloc(r->fn, cap * sizeof(*q));

					if (!q) {
						free(copy);
						goto fail;
					}
					r->fn = q;
					r->fncap = cap;
				}
				r->fn[r->nfn] = (struct prof_fn){ .name = strdup(v[j]), .kernel = kernel };
				if (!r->fn[r->nfn].name) {
					free(copy);
					goto fail;
				}
				*slot = ++r->nfn;
			}
			f = &r->fn[*slot - 1];
			/* recursion counts once per stack in total */
			if (f->last_stack != i + 1) {
				f->total += st->count;
				f->last_stack = i + 1;
			}
			if (j == n - 1)
				f->self += st->count;
		}
		free(copy);
	}
	free(m.slot);
	return 0;
fail:
	free(m.slot);
	return -1;
}

/* the stacks counted since the last render (all of them when final) */
static int collect(struct vigil_inst *in, struct render *r, bool final)
{
	struct prof_priv *p = in->priv;
	struct strmap m;

	memset(r, 0, sizeof(*r));
	if (read_stats(p) || read_counts(p))
		return -1;
	if (strmap_init(&m, p->nkeys))
		return -1;
	r->cap = p->nkeys ? p->nkeys : 1;
	r->st = calloc(r->cap, sizeof(*r->st));
	if (!r->st)
		goto fail;
	for (size_t i = 0; i < p->nkeys; i++) {
		struct pkey *e = &p->keys[i];
		uint64_t c = final ? e->count : e->count - e->shown;
		struct pstack *st;
		uint32_t *slot, nf, nk;
		bool trunc;
		char *folded;

		e->shown = e->count;
		if (!c)
			continue;
		folded = symbolize(p, &e->k, &nf, &nk, &trunc);
		if (!folded)
			goto fail;
		r->samples += c;
		if (trunc)
			r->truncated += c;
		slot = strmap_slot(&m, folded, e->k.pid, stack_name, r);
		if (*slot) {
			r->st[*slot - 1].count += c;
			free(folded);
			continue;
		}
		st = &r->st[r->n];
		*st = (struct pstack){ e->k.pid, nf, nk, c, folded, trunc };
		*slot = ++r->n;
	}
	free(m.slot);
	return count_functions(r);
fail:
	free(m.slot);
	render_free(r);
	return -1;
}

/* ---- rendering ---- */

static int fn_cmp(const void *a, const void *b)
{
	const struct prof_fn *x = a, *y = b;

	if (x->self != y->self)
		return x->self > y->self ? -1 : 1;
	if (x->total != y->total)
		return x->total > y->total ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int folded_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pstack *)a)->folded, ((const struct pstack *)b)->folded);
}

/* folded lines, one per distinct text (processes of one comm merge), sorted */
static int write_folded(struct render *r, FILE *f)
{
	qsort(r->st, r->n, sizeof(*r->st), folded_cmp);
	for (size_t i = 0; i < r->n;) {
		uint64_t c = r->st[i].count;
		size_t j = i + 1;

		while (j < r->n && !strcmp(r->st[j].folded, r->st[i].folded))
			c += r->st[j++].count;
		fprintf(f, "%s %llu\n", r->st[i].folded, (unsigned long long)c);
		i = j;
	}
	return ferror(f) ? -1 : 0;
}

static int write_file(const char *path, int (*fn)(struct render *, FILE *, const char *),
		      struct render *r, const char *title)
{
	char tmp[4096];
	FILE *f;
	int err;

	/* a reader sees the old file or the new one, never half of one */
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, getpid());
	f = fopen(tmp, "we");
	if (!f) {
		vigil_error("cannot write '%s': %s", path, strerror(errno));
		return -1;
	}
	err = fn(r, f, title);
	if (fclose(f) || err || rename(tmp, path)) {
		vigil_error("cannot write '%s': %s", path, strerror(errno ? errno : EIO));
		unlink(tmp);
		return -1;
	}
	return 0;
}

static int folded_fn(struct render *r, FILE *f, const char *title)
{
	return write_folded(r, f);
}

static int svg_fn(struct render *r, FILE *f, const char *title)
{
	struct vigil_flame *fl = vigil_flame_new();
	const char *v[2 * VIGIL_PROF_DEPTH + 4];
	bool kern[2 * VIGIL_PROF_DEPTH + 4];
	int err = 0;

	if (!fl)
		return -1;
	for (size_t i = 0; i < r->n && !err; i++) {
		char *copy = strdup(r->st[i].folded);
		uint32_t n;

		if (!copy) {
			err = -1;
			break;
		}
		n = split(copy, v, sizeof(v) / sizeof(v[0]));
		for (uint32_t j = 0; j < n; j++)
			kern[j] = j >= n - r->st[i].nk;
		err = vigil_flame_add(fl, v, kern, n, r->st[i].count);
		free(copy);
	}
	if (!err)
		err = vigil_flame_svg(fl, f, title, "samples");
	vigil_flame_free(fl);
	return err;
}

static void col_pct(const struct vrow *r, char *buf, size_t n, const char *k)
{
	snprintf(buf, n, "%.2f", vrow_u(r, k) * 100.0 / (vrow_u(r, "samples") ?: 1));
}

static void col_self_pct(const struct vrow *r, char *b, size_t n) { col_pct(r, b, n, "self"); }
static void col_total_pct(const struct vrow *r, char *b, size_t n) { col_pct(r, b, n, "total"); }

static const struct vcol prof_cols[] = {
	{ "SELF%", 7, NULL, col_self_pct, true },
	{ "TOTAL%", 7, NULL, col_total_pct, true },
	{ "SELF", 8, "self", NULL, true },
	{ "TOTAL", 8, "total", NULL, true },
	{ "SPACE", 6, "space" },
	{ "FUNCTION", 0, "function" },
	{ 0 },
};

static void put_list(struct vrow *row, const char *key, const char *folded, uint32_t from,
		     uint32_t to, char *buf, size_t cap)
{
	/* frames from..to-1 of folded as a NUL-separated list */
	uint32_t i = 0;
	size_t len = 0;

	for (const char *s = folded; *s && len + 1 < cap; s++) {
		if (*s == ';') {
			if (i >= from && i < to && i + 1 < to)
				buf[len++] = 0;
			i++;
			continue;
		}
		if (i >= from && i < to)
			buf[len++] = *s;
	}
	if (len && len < cap && from < to)
		buf[len++] = 0;
	vrow_strlist(row, key, buf, from < to ? len : 0);
}

static int render(struct vigil_inst *in, bool final)
{
	const struct prof_opts *o = in->opts;
	struct prof_priv *p = in->priv;
	struct vigil_sink *k = in->sink;
	uint64_t now = vigil_boot_ns(), mono = vigil_mono_ns();
	uint64_t span = final ? mono - p->run_start : mono - p->span_start;
	uint64_t d[VIGIL_PROF_STAT__COUNT];
	char iso[40];
	struct render r;
	struct vrow row;
	int err = 0;

	if (collect(in, &r, final)) {
		vigil_error("cannot read the profile's maps: %s", strerror(errno));
		return -1;
	}
	for (int i = 0; i < VIGIL_PROF_STAT__COUNT; i++) {
		d[i] = final ? p->stats[i] : p->stats[i] - p->stats_shown[i];
		p->stats_shown[i] = p->stats[i];
	}
	p->truncated_total += final ? 0 : r.truncated;
	if (final)
		p->truncated_total = r.truncated;
	vigil_iso_time(now, iso, sizeof(iso));
	if (o->folded_file && write_file(o->folded_file, folded_fn, &r, NULL))
		err = -1;
	if (final && o->svg) {
		char title[128];

		snprintf(title, sizeof(title), "vigil profile: %llu samples at %u Hz",
			 (unsigned long long)r.samples, o->freq);
		if (write_file(o->svg, svg_fn, &r, title))
			err = -1;
	}
	if (k->json) {
		size_t cap = 2 * VIGIL_PROF_DEPTH * PROF_FRAME_LEN;
		char *ubuf = malloc(cap), *kbuf = malloc(cap);

		for (size_t i = 0; ubuf && kbuf && i < r.n; i++) {
			const struct pstack *st = &r.st[i];
			char comm[VIGIL_COMM_LEN * 2];
			const char *semi = strchr(st->folded, ';');
			size_t cl = semi ? (size_t)(semi - st->folded) : strlen(st->folded);

			snprintf(comm, sizeof(comm), "%.*s", (int)(cl < sizeof(comm) - 1 ? cl :
								    sizeof(comm) - 1), st->folded);
			vrow_init(&row);
			vrow_str(&row, "type", "profile_stack");
			vrow_u64(&row, "ts", now);
			vrow_str(&row, "time", iso);
			vrow_bool(&row, "final", final);
			vrow_u64(&row, "pid", st->pid);
			vrow_str(&row, "comm", comm);
			vrow_u64(&row, "count", st->count);
			/* leaf first in neither: both lists root first, like the folded line */
			put_list(&row, "ustack", st->folded, 1, st->nf - st->nk, ubuf, cap);
			put_list(&row, "kstack", st->folded, st->nf - st->nk, st->nf, kbuf, cap);
			vrow_bool(&row, "truncated", st->truncated);
			if (out_row(k, &row) < 0) {
				err = -1;
				break;
			}
		}
		free(ubuf);
		free(kbuf);
	}
	if (o->folded && !k->json) {
		if (write_folded(&r, k->f))
			err = -1;
	} else if (!err) {
		size_t lim;

		qsort(r.fn, r.nfn, sizeof(*r.fn), fn_cmp);
		lim = o->top && o->top < r.nfn ? o->top : r.nfn;
		out_set_columns(k, prof_cols);
		if (!k->json) {
			out_text(k, "\n%s: %llu samples at %u Hz, %zu distinct stacks\n",
				 final ? "total" : "last interval", (unsigned long long)r.samples,
				 o->freq, r.n);
			k->header_done = false;
			out_header(k);
		}
		for (size_t i = 0; i < lim; i++) {
			vrow_init(&row);
			vrow_str(&row, "type", "profile_function");
			vrow_u64(&row, "ts", now);
			vrow_str(&row, "time", iso);
			vrow_bool(&row, "final", final);
			vrow_str(&row, "function", r.fn[i].name);
			vrow_str(&row, "space", r.fn[i].kernel ? "kernel" : "user");
			vrow_u64(&row, "self", r.fn[i].self);
			vrow_u64(&row, "total", r.fn[i].total);
			vrow_u64(&row, "samples", r.samples);
			if (out_row(k, &row) < 0) {
				err = -1;
				break;
			}
		}
	}
	/* the summary: what was sampled and what could not be */
	vrow_init(&row);
	vrow_str(&row, "type", "profile");
	vrow_u64(&row, "ts", now);
	vrow_str(&row, "time", iso);
	vrow_bool(&row, "final", final);
	vrow_u64(&row, "span_ns", span);
	vrow_u64(&row, "frequency", o->freq);
	vrow_u64(&row, "cpus", p->sampled);
	vrow_u64(&row, "samples", d[VIGIL_PROF_SAMPLES]);
	vrow_u64(&row, "idle_samples", d[VIGIL_PROF_IDLE]);
	vrow_u64(&row, "stacks", r.n);
	vrow_u64(&row, "kernel_stack_errors", d[VIGIL_PROF_KSTACK_ERR]);
	vrow_u64(&row, "user_stack_errors", d[VIGIL_PROF_USTACK_ERR]);
	vrow_u64(&row, "counts_full", d[VIGIL_PROF_COUNTS_FULL]);
	vrow_u64(&row, "truncated", r.truncated);
	vrow_u64(&row, "processes", vigil_sym_procs(p->sym));
	if (k->json) {
		if (out_row(k, &row) < 0)
			err = -1;
	} else if (!o->folded) {
		vigil_info("%s: %llu samples, %llu with a user stack that does not reach its start "
			   "(truncated), %llu kernel and %llu user stacks not taken, %llu not counted "
			   "(map full)", in->name,
			(unsigned long long)d[VIGIL_PROF_SAMPLES], (unsigned long long)r.truncated,
			(unsigned long long)d[VIGIL_PROF_KSTACK_ERR],
			(unsigned long long)d[VIGIL_PROF_USTACK_ERR],
			(unsigned long long)d[VIGIL_PROF_COUNTS_FULL]);
	}
	render_free(&r);
	p->span_start = mono;
	if (out_flush(k))
		err = -1;
	return err;
}

static int prof_tick(struct vigil_inst *in)
{
	return render(in, false);
}

static int prof_stop(struct vigil_inst *in, int err)
{
	struct prof_priv *p = in->priv;

	/* no new samples: the counts are final */
	vigil_perf_detach(&p->perf);
	if (p->s.in)
		err = vigil_session_close(&p->s, err);
	if (p->started && !err && !in->sink->broken_pipe && render(in, true) < 0 &&
	    !in->sink->broken_pipe)
		err = VIGIL_EXIT_FAIL;
	profile_bpf__destroy(p->skel);
	p->skel = NULL;
	vigil_sym_free(p->sym);
	p->sym = NULL;
	free(p->keys);
	p->keys = NULL;
	p->nkeys = p->keycap = 0;
	return err;
}

static int prof_sessions(struct vigil_inst *in, struct vigil_session **out, int max)
{
	struct prof_priv *p = in->priv;

	out[0] = &p->s;
	return max > 0 && p->started ? 1 : 0;
}

static void prof_metrics(struct vigil_inst *in, struct vigil_metrics *m)
{
	static const struct { const char *name, *help; int stat; } fams[] = {
		{ "vigil_profile_samples_total", "CPU samples that passed the filters",
		  VIGIL_PROF_SAMPLES },
		{ "vigil_profile_kernel_stack_errors_total", "kernel stacks not taken (map full)",
		  VIGIL_PROF_KSTACK_ERR },
		{ "vigil_profile_user_stack_errors_total", "user stacks not taken",
		  VIGIL_PROF_USTACK_ERR },
		{ "vigil_profile_counts_full_total", "samples not counted: the counts map was full",
		  VIGIL_PROF_COUNTS_FULL },
	};
	struct prof_priv *p = in->priv;
	const char *l[] = { "feature", in->name, NULL };

	if (!p->started || read_stats(p))
		return;
	for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
		vm_family(m, fams[f].name, "counter", fams[f].help);
		vm_u64(m, p->stats[fams[f].stat], l);
	}
	vm_family(m, "vigil_profile_truncated_total",
		  "counter", "samples whose user stack did not reach its thread's start");
	vm_u64(m, p->truncated_total, l);
}

static const struct vigil_feature feat_profile = {
	.name = "profile",
	.opts = prof_opts_table,
	.opts_size = sizeof(struct prof_opts),
	.opts_default = &prof_defaults,
	.priv_size = sizeof(struct prof_priv),
	.check = prof_check,
	.start = prof_start,
	.tick = prof_tick,
	.stop = prof_stop,
	.sessions = prof_sessions,
	.metrics = prof_metrics,
};

const struct vigil_cmd cmd_profile = {
	.name = "profile",
	.summary = "CPU profiles: sampled kernel and user stacks, folded stacks, a flame graph",
	.flags = VC_ROOT | VC_BTF | VC_TRACE,
	.needs = VIGIL_MECH(VIGIL_M_TP_BTF) | VIGIL_MECH(VIGIL_M_PERF_EVENT),
	.feature = &feat_profile,
};
