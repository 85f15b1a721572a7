/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* The process-wide state and the declarations every command needs. */
#ifndef VIGIL_CORE_H
#define VIGIL_CORE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "vigil/events.h"

#define VIGIL_VERSION "0.2.0"
/* the NDJSON schema; docs/events.md says what a bump means */
#define VIGIL_SCHEMA_VERSION 2

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

struct vigil_feature;
struct vigil_verb;

struct vigil_cmd {
	const char *name;
	int (*run)(int argc, char **argv);	/* NULL for a feature: the engine runs it */
	const char *summary;
	const char *usage;		/* after "vigil NAME " */
	const struct vigil_opt *opts;	/* the command's own options (base: cmd_opts) */
	void *cmd_opts;			/* where a non-feature command's options go */
	unsigned int flags;		/* enum vigil_cmd_flags */
	unsigned int needs;		/* VIGIL_MECH() bits, for doctor */
	const struct vigil_mech_plan *plan;	/* alternative mechanisms, chosen at run time */
	const struct vigil_feature *feature;	/* what `vigil NAME` and the agent instantiate */
	const struct vigil_verb *verbs;		/* `vigil NAME VERB`, NULL-name terminated */
};

/* A verb of a command (firewall load|reload|...): its own options and flags. */
struct vigil_verb {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
	const char *usage;
	const struct vigil_opt *opts;	/* base: the command's cmd_opts */
	unsigned int flags;		/* enum vigil_cmd_flags; VC_TRACE takes the common options */
};

/*
 * What the common options set: the filters applied in the kernel and the
 * run options. One per feature instance (the agent runs several).
 */
struct vigil_common {
	struct vigil_filter filter;
	const char *cgroup_path;
	int cgroup_fd;
	uint64_t cgroup_id;
	const char *container;		/* --container NAME|ID[,...] */
	uint64_t duration_ns;
	uint64_t interval_ns;
	uint64_t ringbuf_size;
	const char *mechanism;		/* --mechanism of commands with a plan; NULL = auto */
	bool test_pid_outlives;		/* test knob: -p does not end the run, so pid reuse shows */
};

extern const struct vigil_cmd *const vigil_cmds[];	/* NULL-terminated */

/* What the output options of the command line set (base of vigil_output_opts). */
struct vigil_cli {
	bool json;
	bool verbose;
	bool quiet;
	bool containers;	/* --containers: a CONTAINER column */
	const char *output_path;
};

/*
 * Process-wide: how messages are written. One process has one stderr and
 * one log level, whatever features it runs; nothing of a feature is here.
 */
struct vigil_ctx {
	bool json;		/* errors also as {"type":"error"} records on out */
	bool verbose;
	bool quiet;
	FILE *out;		/* the stream error records go to */
	const char *cmd;	/* for "vigil CMD: ..." usage messages */
	struct vigil_sink *sink;	/* the CLI's output, for commands that are not features */
	unsigned int bugs;	/* internal errors seen (vigil_bug) */
};

extern struct vigil_ctx vigil;

/* a usage error: "vigil CMD: msg" on stderr, and an error record in JSON mode */
void vigil_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* 0 when a verb got WANT arguments, else the usage error WHAT and VIGIL_EXIT_USAGE */
int vigil_want_args(int argc, int want, const char *what);
/* an internal error (a row over its field limit, a key that is not there):
 * counted and reported; fatal when VIGIL_STRICT is set, as the tests do */
void vigil_bug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* errors: lowercase, subject quoted; JSON mode also emits an error record */
void vigil_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void vigil_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void vigil_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void vigil_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

const char *vigil_mech_name(enum vigil_mech m);
const struct vigil_cmd *vigil_cmd_find(const char *name);
struct vigil_optset;
/* the option sets of a command or verb, in the order help lists them
 * (a feature's own options have a NULL base here: help and completion only) */
int vigil_cmd_optsets(const struct vigil_cmd *c, const struct vigil_verb *v, void *trace_base,
		      void *cli_base, struct vigil_optset *sets);

#endif
