// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* vigil sched: the switch states, as the kernel program classifies them. */
#include <stdbool.h>
#include "check.h"
#include "vigil/events.h"

#undef __always_inline
#define __always_inline inline
#include "../../bpf/sched_state.bpf.h"

int main(void)
{
	/* still runnable: preempted or yielded, whatever the state says */
	CHECK(vigil_sched_state_of(false, 0) == VIGIL_SCHED_PREEMPTED);
	CHECK(vigil_sched_state_of(true, 0x0001) == VIGIL_SCHED_PREEMPTED);
	CHECK(vigil_sched_state_of(true, 0x0002) == VIGIL_SCHED_PREEMPTED);
	CHECK(vigil_sched_state_of(false, 0x0001) == VIGIL_SCHED_SLEEP);	/* S */
	CHECK(vigil_sched_state_of(false, 0x0002) == VIGIL_SCHED_DISK);	/* D */
	CHECK(vigil_sched_state_of(false, 0x0102) == VIGIL_SCHED_DISK);	/* TASK_KILLABLE */
	CHECK(vigil_sched_state_of(false, 0x0101) == VIGIL_SCHED_SLEEP);	/* S | WAKEKILL */
	CHECK(vigil_sched_state_of(false, 0x0402) == VIGIL_SCHED_OTHER);	/* TASK_IDLE */
	CHECK(vigil_sched_state_of(false, 0x0004) == VIGIL_SCHED_OTHER);	/* stopped */
	CHECK(vigil_sched_state_of(false, 0x0008) == VIGIL_SCHED_OTHER);	/* traced */
	CHECK(vigil_sched_state_of(false, 0x0080) == VIGIL_SCHED_OTHER);	/* TASK_DEAD */
	/* four states, a power of two: the kernel masks the index with it */
	CHECK((VIGIL_SCHED__STATES & (VIGIL_SCHED__STATES - 1)) == 0);
	return check_done("test_sched");
}
