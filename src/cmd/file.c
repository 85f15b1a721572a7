// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * vigil file: what happens to files, as one stream. Opens with their
 * resolved path, decoded flags and result (opensnoop); unlink, rename,
 * mkdir, ... with their paths and how long a file lived when vigil saw it
 * created (filelife); read, write, fsync, fdatasync and open over --min
 * (fsslower); latency histograms per operation (--hist).
 */
#include <errno.h>
#include <stdio.h>
#include <time.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "core/vigil.h"
#include "core/opts.h"
#include "core/out.h"
#include "core/session.h"
#include "core/feature.h"
#include "core/env.h"
#include "core/metrics.h"
#include "core/names.h"
#include "core/hist.h"
#include "cmd/file.h"
#include "file.skel.h"

struct fl_opts {
	bool failed, hist, no_lifecycle;
	uint64_t min_ns;
	struct vigil_file_prefixes prefixes;
};

struct fl_priv {
	struct vigil_session s;
	struct file_bpf *skel;
	struct fl_live live;
	uint64_t hist[VIGIL_FOP__COUNT][VIGIL_HIST_SLOTS];
	char a[VIGIL_FILE_PATH_LEN + 1], b[VIGIL_FILE_PATH_LEN + 1];
};

static int opt_path(void *base, const char *arg)
{
	struct vigil_file_prefixes *p = &((struct fl_opts *)base)->prefixes;
	size_t len = strlen(arg);

	if (arg[0] != '/') {
		vigil_usage_error("--path '%s' is not absolute", arg);
		return -1;
	}
	if (len >= VIGIL_FILE_PREFIX_LEN) {
		vigil_usage_error("--path '%s' is longer than %d bytes", arg, VIGIL_FILE_PREFIX_LEN - 1);
		return -1;
	}
	if (p->n >= VIGIL_FILE_PREFIXES) {
		vigil_usage_error("more than %d --path prefixes", VIGIL_FILE_PREFIXES);
		return -1;
	}
	memcpy(p->s[p->n], arg, len);
	p->len[p->n++] = len;
	return 0;
}

#define O(f) VOFF(struct fl_opts, f)

static const struct vigil_opt file_opts[] = {
	VOPT_SECTION("Events (default: opens and lifecycle calls)"),
	{ "failed", 'x', VO_FLAG, O(failed), NULL, "only calls that failed" },
	{ "path", 'P', VO_FUNC, 0, "PREFIX",
	  "only paths starting with PREFIX (up to 4, checked in the kernel)", opt_path },
	{ "min", 'm', VO_DURATION, O(min_ns), "DURATION",
	  "only calls slower than this; adds read, write, pread64, pwrite64, fsync, fdatasync",
	  .min = 1 },
	{ "hist", 'L', VO_FLAG, O(hist), NULL,
	  "latency histogram per operation at the end, instead of the stream" },
	VOPT_END,
};

/* ---- rows ---------------------------------------------------------------- */

static void col_op(const struct vrow *r, char *buf, size_t n)
{
	snprintf(buf, n, "%s", vrow_s(r, "op"));
}

static void col_result(const struct vrow *r, char *buf, size_t n)
{
	const struct vfield *f = vrow_get(r, "errno");

	if (f)
		snprintf(buf, n, "%s", f->s);
	else if ((f = vrow_get(r, "fd")))
		snprintf(buf, n, "fd=%llu", (unsigned long long)f->u);
	else
		snprintf(buf, n, "%lld", (long long)vrow_i(r, "ret"));
}

static void col_detail(const struct vrow *r, char *buf, size_t n)
{
	const struct vfield *f;
	char d[32];
	size_t o = 0;

	o += snprintf(buf + o, n - o, "%s", vrow_s(r, "path"));
	if ((f = vrow_get(r, "path2")) && o < n)
		o += snprintf(buf + o, n - o, " -> %s", f->s);
	if ((f = vrow_get(r, "target")) && o < n)
		o += snprintf(buf + o, n - o, " -> %s", f->s);
	if ((f = vrow_get(r, "flags")) && o < n)
		o += snprintf(buf + o, n - o, " %s", f->s);
	if ((f = vrow_get(r, "mode")) && o < n)
		o += snprintf(buf + o, n - o, " mode=%s", f->s);
	if ((f = vrow_get(r, "offset")) && o < n)
		o += snprintf(buf + o, n - o, " off=%llu size=%llu", (unsigned long long)f->u,
			      (unsigned long long)vrow_u(r, "size"));
	if ((f = vrow_get(r, "lifetime_ns")) && o < n) {
		vigil_fmt_duration(f->u, d, sizeof(d));
		o += snprintf(buf + o, n - o, " lived %s", d);
	}
	if ((f = vrow_get(r, "latency_ns")) && o < n) {
		vigil_fmt_duration(f->u, d, sizeof(d));
		snprintf(buf + o, n - o, " took %s", d);
	}
}

static const struct vcol file_cols[] = {
	VCOL_TIME,
	{ "PID", 7, "pid", NULL, true },
	{ "COMM", 16, "comm" },
	{ "OP", 18, NULL, col_op },	/* io_uring_symlinkat */
	{ "RESULT", 8, NULL, col_result },
	{ "DETAIL", 0, NULL, col_detail },
	{ 0 },
};

/* path[i] of the record, cleaned, into out; the argument as passed into arg */
static void fl_take_path(const struct vigil_file_ev *e, int i, char *out, const char **arg)
{
	uint32_t len = e->len[i] < VIGIL_FILE_PATH_LEN ? e->len[i] : VIGIL_FILE_PATH_LEN - 1;
	uint32_t rel = e->rel[i] <= len ? e->rel[i] : len;

	memcpy(out, e->path[i], len);
	out[len] = 0;
	*arg = e->path[i] + rel;
	fl_clean_path(out);
}

/* m holds the text until the row is out: a row keeps pointers */
static void fl_mode(struct vrow *r, uint64_t mode, char m[16])
{
	snprintf(m, 16, "%04llo", (unsigned long long)(mode & 07777));
	vrow_str(r, "mode", m);
}

static int on_event(void *ctx, void *data, size_t size)
{
	char modebuf[16];
	struct vigil_inst *in = ctx;
	struct fl_priv *p = in->priv;
	const struct vigil_file_ev *e = data;
	char argbuf[2][VIGIL_FILE_HALF + 1], flags[256];
	const char *arg, *arg2 = NULL;
	uint32_t op;
	struct vrow r;
	uint64_t born;

	if (size < sizeof(*e) || e->hdr.type != VIGIL_EV_FILE || e->op >= VIGIL_FOP__COUNT)
		return 0;
	op = e->op;
	fl_take_path(e, 0, p->a, &arg);
	snprintf(argbuf[0], sizeof(argbuf[0]), "%s", arg);
	if (e->flags & VIGIL_FILE_TWO) {
		fl_take_path(e, 1, p->b, &arg2);
		snprintf(argbuf[1], sizeof(argbuf[1]), "%s", arg2);
		if (e->flags & VIGIL_FILE_RAW1) {
			/* a symlink's target is not a path of this process: as passed */
			uint32_t len = e->len[1] < VIGIL_FILE_HALF ? e->len[1] : VIGIL_FILE_HALF - 1;

			memcpy(p->b, e->path[1], len);
			p->b[len] = 0;
		}
	}
	vrow_init(&r);
	vrow_hdr(&r, "file", &e->hdr);
	vrow_str(&r, "op", fl_op_name(op));
	vrow_str(&r, "path", p->a);
	vrow_str(&r, "arg", argbuf[0]);
	if (e->flags & VIGIL_FILE_TWO) {
		if (e->flags & VIGIL_FILE_RAW1) {
			vrow_str(&r, "target", p->b);
		} else {
			vrow_str(&r, "path2", p->b);
			vrow_str(&r, "arg2", argbuf[1]);
		}
	}
	if (e->flags & (VIGIL_FILE_TRUNC0 | VIGIL_FILE_TRUNC1))
		vrow_bool(&r, "truncated", true);
	vrow_s64(&r, "ret", e->ret);
	if (e->ret < 0)
		vrow_str(&r, "errno", vigil_errno_name((int)-e->ret));
	switch (op) {
	case VIGIL_FOP_OPEN:
	case VIGIL_FOP_OPENAT:
	case VIGIL_FOP_OPENAT2:
	case VIGIL_FOP_URING_OPENAT:
	case VIGIL_FOP_URING_OPENAT2:
	case VIGIL_FOP_CREAT: {
		uint64_t fl, mode;

		fl = op == VIGIL_FOP_OPEN ? e->args[1] : op == VIGIL_FOP_CREAT ? 01101 : e->args[2];
		mode = op == VIGIL_FOP_OPEN ? e->args[2] : op == VIGIL_FOP_CREAT ? e->args[1] : e->args[3];
		fl_open_flags(fl & 0xffffffffu, flags, sizeof(flags));
		if (op != VIGIL_FOP_OPEN && op != VIGIL_FOP_CREAT)
			vrow_s64(&r, "dirfd", (int32_t)e->args[0]);
		vrow_str(&r, "flags", flags);
		vrow_u64(&r, "flags_raw", fl);
		if (fl & (0100 | 020000000))	/* O_CREAT, O_TMPFILE: the mode is used */
			fl_mode(&r, mode, modebuf);
		if (op == VIGIL_FOP_OPENAT2 || op == VIGIL_FOP_URING_OPENAT2)
			vrow_u64(&r, "resolve", e->args[4]);
		if (e->ret >= 0)
			vrow_u64(&r, "fd", e->ret);
		vrow_bool(&r, "created", e->flags & VIGIL_FILE_CREATED);
		if (e->flags & VIGIL_FILE_CREATED)
			fl_live_add(&p->live, p->a, e->hdr.ts);
		break;
	}
	case VIGIL_FOP_MKDIR:
	case VIGIL_FOP_MKDIRAT:
	case VIGIL_FOP_URING_MKDIRAT:
		fl_mode(&r, e->args[op == VIGIL_FOP_MKDIR ? 1 : 2], modebuf);
		if (!e->ret)
			fl_live_add(&p->live, p->a, e->hdr.ts);
		break;
	case VIGIL_FOP_CHMOD:
	case VIGIL_FOP_FCHMODAT:
	case VIGIL_FOP_FCHMODAT2:
	case VIGIL_FOP_FCHMOD:
		fl_mode(&r, e->args[op == VIGIL_FOP_FCHMODAT || op == VIGIL_FOP_FCHMODAT2 ? 2 : 1],
			modebuf);
		if (op == VIGIL_FOP_FCHMODAT2)
			vrow_u64(&r, "at_flags", e->args[3]);
		break;
	case VIGIL_FOP_CHOWN:
	case VIGIL_FOP_LCHOWN:
	case VIGIL_FOP_FCHOWN:
	case VIGIL_FOP_FCHOWNAT: {
		int a = op == VIGIL_FOP_FCHOWNAT ? 2 : 1;

		vrow_s64(&r, "owner_uid", (int32_t)e->args[a]);
		vrow_s64(&r, "owner_gid", (int32_t)e->args[a + 1]);
		break;
	}
	case VIGIL_FOP_TRUNCATE:
	case VIGIL_FOP_FTRUNCATE:
		vrow_s64(&r, "length", (int64_t)e->args[1]);
		break;
	case VIGIL_FOP_URING_UNLINKAT:
		vrow_u64(&r, "at_flags", e->args[2]);	/* AT_REMOVEDIR: an rmdir */
		/* fall through */
	case VIGIL_FOP_UNLINK:
	case VIGIL_FOP_UNLINKAT:
	case VIGIL_FOP_RMDIR:
		if (!e->ret && (born = fl_live_take(&p->live, p->a)))
			vrow_u64(&r, "lifetime_ns", e->hdr.ts - born);
		break;
	case VIGIL_FOP_RENAME:
	case VIGIL_FOP_RENAMEAT:
	case VIGIL_FOP_RENAMEAT2:
	case VIGIL_FOP_URING_RENAMEAT:
		if (op == VIGIL_FOP_RENAMEAT2 || op == VIGIL_FOP_URING_RENAMEAT)
			vrow_u64(&r, "rename_flags", e->args[4]);
		if (!e->ret)
			fl_live_rename(&p->live, p->a, p->b);
		break;
	case VIGIL_FOP_SYMLINK:
	case VIGIL_FOP_SYMLINKAT:
	case VIGIL_FOP_LINK:
	case VIGIL_FOP_LINKAT:
	case VIGIL_FOP_URING_SYMLINKAT:
	case VIGIL_FOP_URING_LINKAT:
		if (!e->ret)
			fl_live_add(&p->live, (e->flags & VIGIL_FILE_RAW1) ? p->a : p->b, e->hdr.ts);
		break;
	default:
		/* the slow-operation calls, on an fd */
		vrow_u64(&r, "fd", (uint32_t)e->args[0]);
		if (op != VIGIL_FOP_FSYNC && op != VIGIL_FOP_FDATASYNC) {
			vrow_u64(&r, "offset", e->args[3]);
			vrow_u64(&r, "size", e->args[2]);
			if (e->ret >= 0)
				vrow_u64(&r, "bytes", e->ret);
		}
		break;
	}
	vrow_u64(&r, "latency_ns", e->latency_ns);
	return out_row(in->sink, &r);
}

/* ---- histograms (--hist) --------------------------------------------------- */

static void col_hist(const struct vrow *r, char *buf, size_t n)
{
	size_t o = snprintf(buf, n, "op = %s  (%llu calls)\n", vrow_s(r, "op"),
			    (unsigned long long)vrow_u(r, "count"));

	if (o < n) {
		FILE *m = fmemopen(buf + o, n - o, "w");

		if (m) {
			vhist_print(m, vrow_need(r, "buckets", VF_HIST)->hist.slots, "nsecs");
			fclose(m);
		}
	}
}

static const struct vcol hist_cols[] = { { "", 0, NULL, col_hist, false, true }, { 0 } };

static int read_hist(struct fl_priv *p)
{
	int ncpu = libbpf_num_possible_cpus(), fd = bpf_map__fd(p->skel->maps.fl_hist);

	if (ncpu <= 0)
		return -EINVAL;
	struct vigil_hist *v = calloc(ncpu, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (uint32_t op = 0; op < VIGIL_FOP__COUNT; op++) {
		if (bpf_map_lookup_elem(fd, &op, v))
			continue;
		memset(p->hist[op], 0, sizeof(p->hist[op]));
		for (int c = 0; c < ncpu; c++)
			vhist_merge(p->hist[op], (const uint64_t *)v[c].slots);
	}
	free(v);
	return 0;
}

static int render_hist(struct vigil_inst *in)
{
	struct fl_priv *p = in->priv;
	uint64_t now = vigil_boot_ns();
	char iso[40];

	if (read_hist(p))
		return VIGIL_EXIT_FAIL;
	vigil_iso_time(now, iso, sizeof(iso));
	for (uint32_t op = 0; op < VIGIL_FOP__COUNT; op++) {
		uint64_t n = vhist_count(p->hist[op]);
		struct vrow r;

		if (!n)
			continue;
		vrow_init(&r);
		vrow_str(&r, "type", "file_hist");
		vrow_u64(&r, "ts", now);
		vrow_str(&r, "time", iso);
		vrow_str(&r, "op", fl_op_name(op));
		vrow_str(&r, "unit", "ns");
		vrow_u64(&r, "count", n);
		vrow_hist(&r, "buckets", p->hist[op], "nsecs");
		if (out_row(in->sink, &r) < 0)
			return VIGIL_EXIT_FAIL;
	}
	return out_flush(in->sink) ? VIGIL_EXIT_FAIL : 0;
}

/* ---- run ------------------------------------------------------------------- */

static const char *const rw_progs[] = { "read", "write", "pread64", "pwrite64", "fsync",
					"fdatasync", NULL };

/* tracefs has events/GROUP/NAME: a tracepoint of this kernel (fchmodat2 is 6.6+) */
static bool fl_have_tp(const char *group, const char *name)
{
	const char *tracefs = vigil_tracefs_path();
	char p[512];

	if (!tracefs)
		return false;
	snprintf(p, sizeof(p), "%s/events/%s/%s", tracefs, group, name);
	return access(p, F_OK) == 0;
}

/* the tail call every sys_exit program makes, in place before anything is attached */
static int fl_prepare(struct vigil_session *s, void *ctx)
{
	struct fl_priv *p = ctx;
	int fd = bpf_program__fd(p->skel->progs.fl_finish);
	__u32 zero = 0;

	(void)s;
	if (bpf_map_update_elem(bpf_map__fd(p->skel->maps.fl_finish_prog), &zero, &fd, BPF_ANY)) {
		vigil_error("cannot set up 'fl_finish_prog': %s", strerror(errno));
		return -errno;
	}
	return 0;
}

static int file_start(struct vigil_inst *in)
{
	const struct fl_opts *o = in->opts;
	struct fl_priv *p = in->priv;
	bool rw = o->min_ns || o->hist, uring, uring_new;
	struct bpf_program *prog;
	struct file_bpf *skel;
	int err;

	/* classic syscall tracepoints: tracefs, mounted when missing */
	if ((err = vigil_env_need_tracefs()))
		return err;
	skel = p->skel = file_bpf__open();
	err = vigil_session_open(&p->s, in, skel ? skel->skeleton : NULL);
	if (err)
		return err;
	skel->rodata->only_failed = o->failed;
	skel->rodata->min_ns = o->min_ns;
	skel->rodata->want_hist = o->hist;
	skel->rodata->want_stream = !o->hist;
	skel->rodata->self_tgid = getpid();
	memcpy((void *)&skel->rodata->prefixes, &o->prefixes, sizeof(o->prefixes));
	bpf_object__for_each_program(prog, skel->obj) {
		const char *name = bpf_program__name(prog);

		for (int i = 0; rw_progs[i]; i++) {
			const char *tail = strchr(name + 3, '_');

			if (tail && !strcmp(tail + 1, rw_progs[i]))
				bpf_program__set_autoload(prog, rw);
		}
	}
	if (!fl_have_tp("syscalls", "sys_enter_fchmodat2")) {
		bpf_program__set_autoload(skel->progs.fl_enter_fchmodat2, false);
		bpf_program__set_autoload(skel->progs.fl_exit_fchmodat2, false);
	}
	/* io_uring: submit_req since 6.3, submit_sqe before (6.1) */
	uring_new = fl_have_tp("io_uring", "io_uring_submit_req");
	uring = fl_have_tp("io_uring", "io_uring_complete") &&
		(uring_new || fl_have_tp("io_uring", "io_uring_submit_sqe"));
	bpf_program__set_autoload(skel->progs.fl_uring_submit, uring && uring_new);
	bpf_program__set_autoload(skel->progs.fl_uring_submit_sqe, uring && !uring_new);
	bpf_program__set_autoload(skel->progs.fl_uring_complete, uring);
	if (!uring)
		bpf_map__set_max_entries(skel->maps.fl_uring, 1);
	/* the tail-call target is reached from the prog array, and attached to openat's exit */
	if (!o->hist)
		bpf_map__set_max_entries(skel->maps.fl_hist, 1);
	p->s.prepare = fl_prepare;
	p->s.prepare_ctx = p;
	out_set_columns(in->sink, o->hist ? hist_cols : file_cols);
	return vigil_session_start(&p->s, on_event, in);
}

static int file_stop(struct vigil_inst *in, int err)
{
	const struct fl_opts *o = in->opts;
	struct fl_priv *p = in->priv;

	if (p->s.in)
		err = vigil_session_close(&p->s, err);
	if (!err && o->hist && p->skel && !in->sink->broken_pipe)
		err = render_hist(in);
	file_bpf__destroy(p->skel);
	p->skel = NULL;
	fl_live_free(&p->live);
	return err;
}

static int file_sessions(struct vigil_inst *in, struct vigil_session **out, int max)
{
	struct fl_priv *p = in->priv;

	out[0] = &p->s;
	return max > 0 && p->skel ? 1 : 0;
}

/* the kernel's per-op counters (fl_ops), summed over CPUs, into ops[]; false if unreadable */
static bool read_ops(struct fl_priv *p, struct vigil_file_opstat ops[VIGIL_FOP__COUNT])
{
	int ncpu = libbpf_num_possible_cpus(), fd = bpf_map__fd(p->skel->maps.fl_ops);
	struct vigil_file_opstat *v;

	if (ncpu <= 0 || !(v = calloc(ncpu, sizeof(*v))))
		return false;
	memset(ops, 0, sizeof(*ops) * VIGIL_FOP__COUNT);
	for (uint32_t op = 0; op < VIGIL_FOP__COUNT; op++) {
		if (bpf_map_lookup_elem(fd, &op, v))
			continue;
		for (int c = 0; c < ncpu; c++) {
			for (int i = 0; i < VIGIL_FRES__COUNT; i++)
				ops[op].res[i] += v[c].res[i];
			ops[op].lat_sum_ns += v[c].lat_sum_ns;
		}
	}
	free(v);
	return true;
}

/*
 * Counted in the kernel for every call that passed the instance's filters
 * and --path, whatever --failed and --min send: not records received.
 */
static void file_metrics(struct vigil_inst *in, struct vigil_metrics *m)
{
	static const char *const res[VIGIL_FRES__COUNT] = { "ok", "ENOENT", "EACCES", "EPERM",
							    "other" };
	const struct fl_opts *o = in->opts;
	struct fl_priv *p = in->priv;
	struct vigil_file_opstat ops[VIGIL_FOP__COUNT];
	uint64_t full = 0;

	if (!p->skel || !read_ops(p, ops))
		return;
	vm_family(m, "vigil_file_ops_total", "counter",
		  "file calls by op and result, counted in the kernel after the filters");
	for (int op = 0; op < VIGIL_FOP__COUNT; op++)
		for (int i = 0; i < VIGIL_FRES__COUNT; i++)
			if (ops[op].res[i])
				vm_u64(m, ops[op].res[i],
				       (const char *[]){ "feature", in->name, "op", fl_op_name(op),
							 "result", res[i], NULL });
	{
		int ncpu = libbpf_num_possible_cpus(), fd = bpf_map__fd(p->skel->maps.fl_stash_full);
		uint64_t *u = ncpu > 0 ? calloc(ncpu, sizeof(*u)) : NULL;
		uint32_t zero = 0;

		if (u && !bpf_map_lookup_elem(fd, &zero, u))
			for (int c = 0; c < ncpu; c++)
				full += u[c];
		free(u);
	}
	vm_family(m, "vigil_file_untracked_total", "counter",
		  "calls not seen: more threads were inside watched calls at once than the kernel map holds");
	vm_u64(m, full, (const char *[]){ "feature", in->name, NULL });
	if (!o->hist || read_hist(p))
		return;
	vm_family(m, "vigil_file_op_latency_seconds", "histogram", "file operation latency, by op");
	for (int op = 0; op < VIGIL_FOP__COUNT; op++)
		if (vhist_count(p->hist[op]))
			vm_hist(m, p->hist[op], 1e-9, ops[op].lat_sum_ns * 1e-9,
				(const char *[]){ "feature", in->name, "op", fl_op_name(op), NULL });
}

static const struct vigil_feature feat_file = {
	.name = "file",
	.opts = file_opts,
	.opts_size = sizeof(struct fl_opts),
	.priv_size = sizeof(struct fl_priv),
	.start = file_start,
	.stop = file_stop,
	.sessions = file_sessions,
	.metrics = file_metrics,
};

const struct vigil_cmd cmd_file = {
	.name = "file",
	.summary = "trace file opens, unlink/rename/mkdir/..., slow file operations "
		   "(opensnoop + filelife + fsslower)",
	.flags = VC_ROOT | VC_BTF | VC_TRACE,
	.needs = VIGIL_MECH(VIGIL_M_TRACEPOINT) | VIGIL_MECH(VIGIL_M_RINGBUF),
	.feature = &feat_file,
};
