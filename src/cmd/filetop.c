// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * vigil filetop: the files processes read and write most, counted in the
 * kernel per (process, file) and shown every interval, like top. The hooks
 * are fexit on vfs_read/vfs_write where the kernel runs them, the syscall
 * tracepoints elsewhere; the core picks (vigil_session_start_plan).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "core/vigil.h"
#include "core/env.h"
#include "core/opts.h"
#include "core/out.h"
#include "core/session.h"
#include "core/feature.h"
#include "core/metrics.h"
#include "cmd/filetop.h"
#include "filetop.skel.h"

#define FT_INTERVAL_DEFAULT 1000000000ull	/* 1s */
#define FT_MAX_FILES_DEFAULT 8192
#define VIGIL_FT_MAX_FILES (1u << 18)		/* two maps of this many rows: about 100 MB */
#define FT_TOTAL_FACTOR 8			/* the run's totals keep 8x the kernel's rows */

struct ft_opts {
	uint32_t top, max_files;
	enum ft_sort sort;
	bool all;
	bool no_trigger;	/* test knob: the start-up check sees nothing */
	const char *mechanism;
};

static const struct ft_opts ft_defaults = { .top = 20, .max_files = FT_MAX_FILES_DEFAULT };

struct ft_priv {
	struct vigil_session s;
	struct filetop_bpf *skel;
	bool started;
	int active;		/* which of ft_counts_a/b the programs write */
	struct ft_table iv, total;
	uint64_t dropped_seen[VIGIL_FT_DROP__COUNT], dropped_iv[VIGIL_FT_DROP__COUNT];
	uint64_t span_start, run_start;
};

static int opt_sort(void *base, const char *arg)
{
	struct ft_opts *o = base;

	if (ft_sort_parse(arg, &o->sort)) {
		vigil_usage_error("invalid sort key '%s': all, reads, writes, rbytes or wbytes", arg);
		return -1;
	}
	return 0;
}

static int opt_mechanism(void *base, const char *arg)
{
	((struct ft_opts *)base)->mechanism = arg;
	return 0;
}

#define F(f) VOFF(struct ft_opts, f)

static const struct vigil_opt filetop_opts[] = {
	VOPT_SECTION("Rows (default: regular files, top 20 by bytes, every second)"),
	{ "top", 'n', VO_U32, F(top), "N", "only the first N rows of each interval (0: all)" },
	{ "sort", 's', VO_FUNC, 0, "KEY",
	  "all (read + written bytes, default), reads, writes, rbytes or wbytes", opt_sort },
	{ "all", 'a', VO_FLAG, F(all), NULL, "also sockets, pipes and devices" },
	{ "max-files", 0, VO_U32, F(max_files), "N",
	  "rows the kernel keeps per interval (default 8192); more are counted as dropped",
	  .min = 1, .max = VIGIL_FT_MAX_FILES },
	{ "mechanism", 0, VO_FUNC, 0, "NAME",
	  "auto (default: fentry when it works here, else tracepoint), fentry or tracepoint",
	  opt_mechanism },
	/* lets the tests see the core refuse hooks that attach but never run */
	{ "test-skip-self-check", 0, VO_FLAG, F(no_trigger), NULL,
	  "make no start-up activity, so no mechanism is seen to run", .hidden = true },
	VOPT_END,
};

/* ---- the two ways in (docs/filetop.md, "Mechanisms") ---------------------- */

static const char *const fentry_progs[] = { "ft_vfs_read", "ft_vfs_write", NULL };
static const char *const fentry_seen[] = { "vfs_read", "vfs_write", NULL };
static const char *const tp_progs[] = {
	"ft_enter_read", "ft_exit_read", "ft_enter_pread64", "ft_exit_pread64",
	"ft_enter_write", "ft_exit_write", "ft_enter_pwrite64", "ft_exit_pwrite64", NULL,
};
static const char *const tp_seen[] = {
	"syscalls:sys_enter_read", "syscalls:sys_exit_read",
	"syscalls:sys_enter_pread64", "syscalls:sys_exit_pread64",
	"syscalls:sys_enter_write", "syscalls:sys_exit_write",
	"syscalls:sys_enter_pwrite64", "syscalls:sys_exit_pwrite64", NULL,
};

static const struct vigil_mech_path paths[] = {
	{ "fentry", VIGIL_M_FENTRY, "vfs_read, vfs_write", fentry_progs, fentry_seen, false },
	{ "tracepoint", VIGIL_M_TRACEPOINT, "syscalls:sys_{enter,exit}_{read,write,pread64,pwrite64}",
	  tp_progs, tp_seen, true },
};

static bool ft_have_uring(void)
{
	const char *tracefs;
	char p[512];

	if (vigil_tracefs_mount() || !(tracefs = vigil_tracefs_path()))
		return false;
	snprintf(p, sizeof(p), "%s/events/io_uring/io_uring_complete", tracefs);
	return access(p, F_OK) == 0;
}

static struct bpf_object_skeleton *ft_open(struct vigil_inst *in, const struct vigil_mech_path *path)
{
	const struct ft_opts *o = in->opts;
	struct ft_priv *p = in->priv;
	struct filetop_bpf *skel;

	skel = p->skel = filetop_bpf__open();
	if (!skel)
		return NULL;
	skel->rodata->want_all = o->all;
	skel->rodata->self_tgid = getpid();
	bpf_map__set_max_entries(skel->maps.ft_counts_a, o->max_files);
	bpf_map__set_max_entries(skel->maps.ft_counts_b, o->max_files);
	/* a kernel without io_uring has no such tracepoint: the rest still counts */
	bpf_program__set_autoload(skel->progs.ft_uring_complete, ft_have_uring());
	/* nothing is streamed: the smallest ring buffer there is */
	bpf_map__set_max_entries(skel->maps.vigil_events, getpagesize());
	return skel->skeleton;
}

static void ft_destroy(struct vigil_inst *in)
{
	struct ft_priv *p = in->priv;

	filetop_bpf__destroy(p->skel);
	p->skel = NULL;
}

/* one call of each hooked kind, by vigil itself, so the check can see them run */
static void ft_trigger(struct vigil_inst *in)
{
	const struct ft_opts *o = in->opts;
	char buf[64];
	int fd, null;

	if (o->no_trigger)
		return;
	fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (read(fd, buf, sizeof(buf)) < 0 || pread(fd, buf, sizeof(buf), 0) < 0)
			vigil_debug("filetop: self-check read failed: %s", strerror(errno));
		close(fd);
	}
	if (null >= 0) {
		if (write(null, "v", 1) < 0 || pwrite(null, "v", 1, 0) < 0)
			vigil_debug("filetop: self-check write failed: %s", strerror(errno));
		close(null);
	}
}

static const struct vigil_mech_plan plan = {
	.paths = paths,
	.npaths = sizeof(paths) / sizeof(paths[0]),
	.open = ft_open,
	.destroy = ft_destroy,
	.trigger = ft_trigger,
};

/* ---- collect: swap the kernel's maps, read the quiet one, clear it -------- */

static struct bpf_map *counts_map(struct ft_priv *p, int which)
{
	return which ? p->skel->maps.ft_counts_b : p->skel->maps.ft_counts_a;
}

static int read_counts(struct ft_priv *p, struct bpf_map *map)
{
	int fd = bpf_map__fd(map);
	struct vigil_ft_key key, next, *prev = NULL;
	struct ft_table *iv = &p->iv;
	struct ft_row r;
	size_t first = iv->n;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		r.key = key;
		if (bpf_map_lookup_elem(fd, &key, &r.val))
			continue;
		r.val.comm[VIGIL_COMM_LEN - 1] = 0;
		r.val.name[VIGIL_FT_NAME_LEN - 1] = 0;
		if (ft_table_add(iv, &r))
			return -ENOMEM;
	}
	/* no program writes this map any more: empty it for its next turn */
	for (size_t i = first; i < iv->n; i++)
		bpf_map_delete_elem(fd, &iv->rows[i].key);
	return 0;
}

static void read_drops(struct ft_priv *p)
{
	int ncpu = libbpf_num_possible_cpus();

	if (ncpu <= 0)
		return;
	uint64_t v[ncpu];

	for (__u32 k = 0; k < VIGIL_FT_DROP__COUNT; k++) {
		uint64_t sum = 0;

		if (bpf_map_lookup_elem(bpf_map__fd(p->skel->maps.ft_drops), &k, v))
			continue;
		for (int c = 0; c < ncpu; c++)
			sum += v[c];
		p->dropped_iv[k] = sum - p->dropped_seen[k];
		p->dropped_seen[k] = sum;
	}
}

/*
 * The interval's rows into iv. The other map is put in place first: the
 * kernel waits for running programs on a map-in-map update, so nothing
 * writes the old one while it is read. At the end, with the links gone, the
 * swap is still what makes sure the last programs have finished.
 */
static int collect(struct ft_priv *p)
{
	int old = p->active, fd = bpf_map__fd(counts_map(p, !p->active));
	__u32 zero = 0;

	p->iv.n = 0;
	if (bpf_map_update_elem(bpf_map__fd(p->skel->maps.ft_active), &zero, &fd, BPF_ANY))
		return -errno;
	p->active = !p->active;
	read_drops(p);
	return read_counts(p, counts_map(p, old));
}

/* ---- render ---------------------------------------------------------------- */

static void col_kb(const struct vrow *r, char *buf, size_t n, const char *key)
{
	snprintf(buf, n, "%llu", (unsigned long long)(vrow_u(r, key) / 1024));
}

static void col_rkb(const struct vrow *r, char *buf, size_t n) { col_kb(r, buf, n, "rbytes"); }
static void col_wkb(const struct vrow *r, char *buf, size_t n) { col_kb(r, buf, n, "wbytes"); }

static void col_kind(const struct vrow *r, char *buf, size_t n)
{
	snprintf(buf, n, "%c", (char)vrow_u(r, "kind_letter"));
}

static const struct vcol filetop_cols[] = {
	{ "PID", 7, "pid", NULL, true },
	{ "COMM", 16, "comm" },
	{ "READS", 8, "reads", NULL, true },
	{ "WRITES", 8, "writes", NULL, true },
	{ "R_KB", 10, NULL, col_rkb, true },
	{ "W_KB", 10, NULL, col_wkb, true },
	{ "T", 1, NULL, col_kind },
	{ "FILE", 0, "file" },
	{ 0 },
};

static int render_row(struct vigil_inst *in, const struct ft_row *f, uint64_t now,
		      const char *iso, bool final, uint64_t span)
{
	char name[VIGIL_FT_NAME_LEN + 32], dev[24];
	struct vrow r;

	ft_file_name(f, name, sizeof(name));
	ft_dev_name(f->key.dev, dev, sizeof(dev));
	vrow_init(&r);
	vrow_str(&r, "type", "filetop");
	vrow_u64(&r, "ts", now);
	vrow_str(&r, "time", iso);
	vrow_bool(&r, "final", final);
	vrow_u64(&r, "span_ns", span);
	vrow_u64(&r, "pid", f->key.pid);
	vrow_u64(&r, "tid", f->val.tid);
	vrow_u64(&r, "uid", f->val.uid);
	vrow_str(&r, "comm", f->val.comm);
	vrow_str(&r, "file", name);
	vrow_str(&r, "kind", ft_kind_name(f->val.mode));
	vrow_str(&r, "dev", dev);
	vrow_u64(&r, "ino", f->key.ino);
	vrow_u64(&r, "reads", f->val.reads);
	vrow_u64(&r, "writes", f->val.writes);
	vrow_u64(&r, "rbytes", f->val.rbytes);
	vrow_u64(&r, "wbytes", f->val.wbytes);
	if (!in->sink->json)
		vrow_u64(&r, "kind_letter", ft_kind_letter(f->val.mode));
	return out_row(in->sink, &r);
}

static int render(struct vigil_inst *in, struct ft_table *t, bool final, uint64_t span,
		  uint64_t full, uint64_t inflight)
{
	const struct ft_opts *o = in->opts;
	struct vigil_sink *k = in->sink;
	uint64_t now = vigil_boot_ns();
	size_t n = o->top && o->top < t->n ? o->top : t->n;
	char iso[40], dur[32];
	struct vrow r;

	ft_sort(t, o->sort);
	vigil_iso_time(now, iso, sizeof(iso));
	vigil_fmt_duration(span, dur, sizeof(dur));
	vrow_init(&r);
	vrow_str(&r, "type", "filetop_summary");
	vrow_u64(&r, "ts", now);
	vrow_str(&r, "time", iso);
	vrow_bool(&r, "final", final);
	vrow_u64(&r, "span_ns", span);
	vrow_u64(&r, "files", t->n);
	vrow_u64(&r, "shown", n);
	vrow_u64(&r, "dropped", full);
	vrow_u64(&r, "dropped_inflight", inflight);
	vrow_u64(&r, "rows_dropped", t->dropped);
	if (k->json) {
		if (out_row(k, &r) < 0)
			return -1;
	} else {
		char hhmmss[16];

		vcol_time(&r, hhmmss, sizeof(hhmmss));
		out_text(k, "\n%s  %s %s: %zu files%s", hhmmss, final ? "total over" : "last", dur,
			 t->n, n < t->n ? ", top rows" : "");
		if (full || inflight)
			out_text(k, "; %llu calls not counted: kernel map full (raise --max-files)",
				 (unsigned long long)(full + inflight));
		if (t->dropped)
			out_text(k, "; %llu rows left out of the totals", (unsigned long long)t->dropped);
		out_text(k, "\n");
		out_header(k);
	}
	for (size_t i = 0; i < n; i++)
		if (render_row(in, &t->rows[i], now, iso, final, span) < 0)
			return -1;
	return out_flush(k) ? -1 : 0;
}

/* collect, add to the run's totals, and show the interval unless it is the last */
static int interval(struct vigil_inst *in, bool show)
{
	struct ft_priv *p = in->priv;
	uint64_t now = vigil_mono_ns();
	int err = collect(p);

	if (err) {
		vigil_error("cannot read the file counts: %s", strerror(-err));
		return VIGIL_EXIT_FAIL;
	}
	if (ft_table_merge(&p->total, &p->iv)) {
		vigil_error("cannot keep the run's totals: %s", strerror(ENOMEM));
		return VIGIL_EXIT_FAIL;
	}
	if (!show)
		return 0;
	err = render(in, &p->iv, false, now - p->span_start, p->dropped_iv[VIGIL_FT_DROP_FULL],
		     p->dropped_iv[VIGIL_FT_DROP_INFLIGHT]);
	p->span_start = now;
	return err;
}

static int ft_tick(struct vigil_inst *in)
{
	return interval(in, true);
}

/* ---- run ------------------------------------------------------------------ */

static int ft_start(struct vigil_inst *in)
{
	const struct ft_opts *o = in->opts;
	struct ft_priv *p = in->priv;
	struct vigil_mech_choice choice;
	int err;

	/* the run's totals are bounded too; rows past it are counted */
	p->total.max = (size_t)o->max_files * FT_TOTAL_FACTOR;
	in->c.mechanism = o->mechanism;
	out_set_columns(in->sink, filetop_cols);
	err = vigil_session_start_plan(&p->s, in, &plan, NULL, NULL, &choice);
	if (err)
		return err;
	p->started = true;
	p->run_start = p->span_start = vigil_mono_ns();
	/* each interval's table has its own header */
	in->sink->header_done = true;
	return 0;
}

static int ft_stop(struct vigil_inst *in, int err)
{
	struct ft_priv *p = in->priv;
	uint64_t *seen = p->dropped_seen;

	if (!p->started)
		goto out;
	err = vigil_session_close(&p->s, err);
	/* links are gone: what the active map holds is the rest of the run */
	if (!in->sink->broken_pipe && !err) {
		err = interval(in, false);
		if (!err && render(in, &p->total, true, vigil_mono_ns() - p->run_start,
				   seen[VIGIL_FT_DROP_FULL], seen[VIGIL_FT_DROP_INFLIGHT]) < 0 &&
		    !in->sink->broken_pipe)
			err = VIGIL_EXIT_FAIL;
	}
	if (seen[VIGIL_FT_DROP_FULL] + seen[VIGIL_FT_DROP_INFLIGHT] + p->total.dropped)
		vigil_warn("filetop: %llu calls not counted because a kernel map was full, %llu rows "
			   "left out of the totals (raise --max-files)",
			   (unsigned long long)(seen[VIGIL_FT_DROP_FULL] + seen[VIGIL_FT_DROP_INFLIGHT]),
			   (unsigned long long)p->total.dropped);
	ft_destroy(in);
out:
	free(p->iv.rows);
	free(p->total.rows);
	p->iv.rows = p->total.rows = NULL;
	return err;
}

static int ft_sessions(struct vigil_inst *in, struct vigil_session **out, int max)
{
	struct ft_priv *p = in->priv;

	out[0] = &p->s;
	return max > 0 && p->started ? 1 : 0;
}

static const char *const ft_kind_names[VIGIL_FT_K__COUNT] = {
	"rw", "vectored", "sendfile", "splice", "copy_file_range", "io_uring",
};

/*
 * Summed over every file from the kernel's per-CPU totals (ft_totals), not
 * from the rows: exact even when the rows map was full, and bounded labels
 * (2 directions x 6 kinds), no per-file series.
 */
static void ft_metrics(struct vigil_inst *in, struct vigil_metrics *m)
{
	struct ft_priv *p = in->priv;
	int ncpu = libbpf_num_possible_cpus(), fd;
	struct vigil_ft_total sum[VIGIL_FT_K__COUNT * 2] = {}, *v;
	uint64_t drops[VIGIL_FT_DROP__COUNT] = {};
	static const char *const dir[2] = { "read", "write" };

	if (!p->started || !p->skel || ncpu <= 0 || !(v = calloc(ncpu, sizeof(*v))))
		return;
	fd = bpf_map__fd(p->skel->maps.ft_totals);
	for (uint32_t k = 0; k < VIGIL_FT_K__COUNT * 2; k++) {
		if (bpf_map_lookup_elem(fd, &k, v))
			continue;
		for (int c = 0; c < ncpu; c++) {
			sum[k].calls += v[c].calls;
			sum[k].bytes += v[c].bytes;
		}
	}
	fd = bpf_map__fd(p->skel->maps.ft_drops);
	for (uint32_t k = 0; k < VIGIL_FT_DROP__COUNT; k++) {
		uint64_t *u = (uint64_t *)v;

		if (bpf_map_lookup_elem(fd, &k, u))
			continue;
		for (int c = 0; c < ncpu; c++)
			drops[k] += u[c];
	}
	free(v);
	vm_family(m, "vigil_filetop_calls_total", "counter",
		  "successful read/write-style calls counted, by direction and kind, in the kernel");
	for (int k = 0; k < VIGIL_FT_K__COUNT * 2; k++)
		vm_u64(m, sum[k].calls, (const char *[]){ "feature", in->name, "direction", dir[k & 1],
							  "kind", ft_kind_names[k / 2], NULL });
	vm_family(m, "vigil_filetop_bytes_total", "counter", "bytes those calls moved");
	for (int k = 0; k < VIGIL_FT_K__COUNT * 2; k++)
		vm_u64(m, sum[k].bytes, (const char *[]){ "feature", in->name, "direction", dir[k & 1],
							  "kind", ft_kind_names[k / 2], NULL });
	vm_family(m, "vigil_filetop_dropped_total", "counter",
		  "calls not in a row: full = the rows map was full (the totals above count them), "
		  "inflight = the in-flight map was full (not counted at all)");
	vm_u64(m, drops[VIGIL_FT_DROP_FULL], (const char *[]){ "feature", in->name, "reason", "full", NULL });
	vm_u64(m, drops[VIGIL_FT_DROP_INFLIGHT],
	       (const char *[]){ "feature", in->name, "reason", "inflight", NULL });
}

static const struct vigil_feature feat_filetop = {
	.name = "filetop",
	.opts = filetop_opts,
	.opts_size = sizeof(struct ft_opts),
	.opts_default = &ft_defaults,
	.priv_size = sizeof(struct ft_priv),
	.start = ft_start,
	.tick = ft_tick,
	.stop = ft_stop,
	.sessions = ft_sessions,
	.metrics = ft_metrics,
	.default_interval_ns = FT_INTERVAL_DEFAULT,
};

const struct vigil_cmd cmd_filetop = {
	.name = "filetop",
	.summary = "top files by reads and writes, per process (filetop), counted in the kernel",
	.flags = VC_ROOT | VC_BTF | VC_TRACE,
	/* everything else is one of the plan's paths: doctor reports which */
	.needs = 0,
	.plan = &plan,
	.feature = &feat_filetop,
};
