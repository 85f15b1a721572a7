/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* The process-wide state and the declarations every command needs. */
#ifndef VIGIL_CORE_H
#define VIGIL_CORE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "vigil/events.h"

#define VIGIL_VERSION "0.1.0"

/* Exit codes, documented in docs/architecture.md and `vigil --help`. */
enum vigil_exit_code {
	VIGIL_EXIT_OK = 0,
	VIGIL_EXIT_FAIL = 1,		/* runtime failure */
	VIGIL_EXIT_USAGE = 2,		/* bad command line */
	VIGIL_EXIT_UNSUPPORTED = 3,	/* the kernel or host lacks a needed feature */
};

/* enum vigil_mech (the mechanisms doctor probes) lives in vigil/events.h */
#define VIGIL_MECH(m) (1u << (m))

struct vigil_opt;
struct vigil_mech_plan;

/* Command flags, applied once in main.c before the command runs. */
enum vigil_cmd_flags {
	VC_ROOT = 1 << 0,	/* needs CAP_BPF/CAP_PERFMON (or root) */
	VC_BTF = 1 << 1,	/* needs /sys/kernel/btf/vmlinux */
	VC_TRACE = 1 << 2,	/* takes the common filter and event-loop options */
	VC_BPFFS = 1 << 3,	/* needs bpffs mounted */
};

struct vigil_cmd {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
	const char *usage;		/* after "vigil NAME " */
	const struct vigil_opt *opts;	/* the command's own options */
	unsigned int flags;		/* enum vigil_cmd_flags */
	unsigned int needs;		/* VIGIL_MECH() bits, for doctor */
	const struct vigil_mech_plan *plan;	/* alternative mechanisms, chosen at run time */
};

extern const struct vigil_cmd *const vigil_cmds[];	/* NULL-terminated */

/* Global options and state: one instance, like git's. */
struct vigil_ctx {
	const struct vigil_cmd *cmd;
	bool json;
	bool verbose;
	bool quiet;
	const char *mechanism;	/* --mechanism of commands with a plan; NULL = auto */
	FILE *out;
	const char *output_path;

	/* common filters */
	struct vigil_filter filter;
	const char *cgroup_path;
	int cgroup_fd;
	uint64_t cgroup_id;

	/* event loop */
	uint64_t duration_ns;
	uint64_t interval_ns;
	uint64_t ringbuf_size;
	bool broken_pipe;	/* the reader went away: end quietly */
	int out_errno;		/* why output failed otherwise */
};

extern struct vigil_ctx vigil;

/* errors: lowercase, subject quoted; JSON mode also emits an error record */
void vigil_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void vigil_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void vigil_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void vigil_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

const char *vigil_mech_name(enum vigil_mech m);
const struct vigil_cmd *vigil_cmd_find(const char *name);

#endif
