// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * vigil file: opens, lifecycle calls (unlink, rename, mkdir, ...) and slow
 * file operations, from the syscall tracepoints.
 *
 * Each sys_enter program only filters and keeps the arguments per thread.
 * Each sys_exit program tail-calls fl_finish, one program that does the real
 * work for every call: it is verified once instead of once per syscall,
 * which keeps the load (and so the start) fast with 31 syscalls hooked.
 *
 * Paths are resolved in the kernel, at the exit, while the caller's memory
 * and its fd table are still what the call used: the base directory (cwd,
 * the dirfd's directory, or for calls on an fd the fd's own file) is walked
 * up its dentries to the task's root, across mounts, then "/" and the
 * argument as passed are appended. ".." and "." are left for user space.
 * The --path prefixes are compared on that string, before anything is
 * reserved in the ring buffer.
 */
#include "common.bpf.h"
#include "hist.bpf.h"

#define AT_FDCWD -100
#define FMODE_CREATED 0x100000
#define HALF_MASK (VIGIL_FILE_HALF - 1)
/* an offset into the first half, masked where the verifier sees it (clang would drop it) */
#define HALF(off) ({ __u32 __o = (off); barrier_var(__o); __o & HALF_MASK; })

const volatile bool only_failed = false;	/* --failed */
const volatile __u64 min_ns = 0;		/* --min: slower calls only */
const volatile bool want_stream = true;		/* false with --hist alone */
const volatile bool want_hist = false;
const volatile __u32 self_tgid = 0;
const volatile struct vigil_file_prefixes prefixes = {};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct vigil_file_stash);
} fl_stash SEC(".maps");

struct fl_scratch {
	struct vigil_file_ev ev;
	__u64 names[VIGIL_FILE_DEPTH];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fl_scratch);
} fl_scratch SEC(".maps");

/* latency per op, summed by user space over CPUs */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VIGIL_FOP__COUNT);
	__type(key, __u32);
	__type(value, struct vigil_hist);
} fl_hist SEC(".maps");

/*
 * per op: calls by result, and their latency's sum, counted in the kernel
 * for every call that passed the filters and --path (the agent's metrics);
 * --failed and --min choose only what is sent
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VIGIL_FOP__COUNT);
	__type(key, __u32);
	__type(value, struct vigil_file_opstat);
} fl_ops SEC(".maps");

/* calls whose arguments did not fit in fl_stash */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} fl_stash_full SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} fl_finish_prog SEC(".maps");

/*
 * Where each call keeps its paths: d = argument index of the dirfd (-1:
 * relative to the cwd), p = argument index of the path (-1: none, the
 * subject is the fd in argument 0). Indexed by enum vigil_file_op.
 */
struct fl_layout {
	__s8 d[2];
	__s8 p[2];
	__u8 two;	/* path[1] is used */
	__u8 raw1;	/* path[1] is kept as passed (a symlink's target) */
	__u8 fd;	/* argument 0 is an fd, the subject */
	__u8 _pad;
};

/* a power of two: a mask keeps the index in bounds where the verifier sees it */
#define FL_LAYOUTS 64
_Static_assert(VIGIL_FOP__COUNT <= FL_LAYOUTS, "layouts: room for every op");

static const struct fl_layout layouts[FL_LAYOUTS] = {
	[VIGIL_FOP_OPEN] = { { -1, -1 }, { 0, -1 } },
	[VIGIL_FOP_OPENAT] = { { 0, -1 }, { 1, -1 } },
	[VIGIL_FOP_OPENAT2] = { { 0, -1 }, { 1, -1 } },
	[VIGIL_FOP_CREAT] = { { -1, -1 }, { 0, -1 } },
	[VIGIL_FOP_UNLINK] = { { -1, -1 }, { 0, -1 } },
	[VIGIL_FOP_UNLINKAT] = { { 0, -1 }, { 1, -1 } },
	[VIGIL_FOP_RENAME] = { { -1, -1 }, { 0, 1 }, 1 },
	[VIGIL_FOP_RENAMEAT] = { { 0, 2 }, { 1, 3 }, 1 },
	[VIGIL_FOP_RENAMEAT2] = { { 0, 2 }, { 1, 3 }, 1 },
	[VIGIL_FOP_MKDIR] = { { -1, -1 }, { 0, -1 } },
	[VIGIL_FOP_MKDIRAT] = { { 0, -1 }, { 1, -1 } },
	[VIGIL_FOP_RMDIR] = { { -1, -1 }, { 0, -1 } },
	/* path[0] is the new link, path[1] what it points to, unresolved */
	[VIGIL_FOP_SYMLINK] = { { -1, -1 }, { 1, 0 }, 1, 1 },
	[VIGIL_FOP_SYMLINKAT] = { { 1, -1 }, { 2, 0 }, 1, 1 },
	[VIGIL_FOP_LINK] = { { -1, -1 }, { 0, 1 }, 1 },
	[VIGIL_FOP_LINKAT] = { { 0, 2 }, { 1, 3 }, 1 },
	[VIGIL_FOP_TRUNCATE] = { { -1, -1 }, { 0, -1 } },
	[VIGIL_FOP_FTRUNCATE] = { { -1, -1 }, { -1, -1 }, 0, 0, 1 },
	[VIGIL_FOP_CHMOD] = { { -1, -1 }, { 0, -1 } },
	[VIGIL_FOP_FCHMODAT] = { { 0, -1 }, { 1, -1 } },
	[VIGIL_FOP_FCHMOD] = { { -1, -1 }, { -1, -1 }, 0, 0, 1 },
	[VIGIL_FOP_CHOWN] = { { -1, -1 }, { 0, -1 } },
	[VIGIL_FOP_LCHOWN] = { { -1, -1 }, { 0, -1 } },
	[VIGIL_FOP_FCHOWNAT] = { { 0, -1 }, { 1, -1 } },
	[VIGIL_FOP_FCHOWN] = { { -1, -1 }, { -1, -1 }, 0, 0, 1 },
	[VIGIL_FOP_READ] = { { -1, -1 }, { -1, -1 }, 0, 0, 1 },
	[VIGIL_FOP_WRITE] = { { -1, -1 }, { -1, -1 }, 0, 0, 1 },
	[VIGIL_FOP_PREAD64] = { { -1, -1 }, { -1, -1 }, 0, 0, 1 },
	[VIGIL_FOP_PWRITE64] = { { -1, -1 }, { -1, -1 }, 0, 0, 1 },
	[VIGIL_FOP_FSYNC] = { { -1, -1 }, { -1, -1 }, 0, 0, 1 },
	[VIGIL_FOP_FDATASYNC] = { { -1, -1 }, { -1, -1 }, 0, 0, 1 },
	[VIGIL_FOP_FCHMODAT2] = { { 0, -1 }, { 1, -1 } },
	/* the io_uring ops are not syscalls: their paths come from the request (fl_uring_submit) */
};

static __always_inline struct file *fl_fd_file(struct task_struct *t, __u32 fd)
{
	struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
	struct file **fds, *file = NULL;

	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]))
		return NULL;
	return file;
}

/*
 * The walk and the copy run as bpf_loop callbacks: verified once, where a
 * plain loop over dentries and mounts makes the verifier explore every
 * combination of branches of every level and give up.
 */
struct fl_walk_ctx {
	__u64 d, mnt, rd, rm, moff;
	__u32 n, deep;
};

static long fl_walk_step(__u32 i, void *c)
{
	struct fl_walk_ctx *w = c;
	struct dentry *d = (void *)w->d, *parent, *mroot;
	struct vfsmount *mnt = (void *)w->mnt;
	struct fl_scratch *s;
	__u32 zero = 0;

	if (!d || (w->d == w->rd && w->mnt == w->rm))
		return 1;
	parent = BPF_CORE_READ(d, d_parent);
	mroot = BPF_CORE_READ(mnt, mnt_root);
	if (d == mroot || d == parent) {
		/* the top of a mount: go on from where it is mounted */
		struct mount *m = (void *)mnt - w->moff, *pm = BPF_CORE_READ(m, mnt_parent);

		if (!pm || pm == m)
			return 1;
		w->d = (__u64)BPF_CORE_READ(m, mnt_mountpoint);
		w->mnt = (__u64)pm + w->moff;
		return 0;
	}
	if (w->n >= VIGIL_FILE_DEPTH) {
		w->deep = 1;
		return 1;
	}
	s = bpf_map_lookup_elem(&fl_scratch, &zero);
	if (!s)
		return 1;
	s->names[w->n & (VIGIL_FILE_DEPTH - 1)] = (__u64)BPF_CORE_READ(d, d_name.name);
	w->n++;
	w->d = (__u64)parent;
	return 0;
}

struct fl_copy_ctx {
	__u32 n, off, slot, over;
};

/* component n-1-i (the walk went leaf first) after a "/" */
static long fl_copy_step(__u32 i, void *c)
{
	struct fl_copy_ctx *k = c;
	struct fl_scratch *s;
	__u32 zero = 0, idx;
	char *buf;
	long len;

	if (i >= k->n)
		return 1;
	idx = k->n - 1 - i;
	s = bpf_map_lookup_elem(&fl_scratch, &zero);
	if (!s)
		return 1;
	if (k->off >= VIGIL_FILE_HALF - 1) {
		k->over = 1;
		return 1;
	}
	buf = s->ev.path[k->slot & 1];
	buf[HALF(k->off)] = '/';
	k->off++;
	len = bpf_probe_read_kernel_str(&buf[HALF(k->off)], VIGIL_FILE_HALF,
					(void *)s->names[idx & (VIGIL_FILE_DEPTH - 1)]);
	if (len > 0)
		k->off += len - 1;
	return 0;
}

/*
 * The absolute path of (d, mnt) into path slot `slot`, as seen from the
 * task's root; the length, or VIGIL_FILE_HALF when it did not fit.
 *
 * fl_walk, fl_path and fl_prefix_match are global (non-static, not
 * inlined) functions: the verifier checks each once, on its own, with its
 * arguments unknown, instead of once per call site in every state the
 * caller can be in. Inlined, the two paths' two walks made fl_finish 125k
 * verified instructions (about 100-200 ms of every start); their arguments
 * are scalars (pointers as __u64, read with BPF_CORE_READ) so that 6.1's
 * verifier takes them too.
 */
__noinline int fl_walk(__u32 slot, __u64 d, __u64 mnt)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct fl_walk_ctx w = {
		.d = d, .mnt = mnt,
		.rd = (__u64)BPF_CORE_READ(t, fs, root.dentry),
		.rm = (__u64)BPF_CORE_READ(t, fs, root.mnt),
		.moff = bpf_core_field_offset(struct mount, mnt),
	};
	struct fl_copy_ctx k = { .slot = slot };
	struct fl_scratch *s;
	__u32 zero = 0;
	char *buf;

	s = bpf_map_lookup_elem(&fl_scratch, &zero);
	if (!s)
		return VIGIL_FILE_HALF;
	buf = s->ev.path[slot & 1];
	bpf_loop(VIGIL_FILE_DEPTH + 8, fl_walk_step, &w, 0);
	k.n = w.n;
	bpf_loop(VIGIL_FILE_DEPTH, fl_copy_step, &k, 0);
	if (w.deep || k.over || k.off >= VIGIL_FILE_HALF)
		return VIGIL_FILE_HALF;
	if (!k.off) {
		buf[0] = '/';
		buf[1] = 0;
		k.off = 1;
	}
	return k.off;
}

/* argument i; the table is constant, so clang would drop a plain bounds check */
static __always_inline __u64 fl_arg(const struct vigil_file_stash *st, int i)
{
	__u32 k = (__u32)i;

	barrier_var(k);
	if (k >= 6)
		return 0;
	return st->args[k & 7];
}

/*
 * Path slot i: the base directory of fd (AT_FDCWD: the cwd) + "/" + arg, or
 * arg alone when absolute, or with no arg the fd's own path. arg is a user
 * pointer, or with kern a kernel one (an io_uring request's struct
 * filename). 0 if truncated.
 */
__noinline int fl_path_at(__u32 i, int fd, __u64 argp, __u32 kern)
{
	struct task_struct *t = bpf_get_current_task_btf();
	const char *arg = (const char *)argp;
	struct fl_scratch *s;
	__u64 d = 0, mnt = 0;
	__u32 off = 0, zero = 0;
	char c = 0, *buf;
	long len;

	s = bpf_map_lookup_elem(&fl_scratch, &zero);
	if (!s)
		return 1;
	buf = s->ev.path[i & 1];
	s->ev.rel[i & 1] = 0;
	s->ev.len[i & 1] = 0;
	buf[0] = 0;
	if (arg && (kern ? bpf_probe_read_kernel(&c, 1, arg) : bpf_probe_read_user(&c, 1, arg)))
		c = 0;
	if (!arg || c != '/') {
		struct file *f = NULL;

		if (fd == AT_FDCWD) {
			d = (__u64)BPF_CORE_READ(t, fs, pwd.dentry);
			mnt = (__u64)BPF_CORE_READ(t, fs, pwd.mnt);
		} else {
			f = fl_fd_file(t, (__u32)fd);
			if (f) {
				d = (__u64)BPF_CORE_READ(f, f_path.dentry);
				mnt = (__u64)BPF_CORE_READ(f, f_path.mnt);
			}
		}
		if (d && mnt) {
			off = fl_walk(i, d, mnt);
			if (off >= VIGIL_FILE_HALF)
				return 0;
		}
		if (!arg) {
			s->ev.rel[i & 1] = off;
			s->ev.len[i & 1] = off;
			return 1;
		}
		if (off) {
			buf[HALF(off)] = '/';
			off++;
		}
	}
	s->ev.rel[i & 1] = off;
	if (kern)
		len = bpf_probe_read_kernel_str(&buf[HALF(off)], VIGIL_FILE_HALF, arg);
	else
		len = bpf_probe_read_user_str(&buf[HALF(off)], VIGIL_FILE_HALF, arg);
	if (len > 0)
		off += len - 1;
	s->ev.len[i & 1] = off;
	return len < VIGIL_FILE_HALF;
}

/* path slot 1 exactly as passed (a symlink's target); 0 if truncated */
__noinline int fl_path_raw(__u64 argp, __u32 kern)
{
	struct fl_scratch *s;
	__u32 zero = 0;
	long len;

	s = bpf_map_lookup_elem(&fl_scratch, &zero);
	if (!s)
		return 1;
	if (kern)
		len = bpf_probe_read_kernel_str(s->ev.path[1], VIGIL_FILE_HALF, (void *)argp);
	else
		len = bpf_probe_read_user_str(s->ev.path[1], VIGIL_FILE_HALF, (void *)argp);
	s->ev.rel[1] = 0;
	s->ev.len[1] = len > 0 ? len - 1 : 0;
	return len < VIGIL_FILE_HALF;
}

/* path slot i of the syscall in flight, from its arguments (layouts) */
__noinline int fl_path(__u32 i)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid(), op;
	const struct vigil_file_stash *st;
	const struct fl_layout *l;
	__u64 arg = 0;
	int pi, di, fd = AT_FDCWD;

	st = bpf_map_lookup_elem(&fl_stash, &tid);
	if (!st)
		return 1;
	op = st->op;
	barrier_var(op);
	l = &layouts[op & (FL_LAYOUTS - 1)];
	pi = l->p[i & 1];
	di = l->d[i & 1];
	if (pi >= 0)
		arg = fl_arg(st, pi);
	if (i == 1 && l->raw1)
		return fl_path_raw(arg, 0);
	if (l->fd)
		fd = (int)st->args[0];
	else if (di >= 0)
		fd = (int)fl_arg(st, di);
	return fl_path_at(i, fd, arg, 0);
}

/* path slot i starts with one of the --path prefixes (or there are none) */
__noinline int fl_prefix_match(__u32 i)
{
	struct fl_scratch *s;
	__u32 zero = 0;
	const char *buf;

	if (!prefixes.n)
		return 1;
	s = bpf_map_lookup_elem(&fl_scratch, &zero);
	if (!s)
		return 0;
	buf = s->ev.path[i & 1];
	for (int k = 0; k < VIGIL_FILE_PREFIXES; k++) {
		bool ok = true;

		if (k >= prefixes.n)
			break;
		for (int j = 0; j < VIGIL_FILE_PREFIX_LEN; j++) {
			if (j >= prefixes.len[k])
				break;
			if (buf[j] != prefixes.s[k][j]) {
				ok = false;
				break;
			}
		}
		if (ok)
			return 1;
	}
	return 0;
}

static __always_inline int fl_enter(__u32 op, struct trace_event_raw_sys_enter *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct vigil_file_stash st = { .op = op };

	if ((__u32)(bpf_get_current_pid_tgid() >> 32) == self_tgid || !vigil_filter_pass())
		return 0;
	st.ts = bpf_ktime_get_boot_ns();
	/*
	 * Through a helper: a direct load of args[5] would make the program's
	 * context size 6 arguments, and the kernel refuses to attach it to the
	 * tracepoint of a call with fewer (EACCES). Past the last argument this
	 * reads bytes no one looks at.
	 */
	bpf_probe_read_kernel(st.args, sizeof(st.args), (void *)ctx->args);
	if (op == VIGIL_FOP_READ || op == VIGIL_FOP_WRITE) {
		struct file *f = fl_fd_file(bpf_get_current_task_btf(), (__u32)st.args[0]);

		st.pos = f ? BPF_CORE_READ(f, f_pos) : 0;
	}
	if (bpf_map_update_elem(&fl_stash, &tid, &st, BPF_ANY))
		vigil_inc(&fl_stash_full, 0);
	return 0;
}

static __always_inline bool fl_is_rw(__u32 op)
{
	return op >= VIGIL_FOP_READ && op <= VIGIL_FOP_FDATASYNC;
}

static __always_inline __u32 fl_res(long ret)
{
	if (ret >= 0)
		return VIGIL_FRES_OK;
	if (ret == -2)
		return VIGIL_FRES_ENOENT;
	if (ret == -13)
		return VIGIL_FRES_EACCES;
	if (ret == -1)
		return VIGIL_FRES_EPERM;
	return VIGIL_FRES_OTHER;
}

/*
 * Both paths of the call in flight into the record, with their flags; true
 * when one of them is under a --path prefix (or there are none). Global, so
 * verified once though fl_finish calls it from two places.
 */
__noinline int fl_resolve(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid(), zero = 0, op;
	const struct vigil_file_stash *st;
	const struct fl_layout *l;
	struct fl_scratch *s;

	s = bpf_map_lookup_elem(&fl_scratch, &zero);
	st = bpf_map_lookup_elem(&fl_stash, &tid);
	if (!s || !st)
		return 0;
	op = st->op;
	/* 6.1's verifier loses a bound clang checked on another copy: mask where it is used */
	barrier_var(op);
	l = &layouts[op & (FL_LAYOUTS - 1)];
	s->ev.flags = 0;
	if (!fl_path(0))
		s->ev.flags |= VIGIL_FILE_TRUNC0;
	if (l->two) {
		s->ev.flags |= VIGIL_FILE_TWO | (l->raw1 ? VIGIL_FILE_RAW1 : 0);
		if (!fl_path(1))
			s->ev.flags |= VIGIL_FILE_TRUNC1;
	} else {
		s->ev.path[1][0] = 0;
		s->ev.rel[1] = s->ev.len[1] = 0;
	}
	return fl_prefix_match(0) || (l->two && !l->raw1 && fl_prefix_match(1));
}

/* every sys_exit lands here (tail call): ctx->ret is the call's return */
SEC("tracepoint/syscalls/sys_exit_openat")
int fl_finish(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid(), zero = 0, op;
	struct task_struct *t = bpf_get_current_task_btf();
	struct vigil_file_opstat *c;
	struct vigil_file_stash *st;
	struct fl_scratch *s;
	__u64 now = bpf_ktime_get_boot_ns(), lat;
	long ret = ctx->ret;

	st = bpf_map_lookup_elem(&fl_stash, &tid);
	if (!st)
		return 0;
	op = st->op;
	lat = now - st->ts;
	if (op >= VIGIL_FOP__COUNT)
		goto out;
	/*
	 * With --path what is counted is what is under the prefixes, so the
	 * paths come first; without, they are resolved only for what is sent.
	 */
	if (prefixes.n && !fl_resolve())
		goto out;
	c = bpf_map_lookup_elem(&fl_ops, &op);
	if (c) {
		c->res[fl_res(ret)]++;
		c->lat_sum_ns += lat;
	}
	if (want_hist) {
		struct vigil_hist *h = bpf_map_lookup_elem(&fl_hist, &op);

		if (h)
			h->slots[vigil_hist_slot(lat)]++;
	}
	if (!want_stream || (only_failed && ret >= 0) || lat < min_ns)
		goto out;
	/* read and write are only sent for --min */
	if (fl_is_rw(op) && !min_ns)
		goto out;
	s = bpf_map_lookup_elem(&fl_scratch, &zero);
	if (!s)
		goto out;
	if (!prefixes.n)
		fl_resolve();
	for (int i = 0; i < 6; i++)
		s->ev.args[i] = st->args[i];
	if (op == VIGIL_FOP_OPENAT2) {
		struct open_how how = {};

		bpf_probe_read_user(&how, sizeof(how), (void *)st->args[2]);
		s->ev.args[2] = how.flags;
		s->ev.args[3] = how.mode;
		s->ev.args[4] = how.resolve;
	}
	if (op == VIGIL_FOP_READ || op == VIGIL_FOP_WRITE)
		s->ev.args[3] = st->pos;
	if (op <= VIGIL_FOP_CREAT && ret >= 0) {
		struct file *f = fl_fd_file(t, (__u32)ret);

		if (f && (BPF_CORE_READ(f, f_mode) & FMODE_CREATED))
			s->ev.flags |= VIGIL_FILE_CREATED;
	}
	s->ev.op = op;
	s->ev.ret = ret;
	s->ev.latency_ns = lat;
	vigil_fill_hdr(&s->ev.hdr, VIGIL_EV_FILE, t);
	s->ev.hdr.ts = st->ts;
	if (bpf_ringbuf_output(&vigil_events, &s->ev, sizeof(s->ev), 0))
		vigil_count_lost();
out:
	bpf_map_delete_elem(&fl_stash, &tid);
	return 0;
}

#define FL_SYSCALL(name, op)							\
SEC("tracepoint/syscalls/sys_enter_" #name)					\
int fl_enter_##name(struct trace_event_raw_sys_enter *ctx)			\
{										\
	return fl_enter(op, ctx);						\
}										\
SEC("tracepoint/syscalls/sys_exit_" #name)					\
int fl_exit_##name(struct trace_event_raw_sys_exit *ctx)			\
{										\
	bpf_tail_call(ctx, &fl_finish_prog, 0);					\
	return 0;								\
}

/* openat's exit is fl_finish itself */
SEC("tracepoint/syscalls/sys_enter_openat")
int fl_enter_openat(struct trace_event_raw_sys_enter *ctx)
{
	return fl_enter(VIGIL_FOP_OPENAT, ctx);
}

FL_SYSCALL(open, VIGIL_FOP_OPEN)
FL_SYSCALL(openat2, VIGIL_FOP_OPENAT2)
FL_SYSCALL(creat, VIGIL_FOP_CREAT)
FL_SYSCALL(unlink, VIGIL_FOP_UNLINK)
FL_SYSCALL(unlinkat, VIGIL_FOP_UNLINKAT)
FL_SYSCALL(rename, VIGIL_FOP_RENAME)
FL_SYSCALL(renameat, VIGIL_FOP_RENAMEAT)
FL_SYSCALL(renameat2, VIGIL_FOP_RENAMEAT2)
FL_SYSCALL(mkdir, VIGIL_FOP_MKDIR)
FL_SYSCALL(mkdirat, VIGIL_FOP_MKDIRAT)
FL_SYSCALL(rmdir, VIGIL_FOP_RMDIR)
FL_SYSCALL(symlink, VIGIL_FOP_SYMLINK)
FL_SYSCALL(symlinkat, VIGIL_FOP_SYMLINKAT)
FL_SYSCALL(link, VIGIL_FOP_LINK)
FL_SYSCALL(linkat, VIGIL_FOP_LINKAT)
FL_SYSCALL(truncate, VIGIL_FOP_TRUNCATE)
FL_SYSCALL(ftruncate, VIGIL_FOP_FTRUNCATE)
FL_SYSCALL(chmod, VIGIL_FOP_CHMOD)
FL_SYSCALL(fchmodat, VIGIL_FOP_FCHMODAT)
FL_SYSCALL(fchmod, VIGIL_FOP_FCHMOD)
FL_SYSCALL(chown, VIGIL_FOP_CHOWN)
FL_SYSCALL(lchown, VIGIL_FOP_LCHOWN)
FL_SYSCALL(fchownat, VIGIL_FOP_FCHOWNAT)
FL_SYSCALL(fchown, VIGIL_FOP_FCHOWN)
/* the slow-operation calls: loaded with --min or --hist only */
FL_SYSCALL(read, VIGIL_FOP_READ)
FL_SYSCALL(write, VIGIL_FOP_WRITE)
FL_SYSCALL(pread64, VIGIL_FOP_PREAD64)
FL_SYSCALL(pwrite64, VIGIL_FOP_PWRITE64)
FL_SYSCALL(fsync, VIGIL_FOP_FSYNC)
FL_SYSCALL(fdatasync, VIGIL_FOP_FDATASYNC)
/* Linux 6.6+: not loaded where the tracepoint is missing (src/cmd/file.c) */
FL_SYSCALL(fchmodat2, VIGIL_FOP_FCHMODAT2)

/*
 * ---- io_uring: opens, unlinks, renames, mkdir, symlink, link as requests ----
 *
 * They do not go through the syscalls. io_uring_submit_req fires in the
 * submitter (its thread, or its SQPOLL thread, which shares its fs and fd
 * table) after the request's prep has copied the path into a struct
 * filename: the record is built there, paths resolved against the dirfd
 * or cwd as for the syscalls, and kept per request. io_uring_complete (in
 * the submitter or its io-wq worker) gives the result; by then the kernel
 * has freed the filename, which is why the path is taken at submit.
 */
#define IORING_OP_OPENAT_ 18
#define IORING_OP_OPENAT2_ 28
#define IORING_OP_RENAMEAT_ 35
#define IORING_OP_UNLINKAT_ 36
#define IORING_OP_MKDIRAT_ 37
#define IORING_OP_SYMLINKAT_ 38
#define IORING_OP_LINKAT_ 39

/* requests in flight, by struct io_kiocb *: LRU, so a request never completed cannot fill it */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, struct vigil_file_ev);
} fl_uring SEC(".maps");

static __always_inline __u64 fl_kname(struct filename *f)
{
	return (__u64)BPF_CORE_READ(f, name);
}

static __always_inline int fl_uring_submit_of(struct io_kiocb *req)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct fl_scratch *s;
	__u64 key = (__u64)req;
	__u32 zero = 0, op;
	bool two = false, raw1 = false, ok0 = true, ok1 = true;
	__u8 opc = BPF_CORE_READ(req, opcode);

	switch (opc) {
	case IORING_OP_OPENAT_: op = VIGIL_FOP_URING_OPENAT; break;
	case IORING_OP_OPENAT2_: op = VIGIL_FOP_URING_OPENAT2; break;
	case IORING_OP_UNLINKAT_: op = VIGIL_FOP_URING_UNLINKAT; break;
	case IORING_OP_RENAMEAT_: op = VIGIL_FOP_URING_RENAMEAT; break;
	case IORING_OP_MKDIRAT_: op = VIGIL_FOP_URING_MKDIRAT; break;
	case IORING_OP_SYMLINKAT_: op = VIGIL_FOP_URING_SYMLINKAT; break;
	case IORING_OP_LINKAT_: op = VIGIL_FOP_URING_LINKAT; break;
	default: return 0;
	}
	if ((__u32)(bpf_get_current_pid_tgid() >> 32) == self_tgid || !vigil_filter_pass())
		return 0;
	s = bpf_map_lookup_elem(&fl_scratch, &zero);
	if (!s)
		return 0;
	for (int i = 0; i < 6; i++)
		s->ev.args[i] = 0;
	s->ev.path[1][0] = 0;
	s->ev.rel[1] = s->ev.len[1] = 0;
	if (op == VIGIL_FOP_URING_OPENAT || op == VIGIL_FOP_URING_OPENAT2) {
		struct io_open *o = (void *)req;
		int dfd = BPF_CORE_READ(o, dfd);

		/* the syscall's layout: dirfd, -, flags, mode, resolve */
		s->ev.args[0] = dfd;
		s->ev.args[2] = BPF_CORE_READ(o, how.flags);
		s->ev.args[3] = BPF_CORE_READ(o, how.mode);
		s->ev.args[4] = BPF_CORE_READ(o, how.resolve);
		ok0 = fl_path_at(0, dfd, fl_kname(BPF_CORE_READ(o, filename)), 1);
	} else if (op == VIGIL_FOP_URING_UNLINKAT) {
		struct io_unlink *u = (void *)req;
		int dfd = BPF_CORE_READ(u, dfd);

		s->ev.args[0] = dfd;
		s->ev.args[2] = BPF_CORE_READ(u, flags);
		ok0 = fl_path_at(0, dfd, fl_kname(BPF_CORE_READ(u, filename)), 1);
	} else if (op == VIGIL_FOP_URING_MKDIRAT) {
		struct io_mkdir *m = (void *)req;
		int dfd = BPF_CORE_READ(m, dfd);

		s->ev.args[0] = dfd;
		s->ev.args[2] = BPF_CORE_READ(m, mode);
		ok0 = fl_path_at(0, dfd, fl_kname(BPF_CORE_READ(m, filename)), 1);
	} else {
		/* rename, link: old -> new; symlink: the new link, then its target as passed */
		struct io_rename *r = (void *)req;
		int od = BPF_CORE_READ(r, old_dfd), nd = BPF_CORE_READ(r, new_dfd);
		__u64 oldp = fl_kname(BPF_CORE_READ(r, oldpath));
		__u64 newp = fl_kname(BPF_CORE_READ(r, newpath));

		two = true;
		s->ev.args[0] = od;
		s->ev.args[2] = nd;
		if (op == VIGIL_FOP_URING_RENAMEAT)
			s->ev.args[4] = BPF_CORE_READ(r, flags);
		else if (op == VIGIL_FOP_URING_LINKAT)
			s->ev.args[4] = BPF_CORE_READ((struct io_link *)req, flags);
		if (op == VIGIL_FOP_URING_SYMLINKAT) {
			raw1 = true;
			ok0 = fl_path_at(0, nd, newp, 1);
			ok1 = fl_path_raw(oldp, 1);
		} else {
			ok0 = fl_path_at(0, od, oldp, 1);
			ok1 = fl_path_at(1, nd, newp, 1);
		}
	}
	s->ev.flags = (ok0 ? 0 : VIGIL_FILE_TRUNC0) | (two ? VIGIL_FILE_TWO : 0) |
		      (raw1 ? VIGIL_FILE_RAW1 : 0) | (ok1 ? 0 : VIGIL_FILE_TRUNC1);
	if (!fl_prefix_match(0) && !(two && !raw1 && fl_prefix_match(1)))
		return 0;
	s->ev.op = op;
	s->ev.ret = 0;
	s->ev.latency_ns = 0;
	vigil_fill_hdr(&s->ev.hdr, VIGIL_EV_FILE, t);
	s->ev.hdr.ts = bpf_ktime_get_boot_ns();
	if (bpf_map_update_elem(&fl_uring, &key, &s->ev, BPF_ANY))
		vigil_inc(&fl_stash_full, 0);
	return 0;
}

SEC("tracepoint/io_uring/io_uring_submit_req")
int fl_uring_submit(struct trace_event_raw_io_uring_submit_req *ctx)
{
	return fl_uring_submit_of((void *)BPF_CORE_READ(ctx, req));
}

/*
 * Before 6.3 the same tracepoint, at the same place, was io_uring_submit_sqe
 * (6.1 in the matrix); its first fields are the same: ring at 8, req at 16.
 * Loaded only where submit_req is missing (src/cmd/file.c).
 */
SEC("tracepoint/io_uring/io_uring_submit_sqe")
int fl_uring_submit_sqe(void *ctx)
{
	return fl_uring_submit_of(*(struct io_kiocb **)((char *)ctx + 16));
}

SEC("tracepoint/io_uring/io_uring_complete")
int fl_uring_complete(struct trace_event_raw_io_uring_complete *ctx)
{
	__u64 key = (__u64)BPF_CORE_READ(ctx, req), lat;
	struct vigil_file_opstat *c;
	struct vigil_file_ev *ev;
	long ret;
	__u32 op;

	ev = bpf_map_lookup_elem(&fl_uring, &key);
	if (!ev)
		return 0;
	ret = BPF_CORE_READ(ctx, res);
	op = ev->op;
	lat = bpf_ktime_get_boot_ns() - ev->hdr.ts;
	if (op >= VIGIL_FOP__COUNT)
		goto out;
	c = bpf_map_lookup_elem(&fl_ops, &op);
	if (c) {
		c->res[fl_res(ret)]++;
		c->lat_sum_ns += lat;
	}
	if (want_hist) {
		struct vigil_hist *h = bpf_map_lookup_elem(&fl_hist, &op);

		if (h)
			h->slots[vigil_hist_slot(lat)]++;
	}
	if (!want_stream || (only_failed && ret >= 0) || lat < min_ns)
		goto out;
	ev->ret = ret;
	ev->latency_ns = lat;
	/* an open into the fd table (not a fixed-file slot): did it make the file? */
	if ((op == VIGIL_FOP_URING_OPENAT || op == VIGIL_FOP_URING_OPENAT2) && ret >= 0) {
		struct file *f = fl_fd_file(bpf_get_current_task_btf(), (__u32)ret);

		if (f && (BPF_CORE_READ(f, f_mode) & FMODE_CREATED))
			ev->flags |= VIGIL_FILE_CREATED;
	}
	if (bpf_ringbuf_output(&vigil_events, ev, sizeof(*ev), 0))
		vigil_count_lost();
out:
	bpf_map_delete_elem(&fl_uring, &key);
	return 0;
}
