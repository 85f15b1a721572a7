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
		fprintf(f, "  %-10s %s\n", vigil_cmds[i]->name, vigil_cmds[i]->summary);
	fprintf(f, "\nRun 'vigil help COMMAND' or 'vigil COMMAND --help' for its options.\n"
		   "\nExit codes: 0 ok, 1 runtime failure, 2 usage error,\n"
		   "            3 the kernel or host lacks a needed feature (see 'vigil doctor').\n");
}

void cmd_tables(const struct vigil_cmd *c, const struct vigil_opt **t)
{
	int n = 0;

	if (c->opts)
		t[n++] = c->opts;
	if (c->flags & VC_TRACE)
		t[n++] = vigil_trace_opts;
	t[n++] = vigil_output_opts;
	t[n] = NULL;
}

static void cmd_help(const struct vigil_cmd *c, FILE *f)
{
	const struct vigil_opt *t[4];

	cmd_tables(c, t);
	vigil_print_help(f, c->name, c->usage, c->summary, t);
}

static int unknown_command(const char *name)
{
	fprintf(stderr, "vigil: '%s' is not a vigil command; see 'vigil --help'\n", name);
	return VIGIL_EXIT_USAGE;
}

static int check_options(void)
{
	uint64_t rb = vigil.ringbuf_size;
	long page = sysconf(_SC_PAGESIZE);

	if (rb && (rb < (uint64_t)page || (rb & (rb - 1)) || rb > (1ull << 30))) {
		fprintf(stderr, "vigil: invalid --ringbuf-size %llu: a power of two from %ld to 1G\n",
			(unsigned long long)rb, page);
		return VIGIL_EXIT_USAGE;
	}
	if (vigil.filter.flags & VIGIL_F_PID && vigil.filter.flags & VIGIL_F_TID) {
		/* both are allowed, but a tid outside the pid can never match */
		if (vigil.filter.pid == vigil.filter.tid)
			vigil.filter.flags &= ~VIGIL_F_TID;
	}
	return 0;
}

static int prepare_env(const struct vigil_cmd *c)
{
	int err;

	if ((c->flags & VC_ROOT) && (err = vigil_env_check_privileges()))
		return err;
	if ((c->flags & VC_BTF) && (err = vigil_env_check_btf()))
		return err;
	if ((c->flags & VC_BPFFS) && (err = vigil_env_need_bpffs()))
		return err;
	if (vigil.filter.flags & VIGIL_F_CGROUP) {
		static char resolved[4096];

		err = vigil_cgroup_open(vigil.cgroup_path, &vigil.cgroup_fd, &vigil.cgroup_id,
					resolved, sizeof(resolved));
		if (err)
			return err;
		vigil_debug("cgroup filter '%s' (id %llu)", resolved,
			    (unsigned long long)vigil.cgroup_id);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const struct vigil_opt *tables[4];
	const struct vigil_cmd *c;
	int err, first;

	vigil.out = stdout;
	/* a closed pipe is seen as EPIPE on write and ends the command quietly */
	signal(SIGPIPE, SIG_IGN);

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
		cmd_help(c, stdout);
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
	vigil.cmd = c;

	vigil_syscall_learner = vigil_syscall_learn_kernel;
	cmd_tables(c, tables);
	err = vigil_parse_opts(c->name, argc - 1, argv + 1, tables, &first);
	if (err < 0) {
		cmd_help(c, stdout);
		return VIGIL_EXIT_OK;
	}
	if (err || (err = check_options()))
		return err;

	if (vigil.output_path) {
		vigil.out = fopen(vigil.output_path, "we");
		if (!vigil.out) {
			vigil.out = stdout;
			vigil_error("cannot open output file '%s': %s", vigil.output_path, strerror(errno));
			return VIGIL_EXIT_FAIL;
		}
	}
	/* vigil is single-threaded: skip stdio's per-call locking on the hot path */
	__fsetlocking(vigil.out, FSETLOCKING_BYCALLER);
	vigil_libbpf_setup();
	err = prepare_env(c);
	if (!err)
		err = c->run(argc - 1 - first, argv + 1 + first);

	/* lost output is a failure, except a reader that went away (| head) */
	if ((fflush(vigil.out) || ferror(vigil.out)) && !err && errno != EPIPE && !vigil.broken_pipe) {
		fprintf(stderr, "vigil: cannot write output: %s\n", strerror(errno));
		err = VIGIL_EXIT_FAIL;
	}
	if (vigil.out != stdout && fclose(vigil.out) && !err) {
		fprintf(stderr, "vigil: cannot write '%s': %s\n", vigil.output_path, strerror(errno));
		err = VIGIL_EXIT_FAIL;
	}
	return err;
}
