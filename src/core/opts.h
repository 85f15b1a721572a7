/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Options are declared once, in tables; the parser and the help text are
 * both generated from them, so they cannot disagree.
 */
#ifndef VIGIL_OPTS_H
#define VIGIL_OPTS_H

#include <stdbool.h>
#include <stdint.h>

enum vopt_kind {
	VO_FLAG,	/* bool */
	VO_U32,		/* uint32_t, decimal */
	VO_STR,		/* const char * */
	VO_DURATION,	/* uint64_t ns: 500ms, 10s, 2m, 1h; bare number = seconds */
	VO_SIZE,	/* uint64_t bytes: 4096, 64K, 16M */
	VO_FUNC,	/* fn(arg) parses and stores; returns 0 or -1 */
	VO_SECTION,	/* a help heading, not an option */
};

struct vigil_opt {
	const char *name;	/* long name, without "--" */
	int key;		/* short letter, or 0 */
	enum vopt_kind kind;
	void *dest;
	const char *arg;	/* metavariable in help, NULL for flags */
	const char *help;
	int (*fn)(const char *arg);
	bool hidden;		/* parsed, but left out of --help (test knobs) */
};

#define VOPT_SECTION(title) { .name = (title), .kind = VO_SECTION }
#define VOPT_END { 0 }

/* Shared tables, included by main.c according to the command's flags. */
extern const struct vigil_opt vigil_output_opts[];
extern const struct vigil_opt vigil_trace_opts[];

/*
 * Parse argv against the command's tables. On success returns 0 and sets
 * *first_arg to the index of the first positional argument. Returns
 * VIGIL_EXIT_USAGE after printing why, or -1 when --help was printed.
 */
int vigil_parse_opts(const char *cmd, int argc, char **argv,
		     const struct vigil_opt *const *tables, int *first_arg);
void vigil_print_help(FILE *f, const char *cmd, const char *usage, const char *summary,
		      const struct vigil_opt *const *tables);

int vigil_parse_duration(const char *s, uint64_t *ns);
int vigil_parse_size(const char *s, uint64_t *bytes);
int vigil_parse_u32(const char *s, uint32_t *v);

#endif
