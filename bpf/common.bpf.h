/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * What every vigil BPF program shares: the common filters, the record
 * header, the ring buffer and its loss counter. A feature program includes
 * this once and calls vigil_filter_pass() before it reserves anything.
 */
#ifndef VIGIL_COMMON_BPF_H
#define VIGIL_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "vigil/events.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by user space before load (core/skel.c); zero means "no filter". */
const volatile struct vigil_filter vigil_filter = {};

/* Sized by user space before load (--ringbuf-size). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} vigil_events SEC(".maps");

/* Failed reserves, per CPU: user space sums and reports them. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} vigil_lost SEC(".maps");

/* Slot 0 holds the --cgroup directory; under_cgroup includes descendants. */
struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} vigil_cgroup SEC(".maps");

static __always_inline bool vigil_comm_eq(const char *comm)
{
#pragma unroll
	for (int i = 0; i < VIGIL_COMM_LEN; i++) {
		if (comm[i] != vigil_filter.comm[i])
			return false;
		if (!comm[i])
			return true;
	}
	return true;
}

/* The cheapest checks first; all of them are pruned when not configured. */
static __always_inline bool vigil_filter_pass(void)
{
	__u32 flags = vigil_filter.flags;

	if (!flags)
		return true;
	if (flags & (VIGIL_F_PID | VIGIL_F_TID)) {
		__u64 id = bpf_get_current_pid_tgid();

		if ((flags & VIGIL_F_PID) && (__u32)(id >> 32) != vigil_filter.pid)
			return false;
		if ((flags & VIGIL_F_TID) && (__u32)id != vigil_filter.tid)
			return false;
		/* the pid was reused: not the process the user named (USER_HZ is 100) */
		if ((flags & VIGIL_F_PID) && vigil_filter.pid_start) {
			/* BTF pointers: two loads, where BPF_CORE_READ costs two helper calls
			 * on every event of the traced process */
			struct task_struct *t = bpf_get_current_task_btf();
			__u64 st = t->group_leader->start_boottime;

			if (st / 10000000ull != vigil_filter.pid_start)
				return false;
		}
	}
	if ((flags & VIGIL_F_UID) &&
	    (__u32)bpf_get_current_uid_gid() != vigil_filter.uid)
		return false;
	if (flags & VIGIL_F_COMM) {
		char comm[VIGIL_COMM_LEN];

		bpf_get_current_comm(comm, sizeof(comm));
		if (!vigil_comm_eq(comm))
			return false;
	}
	if ((flags & VIGIL_F_CGROUP) &&
	    bpf_current_task_under_cgroup(&vigil_cgroup, 0) != 1)
		return false;
	if (flags & VIGIL_F_CONTAINER) {
		bool in = false;

		/* the container's sub-cgroups too: compare the ancestor at its level */
#pragma unroll
		for (int i = 0; i < VIGIL_MAX_CONTAINERS; i++)
			if (i < vigil_filter.nctr &&
			    bpf_get_current_ancestor_cgroup_id(vigil_filter.ctr_level[i]) ==
			    vigil_filter.ctr_id[i])
				in = true;
		if (!in)
			return false;
	}
	return true;
}

/* 6.1's struct cgroup kept ancestor ids; 6.2 turned them into pointers */
struct cgroup___ids {
	int level;
	__u64 ancestor_ids[];
} __attribute__((preserve_access_index));

/* The id of t's cgroup v2 ancestor at level (its own cgroup at its depth), 0 if deeper. */
static __always_inline __u64 vigil_task_ancestor_cgid(struct task_struct *t, __u32 level)
{
	struct cgroup *cg = BPF_CORE_READ(t, cgroups, dfl_cgrp);
	struct cgroup *a = NULL;
	__u64 id = 0;

	if (!cg || level > (__u32)BPF_CORE_READ(cg, level))
		return 0;
	if (bpf_core_field_exists(cg->ancestors)) {
		bpf_core_read(&a, sizeof(a), &cg->ancestors[level]);
		return a ? BPF_CORE_READ(a, kn, id) : 0;
	}
	bpf_core_read(&id, sizeof(id), &((struct cgroup___ids *)cg)->ancestor_ids[level]);
	return id;
}

static __always_inline __u64 vigil_task_cgid(struct task_struct *t)
{
	return BPF_CORE_READ(t, cgroups, dfl_cgrp, kn, id);
}

/*
 * The common filters applied to task t instead of current: for hooks that run
 * in another context than the task they describe (softirq, a waker, a block
 * completion, an OOM killer). Slower than vigil_filter_pass(): fields are read
 * from the task. Same answers for t == current.
 */
static __always_inline bool vigil_task_filter_pass(struct task_struct *t)
{
	__u32 flags = vigil_filter.flags;

	if (!flags)
		return true;
	if ((flags & VIGIL_F_PID) && (__u32)BPF_CORE_READ(t, tgid) != vigil_filter.pid)
		return false;
	if ((flags & VIGIL_F_TID) && (__u32)BPF_CORE_READ(t, pid) != vigil_filter.tid)
		return false;
	if ((flags & VIGIL_F_PID) && vigil_filter.pid_start &&
	    BPF_CORE_READ(t, group_leader, start_boottime) / 10000000ull != vigil_filter.pid_start)
		return false;
	if ((flags & VIGIL_F_UID) && BPF_CORE_READ(t, cred, uid.val) != vigil_filter.uid)
		return false;
	if (flags & VIGIL_F_COMM) {
		char comm[VIGIL_COMM_LEN];

		BPF_CORE_READ_STR_INTO(&comm, t, comm);
		if (!vigil_comm_eq(comm))
			return false;
	}
	if ((flags & VIGIL_F_CGROUP) &&
	    vigil_task_ancestor_cgid(t, vigil_filter.cg_level) != vigil_filter.cg_id)
		return false;
	if (flags & VIGIL_F_CONTAINER) {
		bool in = false;

#pragma unroll
		for (int i = 0; i < VIGIL_MAX_CONTAINERS; i++)
			if (i < vigil_filter.nctr &&
			    vigil_task_ancestor_cgid(t, vigil_filter.ctr_level[i]) == vigil_filter.ctr_id[i])
				in = true;
		if (!in)
			return false;
	}
	return true;
}

/* Add one to slot idx of a per-CPU array of __u64 counters. */
static __always_inline void vigil_inc(void *map, __u32 idx)
{
	__u64 *n = bpf_map_lookup_elem(map, &idx);

	if (n)
		*n += 1;
}

static __always_inline void vigil_count_lost(void)
{
	vigil_inc(&vigil_lost, 0);
}

/* Reserve a record, counting the loss when the ring buffer is full. */
static __always_inline void *vigil_reserve(__u64 size)
{
	void *rec = bpf_ringbuf_reserve(&vigil_events, size, 0);

	if (!rec)
		vigil_count_lost();
	return rec;
}

static __always_inline void vigil_fill_hdr(struct vigil_hdr *h, __u32 type,
					   struct task_struct *task)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 ug = bpf_get_current_uid_gid();

	h->ts = bpf_ktime_get_boot_ns();
	h->cgroup_id = bpf_get_current_cgroup_id();
	h->type = type;
	h->pid = id >> 32;
	h->tid = (__u32)id;
	h->ppid = BPF_CORE_READ(task, real_parent, tgid);
	h->uid = (__u32)ug;
	h->gid = ug >> 32;
	bpf_get_current_comm(h->comm, sizeof(h->comm));
}

/* The header of a record about task t, which need not be current. */
static __always_inline void vigil_fill_hdr_task(struct vigil_hdr *h, __u32 type,
						struct task_struct *t)
{
	h->ts = bpf_ktime_get_boot_ns();
	h->cgroup_id = vigil_task_cgid(t);
	h->type = type;
	h->pid = BPF_CORE_READ(t, tgid);
	h->tid = BPF_CORE_READ(t, pid);
	h->ppid = BPF_CORE_READ(t, real_parent, tgid);
	h->uid = BPF_CORE_READ(t, cred, uid.val);
	h->gid = BPF_CORE_READ(t, cred, gid.val);
	BPF_CORE_READ_STR_INTO(&h->comm, t, comm);
}

/* vigil_begin() for a record about task t, filtered on t rather than current. */
static __always_inline void *vigil_begin_task(__u64 size, __u32 type, struct task_struct *t)
{
	struct vigil_hdr *h;

	if (!vigil_task_filter_pass(t))
		return NULL;
	h = vigil_reserve(size);
	if (h)
		vigil_fill_hdr_task(h, type, t);
	return h;
}

/*
 * Start a record: common filters, reserve (loss counted), header. NULL means
 * "nothing to do": filtered out or lost. The caller fills the rest and submits.
 */
static __always_inline void *vigil_begin(__u64 size, __u32 type, struct task_struct *task)
{
	struct vigil_hdr *h;

	if (!vigil_filter_pass())
		return NULL;
	h = vigil_reserve(size);
	if (h)
		vigil_fill_hdr(h, type, task);
	return h;
}

#endif /* VIGIL_COMMON_BPF_H */
