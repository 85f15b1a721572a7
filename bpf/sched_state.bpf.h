/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Why a task left the CPU, from sched_switch's preempt and prev_state: the
 * kernel half of vigil sched's states, also compiled as plain C by
 * tests/unit/test_sched.c.
 */
#ifndef VIGIL_SCHED_STATE_BPF_H
#define VIGIL_SCHED_STATE_BPF_H

/* include/linux/sched.h: the bits of __state that matter here */
#define VIGIL_TASK_INTERRUPTIBLE 0x0001
#define VIGIL_TASK_UNINTERRUPTIBLE 0x0002
#define VIGIL_TASK_NOLOAD 0x0400

/*
 * Preempted, or still TASK_RUNNING (yield): it stays on the run queue, and
 * __schedule() counts it in nivcsw; every other switch counts in nvcsw.
 */
static __always_inline __u32 vigil_sched_state_of(bool preempt, unsigned int st)
{
	if (preempt || !st)
		return VIGIL_SCHED_PREEMPTED;
	if (st & VIGIL_TASK_NOLOAD)	/* TASK_IDLE: an idle kthread, not I/O */
		return VIGIL_SCHED_OTHER;
	if (st & VIGIL_TASK_UNINTERRUPTIBLE)
		return VIGIL_SCHED_DISK;
	if (st & VIGIL_TASK_INTERRUPTIBLE)
		return VIGIL_SCHED_SLEEP;
	return VIGIL_SCHED_OTHER;
}

#endif
