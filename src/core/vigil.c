// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include "core/vigil.h"

struct vigil_ctx vigil;

static const char *const mech_names[VIGIL_M__COUNT] = {
	[VIGIL_M_TRACEPOINT] = "tracepoint",
	[VIGIL_M_RAW_TP] = "raw_tp",
	[VIGIL_M_TP_BTF] = "tp_btf",
	[VIGIL_M_RINGBUF] = "ringbuf",
	[VIGIL_M_XDP] = "xdp",
	[VIGIL_M_TC] = "tc",
	[VIGIL_M_CGROUP] = "cgroup",
	[VIGIL_M_PERF_EVENT] = "perf_event",
	[VIGIL_M_UPROBE] = "uprobe",
	[VIGIL_M_KPROBE] = "kprobe",
	[VIGIL_M_FENTRY] = "fentry",
	[VIGIL_M_LSM] = "lsm",
	[VIGIL_M_SEND_SIGNAL] = "send_signal",
};

const char *vigil_mech_name(enum vigil_mech m)
{
	return m < VIGIL_M__COUNT ? mech_names[m] : "?";
}
