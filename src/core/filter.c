// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* The options every command shares, and the common filters they set. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "core/vigil.h"
#include "core/opts.h"

static int opt_pid(const char *arg)
{
	if (vigil_parse_u32(arg, &vigil.filter.pid) || !vigil.filter.pid) {
		fprintf(stderr, "vigil: invalid pid '%s'\n", arg);
		return -1;
	}
	vigil.filter.flags |= VIGIL_F_PID;
	return 0;
}

static int opt_tid(const char *arg)
{
	if (vigil_parse_u32(arg, &vigil.filter.tid) || !vigil.filter.tid) {
		fprintf(stderr, "vigil: invalid tid '%s'\n", arg);
		return -1;
	}
	vigil.filter.flags |= VIGIL_F_TID;
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

static int opt_uid(const char *arg)
{
	if (vigil_parse_u32(arg, &vigil.filter.uid) && user_uid(arg, &vigil.filter.uid)) {
		fprintf(stderr, "vigil: unknown user '%s'\n", arg);
		return -1;
	}
	vigil.filter.flags |= VIGIL_F_UID;
	return 0;
}

static int opt_comm(const char *arg)
{
	if (!*arg || strlen(arg) >= VIGIL_COMM_LEN) {
		fprintf(stderr, "vigil: invalid comm '%s': 1 to %d characters, as the kernel "
			"truncates process names\n", arg, VIGIL_COMM_LEN - 1);
		return -1;
	}
	memset(vigil.filter.comm, 0, sizeof(vigil.filter.comm));
	memcpy(vigil.filter.comm, arg, strlen(arg));
	vigil.filter.flags |= VIGIL_F_COMM;
	return 0;
}

static int opt_cgroup(const char *arg)
{
	/* opened in main.c once the environment is checked */
	vigil.cgroup_path = arg;
	vigil.filter.flags |= VIGIL_F_CGROUP;
	return 0;
}

static int opt_output(const char *arg)
{
	vigil.output_path = arg;
	return 0;
}

const struct vigil_opt vigil_output_opts[] = {
	VOPT_SECTION("Output"),
	{ "json", 'j', VO_FLAG, &vigil.json, NULL, "one JSON object per line (NDJSON)" },
	{ "output", 'o', VO_FUNC, NULL, "FILE", "write to FILE instead of stdout", opt_output },
	{ "verbose", 'v', VO_FLAG, &vigil.verbose, NULL, "show libbpf and attach details on stderr" },
	{ "quiet", 'q', VO_FLAG, &vigil.quiet, NULL, "no status lines on stderr" },
	VOPT_END,
};

const struct vigil_opt vigil_trace_opts[] = {
	VOPT_SECTION("Filters (applied in the kernel)"),
	{ "pid", 'p', VO_FUNC, NULL, "PID", "only this process (all its threads)", opt_pid },
	{ "tid", 0, VO_FUNC, NULL, "TID", "only this thread", opt_tid },
	{ "uid", 'u', VO_FUNC, NULL, "UID", "only this user (number or name)", opt_uid },
	{ "comm", 'c', VO_FUNC, NULL, "NAME", "only tasks with this name (exact, as in /proc/PID/comm)", opt_comm },
	{ "cgroup", 0, VO_FUNC, NULL, "PATH", "only tasks in this cgroup v2 directory or below", opt_cgroup },
	VOPT_SECTION("Run"),
	{ "duration", 'd', VO_DURATION, &vigil.duration_ns, "DUR", "stop after DUR (500ms, 10s, 5m)" },
	{ "interval", 'i', VO_DURATION, &vigil.interval_ns, "DUR", "print summaries every DUR" },
	{ "ringbuf-size", 0, VO_SIZE, &vigil.ringbuf_size, "SIZE",
	  "kernel ring buffer size, a power of two >= 4K (default 1M)" },
	VOPT_END,
};
