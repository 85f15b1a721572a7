// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* The options every command shares, and the common filters they set. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/vigil.h"
#include "core/opts.h"
#include "core/env.h"

#define C(field) VOFF(struct vigil_common, field)

/* /proc/sys/kernel/pid_max, or the kernel's ceiling */
static uint32_t pid_max(void)
{
	FILE *f = fopen("/proc/sys/kernel/pid_max", "re");
	unsigned int v = 4194304;

	if (f) {
		if (fscanf(f, "%u", &v) != 1)
			v = 4194304;
		fclose(f);
	}
	return v;
}

static int opt_pid(void *base, const char *arg)
{
	struct vigil_common *c = base;
	uint64_t start;

	if (vigil_parse_u32(arg, &c->filter.pid) || !c->filter.pid ||
	    c->filter.pid >= pid_max()) {
		vigil_usage_error("invalid pid '%s': 1 to %u", arg, pid_max() - 1);
		return -1;
	}
	/* the process must exist now; its start time tells it from a later one with its pid */
	if (vigil_proc_start_ticks(c->filter.pid, &start)) {
		vigil_usage_error("no process with pid '%s'", arg);
		return -1;
	}
	c->filter.pid_start = start;
	c->filter.flags |= VIGIL_F_PID;
	return 0;
}

static int opt_tid(void *base, const char *arg)
{
	struct vigil_common *c = base;

	if (vigil_parse_u32(arg, &c->filter.tid) || !c->filter.tid || c->filter.tid >= pid_max()) {
		vigil_usage_error("invalid tid '%s': 1 to %u", arg, pid_max() - 1);
		return -1;
	}
	c->filter.flags |= VIGIL_F_TID;
	return 0;
}

/* /etc/passwd by hand: getpwnam() in a static binary would need NSS modules */
static int user_uid(const char *name, uint32_t *uid)
{
	FILE *f = fopen("/etc/passwd", "re");
	char line[1024];
	size_t n = strlen(name);
	int ret = -1;

	while (f && fgets(line, sizeof(line), f)) {
		char *p;

		if (strncmp(line, name, n) || line[n] != ':')
			continue;
		p = strchr(line + n + 1, ':');
		if (p && sscanf(p + 1, "%u", uid) == 1)
			ret = 0;
		break;
	}
	if (f)
		fclose(f);
	return ret;
}

static int opt_uid(void *base, const char *arg)
{
	struct vigil_common *c = base;

	if (vigil_parse_u32(arg, &c->filter.uid) && user_uid(arg, &c->filter.uid)) {
		vigil_usage_error("unknown user '%s'", arg);
		return -1;
	}
	c->filter.flags |= VIGIL_F_UID;
	return 0;
}

static int opt_comm(void *base, const char *arg)
{
	struct vigil_common *c = base;

	if (!*arg || strlen(arg) >= VIGIL_COMM_LEN) {
		vigil_usage_error("invalid comm '%s': 1 to %d characters, as the kernel "
				  "truncates process names", arg, VIGIL_COMM_LEN - 1);
		return -1;
	}
	memset(c->filter.comm, 0, sizeof(c->filter.comm));
	memcpy(c->filter.comm, arg, strlen(arg));
	c->filter.flags |= VIGIL_F_COMM;
	return 0;
}

static int opt_cgroup(void *base, const char *arg)
{
	struct vigil_common *c = base;

	/* opened by the engine once the environment is checked */
	c->cgroup_path = arg;
	c->filter.flags |= VIGIL_F_CGROUP;
	return 0;
}

static int opt_ringbuf(void *base, const char *arg)
{
	struct vigil_common *c = base;
	uint64_t rb;

	if (vigil_parse_size(arg, &rb) || rb < 4096 || (rb & (rb - 1)) || rb > (1ull << 30)) {
		vigil_usage_error("invalid --ringbuf-size '%s': a power of two from 4K to 1G", arg);
		return -1;
	}
	c->ringbuf_size = rb;
	return 0;
}

#define O(field) VOFF(struct vigil_cli, field)

const struct vigil_opt vigil_output_opts[] = {
	VOPT_SECTION("Output"),
	{ "json", 'j', VO_FLAG, O(json), NULL, "one JSON object per line (NDJSON)" },
	{ "output", 'o', VO_STR, O(output_path), "FILE", "write to FILE instead of stdout" },
	{ "verbose", 'v', VO_FLAG, O(verbose), NULL,
	  "show libbpf and attach details, and the programs' cost at exit, on stderr" },
	{ "quiet", 'q', VO_FLAG, O(quiet), NULL, "no status lines on stderr" },
	{ "containers", 0, VO_FLAG, O(containers), NULL, "table: the container of each row in a column" },
	VOPT_END,
};

#define MS 1000000ull
#define HOUR (3600ull * 1000000000ull)

const struct vigil_opt vigil_trace_opts[] = {
	VOPT_SECTION("Filters (applied in the kernel)"),
	{ "pid", 'p', VO_FUNC, 0, "PID", "only this process (all its threads); ends when it exits",
	  opt_pid },
	{ "tid", 0, VO_FUNC, 0, "TID", "only this thread", opt_tid },
	{ "uid", 'u', VO_FUNC, 0, "UID", "only this user (number or name)", opt_uid },
	{ "comm", 'c', VO_FUNC, 0, "NAME", "only tasks with this name (exact, as in /proc/PID/comm)", opt_comm },
	{ "cgroup", 0, VO_FUNC, 0, "PATH", "only tasks in this cgroup v2 directory or below", opt_cgroup },
	{ "container", 0, VO_STR, C(container), "NAME|ID[,...]",
	  "only tasks in these containers (names, ids, or id prefixes of 12+ hex digits)" },
	{ "test-pid-outlives", 0, VO_FLAG, C(test_pid_outlives), NULL,
	  "keep running after the -p process exits", .hidden = true },
	VOPT_SECTION("Run"),
	{ "duration", 'd', VO_DURATION, C(duration_ns), "DUR", "stop after DUR (500ms, 10s, 5m)",
	  .min = 1 * MS, .max = 366 * 24 * HOUR },
	{ "interval", 'i', VO_DURATION, C(interval_ns), "DUR", "print summaries every DUR",
	  .min = 10 * MS, .max = 24 * HOUR },
	{ "ringbuf-size", 0, VO_FUNC, 0, "SIZE",
	  "kernel ring buffer size, a power of two from 4K to 1G (default 1M)", opt_ringbuf },
	VOPT_END,
};
