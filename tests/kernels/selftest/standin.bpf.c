// SPDX-License-Identifier: GPL-2.0
// Harness self-test programs: one per attach mechanism the kernel matrix cares about.
// Deliberately independent of vigil so the boot/run/collect path can be proven on its own.
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 target_tgid = 0;
__u64 hits_tp = 0, hits_kprobe = 0, hits_fentry = 0, hits_lsm = 0;

static __always_inline int mine(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int tp_getppid(void *ctx)
{
	if (mine())
		__sync_fetch_and_add(&hits_tp, 1);
	return 0;
}

SEC("kprobe/__x64_sys_getppid")
int kp_getppid(void *ctx)
{
	if (mine())
		__sync_fetch_and_add(&hits_kprobe, 1);
	return 0;
}

/* a global, never-inlined function in every kernel's BTF, reached by open(2) */
SEC("fentry/security_file_open")
int BPF_PROG(fe_file_open)
{
	if (mine())
		__sync_fetch_and_add(&hits_fentry, 1);
	return 0;
}

/* file_open runs on every open(2); the LSM program must return 0 (allow). */
SEC("lsm/file_open")
int BPF_PROG(lsm_file_open, void *file)
{
	if (mine())
		__sync_fetch_and_add(&hits_lsm, 1);
	return 0;
}
