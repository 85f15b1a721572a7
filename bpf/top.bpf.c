// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * vigil top: counters per cgroup, kept in the kernel; nothing is shipped per
 * event. User space reads the map every interval and folds cgroups into
 * their containers.
 */
#include "common.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, VIGIL_TOP_MAX_CGROUPS);
	__type(key, __u64);
	__type(value, struct vigil_top_val);
} top_stats SEC(".maps");

/*
 * What the task now on this CPU had run when it came on. The kernel's own
 * runtime, not the clock: the clock between two switches also holds IRQ
 * and steal time, which the cgroup's usage_usec leaves out (a loaded VM
 * showed 23% more than the cgroup counted).
 */
struct top_on {
	__u64 runtime;
	__u32 pid;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct top_on);
} top_last SEC(".maps");

/* cgroups that did not fit: counted, reported */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} top_full SEC(".maps");

static __always_inline struct vigil_top_val *stats(void)
{
	__u64 cg = bpf_get_current_cgroup_id();
	struct vigil_top_val *v = bpf_map_lookup_elem(&top_stats, &cg);

	if (v)
		return v;
	struct vigil_top_val zero = {};

	/* another CPU may have made it meanwhile: then the lookup finds that one */
	bpf_map_update_elem(&top_stats, &cg, &zero, BPF_NOEXIST);
	v = bpf_map_lookup_elem(&top_stats, &cg);
	if (!v)
		vigil_inc(&top_full, 0);
	return v;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(top_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	__u32 zero = 0;
	struct top_on *on = bpf_map_lookup_elem(&top_last, &zero);
	struct vigil_top_val *v;
	__u64 ran = 0;

	if (!on)
		return 0;
	/* the scheduler brought prev's runtime up to date before this point;
	 * a task seen coming on before vigil started is not counted */
	if (on->pid && on->pid == prev->pid)
		ran = prev->se.sum_exec_runtime - on->runtime;
	on->pid = next->pid;
	on->runtime = next->se.sum_exec_runtime;
	/* the idle task is not anyone's CPU time; current is still prev here */
	if (!prev->pid || !ran || !vigil_filter_pass())
		return 0;
	v = stats();
	if (v)
		v->cpu_ns += ran;
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(top_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct vigil_top_val *v;

	if (!vigil_filter_pass())
		return 0;
	v = stats();
	if (v)
		v->execs++;
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(top_fork, struct task_struct *parent, struct task_struct *child)
{
	struct vigil_top_val *v;

	if (!vigil_filter_pass())
		return 0;
	v = stats();
	if (v)
		v->forks++;
	return 0;
}

SEC("raw_tp/sys_exit")
int BPF_PROG(top_sys_exit, struct pt_regs *regs, long ret)
{
	struct vigil_top_val *v;
	__u32 nr;

	if (!vigil_filter_pass())
		return 0;
	v = stats();
	if (!v)
		return 0;
	v->syscalls++;
	if (ret < 0 && ret >= -4095) {
		v->syscalls_failed++;
		return 0;
	}
	nr = BPF_CORE_READ(regs, orig_ax);
	/* x86_64: read 0, write 1, pread64 17, pwrite64 18, readv 19, writev 20 */
	if (nr == 0 || nr == 17 || nr == 19)
		v->rbytes += ret;
	else if (nr == 1 || nr == 18 || nr == 20)
		v->wbytes += ret;
	return 0;
}
