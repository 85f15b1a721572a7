// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* The command table and the global options; nothing feature-specific. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/vigil.h"
#include "core/env.h"
#include "core/feature.h"
#include "core/ksyms.h"
#include "core/opts.h"
#include "core/out.h"
#include "core/session.h"
#include "core/syscalls.h"

#define VIGIL_CMD(name) extern const struct vigil_cmd cmd_##name;
#include "cmd/list.h"
#undef VIGIL_CMD

#define VIGIL_CMD(name) &cmd_##name,
const struct vigil_cmd *const vigil_cmds[] = {
#include "cmd/list.h"
	NULL,
};
#undef VIGIL_CMD

const struct vigil_cmd *vigil_cmd_find(const char *name)
{
	for (int i = 0; vigil_cmds[i]; i++)
		if (!strcmp(vigil_cmds[i]->name, name))
			return vigil_cmds[i];
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: vigil [--version] [--help] COMMAND [OPTIONS]\n\n"
		   "eBPF observability and protection for Linux hosts.\n\nCommands:\n");
	for (int i = 0; vigil_cmds[i]; i++)
		if (vigil_cmds[i]->summary)
			fprintf(f, "  %-10s %s\n", vigil_cmds[i]->name, vigil_cmds[i]->summary);
	fprintf(f, "\nRun 'vigil help COMMAND' or 'vigil COMMAND --help' for its options.\n"
		   "\nExit codes: 0 ok, 1 runtime failure, 2 usage error,\n"
		   "            3 the kernel or host lacks a needed feature (see 'vigil doctor').\n");
}

static const struct vigil_verb *verb_find(const struct vigil_cmd *c, const char *name)
{
	for (const struct vigil_verb *v = c->verbs; v && v->name; v++)
		if (!strcmp(v->name, name))
			return v;
	return NULL;
}

int vigil_cmd_optsets(const struct vigil_cmd *c, const struct vigil_verb *v, void *trace_base,
		      void *cli_base, struct vigil_optset *sets)
{
	static struct vigil_common scratch;	/* help and completion only read the tables */
	unsigned int flags = v ? v->flags : c->flags;
	int n = 0;

	/* a verb has its own table, even in a command that is also a feature (firewall) */
	if (c->feature && c->feature->opts && !v)
		sets[n++] = (struct vigil_optset){ c->feature->opts, NULL };
	if (v ? v->opts : c->opts)
		sets[n++] = (struct vigil_optset){ v ? v->opts : c->opts, c->cmd_opts };
	if ((flags & VC_TRACE) || (c->feature && !v))
		sets[n++] = (struct vigil_optset){ vigil_trace_opts, trace_base ? trace_base : &scratch };
	sets[n++] = (struct vigil_optset){ vigil_output_opts, cli_base };
	sets[n] = (struct vigil_optset){ 0 };
	return n;
}

static void cmd_help(const struct vigil_cmd *c, const struct vigil_verb *v, FILE *f)
{
	struct vigil_optset sets[VIGIL_MAX_OPTSETS];
	char name[64];

	if (c->verbs && !v) {
		fprintf(f, "usage: vigil %s VERB [OPTIONS]\n\n%s\n\nVerbs:\n", c->name, c->summary);
		for (v = c->verbs; v->name; v++)
			fprintf(f, "  %-10s %s\n", v->name, v->summary);
		fprintf(f, "\nRun 'vigil %s VERB --help' for a verb's options.\n", c->name);
		return;
	}
	vigil_cmd_optsets(c, v, NULL, NULL, sets);
	snprintf(name, sizeof(name), "%s%s%s", c->name, v ? " " : "", v ? v->name : "");
	/* the tables are checked wherever they are built: help too */
	if (vigil_opts_check(name, sets))
		exit(VIGIL_EXIT_FAIL);
	vigil_print_help(f, name, v ? v->usage : c->usage, v ? v->summary : c->summary, sets);
}

static int unknown_command(const char *name)
{
	fprintf(stderr, "vigil: '%s' is not a vigil command; see 'vigil --help'\n", name);
	return VIGIL_EXIT_USAGE;
}

/* usage errors are records too in JSON mode: know it before parsing */
static bool wants_json(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "-j"))
			return true;
		if (argv[i][0] == '-' && argv[i][1] != '-' && strchr(argv[i], 'j') &&
		    strspn(argv[i] + 1, "jvqxTPCnaw") == strlen(argv[i] + 1))
			return true;
	}
	return false;
}

/* a command that is not a feature (doctor, firewall verbs, completion) */
static int run_command(const struct vigil_cmd *c, const struct vigil_verb *v, int argc, char **argv)
{
	struct vigil_optset sets[VIGIL_MAX_OPTSETS];
	static struct vigil_common common;
	struct vigil_cli cli = { 0 };
	struct vigil_sink sink;
	const char *name = v ? v->name : c->name;
	char full[64];
	FILE *out = stdout;
	int err, first;

	snprintf(full, sizeof(full), "%s%s%s", c->name, v ? " " : "", v ? name : "");
	vigil.cmd = full;
	vigil_cmd_optsets(c, v, &common, &cli, sets);
	err = vigil_parse_opts(full, argc, argv, sets, &first);
	if (err < 0) {
		cmd_help(c, v, stdout);
		return VIGIL_EXIT_OK;
	}
	if (err)
		return err;
	vigil.verbose = cli.verbose;
	vigil.quiet = cli.quiet;
	vigil.json = cli.json;
	if (cli.output_path) {
		out = fopen(cli.output_path, "we");
		if (!out) {
			vigil_error("cannot open output file '%s': %s", cli.output_path, strerror(errno));
			return VIGIL_EXIT_FAIL;
		}
	}
	vigil.out = out;
	out_sink_init(&sink, out, cli.json);
	vigil.sink = &sink;
	err = vigil_env_for(v ? v->flags : c->flags);
	if (!err)
		err = (v ? v->run : c->run)(argc - first, argv + first);
	if (!sink.broken_pipe && (fflush(out) || ferror(out)) && !err && errno != EPIPE) {
		fprintf(stderr, "vigil: cannot write output: %s\n", strerror(errno));
		err = VIGIL_EXIT_FAIL;
	}
	if (out != stdout && fclose(out) && !err) {
		fprintf(stderr, "vigil: cannot write '%s': %s\n", cli.output_path, strerror(errno));
		err = VIGIL_EXIT_FAIL;
	}
	vigil.out = stdout;
	vigil.sink = NULL;
	return err;
}

int main(int argc, char **argv)
{
	const struct vigil_verb *v = NULL;
	const struct vigil_cmd *c;

	vigil.out = stdout;
	/* a closed pipe is seen as EPIPE on write and ends the command quietly */
	signal(SIGPIPE, SIG_IGN);
	/*
	 * A background job of a non-interactive shell inherits SIGINT ignored:
	 * a supervisor's SIGINT right after the start would be dropped. vigil
	 * takes them back; the loop blocks them (read through its signalfd).
	 */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);

	if (argc < 2) {
		usage(stderr);
		return VIGIL_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return VIGIL_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("vigil %s\n", VIGIL_VERSION);
		return VIGIL_EXIT_OK;
	}
	if (!strcmp(argv[1], "help")) {
		if (argc < 3) {
			usage(stdout);
			return VIGIL_EXIT_OK;
		}
		c = vigil_cmd_find(argv[2]);
		if (!c)
			return unknown_command(argv[2]);
		if (argc > 3 && c->verbs && !(v = verb_find(c, argv[3])))
			return unknown_command(argv[3]);
		cmd_help(c, v, stdout);
		return VIGIL_EXIT_OK;
	}
	if (argv[1][0] == '-') {
		fprintf(stderr, "vigil: unknown option '%s' before the command; see 'vigil --help'\n",
			argv[1]);
		return VIGIL_EXIT_USAGE;
	}
	c = vigil_cmd_find(argv[1]);
	if (!c)
		return unknown_command(argv[1]);
	vigil.cmd = c->name;
	vigil.json = wants_json(argc, argv);
	vigil_syscall_learner = vigil_syscall_learn_kernel;
	vigil_libbpf_setup();

	if (c->verbs) {
		if (argc < 3 || argv[2][0] == '-') {
			if (argc >= 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
				cmd_help(c, NULL, stdout);
				return VIGIL_EXIT_OK;
			}
			vigil_usage_error("needs a verb; see 'vigil %s --help'", c->name);
			return VIGIL_EXIT_USAGE;
		}
		v = verb_find(c, argv[2]);
		if (!v) {
			vigil_usage_error("unknown verb '%s'; see 'vigil %s --help'", argv[2], c->name);
			return VIGIL_EXIT_USAGE;
		}
		return run_command(c, v, argc - 2, argv + 2);
	}
	if (c->feature) {
		sigset_t m;

		/* from the first instruction: a signal during start-up ends the run cleanly */
		sigemptyset(&m);
		sigaddset(&m, SIGINT);
		sigaddset(&m, SIGTERM);
		sigaddset(&m, SIGHUP);
		sigprocmask(SIG_BLOCK, &m, NULL);
		return vigil_feature_main(c, argc - 1, argv + 1);
	}
	return run_command(c, NULL, argc - 1, argv + 1);
}
