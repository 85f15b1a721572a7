// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * doctor's probes: one tiny program per mechanism. Each is loaded and
 * attached on its own (autoload), triggered by doctor itself, and counts
 * its hits so "works" means "ran", not "loaded".
 */
#include "common.bpf.h"

#define NR_getppid 110	/* x86_64 */

const volatile __u32 target_tgid = 0;
__u32 victim_tgid = 0;
__u64 hits[VIGIL_M__COUNT] = {};
__u64 ping_seq = 0;

static __always_inline bool is_target(void)
{
	return (__u32)(bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

static __always_inline void hit(int m)
{
	if (m >= 0 && m < VIGIL_M__COUNT)
		__sync_fetch_and_add(&hits[m], 1);
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int probe_tracepoint(void *ctx)
{
	if (is_target())
		hit(VIGIL_M_TRACEPOINT);
	return 0;
}

SEC("raw_tp/sys_enter")
int probe_raw_tp(struct bpf_raw_tracepoint_args *ctx)
{
	if (is_target() && ctx->args[1] == NR_getppid)
		hit(VIGIL_M_RAW_TP);
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(probe_tp_btf, struct pt_regs *regs, long id)
{
	if (is_target() && id == NR_getppid)
		hit(VIGIL_M_TP_BTF);
	return 0;
}

/* the round trip: kernel -> ring buffer -> user space, timed */
SEC("raw_tp/sys_enter")
int probe_ringbuf(struct bpf_raw_tracepoint_args *ctx)
{
	struct vigil_ping *p;

	if (!is_target() || ctx->args[1] != NR_getppid)
		return 0;
	p = vigil_reserve(sizeof(*p));
	if (!p)
		return 0;
	vigil_fill_hdr(&p->hdr, VIGIL_EV_PING, bpf_get_current_task_btf());
	p->seq = __sync_fetch_and_add(&ping_seq, 1);
	bpf_ringbuf_submit(p, 0);
	hit(VIGIL_M_RINGBUF);
	return 0;
}

SEC("xdp")
int probe_xdp(struct xdp_md *ctx)
{
	hit(VIGIL_M_XDP);
	return XDP_PASS;
}

SEC("tc")
int probe_tc(struct __sk_buff *skb)
{
	hit(VIGIL_M_TC);
	return 0;	/* TC_ACT_OK */
}

SEC("cgroup/sock_create")
int probe_cgroup(struct bpf_sock *sk)
{
	/* attached to doctor's own cgroup: count doctor's sockets, let all pass */
	if (is_target())
		hit(VIGIL_M_CGROUP);
	return 1;	/* allow */
}

SEC("perf_event")
int probe_perf_event(void *ctx)
{
	if (is_target())
		hit(VIGIL_M_PERF_EVENT);
	return 0;
}

SEC("uprobe")
int probe_uprobe(void *ctx)
{
	if (is_target())
		hit(VIGIL_M_UPROBE);
	return 0;
}

SEC("kprobe/vfs_read")
int probe_kprobe(void *ctx)
{
	if (is_target())
		hit(VIGIL_M_KPROBE);
	return 0;
}

SEC("fentry/vfs_read")
int BPF_PROG(probe_fentry)
{
	if (is_target())
		hit(VIGIL_M_FENTRY);
	return 0;
}

SEC("lsm/file_open")
int BPF_PROG(probe_lsm, struct file *file)
{
	if (is_target())
		hit(VIGIL_M_LSM);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(probe_send_signal, struct task_struct *p)
{
	if (victim_tgid && (__u32)(bpf_get_current_pid_tgid() >> 32) == victim_tgid) {
		hit(VIGIL_M_SEND_SIGNAL);
		bpf_send_signal(9);
	}
	return 0;
}
