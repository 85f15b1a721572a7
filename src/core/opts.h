/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Options are declared once, in tables; the parser, the help text, the bash
 * completion and the agent's config all come from them, so they cannot
 * disagree. A table does not point at variables: each option names an offset
 * into a struct the caller passes (a feature instance's options, its common
 * filters), so two instances of one feature parse into two structs.
 */
#ifndef VIGIL_OPTS_H
#define VIGIL_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum vopt_kind {
	VO_FLAG,	/* bool */
	VO_U32,		/* uint32_t, decimal, within [min, max] */
	VO_STR,		/* const char * (points into argv or the config) */
	VO_DURATION,	/* uint64_t ns within [min, max]: 500ms, 10s, 2m, 1h; bare number = seconds */
	VO_SIZE,	/* uint64_t bytes within [min, max]: 4096, 64K, 16M */
	VO_FUNC,	/* fn(base, arg) parses and stores; returns 0 or -1 after printing why */
	VO_SECTION,	/* a help heading, not an option */
};

struct vigil_opt {
	const char *name;	/* long name, without "--" */
	int key;		/* short letter, or 0 */
	enum vopt_kind kind;
	size_t off;		/* where in the table's base struct the value goes */
	const char *arg;	/* metavariable in help, NULL for flags */
	const char *help;
	int (*fn)(void *base, const char *arg);
	bool hidden;		/* parsed, but left out of --help (test knobs) */
	uint64_t min, max;	/* bounds of VO_U32/VO_DURATION/VO_SIZE; max 0 = the kind's own */
};

/* One table and the struct its offsets are relative to. */
struct vigil_optset {
	const struct vigil_opt *opts;
	void *base;
};

#define VOPT_SECTION(title) { .name = (title), .kind = VO_SECTION }
#define VOPT_END { 0 }
#define VOFF(type, field) offsetof(type, field)

/* Shared tables: output options (base: struct vigil_cli), the common
 * filters and run options (base: struct vigil_common). */
extern const struct vigil_opt vigil_output_opts[];
extern const struct vigil_opt vigil_trace_opts[];

#define VIGIL_MAX_OPTSETS 6

/*
 * Check merged tables once: duplicate long names or short letters are a
 * programming error. Returns 0, or -1 after printing the clash.
 */
int vigil_opts_check(const char *cmd, const struct vigil_optset *sets);
/*
 * Parse argv against the sets (NULL-terminated by opts == NULL). On success
 * returns 0 and sets *first_arg to the index of the first positional argument.
 * Returns VIGIL_EXIT_USAGE after printing why, or -1 when --help was asked.
 */
int vigil_parse_opts(const char *cmd, int argc, char **argv, const struct vigil_optset *sets,
		     int *first_arg);
/* set one option by long name, as the agent's config does; 0, -1 (printed why), -ENOENT */
int vigil_opt_set(const char *cmd, const struct vigil_optset *sets, const char *name,
		  const char *value);
const struct vigil_opt *vigil_opt_find(const struct vigil_optset *sets, const char *name,
				       void **base);
void vigil_print_help(FILE *f, const char *cmd, const char *usage, const char *summary,
		      const struct vigil_optset *sets);

int vigil_parse_duration(const char *s, uint64_t *ns);
int vigil_parse_size(const char *s, uint64_t *bytes);
int vigil_parse_u32(const char *s, uint32_t *v);
/* the bounds as people read them: "1ms to 24h", "1 to 1000000" */
void vigil_opt_bounds(const struct vigil_opt *o, char *buf, size_t n);

#endif
