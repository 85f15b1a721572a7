// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * vigil profile: a perf_event program sampling every CPU at -F Hz. Each
 * sample's kernel and user stacks go into a stack trace map and the pair is
 * counted in a hash; nothing per sample goes to user space. The only records
 * are one per process the first time it is sampled (and again after an
 * exec), so user space reads its /proc/PID/maps while it still exists.
 */
#include "common.bpf.h"

const volatile bool prof_idle = false;		/* --idle: count the idle task too */
const volatile bool prof_no_kernel = false;	/* --user-only */
const volatile bool prof_no_user = false;	/* --kernel-only */

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 16384);	/* sized by user space */
	__type(key, __u32);
	__uint(value_size, VIGIL_PROF_DEPTH * sizeof(__u64));
} prof_stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);	/* sized by user space */
	__type(key, struct vigil_prof_key);
	__type(value, __u64);
} prof_counts SEC(".maps");

/* processes user space has been told about */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u8);
} prof_seen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VIGIL_PROF_STAT__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} prof_stats SEC(".maps");

static __always_inline void announce(__u32 tgid)
{
	struct task_struct *task;
	struct vigil_hdr *h;
	__u8 one = 1;

	if (bpf_map_lookup_elem(&prof_seen, &tgid))
		return;
	if (bpf_map_update_elem(&prof_seen, &tgid, &one, BPF_NOEXIST))
		return;
	/* filtered already: straight to the reserve */
	h = vigil_reserve(sizeof(*h));
	if (!h) {
		/* not told: try again at its next sample */
		bpf_map_delete_elem(&prof_seen, &tgid);
		return;
	}
	task = bpf_get_current_task_btf();
	vigil_fill_hdr(h, VIGIL_EV_PROFILE_PROC, task);
	bpf_ringbuf_submit(h, 0);
}

SEC("perf_event")
int profile_sample(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct vigil_prof_key key = {};
	struct task_struct *task;
	__u64 *n, one = 1;
	bool kthread;

	if (!(__u32)id && !prof_idle) {
		vigil_inc(&prof_stats, VIGIL_PROF_IDLE);
		return 0;
	}
	if (!vigil_filter_pass())
		return 0;
	vigil_inc(&prof_stats, VIGIL_PROF_SAMPLES);
	task = bpf_get_current_task_btf();
	kthread = task->flags & 0x00200000;	/* PF_KTHREAD: no user stack */
	key.pid = id >> 32;
	bpf_get_current_comm(key.comm, sizeof(key.comm));
	key.kstack = -1;
	key.ustack = -1;
	if (!prof_no_kernel) {
		key.kstack = bpf_get_stackid(ctx, &prof_stacks, 0);
		/* -EFAULT: the sample was taken in user mode, there is no kernel stack */
		if (key.kstack < 0 && key.kstack != -14)
			vigil_inc(&prof_stats, VIGIL_PROF_KSTACK_ERR);
	}
	if (!prof_no_user && !kthread && key.pid) {
		key.ustack = bpf_get_stackid(ctx, &prof_stacks, BPF_F_USER_STACK);
		if (key.ustack < 0)
			vigil_inc(&prof_stats, VIGIL_PROF_USTACK_ERR);
	}
	n = bpf_map_lookup_elem(&prof_counts, &key);
	if (n) {
		__sync_fetch_and_add(n, 1);
	} else if (bpf_map_update_elem(&prof_counts, &key, &one, BPF_NOEXIST)) {
		/* another CPU made it meanwhile, or the map is full */
		n = bpf_map_lookup_elem(&prof_counts, &key);
		if (n)
			__sync_fetch_and_add(n, 1);
		else
			vigil_inc(&prof_stats, VIGIL_PROF_COUNTS_FULL);
	}
	if (key.pid && !kthread)
		announce(key.pid);
	return 0;
}

/* after an exec the process has other maps: announce it again */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(profile_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	bpf_map_delete_elem(&prof_seen, &tgid);
	return 0;
}

/* its pid can come back as another process */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(profile_exit, struct task_struct *p)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;

	if (tgid == (__u32)id)
		bpf_map_delete_elem(&prof_seen, &tgid);
	return 0;
}
