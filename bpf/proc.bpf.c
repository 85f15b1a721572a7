// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Process lifecycle: exec, fork and exit in one stream.
 *
 * Successful execs are captured at sched_process_exec, where the new image's
 * argv already sits in its own mm: short-lived processes cannot lose their
 * argv or parent. Failed execs never reach that point, so with --failed the
 * syscall entry stashes filename and argv per thread and the exit ships them
 * only when the call failed.
 */
#include "common.bpf.h"
#include "compat.bpf.h"

const volatile bool want_fork = true;
const volatile bool want_exit = true;
const volatile bool want_threads = false;

/* execve/execveat in flight, keyed by tid; bounded and always deleted at exit. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct vigil_exec);
} exec_stash SEC(".maps");

/* Room to read one more argument past VIGIL_ARGS_LEN without a bounds check. */
struct exec_scratch {
	struct vigil_exec ev;
	char spill[VIGIL_ARG_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct exec_scratch);
} exec_scratch SEC(".maps");

SEC("tp_btf/sched_process_exec")
int BPF_PROG(proc_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct vigil_exec *e;
	unsigned long start, end, len;
	long n;

	e = vigil_begin(sizeof(*e), VIGIL_EV_EXEC, p);
	if (!e)
		return 0;
	e->retval = 0;
	e->flags = 0;
	n = bpf_probe_read_kernel_str(e->filename, sizeof(e->filename),
				      BPF_CORE_READ(bprm, filename));
	if (n == sizeof(e->filename))
		e->flags |= VIGIL_EXEC_PATH_TRUNC;

	start = BPF_CORE_READ(p, mm, arg_start);
	end = BPF_CORE_READ(p, mm, arg_end);
	len = end > start ? end - start : 0;
	if (len > VIGIL_ARGS_LEN) {
		len = VIGIL_ARGS_LEN;
		e->flags |= VIGIL_EXEC_ARGS_TRUNC;
	}
	if (bpf_probe_read_user(e->args, len, (void *)start))
		len = 0;
	e->args_len = len;
	e->argc = BPF_CORE_READ(bprm, argc);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(proc_fork, struct task_struct *parent, struct task_struct *child)
{
	struct vigil_fork *e;
	__u32 child_pid, child_tid;

	if (!want_fork)
		return 0;
	child_pid = BPF_CORE_READ(child, tgid);
	child_tid = BPF_CORE_READ(child, pid);
	if (!want_threads && child_pid != child_tid)
		return 0;
	e = vigil_begin(sizeof(*e), VIGIL_EV_FORK, parent);
	if (!e)
		return 0;
	e->child_pid = child_pid;
	e->child_tid = child_tid;
	e->clone_thread = child_pid != child_tid;
	e->_pad = 0;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(proc_exit, struct task_struct *p)
{
	struct vigil_exit *e;
	__u64 id = bpf_get_current_pid_tgid();

	if (!want_exit)
		return 0;
	/* one exit per process, from its last thread standing: the leader */
	if (!want_threads && (__u32)(id >> 32) != (__u32)id)
		return 0;
	e = vigil_begin(sizeof(*e), VIGIL_EV_EXIT, p);
	if (!e)
		return 0;
	e->lifetime_ns = e->hdr.ts - vigil_task_start_boottime(p);
	e->exit_code = BPF_CORE_READ(p, exit_code);
	e->_pad = 0;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* ---- failed execs (--failed) ---------------------------------------------- */

/* filename and argv from the caller's memory, read at syscall entry */
static __always_inline void read_exec_args(struct exec_scratch *s, const char *filename,
					   const char *const *argv)
{
	char *buf = s->ev.args;
	__u32 off = 0;
	long n;

	s->ev.flags = VIGIL_EXEC_FAILED;
	s->ev.argc = 0;
	n = bpf_probe_read_user_str(s->ev.filename, sizeof(s->ev.filename), filename);
	if (n < 0)
		s->ev.filename[0] = 0;
	else if (n == sizeof(s->ev.filename))
		s->ev.flags |= VIGIL_EXEC_PATH_TRUNC;

	for (int i = 0; i < VIGIL_MAX_ARGS; i++) {
		const char *arg = NULL;

		if (bpf_probe_read_user(&arg, sizeof(arg), &argv[i]) || !arg)
			goto done;
		if (off >= VIGIL_ARGS_LEN) {
			s->ev.flags |= VIGIL_EXEC_ARGS_TRUNC;
			goto done;
		}
		/*
		 * The spill area after args keeps this in bounds. The mask only
		 * restates off < VIGIL_ARGS_LEN for verifiers (6.1) that lose it;
		 * barrier_var stops clang from proving it redundant.
		 */
		barrier_var(off);
		n = bpf_probe_read_user_str(&buf[off & (VIGIL_ARGS_LEN - 1)], VIGIL_ARG_MAX, arg);
		if (n <= 0)
			goto done;
		if (n == VIGIL_ARG_MAX)
			s->ev.flags |= VIGIL_EXEC_ARGS_TRUNC;
		off += n;
		s->ev.argc++;
	}
	/* more arguments than we read */
	s->ev.flags |= VIGIL_EXEC_ARGS_TRUNC;
done:
	if (off > VIGIL_ARGS_LEN) {
		off = VIGIL_ARGS_LEN;
		s->ev.flags |= VIGIL_EXEC_ARGS_TRUNC;
	}
	s->ev.args_len = off;
}

/* tracepoint path: stash at entry, ship at exit if the call failed */
static __always_inline int stash_exec(const char *filename, const char *const *argv)
{
	__u32 zero = 0, tid = (__u32)bpf_get_current_pid_tgid();
	struct exec_scratch *s;

	if (!vigil_filter_pass())
		return 0;
	s = bpf_map_lookup_elem(&exec_scratch, &zero);
	if (!s)
		return 0;
	read_exec_args(s, filename, argv);
	bpf_map_update_elem(&exec_stash, &tid, &s->ev, BPF_ANY);
	return 0;
}

static __always_inline int ship_failed_exec(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct vigil_exec *stashed, *e;

	stashed = bpf_map_lookup_elem(&exec_stash, &tid);
	if (!stashed)
		return 0;
	if (ret < 0) {
		e = vigil_reserve(sizeof(*e));
		if (e) {
			bpf_probe_read_kernel(e, sizeof(*e), stashed);
			vigil_fill_hdr(&e->hdr, VIGIL_EV_EXEC, bpf_get_current_task_btf());
			e->retval = ret;
			bpf_ringbuf_submit(e, 0);
		}
	}
	bpf_map_delete_elem(&exec_stash, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_execve")
int proc_enter_execve(struct trace_event_raw_sys_enter *ctx)
{
	return stash_exec((const char *)ctx->args[0], (const char *const *)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_enter_execveat")
int proc_enter_execveat(struct trace_event_raw_sys_enter *ctx)
{
	return stash_exec((const char *)ctx->args[1], (const char *const *)ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_execve")
int proc_exit_execve(struct trace_event_raw_sys_exit *ctx)
{
	return ship_failed_exec(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_execveat")
int proc_exit_execveat(struct trace_event_raw_sys_exit *ctx)
{
	return ship_failed_exec(ctx->ret);
}

/* A thread that dies inside execve (killed) never reaches sys_exit. */
SEC("tp_btf/sched_process_free")
int BPF_PROG(proc_free, struct task_struct *p)
{
	__u32 tid = BPF_CORE_READ(p, pid);

	bpf_map_delete_elem(&exec_stash, &tid);
	return 0;
}

