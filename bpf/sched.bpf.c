// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * vigil sched: run-queue latency (wakeup or preemption to running), off-CPU
 * time by why the task left, context switches and migrations. Everything is
 * counted here; only --min ships records. The hot path is sched_switch: two
 * task-storage lookups, the CPU's own slot, and one row per side.
 *
 * A wait is always charged to the task that waited (the woken task, the
 * next task), never to the waker or the task it waited behind.
 */
#include "common.bpf.h"
#include "hist.bpf.h"
#include "sched_state.bpf.h"

/* user space sets these before load */
const volatile __u32 by = VIGIL_SCHED_BY_PROCESS;
const volatile bool want_rows = true;
const volatile bool want_hists = false;	/* -P, --per-container: a histogram per row */
const volatile bool want_stacks = false;
const volatile bool has_cpu = false;
const volatile __u32 targ_cpu = 0;
const volatile __u64 min_ns = 0;	/* --min: records for waits of at least this */

/* per task, freed with the task: when it was queued, when and why it left */
struct sched_task {
	__u64 enq_ns;		/* 0: not waiting on a run queue */
	__u64 off_ns;		/* 0: on a CPU, or not seen leaving one */
	__u32 state;		/* enum vigil_sched_state, of the last switch-out */
	__s32 kstack;
	__s32 ustack;
	__u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sched_task);
} sched_tasks SEC(".maps");

/* indexed by CPU; each CPU writes only its own slot (sized to the CPUs at load) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vigil_sched_cpu);
} sched_cpus SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, VIGIL_SCHED_MAX_ROWS);
	__type(key, __u64);
	__type(value, struct vigil_sched_row);
} sched_rows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, VIGIL_SCHED_MAX_HISTS);	/* 1 unless asked for */
	__type(key, __u64);
	__type(value, struct vigil_hist);
} sched_hists SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, VIGIL_SCHED_MAX_STACKS);	/* 1 unless --stacks */
	__uint(key_size, sizeof(__u32));
	__uint(value_size, VIGIL_SCHED_STACK_DEPTH * sizeof(__u64));
} sched_stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VIGIL_SCHED_MAX_STACKS);	/* 1 unless --stacks */
	__type(key, struct vigil_sched_stack_key);
	__type(value, __u64);
} sched_stack_ns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VIGIL_SCHED__DROPS);
	__type(key, __u32);
	__type(value, __u64);
} sched_drops SEC(".maps");

/* t is a trusted BTF pointer here: direct loads, no probe-read helper calls */
static __always_inline __u64 row_key(struct task_struct *t)
{
	if (by == VIGIL_SCHED_BY_THREAD)
		return (__u32)t->pid;
	if (by == VIGIL_SCHED_BY_CGROUP)
		return t->cgroups->dfl_cgrp->kn->id;
	return (__u32)t->tgid;
}

static __always_inline struct vigil_sched_counts *row_of(struct task_struct *t, __u64 key)
{
	struct vigil_sched_row *r = bpf_map_lookup_elem(&sched_rows, &key);

	if (r)
		return &r->c;
	struct vigil_sched_row zero = {};

	zero.cgroup_id = vigil_task_cgid(t);
	zero.pid = BPF_CORE_READ(t, tgid);
	zero.tid = BPF_CORE_READ(t, pid);
	BPF_CORE_READ_STR_INTO(&zero.comm, t, comm);
	/* another CPU may have made it meanwhile: then the lookup finds that one */
	bpf_map_update_elem(&sched_rows, &key, &zero, BPF_NOEXIST);
	r = bpf_map_lookup_elem(&sched_rows, &key);
	if (!r) {
		vigil_inc(&sched_drops, VIGIL_SCHED_DROP_ROWS);
		return NULL;
	}
	return &r->c;
}

/* too big for the BPF stack: the zeroes a new row histogram starts from */
const struct vigil_hist zero_hist = {};

static __always_inline void row_hist(__u64 key, __u32 slot)
{
	struct vigil_hist *h = bpf_map_lookup_elem(&sched_hists, &key);

	if (!h) {
		bpf_map_update_elem(&sched_hists, &key, &zero_hist, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&sched_hists, &key);
		if (!h) {
			vigil_inc(&sched_drops, VIGIL_SCHED_DROP_HISTS);
			return;
		}
	}
	h->slots[slot]++;
}

/* a task put on a run queue by a wakeup: the wait starts now */
static __always_inline void enqueue(struct task_struct *p)
{
	struct sched_task *s;

	if (!vigil_task_filter_pass(p))
		return;
	s = bpf_task_storage_get(&sched_tasks, p, NULL, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (s)
		s->enq_ns = bpf_ktime_get_ns();
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(sched_wakeup, struct task_struct *p)
{
	enqueue(p);
	return 0;
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(sched_wakeup_new, struct task_struct *p)
{
	enqueue(p);
	return 0;
}

/* prev (current here) leaves the CPU */
static __always_inline void switch_out(void *ctx, bool preempt, struct task_struct *prev,
				       unsigned int prev_state, __u64 now,
				       struct vigil_sched_cpu *c)
{
	__u32 state = vigil_sched_state_of(preempt, prev_state);
	struct vigil_sched_counts *r;
	struct sched_task *s;

	if (!vigil_filter_pass())
		return;
	s = bpf_task_storage_get(&sched_tasks, prev, NULL, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (s) {
		s->off_ns = now;
		s->state = state;
		/* still runnable: it waits on the run queue from now on */
		s->enq_ns = state == VIGIL_SCHED_PREEMPTED ? now : 0;
		if (want_stacks) {
			s->kstack = bpf_get_stackid(ctx, &sched_stacks, 0);
			s->ustack = bpf_get_stackid(ctx, &sched_stacks, BPF_F_USER_STACK);
		}
	}
	if (!c)
		return;
	/* the kernel's own rule for nvcsw/nivcsw (sched_state.bpf.h) */
	if (state == VIGIL_SCHED_PREEMPTED)
		c->c.invol++;
	else
		c->c.vol++;
	if (!want_rows)
		return;
	r = row_of(prev, row_key(prev));
	if (!r)
		return;
	if (state == VIGIL_SCHED_PREEMPTED)
		r->invol++;
	else
		r->vol++;
}

static __always_inline void wait_record(struct task_struct *next, struct task_struct *prev,
					__u64 delay)
{
	struct vigil_sched_wait *w = vigil_reserve(sizeof(*w));

	if (!w)
		return;
	vigil_fill_hdr_task(&w->hdr, VIGIL_EV_SCHED_WAIT, next);
	w->delay_ns = delay;
	w->cpu = bpf_get_smp_processor_id();
	w->prev_pid = BPF_CORE_READ(prev, pid);
	BPF_CORE_READ_STR_INTO(&w->prev_comm, prev, comm);
	bpf_ringbuf_submit(w, 0);
}

/* next gets the CPU: its run-queue wait and its time off the CPU end */
static __always_inline void switch_in(struct task_struct *prev, struct task_struct *next,
				      __u64 now, struct vigil_sched_cpu *c)
{
	struct vigil_sched_counts *r = NULL;
	__u64 runq = 0, off = 0, key = 0;
	struct sched_task *s;
	__u32 state;

	/* only tasks that passed the filters when they left or were woken have storage */
	s = bpf_task_storage_get(&sched_tasks, next, NULL, 0);
	if (!s)
		return;
	state = s->state & (VIGIL_SCHED__STATES - 1);
	/*
	 * A task that blocked was off the CPU for its state until its wakeup;
	 * from then on it waited on the run queue (runq). A preempted task's
	 * whole time off the CPU was that wait.
	 */
	if (s->off_ns) {
		if (state != VIGIL_SCHED_PREEMPTED && s->enq_ns >= s->off_ns)
			off = s->enq_ns - s->off_ns;
		else
			off = now - s->off_ns;
		s->off_ns = 0;
	}
	if (s->enq_ns) {
		runq = now - s->enq_ns;
		s->enq_ns = 0;
	}
	if (!c || (!runq && !off))
		return;
	if (min_ns) {
		if (runq >= min_ns)
			wait_record(next, prev, runq);
		return;
	}
	if (runq) {
		c->slots[vigil_hist_slot(runq)]++;
		c->c.runq_ns += runq;
		c->c.runq_n++;
	}
	if (off)
		c->c.off_ns[state] += off;
	if (!want_rows)
		return;
	key = row_key(next);
	r = row_of(next, key);
	if (!r)
		return;
	if (runq) {
		r->runq_ns += runq;
		r->runq_n++;
		if (want_hists)
			row_hist(key, vigil_hist_slot(runq));
	}
	if (off) {
		r->off_ns[state] += off;
		if (want_stacks) {
			struct vigil_sched_stack_key k = {
				.key = key, .state = state, .kstack = s->kstack, .ustack = s->ustack,
			};
			__u64 *ns = bpf_map_lookup_elem(&sched_stack_ns, &k);

			if (ns) {
				__sync_fetch_and_add(ns, off);
			} else if (bpf_map_update_elem(&sched_stack_ns, &k, &off, BPF_NOEXIST)) {
				ns = bpf_map_lookup_elem(&sched_stack_ns, &k);
				if (ns)
					__sync_fetch_and_add(ns, off);
				else
					vigil_inc(&sched_drops, VIGIL_SCHED_DROP_STACKS);
			}
		}
	}
}

SEC("tp_btf/sched_switch")
int BPF_PROG(sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct vigil_sched_cpu *c = NULL;
	__u64 now = bpf_ktime_get_ns();

	/* with --cpu the task state is still kept everywhere, so a wait that
	 * began on another CPU ends right on this one; only counting is skipped */
	if (!has_cpu || cpu == targ_cpu)
		c = bpf_map_lookup_elem(&sched_cpus, &cpu);
	/* the idle task (pid 0) neither waits nor sleeps */
	if (prev->pid)
		switch_out(ctx, preempt, prev, prev_state, now, c);
	if (next->pid)
		switch_in(prev, next, now, c);
	return 0;
}

SEC("tp_btf/sched_migrate_task")
int BPF_PROG(sched_migrate, struct task_struct *p, int dest_cpu)
{
	struct vigil_sched_counts *r;
	struct vigil_sched_cpu *c;
	__u32 cpu = dest_cpu;

	if ((has_cpu && cpu != targ_cpu) || min_ns || !vigil_task_filter_pass(p))
		return 0;
	/* the destination CPU's slot, which another CPU may be writing: atomically */
	c = bpf_map_lookup_elem(&sched_cpus, &cpu);
	if (c)
		__sync_fetch_and_add(&c->c.migrations, 1);
	if (!want_rows)
		return 0;
	r = row_of(p, row_key(p));
	if (r)
		r->migrations++;
	return 0;
}
