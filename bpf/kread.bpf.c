// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Copy a block of kernel memory for user space, once: the program is never
 * attached, user space runs it with BPF_PROG_TEST_RUN. Used to read tables
 * the kernel exports no other way (the syscall table, to name syscalls newer
 * than the headers vigil was built with).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "vigil/events.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile __u64 kread_addr = 0;
const volatile __u32 kread_len = 0;
__u8 kread_buf[VIGIL_KREAD_MAX] = {};
long kread_ret = 0;

SEC("raw_tp/sys_enter")
int kread(void *ctx)
{
	__u32 len = kread_len;

	if (len > VIGIL_KREAD_MAX)
		len = VIGIL_KREAD_MAX;
	kread_ret = bpf_probe_read_kernel(kread_buf, len, (const void *)kread_addr);
	return 0;
}
