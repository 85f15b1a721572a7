/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The engine: a feature is what `vigil X` and the agent's `X` section
 * instantiate the same way. An instance holds everything of one run of a
 * feature (its options, its filters, its BPF objects and tables); the loop
 * and the sink are the process's and shared. Nothing of a feature is in a
 * process global, so one process runs several features, and two instances
 * of one feature with different filters.
 *
 *   vigil_inst_new -> options parsed into in->opts and in->c (CLI flags or
 *   config keys, the same tables) -> vigil_inst_start (check, environment,
 *   feature start, timers, the -p pidfd) -> the loop runs -> vigil_inst_stop
 *   (feature stop: detach, final rows; the cost line with -v)
 */
#ifndef VIGIL_FEATURE_H
#define VIGIL_FEATURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/vigil.h"
#include "core/opts.h"
#include "core/session.h"

struct vigil_inst;
struct vigil_loop;
struct vigil_sink;
struct vigil_metrics;

struct vigil_feature {
	const char *name;
	const struct vigil_opt *opts;	/* offsets into its options struct */
	size_t opts_size;
	const void *opts_default;	/* initial option values, or NULL for zeroes */
	size_t priv_size;		/* its run state, zeroed at start */
	/* options are all set: usage checks (VIGIL_EXIT_USAGE after vigil_usage_error) */
	int (*check)(struct vigil_inst *in);
	/* open, load, attach; register sources with in->loop; set in->sink's columns */
	int (*start)(struct vigil_inst *in);
	/* every --interval (NULL: the feature has no periodic output) */
	int (*tick)(struct vigil_inst *in);
	/* detach, final rows and summary, free; err is the status so far */
	int (*stop)(struct vigil_inst *in, int err);
	/* its BPF sessions, for the cost report (NULL: none) */
	int (*sessions)(struct vigil_inst *in, struct vigil_session **out, int max);
	/* metrics into the registry at scrape time (the agent; NULL: only the engine's own) */
	void (*metrics)(struct vigil_inst *in, struct vigil_metrics *m);
	uint64_t default_interval_ns;	/* when -i is not given; 0: no ticks */
	/* the agent's SIGHUP, for an instance whose settings did not change: re-read
	 * what its settings point at (guard: the policy file), whole, or keep the
	 * running state; 0, or -1 when the old state stays (NULL: nothing to re-read) */
	int (*reload)(struct vigil_inst *in);
};

struct vigil_inst {
	const struct vigil_feature *feat;
	char name[48];			/* "proc", or the agent's "proc/web" */
	struct vigil_common c;		/* common filters and run options */
	void *opts;			/* the feature's options struct */
	void *priv;			/* the feature's run state */
	struct vigil_loop *loop;
	struct vigil_sink *sink;
	struct vigil_containers *containers;	/* the process's resolver, shared */
	bool running;
	bool ended;			/* its -p process exited, or --duration */
	int tickfd, endfd, pidfd;
	uint64_t started_ns;
	/* called once when the instance ends by itself (CLI: stop the loop) */
	void (*on_end)(struct vigil_inst *in, void *ctx);
	void *on_end_ctx;
};

struct vigil_inst *vigil_inst_new(const struct vigil_feature *f, const char *name);
void vigil_inst_free(struct vigil_inst *in);
/* the option sets of an instance: feature options, then the common ones */
int vigil_inst_optsets(struct vigil_inst *in, struct vigil_optset *sets, int max);
/* validate, prepare the environment (cgroup filter), start the feature */
int vigil_inst_start(struct vigil_inst *in, struct vigil_loop *loop, struct vigil_sink *sink);
/* stop the feature (final rows), the -v cost report; returns the exit code */
int vigil_inst_stop(struct vigil_inst *in, int err);
/* the cost of its programs, summed: runs and run time (BPF stats) */
void vigil_inst_cost(struct vigil_inst *in, uint64_t *runs, uint64_t *run_ns);

/* doctor: what a feature's mechanism plan would choose here, leaving nothing loaded */
void vigil_plan_probe(const struct vigil_cmd *c, struct vigil_mech_choice *choice);

/* `vigil X ...` for a feature: parse, one instance, one loop, one sink */
int vigil_feature_main(const struct vigil_cmd *c, int argc, char **argv);

/* the container resolver of a CLI or agent process (NULL, with a warning, when
 * there is no cgroup v2 hierarchy) */
struct vigil_containers *vigil_containers_start(void);

/* the sink and instance of a feature callback, for brevity */
#define VIGIL_OPTS(in, type) ((type *)(in)->opts)
#define VIGIL_PRIV(in, type) ((type *)(in)->priv)

#endif
