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

/*
 * Syscall entry points carry an arch prefix since 4.17 (commit d5a00528b58c
 * "syscalls/core, syscalls/x86: Rename struct pt_regs-based sys_*() to
 * __x64_sys_*()"); they take the user's pt_regs.
 */
#if defined(__TARGET_ARCH_x86)
#define VIGIL_SYSCALL_PREFIX "__x64_"
#elif defined(__TARGET_ARCH_arm64)
#define VIGIL_SYSCALL_PREFIX "__arm64_"
#else
#error "vigil: no syscall prefix for this architecture"
#endif

#endif /* VIGIL_COMPAT_BPF_H */
