/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The kernel half of run-time mechanism selection (core/session.c,
 * vigil_session_start_plan): a program that may be one of several ways to
 * hook the same thing calls vigil_seen(slot) first. While user space checks
 * a candidate, it writes its own tgid into slot 0 and triggers the hooks
 * itself; every hook that ran bumps its slot. A program that loaded and
 * attached but never runs (an inlined function, a dead syscall wrapper) is
 * caught here, before the command trusts it.
 *
 * Outside the start-up check slot 0 is 0 and the cost is one inlined array
 * lookup and a compare.
 */
#ifndef VIGIL_MECH_BPF_H
#define VIGIL_MECH_BPF_H

#include "common.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VIGIL_SEEN_SLOTS + 1);
	__type(key, __u32);
	__type(value, __u64);
} vigil_seen SEC(".maps");

static __always_inline void vigil_seen_hit(__u32 slot)
{
	__u32 zero = 0, k = slot + 1;
	__u64 *tgid, *n;

	tgid = bpf_map_lookup_elem(&vigil_seen, &zero);
	if (!tgid || !*tgid || *tgid != bpf_get_current_pid_tgid() >> 32)
		return;
	n = bpf_map_lookup_elem(&vigil_seen, &k);
	if (n)
		__sync_fetch_and_add(n, 1);
}

#endif /* VIGIL_MECH_BPF_H */
