// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* Unit tests of the guard policy: parser errors, resolution, compiler vs reference, sha256. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "guard/policy.h"

static int parse(struct vigil_gd_policy *p, const char *text)
{
	return vigil_gd_parse(p, "t.policy", text, strlen(text));
}

/* the first diagnostic as "line:col: msg" */
static const char *first(const struct vigil_gd_policy *p, char *buf, size_t n)
{
	if (!p->ndiags)
		return "";
	snprintf(buf, n, "%u:%u: %s", p->diags[0].line, p->diags[0].col, p->diags[0].msg);
	return buf;
}

static void test_parse_ok(void)
{
	struct vigil_gd_policy p;
	const char *text =
		"# comment\n"
		"deny exec /usr/bin/nc   # trailing\n"
		"deny exec sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n"
		"allow exec /tmp/**\n"
		"\n"
		"audit connect 203.0.113.0/24 port 1-65535 container web\n"
		"deny connect ::/0 port 25 cgroup system.slice/app.service\n"
		"deny connect 10.0.0.1 host\n";

	CHECK(parse(&p, text) == 0);
	CHECK(p.n == 6);
	CHECK(p.rules[0].kind == VIGIL_GD_R_PATH && p.rules[0].action == VIGIL_GD_DENY);
	CHECK_STR(p.rules[0].arg, "/usr/bin/nc");
	CHECK(p.rules[0].line == 2 && p.rules[0].col == 1 && p.rules[0].arg_col == 11);
	CHECK(p.rules[1].kind == VIGIL_GD_R_HASH && p.rules[1].sha256[0] == 0xba &&
	      p.rules[1].sha256[31] == 0xad);
	CHECK(p.rules[2].kind == VIGIL_GD_R_DIR && p.rules[2].action == VIGIL_GD_ALLOW);
	CHECK_STR(p.rules[2].arg, "/tmp");
	CHECK(p.rules[3].kind == VIGIL_GD_R_CONNECT && p.rules[3].family == 4 && p.rules[3].plen == 24);
	CHECK(p.rules[3].port_lo == 1 && p.rules[3].port_hi == 65535);
	CHECK(p.rules[3].scope_kind == VIGIL_GD_S_CONTAINER);
	CHECK_STR(p.rules[3].scope, "web");
	CHECK(p.rules[4].family == 6 && p.rules[4].plen == 0 && p.rules[4].port_lo == 25 &&
	      p.rules[4].port_hi == 25 && p.rules[4].scope_kind == VIGIL_GD_S_CGROUP);
	CHECK(p.rules[4].scope_col == 34);
	CHECK(p.rules[5].plen == 32 && p.rules[5].port_lo == 0 && p.rules[5].port_hi == 65535 &&
	      p.rules[5].scope_kind == VIGIL_GD_S_HOST);
	{
		char txt[200];

		vigil_gd_rule_format(&p.rules[4], txt, sizeof(txt));
		CHECK_STR(txt, "deny connect ::/0 port 25 cgroup system.slice/app.service");
		vigil_gd_rule_format(&p.rules[2], txt, sizeof(txt));
		CHECK_STR(txt, "allow exec /tmp/**");
	}
	vigil_gd_policy_free(&p);
}

static void test_parse_errors(void)
{
	static const struct { const char *text, *want; } cases[] = {
		{ "drop exec /x\n", "1:1: expected 'deny', 'allow' or 'audit', got 'drop'" },
		{ "deny\n", "1:5: expected 'exec' or 'connect' after 'deny'" },
		{ "deny exce /x\n", "1:6: expected 'exec' or 'connect', got 'exce'" },
		{ "\n\ndeny exec\n", "3:10: expected a path, '/dir/**' or 'sha256:HEX' after 'exec'" },
		{ "deny exec bin/nc\n",
		  "1:11: expected an absolute path, '/dir/**' or 'sha256:HEX' after 'exec', got 'bin/nc'" },
		{ "deny exec /usr/*/nc\n",
		  "1:16: '*' in a path: only a trailing '/**' (everything under a directory) is supported" },
		{ "deny exec sha256:abc\n", "1:18: expected 64 hex digits after 'sha256:', got 3 characters" },
		{ "deny exec sha256:zz7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n",
		  "1:18: expected a hex digit in the sha256, got 'z'" },
		{ "deny connect 10.0.0.1/8\n", "1:14: '10.0.0.1/8' has host bits set" },
		{ "deny connect 10.0.0.0/33\n", "1:23: expected a prefix length from 0 to 32 after '/', got '33'" },
		{ "deny connect 300.0.0.1\n",
		  "1:14: expected an IPv4 or IPv6 address or prefix after 'connect', got '300.0.0.1'" },
		{ "deny connect 10.0.0.0/8 port 9-1\n", "1:30: empty port range '9-1': 9 is above 1" },
		{ "deny connect 10.0.0.0/8 port 70000\n",
		  "1:30: expected a port from 0 to 65535 or a range, got '70000'" },
		{ "deny connect 10.0.0.0/8 port\n",
		  "1:29: expected a port or a range such as '1000-2000' after 'port'" },
		{ "deny connect 10.0.0.0/8 cgroup\n", "1:31: expected a cgroup path after 'cgroup'" },
		{ "deny connect 10.0.0.0/8 pod x\n",
		  "1:25: expected 'port', 'host', 'cgroup PATH', 'container NAME' or the end of the line, got 'pod'" },
		{ "deny exec /x host extra\n", "1:19: expected the end of the line, got 'extra'" },
		{ "deny exec /x\x01\n", "1:13: control character \\x01" },
	};
	char buf[300];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vigil_gd_policy p;

		CHECK(parse(&p, cases[i].text) > 0);
		CHECK_STR(first(&p, buf, sizeof(buf)), cases[i].want);
		vigil_gd_policy_free(&p);
	}
}

/* a fake file system and cgroup tree */
static int fake_stat(void *ctx, const char *path, uint32_t *dev, uint64_t *ino, bool *is_dir,
		     bool *is_reg)
{
	static const struct { const char *path; uint64_t ino; bool dir; } fs[] = {
		{ "/usr/bin/nc", 100, false }, { "/tmp", 200, true }, { "/usr/bin", 300, true },
		{ "/usr/bin/nc2", 100, false },	/* a hard link of nc */
	};

	for (size_t i = 0; i < sizeof(fs) / sizeof(fs[0]); i++)
		if (!strcmp(fs[i].path, path)) {
			*dev = 8 << 20 | 1;
			*ino = fs[i].ino;
			*is_dir = fs[i].dir;
			*is_reg = !fs[i].dir;
			return 0;
		}
	return -ENOENT;
}

static int fake_scope(void *ctx, int kind, const char *name, uint64_t *id, uint32_t *level,
		      char *err, size_t errlen)
{
	if (!strcmp(name, "a")) {
		*id = 1000;
		*level = 1;
		return 0;
	}
	if (!strcmp(name, "a/b")) {
		*id = 1001;
		*level = 2;
		return 0;
	}
	snprintf(err, errlen, "no such %s", kind == VIGIL_GD_S_CGROUP ? "cgroup" : "container");
	return -ENOENT;
}

static const struct vigil_gd_env fake_env = { fake_stat, fake_scope, NULL };

static void test_resolve(void)
{
	struct vigil_gd_policy p;
	struct vigil_gd_tables t;
	char buf[300];

	CHECK(parse(&p, "deny exec /usr/bin/nope\n") == 0);
	CHECK(vigil_gd_resolve(&p, &fake_env) == 1);
	CHECK_STR(first(&p, buf, sizeof(buf)), "1:11: cannot use '/usr/bin/nope': No such file or directory");
	vigil_gd_policy_free(&p);

	CHECK(parse(&p, "deny exec /tmp\n") == 0);
	CHECK(vigil_gd_resolve(&p, &fake_env) == 1);
	CHECK_STR(first(&p, buf, sizeof(buf)),
		  "1:11: '/tmp' is a directory: write '/tmp/**' for everything under it");
	vigil_gd_policy_free(&p);

	CHECK(parse(&p, "deny exec /usr/bin/nc/**\n") == 0);
	CHECK(vigil_gd_resolve(&p, &fake_env) == 1);
	vigil_gd_policy_free(&p);

	CHECK(parse(&p, "deny connect 10.0.0.0/8 container zz\n") == 0);
	CHECK(vigil_gd_resolve(&p, &fake_env) == 1);
	CHECK_STR(first(&p, buf, sizeof(buf)), "1:35: cannot use container 'zz': no such container");
	vigil_gd_policy_free(&p);

	/* a hard link is the same inode: two rules on it that disagree are an error */
	CHECK(parse(&p, "deny exec /usr/bin/nc\nallow exec /usr/bin/nc2\n") == 0);
	CHECK(vigil_gd_resolve(&p, &fake_env) == 0);
	CHECK(p.rules[0].ino == 100 && p.rules[1].ino == 100);
	CHECK(vigil_gd_compile(&p, 0, false, &t) == 1);
	CHECK_STR(first(&p, buf, sizeof(buf)),
		  "2:1: 'allow' contradicts the rule on line 1 for the same match ('deny')");
	vigil_gd_tables_free(&t);
	vigil_gd_policy_free(&p);

	/* a repeat is a warning, and one entry */
	CHECK(parse(&p, "deny exec /usr/bin/nc\ndeny exec /usr/bin/nc2\ndeny exec /tmp/**\n") == 0);
	CHECK(vigil_gd_resolve(&p, &fake_env) == 0);
	CHECK(vigil_gd_compile(&p, 1, false, &t) == 0);
	CHECK(p.nwarnings == 1 && t.nfiles == 1 && t.ndirs == 1);
	CHECK(t.fkeys[0].gen == 1 && t.fkeys[0].ino == 100 && t.fkeys[0].dev == (8 << 20 | 1));
	CHECK(t.fvals[0].action == VIGIL_GD_DENY && t.fvals[0].line == 1);
	CHECK(t.dkeys[0].ino == 200);
	CHECK(t.gen.flags == (VIGIL_GD_G_EXEC | VIGIL_GD_G_DIRS));
	vigil_gd_tables_free(&t);
	vigil_gd_policy_free(&p);

	/* dry run: the rules stay what they are; the generation says "report only" */
	CHECK(parse(&p, "deny exec /usr/bin/nc\ndeny connect 10.0.0.0/8\n") == 0);
	CHECK(vigil_gd_resolve(&p, &fake_env) == 0);
	CHECK(vigil_gd_compile(&p, 0, true, &t) == 0);
	CHECK(t.fvals[0].action == VIGIL_GD_DENY && t.nvals[0].p[0].action == VIGIL_GD_DENY);
	CHECK(t.gen.flags & VIGIL_GD_G_DRY_RUN);
	vigil_gd_tables_free(&t);
	vigil_gd_policy_free(&p);
}

static void test_connect_compile(void)
{
	const char *text =
		"deny connect 10.0.0.0/8\n"
		"allow connect 10.1.0.0/16 port 80-443\n"
		"deny connect 10.1.2.0/24 port 443 cgroup a\n"
		"allow connect 10.1.2.3 cgroup a/b\n"
		"audit connect 10.1.0.0/16 port 22\n"
		"deny connect ::/0 port 25\n"
		"allow connect 2001:db8::/32 port 25 cgroup a\n"
		"deny connect 0.0.0.0/0 port 9000-9100\n";
	struct vigil_gd_policy p;
	struct vigil_gd_tables t;
	const uint64_t scopes_sets[][2] = { { 0, 0 }, { 1000, 0 }, { 1000, 1001 } };
	unsigned int seed = 7;
	int mismatches = 0, decided = 0;

	CHECK(parse(&p, text) == 0);
	CHECK(vigil_gd_resolve(&p, &fake_env) == 0);
	CHECK(vigil_gd_compile(&p, 1, false, &t) == 0);
	/* deepest level first */
	CHECK(t.gen.nlevels == 2 && t.gen.levels[0] == 2 && t.gen.levels[1] == 1);
	for (int i = 0; i < 20000; i++) {
		uint8_t a[16] = { 0 };
		const uint64_t *sc = scopes_sets[rand_r(&seed) % 3];
		int fam = rand_r(&seed) % 4 ? 4 : 6;
		uint16_t port = (uint16_t)(rand_r(&seed) % 4 ? (rand_r(&seed) % 600) : rand_r(&seed));
		/* the task's ids at gen.levels (2, then 1): */
		uint64_t at_level[2] = { sc[1], sc[0] };
		/* the reference takes the scopes deepest first */
		uint64_t deep_first[2] = { sc[1], sc[0] };
		struct vigil_gd_verdict ref, sim;

		if (fam == 4) {
			a[0] = 10;
			a[1] = (uint8_t)(rand_r(&seed) % 3);
			a[2] = (uint8_t)(rand_r(&seed) % 4);
			a[3] = (uint8_t)(rand_r(&seed) % 5);
			if (rand_r(&seed) % 8 == 0)
				a[0] = (uint8_t)rand_r(&seed);
		} else {
			a[0] = 0x20;
			a[1] = 0x01;
			a[2] = 0x0d;
			a[3] = (uint8_t)(rand_r(&seed) % 2 ? 0xb8 : 0xb9);
			a[15] = 1;
		}
		ref = vigil_gd_eval_connect(&p, fam, a, port, deep_first, 2);
		sim = vigil_gd_simulate_connect(&t, 1, fam, a, port, at_level);
		if (ref.action != sim.action || ref.line != sim.line)
			mismatches++;
		decided += ref.action != 0;
	}
	CHECK(mismatches == 0);
	CHECK(decided > 1000);
	/* spot checks */
	{
		uint8_t a[16] = { 10, 1, 2, 3 };
		uint64_t host[2] = { 0, 0 }, in_a[2] = { 0, 1000 }, in_ab[2] = { 1001, 1000 };
		struct vigil_gd_verdict v;

		v = vigil_gd_simulate_connect(&t, 1, 4, a, 443, host);
		CHECK(v.action == VIGIL_GD_ALLOW && v.line == 2);
		v = vigil_gd_simulate_connect(&t, 1, 4, a, 443, in_a);
		CHECK(v.action == VIGIL_GD_DENY && v.line == 3);
		v = vigil_gd_simulate_connect(&t, 1, 4, a, 443, in_ab);
		CHECK(v.action == VIGIL_GD_ALLOW && v.line == 4);
		v = vigil_gd_simulate_connect(&t, 1, 4, a, 22, host);
		CHECK(v.action == VIGIL_GD_AUDIT && v.line == 5);
		v = vigil_gd_simulate_connect(&t, 1, 4, a, 23, host);
		CHECK(v.action == VIGIL_GD_DENY && v.line == 1);
		v = vigil_gd_simulate_connect(&t, 0, 4, a, 23, host);
		CHECK(v.action == VIGIL_GD_NONE);	/* another generation sees nothing */
	}
	vigil_gd_tables_free(&t);
	vigil_gd_policy_free(&p);
}

static void test_too_many_ports(void)
{
	struct vigil_gd_policy p;
	char text[4096];
	size_t o = 0;
	struct vigil_gd_tables t;

	for (int i = 0; i < VIGIL_GD_MAX_PORTS + 1; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "deny connect 10.0.0.0/8 port %d\n", i);
	CHECK(parse(&p, text) == 0);
	CHECK(vigil_gd_resolve(&p, &fake_env) == 0);
	CHECK(vigil_gd_compile(&p, 0, false, &t) == 1);
	vigil_gd_tables_free(&t);
	vigil_gd_policy_free(&p);
}

static void hex(const uint8_t *h, char *out)
{
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", h[i]);
}

static void test_sha256(void)
{
	uint8_t h[32];
	char s[65];
	char *big = malloc(1000000);

	vigil_sha256("", 0, h);
	hex(h, s);
	CHECK_STR(s, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	vigil_sha256("abc", 3, h);
	hex(h, s);
	CHECK_STR(s, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	vigil_sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, h);
	hex(h, s);
	CHECK_STR(s, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	memset(big, 'a', 1000000);
	vigil_sha256(big, 1000000, h);
	hex(h, s);
	CHECK_STR(s, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(big);
}

/* a path as long as the parser takes formats whole (a 160-byte buffer cut it;
 * fuzz_guard found it) and parses back to the same rule */
static void test_format_long_path(void)
{
	static char text[VIGIL_GD_ARG_MAX + 128], out[2 * VIGIL_GD_ARG_MAX + 64];
	struct vigil_gd_policy p, q;
	size_t o = (size_t)snprintf(text, sizeof(text), "audit exec /");

	memset(text + o, 'x', 3000);
	o += 3000;
	o += (size_t)snprintf(text + o, sizeof(text) - o, " cgroup a/b.service");
	CHECK(vigil_gd_parse(&p, "long", text, o) == 0 && p.n == 1);
	vigil_gd_rule_format(&p.rules[0], out, sizeof(out));
	CHECK(strlen(out) == o && !memcmp(out, text, o));
	CHECK(vigil_gd_parse(&q, "again", out, strlen(out)) == 0 && q.n == 1);
	CHECK(!strcmp(q.rules[0].arg, p.rules[0].arg) && !strcmp(q.rules[0].scope, "a/b.service"));
	/* a small buffer: cut, terminated */
	vigil_gd_rule_format(&p.rules[0], out, 16);
	CHECK(strlen(out) == 15 && !strncmp(out, "audit exec /xxx", 15));
	vigil_gd_policy_free(&q);
	vigil_gd_policy_free(&p);
}

int main(void)
{
	test_format_long_path();
	test_parse_ok();
	test_parse_errors();
	test_resolve();
	test_connect_compile();
	test_too_many_ports();
	test_sha256();
	return check_done("test_guard");
}
