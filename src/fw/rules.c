// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Firewall rules: parser and compiler.
 *
 * The compiler is where "cost flat in the number of rules" comes from. The
 * XDP program does a number of lookups that does not depend on the rule
 * count (source class, destination class, then (classes, protocol[, port])),
 * and hash lookups for addresses, because the kernel's LPM trie walk gets
 * slower as the trie grows. All the work of deciding which rule wins is done
 * here, once per load:
 *
 *   - every distinct source prefix becomes a class; an address's class is
 *     its longest matching prefix. The rules whose source contains the
 *     address are exactly those attached to that prefix and its ancestors,
 *     so a class stands for a fixed candidate set. Every prefix but the
 *     family roots goes to a per-family hash keyed by (length, masked
 *     address); the generation lists the distinct lengths longest first, and
 *     the program probes them in that order: the first hit is the longest
 *     match, no hit means the family root. Same for destinations.
 *   - for every (source class, destination class) pair with candidates, and
 *     for every protocol some candidate names, the port space is painted in
 *     precedence order. A combination with one winner for every port is one
 *     hash entry; otherwise its hash entry says "see ports" (with the block
 *     sizes used) and the result is written to the port hash as aligned
 *     port blocks.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include "fw/rules.h"

#define PROTO_ICMP 1
#define PROTO_TCP 6
#define PROTO_UDP 17
#define PROTO_ICMPV6 58

static const uint8_t v4_mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* ---- diagnostics ---- */

static void diag(struct vigil_rules *rs, bool warning, uint32_t line, uint32_t col,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void diag(struct vigil_rules *rs, bool warning, uint32_t line, uint32_t col,
		 const char *fmt, ...)
{
	struct vigil_diag *d;
	va_list ap;

	if (warning)
		rs->nwarnings++;
	else
		rs->nerrors++;
	if (rs->ndiags >= VIGIL_DIAG_MAX)
		return;
	if (rs->ndiags == rs->cap_diags) {
		uint32_t cap = rs->cap_diags ? rs->cap_diags * 2 : 8;
		void *p = realloc(rs->diags, cap * sizeof(*rs->diags));

		if (!p)
			return;
		rs->diags = p;
		rs->cap_diags = cap;
	}
	d = &rs->diags[rs->ndiags++];
	d->line = line;
	d->col = col;
	d->warning = warning;
	va_start(ap, fmt);
	vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
	va_end(ap);
}

void vigil_rules_print_diags(const struct vigil_rules *rs, FILE *f)
{
	for (uint32_t i = 0; i < rs->ndiags; i++) {
		const struct vigil_diag *d = &rs->diags[i];
		const char *kind = d->warning ? "warning" : "error";

		if (d->line && d->col)
			fprintf(f, "%s:%u:%u: %s: %s\n", rs->name, d->line, d->col, kind, d->msg);
		else if (d->line)
			fprintf(f, "%s:%u: %s: %s\n", rs->name, d->line, kind, d->msg);
		else
			fprintf(f, "%s: %s: %s\n", rs->name, kind, d->msg);
	}
	if (rs->nerrors + rs->nwarnings > rs->ndiags)
		fprintf(f, "%s: %u more messages not shown\n", rs->name,
			rs->nerrors + rs->nwarnings - rs->ndiags);
}

/* ---- tokens ---- */

struct tok {
	const char *s;
	uint32_t len;
	uint32_t col;
};

#define MAX_TOKS 16

static bool tok_is(const struct tok *t, const char *word)
{
	return strlen(word) == t->len && !memcmp(t->s, word, t->len);
}

/* a token quoted for a message: printable, at most 40 bytes */
static const char *tok_show(const struct tok *t, char *buf, size_t n)
{
	size_t o = 0;

	for (uint32_t i = 0; i < t->len && o + 5 < n; i++) {
		unsigned char c = t->s[i];

		if (i == 40) {
			o += snprintf(buf + o, n - o, "...");
			break;
		}
		if (c >= 0x20 && c < 0x7f && c != '\'')
			buf[o++] = c;
		else
			o += snprintf(buf + o, n - o, "\\x%02x", c);
	}
	buf[o] = 0;
	return buf;
}

static bool tok_copy(const struct tok *t, char *buf, size_t n)
{
	if (t->len >= n)
		return false;
	memcpy(buf, t->s, t->len);
	buf[t->len] = 0;
	return true;
}

/* digits only, no sign, no leading junk; false on overflow past max */
static bool tok_number(const char *s, uint32_t len, uint64_t max, uint64_t *v)
{
	uint64_t x = 0;

	if (!len || len > 12)
		return false;
	for (uint32_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	if (x > max)
		return false;
	*v = x;
	return true;
}

/* ---- addresses ---- */

int vigil_fw_addr_parse(const char *s, uint8_t out[16])
{
	struct in_addr a4;
	struct in6_addr a6;

	if (strchr(s, ':')) {
		if (inet_pton(AF_INET6, s, &a6) != 1)
			return 0;
		memcpy(out, &a6, 16);
		return 6;
	}
	if (inet_pton(AF_INET, s, &a4) != 1)
		return 0;
	memcpy(out, v4_mapped_prefix, 12);
	memcpy(out + 12, &a4, 4);
	return 4;
}

static bool bits_equal(const uint8_t *a, const uint8_t *b, uint32_t bits)
{
	uint32_t bytes = bits / 8, rem = bits % 8;

	if (memcmp(a, b, bytes))
		return false;
	if (rem) {
		uint8_t mask = (uint8_t)(0xff << (8 - rem));

		return (a[bytes] & mask) == (b[bytes] & mask);
	}
	return true;
}

static void mask_bits(uint8_t *a, uint32_t bits)
{
	for (uint32_t i = 0; i < 16; i++) {
		if (bits >= (i + 1) * 8)
			continue;
		if (bits <= i * 8)
			a[i] = 0;
		else
			a[i] &= (uint8_t)(0xff << (8 - (bits - i * 8)));
	}
}

static bool in_v4_mapped(const uint8_t a[16], uint32_t len128)
{
	return len128 >= 96 && !memcmp(a, v4_mapped_prefix, 12);
}

/* rule length in its family -> length in the 128-bit mapped space */
static uint32_t len128(uint8_t family, uint8_t len)
{
	return family == 4 ? 96u + len : len;
}

static void addr_format(const uint8_t a[16], int family, char *buf, size_t n)
{
	if (family == 4)
		inet_ntop(AF_INET, a + 12, buf, n);
	else
		inet_ntop(AF_INET6, a, buf, n);
}

/* parse ADDR or ADDR/LEN into the rule; reports its own errors */
static bool parse_prefix(struct vigil_rules *rs, uint32_t line, const struct tok *t,
			 const char *what, uint8_t addr[16], uint8_t *len, uint8_t *family)
{
	char buf[80], show[200], net[64];
	const char *slash;
	uint64_t plen;
	uint8_t masked[16];
	int fam;

	if (!tok_copy(t, buf, sizeof(buf))) {
		diag(rs, false, line, t->col, "expected an address or prefix after '%s', got '%s'",
		     what, tok_show(t, show, sizeof(show)));
		return false;
	}
	slash = strchr(buf, '/');
	if (slash)
		buf[slash - buf] = 0;
	fam = vigil_fw_addr_parse(buf, addr);
	if (!fam) {
		diag(rs, false, line, t->col,
		     "expected an IPv4 or IPv6 address or prefix after '%s', got '%s'", what,
		     tok_show(t, show, sizeof(show)));
		return false;
	}
	plen = fam == 4 ? 32 : 128;
	if (slash && !tok_number(slash + 1, strlen(slash + 1), fam == 4 ? 32 : 128, &plen)) {
		diag(rs, false, line, t->col + (uint32_t)(slash - buf) + 1,
		     "expected a prefix length from 0 to %d after '/', got '%s'", fam == 4 ? 32 : 128,
		     slash + 1);
		return false;
	}
	if (fam == 6 && in_v4_mapped(addr, 128) && plen >= 96) {
		diag(rs, false, line, t->col,
		     "IPv4-mapped address '%s': write the IPv4 form instead", buf);
		return false;
	}
	memcpy(masked, addr, 16);
	mask_bits(masked, len128(fam, plen));
	if (memcmp(masked, addr, 16)) {
		addr_format(masked, fam, net, sizeof(net));
		diag(rs, false, line, t->col, "'%s/%u' has host bits set; the network is '%s/%u'",
		     buf, (unsigned)plen, net, (unsigned)plen);
		return false;
	}
	*len = (uint8_t)plen;
	*family = (uint8_t)fam;
	return true;
}

static bool parse_port(const char *s, uint32_t len, uint16_t *port)
{
	uint64_t v;

	if (!tok_number(s, len, 65535, &v))
		return false;
	*port = (uint16_t)v;
	return true;
}

/* ---- lines ---- */

static int rules_push(struct vigil_rules *rs, const struct vigil_fw_rule *r)
{
	if (rs->n == rs->cap) {
		uint32_t cap = rs->cap ? rs->cap * 2 : 16;
		void *p = realloc(rs->rules, (size_t)cap * sizeof(*rs->rules));

		if (!p)
			return -1;
		rs->rules = p;
		rs->cap = cap;
	}
	rs->rules[rs->n++] = *r;
	return 0;
}

static const char *const proto_words[] = { "any", "tcp", "udp", "icmp", "icmpv6" };
static const uint8_t proto_nums[] = { VIGIL_FW_PROTO_ANY, PROTO_TCP, PROTO_UDP, PROTO_ICMP,
				      PROTO_ICMPV6 };

static int proto_lookup(const struct tok *t)
{
	for (size_t i = 0; i < sizeof(proto_words) / sizeof(proto_words[0]); i++)
		if (tok_is(t, proto_words[i]))
			return (int)i;
	return -1;
}

struct parse_state {
	uint32_t default_line;
};

/* returns false after reporting an error on this line */
static bool parse_line(struct vigil_rules *rs, struct parse_state *ps, uint32_t line,
		       struct tok *toks, int ntok, uint32_t eol_col)
{
	struct vigil_fw_rule r;
	char show[200];
	int i = 1, p;
	uint8_t fam_src = 0, fam_dst = 0, fam_proto = 0;
	uint32_t col_src = 0, col_dst = 0, col_port = 0, col_proto = 0;

	memset(&r, 0, sizeof(r));
	r.line = line;
	if (tok_is(&toks[0], "default")) {
		if (ntok < 2) {
			diag(rs, false, line, eol_col, "expected 'pass' or 'drop' after 'default'");
			return false;
		}
		if (!tok_is(&toks[1], "pass") && !tok_is(&toks[1], "drop")) {
			diag(rs, false, line, toks[1].col,
			     "expected 'pass' or 'drop' after 'default', got '%s'",
			     tok_show(&toks[1], show, sizeof(show)));
			return false;
		}
		if (ntok > 2) {
			diag(rs, false, line, toks[2].col, "expected the end of the line, got '%s'",
			     tok_show(&toks[2], show, sizeof(show)));
			return false;
		}
		if (ps->default_line) {
			diag(rs, false, line, toks[0].col,
			     "second 'default' policy; the first is on line %u", ps->default_line);
			return false;
		}
		ps->default_line = line;
		rs->rules[0].action = tok_is(&toks[1], "drop") ? VIGIL_FW_DROP : VIGIL_FW_PASS;
		rs->rules[0].line = line;
		return true;
	}

	if (tok_is(&toks[0], "drop")) {
		r.action = VIGIL_FW_DROP;
	} else if (tok_is(&toks[0], "pass")) {
		r.action = VIGIL_FW_PASS;
	} else if (tok_is(&toks[0], "ratelimit")) {
		uint64_t rate;

		r.action = VIGIL_FW_RATELIMIT;
		if (ntok < 2) {
			diag(rs, false, line, eol_col, "expected a rate such as '100/s' after 'ratelimit'");
			return false;
		}
		if (toks[1].len < 3 || memcmp(toks[1].s + toks[1].len - 2, "/s", 2) ||
		    !tok_number(toks[1].s, toks[1].len - 2, 10000000, &rate) || !rate) {
			diag(rs, false, line, toks[1].col,
			     "expected a rate from 1/s to 10000000/s after 'ratelimit', got '%s'",
			     tok_show(&toks[1], show, sizeof(show)));
			return false;
		}
		r.rate = (uint32_t)rate;
		i = 2;
	} else {
		diag(rs, false, line, toks[0].col,
		     "expected 'drop', 'pass', 'ratelimit' or 'default', got '%s'",
		     tok_show(&toks[0], show, sizeof(show)));
		return false;
	}

	/* an optional protocol right after the action */
	if (i < ntok && (p = proto_lookup(&toks[i])) >= 0) {
		r.proto = proto_nums[p];
		col_proto = toks[i].col;
		if (r.proto == PROTO_ICMP)
			fam_proto = 4;
		else if (r.proto == PROTO_ICMPV6)
			fam_proto = 6;
		i++;
	}

	while (i < ntok) {
		struct tok *kw = &toks[i];

		if (tok_is(kw, "from") || tok_is(kw, "to")) {
			bool src = kw->s[0] == 'f';
			uint32_t *colp = src ? &col_src : &col_dst;

			if (*colp) {
				diag(rs, false, line, kw->col, "second '%s' in one rule; the first is at column %u",
				     src ? "from" : "to", *colp);
				return false;
			}
			*colp = kw->col;
			if (i + 1 >= ntok) {
				diag(rs, false, line, eol_col, "expected an address or prefix after '%s'",
				     src ? "from" : "to");
				return false;
			}
			if (src) {
				if (!parse_prefix(rs, line, &toks[i + 1], "from", r.src, &r.src_len, &fam_src))
					return false;
				r.flags |= VIGIL_FW_R_SRC;
			} else {
				if (!parse_prefix(rs, line, &toks[i + 1], "to", r.dst, &r.dst_len, &fam_dst))
					return false;
				r.flags |= VIGIL_FW_R_DST;
			}
			i += 2;
		} else if (tok_is(kw, "port")) {
			struct tok *pt;
			const char *dash;

			if (col_port) {
				diag(rs, false, line, kw->col, "second 'port' in one rule; the first is at column %u",
				     col_port);
				return false;
			}
			col_port = kw->col;
			if (i + 1 >= ntok) {
				diag(rs, false, line, eol_col, "expected a port or a range such as '1000-2000' after 'port'");
				return false;
			}
			pt = &toks[i + 1];
			dash = memchr(pt->s, '-', pt->len);
			if (dash) {
				uint32_t l1 = (uint32_t)(dash - pt->s);

				if (!parse_port(pt->s, l1, &r.port_lo) ||
				    !parse_port(dash + 1, pt->len - l1 - 1, &r.port_hi)) {
					diag(rs, false, line, pt->col,
					     "expected a port range such as '1000-2000' (ports 0 to 65535), got '%s'",
					     tok_show(pt, show, sizeof(show)));
					return false;
				}
				if (r.port_lo > r.port_hi) {
					diag(rs, false, line, pt->col, "empty port range '%s': %u is above %u",
					     tok_show(pt, show, sizeof(show)), r.port_lo, r.port_hi);
					return false;
				}
			} else {
				if (!parse_port(pt->s, pt->len, &r.port_lo)) {
					diag(rs, false, line, pt->col,
					     "expected a port from 0 to 65535 or a range, got '%s'",
					     tok_show(pt, show, sizeof(show)));
					return false;
				}
				r.port_hi = r.port_lo;
			}
			r.flags |= VIGIL_FW_R_PORT;
			i += 2;
		} else {
			diag(rs, false, line, kw->col, "expected %s'from', 'to', 'port' or the end of the line, got '%s'",
			     i == (r.action == VIGIL_FW_RATELIMIT ? 2 : 1) ?
			     "a protocol (tcp, udp, icmp, icmpv6, any), " : "",
			     tok_show(kw, show, sizeof(show)));
			return false;
		}
	}

	/* one family per rule: from the addresses and icmp/icmpv6 */
	r.family = fam_src ? fam_src : fam_dst ? fam_dst : fam_proto;
	if (fam_src && fam_dst && fam_src != fam_dst) {
		diag(rs, false, line, col_dst, "'to' address is IPv%u but the 'from' address is IPv%u",
		     fam_dst, fam_src);
		return false;
	}
	if (fam_proto && r.family != fam_proto) {
		diag(rs, false, line, col_proto, "protocol '%s' is for IPv%u but the rule's address is IPv%u",
		     fam_proto == 4 ? "icmp" : "icmpv6", fam_proto, r.family);
		return false;
	}
	if ((r.flags & VIGIL_FW_R_PORT) && r.proto != PROTO_TCP && r.proto != PROTO_UDP) {
		diag(rs, false, line, col_port, "'port' needs protocol 'tcp' or 'udp' after the action");
		return false;
	}
	if (!(r.flags & VIGIL_FW_R_PORT)) {
		r.port_lo = 0;
		r.port_hi = 65535;
	}
	if (rs->n > VIGIL_FW_MAX_RULES) {
		diag(rs, false, line, toks[0].col, "too many rules: the limit is %u", VIGIL_FW_MAX_RULES);
		return false;
	}
	if (rules_push(rs, &r)) {
		diag(rs, false, line, toks[0].col, "out of memory");
		return false;
	}
	return true;
}

/* the part of a rule that decides which packets it matches */
static int match_cmp(const struct vigil_fw_rule *a, const struct vigil_fw_rule *b)
{
	int c = memcmp(a->src, b->src, 16);

	if (c)
		return c;
	c = memcmp(a->dst, b->dst, 16);
	if (c)
		return c;
#define CMPF(f) if (a->f != b->f) return a->f < b->f ? -1 : 1
	CMPF(src_len);
	CMPF(dst_len);
	CMPF(family);
	CMPF(proto);
	CMPF(port_lo);
	CMPF(port_hi);
	CMPF(flags);
#undef CMPF
	return 0;
}

static const struct vigil_fw_rule *sort_rules;

static int dup_cmp(const void *pa, const void *pb)
{
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
	int c = match_cmp(&sort_rules[a], &sort_rules[b]);

	return c ? c : (a < b ? -1 : a > b);
}

static void warn_duplicates(struct vigil_rules *rs)
{
	uint32_t n = rs->n - 1, *idx;

	if (n < 2)
		return;
	idx = malloc(n * sizeof(*idx));
	if (!idx)
		return;
	for (uint32_t i = 0; i < n; i++)
		idx[i] = i + 1;
	sort_rules = rs->rules;
	qsort(idx, n, sizeof(*idx), dup_cmp);
	for (uint32_t i = 1, first = idx[0]; i < n; i++) {
		if (match_cmp(&rs->rules[idx[i]], &rs->rules[first])) {
			first = idx[i];
			continue;
		}
		diag(rs, true, rs->rules[idx[i]].line, 1,
		     "duplicate of the rule on line %u, which takes precedence; this rule never matches",
		     rs->rules[first].line);
	}
	free(idx);
}

int vigil_rules_parse(struct vigil_rules *rs, const char *name, const char *text, size_t len)
{
	struct vigil_fw_rule def = { .action = VIGIL_FW_PASS, .port_hi = 65535,
				     .flags = VIGIL_FW_R_DEFAULT };
	struct parse_state ps = { 0 };
	size_t pos = 0;
	uint32_t line = 0;

	memset(rs, 0, sizeof(*rs));
	rs->name = name;
	if (rules_push(rs, &def)) {
		diag(rs, false, 0, 0, "out of memory");
		return (int)rs->nerrors;
	}
	while (pos < len) {
		struct tok toks[MAX_TOKS];
		int ntok = 0;
		bool bad = false;
		size_t start = pos;

		line++;
		while (pos < len && text[pos] != '\n')
			pos++;
		/* [start, pos) is the line, without its newline */
		for (size_t i = start; i < pos;) {
			unsigned char c = text[i];

			if (c == ' ' || c == '\t' || c == '\r') {
				i++;
				continue;
			}
			if (c == '#')
				break;
			if (c < 0x20 || c == 0x7f) {
				diag(rs, false, line, (uint32_t)(i - start + 1),
				     "unexpected control character 0x%02x", c);
				bad = true;
				break;
			}
			if (ntok == MAX_TOKS) {
				diag(rs, false, line, (uint32_t)(i - start + 1),
				     "too many words in one rule (at most %d)", MAX_TOKS);
				bad = true;
				break;
			}
			toks[ntok].s = text + i;
			toks[ntok].col = (uint32_t)(i - start + 1);
			while (i < pos && text[i] != ' ' && text[i] != '\t' && text[i] != '\r' &&
			       text[i] != '#' && (unsigned char)text[i] >= 0x20 && text[i] != 0x7f)
				i++;
			toks[ntok].len = (uint32_t)(text + i - toks[ntok].s);
			ntok++;
		}
		if (pos < len)
			pos++;	/* the newline */
		if (bad || !ntok)
			continue;
		parse_line(rs, &ps, line, toks, ntok, (uint32_t)(pos - start + (pos > start ? 0 : 1)));
	}
	if (!rs->nerrors)
		warn_duplicates(rs);
	/* counter slots: the rule ids until vigil_fw_ctr_assign() says otherwise */
	for (uint32_t i = 0; i < rs->n; i++)
		rs->rules[i].ctr = i;
	return (int)rs->nerrors;
}

/* ---- counter slots across reloads ---- */

/* the same rule for counting: what it matches, what it does (not its line) */
static int ctr_cmp(const struct vigil_fw_rule *a, const struct vigil_fw_rule *b)
{
	int c = match_cmp(a, b);

	if (c)
		return c;
	if (a->action != b->action)
		return a->action < b->action ? -1 : 1;
	if (a->rate != b->rate)
		return a->rate < b->rate ? -1 : 1;
	return 0;
}

static const struct vigil_fw_rule *ctr_sort_rules;

static int ctr_idx_cmp(const void *pa, const void *pb)
{
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
	int c = ctr_cmp(&ctr_sort_rules[a], &ctr_sort_rules[b]);

	return c ? c : (a < b ? -1 : a > b);
}

int vigil_fw_ctr_assign(const struct vigil_fw_rule *old, uint32_t nold, struct vigil_rules *rs,
			uint32_t *fresh, uint32_t *nfresh)
{
	uint8_t *busy = calloc(VIGIL_FW_MAX_CTRS, 1);
	uint32_t *idx = malloc((nold ? nold : 1) * sizeof(uint32_t));
	uint8_t *taken = calloc(nold ? nold : 1, 1);
	uint32_t next = 0;
	int ret = -1;

	*nfresh = 0;
	if (!busy || !idx || !taken || nold > VIGIL_FW_MAX_RULES + 1 || rs->n > VIGIL_FW_MAX_RULES + 1)
		goto out;
	/* every slot of the running set stays off limits for new rules: its
	 * packets may still count into them until the switch has completed */
	for (uint32_t i = 0; i < nold; i++) {
		if (old[i].ctr >= VIGIL_FW_MAX_CTRS)
			goto out;
		busy[old[i].ctr] = 1;
		idx[i] = i;
	}
	ctr_sort_rules = old;
	qsort(idx, nold, sizeof(uint32_t), ctr_idx_cmp);
	for (uint32_t i = 0; i < rs->n; i++) {
		struct vigil_fw_rule *r = &rs->rules[i];
		uint32_t lo = 0, hi = nold;

		/* the first old rule equal to r, then the first of those not taken */
		while (lo < hi) {
			uint32_t mid = lo + (hi - lo) / 2;

			if (ctr_cmp(&old[idx[mid]], r) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		while (lo < nold && taken[lo] && !ctr_cmp(&old[idx[lo]], r))
			lo++;
		if (lo < nold && !ctr_cmp(&old[idx[lo]], r)) {
			taken[lo] = 1;
			r->ctr = old[idx[lo]].ctr;
			continue;
		}
		/* at most MAX_RULES + 1 busy and as many new: a free slot exists */
		while (busy[next])
			next++;
		busy[next] = 1;
		r->ctr = next;
		fresh[(*nfresh)++] = next;
	}
	ret = 0;
out:
	free(busy);
	free(idx);
	free(taken);
	return ret;
}

void vigil_fw_table_set_ctrs(struct vigil_fw_table *t, const struct vigil_rules *rs)
{
	struct vigil_fw_side_table *st = &t->src;

#define SET_CTR(v) ((v).ctr = (v).rule_id < rs->n ? rs->rules[(v).rule_id].ctr : 0)
	for (uint32_t i = 0; i < st->n4; i++)
		SET_CTR(st->vals4[i].v);
	for (uint32_t i = 0; i < st->n6; i++)
		SET_CTR(st->vals6[i].v);
	for (uint32_t i = 0; i < t->ncombo; i++)
		SET_CTR(t->cvals[i]);
	for (uint32_t i = 0; i < t->nmatch; i++)
		SET_CTR(t->mvals[i]);
	SET_CTR(t->gen.dflt);
#undef SET_CTR
}

int vigil_rules_parse_file(struct vigil_rules *rs, const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int err;

	if (!f) {
		err = errno;
		memset(rs, 0, sizeof(*rs));
		rs->name = path;
		diag(rs, false, 0, 0, "cannot open rules file: %s", strerror(err));
		return (int)rs->nerrors;
	}
	for (;;) {
		size_t got;

		if (len == cap) {
			char *p;

			cap = cap ? cap * 2 : 65536;
			if (cap > (256u << 20) || !(p = realloc(buf, cap))) {
				free(buf);
				fclose(f);
				memset(rs, 0, sizeof(*rs));
				rs->name = path;
				diag(rs, false, 0, 0, "rules file too large");
				return (int)rs->nerrors;
			}
			buf = p;
		}
		got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	err = ferror(f) ? errno : 0;
	fclose(f);
	if (err) {
		free(buf);
		memset(rs, 0, sizeof(*rs));
		rs->name = path;
		diag(rs, false, 0, 0, "cannot read rules file: %s", strerror(err));
		return (int)rs->nerrors;
	}
	err = vigil_rules_parse(rs, path, buf ? buf : "", len);
	free(buf);
	return err;
}

void vigil_rules_free(struct vigil_rules *rs)
{
	free(rs->rules);
	free(rs->diags);
	memset(rs, 0, sizeof(*rs));
}

/* ---- rendering ---- */

const char *vigil_fw_action_name(uint32_t action)
{
	switch (action) {
	case VIGIL_FW_PASS: return "pass";
	case VIGIL_FW_DROP: return "drop";
	case VIGIL_FW_RATELIMIT: return "ratelimit";
	}
	return "?";
}

const char *vigil_fw_proto_name(uint8_t proto)
{
	for (size_t i = 0; i < sizeof(proto_nums); i++)
		if (proto_nums[i] == proto)
			return proto_words[i];
	return "other";
}

void vigil_fw_rule_format(const struct vigil_fw_rule *r, char *buf, size_t n)
{
	char a[64];
	size_t o;

	if (r->flags & VIGIL_FW_R_DEFAULT) {
		snprintf(buf, n, "default %s", vigil_fw_action_name(r->action));
		return;
	}
	if (r->action == VIGIL_FW_RATELIMIT)
		o = snprintf(buf, n, "ratelimit %u/s", r->rate);
	else
		o = snprintf(buf, n, "%s", vigil_fw_action_name(r->action));
	if (r->proto && o < n)
		o += snprintf(buf + o, n - o, " %s", vigil_fw_proto_name(r->proto));
	if ((r->flags & VIGIL_FW_R_SRC) && o < n) {
		addr_format(r->src, r->family, a, sizeof(a));
		o += snprintf(buf + o, n - o, " from %s/%u", a, r->src_len);
	}
	if ((r->flags & VIGIL_FW_R_DST) && o < n) {
		addr_format(r->dst, r->family, a, sizeof(a));
		o += snprintf(buf + o, n - o, " to %s/%u", a, r->dst_len);
	}
	if ((r->flags & VIGIL_FW_R_PORT) && o < n) {
		if (r->port_lo == r->port_hi)
			snprintf(buf + o, n - o, " port %u", r->port_lo);
		else
			snprintf(buf + o, n - o, " port %u-%u", r->port_lo, r->port_hi);
	}
}

/* ---- precedence ---- */

/* 0 without an address; 1 + prefix length with one */
static int spec_src(const struct vigil_fw_rule *r)
{
	return r->flags & VIGIL_FW_R_SRC ? 1 + r->src_len : 0;
}

static int spec_dst(const struct vigil_fw_rule *r)
{
	return r->flags & VIGIL_FW_R_DST ? 1 + r->dst_len : 0;
}

int vigil_fw_precedence_cmp(const struct vigil_fw_rule *a, const struct vigil_fw_rule *b)
{
	uint32_t sa, sb;

	if (spec_src(a) != spec_src(b))
		return spec_src(a) > spec_src(b) ? -1 : 1;
	if (spec_dst(a) != spec_dst(b))
		return spec_dst(a) > spec_dst(b) ? -1 : 1;
	if (!a->proto != !b->proto)
		return a->proto ? -1 : 1;
	sa = (uint32_t)a->port_hi - a->port_lo;
	sb = (uint32_t)b->port_hi - b->port_lo;
	if (sa != sb)
		return sa < sb ? -1 : 1;
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	return 0;
}

static bool rule_matches(const struct vigil_fw_rule *r, const struct vigil_fw_pkt *p)
{
	if (r->family && r->family != p->family)
		return false;
	if ((r->flags & VIGIL_FW_R_SRC) && !bits_equal(r->src, p->src, len128(r->family, r->src_len)))
		return false;
	if ((r->flags & VIGIL_FW_R_DST) && !bits_equal(r->dst, p->dst, len128(r->family, r->dst_len)))
		return false;
	if (r->proto && r->proto != p->proto)
		return false;
	if ((r->flags & VIGIL_FW_R_PORT) && (p->dport < r->port_lo || p->dport > r->port_hi))
		return false;
	return true;
}

uint32_t vigil_fw_eval(const struct vigil_rules *rs, const struct vigil_fw_pkt *p)
{
	uint32_t best = 0;

	for (uint32_t i = 1; i < rs->n; i++) {
		if (!rule_matches(&rs->rules[i], p))
			continue;
		if (!best || vigil_fw_precedence_cmp(&rs->rules[i], &rs->rules[best]) < 0)
			best = i;
	}
	return best;
}

uint32_t vigil_fw_burst(uint32_t rate)
{
	return rate >= 10 ? rate / 10 : 1;
}

/* ---- compiler ---- */

struct node {
	uint8_t addr[16];
	uint32_t len;		/* 0..128 in mapped space */
	int32_t parent;
	uint32_t first_child, nchild;	/* into the children array */
	uint32_t first_rule, nrules;	/* into the attached-rules array */
	uint8_t family;
	uint32_t chain_rules;	/* rules attached here and at all ancestors */
};

struct side {
	struct node *nodes;
	uint32_t n;
	uint32_t *children;
	uint32_t *rule_list;	/* rule ids, grouped by node */
	uint32_t *rule_node4;	/* per rule: node in the IPv4 tree, or UINT32_MAX */
	uint32_t *rule_node6;
	uint32_t root4, root6;
};

static int node_cmp(const void *pa, const void *pb)
{
	const struct node *a = pa, *b = pb;
	int c = memcmp(a->addr, b->addr, 16);

	if (c)
		return c;
	return a->len < b->len ? -1 : a->len > b->len;
}

static uint32_t node_find(const struct side *s, const uint8_t addr[16], uint32_t len)
{
	struct node key;
	const struct node *hit;

	memcpy(key.addr, addr, 16);
	key.len = len;
	hit = bsearch(&key, s->nodes, s->n, sizeof(key), node_cmp);
	return hit ? (uint32_t)(hit - s->nodes) : UINT32_MAX;
}

static void side_free(struct side *s)
{
	free(s->nodes);
	free(s->children);
	free(s->rule_list);
	free(s->rule_node4);
	free(s->rule_node6);
	memset(s, 0, sizeof(*s));
}

/* the prefix trees of one side (source or destination) */
static int side_build(struct side *s, const struct vigil_rules *rs, bool src)
{
	uint32_t nr = rs->n, cap = 2 + nr, m = 0;
	uint32_t *stack = NULL, *fill = NULL;
	int sp = 0;

	memset(s, 0, sizeof(*s));
	s->nodes = calloc(cap, sizeof(*s->nodes));
	s->rule_node4 = malloc(nr * sizeof(uint32_t));
	s->rule_node6 = malloc(nr * sizeof(uint32_t));
	if (!s->nodes || !s->rule_node4 || !s->rule_node6)
		return -1;
	/* the two family roots always exist: every packet has a class */
	memcpy(s->nodes[m].addr, v4_mapped_prefix, 12);
	s->nodes[m++].len = 96;
	s->nodes[m++].len = 0;
	for (uint32_t i = 1; i < nr; i++) {
		const struct vigil_fw_rule *r = &rs->rules[i];
		bool has = r->flags & (src ? VIGIL_FW_R_SRC : VIGIL_FW_R_DST);

		if (!has)
			continue;
		memcpy(s->nodes[m].addr, src ? r->src : r->dst, 16);
		s->nodes[m++].len = len128(r->family, src ? r->src_len : r->dst_len);
	}
	qsort(s->nodes, m, sizeof(*s->nodes), node_cmp);
	/* unique */
	s->n = 0;
	for (uint32_t i = 0; i < m; i++)
		if (!s->n || node_cmp(&s->nodes[s->n - 1], &s->nodes[i]))
			s->nodes[s->n++] = s->nodes[i];
	s->root4 = node_find(s, (uint8_t[16]){ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff }, 96);
	s->root6 = node_find(s, (uint8_t[16]){ 0 }, 0);

	/* parents: in (address, length) order, the enclosing prefixes form a stack */
	stack = malloc(s->n * sizeof(*stack));
	if (!stack)
		return -1;
	for (uint32_t i = 0; i < s->n; i++) {
		struct node *nd = &s->nodes[i];

		while (sp > 0) {
			struct node *top = &s->nodes[stack[sp - 1]];

			if (top->len <= nd->len && bits_equal(top->addr, nd->addr, top->len))
				break;
			sp--;
		}
		nd->parent = sp > 0 ? (int32_t)stack[sp - 1] : -1;
		nd->family = in_v4_mapped(nd->addr, nd->len) ? 4 : 6;
		stack[sp++] = i;
	}
	free(stack);
	/* the IPv4 tree stands alone: IPv6 rules never apply to IPv4 packets */
	s->nodes[s->root4].parent = -1;

	/* children, CSR */
	s->children = malloc((s->n + 1) * sizeof(uint32_t));
	fill = calloc(s->n + 1, sizeof(uint32_t));
	if (!s->children || !fill)
		goto fail;
	for (uint32_t i = 0; i < s->n; i++)
		if (s->nodes[i].parent >= 0)
			s->nodes[s->nodes[i].parent].nchild++;
	for (uint32_t i = 0, off = 0; i < s->n; i++) {
		s->nodes[i].first_child = off;
		off += s->nodes[i].nchild;
	}
	for (uint32_t i = 0; i < s->n; i++) {
		int32_t p = s->nodes[i].parent;

		if (p >= 0)
			s->children[s->nodes[p].first_child + fill[p]++] = i;
	}

	/* attach rules to nodes: a rule without an address sits on its family roots */
	for (uint32_t i = 0; i < nr; i++) {
		const struct vigil_fw_rule *r = &rs->rules[i];
		bool has = r->flags & (src ? VIGIL_FW_R_SRC : VIGIL_FW_R_DST);

		s->rule_node4[i] = s->rule_node6[i] = UINT32_MAX;
		if (i == 0)
			continue;
		if (has) {
			uint32_t nd = node_find(s, src ? r->src : r->dst,
						len128(r->family, src ? r->src_len : r->dst_len));

			if (r->family == 4)
				s->rule_node4[i] = nd;
			else
				s->rule_node6[i] = nd;
		} else {
			if (r->family != 6)
				s->rule_node4[i] = s->root4;
			if (r->family != 4)
				s->rule_node6[i] = s->root6;
		}
		if (s->rule_node4[i] != UINT32_MAX)
			s->nodes[s->rule_node4[i]].nrules++;
		if (s->rule_node6[i] != UINT32_MAX)
			s->nodes[s->rule_node6[i]].nrules++;
	}
	s->rule_list = malloc(2 * nr * sizeof(uint32_t) + 1);
	if (!s->rule_list)
		goto fail;
	memset(fill, 0, (s->n + 1) * sizeof(uint32_t));
	for (uint32_t i = 0, off = 0; i < s->n; i++) {
		s->nodes[i].first_rule = off;
		off += s->nodes[i].nrules;
	}
	for (uint32_t i = 1; i < nr; i++) {
		uint32_t nd = s->rule_node4[i];

		if (nd != UINT32_MAX)
			s->rule_list[s->nodes[nd].first_rule + fill[nd]++] = i;
		nd = s->rule_node6[i];
		if (nd != UINT32_MAX)
			s->rule_list[s->nodes[nd].first_rule + fill[nd]++] = i;
	}
	/* parents sort before children, so one pass fills chain counts */
	for (uint32_t i = 0; i < s->n; i++) {
		int32_t p = s->nodes[i].parent;

		s->nodes[i].chain_rules = s->nodes[i].nrules + (p >= 0 ? s->nodes[p].chain_rules : 0);
	}
	free(fill);
	return 0;
fail:
	free(fill);
	return -1;
}

struct compiler {
	struct vigil_rules *rs;
	struct vigil_fw_table *t;
	struct side src, dst;
	uint32_t *rank;		/* rule id -> position in precedence order */
	uint8_t *won;		/* rule id -> wins some entry */
	/* scratch */
	uint32_t *cand_s, *cand, *group, *dlist;
	uint32_t *mark_d, *mark_in_s, *visit_d;
	uint32_t stamp;
	/* port painting scratch */
	uint32_t *pts, *owner, *next;
	/* node -> its address map value (NULL for the roots) */
	struct vigil_fw_class **src_cv, **dst_cv;
	char *err;
	size_t errlen;
};

static int rank_cmp(const void *pa, const void *pb)
{
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;

	return vigil_fw_precedence_cmp(&sort_rules[a], &sort_rules[b]);
}

static int by_rank_cmp_ctx_rank(const uint32_t *rank, uint32_t a, uint32_t b)
{
	return rank[a] < rank[b] ? -1 : rank[a] > rank[b];
}

static const uint32_t *sort_rank;

static int by_rank(const void *pa, const void *pb)
{
	return by_rank_cmp_ctx_rank(sort_rank, *(const uint32_t *)pa, *(const uint32_t *)pb);
}

static int u32_cmp(const void *pa, const void *pb)
{
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;

	return a < b ? -1 : a > b;
}

static void verdict_fill(const struct compiler *c, uint32_t rule, struct vigil_fw_verdict *v)
{
	const struct vigil_fw_rule *r = &c->rs->rules[rule];

	memset(v, 0, sizeof(*v));
	v->rule_id = rule;
	v->action = r->action;
	v->ctr = r->ctr;
	if (r->action == VIGIL_FW_RATELIMIT) {
		/* the bucket id is a hash of the rule, so a reload keeps the buckets of
		 * unchanged rules */
		uint32_t h = 2166136261u;
		const uint8_t *p = (const uint8_t *)r;

		for (size_t i = 0; i < offsetof(struct vigil_fw_rule, line); i++)
			h = (h ^ p[i]) * 16777619u;
		v->rate = r->rate;
		v->burst = vigil_fw_burst(r->rate);
		v->bucket = h;
	}
}

/* the generation flag saying some combination names proto; 0 for the others */
static uint32_t proto_flag(uint8_t proto)
{
	switch (proto) {
	case PROTO_TCP: return VIGIL_FW_G_TCP;
	case PROTO_UDP: return VIGIL_FW_G_UDP;
	case PROTO_ICMP: return VIGIL_FW_G_ICMP;
	case PROTO_ICMPV6: return VIGIL_FW_G_ICMPV6;
	}
	return 0;
}

/* a combination hash entry: rule's verdict, or with VIGIL_FW_V_PORTS "see the port map" */
/* room for one more entry in a pair of parallel key/value arrays */
static int grow_pair(struct compiler *c, uint32_t n, uint32_t *cap, void **keys, size_t ksz,
		     void **vals, size_t vsz)
{
	uint32_t ncap = *cap ? *cap * 2 : 1024;
	void *a, *b;

	if (n < *cap)
		return 0;
	a = realloc(*keys, (size_t)ncap * ksz);
	if (!a)
		goto oom;
	*keys = a;
	b = realloc(*vals, (size_t)ncap * vsz);
	if (!b)
		goto oom;
	*vals = b;
	*cap = ncap;
	return 0;
oom:
	snprintf(c->err, c->errlen, "out of memory");
	return -1;
}

static int emit_combo(struct compiler *c, uint32_t sid, uint32_t did, uint8_t proto,
		      uint32_t rule, uint32_t flags)
{
	struct vigil_fw_table *t = c->t;
	struct vigil_fw_combo_key *k;
	struct vigil_fw_verdict *v;

	if (t->ncombo >= t->max_combo) {
		snprintf(c->err, c->errlen,
			 "the rule set needs more than %u (source, destination, protocol) combinations: "
			 "too many distinct source x destination prefix pairs", t->max_combo);
		return -1;
	}
	if (grow_pair(c, t->ncombo, &t->cap_combo, (void **)&t->ckeys, sizeof(*t->ckeys),
		      (void **)&t->cvals, sizeof(*t->cvals)))
		return -1;
	k = &t->ckeys[t->ncombo];
	v = &t->cvals[t->ncombo];
	memset(k, 0, sizeof(*k));
	k->src_id = sid;
	k->dst_id = did;
	k->proto = proto;
	t->gen.flags |= proto_flag(proto);
	if (flags & VIGIL_FW_V_PORTS) {
		memset(v, 0, sizeof(*v));
	} else {
		verdict_fill(c, rule, v);
		c->won[rule] = 1;
	}
	v->flags = flags;
	t->ncombo++;
	return 0;
}

/* a port map entry; its combination's "see ports" entry is the last one emitted */
static int emit(struct compiler *c, uint32_t sid, uint32_t did, uint8_t proto,
		uint32_t port, uint32_t port_bits, uint32_t rule)
{
	struct vigil_fw_table *t = c->t;
	struct vigil_fw_port_key *k;

	if (t->nmatch >= t->max_match) {
		snprintf(c->err, c->errlen,
			 "the rule set needs more than %u port combination entries: too many distinct "
			 "source x destination prefix pairs with port ranges", t->max_match);
		return -1;
	}
	if (grow_pair(c, t->nmatch, &t->cap_match, (void **)&t->mkeys, sizeof(*t->mkeys),
		      (void **)&t->mvals, sizeof(*t->mvals)))
		return -1;
	k = &t->mkeys[t->nmatch];
	memset(k, 0, sizeof(*k));
	k->src_id = sid;
	k->dst_id = did;
	k->proto = proto;
	k->bits = (uint8_t)port_bits;
	k->port = htons((uint16_t)port);
	/* the block sizes the program has to probe for this combination */
	t->cvals[t->ncombo - 1].plens |= 1u << port_bits;
	verdict_fill(c, rule, &t->mvals[t->nmatch]);
	c->won[rule] = 1;
	t->nmatch++;
	return 0;
}

/* [lo, hi] as aligned power-of-two blocks: disjoint port map entries */
static int emit_range(struct compiler *c, uint32_t sid, uint32_t did, uint8_t proto,
		      uint32_t lo, uint32_t hi, uint32_t rule)
{
	while (lo <= hi) {
		uint32_t b = 0;

		while (b < 16 && !(lo & ((2u << b) - 1)) && lo + (2u << b) - 1 <= hi)
			b++;
		if (emit(c, sid, did, proto, lo, 16 - b, rule))
			return -1;
		lo += 1u << b;
	}
	return 0;
}

static uint32_t uf_find(uint32_t *next, uint32_t i)
{
	uint32_t r = i;

	while (next[r] != r)
		r = next[r];
	while (next[i] != r) {
		uint32_t n = next[i];

		next[i] = r;
		i = n;
	}
	return r;
}

/* g: rules in precedence order; paint the port space, first rule wins */
static int emit_group(struct compiler *c, uint32_t sid, uint32_t did, uint8_t proto,
		      const uint32_t *g, uint32_t n)
{
	const struct vigil_fw_rule *rules = c->rs->rules;
	uint32_t npts = 0, nel;

	bool one_owner;

	/* the best rule covers every port: no port lookup needed */
	if (!(rules[g[0]].flags & VIGIL_FW_R_PORT))
		return emit_combo(c, sid, did, proto, g[0], 0);
	/* elementary intervals between all range boundaries */
	for (uint32_t i = 0; i < n; i++) {
		c->pts[npts++] = rules[g[i]].port_lo;
		c->pts[npts++] = (uint32_t)rules[g[i]].port_hi + 1;
		if (!(rules[g[i]].flags & VIGIL_FW_R_PORT)) {
			n = i + 1;	/* covers everything: later rules cannot win */
			break;
		}
	}
	qsort(c->pts, npts, sizeof(uint32_t), u32_cmp);
	nel = 0;
	for (uint32_t i = 0; i < npts; i++)
		if (!nel || c->pts[nel - 1] != c->pts[i])
			c->pts[nel++] = c->pts[i];
	/* nel points make nel - 1 intervals [pts[i], pts[i+1]) */
	for (uint32_t i = 0; i < nel; i++) {
		c->owner[i] = UINT32_MAX;
		c->next[i] = i;
	}
	for (uint32_t i = 0; i < n; i++) {
		const struct vigil_fw_rule *r = &rules[g[i]];
		uint32_t *lo = bsearch(&(uint32_t){ r->port_lo }, c->pts, nel, sizeof(uint32_t), u32_cmp);
		uint32_t *hi = bsearch(&(uint32_t){ (uint32_t)r->port_hi + 1 }, c->pts, nel,
				       sizeof(uint32_t), u32_cmp);
		uint32_t a = (uint32_t)(lo - c->pts), b = (uint32_t)(hi - c->pts);

		/* union-find: each interval is painted once, by its first rule */
		for (uint32_t j = uf_find(c->next, a); j < b; j = uf_find(c->next, j)) {
			c->owner[j] = g[i];
			c->next[j] = j + 1;
		}
	}
	/* one rule wins every port (e.g. "port 0-65535"): one hash entry is enough */
	one_owner = c->pts[0] == 0 && c->pts[nel - 1] == 65536 && c->owner[0] != UINT32_MAX;
	for (uint32_t i = 1; one_owner && i + 1 < nel; i++)
		if (c->owner[i] != c->owner[0])
			one_owner = false;
	if (one_owner)
		return emit_combo(c, sid, did, proto, c->owner[0], 0);
	if (emit_combo(c, sid, did, proto, 0, VIGIL_FW_V_PORTS))
		return -1;
	for (uint32_t i = 0; i + 1 < nel;) {
		uint32_t j = i + 1, owner = c->owner[i];

		while (j + 1 < nel && c->owner[j] == owner)
			j++;
		if (owner != UINT32_MAX &&
		    emit_range(c, sid, did, proto, c->pts[i], c->pts[j] - 1, owner))
			return -1;
		i = j;
	}
	return 0;
}

static const uint8_t group_protos[] = { PROTO_TCP, PROTO_UDP, PROTO_ICMP, PROTO_ICMPV6 };

/* candidates for (s, d) in precedence order -> entries per protocol */
static int emit_pair(struct compiler *c, uint32_t sid, uint32_t did, const uint32_t *cand,
		      uint32_t n)
{
	const struct vigil_fw_rule *rules = c->rs->rules;
	uint32_t ng = 0;

	for (uint32_t i = 0; i < n; i++)
		if (!rules[cand[i]].proto)
			c->group[ng++] = cand[i];
	if (ng && emit_group(c, sid, did, VIGIL_FW_PROTO_ANY, c->group, ng))
		return -1;
	for (size_t p = 0; p < sizeof(group_protos); p++) {
		bool named = false;

		ng = 0;
		for (uint32_t i = 0; i < n; i++) {
			uint8_t rp = rules[cand[i]].proto;

			if (rp == group_protos[p])
				named = true;
			if (!rp || rp == group_protos[p])
				c->group[ng++] = cand[i];
		}
		if (named && emit_group(c, sid, did, group_protos[p], c->group, ng))
			return -1;
	}
	return 0;
}

static uint32_t rule_dst_node(const struct compiler *c, uint32_t rule, uint8_t family)
{
	return family == 4 ? c->dst.rule_node4[rule] : c->dst.rule_node6[rule];
}

/* hv: the map value of s (host hash or trie) when it may carry the verdict, else NULL */
static int compile_src_class(struct compiler *c, uint32_t s, struct vigil_fw_class *hv)
{
	const struct node *sn = &c->src.nodes[s];
	uint8_t fam = sn->family;
	uint32_t ncs = 0, nd = 0, stamp;

	/* candidate rules by source: this prefix and its ancestors */
	for (int32_t a = (int32_t)s; a >= 0; a = c->src.nodes[a].parent) {
		const struct node *an = &c->src.nodes[a];

		for (uint32_t k = 0; k < an->nrules; k++)
			c->cand_s[ncs++] = c->src.rule_list[an->first_rule + k];
	}
	if (!ncs) {
		if (hv) {
			hv->flags = VIGIL_FW_C_DECIDED;
			verdict_fill(c, 0, &hv->v);
		}
		return 0;
	}
	sort_rank = c->rank;
	qsort(c->cand_s, ncs, sizeof(uint32_t), by_rank);
	if (hv) {
		const struct vigil_fw_rule *best = &c->rs->rules[c->cand_s[0]];

		/* the best candidate matches every packet of the class: it is the
		 * verdict, and the program needs no further lookup (nor entries) */
		if (!(best->flags & (VIGIL_FW_R_DST | VIGIL_FW_R_PORT)) && !best->proto) {
			hv->flags = VIGIL_FW_C_DECIDED;
			verdict_fill(c, c->cand_s[0], &hv->v);
			c->won[c->cand_s[0]] = 1;
			return 0;
		}
	}

	/* the destination classes these rules can meet: their subtrees */
	stamp = ++c->stamp;
	for (uint32_t i = 0; i < ncs; i++) {
		uint32_t top = rule_dst_node(c, c->cand_s[i], fam);
		uint32_t sp;

		c->mark_in_s[c->cand_s[i]] = stamp;
		if (top == UINT32_MAX || c->visit_d[top] == stamp)
			continue;
		/* iterative DFS, using the tail of dlist as the stack */
		sp = c->dst.n;
		c->dlist[--sp] = top;
		c->visit_d[top] = stamp;
		while (sp < c->dst.n) {
			uint32_t d = c->dlist[sp++];
			const struct node *dn = &c->dst.nodes[d];

			c->dlist[nd++] = d;
			for (uint32_t k = 0; k < dn->nchild; k++) {
				uint32_t ch = c->dst.children[dn->first_child + k];

				if (c->visit_d[ch] != stamp) {
					c->visit_d[ch] = stamp;
					c->dlist[--sp] = ch;
				}
			}
		}
	}

	for (uint32_t i = 0; i < nd; i++) {
		uint32_t d = c->dlist[i], n = 0, dstamp = ++c->stamp;
		const struct node *dn = &c->dst.nodes[d];

		if (ncs <= dn->chain_rules) {
			/* filter the source candidates by destination ancestry */
			for (int32_t a = (int32_t)d; a >= 0; a = c->dst.nodes[a].parent)
				c->mark_d[a] = dstamp;
			for (uint32_t k = 0; k < ncs; k++) {
				uint32_t dnode = rule_dst_node(c, c->cand_s[k], fam);

				if (dnode != UINT32_MAX && c->mark_d[dnode] == dstamp)
					c->cand[n++] = c->cand_s[k];
			}
		} else {
			/* fewer rules up the destination chain: walk those instead */
			for (int32_t a = (int32_t)d; a >= 0; a = c->dst.nodes[a].parent) {
				const struct node *an = &c->dst.nodes[a];

				for (uint32_t k = 0; k < an->nrules; k++) {
					uint32_t r = c->dst.rule_list[an->first_rule + k];

					if (c->mark_in_s[r] == stamp)
						c->cand[n++] = r;
				}
			}
			qsort(c->cand, n, sizeof(uint32_t), by_rank);
		}
		if (n && emit_pair(c, s, d, c->cand, n))
			return -1;
	}
	return 0;
}

/*
 * The side's nodes -> the per-family hash entries and the distinct lengths,
 * longest first; class ids are node indices. The family roots get no entry:
 * the program falls back to them after the last length. cv[node] points at
 * the node's map value (NULL for the roots).
 */
static int fill_side(const struct side *s, struct vigil_fw_side_table *st,
		     struct vigil_fw_lens *lens, struct vigil_fw_class **cv)
{
	bool used4[33] = { false }, used6[129] = { false };
	uint32_t n4 = 0, n6 = 0;

	for (uint32_t i = 0; i < s->n; i++) {
		if (i == s->root4 || i == s->root6)
			continue;
		if (s->nodes[i].family == 4)
			n4++;
		else
			n6++;
	}
	st->keys4 = calloc(n4 ? n4 : 1, sizeof(*st->keys4));
	st->vals4 = calloc(n4 ? n4 : 1, sizeof(*st->vals4));
	st->keys6 = calloc(n6 ? n6 : 1, sizeof(*st->keys6));
	st->vals6 = calloc(n6 ? n6 : 1, sizeof(*st->vals6));
	if (!st->keys4 || !st->vals4 || !st->keys6 || !st->vals6)
		return -1;
	for (uint32_t i = 0; i < s->n; i++) {
		const struct node *nd = &s->nodes[i];

		cv[i] = NULL;
		if (i == s->root4 || i == s->root6)
			continue;
		if (nd->family == 4) {
			struct vigil_fw_addr4_key *k = &st->keys4[st->n4];

			/* node addresses are already masked (the parser rejects host bits) */
			k->prefixlen = nd->len - 96;
			memcpy(k->addr, nd->addr + 12, 4);
			used4[k->prefixlen] = true;
			cv[i] = &st->vals4[st->n4++];
		} else {
			struct vigil_fw_addr6_key *k = &st->keys6[st->n6];

			k->prefixlen = nd->len;
			memcpy(k->addr, nd->addr, 16);
			used6[k->prefixlen] = true;
			cv[i] = &st->vals6[st->n6++];
		}
		cv[i]->id = i;
		if (nd->len == 128)
			st->nhosts++;
	}
	memset(lens, 0, sizeof(*lens));
	/* lengths 0 are the roots only: a prefix of length 0 is its family root */
	for (uint32_t l = 32; l >= 1; l--)
		if (used4[l])
			lens->v4[lens->n4++] = (uint8_t)l;
	for (uint32_t l = 128; l >= 1; l--)
		if (used6[l])
			lens->v6[lens->n6++] = (uint8_t)l;
	return 0;
}

/*
 * A hash probe costs about 5 ns, so a packet that matches no prefix, or only
 * one of the shortest length, pays 13 + 5 (L - 1) ns for L lengths. One LPM
 * trie walk costs about 18 + 14.5 log10(prefixes) ns, whatever the lengths
 * (46 ns at 100 prefixes, 74 at 10,000, 90 at 100,000), but much more than
 * the first probe when the longest length matches (14 ns). The trie is
 * taken where the worst case of the probes is the dearer one:
 * L > 2 + 2.9 log10(prefixes), and never for 7 lengths or fewer
 * (bench/firewall_lookup.sh, bench/RESULTS.md).
 */
uint32_t vigil_fw_trie_lens(uint32_t prefixes)
{
	uint32_t digits = 0, lens;

	while (prefixes >= 10) {
		prefixes /= 10;
		digits++;
	}
	lens = 2 + 29 * digits / 10;
	return lens > 7 ? lens : 7;
}

/* Either way the same longest prefix is found. */
static uint32_t trie_flags(uint32_t lookup, const struct vigil_fw_lens *l, uint32_t n4,
			   uint32_t n6, uint32_t f4, uint32_t f6)
{
	if (lookup == VIGIL_FW_LOOKUP_HASH)
		return 0;
	if (lookup == VIGIL_FW_LOOKUP_TRIE)
		return (l->n4 ? f4 : 0) | (l->n6 ? f6 : 0);
	return (l->n4 > vigil_fw_trie_lens(n4) ? f4 : 0) | (l->n6 > vigil_fw_trie_lens(n6) ? f6 : 0);
}

/* the class of IPv6 addresses in ::ffff:0:0/96: the longest IPv6 prefix containing it */
static uint32_t mapped6_class(const struct side *s)
{
	static const uint8_t mapped[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	uint32_t best = s->root6;

	for (uint32_t i = 0; i < s->n; i++) {
		const struct node *nd = &s->nodes[i];

		if (nd->family == 6 && nd->len < 96 && nd->len > s->nodes[best].len &&
		    bits_equal(nd->addr, mapped, nd->len))
			best = i;
	}
	return best;
}

int vigil_fw_compile(struct vigil_rules *rs, struct vigil_fw_table *t, char *err, size_t errlen)
{
	struct compiler c = { .rs = rs, .t = t, .err = err, .errlen = errlen };
	uint32_t nr = rs->n, *order = NULL, maxn;
	uint32_t max_match = t->max_match ? t->max_match : VIGIL_FW_MAX_MATCH;
	uint32_t max_combo = t->max_combo ? t->max_combo : VIGIL_FW_MAX_COMBOS;
	uint32_t lookup = t->lookup;
	int ret = -1;

	memset(t, 0, sizeof(*t));
	t->max_match = max_match;
	t->max_combo = max_combo;
	t->lookup = lookup;
	snprintf(err, errlen, "out of memory");
	if (side_build(&c.src, rs, true) || side_build(&c.dst, rs, false))
		goto out;
	if (c.src.n > VIGIL_FW_MAX_PREFIXES || c.dst.n > VIGIL_FW_MAX_PREFIXES) {
		snprintf(err, errlen, "more than %u distinct prefixes", VIGIL_FW_MAX_PREFIXES);
		goto out;
	}
	maxn = nr * 2 + 4;
	c.rank = calloc(nr, sizeof(uint32_t));
	c.won = calloc(nr, 1);
	order = malloc(nr * sizeof(uint32_t));
	c.cand_s = malloc(maxn * sizeof(uint32_t));
	c.cand = malloc(maxn * sizeof(uint32_t));
	c.group = malloc(maxn * sizeof(uint32_t));
	c.dlist = malloc((c.dst.n + 1) * sizeof(uint32_t));
	c.mark_d = calloc(c.dst.n + 1, sizeof(uint32_t));
	c.visit_d = calloc(c.dst.n + 1, sizeof(uint32_t));
	c.mark_in_s = calloc(nr, sizeof(uint32_t));
	c.pts = malloc((2 * maxn + 2) * sizeof(uint32_t));
	c.owner = malloc((2 * maxn + 2) * sizeof(uint32_t));
	c.next = malloc((2 * maxn + 2) * sizeof(uint32_t));
	if (!c.rank || !c.won || !order || !c.cand_s || !c.cand || !c.group || !c.dlist ||
	    !c.mark_d || !c.visit_d || !c.mark_in_s || !c.pts || !c.owner || !c.next)
		goto out;

	for (uint32_t i = 0; i < nr; i++)
		order[i] = i;
	sort_rules = rs->rules;
	if (nr > 1)
		qsort(order + 1, nr - 1, sizeof(uint32_t), rank_cmp);
	for (uint32_t i = 0; i < nr; i++)
		c.rank[order[i]] = i;

	c.src_cv = calloc(c.src.n, sizeof(*c.src_cv));
	c.dst_cv = calloc(c.dst.n, sizeof(*c.dst_cv));
	if (!c.src_cv || !c.dst_cv)
		goto out;
	if (fill_side(&c.src, &t->src, &t->gen.src_lens, c.src_cv) ||
	    fill_side(&c.dst, &t->dst, &t->gen.dst_lens, c.dst_cv))
		goto out;
	t->gen.flags |= trie_flags(t->lookup, &t->gen.src_lens, t->src.n4, t->src.n6,
				   VIGIL_FW_G_SRC4_TRIE, VIGIL_FW_G_SRC6_TRIE) |
			trie_flags(t->lookup, &t->gen.dst_lens, t->dst.n4, t->dst.n6,
				   VIGIL_FW_G_DST4_TRIE, VIGIL_FW_G_DST6_TRIE);
	t->gen.src_root4 = c.src.root4;
	t->gen.src_root6 = c.src.root6;
	t->gen.src_mapped6 = mapped6_class(&c.src);
	t->gen.dst_root4 = c.dst.root4;
	t->gen.dst_root6 = c.dst.root6;
	t->gen.dst_mapped6 = mapped6_class(&c.dst);
	/* source classes no rule applies to: a miss costs no more lookups */
	if (!c.src.nodes[c.src.root4].chain_rules)
		t->gen.flags |= VIGIL_FW_G_SRC_ROOT4_NONE;
	if (!c.src.nodes[c.src.root6].chain_rules)
		t->gen.flags |= VIGIL_FW_G_SRC_ROOT6_NONE;
	if (!c.src.nodes[t->gen.src_mapped6].chain_rules)
		t->gen.flags |= VIGIL_FW_G_SRC_MAPPED6_NONE;
	/* no rule matched: the default policy decides */
	verdict_fill(&c, 0, &t->gen.dflt);
	c.won[0] = 1;
	for (uint32_t s = 0; s < c.src.n; s++) {
		struct vigil_fw_class *cv = c.src_cv[s];

		/* the roots and the mapped class are also reached without a lookup,
		 * so they must keep their combination entries */
		if (s == c.src.root4 || s == c.src.root6 || s == t->gen.src_mapped6)
			cv = NULL;
		if (compile_src_class(&c, s, cv))
			goto out;
	}
	for (uint32_t i = 1; i < nr; i++) {
		char text[200];

		if (c.won[i])
			continue;
		vigil_fw_rule_format(&rs->rules[i], text, sizeof(text));
		/* duplicates were reported by the parser already */
		bool dup = false;

		for (uint32_t k = 0; k < rs->ndiags; k++)
			if (rs->diags[k].warning && rs->diags[k].line == rs->rules[i].line)
				dup = true;
		if (!dup)
			diag(rs, true, rs->rules[i].line, 1,
			     "'%s' never matches: rules that take precedence cover every packet it matches",
			     text);
	}
	ret = 0;
	err[0] = 0;
out:
	if (ret)
		vigil_fw_table_free(t);
	side_free(&c.src);
	side_free(&c.dst);
	free(c.rank);
	free(c.won);
	free(order);
	free(c.cand_s);
	free(c.cand);
	free(c.group);
	free(c.dlist);
	free(c.mark_d);
	free(c.visit_d);
	free(c.mark_in_s);
	free(c.pts);
	free(c.owner);
	free(c.next);
	free(c.src_cv);
	free(c.dst_cv);
	return ret;
}

void vigil_fw_table_free(struct vigil_fw_table *t)
{
	free(t->src.keys4);
	free(t->src.vals4);
	free(t->src.keys6);
	free(t->src.vals6);
	free(t->dst.keys4);
	free(t->dst.vals4);
	free(t->dst.keys6);
	free(t->dst.vals6);
	free(t->ckeys);
	free(t->cvals);
	free(t->mkeys);
	free(t->mvals);
	memset(t, 0, sizeof(*t));
}

/* ---- the datapath's algorithm, over the tables (tests and fuzzing) ---- */

/* a class the way the program finds it: mapped IPv6, then one hash probe per
 * distinct length, longest first, then the family root; *decided: the
 * entry's verdict when it carries one */
static uint32_t sim_class(const struct vigil_fw_table *t, bool src, const struct vigil_fw_pkt *p,
			  const struct vigil_fw_verdict **decided)
{
	const struct vigil_fw_gen *g = &t->gen;
	const struct vigil_fw_side_table *st = src ? &t->src : &t->dst;
	const struct vigil_fw_lens *lens = src ? &g->src_lens : &g->dst_lens;
	const uint8_t *addr = src ? p->src : p->dst;
	const struct vigil_fw_class *hit = NULL;
	uint32_t none;

	*decided = NULL;
	if (p->family == 6 && !memcmp(addr, v4_mapped_prefix, 12)) {
		if (src && (g->flags & VIGIL_FW_G_SRC_MAPPED6_NONE))
			*decided = &g->dflt;
		return src ? g->src_mapped6 : g->dst_mapped6;
	}
	if (p->family == 4) {
		for (uint32_t i = 0; i < lens->n4 && !hit; i++) {
			struct vigil_fw_addr4_key k;
			uint8_t a[16];

			memset(&k, 0, sizeof(k));
			k.prefixlen = lens->v4[i];
			memcpy(a, addr, 16);
			mask_bits(a, 96 + k.prefixlen);
			memcpy(k.addr, a + 12, 4);
			for (uint32_t j = 0; j < st->n4; j++)
				if (!memcmp(&st->keys4[j], &k, sizeof(k)))
					hit = &st->vals4[j];
		}
	} else {
		for (uint32_t i = 0; i < lens->n6 && !hit; i++) {
			struct vigil_fw_addr6_key k;

			memset(&k, 0, sizeof(k));
			k.prefixlen = lens->v6[i];
			memcpy(k.addr, addr, 16);
			mask_bits(k.addr, k.prefixlen);
			for (uint32_t j = 0; j < st->n6; j++)
				if (!memcmp(&st->keys6[j], &k, sizeof(k)))
					hit = &st->vals6[j];
		}
	}
	if (hit) {
		if (src && (hit->flags & VIGIL_FW_C_DECIDED))
			*decided = &hit->v;
		return hit->id;
	}
	none = p->family == 4 ? VIGIL_FW_G_SRC_ROOT4_NONE : VIGIL_FW_G_SRC_ROOT6_NONE;
	if (src && (g->flags & none))
		*decided = &g->dflt;
	if (p->family == 4)
		return src ? g->src_root4 : g->dst_root4;
	return src ? g->src_root6 : g->dst_root6;
}

static const struct vigil_fw_verdict *combo_find(const struct vigil_fw_table *t,
						 const struct vigil_fw_combo_key *k)
{
	for (uint32_t i = 0; i < t->ncombo; i++)
		if (!memcmp(&t->ckeys[i], k, sizeof(*k)))
			return &t->cvals[i];
	return NULL;
}

/* combination hash, then the port map if the entry says so: one probe per
 * block size the combination uses, largest block first (the program's
 * order; the blocks are disjoint, so any order gives the same); NULL: no rule */
static const struct vigil_fw_verdict *sim_match(const struct vigil_fw_table *t, uint32_t sid,
						uint32_t did, uint8_t proto, uint16_t dport)
{
	struct vigil_fw_combo_key ck;
	const struct vigil_fw_verdict *v;

	memset(&ck, 0, sizeof(ck));
	ck.src_id = sid;
	ck.dst_id = did;
	ck.proto = proto;
	v = combo_find(t, &ck);
	if (!v || !(v->flags & VIGIL_FW_V_PORTS))
		return v;
	for (int b = 0; b <= 16; b++) {
		struct vigil_fw_port_key k;

		if (!(v->plens & (1u << b)))
			continue;
		memset(&k, 0, sizeof(k));
		k.src_id = sid;
		k.dst_id = did;
		k.proto = proto;
		k.bits = (uint8_t)b;
		k.port = htons((uint16_t)(dport & (uint16_t)(0xffff0000u >> b)));
		for (uint32_t i = 0; i < t->nmatch; i++)
			if (!memcmp(&t->mkeys[i], &k, sizeof(k)))
				return &t->mvals[i];
	}
	return NULL;
}

uint32_t vigil_fw_simulate(const struct vigil_fw_table *t, const struct vigil_fw_pkt *p)
{
	const struct vigil_fw_gen *g = &t->gen;
	const struct vigil_fw_verdict *v = NULL;
	uint32_t sid, did;
	uint8_t cls = 0;

	sid = sim_class(t, true, p, &v);
	if (v)
		return v->rule_id;	/* the source alone decides */
	did = sim_class(t, false, p, &v);
	v = NULL;	/* destinations are never decided */
	if (sid == UINT32_MAX || did == UINT32_MAX)
		return UINT32_MAX;	/* cannot happen: the roots are always there */
	for (size_t i = 0; i < sizeof(group_protos); i++)
		if (p->proto == group_protos[i])
			cls = p->proto;
	if (cls && (g->flags & proto_flag(cls)))
		v = sim_match(t, sid, did, cls, p->dport);
	/* nothing specific to this protocol: the protocol-less rules decide */
	if (!v)
		v = sim_match(t, sid, did, VIGIL_FW_PROTO_ANY, p->dport);
	if (!v)
		v = &g->dflt;
	return v->rule_id;
}
