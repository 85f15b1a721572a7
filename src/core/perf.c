// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* perf events per CPU for perf_event BPF programs (core/perf.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include "core/perf.h"

int vigil_parse_cpulist(const char *s, bool *set, int max)
{
	const char *p = s;

	memset(set, 0, max * sizeof(*set));
	if (!*p)
		return -1;
	while (*p) {
		char *end;
		unsigned long a, b;

		if (*p < '0' || *p > '9')
			return -1;
		a = strtoul(p, &end, 10);
		b = a;
		if (*end == '-') {
			p = end + 1;
			if (*p < '0' || *p > '9')
				return -1;
			b = strtoul(p, &end, 10);
		}
		if (b < a || b >= (unsigned long)max)
			return -1;
		for (unsigned long i = a; i <= b; i++)
			set[i] = true;
		p = end;
		if (*p == ',') {
			p++;
			if (!*p)
				return -1;
		} else if (*p && *p != '\n') {
			return -1;
		} else {
			break;
		}
	}
	return 0;
}

int vigil_cpus_online(bool *set, int max)
{
	char buf[4096];
	FILE *f = fopen("/sys/devices/system/cpu/online", "re");
	int n = 0;

	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return -1;
	}
	fclose(f);
	if (vigil_parse_cpulist(buf, set, max))
		return -1;
	for (int i = 0; i < max; i++)
		n += set[i];
	return n;
}

void vigil_perf_detach(struct vigil_perf_links *pl)
{
	/*
	 * Stop sampling first, synchronously on each CPU: a link's release is
	 * deferred to a workqueue and holds the event, which would go on
	 * sampling after its fd is closed (counts read then would move).
	 */
	for (int i = 0; i < pl->n; i++)
		if (pl->fds[i] >= 0)
			ioctl(pl->fds[i], PERF_EVENT_IOC_DISABLE, 0);
	for (int i = 0; i < pl->n; i++) {
		bpf_link__destroy(pl->links[i]);
		if (pl->fds[i] >= 0)
			close(pl->fds[i]);
	}
	free(pl->links);
	free(pl->fds);
	memset(pl, 0, sizeof(*pl));
}

int vigil_perf_attach(struct vigil_perf_links *pl, struct bpf_program *prog, uint32_t freq,
		      const bool *cpus, int ncpus, char *why, size_t whylen)
{
	int max = libbpf_num_possible_cpus();
	bool *online;
	int err = 0;

	if (max <= 0)
		return EINVAL;
	online = calloc(max, sizeof(*online));
	pl->fds = calloc(max, sizeof(*pl->fds));
	pl->links = calloc(max, sizeof(*pl->links));
	if (!online || !pl->fds || !pl->links) {
		err = ENOMEM;
		goto out;
	}
	if (vigil_cpus_online(online, max) < 0) {
		snprintf(why, whylen, "cannot read '/sys/devices/system/cpu/online'");
		err = errno ? errno : EINVAL;
		goto out;
	}
	for (int cpu = 0; cpu < max; cpu++) {
		struct perf_event_attr attr = {
			.type = PERF_TYPE_SOFTWARE,
			.config = PERF_COUNT_SW_CPU_CLOCK,
			.size = sizeof(attr),
			.freq = 1,
			.sample_freq = freq,
		};
		int fd;

		if (cpus ? cpu >= ncpus || !cpus[cpu] : !online[cpu])
			continue;
		if (!online[cpu]) {
			snprintf(why, whylen, "cpu %d is not online", cpu);
			err = ENODEV;
			goto out;
		}
		fd = syscall(__NR_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
		if (fd < 0) {
			err = errno;
			snprintf(why, whylen, "perf_event_open on cpu %d: %s", cpu, strerror(err));
			goto out;
		}
		pl->fds[pl->n] = fd;
		pl->links[pl->n] = bpf_program__attach_perf_event(prog, fd);
		if (!pl->links[pl->n]) {
			err = errno ? errno : EINVAL;
			snprintf(why, whylen, "attach to the perf event on cpu %d: %s", cpu,
				 strerror(err));
			close(fd);
			goto out;
		}
		pl->n++;
	}
	if (!pl->n) {
		snprintf(why, whylen, "no CPU to sample");
		err = ENODEV;
	}
out:
	free(online);
	if (err)
		vigil_perf_detach(pl);
	return err;
}
