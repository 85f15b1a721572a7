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
#include "core/metrics.h"
#include "fw/datapath.h"
#include "firewall.skel.h"


/* a firewall instance's options: a foreground load's, and the agent's firewall section */
struct fw_opts {
	const char *iface, *rules, *mode;
	bool watch, dry_run, require_rules, lookup_set;
	uint32_t sample, lookup;
};

/* the verbs' options: an instance's, and what only the CLI has */
static struct fw_cli_opts {
	struct fw_opts f;	/* first: the option tables and functions serve both */
	bool persist;
} o = { .f.sample = 100 };

static int opt_lookup(void *base, const char *arg)
{
	static const char *const names[] = { "auto", "hash", "trie" };
	struct fw_opts *f = base;

	for (uint32_t i = 0; i < 3; i++) {
		if (!strcmp(arg, names[i])) {
			f->lookup = i;	/* VIGIL_FW_LOOKUP_* in this order */
			f->lookup_set = true;
			return 0;
		}
	}
	vigil_usage_error("invalid --lookup '%s': auto, hash or trie", arg);
	return -1;
}

static int opt_sample(void *base, const char *arg)
{
	struct fw_opts *f = base;

	if (vigil_parse_u32(arg, &f->sample)) {
		vigil_usage_error("invalid --sample '%s': a number of drops", arg);
		return -1;
	}
	return 0;
}

#define FO(x) VOFF(struct fw_cli_opts, f.x)
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
	{ "persist", 'p', VO_FLAG, VOFF(struct fw_cli_opts, persist), NULL, "pin under " VIGIL_FW_PIN_DIR "/IFACE and exit; survives the CLI" },
	{ "watch", 'w', VO_FLAG, FO(watch), NULL, "(foreground) reload when the rules file changes" },
	{ "dry-run", 'n', VO_FLAG, FO(dry_run), NULL, "count what would be dropped, but pass everything" },
	{ "sample", 0, VO_FUNC, 0, "N", "one drop event per N drops per CPU (0: none; default 100)", opt_sample },
	OPT_LOOKUP,
	OPT_REQUIRE,
	VOPT_END,
};
/* the feature's: a load's, less --persist (an instance lives as long as its process), plus
 * the rules file that the CLI takes as its argument */
static const struct vigil_opt feat_opts[] = {
	VOPT_SECTION("Firewall"),
	OPT_IFACE("network interface"),
	{ "rules", 0, VO_STR, FO(rules), "FILE", "the rules file" },
	{ "mode", 'm', VO_STR, FO(mode), "MODE", "XDP mode: auto (native, else generic; default), native, generic" },
	{ "watch", 'w', VO_FLAG, FO(watch), NULL, "reload when the rules file changes" },
	{ "dry-run", 'n', VO_FLAG, FO(dry_run), NULL, "count what would be dropped, but pass everything" },
	{ "sample", 0, VO_FUNC, 0, "N", "one drop event per N drops per CPU (0: none; default 100)", opt_sample },
	OPT_LOOKUP,
	OPT_REQUIRE,
	VOPT_END,
};
_Static_assert(offsetof(struct fw_cli_opts, f) == 0, "feat_opts offsets serve both structs");
static const struct fw_opts feat_default = { .sample = 100 };

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

static void fw_opts_of(struct vigil_fw_opts *fo, const struct fw_opts *f, bool persist)
{
	memset(fo, 0, sizeof(*fo));
	fo->iface = f->iface;
	fo->mode = mode_of(f->mode);
	fo->lookup = f->lookup;
	fo->lookup_set = f->lookup_set;
	fo->sample = f->sample;
	fo->persist = persist;
	fo->dry_run = f->dry_run;
}

/* ---- rules file -> tables ---- */

/*
 * Parse a rules file: read once, to the end, whatever it is (a FIFO too),
 * and before any lock is taken. An empty rule list is said on stderr, and
 * refused with --require-rules (exit 2).
 */
static int parse_rules(const char *path, const struct fw_opts *f, struct vigil_rules *rs, bool warn)
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

		if (f->require_rules) {
			vigil_error("rules file '%s' has no rules (only 'default %s') and --require-rules "
				    "is given; nothing was changed", path, dflt);
			vigil_rules_free(rs);
			return VIGIL_EXIT_USAGE;
		}
		if (warn)
			vigil_warn("rules file '%s' has no rules: default %s for every packet", path, dflt);
	}
	return 0;
}

static int read_rules(const char *path, const struct fw_opts *f, struct vigil_rules *rs,
		      struct vigil_fw_table *t, bool warn)
{
	char err[256];
	int ret = parse_rules(path, f, rs, warn);

	if (ret)
		return ret;
	memset(t, 0, sizeof(*t));	/* zero limits: the defaults */
	t->lookup = f->lookup;
	if (vigil_fw_compile(rs, t, err, sizeof(err))) {
		vigil_rules_print_diags(rs, stderr);
		vigil_error("cannot compile rules file '%s': %s; nothing was changed", path, err);
		vigil_rules_free(rs);
		return VIGIL_EXIT_FAIL;
	}
	if (warn && !vigil.quiet)
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

static void lookups_text(FILE *out, const struct vigil_fw_gen *g)
{
	fprintf(out, "prefix lookup: source ipv4 %s, ipv6 %s; destination ipv4 %s, ipv6 %s\n",
		lookup_name(g, g->src_lens.n4, VIGIL_FW_G_SRC4_TRIE),
		lookup_name(g, g->src_lens.n6, VIGIL_FW_G_SRC6_TRIE),
		lookup_name(g, g->dst_lens.n4, VIGIL_FW_G_DST4_TRIE),
		lookup_name(g, g->dst_lens.n6, VIGIL_FW_G_DST6_TRIE));
}

static int render_status(struct vigil_sink *sink, const struct vigil_fw_status *st)
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
	if (sink->json) {
		struct jw w;

		jw_record(&w, sink, "firewall_status", vigil_boot_ns());
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
		fprintf(sink->f, "interface %s (ifindex %u): %s XDP, %s%s since %s, %u rules from '%s', "
			"%llu reloads\n", iface, info.ifindex, vigil_fw_mode_name(info.mode),
			info.flags & VIGIL_FW_I_PERSIST ? "persistent" : "foreground",
			info.flags & VIGIL_FW_I_DRY_RUN ? ", DRY RUN" : "", since, info.nrules,
			info.rules_path, (unsigned long long)info.reloads);
		lookups_text(sink->f, &gen);
		fprintf(sink->f, "%5s %5s %12s %14s %12s  %s\n", "ID", "LINE", "PACKETS", "BYTES",
			"DROPS", "RULE");
		for (uint32_t i = 0; i < n; i++) {
			vigil_fw_rule_format(&rows[i].r, text, sizeof(text));
			fprintf(sink->f, "%5u %5u %12llu %14llu %12llu  %s\n", rows[i].id, rows[i].r.line,
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

	if (vigil_fw_status(o.f.iface, &st, &n, &m)) {
		print_msg(&m);
		return VIGIL_EXIT_FAIL;
	}
	for (uint32_t i = 0; i < n; i++)
		err |= render_status(vigil.sink, &st[i]);
	vigil_fw_status_free(st, n);
	if (!n && o.f.iface) {
		vigil_error("no firewall on '%s' (nothing pinned at '%s/%s', no foreground vigil "
			    "firewall attached)", o.f.iface, VIGIL_FW_PIN_DIR, o.f.iface);
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

/* ---- load: the firewall feature (a foreground load, and the agent's firewall section) ---- */

/* an instance's state; a foreground firewall lives as long as it */
struct fg {
	const struct fw_opts *f;
	struct vigil_session s;
	struct vigil_fw *fw;
	struct vigil_fw_opts fo;
	struct vigil_rules rs;
	struct vigil_fw_table t;
	bool have_rules;
	struct vigil_inst *in;
	char rules_dir[PATH_MAX];
	const char *rules_base;
	int inotify_fd;
	uint64_t reloads, reload_errors;
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
	vigil_info("%s: %s XDP on '%s', %u rules from '%s'%s", g->in->name,
		   vigil_fw_mode_name(info->mode), g->f->iface, g->rs.n - 1, g->f->rules,
		   g->f->dry_run ? " (dry run: nothing is dropped)" : "");
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

	(void)fd, (void)events;
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
	if (parse_rules(g->f->rules, g->f, &rs, true)) {
		g->reload_errors++;
		return 0;
	}
	if (!vigil_fw_reload_fw(g->fw, &g->fo, &rs, &res, &m)) {
		g->reloads++;
		vigil_info("%s: reloaded %u rules from '%s'", g->in->name, res.nrules, g->f->rules);
	} else {
		g->reload_errors++;
	}
	if (!vigil.quiet || m.err[0])
		vigil_rules_print_diags(&rs, stderr);
	print_msg(&m);
	vigil_rules_free(&rs);
	return 0;
}

static int fg_watch(struct fg *g)
{
	const char *path = g->f->rules, *slash = strrchr(path, '/');

	snprintf(g->rules_dir, sizeof(g->rules_dir), "%.*s",
		 slash ? (int)(slash - path) + 1 : 1, slash ? path : ".");
	g->rules_base = slash ? slash + 1 : path;
	g->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (g->inotify_fd < 0 ||
	    inotify_add_watch(g->inotify_fd, g->rules_dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE) < 0 ||
	    vigil_loop_add(g->in->loop, g->inotify_fd, EPOLLIN, fg_on_inotify, g)) {
		vigil_error("cannot watch '%s': %s", g->rules_dir, strerror(errno));
		return VIGIL_EXIT_FAIL;
	}
	return 0;
}

static int fw_check(struct vigil_inst *in)
{
	const struct fw_opts *f = in->opts;

	if (!f->iface) {
		vigil_usage_error("%s: an interface is required ('-i IFACE', or 'iface:')", in->name);
		return VIGIL_EXIT_USAGE;
	}
	if (strlen(f->iface) >= IF_NAMESIZE || strchr(f->iface, '/') || f->iface[0] == '.') {
		vigil_usage_error("invalid interface name '%s'", f->iface);
		return VIGIL_EXIT_USAGE;
	}
	if (!f->rules) {
		vigil_usage_error("%s: a rules file is required ('rules:')", in->name);
		return VIGIL_EXIT_USAGE;
	}
	if (f->mode && strcmp(f->mode, "auto") && strcmp(f->mode, "native") && strcmp(f->mode, "generic")) {
		vigil_usage_error("invalid --mode '%s': auto, native or generic", f->mode);
		return VIGIL_EXIT_USAGE;
	}
	if (!if_nametoindex(f->iface)) {
		vigil_error("no network interface '%s'", f->iface);
		return VIGIL_EXIT_FAIL;
	}
	/* the agent checks every instance before it starts any, and a SIGHUP before it
	 * changes anything: a bad rules file is refused there, with its file:line:col */
	{
		struct vigil_rules rs;
		struct vigil_fw_table t;
		int err = read_rules(f->rules, f, &rs, &t, false);

		if (err)
			return err;
		vigil_fw_table_free(&t);
		vigil_rules_free(&rs);
	}
	return 0;
}

static int fw_start(struct vigil_inst *in)
{
	struct fg *g = in->priv;
	struct vigil_fw_msg m = { 0 };
	int err;

	g->f = in->opts;
	g->in = in;
	g->inotify_fd = -1;
	fw_opts_of(&g->fo, g->f, false);
	err = read_rules(g->f->rules, g->f, &g->rs, &g->t, true);
	if (err)
		return err;
	g->have_rules = true;
	err = vigil_fw_open(&g->fo, g->f->rules, &g->fw, &m);
	if (err) {
		print_msg(&m);
		return err;
	}
	err = vigil_session_open(&g->s, in, vigil_fw_skeleton(g->fw));
	if (err)
		return err;
	g->s.prepare = fg_prepare;
	g->s.prepare_ctx = g;
	if (g->f->watch && (err = fg_watch(g)))
		return err;
	out_set_columns(in->sink, event_cols);
	return vigil_session_start(&g->s, on_event, in);
}

static int fw_stop(struct vigil_inst *in, int err)
{
	struct fg *g = in->priv;

	/* the final summary: rules and their counters, before detaching */
	if (g->fw && g->s.attached && !in->sink->broken_pipe) {
		struct vigil_fw_status *st;
		struct vigil_fw_msg m = { 0 };

		if (vigil_fw_status_of(g->fw, &st, &m))
			print_msg(&m);
		else
			render_status(in->sink, st);
		vigil_fw_status_free(st, 1);
	}
	/* detach, then drain and count loss while the maps are there, then free them */
	vigil_fw_detach(g->fw);
	if (g->s.in)
		err = vigil_session_close(&g->s, err);
	vigil_fw_close(g->fw);
	g->fw = NULL;
	if (g->inotify_fd >= 0) {
		vigil_loop_del(in->loop, g->inotify_fd);
		close(g->inotify_fd);
		g->inotify_fd = -1;
	}
	if (g->have_rules) {
		vigil_fw_table_free(&g->t);
		vigil_rules_free(&g->rs);
		g->have_rules = false;
	}
	return err;
}

static int fw_sessions(struct vigil_inst *in, struct vigil_session **out, int max)
{
	struct fg *g = in->priv;

	out[0] = &g->s;
	return max > 0 && g->s.attached ? 1 : 0;
}

/* per rule: bounded by the rules file, and under the agent's series limit like everything */
static void fw_metrics(struct vigil_inst *in, struct vigil_metrics *m)
{
	static const struct { const char *name, *help; size_t off; } fams[] = {
		{ "vigil_firewall_packets_total", "packets a rule decided (the default policy is rule 0)",
		  offsetof(struct vigil_fw_counter, packets) },
		{ "vigil_firewall_bytes_total", "bytes of the packets a rule decided",
		  offsetof(struct vigil_fw_counter, bytes) },
		{ "vigil_firewall_drops_total", "packets a rule dropped (with dry-run: would have)",
		  offsetof(struct vigil_fw_counter, drops) },
	};
	struct fg *g = in->priv;
	struct vigil_fw_status *st;
	struct vigil_fw_msg msg = { 0 };
	char **lab;	/* each rule's labels, rendered once for the three families */

	if (!g->fw || !g->s.attached || vigil_fw_status_of(g->fw, &st, &msg))
		return;
	lab = calloc(st->nrules ? st->nrules : 1, sizeof(*lab));
	if (!lab) {
		vigil_fw_status_free(st, 1);
		return;
	}
	for (uint32_t i = 0; i < st->nrules; i++) {
		const struct vigil_fw_rule_stat *r = &st->rules[i];
		char id[12], line[12];
		const char *l[] = { "feature", in->name, "interface", st->iface, "rule", id,
				    "line", line, "action", vigil_fw_action_name(r->r.action), NULL };

		snprintf(id, sizeof(id), "%u", r->id);
		snprintf(line, sizeof(line), "%u", r->r.line);
		lab[i] = vm_labels_render(l);
	}
	for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
		vm_family(m, fams[f].name, "counter", fams[f].help);
		for (uint32_t i = 0; i < st->nrules; i++)
			if (lab[i])
				vm_u64_pre(m, *(const uint64_t *)((const char *)&st->rules[i].c +
								   fams[f].off), lab[i]);
	}
	for (uint32_t i = 0; i < st->nrules; i++)
		free(lab[i]);
	free(lab);
	vm_family(m, "vigil_firewall_reloads_total", "counter", "rules file changes applied (watch)");
	vm_u64(m, g->reloads, (const char *[]){ "feature", in->name, "result", "ok", NULL });
	vm_u64(m, g->reload_errors, (const char *[]){ "feature", in->name, "result", "error", NULL });
	vigil_fw_status_free(st, 1);
}

static const struct vigil_feature feat_firewall = {
	.name = "firewall",
	.opts = feat_opts,
	.opts_size = sizeof(struct fw_opts),
	.opts_default = &feat_default,
	.priv_size = sizeof(struct fg),
	.check = fw_check,
	.start = fw_start,
	.stop = fw_stop,
	.sessions = fw_sessions,
	.metrics = fw_metrics,
};

/* a persistent load checks this between its steps: Ctrl-C rolls it back */
static bool signal_pending(void *ctx)
{
	sigset_t set;

	(void)ctx;
	return !sigpending(&set) && (sigismember(&set, SIGINT) || sigismember(&set, SIGTERM) ||
				     sigismember(&set, SIGHUP));
}

static int do_load_persist(const char *rules_path)
{
	struct vigil_fw_msg m = { 0 };
	struct vigil_fw_opts fo;
	struct vigil_rules rs;
	struct vigil_fw_table t;
	struct vigil_fw *fw;
	sigset_t mask;
	int err = read_rules(rules_path, &o.f, &rs, &t, true);

	if (err)
		return err;
	fw_opts_of(&fo, &o.f, true);
	/* held until exit: the load either completes or rolls back, never half */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	fo.cancelled = signal_pending;
	err = vigil_fw_load(&fo, rules_path, &rs, &t, &fw, &m);
	print_msg(&m);
	if (!err) {
		vigil_info("firewall: %s XDP on '%s', %u rules from '%s'%s; pinned under '%s/%s'",
			   vigil_fw_mode_name(vigil_fw_get_info(fw)->mode), o.f.iface, rs.n - 1,
			   rules_path, o.f.dry_run ? " (dry run)" : "", VIGIL_FW_PIN_DIR, o.f.iface);
		vigil_fw_close(fw);	/* pinned: stays */
	}
	vigil_fw_table_free(&t);
	vigil_rules_free(&rs);
	return err;
}

/* foreground: one instance of the feature on the CLI's loop; Ctrl-C detaches */
static int do_load(const char *rules_path)
{
	struct vigil_loop loop;
	struct vigil_inst *in;
	int err;

	if (o.persist && o.f.watch) {
		vigil_usage_error("--watch needs a foreground load (not --persist); "
				  "use 'vigil firewall reload' for a persistent one");
		return VIGIL_EXIT_USAGE;
	}
	if (o.persist) {
		struct vigil_inst probe = { .name = "firewall", .opts = &o.f };

		o.f.rules = rules_path;
		err = fw_check(&probe);
		return err ? err : do_load_persist(rules_path);
	}
	in = vigil_inst_new(&feat_firewall, "firewall");
	if (!in || vigil_loop_init(&loop)) {
		vigil_error("cannot set up the event loop: %s", strerror(errno));
		vigil_inst_free(in);
		return VIGIL_EXIT_FAIL;
	}
	memcpy(in->opts, &o.f, sizeof(o.f));
	((struct fw_opts *)in->opts)->rules = rules_path;
	out_schema(vigil.sink);
	err = vigil_inst_start(in, &loop, vigil.sink);
	if (!err) {
		out_header(vigil.sink);
		err = vigil_loop_run(&loop, -1);
	}
	err = vigil_inst_stop(in, err);
	vigil_loop_fini(&loop);
	vigil_inst_free(in);
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
	err = parse_rules(rules_path, &o.f, &rs, true);
	if (err)
		return err;
	fw_opts_of(&fo, &o.f, false);
	err = vigil_fw_reload(&fo, &rs, &res, &m);
	/* compiled under the lock with the load's lookup: its warnings now */
	if (!vigil.quiet || err)
		vigil_rules_print_diags(&rs, stderr);
	print_msg(&m);
	if (!err && vigil.verbose)
		vigil_info("firewall: reloaded %u rules from '%s' on '%s'", res.nrules, rules_path, o.f.iface);
	vigil_rules_free(&rs);
	return err;
}

static int do_unload(void)
{
	struct vigil_fw_msg m = { 0 };
	int err = vigil_fw_unload(o.f.iface, &m);

	print_msg(&m);
	if (err)
		return err;
	vigil_info("firewall: detached from '%s' and unpinned", o.f.iface);
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
		snprintf(path, sizeof(path), "%s/%s/%s", VIGIL_FW_PIN_DIR, o.f.iface, names[i]);
		fds[i] = bpf_obj_get(path);
		if (fds[i] < 0) {
			vigil_error("no persistent firewall on '%s' (cannot open '%s': %s)", o.f.iface, path,
				    strerror(errno));
			err = VIGIL_EXIT_FAIL;
			goto out;
		}
	}
	/* not a running instance: a loop and the CLI's sink for the session */
	in = vigil_inst_new(&feat_firewall, "firewall");
	if (in && vigil_loop_init(&loop)) {
		vigil_inst_free(in);
		in = NULL;
	}
	if (in) {
		in->loop = &loop;
		in->sink = vigil.sink;
		out_schema(in->sink);
	}
	if (!in) {
		err = VIGIL_EXIT_FAIL;
		goto out;
	}
	err = vigil_session_open_rb(&s, in, fds[0], fds[1], on_event, in);
	if (err)
		goto out_loop;
	out_set_columns(in->sink, event_cols);
	vigil_info("firewall: reading drop events of '%s'; ctrl-c to end (attached)", o.f.iface);
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
	int err = read_rules(rules_path, &o.f, &rs, &t, true);

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
		lookups_text(vigil.out, &t.gen);
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
	if (!o.f.iface) {
		vigil_usage_error("'-i IFACE' is required");
		return VIGIL_EXIT_USAGE;
	}
	if (strlen(o.f.iface) >= IF_NAMESIZE || strchr(o.f.iface, '/') || o.f.iface[0] == '.') {
		vigil_usage_error("invalid interface name '%s'", o.f.iface);
		return VIGIL_EXIT_USAGE;
	}
	return vigil_env_need_bpffs();
}

static int run_load(int argc, char **argv)
{
	int err = vigil_want_args(argc, 1, "'load' takes one rules file");

	return err ? err : (err = need_iface()) ? err : do_load(argv[0]);
}

static int run_reload(int argc, char **argv)
{
	int err = vigil_want_args(argc, 1, "'reload' takes one rules file");

	return err ? err : (err = need_iface()) ? err : do_reload(argv[0]);
}

static int run_unload(int argc, char **argv)
{
	int err = vigil_want_args(argc, 0, "'unload' takes no arguments besides -i");

	return err ? err : (err = need_iface()) ? err : do_unload();
}

static int run_events(int argc, char **argv)
{
	int err = vigil_want_args(argc, 0, "'events' takes no arguments besides -i");

	return err ? err : (err = need_iface()) ? err : do_events();
}

static int run_status(int argc, char **argv)
{
	int err = vigil_want_args(argc, 0, "'status' takes no arguments besides -i");

	return err ? err : (err = vigil_env_check_privileges()) ? err : do_status();
}

static int run_check(int argc, char **argv)
{
	int err = vigil_want_args(argc, 1, "'check' takes one rules file");

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
	.feature = &feat_firewall,	/* the agent's firewall section; the CLI runs it through 'load' */
	.name = "firewall",
	.summary = "XDP firewall from a rules file, with atomic reload (load/reload/status/unload/events/check)",
	.cmd_opts = &o,
	.verbs = fw_verbs,
	.needs = VIGIL_MECH(VIGIL_M_XDP) | VIGIL_MECH(VIGIL_M_RINGBUF),
};
