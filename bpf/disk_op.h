/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The operation and flags of a block request from the classic tracepoints'
 * rwbs string (the kernel's blk_fill_rwbs(): an optional F for a preflush,
 * one op letter, then F for FUA, A read-ahead, S sync, M meta). Plain C so
 * the unit test runs the same code the BPF program does.
 */
#ifndef VIGIL_DISK_OP_H
#define VIGIL_DISK_OP_H

#ifndef VIGIL_DISK_OP_USER_TEST
#include "vmlinux.h"
#include "vigil/events.h"
#endif

static __always_inline int vigil_disk_is_op_letter(char c)
{
	return c == 'R' || c == 'W' || c == 'D' || c == 'F' || c == 'N';
}

/* the op (enum vigil_disk_op) of rwbs; *flags gets enum vigil_disk_flag bits */
static __always_inline __u32 vigil_disk_rwbs(const char *rwbs, __u32 *flags)
{
	__u32 op = VIGIL_DISK_OTHER, f = 0, i = 0;

	/* "F" alone is a flush; "FW", "FF" are a preflush before a write or flush */
	if (rwbs[0] == 'F' && vigil_disk_is_op_letter(rwbs[1])) {
		f |= VIGIL_DISK_F_PREFLUSH;
		i = 1;
	}
	switch (rwbs[i]) {
	case 'R': op = VIGIL_DISK_READ; break;
	case 'W': op = VIGIL_DISK_WRITE; break;
	case 'D': op = VIGIL_DISK_DISCARD; break;
	case 'F': op = VIGIL_DISK_FLUSH; break;
	default: break;
	}
	/* the letters after the op; rwbs is at most 10 bytes, NUL-terminated */
#ifdef __clang__
#pragma unroll
#endif
	for (int k = 1; k < 8; k++) {
		char c = rwbs[(i + k) & 7];

		if (k + i >= 8 || !c)
			break;
		if (c == 'F')
			f |= VIGIL_DISK_F_FUA;
		else if (c == 'A')
			f |= VIGIL_DISK_F_AHEAD;
		else if (c == 'S')
			f |= VIGIL_DISK_F_SYNC;
		else if (c == 'M')
			f |= VIGIL_DISK_F_META;
	}
	*flags = f;
	return op;
}

#endif /* VIGIL_DISK_OP_H */
