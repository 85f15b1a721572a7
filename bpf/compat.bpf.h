/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Kernel-difference shims. Each one names the kernel change that made it
 * necessary, so it can be dropped when the oldest supported kernel has it.
 */
#ifndef VIGIL_COMPAT_BPF_H
#define VIGIL_COMPAT_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>

/*
 * task_struct->start_boottime appeared in 5.5 (commit cf25e24db61c
 * "time: Rename tsk->real_start_time to ->start_boottime"); before that
 * the same value was real_start_time.
 */
struct task_struct___pre55 {
	__u64 real_start_time;
};

static __always_inline __u64 vigil_task_start_boottime(struct task_struct *t)
{
	if (bpf_core_field_exists(t->start_boottime))
		return BPF_CORE_READ(t, start_boottime);
	return BPF_CORE_READ((struct task_struct___pre55 *)t, real_start_time);
}

#endif /* VIGIL_COMPAT_BPF_H */
