/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * perf_event programs: one perf event per CPU (a software clock at a
 * frequency), each with the program attached through a bpf_link. The perf
 * fds and links belong to the caller's state and die with the process, so a
 * SIGKILL leaves nothing behind.
 */
#ifndef VIGIL_PERF_H
#define VIGIL_PERF_H

#include <stdbool.h>
#include <stdint.h>
#include <bpf/libbpf.h>

struct vigil_perf_links {
	int n;
	int *fds;		/* perf event fds, one per CPU attached */
	struct bpf_link **links;
};

/*
 * Sample at freq Hz on each CPU with cpus[i] set (i < ncpus; NULL: every
 * online CPU) and attach prog to each. 0, or a positive errno with what
 * failed in why.
 */
int vigil_perf_attach(struct vigil_perf_links *pl, struct bpf_program *prog, uint32_t freq,
		      const bool *cpus, int ncpus, char *why, size_t whylen);
void vigil_perf_detach(struct vigil_perf_links *pl);
/* "0-3,6" -> set[i] for i < max; -1 on a malformed list or a CPU >= max */
int vigil_parse_cpulist(const char *s, bool *set, int max);
/* /sys/devices/system/cpu/online as a set; the number of CPUs in it, or -1 */
int vigil_cpus_online(bool *set, int max);

#endif
