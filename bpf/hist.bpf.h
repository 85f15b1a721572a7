/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The kernel half of log2 histograms (src/core/hist.h is the user half):
 * the bucket of a value, with the same answer as vhist_slot().
 */
#ifndef VIGIL_HIST_BPF_H
#define VIGIL_HIST_BPF_H

/* the unit test compiles this file as plain C, with its own integer types */
#ifndef VIGIL_HIST_BPF_USER_TEST
#include "vmlinux.h"
#include "vigil/events.h"
#endif

/* floor(log2(v)), 0 for 0 and 1; branch-light, no loop for the verifier */
static __always_inline __u32 vigil_log2(__u64 v)
{
	__u32 r = 0, s;

	s = (v > 0xFFFFFFFFull) << 5; v >>= s; r |= s;
	s = (v > 0xFFFF) << 4; v >>= s; r |= s;
	s = (v > 0xFF) << 3; v >>= s; r |= s;
	s = (v > 0xF) << 2; v >>= s; r |= s;
	s = (v > 0x3) << 1; v >>= s; r |= s;
	r |= (v >> 1);
	return r;
}

_Static_assert((VIGIL_HIST_SLOTS & (VIGIL_HIST_SLOTS - 1)) == 0, "slots: a power of two");

/* the slot for v, bounded so it can index a VIGIL_HIST_SLOTS array */
static __always_inline __u32 vigil_hist_slot(__u64 v)
{
	__u32 s = vigil_log2(v);

	/*
	 * log2 of a u64 is below 64 already, so clang drops any clamp; older
	 * verifiers (6.1) cannot follow the bit tricks. Hiding s from the
	 * compiler keeps a mask the verifier can see.
	 */
	__asm__ volatile("" : "+r"(s));
	return s & (VIGIL_HIST_SLOTS - 1);
}

#endif /* VIGIL_HIST_BPF_H */
