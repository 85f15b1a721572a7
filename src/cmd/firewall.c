// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * vigil firewall: an XDP firewall fed from a rules file, with atomic reload.
 *
 *   load -i IFACE RULES     attach; foreground (Ctrl-C detaches) or --persist
 *   reload -i IFACE RULES   swap in a new rule set in one step (persistent)
 *   status [-i IFACE]       rules with hit counters, mode, since when (persistent
 *                           and foreground firewalls)
 *   unload -i IFACE         detach and remove the pins
 *   events -i IFACE         sampled drops of a persistent firewall
 *   check RULES             parse and compile only
 *
 * Options and rendering only: the maps, pins, lock and attachment are
 * src/fw/datapath.c's (persistent state under /sys/fs/bpf/vigil/firewall/IFACE/,
 * changed under an flock on /run/vigil/firewall.lock).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "core/vigil.h"
#include "core/env.h"
#include "core/opts.h"
#include "core/out.h"
#include "core/session.h"
#include "core/feature.h"
#include "core/loop.h"
#include "fw/datapath.h"
#include "firewall.skel.h"


static struct fw_cli_opts {
	const char *iface;
	const char *mode;
	bool persist, watch, dry_run, require_rules;
	uint32_t sample;
	bool sample_set;
	uint32_t lookup;
	bool lookup_set;
} o = { .sample = 100 };

static int opt_lookup(void *base, const char *arg)
{
	static const char *const names[] = { "auto", "hash", "trie" };

	for (uint32_t i = 0; i < 3; i++) {
		if (!strcmp(arg, names[i])) {
			o.lookup = i;	/* VIGIL_FW_LOOKUP_* in this order */
			o.lookup_set = true;
			return 0;
		}
	}
	vigil_usage_error("invalid --lookup '%s': auto, hash or trie", arg);
	return -1;
}

static int opt_sample(void *base, const char *arg)
{
	if (vigil_parse_u32(arg, &o.sample)) {
		vigil_usage_error("invalid --sample '%s': a number of drops", arg);
		return -1;
	}
	o.sample_set = true;
	return 0;
}

#define FO(f) VOFF(struct fw_cli_opts, f)
#define OPT_IFACE(what) { "iface", 'i', VO_STR, FO(iface), "IFACE", what }
#define OPT_LOOKUP { "lookup", 0, VO_FUNC, 0, "HOW", "prefix lookup per side and family: auto (a " \
	"hash probe per distinct prefix length, or an LPM trie where there are too many lengths; " \
	"default), hash, trie", opt_lookup }
#define OPT_REQUIRE { "require-rules", 0, VO_FLAG, FO(require_rules), NULL, "refuse a file with no " \
	"rules (exit 2) instead of warning that the default applies to every packet" }

/* each verb takes only what applies to it: anything else is a usage error */
static const struct vigil_opt load_opts[] = {
	VOPT_SECTION("Firewall"),
	OPT_IFACE("network interface"),
	{ "mode", 'm', VO_STR, FO(mode), "MODE", "XDP mode: auto (native, else generic; default), native, generic" },
	{ "persist", 'p', VO_FLAG, FO(persist), NULL, "pin under " VIGIL_FW_PIN_DIR "/IFACE and exit; survives the CLI" },
	{ "watch", 'w', VO_FLAG, FO(watch), NULL, "(foreground) reload when the rules file changes" },
	{ "dry-run", 'n', VO_FLAG, FO(dry_run), NULL, "count what would be dropped, but pass everything" },
	{ "sample", 0, VO_FUNC, 0, "N", "one drop event per N drops per CPU (0: none; default 100)", opt_sample },
	OPT_LOOKUP,
	OPT_REQUIRE,
	VOPT_END,
};
static const struct vigil_opt reload_opts[] = {
	VOPT_SECTION("Firewall"),
	OPT_IFACE("network interface"),
	{ "lookup", 0, VO_FUNC, 0, "HOW", "auto, hash or trie (default: the load's)", opt_lookup },
	OPT_REQUIRE,
	VOPT_END,
};
static const struct vigil_opt iface_opts[] = {
	VOPT_SECTION("Firewall"),
	OPT_IFACE("network interface"),
	VOPT_END,
};
static const struct vigil_opt status_opts[] = {
	VOPT_SECTION("Firewall"),
	OPT_IFACE("only this interface"),
	VOPT_END,
};
static const struct vigil_opt check_opts[] = {
	VOPT_SECTION("Firewall"),
	OPT_LOOKUP,
	OPT_REQUIRE,
	VOPT_END,
};


static void print_msg(const struct vigil_fw_msg *m)
{
	if (m->note[0])
		vigil_info("%s", m->note);
	if (m->err[0])
		vigil_error("%s", m->err);
}

static uint32_t mode_of(const char *mode)
{
	return !mode || !strcmp(mode, "auto") ? VIGIL_FW_MODE_AUTO :
	       !strcmp(mode, "native") ? VIGIL_FW_MODE_NATIVE : VIGIL_FW_MODE_GENERIC;
}

static void fw_opts_of(struct vigil_fw_opts *fo)
{
	memset(fo, 0, sizeof(*fo));
	fo->iface = o.iface;
	fo->mode = mode_of(o.mode);
	fo->lookup = o.lookup;
	fo->lookup_set = o.lookup_set;
	fo->sample = o.sample;
	fo->persist = o.persist;
	fo->dry_run = o.dry_run;
}

/* ---- rules file -> tables ---- */

/*
 * Parse a rules file: read once, to the end, whatever it is (a FIFO too),
 * and before any lock is taken. An empty rule list is said on stderr, and
 * refused with --require-rules (exit 2).
 */
static int parse_rules(const char *path, struct vigil_rules *rs)
{
	if (vigil_rules_parse_file(rs, path)) {
		vigil_rules_print_diags(rs, stderr);
		vigil_error("rules file '%s' has %u error%s; nothing was changed", path, rs->nerrors,
			    rs->nerrors == 1 ? "" : "s");
		vigil_rules_free(rs);
		return VIGIL_EXIT_FAIL;
	}
	if (rs->n == 1) {
		const char *dflt = vigil_fw_action_name(rs->rules[0].action);

		if (o.require_rules) {
			vigil_error("rules file '%s' has no rules (only 'default %s') and --require-rules "
				    "is given; nothing was changed", path, dflt);
			vigil_rules_free(rs);
			return VIGIL_EXIT_USAGE;
		}
		vigil_warn("rules file '%s' has no rules: default %s for every packet", path, dflt);
	}
	return 0;
}

static int read_rules(const char *path, struct vigil_rules *rs, struct vigil_fw_table *t)
{
	char err[256];
	int ret = parse_rules(path, rs);

	if (ret)
		return ret;
	memset(t, 0, sizeof(*t));	/* zero limits: the defaults */
	t->lookup = o.lookup;
	if (vigil_fw_compile(rs, t, err, sizeof(err))) {
		vigil_rules_print_diags(rs, stderr);
		vigil_error("cannot compile rules file '%s': %s; nothing was changed", path, err);
		vigil_rules_free(rs);
		return VIGIL_EXIT_FAIL;
	}
	if (!vigil.quiet)
		vigil_rules_print_diags(rs, stderr);
	return 0;
}

/* ---- status ---- */

static void iso_realtime(uint64_t ns, char *buf, size_t n)
{
	time_t sec = (time_t)(ns / 1000000000ull);
	struct tm tm;

	gmtime_r(&sec, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* how one side and family's prefixes are found: none (no prefix but the root), hash or trie */
static const char *lookup_name(const struct vigil_fw_gen *g, uint32_t nlens, uint32_t trie_flag)
{
	return (g->flags & trie_flag) ? "trie" : nlens ? "hash" : "none";
}

/* the four lookups of a generation, as `check` and `status` show them */
static void lookups_json(struct jw *w, const struct vigil_fw_gen *g)
{
	jw_str(w, "source_ipv4_lookup", lookup_name(g, g->src_lens.n4, VIGIL_FW_G_SRC4_TRIE));
	jw_str(w, "source_ipv6_lookup", lookup_name(g, g->src_lens.n6, VIGIL_FW_G_SRC6_TRIE));
	jw_str(w, "destination_ipv4_lookup", lookup_name(g, g->dst_lens.n4, VIGIL_FW_G_DST4_TRIE));
	jw_str(w, "destination_ipv6_lookup", lookup_name(g, g->dst_lens.n6, VIGIL_FW_G_DST6_TRIE));
}

static void lookups_text(const struct vigil_fw_gen *g)
{
	fprintf(vigil.out, "prefix lookup: source ipv4 %s, ipv6 %s; destination ipv4 %s, ipv6 %s\n",
		lookup_name(g, g->src_lens.n4, VIGIL_FW_G_SRC4_TRIE),
		lookup_name(g, g->src_lens.n6, VIGIL_FW_G_SRC6_TRIE),
		lookup_name(g, g->dst_lens.n4, VIGIL_FW_G_DST4_TRIE),
		lookup_name(g, g->dst_lens.n6, VIGIL_FW_G_DST6_TRIE));
}

static int render_status(const struct vigil_fw_status *st)
{
	const struct vigil_fw_info info = st->info;
	const struct vigil_fw_gen gen = st->gen;
	const struct vigil_fw_rule_stat *rows = st->rules;
	const char *iface = st->iface;
	uint32_t n = st->nrules;
	char since[40], text[256];

	if (st->state != VIGIL_FW_ST_OK) {
		vigil_error("%s", st->problem);
		return VIGIL_EXIT_FAIL;
	}
	iso_realtime(info.loaded_at, since, sizeof(since));
	if (vigil.json) {
		struct jw w;

		jw_record(&w, vigil.sink, "firewall_status", vigil_boot_ns());
		jw_str(&w, "interface", iface);
		jw_u64(&w, "ifindex", info.ifindex);
		jw_str(&w, "mode", vigil_fw_mode_name(info.mode));
		jw_bool(&w, "persistent", info.flags & VIGIL_FW_I_PERSIST);
		jw_bool(&w, "dry_run", info.flags & VIGIL_FW_I_DRY_RUN);
		jw_str(&w, "since", since);
		jw_u64(&w, "loaded_at", info.loaded_at);
		jw_u64(&w, "reloads", info.reloads);
		if (info.reloaded_at)
			jw_u64(&w, "reloaded_at", info.reloaded_at);
		jw_str(&w, "rules_file", info.rules_path);
		jw_u64(&w, "sample", info.sample);
		lookups_json(&w, &gen);
		jw_arr(&w, "rules");
		for (uint32_t i = 0; i < n; i++) {
			vigil_fw_rule_format(&rows[i].r, text, sizeof(text));
			jw_obj(&w, NULL);
			jw_u64(&w, "id", rows[i].id);
			jw_u64(&w, "line", rows[i].r.line);
			jw_str(&w, "rule", text);
			jw_str(&w, "action", vigil_fw_action_name(rows[i].r.action));
			if (rows[i].r.action == VIGIL_FW_RATELIMIT)
				jw_u64(&w, "rate", rows[i].r.rate);
			jw_bool(&w, "default", rows[i].id == 0);
			jw_u64(&w, "packets", rows[i].c.packets);
			jw_u64(&w, "bytes", rows[i].c.bytes);
			jw_u64(&w, "drops", rows[i].c.drops);
			jw_end_obj(&w);
		}
		jw_end_arr(&w);
		jw_end_obj(&w);
	} else {
		fprintf(vigil.out, "interface %s (ifindex %u): %s XDP, %s%s since %s, %u rules from '%s', "
			"%llu reloads\n", iface, info.ifindex, vigil_fw_mode_name(info.mode),
			info.flags & VIGIL_FW_I_PERSIST ? "persistent" : "foreground",
			info.flags & VIGIL_FW_I_DRY_RUN ? ", DRY RUN" : "", since, info.nrules,
			info.rules_path, (unsigned long long)info.reloads);
		lookups_text(&gen);
		fprintf(vigil.out, "%5s %5s %12s %14s %12s  %s\n", "ID", "LINE", "PACKETS", "BYTES",
			"DROPS", "RULE");
		for (uint32_t i = 0; i < n; i++) {
			vigil_fw_rule_format(&rows[i].r, text, sizeof(text));
			fprintf(vigil.out, "%5u %5u %12llu %14llu %12llu  %s\n", rows[i].id, rows[i].r.line,
				(unsigned long long)rows[i].c.packets, (unsigned long long)rows[i].c.bytes,
				(unsigned long long)rows[i].c.drops, text);
		}
	}
	return 0;
}

static int do_status(void)
{
	struct vigil_fw_status *st;
	struct vigil_fw_msg m = { 0 };
	uint32_t n;
	int err = 0;

	if (vigil_fw_status(o.iface, &st, &n, &m)) {
		print_msg(&m);
		return VIGIL_EXIT_FAIL;
	}
	for (uint32_t i = 0; i < n; i++)
		err |= render_status(&st[i]);
	vigil_fw_status_free(st, n);
	if (!n && o.iface) {
		vigil_error("no firewall on '%s' (nothing pinned at '%s/%s', no foreground vigil "
			    "firewall attached)", o.iface, VIGIL_FW_PIN_DIR, o.iface);
		return VIGIL_EXIT_FAIL;
	}
	if (!n && !vigil.json)
		fprintf(vigil.out, "no firewall loaded\n");
	return err;
}

/* ---- events ---- */

static void fmt_addr(const uint8_t a[16], int family, char *buf, size_t n)
{
	if (family == 4)
		inet_ntop(AF_INET, a + 12, buf, n);
	else
		inet_ntop(AF_INET6, a, buf, n);
}

static void col_what(const struct vrow *r, char *buf, size_t n)
{
	const struct vfield *dr = vrow_get(r, "dry_run"), *rl = vrow_get(r, "ratelimit");

	snprintf(buf, n, "%s", rl && rl->b ? "ratelimit" : dr && dr->b ? "would-drop" : "drop");
}

static const struct vcol event_cols[] = {
	VCOL_TIME,
	{ "WHAT", 10, NULL, col_what },
	{ "RULE", 5, "rule_id", NULL, true },
	{ "PROTO", 6, "proto" },
	{ "SRC", 40, "src" },
	{ "SPORT", 6, "sport", NULL, true },
	{ "DST", 40, "dst" },
	{ "DPORT", 0, "dport" },
	{ 0 },
};

static int on_event(void *ctx, void *data, size_t size)
{
	const struct vigil_fw_drop *e = data;
	char src[64], dst[64], ifname[IF_NAMESIZE] = "", proto[16];
	struct vigil_inst *in = ctx;
	struct vrow r;

	if (size < sizeof(*e) || e->hdr.type != VIGIL_EV_FW_DROP)
		return 0;
	fmt_addr(e->src, e->family, src, sizeof(src));
	fmt_addr(e->dst, e->family, dst, sizeof(dst));
	if_indextoname(e->ifindex, ifname);
	snprintf(proto, sizeof(proto), "%s", vigil_fw_proto_name(e->proto));
	if (!strcmp(proto, "other") || !strcmp(proto, "any"))
		snprintf(proto, sizeof(proto), "%u", e->proto);
	vrow_init(&r);
	vrow_str(&r, "type", "fw_drop");
	vrow_u64(&r, "ts", e->hdr.ts);
	vigil_iso_time(e->hdr.ts, r.time, sizeof(r.time));
	vrow_str(&r, "time", r.time);
	vrow_str(&r, "interface", ifname);
	vrow_u64(&r, "rule_id", e->rule_id);
	vrow_u64(&r, "family", e->family);
	vrow_str(&r, "proto", proto);
	vrow_str(&r, "src", src);
	vrow_str(&r, "dst", dst);
	vrow_u64(&r, "sport", e->sport);
	vrow_u64(&r, "dport", e->dport);
	vrow_u64(&r, "len", e->pkt_len);
	vrow_bool(&r, "dry_run", e->flags & VIGIL_FW_E_DRY_RUN);
	vrow_bool(&r, "ratelimit", e->flags & VIGIL_FW_E_RATELIMIT);
	vrow_bool(&r, "fragment", e->flags & VIGIL_FW_E_FRAGMENT);
	return out_row(in->sink, &r);
}

/* ---- load ---- */

/* a foreground firewall's instance: its loop and the CLI's sink */
static const struct vigil_feature fw_fg_feature = { .name = "firewall" };

static struct vigil_inst *fg_inst(struct vigil_loop *loop)
{
	struct vigil_inst *in;

	if (vigil_loop_init(loop))
		return NULL;
	in = vigil_inst_new(&fw_fg_feature, "firewall");
	if (in) {
		in->loop = loop;
		in->sink = vigil.sink;
		out_schema(in->sink);
	}
	return in;
}

struct fg {
	struct vigil_fw *fw;
	struct vigil_fw_opts fo;
	struct vigil_rules rs;
	struct vigil_fw_table t;
	const char *rules_path;
	char rules_dir[PATH_MAX];
	const char *rules_base;
	int inotify_fd;
};

/* after load: fill generation 0, attach */
static int fg_prepare(struct vigil_session *s, void *ctx)
{
	struct fg *g = ctx;
	struct vigil_fw_msg m = { 0 };
	const struct vigil_fw_info *info;
	int err = vigil_fw_start(g->fw, &g->rs, &g->t, &m);

	print_msg(&m);
	if (err)
		return err;
	s->attached++;
	info = vigil_fw_get_info(g->fw);
	vigil_info("firewall: %s XDP on '%s', %u rules from '%s'%s", vigil_fw_mode_name(info->mode),
		   o.iface, g->rs.n - 1, g->rules_path, o.dry_run ? " (dry run: nothing is dropped)" : "");
	return 0;
}

/* inotify on the rules file's directory: editors replace files by rename */
static int fg_on_inotify(void *ctx, int fd, uint32_t events)
{
	struct fg *g = ctx;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	struct vigil_fw_reload_res res;
	struct vigil_fw_msg m = { 0 };
	struct vigil_rules rs;
	bool hit = false;
	ssize_t len;

	while ((len = read(g->inotify_fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + len;) {
			struct inotify_event *ev = (struct inotify_event *)p;

			if (ev->len && !strcmp(ev->name, g->rules_base))
				hit = true;
			p += sizeof(*ev) + ev->len;
		}
	}
	if (!hit)
		return 0;
	/* a bad file is reported and ignored: the running rules stay */
	if (parse_rules(g->rules_path, &rs))
		return 0;
	if (!vigil_fw_reload_fw(g->fw, &g->fo, &rs, &res, &m))
		vigil_info("firewall: reloaded %u rules from '%s'", res.nrules, g->rules_path);
	if (!vigil.quiet || m.err[0])
		vigil_rules_print_diags(&rs, stderr);
	print_msg(&m);
	vigil_rules_free(&rs);
	return 0;
}

/* a persistent load checks this between its steps: Ctrl-C rolls it back */
static bool signal_pending(void *ctx)
{
	sigset_t set;

	(void)ctx;
	return !sigpending(&set) && (sigismember(&set, SIGINT) || sigismember(&set, SIGTERM) ||
				     sigismember(&set, SIGHUP));
}

static int do_load_persist(struct fg *g)
{
	struct vigil_fw_msg m = { 0 };
	struct vigil_fw *fw;
	sigset_t mask;
	int err;

	/* held until exit: the load either completes or rolls back, never half */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	g->fo.cancelled = signal_pending;
	err = vigil_fw_load(&g->fo, g->rules_path, &g->rs, &g->t, &fw, &m);
	print_msg(&m);
	if (err)
		return err;
	vigil_info("firewall: %s XDP on '%s', %u rules from '%s'%s; pinned under '%s/%s'",
		   vigil_fw_mode_name(vigil_fw_get_info(fw)->mode), o.iface, g->rs.n - 1,
		   g->rules_path, o.dry_run ? " (dry run)" : "", VIGIL_FW_PIN_DIR, o.iface);
	vigil_fw_close(fw);	/* pinned: stays */
	return 0;
}

static int do_load(const char *rules_path)
{
	struct vigil_session s = { 0 };
	struct vigil_inst *in = NULL;
	struct vigil_loop loop;
	struct fg g = { .inotify_fd = -1, .rules_path = rules_path };
	struct vigil_fw_msg m = { 0 };
	int err;

	if (o.persist && o.watch) {
		vigil_usage_error("--watch needs a foreground load (not --persist); "
				  "use 'vigil firewall reload' for a persistent one");
		return VIGIL_EXIT_USAGE;
	}
	if (o.mode && strcmp(o.mode, "auto") && strcmp(o.mode, "native") && strcmp(o.mode, "generic")) {
		vigil_usage_error("invalid --mode '%s': auto, native or generic", o.mode);
		return VIGIL_EXIT_USAGE;
	}
	if (!if_nametoindex(o.iface)) {
		vigil_error("no network interface '%s'", o.iface);
		return VIGIL_EXIT_FAIL;
	}
	fw_opts_of(&g.fo);
	err = read_rules(rules_path, &g.rs, &g.t);
	if (err)
		return err;
	if (o.persist) {
		err = do_load_persist(&g);
		goto out_free;
	}

	/* foreground: the session's loop, Ctrl-C detaches */
	err = vigil_fw_open(&g.fo, rules_path, &g.fw, &m);
	if (err) {
		print_msg(&m);
		goto out_free;
	}
	in = fg_inst(&loop);
	if (!in) {
		vigil_error("cannot set up the event loop: %s", strerror(errno));
		err = VIGIL_EXIT_FAIL;
		goto out_free;
	}
	err = vigil_session_open(&s, in, vigil_fw_skeleton(g.fw));
	if (err)
		goto out_session;
	s.prepare = fg_prepare;
	s.prepare_ctx = &g;
	if (o.watch) {
		const char *slash = strrchr(rules_path, '/');

		snprintf(g.rules_dir, sizeof(g.rules_dir), "%.*s",
			 slash ? (int)(slash - rules_path) + 1 : 1, slash ? rules_path : ".");
		g.rules_base = slash ? slash + 1 : rules_path;
		g.inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (g.inotify_fd < 0 ||
		    inotify_add_watch(g.inotify_fd, g.rules_dir,
				      IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE) < 0) {
			vigil_error("cannot watch '%s': %s", g.rules_dir, strerror(errno));
			err = VIGIL_EXIT_FAIL;
			goto out_session;
		}
		vigil_loop_add(&loop, g.inotify_fd, EPOLLIN, fg_on_inotify, &g);
	}
	out_set_columns(in->sink, event_cols);
	err = vigil_session_start(&s, on_event, in);
	if (err)
		goto out_session;
	out_header(in->sink);
	err = vigil_loop_run(&loop, -1);
	/* the final summary: rules and their counters, before detaching */
	if (!in->sink->broken_pipe) {
		struct vigil_fw_status *st;

		if (vigil_fw_status_of(g.fw, &st, &m))
			print_msg(&m);
		else
			render_status(st);
		vigil_fw_status_free(st, 1);
	}
out_session:
	vigil_fw_close(g.fw);	/* fd-owned link: this detaches */
	g.fw = NULL;
	if (s.in)
		err = vigil_session_close(&s, err);
	if (in) {
		vigil_loop_fini(&loop);
		vigil_inst_free(in);
	}
out_free:
	vigil_fw_close(g.fw);
	if (g.inotify_fd >= 0)
		close(g.inotify_fd);
	vigil_fw_table_free(&g.t);
	vigil_rules_free(&g.rs);
	return err;
}

static int do_reload(const char *rules_path)
{
	struct vigil_fw_opts fo;
	struct vigil_fw_reload_res res;
	struct vigil_fw_msg m = { 0 };
	struct vigil_rules rs;
	int err;

	/* read and parse before the lock: a bad file changes nothing, and
	 * nothing that can block (a FIFO) happens under it */
	err = parse_rules(rules_path, &rs);
	if (err)
		return err;
	fw_opts_of(&fo);
	err = vigil_fw_reload(&fo, &rs, &res, &m);
	/* compiled under the lock with the load's lookup: its warnings now */
	if (!vigil.quiet || err)
		vigil_rules_print_diags(&rs, stderr);
	print_msg(&m);
	if (!err && vigil.verbose)
		vigil_info("firewall: reloaded %u rules from '%s' on '%s'", res.nrules, rules_path, o.iface);
	vigil_rules_free(&rs);
	return err;
}

static int do_unload(void)
{
	struct vigil_fw_msg m = { 0 };
	int err = vigil_fw_unload(o.iface, &m);

	print_msg(&m);
	if (err)
		return err;
	vigil_info("firewall: detached from '%s' and unpinned", o.iface);
	return 0;
}

static int do_events(void)
{
	const char *names[] = { "vigil_events", "vigil_lost" };
	struct vigil_session s = { 0 };
	struct vigil_loop loop;
	struct vigil_inst *in;
	char path[PATH_MAX];
	int fds[2] = { -1, -1 }, err = 0;

	/* the pinned ring buffer and loss counter: no object, no program */
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s/%s", VIGIL_FW_PIN_DIR, o.iface, names[i]);
		fds[i] = bpf_obj_get(path);
		if (fds[i] < 0) {
			vigil_error("no persistent firewall on '%s' (cannot open '%s': %s)", o.iface, path,
				    strerror(errno));
			err = VIGIL_EXIT_FAIL;
			goto out;
		}
	}
	in = fg_inst(&loop);
	if (!in) {
		err = VIGIL_EXIT_FAIL;
		goto out;
	}
	err = vigil_session_open_rb(&s, in, fds[0], fds[1], on_event, in);
	if (err)
		goto out_loop;
	out_set_columns(in->sink, event_cols);
	vigil_info("firewall: reading drop events of '%s'; ctrl-c to end (attached)", o.iface);
	out_header(in->sink);
	err = vigil_loop_run(&loop, -1);
	err = vigil_session_close(&s, err);
out_loop:
	vigil_loop_fini(&loop);
	vigil_inst_free(in);
out:
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return err;
}

static int do_check(const char *rules_path)
{
	struct vigil_rules rs;
	struct vigil_fw_table t = { 0 };	/* zero limits: the defaults */
	int err = read_rules(rules_path, &rs, &t);

	if (err)
		return err;
	if (vigil.json) {
		struct jw w;

		jw_record(&w, vigil.sink, "firewall_check", vigil_boot_ns());
		jw_str(&w, "rules_file", rules_path);
		jw_u64(&w, "rules", rs.n - 1);
		jw_u64(&w, "warnings", rs.nwarnings);
		/* prefixes include the host addresses and the two family roots */
		jw_u64(&w, "source_prefixes", t.src.n4 + t.src.n6 + 2);
		jw_u64(&w, "source_hosts", t.src.nhosts);
		jw_u64(&w, "source_lengths", t.gen.src_lens.n4 + t.gen.src_lens.n6);
		jw_u64(&w, "destination_prefixes", t.dst.n4 + t.dst.n6 + 2);
		jw_u64(&w, "destination_hosts", t.dst.nhosts);
		jw_u64(&w, "destination_lengths", t.gen.dst_lens.n4 + t.gen.dst_lens.n6);
		lookups_json(&w, &t.gen);
		jw_u64(&w, "match_entries", t.ncombo + t.nmatch);
		jw_u64(&w, "combinations", t.ncombo);
		jw_u64(&w, "port_entries", t.nmatch);
		jw_end_obj(&w);
	} else {
		fprintf(vigil.out, "%s: %u rules, %u warnings; %u source prefixes (%u hosts, %u lengths), "
			"%u destination prefixes (%u hosts, %u lengths), %u combinations, %u port entries\n",
			rules_path, rs.n - 1, rs.nwarnings, t.src.n4 + t.src.n6 + 2, t.src.nhosts,
			t.gen.src_lens.n4 + t.gen.src_lens.n6, t.dst.n4 + t.dst.n6 + 2, t.dst.nhosts,
			t.gen.dst_lens.n4 + t.gen.dst_lens.n6, t.ncombo, t.nmatch);
		lookups_text(&t.gen);
	}
	vigil_fw_table_free(&t);
	vigil_rules_free(&rs);
	return 0;
}

/* the interface of load, reload, unload and events, and bpffs for their pins */
static int need_iface(void)
{
	int err = vigil_env_check_privileges();

	if (err)
		return err;
	if (!o.iface) {
		vigil_usage_error("'-i IFACE' is required");
		return VIGIL_EXIT_USAGE;
	}
	if (strlen(o.iface) >= IF_NAMESIZE || strchr(o.iface, '/') || o.iface[0] == '.') {
		vigil_usage_error("invalid interface name '%s'", o.iface);
		return VIGIL_EXIT_USAGE;
	}
	return vigil_env_need_bpffs();
}

static int args(int argc, int want, const char *what)
{
	if (argc == want)
		return 0;
	vigil_usage_error("%s", what);
	return VIGIL_EXIT_USAGE;
}

static int run_load(int argc, char **argv)
{
	int err = args(argc, 1, "'load' takes one rules file");

	return err ? err : (err = need_iface()) ? err : do_load(argv[0]);
}

static int run_reload(int argc, char **argv)
{
	int err = args(argc, 1, "'reload' takes one rules file");

	return err ? err : (err = need_iface()) ? err : do_reload(argv[0]);
}

static int run_unload(int argc, char **argv)
{
	int err = args(argc, 0, "'unload' takes no arguments besides -i");

	return err ? err : (err = need_iface()) ? err : do_unload();
}

static int run_events(int argc, char **argv)
{
	int err = args(argc, 0, "'events' takes no arguments besides -i");

	return err ? err : (err = need_iface()) ? err : do_events();
}

static int run_status(int argc, char **argv)
{
	int err = args(argc, 0, "'status' takes no arguments besides -i");

	return err ? err : (err = vigil_env_check_privileges()) ? err : do_status();
}

static int run_check(int argc, char **argv)
{
	int err = args(argc, 1, "'check' takes one rules file");

	return err ? err : do_check(argv[0]);	/* loads nothing: any user */
}

static const struct vigil_verb fw_verbs[] = {
	{ "load", run_load, "load a rules file on an interface (foreground, or --persist)",
	  "-i IFACE [OPTIONS] RULES", load_opts },
	{ "reload", run_reload, "swap a persistent firewall's rules atomically; a bad file changes nothing",
	  "-i IFACE [OPTIONS] RULES", reload_opts },
	{ "status", run_status, "rules and their counters, of every firewall or one interface",
	  "[-i IFACE]", status_opts },
	{ "unload", run_unload, "remove a persistent firewall", "-i IFACE", iface_opts },
	{ "events", run_events, "stream a persistent firewall's drop events", "-i IFACE", iface_opts },
	{ "check", run_check, "parse and compile a rules file (file:line:col errors); loads nothing, any user",
	  "[--lookup HOW] RULES", check_opts },
	{ 0 },
};

const struct vigil_cmd cmd_firewall = {
	.name = "firewall",
	.summary = "XDP firewall from a rules file, with atomic reload (load/reload/status/unload/events/check)",
	.cmd_opts = &o,
	.verbs = fw_verbs,
	.needs = VIGIL_MECH(VIGIL_M_XDP) | VIGIL_MECH(VIGIL_M_RINGBUF),
};
