// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * vigil disk: block I/O per request (biosnoop), latency histograms per disk
 * and operation (biolatency), request sizes per process (bitesize) and the
 * processes moving the most bytes (biotop). The issuer is captured where the
 * kernel runs in its context, when the request is queued; the request is
 * joined at completion. docs/disk.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include "core/vigil.h"
#include "core/opts.h"
#include "core/out.h"
#include "core/session.h"
#include "core/feature.h"
#include "core/metrics.h"
#include "core/names.h"
#include "core/hist.h"
#include "cmd/disk.h"
#include "disk.skel.h"

enum { DISK_STREAM = 0, DISK_HIST = 1, DISK_SIZES = 2, DISK_TOP = 3 };

#define DISK_TICK_NS 1000000000ull		/* the stale sweep's period without -i */
#define DISK_STALE_DEFAULT (60 * 1000000000ull)
#define DISK_MAX_INFLIGHT_DEFAULT 16384
#define DISK_MAX_ROWS_DEFAULT 8192
#define DISK_NAMES 64

struct disk_opts {
	bool hist, per_disk, per_op, queued, sizes, top;
	uint32_t rows, max_inflight, max_rows;
	uint64_t stale_ns;
	const char *disk;
	uint32_t ops;
	const char *mechanism;
	bool no_trigger;	/* test knob: the start-up check sees nothing */
	bool user_interval;	/* -i was given (set by check: the core fills a default) */
};

static const struct disk_opts disk_defaults = {
	.rows = 20, .max_inflight = DISK_MAX_INFLIGHT_DEFAULT, .max_rows = DISK_MAX_ROWS_DEFAULT,
	.stale_ns = DISK_STALE_DEFAULT,
};

struct disk_name {
	uint32_t dev;
	char name[VIGIL_DISK_NAME_LEN];
};

/* a row of --hist, --sizes or the summary, summed over CPUs */
struct disk_row {
	struct vigil_disk_key key;	/* --sizes: key.dev is the pid */
	struct vigil_disk_stat st;
	uint64_t slots[VIGIL_HIST_SLOTS];
	uint64_t sum;
	char comm[VIGIL_COMM_LEN];
};

struct disk_table {
	struct disk_row *rows;
	size_t n, cap;
};

struct disk_top_row {
	struct vigil_disk_top_key key;
	struct vigil_disk_top_val v;
};

struct disk_priv {
	struct vigil_session s;
	struct disk_bpf *skel;
	bool started, user_interval;
	int mode;
	char mm[24];		/* row_dev's "major:minor", for the row being made */
	uint32_t want_dev;
	char trigger_dev[PATH_MAX];
	struct disk_name names[DISK_NAMES];
	int nnames;
	struct disk_table cur, prev;	/* histograms: this tick and the last shown */
	struct disk_top_row *top;
	size_t ntop, captop;
	uint64_t expired, events, run_start, span_start;
	int ncpu;
};

static int opt_ops(void *base, const char *arg)
{
	char bad[32];

	if (disk_parse_ops(arg, &((struct disk_opts *)base)->ops, bad, sizeof(bad))) {
		vigil_usage_error("invalid operation '%s': read, write, flush, discard or other, "
				  "comma-separated", bad);
		return -1;
	}
	return 0;
}

static int opt_mechanism(void *base, const char *arg)
{
	((struct disk_opts *)base)->mechanism = arg;
	return 0;
}

#define F(f) VOFF(struct disk_opts, f)

static const struct vigil_opt disk_opts_tab[] = {
	VOPT_SECTION("Modes (default: one line per completed request, like biosnoop)"),
	{ "hist", 0, VO_FLAG, F(hist), NULL, "log2 latency histograms (biolatency)" },
	{ "disks", 'D', VO_FLAG, F(per_disk), NULL, "with --hist: one histogram per disk" },
	{ "flags", 'F', VO_FLAG, F(per_op), NULL,
	  "with --hist: one histogram per operation (read, write, flush, ...)" },
	{ "queued", 'Q', VO_FLAG, F(queued), NULL,
	  "with --hist: from queued to completed (default: issued to completed)" },
	{ "sizes", 0, VO_FLAG, F(sizes), NULL, "log2 histograms of request size per process (bitesize)" },
	{ "top", 0, VO_FLAG, F(top), NULL, "processes by bytes per interval (biotop)" },
	{ "rows", 'n', VO_U32, F(rows), "N", "with --top: only the first N rows (0: all; default 20)" },
	VOPT_SECTION("Filters (in the kernel)"),
	{ "disk", 0, VO_STR, F(disk), "NAME", "only this disk, as in /sys/block (sda, nvme0n1, loop0)" },
	{ "op", 0, VO_FUNC, 0, "OP[,OP]", "only these operations: read, write, flush, discard, other",
	  opt_ops },
	VOPT_SECTION("Limits"),
	{ "max-inflight", 0, VO_U32, F(max_inflight), "N",
	  "requests in flight the kernel remembers (default 16384; the oldest are pushed out)",
	  .min = 64, .max = 1u << 20 },
	{ "max-rows", 0, VO_U32, F(max_rows), "N",
	  "rows of --top and --sizes the kernel keeps (default 8192)", .min = 1, .max = 1u << 18 },
	{ "stale", 0, VO_DURATION, F(stale_ns), "DUR",
	  "forget requests not completed after DUR (default 60s)", .min = 1000000000ull },
	{ "mechanism", 0, VO_FUNC, 0, "NAME",
	  "auto (default: tp_btf where block_io_start exists, else tracepoint), tp_btf or tracepoint",
	  opt_mechanism },
	{ "test-skip-self-check", 0, VO_FLAG, F(no_trigger), NULL,
	  "make no start-up I/O, so no mechanism is seen to run", .hidden = true },
	VOPT_END,
};

/* ---- disks: names and numbers ------------------------------------------------ */

static uint32_t kdev(unsigned int major, unsigned int minor)
{
	return (major << 20) | minor;
}

/* /sys/block/NAME/dev ("7:0") -> the kernel encoding; 0 when NAME is no whole disk */
static uint32_t disk_dev_of(const char *name)
{
	char path[PATH_MAX];
	unsigned int ma, mi;
	FILE *f;
	int n;

	if (!*name || strchr(name, '/') || snprintf(path, sizeof(path), "/sys/block/%s/dev", name) >=
	    (int)sizeof(path))
		return 0;
	f = fopen(path, "re");
	if (!f)
		return 0;
	n = fscanf(f, "%u:%u", &ma, &mi);
	fclose(f);
	return n == 2 ? kdev(ma, mi) : 0;
}

static const char *disk_name(struct disk_priv *p, uint32_t dev)
{
	char link[64], target[PATH_MAX];
	struct disk_name *d;
	ssize_t n;
	int i;

	for (i = 0; i < p->nnames; i++)
		if (p->names[i].dev == dev)
			return p->names[i].name;
	/* a full cache is reused from the start: names rarely change */
	d = &p->names[p->nnames < DISK_NAMES ? (uint32_t)p->nnames++ : dev % DISK_NAMES];
	d->dev = dev;
	snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", dev >> 20, dev & 0xfffff);
	n = readlink(link, target, sizeof(target) - 1);
	if (n > 0) {
		const char *b;

		target[n] = 0;
		b = strrchr(target, '/');
		snprintf(d->name, sizeof(d->name), "%.31s", b ? b + 1 : target);
	} else {
		snprintf(d->name, sizeof(d->name), "%u:%u", dev >> 20, dev & 0xfffff);
	}
	return d->name;
}

/*
 * A disk vigil can read from for its start-up check: --disk, else the first
 * whole disk with a request queue (blk-mq: /sys/block/X/mq) and a size.
 */
static int find_trigger_dev(const char *want, char *path, size_t n)
{
	char p[PATH_MAX];
	struct dirent *de;
	unsigned long long size;
	struct stat st;
	DIR *d;
	FILE *f;
	int found = -ENODEV;

	d = opendir("/sys/block");
	if (!d)
		return -errno;
	while (found && (de = readdir(d))) {
		if (de->d_name[0] == '.' || (want && strcmp(want, de->d_name)))
			continue;
		snprintf(p, sizeof(p), "/sys/block/%s/mq", de->d_name);
		if (stat(p, &st))
			continue;
		snprintf(p, sizeof(p), "/sys/block/%s/size", de->d_name);
		f = fopen(p, "re");
		if (!f)
			continue;
		if (fscanf(f, "%llu", &size) != 1)
			size = 0;
		fclose(f);
		if (size < 8)
			continue;
		snprintf(path, n, "/dev/%s", de->d_name);
		if (!stat(path, &st) && S_ISBLK(st.st_mode))
			found = 0;
	}
	closedir(d);
	return found;
}

/* ---- the two ways in (docs/disk.md, "Mechanisms") ------------------------------ */

static const char *const btf_progs[] = {
	"disk_io_start", "disk_rq_issue_btf", "disk_rq_complete_btf", NULL,
};
static const char *const tp_progs[] = {
	"disk_bio_queue", "disk_rq_issue_tp", "disk_rq_complete_tp", NULL,
};
static const char *const btf_seen[] = {
	"block:block_io_start", "block:block_rq_issue", "block:block_rq_complete", NULL,
};
static const char *const tp_seen[] = {
	"block:block_bio_queue", "block:block_rq_issue", "block:block_rq_complete", NULL,
};

static const struct vigil_mech_path paths[] = {
	{ "tp_btf", VIGIL_M_TP_BTF, "block_io_start, block_rq_issue, block_rq_complete (request pointer)",
	  btf_progs, btf_seen, false },
	{ "tracepoint", VIGIL_M_TRACEPOINT,
	  "block:block_bio_queue, block_rq_issue, block_rq_complete (disk and sector)",
	  tp_progs, tp_seen, true },
};

static struct bpf_object_skeleton *disk_open(struct vigil_inst *in, const struct vigil_mech_path *path)
{
	const struct disk_opts *o = in->opts;
	struct disk_priv *p = in->priv;
	struct disk_bpf *skel;

	(void)path;
	skel = p->skel = disk_bpf__open();
	if (!skel)
		return NULL;
	skel->rodata->disk_mode = p->mode;
	skel->rodata->self_tgid = getpid();
	skel->rodata->want_dev = p->want_dev;
	skel->rodata->want_ops = o->ops;
	skel->rodata->hist_per_disk = o->per_disk;
	skel->rodata->hist_per_op = o->per_op;
	skel->rodata->hist_queued = o->queued;
	bpf_map__set_max_entries(skel->maps.disk_reqs, o->max_inflight);
	/* maps a mode does not use still cost memory */
	bpf_map__set_max_entries(skel->maps.disk_hists, p->mode == DISK_HIST ? 1024 : 1);
	bpf_map__set_max_entries(skel->maps.disk_sizes, p->mode == DISK_SIZES ? o->max_rows : 1);
	bpf_map__set_max_entries(skel->maps.disk_top, p->mode == DISK_TOP ? o->max_rows : 1);
	if (p->mode != DISK_STREAM)
		bpf_map__set_max_entries(skel->maps.vigil_events, getpagesize());
	return skel->skeleton;
}

static void disk_destroy(struct vigil_inst *in)
{
	struct disk_priv *p = in->priv;

	disk_bpf__destroy(p->skel);
	p->skel = NULL;
}

/* one direct read of the first sector by vigil itself: queued, issued, completed */
static void disk_trigger(struct vigil_inst *in)
{
	const struct disk_opts *o = in->opts;
	struct disk_priv *p = in->priv;
	void *buf;
	int fd;

	if (o->no_trigger)
		return;
	if (!p->trigger_dev[0] &&
	    find_trigger_dev(o->disk, p->trigger_dev, sizeof(p->trigger_dev))) {
		vigil_debug("disk: no disk with a request queue to check the hooks on");
		return;
	}
	fd = open(p->trigger_dev, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0) {
		vigil_debug("disk: self-check: cannot open '%s': %s", p->trigger_dev, strerror(errno));
		return;
	}
	if (!posix_memalign(&buf, 4096, 4096)) {
		if (pread(fd, buf, 4096, 0) < 0)
			vigil_debug("disk: self-check: read of '%s' failed: %s", p->trigger_dev,
				    strerror(errno));
		free(buf);
	}
	close(fd);
}

static const struct vigil_mech_plan plan = {
	.paths = paths,
	.npaths = sizeof(paths) / sizeof(paths[0]),
	.open = disk_open,
	.destroy = disk_destroy,
	.trigger = disk_trigger,
};

/* ---- stream ------------------------------------------------------------------ */

static void col_op(const struct vrow *r, char *buf, size_t n)
{
	snprintf(buf, n, "%s%s%s", vrow_s(r, "op"), *vrow_s(r, "flags") ? "," : "",
		 vrow_s(r, "flags"));
}

static void col_ms(const struct vrow *r, char *buf, size_t n, const char *key)
{
	snprintf(buf, n, "%.3f", (double)vrow_u(r, key) / 1e6);
}

static void col_que(const struct vrow *r, char *buf, size_t n) { col_ms(r, buf, n, "queue_ns"); }
static void col_lat(const struct vrow *r, char *buf, size_t n) { col_ms(r, buf, n, "device_ns"); }

static void col_err(const struct vrow *r, char *buf, size_t n)
{
	const struct vfield *f = vrow_get(r, "errno");

	snprintf(buf, n, "%s", f ? f->s : "-");
}

static const struct vcol stream_cols[] = {
	VCOL_TIME,
	{ "PID", 7, "pid", NULL, true },
	{ "COMM", 16, "comm" },
	{ "DISK", 8, "disk" },
	{ "OP", 10, NULL, col_op },
	{ "SECTOR", 12, "sector", NULL, true },
	{ "BYTES", 8, "bytes", NULL, true },
	{ "QUE(ms)", 8, NULL, col_que, true },
	{ "LAT(ms)", 8, NULL, col_lat, true },
	{ "ERR", 0, NULL, col_err },
	{ 0 },
};

/* a row keeps pointers: the "major:minor" text lives in p until the row is out,
 * and every caller renders its row before it makes the next */
static void row_dev(struct disk_priv *p, struct vrow *r, uint32_t dev)
{
	snprintf(p->mm, sizeof(p->mm), "%u:%u", dev >> 20, dev & 0xfffff);
	vrow_str(r, "disk", disk_name(p, dev));
	vrow_str(r, "dev", p->mm);
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct vigil_inst *in = ctx;
	struct disk_priv *p = in->priv;
	const struct vigil_disk_event *e = data;
	char flags[8];
	struct vrow r;

	if (size < sizeof(*e) || e->h.type != VIGIL_EV_DISK)
		return 0;
	p->events++;
	disk_flag_str(e->flags, flags, sizeof(flags));
	vrow_init(&r);
	vrow_hdr(&r, "disk", &e->h);
	vrow_bool(&r, "issuer_known", !(e->flags & VIGIL_DISK_F_NOISSUER));
	row_dev(p, &r, e->dev);
	vrow_str(&r, "op", disk_op_name(e->op));
	vrow_str(&r, "flags", flags);
	vrow_bool(&r, "sync", e->flags & VIGIL_DISK_F_SYNC);
	vrow_bool(&r, "meta", e->flags & VIGIL_DISK_F_META);
	vrow_u64(&r, "sector", e->sector);
	vrow_u64(&r, "bytes", e->bytes);
	vrow_u64(&r, "queue_ns", e->queue_ns);
	vrow_u64(&r, "device_ns", e->dev_ns);
	vrow_u64(&r, "latency_ns", e->queue_ns + e->dev_ns);
	vrow_s64(&r, "error", e->error);
	if (e->error)
		vrow_str(&r, "errno", vigil_errno_name(-e->error));
	return out_row(in->sink, &r);
}

/* ---- collect: per-CPU hash maps summed into rows -------------------------------- */

static struct disk_row *table_add(struct disk_table *t)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct disk_row *n = realloc(t->rows, cap * sizeof(*n));

		if (!n)
			return NULL;
		t->rows = n;
		t->cap = cap;
	}
	memset(&t->rows[t->n], 0, sizeof(t->rows[0]));
	return &t->rows[t->n++];
}

static struct disk_row *table_find(struct disk_table *t, const struct vigil_disk_key *k)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->rows[i].key.dev == k->dev && t->rows[i].key.op == k->op)
			return &t->rows[i];
	return NULL;
}

/* the cumulative stats (and histograms in --hist) into t */
static int collect(struct disk_priv *p, struct disk_table *t)
{
	int sfd = bpf_map__fd(p->skel->maps.disk_stats), hfd = bpf_map__fd(p->skel->maps.disk_hists);
	struct vigil_disk_key key, next, *prev = NULL;
	size_t vs = sizeof(struct vigil_disk_hist);
	struct vigil_disk_stat *sv;
	struct vigil_disk_hist *hv;
	int err = 0;

	t->n = 0;
	sv = calloc(p->ncpu, sizeof(*sv));
	hv = calloc(p->ncpu, vs);
	if (!sv || !hv) {
		err = -ENOMEM;
		goto out;
	}
	while (bpf_map_get_next_key(p->mode == DISK_HIST ? hfd : sfd, prev, &next) == 0) {
		struct disk_row *r;

		key = next;
		prev = &key;
		r = table_add(t);
		if (!r) {
			err = -ENOMEM;
			goto out;
		}
		r->key = key;
		if (p->mode == DISK_HIST) {
			if (bpf_map_lookup_elem(hfd, &key, hv)) {
				t->n--;
				continue;
			}
			for (int c = 0; c < p->ncpu; c++) {
				vhist_merge(r->slots, (const uint64_t *)hv[c].slots);
				r->sum += hv[c].sum;
			}
			r->st.requests = vhist_count(r->slots);
		} else {
			if (bpf_map_lookup_elem(sfd, &key, sv)) {
				t->n--;
				continue;
			}
			for (int c = 0; c < p->ncpu; c++) {
				r->st.requests += sv[c].requests;
				r->st.bytes += sv[c].bytes;
				r->st.errors += sv[c].errors;
				r->st.lat_ns += sv[c].lat_ns;
			}
		}
	}
out:
	free(sv);
	free(hv);
	return err;
}

static int collect_sizes(struct disk_priv *p, struct disk_table *t)
{
	int fd = bpf_map__fd(p->skel->maps.disk_sizes);
	struct vigil_disk_size_val v;
	__u32 key, next, *prev = NULL;

	t->n = 0;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		struct disk_row *r;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &v))
			continue;
		r = table_add(t);
		if (!r)
			return -ENOMEM;
		r->key.dev = key;
		memcpy(r->slots, v.slots, sizeof(r->slots));
		r->sum = v.sum;
		r->st.requests = vhist_count(r->slots);
		memcpy(r->comm, v.comm, sizeof(r->comm));
		r->comm[VIGIL_COMM_LEN - 1] = 0;
	}
	return 0;
}

/* this interval's histogram: cur minus what was shown last (cur is cumulative) */
static void table_delta(struct disk_table *cur, const struct disk_table *prev)
{
	for (size_t i = 0; i < cur->n; i++) {
		struct disk_row *r = &cur->rows[i];
		const struct disk_row *o = table_find((struct disk_table *)prev, &r->key);

		if (!o)
			continue;
		for (int s = 0; s < VIGIL_HIST_SLOTS; s++)
			r->slots[s] -= o->slots[s];
		r->sum -= o->sum;
		r->st.requests -= o->st.requests;
		r->st.bytes -= o->st.bytes;
		r->st.errors -= o->st.errors;
		r->st.lat_ns -= o->st.lat_ns;
	}
}

static int table_copy(struct disk_table *dst, const struct disk_table *src)
{
	if (dst->cap < src->n) {
		struct disk_row *n = realloc(dst->rows, src->n * sizeof(*n));

		if (!n)
			return -ENOMEM;
		dst->rows = n;
		dst->cap = src->n;
	}
	if (src->n)
		memcpy(dst->rows, src->rows, src->n * sizeof(*dst->rows));
	dst->n = src->n;
	return 0;
}

static uint64_t drops(struct disk_priv *p, uint32_t which)
{
	uint64_t v[p->ncpu], total = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(p->skel->maps.disk_drops), &which, v))
		return 0;
	for (int c = 0; c < p->ncpu; c++)
		total += v[c];
	return total;
}

/* requests that never completed: forget them after --stale (a removed device) */
static void sweep(struct vigil_inst *in)
{
	const struct disk_opts *o = in->opts;
	struct disk_priv *p = in->priv;
	int fd = bpf_map__fd(p->skel->maps.disk_reqs);
	struct vigil_disk_rkey key, next, *prev = NULL;
	struct vigil_disk_req r;
	uint64_t now = vigil_boot_ns();

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &r))
			continue;
		if (r.start_ns + o->stale_ns < now && !bpf_map_delete_elem(fd, &key))
			p->expired++;
	}
}

/* ---- render: histograms, sizes, top, the summary -------------------------------- */

static void col_hist(const struct vrow *r, char *buf, size_t n)
{
	const struct vfield *pid = vrow_get(r, "pid");
	char head[192], a[24], p50[24], p90[24], p99[24];
	size_t o;

	if (pid) {
		char comm[64];

		vigil_term_escape(vrow_s(r, "comm"), VIGIL_COMM_LEN, comm, sizeof(comm));
		snprintf(head, sizeof(head), "pid = %llu  comm = %s  (%llu requests, avg %llu bytes)",
			 (unsigned long long)pid->u, comm, (unsigned long long)vrow_u(r, "count"),
			 (unsigned long long)vrow_u(r, "avg"));
	} else {
		vigil_fmt_duration(vrow_u(r, "avg_ns"), a, sizeof(a));
		vigil_fmt_duration(vrow_u(r, "p50_ns"), p50, sizeof(p50));
		vigil_fmt_duration(vrow_u(r, "p90_ns"), p90, sizeof(p90));
		vigil_fmt_duration(vrow_u(r, "p99_ns"), p99, sizeof(p99));
		snprintf(head, sizeof(head), "disk = %s  op = %s  (%llu requests)  avg %s  p50 %s  "
			 "p90 %s  p99 %s", vrow_s(r, "disk"), vrow_s(r, "op"),
			 (unsigned long long)vrow_u(r, "count"), a, p50, p90, p99);
	}
	o = snprintf(buf, n, "\n%s\n", head);
	if (o < n) {
		FILE *m = fmemopen(buf + o, n - o, "w");

		if (m) {
			vhist_print(m, vrow_need(r, "buckets", VF_HIST)->hist.slots,
				    pid ? "bytes" : "nsecs");
			fclose(m);
		}
	}
}

static const struct vcol hist_cols[] = { { "", 0, NULL, col_hist, false, true }, { 0 } };

static void col_kb(const struct vrow *r, char *buf, size_t n, const char *key)
{
	snprintf(buf, n, "%llu", (unsigned long long)(vrow_u(r, key) / 1024));
}

static void col_rkb(const struct vrow *r, char *buf, size_t n) { col_kb(r, buf, n, "rbytes"); }
static void col_wkb(const struct vrow *r, char *buf, size_t n) { col_kb(r, buf, n, "wbytes"); }
static void col_avgms(const struct vrow *r, char *buf, size_t n) { col_ms(r, buf, n, "avg_ns"); }

static const struct vcol top_cols[] = {
	{ "PID", 7, "pid", NULL, true },
	{ "COMM", 16, "comm" },
	{ "DISK", 8, "disk" },
	{ "READS", 7, "reads", NULL, true },
	{ "WRITES", 7, "writes", NULL, true },
	{ "R_KB", 9, NULL, col_rkb, true },
	{ "W_KB", 9, NULL, col_wkb, true },
	{ "AVG(ms)", 0, NULL, col_avgms, true },
	{ 0 },
};

static void row_time(struct vrow *r, uint64_t now, const char *iso, bool final)
{
	vrow_u64(r, "ts", now);
	vrow_str(r, "time", iso);
	vrow_bool(r, "final", final);
}

static int render_hists(struct vigil_inst *in, struct disk_table *t, uint64_t now,
			const char *iso, bool final)
{
	struct disk_priv *p = in->priv;
	struct vrow r;

	for (size_t i = 0; i < t->n; i++) {
		struct disk_row *d = &t->rows[i];
		uint64_t n = d->st.requests;

		if (!n && !final)
			continue;
		vrow_init(&r);
		if (p->mode == DISK_SIZES) {
			vrow_str(&r, "type", "disk_sizes");
			row_time(&r, now, iso, final);
			vrow_u64(&r, "pid", d->key.dev);
			vrow_str(&r, "comm", d->comm);
			vrow_str(&r, "unit", "bytes");
			vrow_u64(&r, "count", n);
			vrow_u64(&r, "bytes", d->sum);
			vrow_u64(&r, "avg", n ? d->sum / n : 0);
			vrow_hist(&r, "buckets", d->slots, "bytes");
		} else {
			vrow_str(&r, "type", "disk_hist");
			row_time(&r, now, iso, final);
			if (d->key.dev)
				row_dev(p, &r, d->key.dev);
			else
				vrow_str(&r, "disk", "all");
			vrow_str(&r, "op", disk_op_name(d->key.op));
			vrow_str(&r, "unit", "ns");
			vrow_u64(&r, "count", n);
			vrow_u64(&r, "avg_ns", n ? d->sum / n : 0);
			vrow_u64(&r, "p50_ns", disk_hist_quantile(d->slots, 0.50));
			vrow_u64(&r, "p90_ns", disk_hist_quantile(d->slots, 0.90));
			vrow_u64(&r, "p99_ns", disk_hist_quantile(d->slots, 0.99));
			vrow_hist(&r, "buckets", d->slots, "nsecs");
		}
		if (out_row(in->sink, &r) < 0)
			return -1;
	}
	return 0;
}

static int top_cmp(const void *a, const void *b)
{
	const struct disk_top_row *x = a, *y = b;
	uint64_t vx = x->v.rbytes + x->v.wbytes, vy = y->v.rbytes + y->v.wbytes;

	if (vx != vy)
		return vx > vy ? -1 : 1;
	return x->key.pid < y->key.pid ? -1 : x->key.pid > y->key.pid;
}

/* the interval's rows, read and removed from the kernel's map */
static int collect_top(struct disk_priv *p)
{
	int fd = bpf_map__fd(p->skel->maps.disk_top);
	struct vigil_disk_top_key key, next, *prev = NULL;
	struct vigil_disk_top_val v;

	p->ntop = 0;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &v))
			continue;
		if (p->ntop == p->captop) {
			size_t cap = p->captop ? p->captop * 2 : 64;
			struct disk_top_row *n = realloc(p->top, cap * sizeof(*n));

			if (!n)
				return -ENOMEM;
			p->top = n;
			p->captop = cap;
		}
		p->top[p->ntop].key = key;
		p->top[p->ntop++].v = v;
	}
	/* a row is removed, then counted anew: what lands in between is the next interval's */
	for (size_t i = 0; i < p->ntop; i++) {
		struct vigil_disk_top_val last;

		if (!bpf_map_lookup_and_delete_elem(fd, &p->top[i].key, &last))
			p->top[i].v = last;
	}
	qsort(p->top, p->ntop, sizeof(*p->top), top_cmp);
	return 0;
}

static int render_top(struct vigil_inst *in, uint64_t now, const char *iso)
{
	const struct disk_opts *o = in->opts;
	struct disk_priv *p = in->priv;
	size_t n = o->rows && o->rows < p->ntop ? o->rows : p->ntop;
	struct vrow r;

	for (size_t i = 0; i < n; i++) {
		const struct disk_top_row *t = &p->top[i];
		uint64_t reqs = t->v.reads + t->v.writes;

		vrow_init(&r);
		vrow_str(&r, "type", "disk_top");
		row_time(&r, now, iso, false);
		vrow_u64(&r, "pid", t->key.pid);
		vrow_str(&r, "comm", t->key.pid ? t->v.comm : "[no issuer]");
		vrow_u64(&r, "cgroup_id", t->v.cgroup_id);
		row_dev(p, &r, t->key.dev);
		vrow_u64(&r, "reads", t->v.reads);
		vrow_u64(&r, "writes", t->v.writes);
		vrow_u64(&r, "rbytes", t->v.rbytes);
		vrow_u64(&r, "wbytes", t->v.wbytes);
		vrow_u64(&r, "avg_ns", reqs ? t->v.lat_ns / reqs : 0);
		if (out_row(in->sink, &r) < 0)
			return -1;
	}
	return 0;
}

/* per disk and op over the run: what was counted and what could not be */
static int render_summary(struct vigil_inst *in, uint64_t now, const char *iso)
{
	struct disk_priv *p = in->priv;
	struct vigil_sink *k = in->sink;
	struct disk_table t = { 0 };
	int mode = p->mode, err = 0;
	uint64_t unmatched = drops(p, VIGIL_DISK_DROP_UNMATCHED), full = drops(p, VIGIL_DISK_DROP_TOPFULL);
	struct vrow r;

	p->mode = DISK_STREAM;	/* collect() reads the stats map */
	err = collect(p, &t);
	p->mode = mode;
	if (err)
		goto out;
	if (!k->json) {
		out_text(k, "\nsummary:\n");
		for (size_t i = 0; i < t.n; i++)
			out_text(k, "  %-10s %-8s %8llu requests %12llu bytes %6llu errors\n",
				 disk_name(p, t.rows[i].key.dev), disk_op_name(t.rows[i].key.op),
				 (unsigned long long)t.rows[i].st.requests,
				 (unsigned long long)t.rows[i].st.bytes,
				 (unsigned long long)t.rows[i].st.errors);
		if (unmatched || p->expired || full)
			out_text(k, "  not joined: %llu completions with no start (before vigil or pushed "
				 "out), %llu requests never completed, %llu rows not kept (map full)\n",
				 (unsigned long long)unmatched, (unsigned long long)p->expired,
				 (unsigned long long)full);
		goto out;
	}
	for (size_t i = 0; i < t.n; i++) {
		vrow_init(&r);
		vrow_str(&r, "type", "disk_summary");
		row_time(&r, now, iso, true);
		row_dev(p, &r, t.rows[i].key.dev);
		vrow_str(&r, "op", disk_op_name(t.rows[i].key.op));
		vrow_u64(&r, "requests", t.rows[i].st.requests);
		vrow_u64(&r, "bytes", t.rows[i].st.bytes);
		vrow_u64(&r, "errors", t.rows[i].st.errors);
		if (out_row(k, &r) < 0) {
			err = -1;
			goto out;
		}
	}
	vrow_init(&r);
	vrow_str(&r, "type", "disk_drops");
	row_time(&r, now, iso, true);
	vrow_u64(&r, "unmatched", unmatched);
	vrow_u64(&r, "expired", p->expired);
	vrow_u64(&r, "rows_full", full);
	err = out_row(k, &r) < 0 ? -1 : 0;
out:
	free(t.rows);
	return err;
}

static int render(struct vigil_inst *in, bool final)
{
	struct disk_priv *p = in->priv;
	struct vigil_sink *k = in->sink;
	uint64_t now = vigil_boot_ns(), mono = vigil_mono_ns();
	char iso[40], dur[32], hhmmss[16];
	int err = 0;
	struct vrow tr;

	vigil_iso_time(now, iso, sizeof(iso));
	vigil_fmt_duration(mono - (final ? p->run_start : p->span_start), dur, sizeof(dur));
	p->span_start = mono;
	vrow_init(&tr);
	vrow_u64(&tr, "ts", now);
	vcol_time(&tr, hhmmss, sizeof(hhmmss));
	if (p->mode == DISK_TOP) {
		err = collect_top(p);
		if (err)
			return err;
		if (!k->json) {
			out_text(k, "\n%s  last %s: %zu processes and disks\n", hhmmss, dur, p->ntop);
			out_header(k);
		}
		err = render_top(in, now, iso);
	} else if (p->mode == DISK_HIST || p->mode == DISK_SIZES) {
		err = p->mode == DISK_HIST ? collect(p, &p->cur) : collect_sizes(p, &p->cur);
		if (err)
			return err;
		if (!k->json)
			out_text(k, "\n%s  %s %s\n", hhmmss, final ? "total over" : "last", dur);
		/* intervals are deltas; the final rows are the whole run */
		if (!final) {
			struct disk_table shown = { 0 };

			if (table_copy(&shown, &p->cur))
				return -ENOMEM;
			table_delta(&p->cur, &p->prev);
			err = render_hists(in, &p->cur, now, iso, false);
			table_copy(&p->prev, &shown);
			free(shown.rows);
		} else {
			err = render_hists(in, &p->cur, now, iso, true);
		}
	}
	if (!err && final)
		err = render_summary(in, now, iso);
	if (err)
		return err;
	return out_flush(k) ? -1 : 0;
}

/* ---- run ------------------------------------------------------------------------- */

static int disk_check(struct vigil_inst *in)
{
	struct disk_opts *o = in->opts;

	if (o->hist + o->sizes + o->top > 1) {
		vigil_usage_error("--hist, --sizes and --top exclude each other");
		return VIGIL_EXIT_USAGE;
	}
	if (!o->hist && (o->per_disk || o->per_op || o->queued)) {
		vigil_usage_error("-D, -F and -Q apply to --hist");
		return VIGIL_EXIT_USAGE;
	}
	if (o->disk && !disk_dev_of(o->disk)) {
		vigil_usage_error("no disk '%s' (not a whole disk in /sys/block)", o->disk);
		return VIGIL_EXIT_USAGE;
	}
	o->user_interval = in->c.interval_ns != 0;
	return 0;
}

static int disk_start(struct vigil_inst *in)
{
	const struct disk_opts *o = in->opts;
	struct disk_priv *p = in->priv;
	struct vigil_mech_choice choice;
	int err;

	p->ncpu = libbpf_num_possible_cpus();
	if (p->ncpu <= 0)
		return VIGIL_EXIT_FAIL;
	p->mode = o->hist ? DISK_HIST : o->sizes ? DISK_SIZES : o->top ? DISK_TOP : DISK_STREAM;
	p->user_interval = o->user_interval;
	if (o->disk && !(p->want_dev = disk_dev_of(o->disk))) {
		vigil_error("disk '%s' went away", o->disk);
		return VIGIL_EXIT_FAIL;
	}
	in->c.mechanism = o->mechanism;
	out_set_columns(in->sink, p->mode == DISK_STREAM ? stream_cols :
			p->mode == DISK_TOP ? top_cols : hist_cols);
	err = vigil_session_start_plan(&p->s, in, &plan, p->mode == DISK_STREAM ? on_event : NULL,
				       in, &choice);
	if (err)
		return err;
	p->started = true;
	p->run_start = p->span_start = vigil_mono_ns();
	if (p->mode != DISK_STREAM)
		in->sink->header_done = true;
	return 0;
}

static int disk_tick(struct vigil_inst *in)
{
	struct disk_priv *p = in->priv;

	if (!p->started)
		return 0;
	sweep(in);
	if (p->mode == DISK_TOP || (p->user_interval && p->mode != DISK_STREAM))
		return render(in, false) < 0 ? VIGIL_EXIT_FAIL : 0;
	if (p->mode == DISK_STREAM)
		vigil_session_tick(&p->s);
	return 0;
}

static int disk_stop(struct vigil_inst *in, int err)
{
	struct disk_priv *p = in->priv;

	if (!p->started)
		goto out;
	err = vigil_session_close(&p->s, err);
	if (!err && !in->sink->broken_pipe && render(in, true) < 0 && !in->sink->broken_pipe)
		err = VIGIL_EXIT_FAIL;
	disk_destroy(in);
out:
	free(p->cur.rows);
	free(p->prev.rows);
	free(p->top);
	p->cur.rows = p->prev.rows = NULL;
	p->top = NULL;
	return err;
}

static int disk_sessions(struct vigil_inst *in, struct vigil_session **out, int max)
{
	struct disk_priv *p = in->priv;

	out[0] = &p->s;
	return max > 0 && p->started ? 1 : 0;
}

/* the agent: requests, bytes and errors per disk and op; latency histograms with --hist */
static void disk_metrics(struct vigil_inst *in, struct vigil_metrics *m)
{
	struct disk_priv *p = in->priv;
	struct disk_table t = { 0 };
	int mode = p->mode;

	if (!p->started)
		return;
	p->mode = DISK_STREAM;
	if (collect(p, &t))
		goto hist;
	vm_family(m, "vigil_disk_requests_total", "counter", "block requests completed");
	for (size_t i = 0; i < t.n; i++)
		vm_u64(m, t.rows[i].st.requests, (const char *[]){ "feature", in->name, "disk",
			disk_name(p, t.rows[i].key.dev), "op", disk_op_name(t.rows[i].key.op), NULL });
	vm_family(m, "vigil_disk_bytes_total", "counter", "bytes of the completed block requests");
	for (size_t i = 0; i < t.n; i++)
		vm_u64(m, t.rows[i].st.bytes, (const char *[]){ "feature", in->name, "disk",
			disk_name(p, t.rows[i].key.dev), "op", disk_op_name(t.rows[i].key.op), NULL });
	vm_family(m, "vigil_disk_errors_total", "counter", "block requests completed with an error");
	for (size_t i = 0; i < t.n; i++)
		vm_u64(m, t.rows[i].st.errors, (const char *[]){ "feature", in->name, "disk",
			disk_name(p, t.rows[i].key.dev), "op", disk_op_name(t.rows[i].key.op), NULL });
hist:
	p->mode = mode;
	if (mode != DISK_HIST || collect(p, &t))
		goto out;
	vm_family(m, "vigil_disk_latency_seconds", "histogram",
		  "block request latency, issued (or queued, -Q) to completed");
	for (size_t i = 0; i < t.n; i++)
		vm_hist(m, t.rows[i].slots, 1e-9, (double)t.rows[i].sum * 1e-9,
			(const char *[]){ "feature", in->name, "disk",
			t.rows[i].key.dev ? disk_name(p, t.rows[i].key.dev) : "all",
			"op", disk_op_name(t.rows[i].key.op), NULL });
out:
	free(t.rows);
}

static const struct vigil_feature feat_disk = {
	.name = "disk",
	.opts = disk_opts_tab,
	.opts_size = sizeof(struct disk_opts),
	.opts_default = &disk_defaults,
	.priv_size = sizeof(struct disk_priv),
	.check = disk_check,
	.start = disk_start,
	.tick = disk_tick,
	.stop = disk_stop,
	.sessions = disk_sessions,
	.metrics = disk_metrics,
	.default_interval_ns = DISK_TICK_NS,
};

const struct vigil_cmd cmd_disk = {
	.name = "disk",
	.summary = "block I/O per request, latency histograms, sizes and top (biosnoop, biolatency, "
		   "bitesize, biotop), issuer attributed",
	.flags = VC_ROOT | VC_BTF | VC_TRACE,
	.needs = VIGIL_MECH(VIGIL_M_RINGBUF),
	.plan = &plan,
	.feature = &feat_disk,
};
