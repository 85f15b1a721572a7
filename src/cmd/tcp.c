// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * vigil tcp: TCP connections from open to close, with bytes, connect
 * latency, RTT, retransmits and resets, on tracepoints only (tcplife,
 * tcpconnect, tcpaccept, tcpstates, tcpretrans and tcpconnlat in one).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include "core/vigil.h"
#include "core/env.h"
#include "core/hist.h"
#include "core/opts.h"
#include "core/out.h"
#include "core/session.h"
#include "core/feature.h"
#include "core/metrics.h"
#include "cmd/tcp.h"
#include "tcp.skel.h"

#define TCP_MAX_HISTS 1024	/* the kernel's histogram map */

enum hist_kind { HIST_NONE, HIST_CONNECT, HIST_RTT };
enum hist_by { BY_NONE, BY_PORT, BY_PID };

struct tcp_opts {
	bool states, listen_only, connect_only, v4, v6, top, top_counters;
	uint32_t limit;
	const char *hist;	/* connect | rtt */
	const char *hist_by;	/* port | pid */
	uint32_t max_conns;
	struct vigil_tcp_filter f;
};

struct tcp_hrow {
	struct vigil_tcp_hkey key;
	uint64_t slots[VIGIL_HIST_SLOTS];
};

/* counters mode of --top: a connection's payload at the previous tick */
struct top_prev {
	uint64_t cookie, tx, rx;
};

struct tcp_priv {
	struct vigil_session s;
	bool top_counters;
	struct top_prev *tprev;
	size_t ntprev;
	struct tcp_bpf *skel;
	bool started;
	enum hist_kind hist;
	enum hist_by by;
	uint64_t prev_stats[VIGIL_TCP_S__COUNT];	/* at the previous tick */
	struct tcp_hrow *prev_hists;
	size_t nprev;
	uint64_t last_tick_ns;
};

static int opt_port(void *base, const char *arg)
{
	struct tcp_opts *o = base;
	int n = tcp_parse_ports(arg, o->f.ports);

	if (n < 0) {
		vigil_usage_error("invalid port list '%s': 1 to %d ports from 1 to 65535, comma separated",
				  arg, VIGIL_TCP_MAX_PORTS);
		return -1;
	}
	o->f.nports = n;
	return 0;
}

static int opt_cidrs(const char *arg, const char *name, struct vigil_tcp_cidr *c, uint8_t *n)
{
	char *list = strdup(arg), *save = NULL;
	int err = 0;

	if (!list)
		return -1;
	*n = 0;
	for (char *s = strtok_r(list, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
		if (*n == VIGIL_TCP_MAX_CIDRS) {
			vigil_usage_error("too many addresses in '--%s' (at most %d)", name, VIGIL_TCP_MAX_CIDRS);
			err = -1;
			break;
		}
		if (tcp_parse_cidr(s, &c[*n])) {
			vigil_usage_error("invalid address '%s' for '--%s' (an IPv4 or IPv6 address, optionally /PREFIX)",
					  s, name);
			err = -1;
			break;
		}
		(*n)++;
	}
	if (!err && !*n) {
		vigil_usage_error("'--%s' needs an address", name);
		err = -1;
	}
	free(list);
	return err;
}

static int opt_laddr(void *base, const char *arg)
{
	struct tcp_opts *o = base;

	return opt_cidrs(arg, "laddr", o->f.laddr, &o->f.nladdr);
}

static int opt_raddr(void *base, const char *arg)
{
	struct tcp_opts *o = base;

	return opt_cidrs(arg, "raddr", o->f.raddr, &o->f.nraddr);
}

#define T(f) VOFF(struct tcp_opts, f)

static const struct vigil_opt tcp_opts[] = {
	VOPT_SECTION("Events (default: connect, accept, close, retransmits, resets)"),
	{ "states", 0, VO_FLAG, T(states), NULL, "also every other state transition" },
	VOPT_SECTION("Top (with -i)"),
	{ "top", 0, VO_FLAG, T(top), NULL,
	  "the busiest connections by bytes each interval, like tcptop (sendmsg/recvmsg bytes; before Linux 6.3, each connection's counters)" },
	{ "limit", 0, VO_U32, T(limit), "N", "with --top: rows per interval (default 20)", .min = 1, .max = 100000 },
	{ "test-top-counters", 0, VO_FLAG, T(top_counters), NULL,
	  "test knob: --top from the connections' counters, as on kernels before 6.3", .hidden = true },
	VOPT_SECTION("Histograms"),
	{ "hist", 0, VO_STR, T(hist), "connect|rtt",
	  "log2 histogram of connect latency (SYN to ESTABLISHED) or smoothed RTT at close, instead of events" },
	{ "hist-by", 0, VO_STR, T(hist_by), "port|pid", "with --hist: one histogram per remote port or per process" },
	VOPT_SECTION("Connection filters (in the kernel)"),
	{ "ipv4", '4', VO_FLAG, T(v4), NULL, "only IPv4" },
	{ "ipv6", '6', VO_FLAG, T(v6), NULL, "only IPv6" },
	{ "port", 0, VO_FUNC, 0, "P[,P...]", "only connections with this local or remote port", opt_port },
	{ "laddr", 0, VO_FUNC, 0, "ADDR[/N][,...]", "only this local address or network", opt_laddr },
	{ "raddr", 0, VO_FUNC, 0, "ADDR[/N][,...]", "only this remote address or network", opt_raddr },
	{ "listen-only", 0, VO_FLAG, T(listen_only), NULL, "only passive opens (accepted connections)" },
	{ "connect-only", 0, VO_FLAG, T(connect_only), NULL, "only active opens (connect)" },
	{ "max-conns", 0, VO_U32, T(max_conns), "N",
	  "connections tracked at once (default 65536); more are counted as untracked",
	  .min = 16, .max = 1u << 22 },
	VOPT_END,
};

static const struct tcp_opts tcp_defaults = { .max_conns = 65536, .limit = 20 };

/* ---- stream ---------------------------------------------------------------- */

static const char *kind_name(unsigned int k)
{
	static const char *const names[] = {
		"", "tcp_connect", "tcp_accept", "tcp_close", "tcp_state", "tcp_retransmit", "tcp_reset",
	};

	return k < sizeof(names) / sizeof(names[0]) ? names[k] : "tcp";
}

static const char *dir_name(unsigned int d)
{
	return d == VIGIL_TCP_ACTIVE ? "active" : d == VIGIL_TCP_PASSIVE ? "passive" : "unknown";
}

static void col_event(const struct vrow *r, char *buf, size_t n)
{
	snprintf(buf, n, "%s", vrow_s(r, "type") + 4);
}

static void col_ep(const struct vrow *r, char *buf, size_t n, const char *a, const char *p)
{
	const char *addr = vrow_s(r, a);

	snprintf(buf, n, strchr(addr, ':') ? "[%s]:%llu" : "%s:%llu", addr,
		 (unsigned long long)vrow_u(r, p));
}

static void col_local(const struct vrow *r, char *buf, size_t n) { col_ep(r, buf, n, "laddr", "lport"); }
static void col_remote(const struct vrow *r, char *buf, size_t n) { col_ep(r, buf, n, "raddr", "rport"); }

static void col_detail(const struct vrow *r, char *buf, size_t n)
{
	const char *type = vrow_s(r, "type");
	char d[32], c[32];

	if (!strcmp(type, "tcp_close")) {
		vigil_fmt_duration(vrow_u(r, "duration_ns"), d, sizeof(d));
		snprintf(buf, n, "%s tx=%llu rx=%llu retrans=%llu srtt=%lluus in %s%s", d,
			 (unsigned long long)vrow_u(r, "bytes_sent"),
			 (unsigned long long)vrow_u(r, "bytes_received"),
			 (unsigned long long)vrow_u(r, "retransmits"),
			 (unsigned long long)vrow_u(r, "srtt_us"), vrow_s(r, "state"),
			 vrow_b(r, "reset_received") ? " (reset received)" :
			 vrow_b(r, "reset_sent") ? " (reset sent)" : "");
	} else if (!strcmp(type, "tcp_connect")) {
		vigil_fmt_duration(vrow_u(r, "connect_ns"), c, sizeof(c));
		snprintf(buf, n, "connected in %s", c);
	} else if (!strcmp(type, "tcp_state")) {
		snprintf(buf, n, "%s -> %s", vrow_s(r, "oldstate"), vrow_s(r, "newstate"));
	} else if (!strcmp(type, "tcp_reset")) {
		snprintf(buf, n, "%s in %s", vrow_b(r, "reset_received") ? "received" : "sent",
			 vrow_s(r, "state"));
	} else if (!strcmp(type, "tcp_retransmit")) {
		snprintf(buf, n, "in %s, %llu so far", vrow_s(r, "state"),
			 (unsigned long long)vrow_u(r, "retransmits"));
	} else {
		snprintf(buf, n, "%s", vrow_s(r, "direction"));
	}
}

static const struct vcol tcp_cols[] = {
	VCOL_TIME,
	{ "EVENT", 10, NULL, col_event },
	{ "PID", 7, "pid", NULL, true },
	{ "COMM", 16, "comm" },
	{ "LOCAL", 24, NULL, col_local },
	{ "REMOTE", 24, NULL, col_remote },
	{ "DETAIL", 0, NULL, col_detail },
	{ 0 },
};

static int on_event(void *ctx, void *data, size_t size)
{
	struct vigil_inst *in = ctx;
	const struct vigil_tcp *e = data;
	char la[INET6_ADDRSTRLEN] = "", ra[INET6_ADDRSTRLEN] = "";
	int af = e->family == AF_INET6 ? AF_INET6 : AF_INET;
	struct vrow r;

	if (size < sizeof(*e) || e->hdr.type != VIGIL_EV_TCP)
		return 0;
	inet_ntop(af, e->saddr, la, sizeof(la));
	inet_ntop(af, e->daddr, ra, sizeof(ra));
	vrow_init(&r);
	vrow_hdr(&r, kind_name(e->kind), &e->hdr);
	vrow_bool(&r, "owner_known", e->flags & VIGIL_TCP_F_OWNER);
	vrow_u64(&r, "sock_cookie", e->cookie);
	vrow_str(&r, "family", af == AF_INET6 ? "ipv6" : "ipv4");
	vrow_str(&r, "direction", dir_name(e->dir));
	vrow_str(&r, "laddr", la);
	vrow_u64(&r, "lport", e->sport);
	vrow_str(&r, "raddr", ra);
	vrow_u64(&r, "rport", e->dport);
	switch (e->kind) {
	case VIGIL_TCP_STATE:
		vrow_str(&r, "oldstate", tcp_state_name(e->oldstate));
		vrow_str(&r, "newstate", tcp_state_name(e->newstate));
		break;
	case VIGIL_TCP_CLOSE:
		/* the state it was in when it went to CLOSE */
		vrow_str(&r, "state", tcp_state_name(e->oldstate));
		vrow_u64(&r, "duration_ns", e->duration_ns);
		break;
	case VIGIL_TCP_CONNECT:
		vrow_u64(&r, "connect_ns", e->connect_ns);
		break;
	default:
		vrow_str(&r, "state", tcp_state_name(e->newstate));
		break;
	}
	if (e->kind == VIGIL_TCP_CLOSE && e->dir == VIGIL_TCP_ACTIVE)
		vrow_u64(&r, "connect_ns", e->connect_ns);
	vrow_u64(&r, "bytes_sent", e->bytes_acked);
	vrow_u64(&r, "bytes_received", e->bytes_received);
	vrow_u64(&r, "bytes_retrans", e->bytes_retrans);
	vrow_u64(&r, "segs_out", e->segs_out);
	vrow_u64(&r, "segs_in", e->segs_in);
	vrow_u64(&r, "retransmits", e->retrans);
	vrow_u64(&r, "srtt_us", e->srtt_us);
	vrow_bool(&r, "reset_received", e->flags & VIGIL_TCP_F_RST_RX);
	vrow_bool(&r, "reset_sent", e->flags & VIGIL_TCP_F_RST_TX);
	return out_row(in->sink, &r);
}

/* ---- counters and histograms from the maps ---------------------------------- */

static int read_stats(struct tcp_priv *p, uint64_t *out)
{
	int ncpu = libbpf_num_possible_cpus(), fd = bpf_map__fd(p->skel->maps.tcp_stats);

	if (ncpu <= 0)
		return -EINVAL;
	uint64_t v[ncpu];

	for (uint32_t i = 0; i < VIGIL_TCP_S__COUNT; i++) {
		out[i] = 0;
		if (bpf_map_lookup_elem(fd, &i, v))
			return -errno;
		for (int c = 0; c < ncpu; c++)
			out[i] += v[c];
	}
	return 0;
}

/* every histogram of the kernel map, summed over CPUs; returns the count or -errno */
static int read_hists(struct tcp_priv *p, struct tcp_hrow *rows, size_t max)
{
	int ncpu = libbpf_num_possible_cpus(), fd = bpf_map__fd(p->skel->maps.tcp_hists);
	struct vigil_tcp_hkey key, next, *prev = NULL;
	size_t n = 0;

	if (ncpu <= 0)
		return -EINVAL;
	struct vigil_hist *v = calloc(ncpu, sizeof(*v));

	if (!v)
		return -ENOMEM;
	while (n < max && !bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, v))
			continue;
		rows[n].key = key;
		memset(rows[n].slots, 0, sizeof(rows[n].slots));
		for (int c = 0; c < ncpu; c++)
			vhist_merge(rows[n].slots, (const uint64_t *)v[c].slots);
		n++;
	}
	free(v);
	return (int)n;
}

static int hrow_cmp(const void *a, const void *b)
{
	const struct tcp_hrow *x = a, *y = b;

	if (x->key.kind != y->key.kind)
		return x->key.kind < y->key.kind ? -1 : 1;
	return x->key.key < y->key.key ? -1 : x->key.key > y->key.key;
}

static void col_hist(const struct vrow *r, char *buf, size_t n)
{
	const struct vfield *by = vrow_get(r, "rport");
	const char *what = !strcmp(vrow_s(r, "type"), "tcp_connect_hist") ? "connect latency" : "srtt";
	size_t o;

	if (!by)
		by = vrow_get(r, "pid");
	if (by)
		o = snprintf(buf, n, "%s  %s = %llu  (%llu connections)\n", what,
			     vrow_get(r, "rport") ? "rport" : "pid", (unsigned long long)by->u,
			     (unsigned long long)vrow_u(r, "count"));
	else
		o = snprintf(buf, n, "%s  (%llu connections)\n", what, (unsigned long long)vrow_u(r, "count"));
	if (o < n) {
		FILE *m = fmemopen(buf + o, n - o, "w");

		if (m) {
			vhist_print(m, vrow_need(r, "buckets", VF_HIST)->hist.slots, vrow_s(r, "unit_name"));
			fclose(m);
		}
	}
}

static const struct vcol hist_cols[] = { { "", 0, NULL, col_hist, false, true }, { 0 } };

static int render_hists(struct vigil_inst *in, bool final)
{
	struct tcp_priv *p = in->priv;
	struct tcp_hrow *rows = calloc(TCP_MAX_HISTS, sizeof(*rows));
	uint64_t now = vigil_boot_ns();
	char iso[40];
	int n, err = 0;

	if (!rows)
		return -ENOMEM;
	n = read_hists(p, rows, TCP_MAX_HISTS);
	if (n < 0) {
		free(rows);
		return n;
	}
	qsort(rows, n, sizeof(rows[0]), hrow_cmp);
	vigil_iso_time(now, iso, sizeof(iso));
	out_text(in->sink, "%s\n", final ? "final, since start" : "interval");
	for (int i = 0; i < n && !err; i++) {
		struct tcp_hrow *h = &rows[i];
		uint64_t slots[VIGIL_HIST_SLOTS];
		struct vrow r;
		bool rtt = h->key.kind == VIGIL_TCP_H_RTT;

		if ((rtt ? HIST_RTT : HIST_CONNECT) != p->hist)
			continue;
		memcpy(slots, h->slots, sizeof(slots));
		if (!final) {
			for (size_t j = 0; j < p->nprev; j++)
				if (!hrow_cmp(&p->prev_hists[j], h))
					for (int s = 0; s < VIGIL_HIST_SLOTS; s++)
						slots[s] -= p->prev_hists[j].slots[s];
		}
		if (!vhist_count(slots))
			continue;
		vrow_init(&r);
		vrow_str(&r, "type", rtt ? "tcp_rtt_hist" : "tcp_connect_hist");
		vrow_u64(&r, "ts", now);
		vrow_str(&r, "time", iso);
		vrow_bool(&r, "final", final);
		if (p->by == BY_PORT)
			vrow_u64(&r, "rport", h->key.key);
		else if (p->by == BY_PID)
			vrow_u64(&r, "pid", h->key.key);
		vrow_str(&r, "unit", rtt ? "us" : "ns");
		vrow_str(&r, "unit_name", rtt ? "usecs" : "nsecs");
		vrow_u64(&r, "count", vhist_count(slots));
		vrow_hist(&r, "buckets", slots, rtt ? "usecs" : "nsecs");
		err = out_row(in->sink, &r) < 0;
	}
	free(p->prev_hists);
	p->prev_hists = rows;
	p->nprev = n;
	return err || out_flush(in->sink) ? -1 : 0;
}

/* -i in stream mode: what the interval (or the run, at the end) counted */
static int render_summary(struct vigil_inst *in, bool final)
{
	struct tcp_priv *p = in->priv;
	uint64_t st[VIGIL_TCP_S__COUNT], d[VIGIL_TCP_S__COUNT], opened[2] = { 0 }, closed[3] = { 0 };
	uint64_t now = vigil_boot_ns();
	char iso[40];
	struct vrow r;
	int err = read_stats(p, st);

	if (err)
		return err;
	for (int i = 0; i < VIGIL_TCP_S__COUNT; i++)
		d[i] = final ? st[i] : st[i] - p->prev_stats[i];
	memcpy(p->prev_stats, st, sizeof(st));
	opened[0] = d[VIGIL_TCP_S_OPEN];
	opened[1] = d[VIGIL_TCP_S_OPEN + 1];
	for (int dir = 0; dir < 3; dir++)
		for (int s = 0; s < VIGIL_TCP_NSTATES; s++)
			closed[dir] += d[VIGIL_TCP_S_CLOSE + dir * VIGIL_TCP_NSTATES + s];
	vigil_iso_time(now, iso, sizeof(iso));
	vrow_init(&r);
	vrow_str(&r, "type", "tcp_summary");
	vrow_u64(&r, "ts", now);
	vrow_str(&r, "time", iso);
	vrow_bool(&r, "final", final);
	vrow_u64(&r, "opened_active", opened[0]);
	vrow_u64(&r, "opened_passive", opened[1]);
	vrow_u64(&r, "closed", closed[0] + closed[1] + closed[2]);
	vrow_u64(&r, "bytes_sent", d[VIGIL_TCP_S_BYTES_TX]);
	vrow_u64(&r, "bytes_received", d[VIGIL_TCP_S_BYTES_RX]);
	vrow_u64(&r, "retransmits", d[VIGIL_TCP_S_RETRANS]);
	vrow_u64(&r, "resets_sent", d[VIGIL_TCP_S_RST_TX]);
	vrow_u64(&r, "resets_received", d[VIGIL_TCP_S_RST_RX]);
	vrow_u64(&r, "untracked", d[VIGIL_TCP_S_NOROOM]);
	if (!in->sink->json) {
		char hhmmss[16];

		vcol_time(&r, hhmmss, sizeof(hhmmss));
		out_text(in->sink, "%s %s: opened %llu active %llu passive, closed %llu, "
			 "sent %llu B, received %llu B, %llu retransmits, %llu/%llu resets sent/received\n",
			 hhmmss, final ? "total" : "interval",
			 (unsigned long long)opened[0], (unsigned long long)opened[1],
			 (unsigned long long)(closed[0] + closed[1] + closed[2]),
			 (unsigned long long)d[VIGIL_TCP_S_BYTES_TX], (unsigned long long)d[VIGIL_TCP_S_BYTES_RX],
			 (unsigned long long)d[VIGIL_TCP_S_RETRANS], (unsigned long long)d[VIGIL_TCP_S_RST_TX],
			 (unsigned long long)d[VIGIL_TCP_S_RST_RX]);
		return out_flush(in->sink) ? -1 : 0;
	}
	return out_row(in->sink, &r) < 0 || out_flush(in->sink) ? -1 : 0;
}

/* ---- --top --------------------------------------------------------------- */

static int top_cmp(const void *a, const void *b)
{
	const struct vigil_tcp_top *x = a, *y = b;
	uint64_t tx = x->tx + x->rx, ty = y->tx + y->rx;

	if (tx != ty)
		return tx > ty ? -1 : 1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

static void col_kb(const struct vrow *r, char *buf, size_t n, const char *key)
{
	snprintf(buf, n, "%llu", (unsigned long long)(vrow_u(r, key) / 1024));
}

static void col_rxkb(const struct vrow *r, char *buf, size_t n) { col_kb(r, buf, n, "bytes_received"); }
static void col_txkb(const struct vrow *r, char *buf, size_t n) { col_kb(r, buf, n, "bytes_sent"); }

static const struct vcol top_cols[] = {
	{ "PID", 7, "pid", NULL, true },
	{ "COMM", 16, "comm" },
	{ "LOCAL", 24, NULL, col_local },
	{ "REMOTE", 24, NULL, col_remote },
	{ "RX_KB", 9, NULL, col_rxkb, true },
	{ "TX_KB", 9, NULL, col_txkb, true },
	{ 0 },
};

static int prev_cmp(const void *a, const void *b)
{
	const struct top_prev *x = a, *y = b;

	return x->cookie < y->cookie ? -1 : x->cookie > y->cookie;
}

/*
 * Counters mode: the map holds each connection's payload so far; the
 * interval's bytes are the growth since the previous tick. Closed
 * connections are taken one last time, then deleted.
 */
static size_t top_diff(struct tcp_priv *p, int fd, const uint64_t *keys, size_t nk,
		       struct vigil_tcp_top *rows)
{
	struct top_prev *next = calloc(nk ? nk : 1, sizeof(*next));
	size_t n = 0, nn = 0;

	if (!next)
		return 0;
	for (size_t i = 0; i < nk; i++) {
		struct vigil_tcp_top v;
		struct top_prev k = { .cookie = keys[i] }, *was;

		if (bpf_map_lookup_elem(fd, &keys[i], &v))
			continue;
		was = p->ntprev ? bsearch(&k, p->tprev, p->ntprev, sizeof(k), prev_cmp) : NULL;
		if (v.closed)
			bpf_map_delete_elem(fd, &keys[i]);
		else
			next[nn++] = (struct top_prev){ keys[i], v.tx, v.rx };
		if (was) {
			v.tx -= was->tx < v.tx ? was->tx : v.tx;
			v.rx -= was->rx < v.rx ? was->rx : v.rx;
		}
		if (v.tx || v.rx)
			rows[n++] = v;
	}
	qsort(next, nn, sizeof(*next), prev_cmp);
	free(p->tprev);
	p->tprev = next;
	p->ntprev = nn;
	return n;
}

/* take the interval's bytes out of the kernel map: read, then delete, key by key */
static int render_top(struct vigil_inst *in)
{
	const struct tcp_opts *o = in->opts;
	struct tcp_priv *p = in->priv;
	int fd = bpf_map__fd(p->skel->maps.tcp_top);
	uint64_t *keys = calloc(VIGIL_TCP_TOP_MAX, sizeof(*keys)), key, *prev = NULL;
	struct vigil_tcp_top *rows = calloc(VIGIL_TCP_TOP_MAX, sizeof(*rows));
	size_t nk = 0, n = 0;
	uint64_t now = vigil_boot_ns();
	char iso[40], hhmmss[16];
	struct vrow t;
	int err = 0;

	if (!keys || !rows) {
		free(keys);
		free(rows);
		return -ENOMEM;
	}
	while (nk < VIGIL_TCP_TOP_MAX && !bpf_map_get_next_key(fd, prev, &keys[nk])) {
		key = keys[nk++];
		prev = &key;
	}
	if (p->top_counters) {
		n = top_diff(p, fd, keys, nk, rows);
	} else {
		/* bytes added between the read and the delete go to no interval: a few at most */
		for (size_t i = 0; i < nk; i++)
			if (!bpf_map_lookup_elem(fd, &keys[i], &rows[n]) &&
			    !bpf_map_delete_elem(fd, &keys[i]))
				n++;
	}
	qsort(rows, n, sizeof(rows[0]), top_cmp);
	vigil_iso_time(now, iso, sizeof(iso));
	vrow_init(&t);
	vrow_u64(&t, "ts", now);
	vcol_time(&t, hhmmss, sizeof(hhmmss));
	out_text(in->sink, "\n%s  %zu connections moved bytes\n", hhmmss, n);
	out_header(in->sink);
	for (size_t i = 0; i < n && i < o->limit && !err; i++) {
		const struct vigil_tcp_top *v = &rows[i];
		int af = v->family == AF_INET6 ? AF_INET6 : AF_INET;
		char la[INET6_ADDRSTRLEN] = "", ra[INET6_ADDRSTRLEN] = "", comm[VIGIL_COMM_LEN + 1];
		struct vrow r;

		inet_ntop(af, v->saddr, la, sizeof(la));
		inet_ntop(af, v->daddr, ra, sizeof(ra));
		snprintf(comm, sizeof(comm), "%.*s", VIGIL_COMM_LEN, v->comm);
		vrow_init(&r);
		vrow_str(&r, "type", "tcp_top");
		vrow_u64(&r, "ts", now);
		vrow_str(&r, "time", iso);
		vrow_u64(&r, "pid", v->pid);
		vrow_u64(&r, "uid", v->uid);
		vrow_str(&r, "comm", comm);
		vrow_str(&r, "family", af == AF_INET6 ? "ipv6" : "ipv4");
		vrow_str(&r, "laddr", la);
		vrow_u64(&r, "lport", v->sport);
		vrow_str(&r, "raddr", ra);
		vrow_u64(&r, "rport", v->dport);
		vrow_u64(&r, "bytes_sent", v->tx);
		vrow_u64(&r, "bytes_received", v->rx);
		err = out_row(in->sink, &r) < 0;
	}
	free(keys);
	free(rows);
	return err || out_flush(in->sink) ? -1 : 0;
}

static int tcp_tick(struct vigil_inst *in)
{
	struct tcp_priv *p = in->priv;

	if (!p->started)
		return 0;
	vigil_session_tick(&p->s);
	if (VIGIL_OPTS(in, struct tcp_opts)->top)
		return render_top(in);
	return p->hist ? render_hists(in, false) : render_summary(in, false);
}

/* ---- run ----------------------------------------------------------------- */

/* sock:sock_send_length and sock_recv_length came in Linux 6.3: probe the kernel's BTF */
static bool have_send_length(void)
{
	struct btf *btf = btf__load_vmlinux_btf();
	bool ok;

	if (!btf)
		return false;
	ok = btf__find_by_name_kind(btf, "btf_trace_sock_send_length", BTF_KIND_TYPEDEF) > 0 &&
	     btf__find_by_name_kind(btf, "btf_trace_sock_recv_length", BTF_KIND_TYPEDEF) > 0;
	btf__free(btf);
	return ok;
}

static int tcp_check(struct vigil_inst *in)
{
	struct tcp_opts *o = in->opts;

	if (o->v4 && o->v6) {
		vigil_usage_error("-4 and -6 exclude each other");
		return VIGIL_EXIT_USAGE;
	}
	if (o->listen_only && o->connect_only) {
		vigil_usage_error("--listen-only and --connect-only exclude each other");
		return VIGIL_EXIT_USAGE;
	}
	if (o->hist && strcmp(o->hist, "connect") && strcmp(o->hist, "rtt")) {
		vigil_usage_error("invalid histogram '%s': connect or rtt", o->hist);
		return VIGIL_EXIT_USAGE;
	}
	if (o->hist_by && strcmp(o->hist_by, "port") && strcmp(o->hist_by, "pid")) {
		vigil_usage_error("invalid histogram key '%s': port or pid", o->hist_by);
		return VIGIL_EXIT_USAGE;
	}
	if (o->hist_by && !o->hist) {
		vigil_usage_error("--hist-by needs --hist");
		return VIGIL_EXIT_USAGE;
	}
	if (o->top && !in->c.interval_ns) {
		vigil_usage_error("--top needs -i (the interval its rows cover)");
		return VIGIL_EXIT_USAGE;
	}
	if (o->top && (o->hist || o->states)) {
		vigil_usage_error("--top excludes --hist and --states");
		return VIGIL_EXIT_USAGE;
	}
	if (o->hist && o->states) {
		vigil_usage_error("--states shows events; --hist shows none");
		return VIGIL_EXIT_USAGE;
	}
	for (int i = 0; i < o->f.nladdr; i++)
		if ((o->v4 && o->f.laddr[i].family != AF_INET) || (o->v6 && o->f.laddr[i].family != AF_INET6)) {
			vigil_usage_error("'--laddr' names another family than -4/-6");
			return VIGIL_EXIT_USAGE;
		}
	for (int i = 0; i < o->f.nraddr; i++)
		if ((o->v4 && o->f.raddr[i].family != AF_INET) || (o->v6 && o->f.raddr[i].family != AF_INET6)) {
			vigil_usage_error("'--raddr' names another family than -4/-6");
			return VIGIL_EXIT_USAGE;
		}
	return 0;
}

static int tcp_start(struct vigil_inst *in)
{
	struct tcp_opts *o = in->opts;
	struct tcp_priv *p = in->priv;
	struct tcp_bpf *skel;
	bool accept_hooks = true;
	int err;

	p->hist = !o->hist ? HIST_NONE : !strcmp(o->hist, "rtt") ? HIST_RTT : HIST_CONNECT;
	p->by = !o->hist_by ? BY_NONE : !strcmp(o->hist_by, "pid") ? BY_PID : BY_PORT;
	/* accept() is seen at its syscall exit, a classic tracepoint */
	if (vigil_env_need_tracefs()) {
		vigil_warn("no tracefs: accepted connections are attributed when their owner closes them");
		accept_hooks = false;
	}
	p->top_counters = o->top && (o->top_counters || !have_send_length());
	if (p->top_counters && !o->top_counters)
		vigil_info("--top: no sock:sock_send_length/sock_recv_length here (Linux 6.3): bytes "
			   "from each connection's counters every interval, for connections opened since start");
	skel = p->skel = tcp_bpf__open();
	err = vigil_session_open(&p->s, in, skel ? skel->skeleton : NULL);
	if (err)
		return err;
	o->f.family = o->v4 ? AF_INET : o->v6 ? AF_INET6 : 0;
	o->f.dir = o->connect_only ? VIGIL_TCP_ACTIVE : o->listen_only ? VIGIL_TCP_PASSIVE : 0;
	memcpy((void *)&skel->rodata->tcp_filter, &o->f, sizeof(o->f));
	skel->rodata->want_states = o->states;
	skel->rodata->want_events = p->hist == HIST_NONE && !o->top;
	skel->rodata->want_top = o->top;
	skel->rodata->top_counters = p->top_counters;
	bpf_program__set_autoload(skel->progs.tcp_send_len, o->top && !p->top_counters);
	bpf_program__set_autoload(skel->progs.tcp_recv_len, o->top && !p->top_counters);
	bpf_program__set_autoload(skel->progs.tcp_top_probe, p->top_counters);
	if (!o->top)
		bpf_map__set_max_entries(skel->maps.tcp_top, 1);
	skel->rodata->hist_by = p->by;
	bpf_map__set_max_entries(skel->maps.tcp_conns, o->max_conns);
	bpf_map__set_max_entries(skel->maps.tcp_hists, p->by ? TCP_MAX_HISTS : 4);
	bpf_program__set_autoload(skel->progs.tcp_accept, accept_hooks);
	bpf_program__set_autoload(skel->progs.tcp_accept4, accept_hooks);
	if (p->hist || o->top) {
		/* nothing is shipped per connection */
		bpf_map__set_max_entries(skel->maps.vigil_events, getpagesize());
		out_set_columns(in->sink, o->top ? top_cols : hist_cols);
	} else {
		out_set_columns(in->sink, tcp_cols);
	}
	err = vigil_session_start(&p->s, on_event, in);
	if (err)
		return err;
	p->started = true;
	if (p->hist || o->top)
		in->sink->header_done = true;
	return 0;
}

static int tcp_stop(struct vigil_inst *in, int err)
{
	struct tcp_priv *p = in->priv;
	uint64_t st[VIGIL_TCP_S__COUNT];

	if (p->s.in)
		err = vigil_session_close(&p->s, err);
	if (p->started && !err && !in->sink->broken_pipe) {
		int r = 0;

		if (p->hist)
			r = render_hists(in, true);
		else if (VIGIL_OPTS(in, struct tcp_opts)->top)
			r = render_top(in) || render_summary(in, true);
		else if (in->c.interval_ns)
			r = render_summary(in, true);
		if (r && !in->sink->broken_pipe)
			err = VIGIL_EXIT_FAIL;
	}
	if (p->started && !read_stats(p, st) && st[VIGIL_TCP_S_NOROOM])
		vigil_warn("%llu connections not tracked: the socket map was full (--max-conns)",
			   (unsigned long long)st[VIGIL_TCP_S_NOROOM]);
	free(p->prev_hists);
	p->prev_hists = NULL;
	free(p->tprev);
	p->tprev = NULL;
	tcp_bpf__destroy(p->skel);
	p->skel = NULL;
	return err;
}

static int tcp_sessions(struct vigil_inst *in, struct vigil_session **out, int max)
{
	struct tcp_priv *p = in->priv;

	out[0] = &p->s;
	return max > 0 && p->started ? 1 : 0;
}

/* the agent: counters and the connect latency histogram, from the kernel maps */
static void tcp_metrics(struct vigil_inst *in, struct vigil_metrics *m)
{
	static const char *const dirs[3] = { "unknown", "active", "passive" };
	struct tcp_priv *p = in->priv;
	uint64_t st[VIGIL_TCP_S__COUNT], connect[VIGIL_HIST_SLOTS] = { 0 };
	struct tcp_hrow *rows;
	int n;

	if (!p->started || read_stats(p, st))
		return;
	vm_family(m, "vigil_tcp_connections_opened_total", "counter",
		  "connections opened, by direction (active: connect, passive: accepted)");
	for (int d = 1; d < 3; d++)
		vm_u64(m, st[VIGIL_TCP_S_OPEN + d - 1],
		       (const char *[]){ "feature", in->name, "direction", dirs[d], NULL });
	vm_family(m, "vigil_tcp_connections_closed_total", "counter",
		  "connections closed, by direction and the state they closed in");
	for (int d = 0; d < 3; d++)
		for (int s = 1; s < VIGIL_TCP_NSTATES; s++) {
			uint64_t v = st[VIGIL_TCP_S_CLOSE + d * VIGIL_TCP_NSTATES + s];

			if (v)
				vm_u64(m, v, (const char *[]){ "feature", in->name, "direction", dirs[d],
						"state", tcp_state_name(s), NULL });
		}
	vm_family(m, "vigil_tcp_sent_bytes_total", "counter", "bytes sent and acknowledged, counted at close");
	vm_u64(m, st[VIGIL_TCP_S_BYTES_TX], (const char *[]){ "feature", in->name, NULL });
	vm_family(m, "vigil_tcp_received_bytes_total", "counter", "bytes received, counted at close");
	vm_u64(m, st[VIGIL_TCP_S_BYTES_RX], (const char *[]){ "feature", in->name, NULL });
	vm_family(m, "vigil_tcp_retransmits_total", "counter", "segments retransmitted");
	vm_u64(m, st[VIGIL_TCP_S_RETRANS], (const char *[]){ "feature", in->name, NULL });
	vm_family(m, "vigil_tcp_resets_total", "counter", "resets sent and received on tracked connections");
	vm_u64(m, st[VIGIL_TCP_S_RST_TX], (const char *[]){ "feature", in->name, "direction", "sent", NULL });
	vm_u64(m, st[VIGIL_TCP_S_RST_RX], (const char *[]){ "feature", in->name, "direction", "received", NULL });
	vm_family(m, "vigil_tcp_untracked_total", "counter", "connections not tracked: the socket map was full");
	vm_u64(m, st[VIGIL_TCP_S_NOROOM], (const char *[]){ "feature", in->name, NULL });
	rows = calloc(TCP_MAX_HISTS, sizeof(*rows));
	if (!rows)
		return;
	n = read_hists(p, rows, TCP_MAX_HISTS);
	/* per port or pid histograms fold into one: no such labels */
	for (int i = 0; i < n; i++)
		if (rows[i].key.kind == VIGIL_TCP_H_CONNECT)
			vhist_merge(connect, rows[i].slots);
	vm_family(m, "vigil_tcp_connect_latency_seconds", "histogram", "connect latency, SYN sent to ESTABLISHED");
	vm_hist(m, connect, 1e-9, -1, (const char *[]){ "feature", in->name, NULL });
	free(rows);
}

static const struct vigil_feature feat_tcp = {
	.name = "tcp",
	.opts = tcp_opts,
	.opts_size = sizeof(struct tcp_opts),
	.opts_default = &tcp_defaults,
	.priv_size = sizeof(struct tcp_priv),
	.check = tcp_check,
	.start = tcp_start,
	.tick = tcp_tick,
	.stop = tcp_stop,
	.sessions = tcp_sessions,
	.metrics = tcp_metrics,
};

const struct vigil_cmd cmd_tcp = {
	.name = "tcp",
	.summary = "TCP connections from connect to close: bytes, latency, retransmits, resets (tcplife and friends)",
	.flags = VC_ROOT | VC_BTF | VC_TRACE,
	.needs = VIGIL_MECH(VIGIL_M_TP_BTF) | VIGIL_MECH(VIGIL_M_TRACEPOINT) |
		 VIGIL_MECH(VIGIL_M_RINGBUF),
	.feature = &feat_tcp,
};
