// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * vigil containers: the containers vigil sees, as the tracing commands will
 * name them (cgroup id, runtime, id, name, pod). Loads nothing into the
 * kernel: it is the resolver of core/container.c on its own, a user tool and
 * the resolver's test vehicle. --follow keeps one resolver running, as the
 * agent does, and reports containers appearing, exiting and being forgotten.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include "core/vigil.h"
#include "core/opts.h"
#include "core/out.h"
#include "core/container.h"
#include "core/loop.h"

static struct containers_opts {
	bool follow, stats, no_scan;
	uint64_t interval_ns, duration_ns, retain_ns;
	const char *root, *match, *lookup;
} o;

#define CO(f) VOFF(struct containers_opts, f)

static const struct vigil_opt containers_opts[] = {
	VOPT_SECTION("Containers"),
	{ "follow", 'f', VO_FLAG, CO(follow), NULL,
	  "keep running: report containers as they start, exit and are forgotten" },
	{ "interval", 'i', VO_DURATION, CO(interval_ns), "DUR", "with --follow, look for changes every DUR (default 1s)",
	  .min = 10000000ull, .max = 3600000000000ull },
	{ "duration", 'd', VO_DURATION, CO(duration_ns), "DUR", "with --follow, stop after DUR",
	  .min = 1000000ull },
	{ "container", 0, VO_STR, CO(match), "NAME|ID[,...]",
	  "only these containers (names, ids, id prefixes of 12+ hex digits)" },
	{ "stats", 0, VO_FLAG, CO(stats), NULL, "end with the resolver's counters (a stats record in JSON)" },
	/* test knobs */
	{ "retain", 0, VO_DURATION, CO(retain_ns), "DUR", "how long an exited container is kept (30s)", .hidden = true },
	{ "state-root", 0, VO_STR, CO(root), "DIR", "read the runtimes' state under DIR", .hidden = true },
	{ "no-scan", 0, VO_FLAG, CO(no_scan), NULL, "skip the start-up scan (every id is looked up lazily)",
	  .hidden = true },
	{ "lookup", 0, VO_STR, CO(lookup), "ID[,ID...]", "resolve these cgroup ids, as an event would", .hidden = true },
	VOPT_END,
};

static void col_name(const struct vrow *r, char *buf, size_t n)
{
	const struct vfield *f = vrow_get(r, "name");

	snprintf(buf, n, "%s", f ? f->s : vrow_get(r, "name_state")->s);
}

static void col_short_id(const struct vrow *r, char *buf, size_t n)
{
	snprintf(buf, n, "%.12s", vrow_get(r, "id")->s);
}

static void col_pod(const struct vrow *r, char *buf, size_t n)
{
	const struct vfield *p = vrow_get(r, "pod"), *ns = vrow_get(r, "namespace");

	if (p && ns)
		snprintf(buf, n, "%s/%s", ns->s, p->s);
	else
		snprintf(buf, n, "%s", p ? p->s : "-");
}

static void col_event(const struct vrow *r, char *buf, size_t n)
{
	const struct vfield *f = vrow_get(r, "event");

	snprintf(buf, n, "%s", f ? f->s : vrow_get(r, "exited")->b ? "exited" : "running");
}

static const struct vcol containers_cols[] = {
	{ "CGROUP_ID", 10, "cgroup_id", NULL, true },
	{ "STATE", 8, NULL, col_event },
	{ "RUNTIME", 14, "runtime" },
	{ "ID", 12, NULL, col_short_id },
	{ "NAME", 24, NULL, col_name },
	{ "POD", 0, NULL, col_pod },
	{ 0 },
};

static int emit(const struct vigil_container *k, const char *event, uint64_t now)
{
	struct vrow r;
	const char *qos = vigil_qos_name(k->qos);
	static const char *const states[] = { "pending", "known", "none" };

	vrow_init(&r);
	vigil_iso_time(vigil_boot_ns(), r.time, sizeof(r.time));
	vrow_str(&r, "type", "container");
	vrow_str(&r, "time", r.time);
	if (event)
		vrow_str(&r, "event", event);
	vrow_u64(&r, "cgroup_id", k->cgroup_id);
	vrow_u64(&r, "cgroup_level", k->cgroup_level);
	vrow_str(&r, "runtime", vigil_runtime_name(k->runtime));
	vrow_str(&r, "id", k->id);
	/* a name is given or left out, never made up */
	if (k->name_state == VIGIL_CNAME_KNOWN)
		vrow_str(&r, "name", k->name);
	vrow_str(&r, "name_state", states[k->name_state]);
	if (k->pod[0])
		vrow_str(&r, "pod", k->pod);
	if (k->namespace[0])
		vrow_str(&r, "namespace", k->namespace);
	if (k->pod_uid[0])
		vrow_str(&r, "pod_uid", k->pod_uid);
	if (qos)
		vrow_str(&r, "qos", qos);
	if (k->sandbox)
		vrow_bool(&r, "sandbox", true);
	if (k->layout_unknown)
		vrow_bool(&r, "layout_unknown", true);
	vrow_bool(&r, "exited", k->exited);
	if (k->exited)
		vrow_u64(&r, "exited_for_ns", now - k->exited_ns);
	return out_row(vigil.sink, &r);
}

static int emit_stats(struct vigil_containers *c)
{
	struct vigil_containers_stats st;
	struct vrow r;

	vigil_containers_get_stats(c, &st);
	vrow_init(&r);
	vrow_str(&r, "type", "container_stats");
	vrow_u64(&r, "lookup_hit", st.lookup_hit);
	vrow_u64(&r, "lookup_pending", st.lookup_pending);
	vrow_u64(&r, "lookup_unknown_layout", st.lookup_unknown_layout);
	vrow_u64(&r, "lookup_host", st.lookup_host);
	vrow_u64(&r, "lookup_miss", st.lookup_miss);
	vrow_u64(&r, "lazy_handle", st.lazy_handle);
	vrow_u64(&r, "lazy_rescan", st.lazy_rescan);
	vrow_u64(&r, "state_reads", st.state_reads);
	vrow_u64(&r, "state_missing", st.state_missing);
	vrow_u64(&r, "evicted", st.evicted);
	vrow_u64(&r, "cgroups", st.cgroups);
	vrow_u64(&r, "containers", st.containers);
	vrow_u64(&r, "bytes", st.bytes);
	if (vigil.sink->json)
		return out_row(vigil.sink, &r);
	out_text(vigil.sink, "%llu cgroups, %llu containers, ~%llu bytes; lookups: %llu hit, %llu pending, "
		"%llu unknown layout, %llu host, %llu miss\n", (unsigned long long)st.cgroups,
		(unsigned long long)st.containers, (unsigned long long)st.bytes,
		(unsigned long long)st.lookup_hit, (unsigned long long)st.lookup_pending,
		(unsigned long long)st.lookup_unknown_layout, (unsigned long long)st.lookup_host,
		(unsigned long long)st.lookup_miss);
	return 0;
}

/* --container: the containers asked for, by their top cgroup */
struct sel {
	struct vigil_container_match m[64];
	int n;
};

static bool selected(const struct sel *s, const struct vigil_container *k)
{
	if (!o.match)
		return true;
	for (int i = 0; i < s->n; i++)
		if (!strcmp(s->m[i].ctr->id, k->id))
			return true;
	return false;
}

/* what --follow has already reported, per container id */
struct seen {
	char id[VIGIL_CID_MAX];
	uint32_t generation;
	uint64_t exited_ns;
	bool exited, mark;
};

/* each row through vigil_container_lookup(), as the tracing commands will see it */
static int list_once(struct vigil_containers *c, const struct sel *s, uint64_t now)
{
	const struct vigil_container *k;
	uint64_t *ids = NULL;
	size_t it = 0, n = 0, cap = 0;
	int err = 0;

	while ((k = vigil_containers_next(c, &it))) {
		if (k->exited || !selected(s, k))
			continue;
		if (n == cap) {
			uint64_t *ni = realloc(ids, (cap = cap ? cap * 2 : 64) * sizeof(*ids));

			if (!ni) {
				free(ids);
				return -ENOMEM;
			}
			ids = ni;
		}
		ids[n++] = k->cgroup_id;
	}
	for (size_t i = 0; !err && i < n; i++)
		if ((k = vigil_container_lookup(c, ids[i])))
			err = emit(k, NULL, now);
	free(ids);
	return err;
}

/* --lookup: ids resolved the way a tracing command resolves an event's cgroup_id */
static int lookup_ids(struct vigil_containers *c, const char *list, uint64_t now)
{
	const char *p = list;
	int err = 0;

	while (!err && *p) {
		char *end;
		unsigned long long id = strtoull(p, &end, 10);
		const struct vigil_container *k;

		if (end == p || (*end && *end != ',')) {
			vigil_error("bad cgroup id in '%s'", list);
			return VIGIL_EXIT_USAGE;
		}
		p = *end ? end + 1 : end;
		k = vigil_container_lookup(c, id);
		if (k) {
			vigil_containers_resolve_now(c);
			err = emit(k, NULL, now);
		} else {
			struct vrow r;

			vrow_init(&r);
			vrow_str(&r, "type", "lookup");
			vrow_u64(&r, "cgroup_id", id);
			vrow_str(&r, "result", "not a container");
			err = out_row(vigil.sink, &r);
		}
	}
	return err < 0 ? (vigil.sink->broken_pipe ? 0 : VIGIL_EXIT_FAIL) : err;
}

static int follow_step(struct vigil_containers *c, const struct sel *s, struct seen **seen, size_t *nseen,
		       uint64_t now, bool first)
{
	const struct vigil_container *k;
	size_t it = 0;
	int err = 0;

	vigil_containers_rescan(c, now);
	vigil_containers_tick(c, now);
	for (size_t i = 0; i < *nseen; i++)
		(*seen)[i].mark = false;
	while (!err && (k = vigil_containers_next(c, &it))) {
		struct seen *e = NULL;

		if (!selected(s, k))
			continue;
		for (size_t i = 0; i < *nseen && !e; i++)
			if (!strcmp((*seen)[i].id, k->id))
				e = &(*seen)[i];
		if (!e) {
			struct seen *ns = realloc(*seen, (*nseen + 1) * sizeof(**seen));

			if (!ns)
				return -ENOMEM;
			*seen = ns;
			e = &ns[(*nseen)++];
			memset(e, 0, sizeof(*e));
			snprintf(e->id, sizeof(e->id), "%s", k->id);
			e->generation = k->generation;
			e->exited = k->exited;
			err = emit(k, first ? "present" : k->exited ? "exit" : "start", now);
		} else if (k->exited != e->exited) {
			e->exited = k->exited;
			e->exited_ns = k->exited_ns;
			e->generation = k->generation;
			err = emit(k, k->exited ? "exit" : "start", now);
		} else if (k->generation != e->generation) {
			e->generation = k->generation;
			err = emit(k, "update", now);
		}
		e->mark = true;
	}
	/* forgotten: its retention ran out */
	for (size_t i = 0; !err && i < *nseen;) {
		if ((*seen)[i].mark) {
			i++;
			continue;
		}
		{
			struct vrow r;

			vrow_init(&r);
			vigil_iso_time(vigil_boot_ns(), r.time, sizeof(r.time));
			vrow_str(&r, "type", "container");
			vrow_str(&r, "time", r.time);
			vrow_str(&r, "event", "gone");
			vrow_str(&r, "id", (*seen)[i].id);
			if ((*seen)[i].exited)
				vrow_u64(&r, "exited_for_ns", now - (*seen)[i].exited_ns);
			err = out_row(vigil.sink, &r);
		}
		(*seen)[i] = (*seen)[--*nseen];
	}
	return err ? err : out_flush(vigil.sink);
}

struct follow_ctx {
	struct vigil_containers *c;
	const struct sel *s;
	struct seen *seen;
	size_t nseen;
};

static int follow_tick(void *ctx, int fd, uint32_t events)
{
	struct follow_ctx *f = ctx;
	int err = follow_step(f->c, f->s, &f->seen, &f->nseen, vigil_mono_ns(), false);

	return err < 0 ? (vigil.sink->broken_pipe ? VIGIL_EXIT_OK : VIGIL_EXIT_FAIL) : err;
}

static int follow_end(void *ctx, int fd, uint32_t events)
{
	vigil_loop_stop(ctx, 0);
	return 0;
}

static int follow(struct vigil_containers *c, const struct sel *s)
{
	struct follow_ctx f = { c, s, NULL, 0 };
	struct vigil_loop loop;
	int err;

	if (vigil_loop_init(&loop) ||
	    vigil_loop_timer(&loop, o.interval_ns, true, follow_tick, &f) < 0 ||
	    (o.duration_ns && vigil_loop_timer(&loop, o.duration_ns, false, follow_end, &loop) < 0)) {
		vigil_error("cannot set up the event loop: %s", strerror(errno));
		vigil_loop_fini(&loop);
		return VIGIL_EXIT_FAIL;
	}
	err = follow_step(c, s, &f.seen, &f.nseen, vigil_mono_ns(), true);
	vigil_info("containers: watching %zu containers under '%s', every %llums; ctrl-c to end", f.nseen,
		   vigil_containers_cgroup2(c), (unsigned long long)(o.interval_ns / 1000000));
	if (!err)
		err = vigil_loop_run(&loop, -1);
	else
		err = err < 0 ? (vigil.sink->broken_pipe ? 0 : VIGIL_EXIT_FAIL) : err;
	vigil_loop_fini(&loop);
	free(f.seen);
	return err;
}

static int containers_run(int argc, char **argv)
{
	struct vigil_containers_opts co = { 0 };
	struct vigil_containers *c;
	struct sel s = { .n = 0 };
	char errbuf[2048];
	int err = 0;

	if (argc > 0) {
		vigil_usage_error("unexpected argument '%s'", argv[0]);
		return VIGIL_EXIT_USAGE;
	}
	if ((o.interval_ns || o.duration_ns) && !o.follow) {
		vigil_usage_error("--interval and --duration need --follow");
		return VIGIL_EXIT_USAGE;
	}
	if (!o.interval_ns)
		o.interval_ns = 1000000000ULL;
	co.root = o.root;
	co.retain_ns = o.retain_ns;
	co.now_ns = vigil_mono_ns();
	co.no_scan = o.no_scan;
	c = vigil_containers_new(&co);
	if (!c) {
		if (errno == ENOENT) {
			vigil_error("no cgroup v2 hierarchy is mounted (mount -t cgroup2 none /sys/fs/cgroup)");
			return VIGIL_EXIT_UNSUPPORTED;
		}
		vigil_error("cannot start the container resolver: %s", strerror(errno));
		return VIGIL_EXIT_FAIL;
	}
	if (o.match) {
		s.n = vigil_containers_match(c, o.match, s.m, 64, errbuf, sizeof(errbuf));
		if (s.n < 0) {
			vigil_error("%s", errbuf);
			err = VIGIL_EXIT_USAGE;
			goto out;
		}
	}
	out_set_columns(vigil.sink, containers_cols);
	out_header(vigil.sink);
	if (o.lookup) {
		err = lookup_ids(c, o.lookup, vigil_mono_ns());
	} else if (o.follow) {
		err = follow(c, &s);
	} else {
		vigil_containers_resolve_now(c);
		err = list_once(c, &s, vigil_mono_ns()) < 0 && !vigil.sink->broken_pipe ? VIGIL_EXIT_FAIL : 0;
	}
	if (!err && o.stats)
		err = emit_stats(c) < 0 && !vigil.sink->broken_pipe ? VIGIL_EXIT_FAIL : 0;
out:
	vigil_containers_free(c);
	return err;
}

const struct vigil_cmd cmd_containers = {
	.name = "containers",
	.run = containers_run,
	.summary = "list the containers vigil sees (runtime, id, name, pod), from cgroups and runtime state",
	.opts = containers_opts,
	.cmd_opts = &o,
};
