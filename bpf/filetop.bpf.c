// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * filetop: reads and writes per process and file, counted in the kernel.
 *
 * Two ways to see the same calls; user space loads one of them
 * (core/session.c picks, see docs/filetop.md):
 *  - fexit on vfs_read/vfs_write: the struct file and the byte count come
 *    with the one hook, no state between entry and exit;
 *  - the classic syscall tracepoints of read, write, pread64 and pwrite64:
 *    the fd is resolved to its struct file at entry and kept per thread
 *    until the exit, where the return value gives the bytes.
 * Both end in ft_count(), so rows look the same whichever ran.
 *
 * The counts live in one of two hash maps; ft_active (an array of maps)
 * says which one programs write. Every interval user space swaps them: the
 * kernel waits for running programs on a map-in-map update, so the old map
 * is quiet when user space reads and clears it and no count falls between
 * two intervals.
 */
#include "common.bpf.h"
#include "mech.bpf.h"

#define S_IFMT 0170000
#define S_IFREG 0100000
#define EEXIST 17

const volatile bool want_all = false;	/* also sockets, pipes, devices */
const volatile __u32 self_tgid = 0;	/* vigil's own output is not counted */

struct ft_counts {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);	/* --max-files, set before load */
	__type(key, struct vigil_ft_key);
	__type(value, struct vigil_ft_val);
} ft_counts_a SEC(".maps"), ft_counts_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct ft_counts);
} ft_active SEC(".maps") = {
	.values = { [0] = &ft_counts_a },
};

/* tracepoint path: the file of the call in flight, per thread, deleted at exit */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct vigil_ft_inflight);
} ft_inflight SEC(".maps");

/* calls not counted because a map was full, per enum vigil_ft_drop */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VIGIL_FT_DROP__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} ft_drops SEC(".maps");

/*
 * calls and bytes per (enum vigil_ft_kind, direction), index kind * 2 +
 * write: the agent's totals, counted here so they are exact even when the
 * rows map is full
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VIGIL_FT_K__COUNT * 2);
	__type(key, __u32);
	__type(value, struct vigil_ft_total);
} ft_totals SEC(".maps");

static __always_inline void ft_drop(__u32 why)
{
	vigil_inc(&ft_drops, why);
}

/* filters that apply on both paths, before any map is touched */
static __always_inline bool ft_wanted(void)
{
	if ((__u32)(bpf_get_current_pid_tgid() >> 32) == self_tgid)
		return false;
	return vigil_filter_pass();
}

/*
 * who: the task the row is about; NULL for current. io_uring completions may
 * run in the process's io-wq worker: the row then takes the process's
 * leader's name, not "iou-wrk-N".
 */
static __always_inline void ft_count_as(struct file *file, bool write, long ret,
					struct task_struct *who, __u32 kind)
{
	struct vigil_ft_total *tot;
	__u32 ti;
	struct vigil_ft_key key = {};
	struct vigil_ft_val *v;
	struct inode *inode;
	__u32 zero = 0, mode;
	void *counts;
	long err;

	/*
	 * Successful calls only: a failed pread64 on a pipe (ESPIPE) or a
	 * read of a bad fd never reaches vfs_read, so counting failures would
	 * make the two paths disagree.
	 */
	if (!file || ret < 0)
		return;
	inode = BPF_CORE_READ(file, f_inode);
	if (!inode)
		return;
	mode = BPF_CORE_READ(inode, i_mode);
	if (!want_all && (mode & S_IFMT) != S_IFREG)
		return;
	ti = (kind < VIGIL_FT_K__COUNT ? kind : 0) * 2 + (write ? 1 : 0);
	tot = bpf_map_lookup_elem(&ft_totals, &ti);
	if (tot) {
		tot->calls++;
		if (ret > 0)
			tot->bytes += ret;
	}
	key.pid = bpf_get_current_pid_tgid() >> 32;
	key.dev = BPF_CORE_READ(inode, i_sb, s_dev);
	key.ino = BPF_CORE_READ(inode, i_ino);

	counts = bpf_map_lookup_elem(&ft_active, &zero);
	if (!counts)
		return;
	v = bpf_map_lookup_elem(counts, &key);
	if (!v) {
		/* a new row: who and what, captured once */
		struct vigil_ft_val init = {};

		init.uid = (__u32)bpf_get_current_uid_gid();
		init.tid = (__u32)bpf_get_current_pid_tgid();
		init.mode = mode;
		if (who)
			BPF_CORE_READ_STR_INTO(&init.comm, who, comm);
		else
			bpf_get_current_comm(init.comm, sizeof(init.comm));
		bpf_probe_read_kernel_str(init.name, sizeof(init.name),
					  BPF_CORE_READ(file, f_path.dentry, d_name.name));
		err = bpf_map_update_elem(counts, &key, &init, BPF_NOEXIST);
		/* -EEXIST: another CPU made the row first, use it */
		if (err && err != -EEXIST) {
			ft_drop(VIGIL_FT_DROP_FULL);
			return;
		}
		v = bpf_map_lookup_elem(counts, &key);
		if (!v)
			return;
	}
	if (write) {
		__sync_fetch_and_add(&v->writes, 1);
		if (ret > 0)
			__sync_fetch_and_add(&v->wbytes, ret);
	} else {
		__sync_fetch_and_add(&v->reads, 1);
		if (ret > 0)
			__sync_fetch_and_add(&v->rbytes, ret);
	}
}

static __always_inline void ft_count(struct file *file, bool write, long ret, __u32 kind)
{
	ft_count_as(file, write, ret, NULL, kind);
}

/* ---- fentry path ---------------------------------------------------------- */

/* seen slots: 0 vfs_read, 1 vfs_write (src/cmd/filetop.c lists them) */
SEC("fexit/vfs_read")
int BPF_PROG(ft_vfs_read, struct file *file, char *buf, size_t count, loff_t *pos, ssize_t ret)
{
	vigil_seen_hit(0);
	if (ft_wanted())
		ft_count(file, false, ret, VIGIL_FT_K_RW);
	return 0;
}

SEC("fexit/vfs_write")
int BPF_PROG(ft_vfs_write, struct file *file, const char *buf, size_t count, loff_t *pos,
	     ssize_t ret)
{
	vigil_seen_hit(1);
	if (ft_wanted())
		ft_count(file, true, ret, VIGIL_FT_K_RW);
	return 0;
}

/* ---- tracepoint path ------------------------------------------------------ */

/* the fd's struct file, from the current task's table (CO-RE reads) */
static __always_inline struct file *ft_fd_file(__u32 fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds, *file = NULL;

	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]))
		return NULL;
	return file;
}

/*
 * The fd is resolved at entry, not at exit: the syscall holds that file for
 * the whole call, so this is the file it really reads even if another
 * thread closes or reuses the fd meanwhile; and calls on files that are not
 * counted (pipes and sockets without --all, bad fds) never touch the map.
 */
/* the fd's file if it is one filetop counts (regular files, or all with --all) */
static __always_inline struct file *ft_wanted_file(__u32 fd)
{
	struct file *file = ft_fd_file(fd);

	if (!file)
		return NULL;
	if (!want_all && (BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) != S_IFREG)
		return NULL;
	return file;
}

static __always_inline int ft_stash(struct vigil_ft_inflight *in)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	if (!in->file && !in->file2)
		return 0;
	if (bpf_map_update_elem(&ft_inflight, &tid, in, BPF_ANY))
		ft_drop(VIGIL_FT_DROP_INFLIGHT);
	return 0;
}

static __always_inline int ft_enter(__u32 fd, __u32 write, __u32 kind)
{
	struct vigil_ft_inflight in = { .write = write, .kind = kind };

	if (!ft_wanted())
		return 0;
	in.file = (__u64)ft_wanted_file(fd);
	return ft_stash(&in);
}

/* sendfile, splice, copy_file_range: the bytes are read from one file and written to another */
static __always_inline int ft_enter2(__u32 fd_in, __u32 fd_out, __u32 kind)
{
	struct vigil_ft_inflight in = { .kind = kind };

	if (!ft_wanted())
		return 0;
	in.file = (__u64)ft_wanted_file(fd_in);
	in.file2 = (__u64)ft_wanted_file(fd_out);
	return ft_stash(&in);
}

static __always_inline int ft_exit(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct vigil_ft_inflight *in;
	struct file *file, *file2;
	__u32 write, kind;

	in = bpf_map_lookup_elem(&ft_inflight, &tid);
	if (!in)
		return 0;
	file = (struct file *)in->file;
	file2 = (struct file *)in->file2;
	write = in->write;
	kind = in->kind;
	bpf_map_delete_elem(&ft_inflight, &tid);
	ft_count(file, write, ret, kind);
	ft_count(file2, true, ret, kind);
	return 0;
}

/* seen slots: 0..7 in the order of the programs below */
#define FT_SYSCALL(name, write, slot)						\
SEC("tracepoint/syscalls/sys_enter_" #name)					\
int ft_enter_##name(struct trace_event_raw_sys_enter *ctx)			\
{										\
	vigil_seen_hit(slot);							\
	/* the four take an unsigned int fd: the kernel ignores the upper bits */	\
	return ft_enter((__u32)ctx->args[0], write, VIGIL_FT_K_RW);		\
}										\
SEC("tracepoint/syscalls/sys_exit_" #name)					\
int ft_exit_##name(struct trace_event_raw_sys_exit *ctx)			\
{										\
	vigil_seen_hit(slot + 1);						\
	return ft_exit(ctx->ret);						\
}

FT_SYSCALL(read, 0, 0)
FT_SYSCALL(pread64, 0, 2)
FT_SYSCALL(write, 1, 4)
FT_SYSCALL(pwrite64, 1, 6)

/*
 * ---- on both paths: the calls vfs_read/vfs_write do not see ----------------
 *
 * readv, writev and their p/p2 forms go through vfs_readv/vfs_writev and
 * the iter functions, sendfile, splice and copy_file_range through the
 * splice machinery, io_uring through f_op->read_iter: none of them passes
 * vfs_read or vfs_write, so the fentry path loads these tracepoints too and
 * both paths count the same calls once.
 */
#define FT_SYSCALL_ALL(name, write)						\
SEC("tracepoint/syscalls/sys_enter_" #name)					\
int ft_enter_##name(struct trace_event_raw_sys_enter *ctx)			\
{										\
	return ft_enter((__u32)ctx->args[0], write, VIGIL_FT_K_VECTORED);	\
}										\
SEC("tracepoint/syscalls/sys_exit_" #name)					\
int ft_exit_##name(struct trace_event_raw_sys_exit *ctx)			\
{										\
	return ft_exit(ctx->ret);						\
}

FT_SYSCALL_ALL(readv, 0)
FT_SYSCALL_ALL(preadv, 0)
FT_SYSCALL_ALL(preadv2, 0)
FT_SYSCALL_ALL(writev, 1)
FT_SYSCALL_ALL(pwritev, 1)
FT_SYSCALL_ALL(pwritev2, 1)

/* sendfile(out_fd, in_fd, ...): arguments the other way round */
SEC("tracepoint/syscalls/sys_enter_sendfile64")
int ft_enter_sendfile64(struct trace_event_raw_sys_enter *ctx)
{
	return ft_enter2((__u32)ctx->args[1], (__u32)ctx->args[0], VIGIL_FT_K_SENDFILE);
}

SEC("tracepoint/syscalls/sys_exit_sendfile64")
int ft_exit_sendfile64(struct trace_event_raw_sys_exit *ctx)
{
	return ft_exit(ctx->ret);
}

/* splice and copy_file_range(fd_in, off_in, fd_out, ...) */
#define FT_SYSCALL_TWO(name, kind)						\
SEC("tracepoint/syscalls/sys_enter_" #name)					\
int ft_enter_##name(struct trace_event_raw_sys_enter *ctx)			\
{										\
	return ft_enter2((__u32)ctx->args[0], (__u32)ctx->args[2], kind);	\
}										\
SEC("tracepoint/syscalls/sys_exit_" #name)					\
int ft_exit_##name(struct trace_event_raw_sys_exit *ctx)			\
{										\
	return ft_exit(ctx->ret);						\
}

FT_SYSCALL_TWO(splice, VIGIL_FT_K_SPLICE)
FT_SYSCALL_TWO(copy_file_range, VIGIL_FT_K_COPY)

/* the io_uring opcodes that read or write a file (uapi, stable) */
#define IORING_OP_READV_ 1
#define IORING_OP_WRITEV_ 2
#define IORING_OP_READ_FIXED_ 4
#define IORING_OP_WRITE_FIXED_ 5
#define IORING_OP_READ_ 22
#define IORING_OP_WRITE_ 23

/*
 * One completion per request, with its result: the bytes. It runs in the
 * submitting process (inline, its task work, or its io-wq worker or SQPOLL
 * thread, threads of that process), so the row's pid is the submitter's;
 * filters and the name are taken from its leader.
 */
SEC("tracepoint/io_uring/io_uring_complete")
int ft_uring_complete(struct trace_event_raw_io_uring_complete *ctx)
{
	struct io_kiocb *req = (void *)BPF_CORE_READ(ctx, req);
	struct task_struct *leader;
	bool write;
	__u8 op;

	op = BPF_CORE_READ(req, opcode);
	if (op == IORING_OP_READV_ || op == IORING_OP_READ_FIXED_ || op == IORING_OP_READ_)
		write = false;
	else if (op == IORING_OP_WRITEV_ || op == IORING_OP_WRITE_FIXED_ || op == IORING_OP_WRITE_)
		write = true;
	else
		return 0;
	if ((__u32)(bpf_get_current_pid_tgid() >> 32) == self_tgid)
		return 0;
	leader = BPF_CORE_READ((struct task_struct *)bpf_get_current_task_btf(), group_leader);
	if (!vigil_task_filter_pass(leader))
		return 0;
	ft_count_as(BPF_CORE_READ(req, file), write, BPF_CORE_READ(ctx, res), leader,
		    VIGIL_FT_K_URING);
	return 0;
}
