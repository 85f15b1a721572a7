// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "core/vigil.h"
#include "core/env.h"
#include "core/feature.h"
#include "core/loop.h"
#include "core/out.h"
#include "core/container.h"
#include "core/session.h"

struct vigil_inst *vigil_inst_new(const struct vigil_feature *f, const char *name)
{
	struct vigil_inst *in = calloc(1, sizeof(*in));

	if (!in)
		return NULL;
	in->feat = f;
	snprintf(in->name, sizeof(in->name), "%s", name ? name : f->name);
	in->c.cgroup_fd = in->tickfd = in->endfd = in->pidfd = -1;
	in->opts = calloc(1, f->opts_size ? f->opts_size : 1);
	if (!in->opts) {
		free(in);
		return NULL;
	}
	if (f->opts_default)
		memcpy(in->opts, f->opts_default, f->opts_size);
	return in;
}

void vigil_inst_free(struct vigil_inst *in)
{
	if (!in)
		return;
	if (in->c.cgroup_fd >= 0)
		close(in->c.cgroup_fd);
	free(in->priv);
	free(in->opts);
	free(in);
}

int vigil_inst_optsets(struct vigil_inst *in, struct vigil_optset *sets, int max)
{
	int n = 0;

	if (in->feat->opts && n < max)
		sets[n++] = (struct vigil_optset){ in->feat->opts, in->opts };
	if (n < max)
		sets[n++] = (struct vigil_optset){ vigil_trace_opts, &in->c };
	return n;
}

static void inst_end(struct vigil_inst *in)
{
	if (in->ended)
		return;
	in->ended = true;
	if (in->on_end)
		in->on_end(in, in->on_end_ctx);
}

static int on_tick(void *ctx, int fd, uint32_t events)
{
	struct vigil_inst *in = ctx;
	struct vigil_session *ss[8];
	int n = in->feat->sessions ? in->feat->sessions(in, ss, 8) : 0;
	int err;

	(void)fd;
	(void)events;
	for (int i = 0; i < n; i++)
		vigil_session_tick(ss[i]);
	out_containers(in->sink);
	if (!in->feat->tick)
		return 0;
	err = in->feat->tick(in);
	if (err < 0) {
		/* output is gone: quietly when the reader went away */
		if (in->sink->broken_pipe) {
			inst_end(in);
			return 0;
		}
		vigil_error("cannot write output: %s", strerror(in->sink->err ? in->sink->err : EIO));
		return VIGIL_EXIT_FAIL;
	}
	return err;
}

static int on_end(void *ctx, int fd, uint32_t events)
{
	struct vigil_inst *in = ctx;

	(void)events;
	if (fd == in->pidfd)
		vigil_info("%s: process %u exited", in->name, in->c.filter.pid);
	inst_end(in);
	return 0;
}

/* -p PID: a pidfd becomes readable when the process exits */
static int watch_pid(struct vigil_inst *in)
{
	uint32_t pid = in->c.filter.pid;
	uint64_t start;
	int err;

	in->pidfd = syscall(SYS_pidfd_open, pid, 0);
	/* the pidfd names this process only if it is still the one the user meant */
	if (in->pidfd < 0 || vigil_proc_start_ticks(pid, &start) || start != in->c.filter.pid_start) {
		vigil_usage_error("process '%u' exited before tracing began", pid);
		return VIGIL_EXIT_USAGE;
	}
	err = vigil_loop_add(in->loop, in->pidfd, EPOLLIN, on_end, in);
	return err ? VIGIL_EXIT_FAIL : 0;
}

/* --container: names and ids to (level, cgroup id) pairs the kernel compares */
static int match_containers(struct vigil_inst *in)
{
	struct vigil_container_match m[VIGIL_MAX_CONTAINERS];
	struct vigil_filter *f = &in->c.filter;
	char err[2048];
	int n;

	if (!in->containers) {
		vigil_error("cannot use --container '%s': no cgroup v2 hierarchy to find containers in",
			    in->c.container);
		return VIGIL_EXIT_UNSUPPORTED;
	}
	vigil_containers_resolve_now(in->containers);
	n = vigil_containers_match(in->containers, in->c.container, m, VIGIL_MAX_CONTAINERS, err,
				   sizeof(err));
	if (n < 0) {
		vigil_usage_error("%s", err);
		return VIGIL_EXIT_USAGE;
	}
	f->nctr = n;
	for (int i = 0; i < n; i++) {
		f->ctr_level[i] = m[i].level;
		f->ctr_id[i] = m[i].cgroup_id;
		vigil_debug("%s: container '%s' is cgroup %llu at level %d", in->name, m[i].ctr->id,
			    (unsigned long long)m[i].cgroup_id, m[i].level);
	}
	f->flags |= VIGIL_F_CONTAINER;
	return 0;
}

/* a cgroup's depth below the cgroup2 root: what the kernel calls its level */
static uint32_t cgroup_level(const char *path)
{
	char p[PATH_MAX], r[PATH_MAX];
	const char *root = vigil_cgroup2_path();
	uint32_t level = 0;

	if (!root || !realpath(path, p) || !realpath(root, r))
		return 0;
	for (const char *c = p + strlen(r); *c; c++)
		if (*c == '/' && c[1])
			level++;
	return level;
}

struct vigil_containers *vigil_containers_start(void)
{
	struct vigil_containers_opts o = { 0 };
	struct vigil_containers *c = vigil_containers_new(&o);

	if (!c)
		vigil_debug("no container identity: %s", strerror(errno));
	return c;
}

int vigil_inst_start(struct vigil_inst *in, struct vigil_loop *loop, struct vigil_sink *sink)
{
	const struct vigil_feature *f = in->feat;
	uint64_t interval = in->c.interval_ns ? in->c.interval_ns : f->default_interval_ns;
	int err;

	in->loop = loop;
	in->sink = sink;
	in->started_ns = vigil_mono_ns();
	if (f->check && (err = f->check(in)))
		return err;
	in->c.interval_ns = interval;
	if (in->c.filter.flags & VIGIL_F_CGROUP) {
		char resolved[4096];

		err = vigil_cgroup_open(in->c.cgroup_path, &in->c.cgroup_fd, &in->c.cgroup_id,
					resolved, sizeof(resolved));
		if (err)
			return err;
		in->c.filter.cg_id = in->c.cgroup_id;
		in->c.filter.cg_level = cgroup_level(resolved);
		vigil_debug("%s: cgroup filter '%s' (id %llu, level %u)", in->name, resolved,
			    (unsigned long long)in->c.cgroup_id, in->c.filter.cg_level);
	}
	if ((in->c.filter.flags & VIGIL_F_PID) && !in->c.test_pid_outlives && (err = watch_pid(in)))
		return err;
	if (in->c.container && (err = match_containers(in)))
		return err;
	free(in->priv);
	in->priv = calloc(1, f->priv_size ? f->priv_size : 1);
	if (!in->priv)
		return VIGIL_EXIT_FAIL;
	in->running = true;
	err = f->start(in);
	if (err)
		return err;
	if (interval && f->tick) {
		in->tickfd = vigil_loop_timer(loop, interval, true, on_tick, in);
		if (in->tickfd < 0)
			return VIGIL_EXIT_FAIL;
	}
	if (in->c.duration_ns) {
		in->endfd = vigil_loop_timer(loop, in->c.duration_ns, false, on_end, in);
		if (in->endfd < 0)
			return VIGIL_EXIT_FAIL;
	}
	return 0;
}

int vigil_inst_stop(struct vigil_inst *in, int err)
{
	if (in->loop) {
		vigil_loop_del(in->loop, in->tickfd);
		vigil_loop_del(in->loop, in->endfd);
		vigil_loop_del(in->loop, in->pidfd);
	}
	if (in->pidfd >= 0)
		close(in->pidfd);
	in->tickfd = in->endfd = in->pidfd = -1;
	if (in->running) {
		in->running = false;
		err = in->feat->stop(in, err);
	}
	return err;
}

void vigil_inst_cost(struct vigil_inst *in, uint64_t *runs, uint64_t *run_ns)
{
	struct vigil_session *ss[8];
	struct vigil_prog_cost c[32];
	int n = in->running && in->feat->sessions ? in->feat->sessions(in, ss, 8) : 0;

	*runs = *run_ns = 0;
	for (int i = 0; i < n; i++) {
		int m = vigil_session_costs(ss[i], c, 32);

		for (int j = 0; j < m; j++) {
			*runs += c[j].runs;
			*run_ns += c[j].run_ns;
		}
	}
}

void vigil_plan_probe(const struct vigil_cmd *c, struct vigil_mech_choice *choice)
{
	struct vigil_inst *in = c->feature ? vigil_inst_new(c->feature, c->name) : NULL;

	memset(choice, 0, sizeof(*choice));
	if (!in || !(in->priv = calloc(1, c->feature->priv_size ? c->feature->priv_size : 1))) {
		snprintf(choice->why, sizeof(choice->why), "not probed: %s", strerror(ENOMEM));
		vigil_inst_free(in);
		return;
	}
	vigil_mech_plan_probe(in, c->plan, choice);
	vigil_inst_free(in);
}

/* ---- the CLI: one instance ---- */

static void cli_end(struct vigil_inst *in, void *ctx)
{
	vigil_loop_stop(ctx, 0);
	(void)in;
}

int vigil_feature_main(const struct vigil_cmd *c, int argc, char **argv)
{
	struct vigil_optset sets[VIGIL_MAX_OPTSETS];
	struct vigil_cli cli = { 0 };
	struct vigil_loop loop;
	struct vigil_sink sink;
	struct vigil_inst *in;
	FILE *out = stdout;
	int n, err, first;

	in = vigil_inst_new(c->feature, c->name);
	if (!in)
		return VIGIL_EXIT_FAIL;
	n = vigil_inst_optsets(in, sets, VIGIL_MAX_OPTSETS - 2);
	sets[n++] = (struct vigil_optset){ vigil_output_opts, &cli };
	sets[n] = (struct vigil_optset){ 0 };
	err = vigil_parse_opts(c->name, argc, argv, sets, &first);
	if (err < 0) {
		vigil_print_help(stdout, c->name, c->usage, c->summary, sets);
		vigil_inst_free(in);
		return VIGIL_EXIT_OK;
	}
	vigil.verbose = cli.verbose;
	vigil.quiet = cli.quiet;
	vigil.json = cli.json;
	if (!err && first < argc) {
		vigil_usage_error("unexpected argument '%s'", argv[first]);
		err = VIGIL_EXIT_USAGE;
	}
	if (err)
		goto out;
	if (cli.output_path) {
		out = fopen(cli.output_path, "we");
		if (!out) {
			out = stdout;
			vigil_error("cannot open output file '%s': %s", cli.output_path, strerror(errno));
			err = VIGIL_EXIT_FAIL;
			goto out;
		}
	}
	/* vigil is single-threaded: skip stdio's per-call locking on the hot path */
	__fsetlocking(out, FSETLOCKING_BYCALLER);
	out_buffer(out);
	vigil.out = out;
	err = vigil_env_for(c->flags);
	if (err)
		goto out;
	if (vigil.verbose)
		vigil_bpf_stats_enable();
	if (vigil_loop_init(&loop)) {
		vigil_error("cannot set up the event loop: %s", strerror(errno));
		err = VIGIL_EXIT_FAIL;
		goto out;
	}
	out_sink_init(&sink, out, cli.json);
	out_schema(&sink);
	sink.containers = in->containers = vigil_containers_start();
	sink.show_containers = cli.containers;
	in->on_end = cli_end;
	in->on_end_ctx = &loop;
	err = vigil_inst_start(in, &loop, &sink);
	if (!err) {
		/* a feature that heads each interval's table itself marks it done */
		if (!sink.header_done)
			out_header(&sink);
		err = vigil_loop_run(&loop, -1);
	}
	err = vigil_inst_stop(in, err);
	vigil_loop_fini(&loop);
	if (sink.containers) {
		sink.containers_ticked = 0;
		out_containers(&sink);
		vigil_containers_free(sink.containers);
	}
	if (sink.interrupted)
		fprintf(stderr, "vigil: %s: output cut short: the reader was not taking it when the run "
			"was stopped\n", in->name);
	/* lost output is a failure, except a reader that went away (| head) */
	if (!sink.broken_pipe && (fflush(out) || ferror(out)) && !err && errno != EPIPE) {
		fprintf(stderr, "vigil: cannot write output: %s\n", strerror(errno));
		err = VIGIL_EXIT_FAIL;
	}
out:
	if (out != stdout && fclose(out) && !err) {
		fprintf(stderr, "vigil: cannot write '%s': %s\n", cli.output_path, strerror(errno));
		err = VIGIL_EXIT_FAIL;
	}
	vigil.out = stdout;
	vigil_inst_free(in);
	return err;
}
