// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * vigil agent: the features of a config file in one process, on one loop,
 * their records in one NDJSON stream. SIGHUP reloads the config: the new one
 * is parsed and every instance's options checked first; on any error nothing
 * changes. Then only the instances whose settings changed are restarted.
 * docs/agent.md is the config reference.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/vigil.h"
#include "core/config.h"
#include "core/container.h"
#include "core/env.h"
#include "core/feature.h"
#include "core/loop.h"
#include "core/opts.h"
#include "core/out.h"
#include "core/http.h"
#include "core/metrics.h"
#include <sys/resource.h>
#include <time.h>

#define AGENT_MAX_INST 64

static struct agent_opts {
	const char *config;
	bool check;
} ao;

static const struct vigil_opt agent_opts[] = {
	VOPT_SECTION("Agent"),
	{ "config", 'C', VO_STR, VOFF(struct agent_opts, config), "FILE",
	  "the agent's config (YAML; docs/agent.md)" },
	{ "check", 0, VO_FLAG, VOFF(struct agent_opts, check), NULL,
	  "validate the config and exit: 0 when it would load" },
	VOPT_END,
};

/* one instance of the config, with the settings it was made from */
struct agent_inst {
	struct vigil_inst *in;
	char *settings;		/* canonical "feature\nkey=value\n...": unchanged = not restarted */
	bool started;
	/* the agent's stream, with this instance's name in each record; moves with in */
	struct vigil_sink *sink;
};

struct agent_cfg {
	char *events_path;	/* NULL: stdout */
	char *listen;		/* metrics endpoint, NULL: none */
	uint32_t series_limit;
	struct agent_inst inst[AGENT_MAX_INST];
	int n;
};

struct agent {
	struct vigil_loop loop;
	struct vigil_sink sink;
	FILE *out;
	struct agent_cfg cfg;
	struct vigil_containers *containers;
	uint64_t reloads_ok, reloads_failed, errors;
	double last_reload;
	struct vigil_http *http;	/* the metrics endpoint, NULL: none */
	struct vigil_http_stats http_st;	/* of endpoints closed by reloads: counters stay monotonic */
};

static void cfg_free(struct agent_cfg *c)
{
	for (int i = 0; i < c->n; i++) {
		vigil_inst_free(c->inst[i].in);
		free(c->inst[i].settings);
		free(c->inst[i].sink);
	}
	free(c->events_path);
	free(c->listen);
	memset(c, 0, sizeof(*c));
}

static const struct vigil_cmd *feature_cmd(const char *name)
{
	const struct vigil_cmd *c = vigil_cmd_find(name);

	return c && c->feature ? c : NULL;
}

static int append(char **buf, size_t *len, const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 2;
	char *p = realloc(*buf, *len + n + 1);

	if (!p)
		return -1;
	*buf = p;
	*len += sprintf(p + *len, "%s=%s\n", a, b);
	return 0;
}

/* one mapping of options into a new instance of feature c */
static int make_inst(const char *file, const struct vigil_cmd *c, const struct vcfg_node *opts,
		     const struct vcfg_node *at, struct agent_cfg *cfg, struct vcfg_err *err)
{
	struct vigil_optset sets[VIGIL_MAX_OPTSETS];
	struct agent_inst *ai;
	char name[48];
	size_t len = 0;
	int n;

	if (cfg->n == AGENT_MAX_INST)
		return vcfg_error(err, file, at, "more than %d feature instances", AGENT_MAX_INST);
	if (opts && opts->kind != VCFG_MAP)
		return vcfg_error(err, file, opts, "the options of '%s' must be a mapping", c->name);
	snprintf(name, sizeof(name), "%s", c->name);
	if (opts && vcfg_get(opts, "name")) {
		const struct vcfg_node *nm = vcfg_get(opts, "name");

		if (nm->kind != VCFG_SCALAR || !*nm->value || strlen(nm->value) > 32)
			return vcfg_error(err, file, nm, "'name' must be 1 to 32 characters");
		snprintf(name, sizeof(name), "%s/%s", c->name, nm->value);
	}
	for (int i = 0; i < cfg->n; i++)
		if (!strcmp(cfg->inst[i].in->name, name))
			return vcfg_error(err, file, at, "two instances named '%s': give each a 'name'",
					  name);
	ai = &cfg->inst[cfg->n];
	ai->in = vigil_inst_new(c->feature, name);
	if (!ai->in || append(&ai->settings, &len, "instance", name))
		return vcfg_error(err, file, at, "%s", strerror(ENOMEM));
	cfg->n++;
	n = vigil_inst_optsets(ai->in, sets, VIGIL_MAX_OPTSETS - 1);
	sets[n] = (struct vigil_optset){ 0 };
	for (size_t i = 0; opts && i < opts->n; i++) {
		const char *key = opts->keys[i]->value;
		const struct vcfg_node *v = opts->kids[i];
		char *val;
		int r;

		if (!strcmp(key, "name"))
			continue;
		if (!vigil_opt_find(sets, key, NULL))
			return vcfg_error(err, file, opts->keys[i], "'%s' has no option '%s' (see 'vigil "
					  "help %s')", c->name, key, c->name);
		if (v->kind == VCFG_MAP)
			return vcfg_error(err, file, v, "option '%s' takes a value or a list", key);
		if (v->kind == VCFG_SEQ) {
			size_t l = 0;

			val = calloc(1, 1);
			for (size_t k = 0; val && k < v->n; k++) {
				char *p;

				if (v->kids[k]->kind != VCFG_SCALAR) {
					free(val);
					return vcfg_error(err, file, v->kids[k], "a list of values");
				}
				p = realloc(val, l + strlen(v->kids[k]->value) + 2);
				if (!p) {
					free(val);
					val = NULL;
					break;
				}
				val = p;
				l += sprintf(val + l, "%s%s", k ? "," : "", v->kids[k]->value);
			}
		} else {
			val = strdup(v->value);
		}
		if (!val)
			return vcfg_error(err, file, v, "%s", strerror(ENOMEM));
		/* the value is kept for the instance's life: VO_STR options point at it */
		r = vigil_opt_set(c->name, sets, key, val);
		if (r || append(&ai->settings, &len, key, val)) {
			free(val);
			return vcfg_error(err, file, v, "invalid value for '%s' (see the message above)",
					  key);
		}
	}
	return 0;
}

/*
 * outputs: { events: stdout | PATH }
 * features: { NAME: {options} | [ {options}, ... ] | null }
 */
static int cfg_load(const char *file, struct agent_cfg *cfg, struct vcfg_err *err)
{
	struct vcfg_node *root = vcfg_load(file, err), *feats, *outs;
	int r = 0;

	memset(cfg, 0, sizeof(*cfg));
	if (!root)
		return -1;
	for (size_t i = 0; i < root->n && !r; i++) {
		const char *k = root->keys[i]->value;

		if (strcmp(k, "outputs") && strcmp(k, "features") && strcmp(k, "metrics"))
			r = vcfg_error(err, file, root->keys[i], "unknown section '%s': outputs, "
				       "metrics or features", k);
	}
	outs = vcfg_get(root, "outputs");
	if (!r && outs) {
		struct vcfg_node *ev = vcfg_get(outs, "events");

		if (outs->kind != VCFG_MAP)
			r = vcfg_error(err, file, outs, "'outputs' must be a mapping");
		else if (ev && ev->kind != VCFG_SCALAR)
			r = vcfg_error(err, file, ev, "'events' is 'stdout' or a file path");
		else if (ev && strcmp(ev->value, "stdout"))
			cfg->events_path = strdup(ev->value);
	}
	outs = vcfg_get(root, "metrics");
	if (!r && outs) {
		struct vcfg_node *l = vcfg_get(outs, "listen"), *lim = vcfg_get(outs, "series_limit");
		char *end;

		if (outs->kind != VCFG_MAP)
			r = vcfg_error(err, file, outs, "'metrics' must be a mapping (listen, series_limit)");
		else if (l && l->kind != VCFG_SCALAR)
			r = vcfg_error(err, file, l, "'listen' is an address such as 127.0.0.1:9090");
		else if (lim && (lim->kind != VCFG_SCALAR || !(cfg->series_limit =
			 strtoul(lim->value, &end, 10)) || *end || cfg->series_limit > 1000000))
			r = vcfg_error(err, file, lim, "'series_limit' is 1 to 1000000");
		for (size_t i = 0; !r && i < outs->n; i++)
			if (strcmp(outs->keys[i]->value, "listen") && strcmp(outs->keys[i]->value,
									    "series_limit"))
				r = vcfg_error(err, file, outs->keys[i], "unknown metrics key '%s'",
					       outs->keys[i]->value);
		if (!r && l)
			cfg->listen = strdup(l->value);
	}
	feats = vcfg_get(root, "features");
	if (!r && (!feats || feats->kind != VCFG_MAP))
		r = vcfg_error(err, file, feats ? feats : root, "'features' must be a mapping of "
			       "feature names to their options");
	for (size_t i = 0; !r && i < feats->n; i++) {
		const struct vcfg_node *k = feats->keys[i], *v = feats->kids[i];
		const struct vigil_cmd *c = feature_cmd(k->value);

		if (!c) {
			r = vcfg_error(err, file, k, "unknown feature '%s'", k->value);
			break;
		}
		if (v->kind == VCFG_SEQ) {
			for (size_t j = 0; !r && j < v->n; j++)
				r = make_inst(file, c, v->kids[j], v->kids[j], cfg, err);
		} else {
			r = make_inst(file, c, v->kind == VCFG_SCALAR && !*v->value ? NULL : v, k, cfg,
				      err);
		}
	}
	vcfg_free(root);
	if (r)
		cfg_free(cfg);
	return r;
}

static void inst_ended(struct vigil_inst *in, void *ctx)
{
	/* its -p process exited or its duration passed: that instance alone ends */
	vigil_info("agent: '%s' ended", in->name);
	vigil_inst_stop(in, 0);
	(void)ctx;
}

static int start_inst(struct agent *a, struct agent_inst *ai)
{
	int err;

	ai->in->containers = a->containers;
	ai->in->on_end = inst_ended;
	if (!ai->sink && !(ai->sink = malloc(sizeof(*ai->sink))))
		return VIGIL_EXIT_FAIL;
	*ai->sink = a->sink;
	ai->sink->feature = ai->in->name;
	err = vigil_inst_start(ai->in, &a->loop, ai->sink);
	ai->started = true;
	if (err) {
		a->errors++;
		vigil_error("agent: cannot start '%s' (exit code %d); the others run on",
			    ai->in->name, err);
		vigil_inst_stop(ai->in, err);
	}
	return err;
}

static int open_events(struct agent *a, const char *path)
{
	FILE *f = path ? fopen(path, "ae") : stdout;

	if (!f) {
		vigil_error("agent: cannot open events file '%s': %s", path, strerror(errno));
		return -1;
	}
	__fsetlocking(f, FSETLOCKING_BYCALLER);
	if (f != stdout || !a->out)
		out_buffer(f);
	if (a->out && a->out != stdout)
		fclose(a->out);
	a->out = f;
	a->sink.f = f;
	for (int i = 0; i < a->cfg.n; i++)
		if (a->cfg.inst[i].sink)
			a->cfg.inst[i].sink->f = f;
	vigil.out = f;
	return 0;
}

static char *render_metrics(void *ctx, size_t *len);

static void endpoint_close(struct agent *a)
{
	if (!a->http)
		return;
	a->http_st.requests += a->http->st.requests;
	a->http_st.rejected += a->http->st.rejected;
	a->http_st.timeouts += a->http->st.timeouts;
	a->http_st.bad += a->http->st.bad;
	vigil_http_close(a->http);
	free(a->http);
	a->http = NULL;
}

static int endpoint_open(struct agent *a, const char *addr, struct vigil_http **out)
{
	struct vigil_http *h = calloc(1, sizeof(*h));
	int e;

	if (!h)
		return -ENOMEM;
	if ((e = vigil_http_listen(h, &a->loop, addr, render_metrics, a))) {
		vigil_http_close(h);
		free(h);
		return e;
	}
	*out = h;
	return 0;
}

/*
 * The metrics endpoint moves to ADDR (NULL: none). The new socket is bound
 * before the old one closes, so a failure leaves the running endpoint as it
 * was; only a move to the same port on another address of this host has to
 * free the port first, and takes the old address back when the new one fails.
 */
static int endpoint_set(struct agent *a, const char *addr)
{
	const char *old = a->cfg.listen;
	struct vigil_http *h = NULL;
	int e;

	if (!addr) {
		endpoint_close(a);
		return 0;
	}
	e = endpoint_open(a, addr, &h);
	if (e == -EADDRINUSE && a->http && old) {
		endpoint_close(a);
		e = endpoint_open(a, addr, &h);
		if (e && endpoint_open(a, old, &a->http))
			vigil_error("agent: the metrics endpoint '%s' could not be taken back", old);
	}
	if (e)
		return e;
	endpoint_close(a);
	a->http = h;
	return 0;
}

static bool same_str(const char *x, const char *y)
{
	return x == y || (x && y && !strcmp(x, y));
}

/* SIGHUP: the new config whole, or nothing */
static void reload(struct agent *a)
{
	struct agent_cfg next;
	struct vcfg_err err;
	bool keep[AGENT_MAX_INST] = { 0 };
	int kept_failed = 0;

	if (cfg_load(ao.config, &next, &err)) {
		a->reloads_failed++;
		vigil_error("agent: reload refused, the running config stays: %s", err.msg);
		return;
	}
	for (int i = 0; i < next.n; i++) {
		struct vigil_inst *in = next.inst[i].in;

		if (in->feat->check && in->feat->check(in)) {
			a->reloads_failed++;
			vigil_error("agent: reload refused, the running config stays: '%s' is invalid",
				    in->name);
			cfg_free(&next);
			return;
		}
	}
	if (!same_str(next.listen, a->cfg.listen)) {
		int e = endpoint_set(a, next.listen);

		if (e) {
			a->reloads_failed++;
			vigil_error("agent: reload refused, the running config stays: cannot serve "
				    "metrics on '%s': %s", next.listen, strerror(-e));
			cfg_free(&next);
			return;
		}
		if (next.listen)
			vigil_info("agent: metrics on http://%s/metrics", next.listen);
		else
			vigil_info("agent: metrics endpoint closed");
	}
	/* events file reopened (logrotate): a new file is a new stream */
	if (!open_events(a, next.events_path) && next.events_path)
		out_schema(&a->sink);
	/* unchanged instances move over, running; the others stop */
	for (int i = 0; i < a->cfg.n; i++) {
		struct agent_inst *old = &a->cfg.inst[i];
		int j;

		for (j = 0; j < next.n; j++)
			if (!keep[j] && !strcmp(old->settings, next.inst[j].settings))
				break;
		if (j < next.n) {
			vigil_inst_free(next.inst[j].in);
			next.inst[j].in = old->in;
			next.inst[j].started = old->started;
			free(next.inst[j].sink);
			next.inst[j].sink = old->sink;
			old->in = NULL;
			old->sink = NULL;
			keep[j] = true;
			/* same settings, but the files they name may have changed */
			if (next.inst[j].started && next.inst[j].in->feat->reload &&
			    next.inst[j].in->feat->reload(next.inst[j].in)) {
				vigil_error("agent: '%s' kept its running state: its reload failed",
					    next.inst[j].in->name);
				kept_failed++;
			}
		} else {
			vigil_info("agent: stopping '%s'", old->in->name);
			vigil_inst_stop(old->in, 0);
		}
	}
	cfg_free(&a->cfg);
	a->cfg = next;
	for (int j = 0; j < a->cfg.n; j++)
		if (!keep[j]) {
			vigil_info("agent: starting '%s'", a->cfg.inst[j].in->name);
			start_inst(a, &a->cfg.inst[j]);
		}
	/* an instance that kept its old state makes the reload a failed one */
	if (kept_failed)
		a->reloads_failed++;
	else
		a->reloads_ok++;
	a->last_reload = time(NULL);
	vigil_info("agent: config reloaded: %d instances%s", a->cfg.n,
		   kept_failed ? " (some kept their running state)" : "");
}

/* ---- metrics ---- */

enum eng_metric { ENG_RECEIVED, ENG_LOST };

/* one family of the engine's own series, over every running instance */
static void engine_family(struct vigil_metrics *m, struct agent *a, enum eng_metric which,
			  const char *name, const char *type, const char *help)
{
	vm_family(m, name, type, help);
	for (int i = 0; i < a->cfg.n; i++) {
		struct vigil_inst *in = a->cfg.inst[i].in;
		struct vigil_session *ss[8];
		int n = in->running && in->feat->sessions ? in->feat->sessions(in, ss, 8) : 0;
		uint64_t sum = 0;

		for (int k = 0; k < n; k++)
			sum += which == ENG_RECEIVED ? ss[k]->received : vigil_session_lost(ss[k]);
		/* only features that stream records have received and lost ones */
		if (n && ss[0]->streams)
			vm_u64(m, sum, (const char *[]){ "feature", in->name, NULL });
	}
}

/*
 * Runs and run time of every program: read once (a bpf() call per program)
 * for both families.
 */
static void engine_costs(struct vigil_metrics *m, struct agent *a)
{
	struct prog { const char *feature; struct vigil_prog_cost c; } *ps = NULL;
	size_t n = 0, cap = 0;

	for (int i = 0; i < a->cfg.n; i++) {
		struct vigil_inst *in = a->cfg.inst[i].in;
		struct vigil_session *ss[8];
		int ns = in->running && in->feat->sessions ? in->feat->sessions(in, ss, 8) : 0;

		for (int k = 0; k < ns; k++) {
			struct vigil_prog_cost c[32];
			int np = vigil_session_costs(ss[k], c, 32);

			for (int j = 0; j < np; j++) {
				if (n == cap) {
					void *q = realloc(ps, (cap = cap ? cap * 2 : 64) * sizeof(*ps));

					if (!q)
						goto out;
					ps = q;
				}
				ps[n].feature = in->name;
				ps[n++].c = c[j];
			}
		}
	}
out:
	vm_family(m, "vigil_bpf_program_runs_total", "counter",
		  "runs of each BPF program (kernel BPF stats)");
	for (size_t i = 0; i < n; i++)
		vm_u64(m, ps[i].c.runs, (const char *[]){ "feature", ps[i].feature, "program",
							  ps[i].c.name, NULL });
	vm_family(m, "vigil_bpf_program_run_seconds_total", "counter",
		  "time spent in each BPF program (kernel BPF stats)");
	for (size_t i = 0; i < n; i++)
		vm_value(m, ps[i].c.run_ns / 1e9, (const char *[]){ "feature", ps[i].feature,
								    "program", ps[i].c.name, NULL });
	free(ps);
}

static char *render_metrics(void *ctx, size_t *len)
{
	struct agent *a = ctx;
	struct vigil_metrics m;
	struct rusage ru;
	char rss[64] = "0", build[] = VIGIL_VERSION;
	struct vigil_http_stats hs;
	long pages = 0;
	FILE *f;

	vm_init(&m, a->cfg.series_limit);
	vm_family(&m, "vigil_build_info", "gauge", "the vigil version running");
	vm_u64(&m, 1, (const char *[]){ "version", build, NULL });
	engine_family(&m, a, ENG_RECEIVED, "vigil_events_received_total", "counter",
		      "records read from a feature's ring buffer (received + lost = passed the kernel filter)");
	engine_family(&m, a, ENG_LOST, "vigil_events_lost_total", "counter",
		      "records the kernel could not queue (ring buffer full)");
	engine_costs(&m, a);
	/* each feature's own counters and histograms */
	for (int i = 0; i < a->cfg.n; i++) {
		struct vigil_inst *in = a->cfg.inst[i].in;

		if (in->running && in->feat->metrics)
			in->feat->metrics(in, &m);
	}
	vm_family(&m, "vigil_agent_reloads_total", "counter", "config reloads (SIGHUP) by result");
	vm_u64(&m, a->reloads_ok, (const char *[]){ "result", "ok", NULL });
	vm_u64(&m, a->reloads_failed, (const char *[]){ "result", "error", NULL });
	vm_family(&m, "vigil_agent_last_reload_timestamp_seconds", "gauge",
		  "when the config was last loaded (Unix time)");
	vm_value(&m, a->last_reload, NULL);
	vm_family(&m, "vigil_agent_errors_total", "counter", "errors logged");
	vm_u64(&m, a->errors, NULL);
	getrusage(RUSAGE_SELF, &ru);
	vm_family(&m, "vigil_agent_cpu_seconds_total", "counter", "CPU time of the agent, user + system");
	vm_value(&m, ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
		 (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6, NULL);
	f = fopen("/proc/self/statm", "re");
	if (f) {
		if (fscanf(f, "%*s %ld", &pages) != 1)
			pages = 0;
		fclose(f);
	}
	snprintf(rss, sizeof(rss), "%ld", pages);
	vm_family(&m, "vigil_agent_resident_memory_bytes", "gauge", "resident memory of the agent");
	vm_value(&m, (double)pages * sysconf(_SC_PAGESIZE), NULL);
	vm_family(&m, "vigil_agent_http_requests_total", "counter", "metrics endpoint requests by result");
	hs = a->http_st;
	if (a->http) {
		hs.requests += a->http->st.requests;
		hs.rejected += a->http->st.rejected;
		hs.timeouts += a->http->st.timeouts;
		hs.bad += a->http->st.bad;
	}
	vm_u64(&m, hs.requests, (const char *[]){ "result", "served", NULL });
	vm_u64(&m, hs.rejected, (const char *[]){ "result", "rejected", NULL });
	vm_u64(&m, hs.timeouts, (const char *[]){ "result", "timeout", NULL });
	vm_u64(&m, hs.bad, (const char *[]){ "result", "bad", NULL });
	if (a->containers) {
		struct vigil_containers_stats cs;

		vigil_containers_get_stats(a->containers, &cs);
		vm_family(&m, "vigil_container_lookups_total", "counter", "container lookups by result");
		vm_u64(&m, cs.lookup_hit, (const char *[]){ "result", "hit", NULL });
		vm_u64(&m, cs.lookup_pending, (const char *[]){ "result", "pending", NULL });
		vm_u64(&m, cs.lookup_unknown_layout, (const char *[]){ "result", "unknown_layout", NULL });
		vm_family(&m, "vigil_container_cache_entries", "gauge", "the resolver's cache sizes");
		vm_u64(&m, cs.cgroups, (const char *[]){ "cache", "cgroups", NULL });
		vm_u64(&m, cs.containers, (const char *[]){ "cache", "containers", NULL });
		vm_family(&m, "vigil_container_cache_bytes", "gauge", "the resolver's memory estimate");
		vm_u64(&m, cs.bytes, NULL);
	}
	vm_finish(&m);
	if (m.oom) {
		vm_free(&m);
		return NULL;
	}
	*len = m.len;
	return m.buf;
}

static int on_signal(void *ctx, int sig)
{
	struct agent *a = ctx;

	if (sig == SIGHUP) {
		reload(a);
		return 0;
	}
	vigil_loop_stop(&a->loop, 0);
	return 0;
}

static int agent_run(int argc, char **argv)
{
	struct agent a = { 0 };
	struct vcfg_err err;
	int rc = 0;

	if (argc > 0) {
		vigil_usage_error("unexpected argument '%s'", argv[0]);
		return VIGIL_EXIT_USAGE;
	}
	if (!ao.config) {
		vigil_usage_error("needs '--config FILE'");
		return VIGIL_EXIT_USAGE;
	}
	if (cfg_load(ao.config, &a.cfg, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return VIGIL_EXIT_USAGE;
	}
	for (int i = 0; i < a.cfg.n; i++) {
		struct vigil_inst *in = a.cfg.inst[i].in;

		if (in->feat->check && (rc = in->feat->check(in)))
			goto out;
	}
	if (ao.check) {
		vigil_info("agent: '%s' is valid: %d instances", ao.config, a.cfg.n);
		goto out;
	}
	if ((rc = vigil_env_for(VC_ROOT | VC_BTF)))
		goto out;
	if (vigil_loop_init(&a.loop)) {
		vigil_error("cannot set up the event loop: %s", strerror(errno));
		rc = VIGIL_EXIT_FAIL;
		goto out;
	}
	a.loop.on_signal = on_signal;
	a.loop.signal_ctx = &a;
	vigil_bpf_stats_enable();
	out_sink_init(&a.sink, stdout, true);
	if (open_events(&a, a.cfg.events_path)) {
		rc = VIGIL_EXIT_FAIL;
		goto out_loop;
	}
	out_schema(&a.sink);
	a.sink.containers = a.containers = vigil_containers_start();
	a.last_reload = time(NULL);
	if (a.cfg.listen) {
		int e = endpoint_set(&a, a.cfg.listen);

		if (e) {
			vigil_error("agent: cannot serve metrics on '%s': %s", a.cfg.listen, strerror(-e));
			rc = e == -EINVAL ? VIGIL_EXIT_USAGE : VIGIL_EXIT_FAIL;
			goto out_loop;
		}
		vigil_info("agent: metrics on http://%s/metrics", a.cfg.listen);
	}
	for (int i = 0; i < a.cfg.n; i++)
		start_inst(&a, &a.cfg.inst[i]);
	vigil_info("agent: %d instances from '%s'; attached", a.cfg.n, ao.config);
	rc = vigil_loop_run(&a.loop, -1);
	for (int i = 0; i < a.cfg.n; i++)
		vigil_inst_stop(a.cfg.inst[i].in, 0);
out_loop:
	endpoint_close(&a);
	vigil_loop_fini(&a.loop);
	if (a.containers)
		vigil_containers_free(a.containers);
	if (a.out && a.out != stdout)
		fclose(a.out);
	vigil.out = stdout;
out:
	cfg_free(&a.cfg);
	return rc;
}

const struct vigil_cmd cmd_agent = {
	.name = "agent",
	.run = agent_run,
	.summary = "run several features at once from a config file: NDJSON events, SIGHUP reloads",
	.usage = "--config FILE [--check]",
	.opts = agent_opts,
	.cmd_opts = &ao,
};
