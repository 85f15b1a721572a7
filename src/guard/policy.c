// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Guard policies: parser, resolver and compiler (docs/guard.md).
 *
 * Every decision the kernel makes is one of a few exact-key lookups: the
 * exec'd file's inode, its content hash, each directory above it, each
 * walked in a fixed order; an address prefix per scope in an LPM trie. So
 * precedence is decided here, once: a rule's match (kind, target, scope) is
 * a map key, two rules on one key must agree, and the compiler merges the
 * port ranges of every prefix that covers another into the longer one's
 * entry, most specific first.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "guard/policy.h"

/* ---- diagnostics ---- */

void vigil_gd_diag(struct vigil_gd_policy *p, bool warning, uint32_t line, uint32_t col,
		   const char *fmt, ...)
{
	struct vigil_gd_diag *d;
	va_list ap;

	if (warning)
		p->nwarnings++;
	else
		p->nerrors++;
	if (p->ndiags >= VIGIL_GD_DIAG_MAX)
		return;
	if (p->ndiags == p->cap_diags) {
		uint32_t cap = p->cap_diags ? p->cap_diags * 2 : 8;
		void *n = realloc(p->diags, cap * sizeof(*p->diags));

		if (!n)
			return;
		p->diags = n;
		p->cap_diags = cap;
	}
	d = &p->diags[p->ndiags++];
	d->line = line;
	d->col = col;
	d->warning = warning;
	va_start(ap, fmt);
	vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
	va_end(ap);
}

void vigil_gd_print_diags(const struct vigil_gd_policy *p, FILE *f)
{
	for (uint32_t i = 0; i < p->ndiags; i++) {
		const struct vigil_gd_diag *d = &p->diags[i];
		const char *kind = d->warning ? "warning" : "error";

		if (d->line && d->col)
			fprintf(f, "%s:%u:%u: %s: %s\n", p->name, d->line, d->col, kind, d->msg);
		else if (d->line)
			fprintf(f, "%s:%u: %s: %s\n", p->name, d->line, kind, d->msg);
		else
			fprintf(f, "%s: %s: %s\n", p->name, kind, d->msg);
	}
	if (p->nerrors + p->nwarnings > p->ndiags)
		fprintf(f, "%s: %u more messages not shown\n", p->name,
			p->nerrors + p->nwarnings - p->ndiags);
}

void vigil_gd_policy_free(struct vigil_gd_policy *p)
{
	for (uint32_t i = 0; i < p->n; i++) {
		free(p->rules[i].arg);
		free(p->rules[i].scope);
	}
	free(p->rules);
	free(p->diags);
	memset(p, 0, sizeof(*p));
}

/* ---- tokens ---- */

struct tok {
	const char *s;
	uint32_t len;
	uint32_t col;
};

#define MAX_TOKS 12

static bool tok_is(const struct tok *t, const char *w)
{
	return strlen(w) == t->len && !memcmp(t->s, w, t->len);
}

static const char *tok_show(const struct tok *t, char *buf, size_t n)
{
	size_t o = 0;

	for (uint32_t i = 0; i < t->len && o + 5 < n; i++) {
		unsigned char c = t->s[i];

		if (i == 60) {
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

static char *tok_dup(const struct tok *t)
{
	char *s = malloc(t->len + 1);

	if (s) {
		memcpy(s, t->s, t->len);
		s[t->len] = 0;
	}
	return s;
}

static bool number(const char *s, uint32_t len, uint64_t max, uint64_t *v)
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

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* ---- targets ---- */

static bool parse_exec_target(struct vigil_gd_policy *p, uint32_t line, const struct tok *t,
			      struct vigil_gd_rule *r)
{
	char show[200];

	if (t->len > 7 && !memcmp(t->s, "sha256:", 7)) {
		if (t->len != 7 + 64) {
			vigil_gd_diag(p, false, line, t->col + 7,
				      "expected 64 hex digits after 'sha256:', got %u characters",
				      t->len - 7);
			return false;
		}
		for (uint32_t i = 0; i < 64; i += 2) {
			int hi = hexval(t->s[7 + i]), lo = hexval(t->s[8 + i]);

			if (hi < 0 || lo < 0) {
				vigil_gd_diag(p, false, line, t->col + 7 + i + (hi >= 0),
					      "expected a hex digit in the sha256, got '%c'",
					      hi < 0 ? t->s[7 + i] : t->s[8 + i]);
				return false;
			}
			r->sha256[i / 2] = (uint8_t)(hi << 4 | lo);
		}
		r->kind = VIGIL_GD_R_HASH;
		return true;
	}
	if (t->s[0] != '/') {
		vigil_gd_diag(p, false, line, t->col,
			      "expected an absolute path, '/dir/**' or 'sha256:HEX' after 'exec', got '%s'",
			      tok_show(t, show, sizeof(show)));
		return false;
	}
	if (t->len >= VIGIL_GD_ARG_MAX) {
		vigil_gd_diag(p, false, line, t->col, "path longer than %d bytes", VIGIL_GD_ARG_MAX - 1);
		return false;
	}
	r->kind = VIGIL_GD_R_PATH;
	r->arg = tok_dup(t);
	if (!r->arg)
		return false;
	if (t->len >= 3 && !memcmp(t->s + t->len - 3, "/**", 3)) {
		r->kind = VIGIL_GD_R_DIR;
		/* a bare slash-star-star is the root directory */
		r->arg[t->len - 3 > 0 ? t->len - 3 : 1] = 0;
	}
	/* the kernel matches inodes, not patterns: any other wildcard is a mistake */
	for (char *c = r->arg; *c; c++) {
		if (*c == '*' || *c == '?' || *c == '[') {
			vigil_gd_diag(p, false, line, t->col + (uint32_t)(c - r->arg),
				      "'%c' in a path: only a trailing '/**' (everything under a "
				      "directory) is supported", *c);
			return false;
		}
	}
	return true;
}

static bool parse_prefix(struct vigil_gd_policy *p, uint32_t line, const struct tok *t,
			 struct vigil_gd_rule *r)
{
	char buf[80], show[200];
	char *slash;
	uint64_t plen;
	uint8_t a[16] = { 0 };
	int fam;

	if (t->len >= sizeof(buf)) {
		vigil_gd_diag(p, false, line, t->col, "expected an address or prefix, got '%s'",
			      tok_show(t, show, sizeof(show)));
		return false;
	}
	memcpy(buf, t->s, t->len);
	buf[t->len] = 0;
	slash = strchr(buf, '/');
	if (slash)
		*slash = 0;
	if (strchr(buf, ':'))
		fam = inet_pton(AF_INET6, buf, a) == 1 ? 6 : 0;
	else
		fam = inet_pton(AF_INET, buf, a) == 1 ? 4 : 0;
	if (!fam) {
		vigil_gd_diag(p, false, line, t->col,
			      "expected an IPv4 or IPv6 address or prefix after 'connect', got '%s'",
			      tok_show(t, show, sizeof(show)));
		return false;
	}
	plen = fam == 4 ? 32 : 128;
	if (slash && !number(slash + 1, (uint32_t)strlen(slash + 1), plen, &plen)) {
		vigil_gd_diag(p, false, line, t->col + (uint32_t)(slash - buf) + 1,
			      "expected a prefix length from 0 to %d after '/', got '%s'",
			      fam == 4 ? 32 : 128, slash + 1);
		return false;
	}
	for (uint32_t i = 0; i < 16; i++) {
		uint32_t bits = (uint32_t)plen;
		uint8_t m = bits >= (i + 1) * 8 ? 0xff : bits <= i * 8 ? 0 :
			    (uint8_t)(0xff << (8 - (bits - i * 8)));

		if (a[i] & ~m) {
			vigil_gd_diag(p, false, line, t->col,
				      "'%s/%u' has host bits set", buf, (unsigned)plen);
			return false;
		}
	}
	memcpy(r->addr, a, 16);
	r->plen = (uint8_t)plen;
	r->family = (uint8_t)fam;
	return true;
}

static bool parse_ports(struct vigil_gd_policy *p, uint32_t line, const struct tok *t,
			struct vigil_gd_rule *r)
{
	const char *dash = memchr(t->s, '-', t->len);
	char show[200];
	uint64_t lo, hi;

	if (dash) {
		uint32_t l1 = (uint32_t)(dash - t->s);

		if (!number(t->s, l1, 65535, &lo) || !number(dash + 1, t->len - l1 - 1, 65535, &hi)) {
			vigil_gd_diag(p, false, line, t->col,
				      "expected a port range such as '1000-2000' (ports 0 to 65535), got '%s'",
				      tok_show(t, show, sizeof(show)));
			return false;
		}
		if (lo > hi) {
			vigil_gd_diag(p, false, line, t->col, "empty port range '%s': %u is above %u",
				      tok_show(t, show, sizeof(show)), (unsigned)lo, (unsigned)hi);
			return false;
		}
	} else {
		if (!number(t->s, t->len, 65535, &lo)) {
			vigil_gd_diag(p, false, line, t->col,
				      "expected a port from 0 to 65535 or a range, got '%s'",
				      tok_show(t, show, sizeof(show)));
			return false;
		}
		hi = lo;
	}
	r->port_lo = (uint16_t)lo;
	r->port_hi = (uint16_t)hi;
	return true;
}

/* ---- lines ---- */

static bool parse_line(struct vigil_gd_policy *p, uint32_t line, struct tok *tk, int n,
		       uint32_t eol)
{
	struct vigil_gd_rule r;
	char show[200];
	bool connect;
	int i = 3;

	memset(&r, 0, sizeof(r));
	r.line = line;
	r.col = tk[0].col;
	if (tok_is(&tk[0], "deny"))
		r.action = VIGIL_GD_DENY;
	else if (tok_is(&tk[0], "allow"))
		r.action = VIGIL_GD_ALLOW;
	else if (tok_is(&tk[0], "audit"))
		r.action = VIGIL_GD_AUDIT;
	else {
		vigil_gd_diag(p, false, line, tk[0].col, "expected 'deny', 'allow' or 'audit', got '%s'",
			      tok_show(&tk[0], show, sizeof(show)));
		return false;
	}
	if (n < 2) {
		vigil_gd_diag(p, false, line, eol, "expected 'exec' or 'connect' after '%.*s'",
			      (int)tk[0].len, tk[0].s);
		return false;
	}
	if (!tok_is(&tk[1], "exec") && !tok_is(&tk[1], "connect")) {
		vigil_gd_diag(p, false, line, tk[1].col, "expected 'exec' or 'connect', got '%s'",
			      tok_show(&tk[1], show, sizeof(show)));
		return false;
	}
	connect = tok_is(&tk[1], "connect");
	if (n < 3) {
		vigil_gd_diag(p, false, line, eol, connect ?
			      "expected an address or prefix after 'connect'" :
			      "expected a path, '/dir/**' or 'sha256:HEX' after 'exec'");
		return false;
	}
	r.arg_col = tk[2].col;
	if (connect) {
		r.kind = VIGIL_GD_R_CONNECT;
		if (!parse_prefix(p, line, &tk[2], &r))
			return false;
		r.port_lo = 0;
		r.port_hi = 65535;
		if (i < n && tok_is(&tk[i], "port")) {
			if (i + 1 >= n) {
				vigil_gd_diag(p, false, line, eol,
					      "expected a port or a range such as '1000-2000' after 'port'");
				return false;
			}
			if (!parse_ports(p, line, &tk[i + 1], &r))
				return false;
			i += 2;
		}
	} else if (!parse_exec_target(p, line, &tk[2], &r)) {
		free(r.arg);
		return false;
	}
	r.scope_kind = VIGIL_GD_S_HOST;
	if (i < n) {
		const struct tok *s = &tk[i];

		if (tok_is(s, "host")) {
			i++;
		} else if (tok_is(s, "cgroup") || tok_is(s, "container")) {
			r.scope_kind = tok_is(s, "cgroup") ? VIGIL_GD_S_CGROUP : VIGIL_GD_S_CONTAINER;
			if (i + 1 >= n) {
				vigil_gd_diag(p, false, line, eol, "expected a %s after '%.*s'",
					      r.scope_kind == VIGIL_GD_S_CGROUP ? "cgroup path" :
					      "container name or id", (int)s->len, s->s);
				free(r.arg);
				return false;
			}
			r.scope_col = tk[i + 1].col;
			r.scope = tok_dup(&tk[i + 1]);
			i += 2;
		} else {
			vigil_gd_diag(p, false, line, s->col, "expected %s'host', 'cgroup PATH', "
				      "'container NAME' or the end of the line, got '%s'",
				      connect && i == 3 ? "'port', " : "",
				      tok_show(s, show, sizeof(show)));
			free(r.arg);
			return false;
		}
	}
	if (i < n) {
		vigil_gd_diag(p, false, line, tk[i].col, "expected the end of the line, got '%s'",
			      tok_show(&tk[i], show, sizeof(show)));
		free(r.arg);
		free(r.scope);
		return false;
	}
	if (p->n >= VIGIL_GD_MAX_RULES) {
		vigil_gd_diag(p, false, line, tk[0].col, "too many rules: the limit is %u",
			      VIGIL_GD_MAX_RULES);
		free(r.arg);
		free(r.scope);
		return false;
	}
	if (p->n == p->cap) {
		uint32_t cap = p->cap ? p->cap * 2 : 16;
		void *m = realloc(p->rules, (size_t)cap * sizeof(*p->rules));

		if (!m) {
			vigil_gd_diag(p, false, line, 0, "out of memory");
			free(r.arg);
			free(r.scope);
			return false;
		}
		p->rules = m;
		p->cap = cap;
	}
	p->rules[p->n++] = r;
	return true;
}

int vigil_gd_parse(struct vigil_gd_policy *p, const char *name, const char *text, size_t len)
{
	uint32_t line = 0;
	size_t pos = 0;

	memset(p, 0, sizeof(*p));
	p->name = name;
	while (pos < len) {
		const char *s = text + pos, *nl = memchr(s, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - s) : len - pos;
		struct tok tk[MAX_TOKS];
		int n = 0;
		size_t i = 0;
		bool bad = false;

		line++;
		pos += ll + 1;
		/* a control byte anywhere (outside a comment) is an error, not part of a word */
		for (size_t j = 0; j < ll && s[j] != '#'; j++) {
			unsigned char c = s[j];

			if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f) {
				vigil_gd_diag(p, false, line, (uint32_t)j + 1, "control character \\x%02x", c);
				bad = true;
				break;
			}
		}
		while (!bad && i < ll) {
			unsigned char c = s[i];

			if (c == ' ' || c == '\t' || c == '\r') {
				i++;
				continue;
			}
			if (c == '#')
				break;
			if (n == MAX_TOKS) {
				vigil_gd_diag(p, false, line, (uint32_t)i + 1,
					      "too many words in one rule");
				bad = true;
				break;
			}
			tk[n].s = s + i;
			tk[n].col = (uint32_t)i + 1;
			while (i < ll && s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '#')
				i++;
			tk[n].len = (uint32_t)(i - (size_t)(tk[n].s - s));
			n++;
		}
		if (bad || !n)
			continue;
		/* the end-of-line column: after the last word */
		parse_line(p, line, tk, n, tk[n - 1].col + tk[n - 1].len);
	}
	return (int)p->nerrors;
}

int vigil_gd_parse_file(struct vigil_gd_policy *p, const char *path)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;
	struct stat st;

	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		err = fd < 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		if (fd >= 0)
			close(fd);
		memset(p, 0, sizeof(*p));
		p->name = path;
		vigil_gd_diag(p, false, 0, 0, "cannot read the policy: %s", strerror(err));
		return (int)p->nerrors;
	}
	for (;;) {
		ssize_t r;

		if (len == cap) {
			char *m = realloc(buf, cap = cap ? cap * 2 : 65536);

			if (!m) {
				free(buf);
				close(fd);
				memset(p, 0, sizeof(*p));
				p->name = path;
				vigil_gd_diag(p, false, 0, 0, "out of memory");
				return (int)p->nerrors;
			}
			buf = m;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	err = vigil_gd_parse(p, path, buf ? buf : "", len);
	free(buf);
	return err;
}

/* ---- resolution ---- */

int vigil_gd_resolve(struct vigil_gd_policy *p, const struct vigil_gd_env *env)
{
	uint32_t before = p->nerrors;

	for (uint32_t i = 0; i < p->n; i++) {
		struct vigil_gd_rule *r = &p->rules[i];
		char why[256] = "";
		bool is_dir = false, is_reg = false;
		int e;

		if (r->kind == VIGIL_GD_R_PATH || r->kind == VIGIL_GD_R_DIR) {
			e = env->stat(env->ctx, r->arg, &r->dev, &r->ino, &is_dir, &is_reg);
			if (e) {
				vigil_gd_diag(p, false, r->line, r->arg_col, "cannot use '%s': %s", r->arg,
					      strerror(-e));
			} else if (r->kind == VIGIL_GD_R_DIR && !is_dir) {
				vigil_gd_diag(p, false, r->line, r->arg_col,
					      "'%s' is not a directory ('/**' means everything under one)",
					      r->arg);
			} else if (r->kind == VIGIL_GD_R_PATH && !is_reg) {
				vigil_gd_diag(p, false, r->line, r->arg_col, is_dir ?
					      "'%s' is a directory: write '%s/**' for everything under it" :
					      "'%s' is not a regular file", r->arg, r->arg);
			}
		}
		if (r->scope_kind != VIGIL_GD_S_HOST) {
			e = env->scope(env->ctx, r->scope_kind, r->scope, &r->scope_id, &r->scope_level,
				       why, sizeof(why));
			if (e)
				vigil_gd_diag(p, false, r->line, r->scope_col, "cannot use %s '%s': %s",
					      r->scope_kind == VIGIL_GD_S_CGROUP ? "cgroup" : "container",
					      r->scope, why[0] ? why : strerror(-e));
			else if (!r->scope_id)
				vigil_gd_diag(p, false, r->line, r->scope_col,
					      "%s '%s' resolved to no cgroup", r->scope_kind ==
					      VIGIL_GD_S_CGROUP ? "cgroup" : "container", r->scope);
		}
	}
	return (int)(p->nerrors - before);
}

/* ---- compilation ---- */

static int cmp_rule_match(const struct vigil_gd_rule *a, const struct vigil_gd_rule *b)
{
#define CMPF(f) if (a->f != b->f) return a->f < b->f ? -1 : 1
	CMPF(kind);
	CMPF(scope_id);
	if (a->kind == VIGIL_GD_R_HASH)
		return memcmp(a->sha256, b->sha256, 32);
	if (a->kind == VIGIL_GD_R_CONNECT) {
		CMPF(family);
		CMPF(plen);
		CMPF(port_lo);
		CMPF(port_hi);
		return memcmp(a->addr, b->addr, 16);
	}
	CMPF(dev);
	CMPF(ino);
	return 0;
#undef CMPF
}

static const struct vigil_gd_policy *sort_ctx;

static int cmp_idx(const void *x, const void *y)
{
	const struct vigil_gd_rule *a = &sort_ctx->rules[*(const uint32_t *)x];
	const struct vigil_gd_rule *b = &sort_ctx->rules[*(const uint32_t *)y];
	int c = cmp_rule_match(a, b);

	if (c)
		return c;
	return a->line < b->line ? -1 : a->line > b->line;
}

static bool prefix_covers(const struct vigil_gd_rule *outer, const struct vigil_gd_rule *inner)
{
	uint32_t bits = outer->plen, bytes = bits / 8, rem = bits % 8;

	if (outer->family != inner->family || outer->scope_id != inner->scope_id ||
	    outer->plen > inner->plen)
		return false;
	if (memcmp(outer->addr, inner->addr, bytes))
		return false;
	if (rem) {
		uint8_t m = (uint8_t)(0xff << (8 - rem));

		return (outer->addr[bytes] & m) == (inner->addr[bytes] & m);
	}
	return true;
}

/* a dry run keeps each rule's action: the generation's flag makes the
 * programs report a deny instead of acting on it, and the record says "deny" */
static uint32_t act(const struct vigil_gd_rule *r, bool dry_run)
{
	(void)dry_run;
	return r->action;
}

/* by prefix length, longest first, then file order: the order a covering set is checked in */
static int cmp_net_order(const void *x, const void *y)
{
	const struct vigil_gd_rule *a = &sort_ctx->rules[*(const uint32_t *)x];
	const struct vigil_gd_rule *b = &sort_ctx->rules[*(const uint32_t *)y];

	if (a->plen != b->plen)
		return a->plen > b->plen ? -1 : 1;
	return a->line < b->line ? -1 : a->line > b->line;
}

int vigil_gd_compile(struct vigil_gd_policy *p, uint32_t gen, bool dry_run,
		     struct vigil_gd_tables *t)
{
	uint32_t *idx = malloc((p->n + 1) * sizeof(*idx)), before = p->nerrors;
	uint32_t *net = malloc((p->n + 1) * sizeof(*net)), nnet = 0;
	uint32_t nlev = 0;

	memset(t, 0, sizeof(*t));
	t->fkeys = calloc(p->n + 1, sizeof(*t->fkeys));
	t->fvals = calloc(p->n + 1, sizeof(*t->fvals));
	t->dkeys = calloc(p->n + 1, sizeof(*t->dkeys));
	t->dvals = calloc(p->n + 1, sizeof(*t->dvals));
	t->hkeys = calloc(p->n + 1, sizeof(*t->hkeys));
	t->hvals = calloc(p->n + 1, sizeof(*t->hvals));
	t->nkeys = calloc(p->n + 1, sizeof(*t->nkeys));
	t->nvals = calloc(p->n + 1, sizeof(*t->nvals));
	if (!idx || !net || !t->fkeys || !t->fvals || !t->dkeys || !t->dvals || !t->hkeys ||
	    !t->hvals || !t->nkeys || !t->nvals) {
		vigil_gd_diag(p, false, 0, 0, "out of memory");
		goto out;
	}
	if (dry_run)
		t->gen.flags |= VIGIL_GD_G_DRY_RUN;
	for (uint32_t i = 0; i < p->n; i++)
		idx[i] = i;
	sort_ctx = p;
	qsort(idx, p->n, sizeof(*idx), cmp_idx);
	for (uint32_t k = 0; k < p->n; k++) {
		const struct vigil_gd_rule *r = &p->rules[idx[k]];
		struct vigil_gd_verdict v = { act(r, dry_run), r->line };
		bool found = false;

		/* scope levels the programs probe */
		if (r->scope_id) {
			for (uint32_t l = 0; l < nlev; l++)
				found |= t->gen.levels[l] == r->scope_level;
			if (!found && nlev == VIGIL_GD_MAX_LEVELS) {
				vigil_gd_diag(p, false, r->line, r->scope_col,
					      "scopes at more than %d cgroup levels", VIGIL_GD_MAX_LEVELS);
				continue;
			}
			if (!found)
				t->gen.levels[nlev++] = r->scope_level;
		}
		if (k > 0 && !cmp_rule_match(r, &p->rules[idx[k - 1]])) {
			const struct vigil_gd_rule *first = &p->rules[idx[k - 1]];

			/* walk back to the first of the run for the message */
			for (uint32_t j = k - 1; j > 0 && !cmp_rule_match(r, &p->rules[idx[j - 1]]); j--)
				first = &p->rules[idx[j - 1]];
			if (first->action != r->action)
				vigil_gd_diag(p, false, r->line, r->col,
					      "'%s' contradicts the rule on line %u for the same match ('%s')",
					      vigil_gd_action_name(r->action), first->line,
					      vigil_gd_action_name(first->action));
			else
				vigil_gd_diag(p, true, r->line, r->col,
					      "duplicate of the rule on line %u", first->line);
			continue;
		}
		switch (r->kind) {
		case VIGIL_GD_R_PATH:
			t->fkeys[t->nfiles] = (struct vigil_gd_ino_key){ gen, r->dev, r->ino, r->scope_id };
			t->fvals[t->nfiles++] = v;
			t->gen.flags |= VIGIL_GD_G_EXEC;
			break;
		case VIGIL_GD_R_DIR:
			t->dkeys[t->ndirs] = (struct vigil_gd_ino_key){ gen, r->dev, r->ino, r->scope_id };
			t->dvals[t->ndirs++] = v;
			t->gen.flags |= VIGIL_GD_G_EXEC | VIGIL_GD_G_DIRS;
			break;
		case VIGIL_GD_R_HASH:
			t->hkeys[t->nhashes].gen = gen;
			t->hkeys[t->nhashes].scope = r->scope_id;
			memcpy(t->hkeys[t->nhashes].sha256, r->sha256, 32);
			t->hvals[t->nhashes++] = v;
			t->gen.flags |= VIGIL_GD_G_EXEC | VIGIL_GD_G_HASH;
			break;
		case VIGIL_GD_R_CONNECT:
			net[nnet++] = idx[k];
			t->gen.flags |= VIGIL_GD_G_NET;
			break;
		}
	}
	/* deepest level first: the most specific scope decides */
	for (uint32_t a = 0; a < nlev; a++)
		for (uint32_t b = a + 1; b < nlev; b++)
			if (t->gen.levels[b] > t->gen.levels[a]) {
				uint32_t x = t->gen.levels[a];

				t->gen.levels[a] = t->gen.levels[b];
				t->gen.levels[b] = x;
			}
	t->gen.nlevels = nlev;

	/* one trie entry per distinct (scope, prefix): its rules and its covering prefixes' */
	qsort(net, nnet, sizeof(*net), cmp_net_order);
	for (uint32_t k = 0; k < nnet; k++) {
		const struct vigil_gd_rule *r = &p->rules[net[k]];
		struct vigil_gd_net_key key = { 0 };
		struct vigil_gd_net_val *val;
		bool dup = false;

		key.prefixlen = 96 + r->plen;
		key.genfam = gen | (uint32_t)r->family << 8;
		key.scope = r->scope_id;
		memcpy(key.addr, r->addr, 16);
		for (uint32_t j = 0; j < t->nnet && !dup; j++)
			dup = !memcmp(&t->nkeys[j], &key, sizeof(key));
		if (dup)
			continue;
		val = &t->nvals[t->nnet];
		/* net[] is longest prefix first, so covering rules come in precedence order */
		for (uint32_t j = 0; j < nnet; j++) {
			const struct vigil_gd_rule *o = &p->rules[net[j]];

			if (!prefix_covers(o, r))
				continue;
			if (val->n == VIGIL_GD_MAX_PORTS) {
				char txt[128];

				vigil_gd_rule_format(r, txt, sizeof(txt));
				vigil_gd_diag(p, false, r->line, r->arg_col,
					      "more than %d rules cover '%s' in one scope",
					      VIGIL_GD_MAX_PORTS, txt);
				break;
			}
			val->p[val->n++] = (struct vigil_gd_port){ o->port_lo, o->port_hi,
								   act(o, dry_run), o->line };
		}
		t->nkeys[t->nnet++] = key;
	}
out:
	free(idx);
	free(net);
	return (int)(p->nerrors - before);
}

void vigil_gd_tables_free(struct vigil_gd_tables *t)
{
	free(t->fkeys);
	free(t->fvals);
	free(t->dkeys);
	free(t->dvals);
	free(t->hkeys);
	free(t->hvals);
	free(t->nkeys);
	free(t->nvals);
	memset(t, 0, sizeof(*t));
}

/* ---- reference and simulation (tests) ---- */

static bool addr_in(const uint8_t *a, const uint8_t *net, uint32_t bits)
{
	uint32_t bytes = bits / 8, rem = bits % 8;

	if (memcmp(a, net, bytes))
		return false;
	if (rem) {
		uint8_t m = (uint8_t)(0xff << (8 - rem));

		return (a[bytes] & m) == (net[bytes] & m);
	}
	return true;
}

struct vigil_gd_verdict vigil_gd_eval_connect(const struct vigil_gd_policy *p, int family,
					      const uint8_t addr[16], uint16_t port,
					      const uint64_t *scopes, uint32_t nscopes)
{
	/* the most specific scope (scopes[0] deepest ... host last), then the
	 * longest prefix, then file order; the first rule that matches wins */
	struct vigil_gd_verdict best = { 0, 0 };

	for (uint32_t s = 0; s <= nscopes; s++) {
		uint64_t scope = s < nscopes ? scopes[s] : 0;
		const struct vigil_gd_rule *win = NULL;

		if (s < nscopes && !scope)
			continue;
		for (uint32_t i = 0; i < p->n; i++) {
			const struct vigil_gd_rule *r = &p->rules[i];

			if (r->kind != VIGIL_GD_R_CONNECT || r->family != family || r->scope_id != scope ||
			    !addr_in(addr, r->addr, r->plen) || port < r->port_lo || port > r->port_hi)
				continue;
			if (!win || r->plen > win->plen)
				win = r;
		}
		if (win) {
			best.action = win->action;
			best.line = win->line;
			return best;
		}
	}
	return best;
}

struct vigil_gd_verdict vigil_gd_simulate_connect(const struct vigil_gd_tables *t, uint32_t gen,
						  int family, const uint8_t addr[16], uint16_t port,
						  const uint64_t *scope_at_level)
{
	struct vigil_gd_verdict none = { 0, 0 };

	for (uint32_t s = 0; s <= t->gen.nlevels; s++) {
		uint64_t scope = s < t->gen.nlevels ? scope_at_level[s] : 0;
		const struct vigil_gd_net_val *best = NULL;
		uint32_t best_len = 0;

		if (s < t->gen.nlevels && !scope)
			continue;
		/* longest prefix match, as the LPM trie does */
		for (uint32_t i = 0; i < t->nnet; i++) {
			const struct vigil_gd_net_key *k = &t->nkeys[i];

			if (k->genfam != (gen | (uint32_t)family << 8) || k->scope != scope ||
			    !addr_in(addr, k->addr, k->prefixlen - 96))
				continue;
			if (!best || k->prefixlen > best_len) {
				best = &t->nvals[i];
				best_len = k->prefixlen;
			}
		}
		if (!best)
			continue;
		for (uint32_t j = 0; j < best->n && j < VIGIL_GD_MAX_PORTS; j++)
			if (port >= best->p[j].lo && port <= best->p[j].hi)
				return (struct vigil_gd_verdict){ best->p[j].action, best->p[j].line };
	}
	return none;
}

/* ---- names ---- */

const char *vigil_gd_action_name(uint32_t a)
{
	switch (a) {
	case VIGIL_GD_ALLOW: return "allow";
	case VIGIL_GD_DENY: return "deny";
	case VIGIL_GD_AUDIT: return "audit";
	default: return "none";
	}
}

const char *vigil_gd_how_name(uint32_t how)
{
	switch (how) {
	case VIGIL_GD_HOW_REPORTED: return "reported";
	case VIGIL_GD_HOW_EPERM: return "lsm-eperm";
	case VIGIL_GD_HOW_SIGKILL: return "sigkill";
	case VIGIL_GD_HOW_HASH_KILL: return "hash-sigkill";
	case VIGIL_GD_HOW_CONNECT: return "connect-eperm";
	default: return "unknown";
	}
}

/* appends to buf[*o..n): a path is up to VIGIL_GD_ARG_MAX bytes, so no
 * fixed-size middle buffer (a 160-byte one cut long paths: found by fuzz_guard) */
static void fmt_add(char *buf, size_t n, size_t *o, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (*o >= n)
		return;
	va_start(ap, fmt);
	k = vsnprintf(buf + *o, n - *o, fmt, ap);
	va_end(ap);
	if (k > 0)
		*o = *o + (size_t)k < n ? *o + (size_t)k : n;
}

void vigil_gd_rule_format(const struct vigil_gd_rule *r, char *buf, size_t n)
{
	char a[64] = "";
	size_t o = 0;

	if (!n)
		return;
	buf[0] = 0;
	fmt_add(buf, n, &o, "%s ", vigil_gd_action_name(r->action));
	switch (r->kind) {
	case VIGIL_GD_R_PATH:
		fmt_add(buf, n, &o, "exec %s", r->arg);
		break;
	case VIGIL_GD_R_DIR:
		fmt_add(buf, n, &o, "exec %s/**", strcmp(r->arg, "/") ? r->arg : "");
		break;
	case VIGIL_GD_R_HASH:
		fmt_add(buf, n, &o, "exec sha256:");
		for (int i = 0; i < 32; i++)
			fmt_add(buf, n, &o, "%02x", r->sha256[i]);
		break;
	case VIGIL_GD_R_CONNECT:
		inet_ntop(r->family == 4 ? AF_INET : AF_INET6, r->addr, a, sizeof(a));
		if (r->port_lo == 0 && r->port_hi == 65535)
			fmt_add(buf, n, &o, "connect %s/%u", a, r->plen);
		else if (r->port_lo == r->port_hi)
			fmt_add(buf, n, &o, "connect %s/%u port %u", a, r->plen, r->port_lo);
		else
			fmt_add(buf, n, &o, "connect %s/%u port %u-%u", a, r->plen, r->port_lo,
				r->port_hi);
		break;
	}
	if (r->scope_kind != VIGIL_GD_S_HOST)
		fmt_add(buf, n, &o, " %s %s", r->scope_kind == VIGIL_GD_S_CGROUP ? "cgroup" : "container",
			r->scope);
}
