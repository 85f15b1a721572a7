// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* Firewall rules: parser errors, precedence, and compiled tables vs. the reference. */
#include <arpa/inet.h>
#include <stdlib.h>
#include "check.h"
#include "fw/rules.h"

static int parse(struct vigil_rules *rs, const char *text)
{
	return vigil_rules_parse(rs, "r.rules", text, strlen(text));
}

/* the first diagnostic, as "line:col: msg" */
static const char *first_diag(const struct vigil_rules *rs)
{
	static char buf[300];

	if (!rs->ndiags)
		return "";
	snprintf(buf, sizeof(buf), "%u:%u: %s", rs->diags[0].line, rs->diags[0].col, rs->diags[0].msg);
	return buf;
}

static struct vigil_fw_pkt pkt(const char *src, const char *dst, int proto, int port)
{
	struct vigil_fw_pkt p = { .proto = (uint8_t)proto, .dport = (uint16_t)port };

	p.family = (uint8_t)vigil_fw_addr_parse(src, p.src);
	vigil_fw_addr_parse(dst, p.dst);
	return p;
}

/* a packet and the rules file line expected to decide it (0: the default) */
struct pkt_case {
	const char *s, *d;
	int proto, port, line;
};

/* the reference evaluator and the simulated kernel tables must both give the expected line */
static void check_cases(const char *what, const struct vigil_rules *rs,
			const struct vigil_fw_table *t, const struct pkt_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct vigil_fw_pkt p = pkt(cases[i].s, cases[i].d, cases[i].proto, cases[i].port);
		uint32_t e = vigil_fw_eval(rs, &p), s = vigil_fw_simulate(t, &p);
		uint32_t got = e ? rs->rules[e].line : 0;

		if (got != (uint32_t)cases[i].line || s != e)
			fprintf(stderr, "%s case %zu: %s -> %s proto %d port %d: eval line %u, sim line %u, want %d\n",
				what, i, cases[i].s, cases[i].d, cases[i].proto, cases[i].port,
				got, s < rs->n ? rs->rules[s].line : 9999, cases[i].line);
		CHECK(got == (uint32_t)cases[i].line);
		CHECK(s == e);
	}
}


static void test_valid(void)
{
	struct vigil_rules rs;
	const char *text =
		"# comment\n"
		"\n"
		"default drop\n"
		"pass tcp from 10.0.0.0/8 to 192.168.1.1 port 22   # ssh\n"
		"drop udp to 2001:db8::/32 port 1000-2000\n"
		"ratelimit 100/s icmp from 10.1.0.0/16\r\n"
		"pass icmpv6\n"
		"drop any from ::1\n"
		"pass";
	char buf[200];

	CHECK(parse(&rs, text) == 0);
	CHECK(rs.n == 7);
	CHECK(rs.rules[0].action == VIGIL_FW_DROP && rs.rules[0].line == 3);
	CHECK(rs.rules[1].action == VIGIL_FW_PASS && rs.rules[1].proto == 6);
	CHECK(rs.rules[1].family == 4 && rs.rules[1].src_len == 8 && rs.rules[1].dst_len == 32);
	CHECK(rs.rules[1].port_lo == 22 && rs.rules[1].port_hi == 22);
	CHECK(rs.rules[2].family == 6 && rs.rules[2].port_lo == 1000 && rs.rules[2].port_hi == 2000);
	CHECK(rs.rules[3].action == VIGIL_FW_RATELIMIT && rs.rules[3].rate == 100);
	CHECK(rs.rules[4].family == 6 && rs.rules[4].proto == 58);
	CHECK(rs.rules[5].family == 6 && rs.rules[5].src_len == 128);
	CHECK(rs.rules[6].family == 0 && rs.rules[6].flags == 0);
	vigil_fw_rule_format(&rs.rules[1], buf, sizeof(buf));
	CHECK_STR(buf, "pass tcp from 10.0.0.0/8 to 192.168.1.1/32 port 22");
	vigil_fw_rule_format(&rs.rules[2], buf, sizeof(buf));
	CHECK_STR(buf, "drop udp to 2001:db8::/32 port 1000-2000");
	vigil_fw_rule_format(&rs.rules[3], buf, sizeof(buf));
	CHECK_STR(buf, "ratelimit 100/s icmp from 10.1.0.0/16");
	vigil_fw_rule_format(&rs.rules[0], buf, sizeof(buf));
	CHECK_STR(buf, "default drop");
	CHECK(rs.nwarnings == 0);
	vigil_rules_free(&rs);

	/* empty file: default pass, no rules */
	CHECK(parse(&rs, "") == 0 && rs.n == 1 && rs.rules[0].action == VIGIL_FW_PASS);
	vigil_rules_free(&rs);
}

static void expect_error(const char *text, const char *want)
{
	struct vigil_rules rs;

	CHECK(parse(&rs, text) > 0);
	CHECK_STR(first_diag(&rs), want);
	vigil_rules_free(&rs);
}

static void test_errors(void)
{
	expect_error("dorp tcp\n", "1:1: expected 'drop', 'pass', 'ratelimit' or 'default', got 'dorp'");
	expect_error("\n  drop tcp form 1.2.3.4\n",
		     "2:12: expected 'from', 'to', 'port' or the end of the line, got 'form'");
	expect_error("drop tpc\n",
		     "1:6: expected a protocol (tcp, udp, icmp, icmpv6, any), 'from', 'to', 'port' or the end of the line, got 'tpc'");
	expect_error("drop from 10.0.0.1/8\n", "1:11: '10.0.0.1/8' has host bits set; the network is '10.0.0.0/8'");
	expect_error("drop from 10.0.0.0/33\n", "1:20: expected a prefix length from 0 to 32 after '/', got '33'");
	expect_error("drop from 10.0.0\n",
		     "1:11: expected an IPv4 or IPv6 address or prefix after 'from', got '10.0.0'");
	expect_error("drop from\n", "1:10: expected an address or prefix after 'from'");
	expect_error("drop port 22\n", "1:6: 'port' needs protocol 'tcp' or 'udp' after the action");
	expect_error("drop tcp port 70000\n", "1:15: expected a port from 0 to 65535 or a range, got '70000'");
	expect_error("drop tcp port 20-10\n", "1:15: empty port range '20-10': 20 is above 10");
	expect_error("drop tcp port 10-\n",
		     "1:15: expected a port range such as '1000-2000' (ports 0 to 65535), got '10-'");
	expect_error("drop from 10.0.0.0/8 to ::1\n", "1:22: 'to' address is IPv6 but the 'from' address is IPv4");
	expect_error("drop icmp from ::1\n", "1:6: protocol 'icmp' is for IPv4 but the rule's address is IPv6");
	expect_error("ratelimit 0/s\n", "1:11: expected a rate from 1/s to 10000000/s after 'ratelimit', got '0/s'");
	expect_error("ratelimit 10\n", "1:11: expected a rate from 1/s to 10000000/s after 'ratelimit', got '10'");
	expect_error("ratelimit\n", "1:10: expected a rate such as '100/s' after 'ratelimit'");
	expect_error("default maybe\n", "1:9: expected 'pass' or 'drop' after 'default', got 'maybe'");
	expect_error("default drop\ndefault pass\n", "2:1: second 'default' policy; the first is on line 1");
	expect_error("drop from 1.2.3.4 from 1.2.3.5\n", "1:19: second 'from' in one rule; the first is at column 6");
	expect_error("drop from ::ffff:1.2.3.4\n", "1:11: IPv4-mapped address '::ffff:1.2.3.4': write the IPv4 form instead");
	expect_error("drop \x01\n", "1:6: unexpected control character 0x01");
	expect_error("drop tcp port +22\n", "1:15: expected a port from 0 to 65535 or a range, got '+22'");

	/* every bad line is reported, and any error means no rules */
	struct vigil_rules rs;

	CHECK(parse(&rs, "drop tcp\nbad1\npass\nbad2 x\n") == 2);
	CHECK(rs.ndiags == 2 && rs.diags[0].line == 2 && rs.diags[1].line == 4);
	vigil_rules_free(&rs);
}

static void test_warnings(void)
{
	struct vigil_rules rs;
	struct vigil_fw_table t = { 0 };	/* zero limits: the defaults */
	char err[200];

	CHECK(parse(&rs, "drop tcp from 10.0.0.0/8 port 22\npass tcp from 10.0.0.0/8 port 22\n") == 0);
	CHECK(rs.nwarnings == 1);
	CHECK_STR(first_diag(&rs), "2:1: duplicate of the rule on line 1, which takes precedence; this rule never matches");
	vigil_rules_free(&rs);

	/* shadowed by the union of two more specific rules */
	CHECK(parse(&rs, "pass tcp from 10.0.0.0/8 port 1-10\npass tcp from 10.0.0.0/8 port 11-20\n"
			 "drop tcp from 10.0.0.0/8 port 1-20\n") == 0);
	CHECK(rs.nwarnings == 0);
	CHECK(vigil_fw_compile(&rs, &t, err, sizeof(err)) == 0);
	CHECK(rs.nwarnings == 1);
	CHECK(rs.ndiags == 1 && rs.diags[0].line == 3);
	vigil_fw_table_free(&t);
	vigil_rules_free(&rs);
}

/* each case: packet -> expected winning line (0: default) */
static void test_precedence(void)
{
	struct vigil_rules rs;
	struct vigil_fw_table t = { 0 };	/* zero limits: the defaults */
	char err[200];
	const char *text =
		"drop from 10.0.0.0/8\n"			/* 1 */
		"pass from 10.1.0.0/16\n"			/* 2: longer source wins */
		"drop tcp from 10.1.0.0/16 to 192.168.0.0/16\n"	/* 3: same source, longer dest wins */
		"pass from 10.1.0.0/16 to 192.168.0.0/16\n"	/* 4: same prefixes, protocol beats any */
		"drop udp from 10.1.0.0/16 to 192.168.0.0/16 port 50-60\n"  /* 5 */
		"pass udp from 10.1.0.0/16 to 192.168.0.0/16 port 53\n"     /* 6: narrower range wins */
		"drop udp from 10.1.0.0/16 to 192.168.0.0/16 port 55-57\n"  /* 7 */
		"pass udp from 10.1.0.0/16 to 192.168.0.0/16 port 57-59\n"  /* 8: same width: earlier (7) wins */
		"drop tcp port 22\n"				/* 9 */
		"pass tcp to 172.16.0.1 port 22\n"		/* 10: a destination beats none */
		"drop from 2001:db8::/32\n"			/* 11 */
		"pass icmpv6 from 2001:db8::/32\n"		/* 12 */
		"drop icmp\n"					/* 13: IPv4 only */
		"drop tcp from 10.2.0.0/16 to 10.3.0.0/16 port 80\n"	/* 14 */
		"default pass\n";
	static const struct pkt_case cases[] = {
		{ "10.9.9.9", "1.1.1.1", 6, 80, 1 },
		{ "10.1.2.3", "1.1.1.1", 6, 80, 2 },
		{ "10.1.2.3", "192.168.5.5", 6, 80, 3 },
		{ "10.1.2.3", "192.168.5.5", 17, 80, 4 },
		{ "10.1.2.3", "192.168.5.5", 1, 0, 4 },
		{ "10.1.2.3", "192.168.5.5", 17, 50, 5 },
		{ "10.1.2.3", "192.168.5.5", 17, 53, 6 },
		{ "10.1.2.3", "192.168.5.5", 17, 57, 7 },
		{ "10.1.2.3", "192.168.5.5", 17, 58, 8 },
		{ "10.1.2.3", "192.168.5.5", 17, 61, 4 },
		{ "11.0.0.1", "172.16.0.1", 6, 22, 10 },
		{ "11.0.0.1", "172.16.0.2", 6, 22, 9 },
		{ "11.0.0.1", "172.16.0.2", 6, 23, 0 },
		{ "11.0.0.1", "172.16.0.2", 1, 0, 13 },
		{ "2001:db8::1", "2001:db9::1", 6, 22, 11 },
		{ "2001:db8::1", "2001:db9::1", 58, 0, 12 },
		{ "2001:db9::1", "2001:db9::1", 58, 0, 0 },
		{ "2001:db9::1", "2001:db9::1", 1, 0, 0 },	/* icmp rule is IPv4 only */
		{ "2001:db9::1", "2001:db9::1", 6, 22, 9 },	/* no address: both families */
		{ "10.2.0.1", "10.3.0.1", 6, 80, 14 },
		{ "10.2.0.1", "10.3.0.1", 6, 81, 1 },	/* falls back to the /8 source rule */
		{ "10.2.0.1", "10.3.0.1", 47, 0, 1 },	/* an unnamed protocol */
	};

	CHECK(parse(&rs, text) == 0);
	CHECK(vigil_fw_compile(&rs, &t, err, sizeof(err)) == 0);
	check_cases("precedence", &rs, &t, cases, sizeof(cases) / sizeof(cases[0]));
	vigil_fw_table_free(&t);
	vigil_rules_free(&rs);
}

/*
 * Host addresses live in hash maps looked up before the tries: a host entry
 * must win over a covering shorter prefix for the same address, on both
 * sides, v4 and v6, and a host-map miss must fall back to the trie (or the
 * family root when the trie has nothing else). Also: IPv4 rules never apply
 * to IPv6 packets carrying IPv4-mapped addresses.
 */
static void test_hosts(void)
{
	struct vigil_rules rs;
	struct vigil_fw_table t = { 0 };
	char err[200];
	const char *text =
		"drop from 10.1.0.0/16\n"			/* 1 */
		"pass from 10.1.2.3\n"				/* 2: host beats the /16 */
		"drop tcp from 10.1.2.4 port 80\n"		/* 3: host with a port */
		"drop from 2001:db8::/32\n"			/* 4 */
		"pass from 2001:db8::1\n"			/* 5 */
		"drop to 192.168.0.0/16\n"			/* 6 */
		"pass udp to 192.168.1.1\n"			/* 7 */
		"drop to 2001:db8:1::/48\n"			/* 8 */
		"pass to 2001:db8:1::5\n"			/* 9 */
		"drop from ::/64\n"				/* 10: contains ::ffff:0:0/96 */
		"default pass\n";
	static const struct pkt_case cases[] = {
		{ "10.1.2.3", "1.1.1.1", 6, 80, 2 },
		{ "10.1.2.5", "1.1.1.1", 6, 80, 1 },		/* host miss: the /16 */
		{ "10.1.2.4", "1.1.1.1", 6, 80, 3 },
		{ "10.1.2.4", "1.1.1.1", 6, 81, 1 },		/* host's port misses: the /16 */
		{ "10.1.2.4", "1.1.1.1", 17, 80, 1 },
		{ "2001:db8::1", "2002::1", 6, 80, 5 },
		{ "2001:db8::2", "2002::1", 6, 80, 4 },
		{ "11.0.0.1", "192.168.1.1", 17, 53, 7 },
		{ "11.0.0.1", "192.168.1.1", 6, 53, 6 },	/* udp-only host rule */
		{ "11.0.0.1", "192.168.1.2", 17, 53, 6 },
		{ "2002::1", "2001:db8:1::5", 6, 80, 9 },
		{ "2002::1", "2001:db8:1::6", 6, 80, 8 },
		{ "10.1.2.3", "192.168.1.1", 17, 53, 2 },	/* source specificity first */
		/* IPv6 packets with IPv4-mapped addresses: only IPv6 and family-less rules */
		{ "::ffff:10.1.2.3", "2002::1", 6, 80, 10 },
		{ "::ffff:10.9.9.9", "::ffff:192.168.1.1", 17, 53, 10 },
		{ "2002::1", "::ffff:192.168.1.1", 17, 53, 0 },
	};

	CHECK(parse(&rs, text) == 0);
	CHECK(vigil_fw_compile(&rs, &t, err, sizeof(err)) == 0);
	CHECK(t.src.nhosts == 3 && t.dst.nhosts == 2);
	/* distinct lengths per family, longest first, without the roots */
	CHECK(t.gen.src_lens.n4 == 2 && t.gen.src_lens.v4[0] == 32 && t.gen.src_lens.v4[1] == 16);
	CHECK(t.gen.src_lens.n6 == 3 && t.gen.src_lens.v6[0] == 128 && t.gen.src_lens.v6[1] == 64 &&
	      t.gen.src_lens.v6[2] == 32);
	CHECK(t.gen.dst_lens.n4 == 2 && t.gen.dst_lens.v4[0] == 32 && t.gen.dst_lens.v4[1] == 16);
	CHECK(t.gen.dst_lens.n6 == 2 && t.gen.dst_lens.v6[0] == 128 && t.gen.dst_lens.v6[1] == 48);
	CHECK(t.src.n4 == 3 && t.src.n6 == 3 && t.dst.n4 == 2 && t.dst.n6 == 2);
	check_cases("hosts", &rs, &t, cases, sizeof(cases) / sizeof(cases[0]));
	vigil_fw_table_free(&t);
	vigil_rules_free(&rs);

	/* hosts only: the tries are skipped, a miss is the family root's class */
	CHECK(parse(&rs, "drop from 10.0.0.1\ndrop udp from 2001:db8::1\npass from 10.0.0.2 to 10.0.0.3\n"
			 "drop icmp\n") == 0);
	memset(&t, 0, sizeof(t));
	CHECK(vigil_fw_compile(&rs, &t, err, sizeof(err)) == 0);
	/* hosts only: one probe per family, a miss is the family root's class */
	CHECK(t.gen.src_lens.n4 == 1 && t.gen.src_lens.v4[0] == 32);
	CHECK(t.gen.src_lens.n6 == 1 && t.gen.src_lens.v6[0] == 128);
	CHECK(t.gen.dst_lens.n4 == 1 && t.gen.dst_lens.n6 == 0);
	{
		static const struct { const char *s, *d; int proto; uint32_t rule; } c2[] = {
			{ "10.0.0.1", "1.1.1.1", 6, 1 }, { "10.0.0.9", "1.1.1.1", 1, 4 },
			{ "10.0.0.9", "1.1.1.1", 6, 0 }, { "2001:db8::1", "2002::1", 17, 2 },
			{ "2001:db8::1", "2002::1", 6, 0 }, { "10.0.0.2", "10.0.0.3", 1, 3 },
			{ "10.0.0.2", "10.0.0.4", 1, 4 }, { "::ffff:10.0.0.1", "2002::1", 6, 0 },
		};

		for (size_t i = 0; i < sizeof(c2) / sizeof(c2[0]); i++) {
			struct vigil_fw_pkt p = pkt(c2[i].s, c2[i].d, c2[i].proto, 0);

			CHECK(vigil_fw_eval(&rs, &p) == c2[i].rule);
			CHECK(vigil_fw_simulate(&t, &p) == c2[i].rule);
		}
	}
	vigil_fw_table_free(&t);
	vigil_rules_free(&rs);

	/* trie classes decide alone too, but never the roots (reached without a lookup) */
	CHECK(parse(&rs, "drop from 10.0.0.0/8\npass tcp from 11.0.0.0/8\ndrop\n") == 0);
	memset(&t, 0, sizeof(t));
	CHECK(vigil_fw_compile(&rs, &t, err, sizeof(err)) == 0);
	CHECK(t.src.n4 == 2 && t.src.n6 == 0);	/* the roots have no entries */
	for (uint32_t i = 0; i < t.src.n4; i++) {
		const struct vigil_fw_addr4_key *k = &t.src.keys4[i];
		bool ten = k->prefixlen == 8 && k->addr[0] == 10;

		CHECK(!!(t.src.vals4[i].flags & VIGIL_FW_C_DECIDED) == ten);
		if (ten)
			CHECK(t.src.vals4[i].v.rule_id == 1);
	}
	{
		struct vigil_fw_pkt p1 = pkt("10.1.1.1", "1.1.1.1", 6, 80), p2 = pkt("11.1.1.1", "1.1.1.1", 6, 80);
		struct vigil_fw_pkt p3 = pkt("11.1.1.1", "1.1.1.1", 17, 80), p4 = pkt("12.1.1.1", "1.1.1.1", 6, 80);

		CHECK(vigil_fw_simulate(&t, &p1) == 1 && vigil_fw_eval(&rs, &p1) == 1);
		CHECK(vigil_fw_simulate(&t, &p2) == 2 && vigil_fw_eval(&rs, &p2) == 2);
		CHECK(vigil_fw_simulate(&t, &p3) == 3 && vigil_fw_eval(&rs, &p3) == 3);
		CHECK(vigil_fw_simulate(&t, &p4) == 3 && vigil_fw_eval(&rs, &p4) == 3);
	}
	vigil_fw_table_free(&t);
	vigil_rules_free(&rs);
}

/*
 * The address maps: one entry per prefix (not the roots), keyed by the length
 * in the rule's family and the masked address; the lengths listed once each,
 * longest first. With every length present (32 IPv4, 128 IPv6), each packet
 * must still land on its longest match, as the reference says.
 */
static void test_lengths(void)
{
	size_t cap = 200 * 64, o = 0;
	char *text = malloc(cap);
	struct vigil_rules rs;
	struct vigil_fw_table t = { 0 };
	char err[200], a[64];
	uint8_t want[16];

	/* 10.0.0.0/8 twice over (a duplicate) and a nested /16: two lengths */
	CHECK(parse(&rs, "drop from 10.0.0.0/8\npass from 10.1.0.0/16 to 2.0.0.0/8\n"
			 "drop from 10.0.0.0/8\npass to 2001:db8::/32\n") == 0);
	CHECK(vigil_fw_compile(&rs, &t, err, sizeof(err)) == 0);
	CHECK(t.src.n4 == 2 && t.src.n6 == 0 && t.src.nhosts == 0);
	CHECK(t.gen.src_lens.n4 == 2 && t.gen.src_lens.v4[0] == 16 && t.gen.src_lens.v4[1] == 8);
	CHECK(t.gen.src_lens.n6 == 0);
	/* two lengths: probed in the hash (auto), no trie flag */
	CHECK(!(t.gen.flags & (VIGIL_FW_G_SRC4_TRIE | VIGIL_FW_G_SRC6_TRIE | VIGIL_FW_G_DST4_TRIE |
			       VIGIL_FW_G_DST6_TRIE)));
	CHECK(t.gen.dst_lens.n4 == 1 && t.gen.dst_lens.v4[0] == 8);
	CHECK(t.gen.dst_lens.n6 == 1 && t.gen.dst_lens.v6[0] == 32);
	for (uint32_t i = 0; i < t.src.n4; i++) {
		const struct vigil_fw_addr4_key *k = &t.src.keys4[i];

		/* the IPv4 length, not the mapped one (8, not 104); address bytes only */
		CHECK((k->prefixlen == 8 && !memcmp(k->addr, "\x0a\0\0\0", 4)) ||
		      (k->prefixlen == 16 && !memcmp(k->addr, "\x0a\x01\0\0", 4)));
		CHECK(t.src.vals4[i].id != t.gen.src_root4 && t.src.vals4[i].id != t.gen.src_root6);
	}
	vigil_fw_addr_parse("2001:db8::", want);
	CHECK(t.dst.n6 == 1 && t.dst.keys6[0].prefixlen == 32 && !memcmp(t.dst.keys6[0].addr, want, 16));
	vigil_fw_table_free(&t);
	vigil_rules_free(&rs);

	/* every length, nested: rule L covers the addresses whose first L bits are
	 * all one, so an address whose first zero bit is bit l (host bits after
	 * it set again) has every rule up to l as a match, and /l the longest */
	for (int l = 1; l <= 32; l++) {
		uint32_t v = (uint32_t)(0xffffffff00000000ull >> l);

		o += snprintf(text + o, cap - o, "drop from %u.%u.%u.%u/%d\n", v >> 24, (v >> 16) & 255,
			      (v >> 8) & 255, v & 255, l);
	}
	for (int l = 1; l <= 128; l++) {
		uint8_t b[16] = { 0 };

		for (int bit = 0; bit < l; bit++)
			b[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
		inet_ntop(AF_INET6, b, a, sizeof(a));
		o += snprintf(text + o, cap - o, "pass from %s/%d\n", a, l);
	}
	o += snprintf(text + o, cap - o, "default drop\n");
	CHECK(vigil_rules_parse(&rs, "all", text, o) == 0);
	memset(&t, 0, sizeof(t));
	CHECK(vigil_fw_compile(&rs, &t, err, sizeof(err)) == 0);
	CHECK(t.gen.src_lens.n4 == 32 && t.gen.src_lens.n6 == 128);
	for (int i = 0; i < 32; i++)
		CHECK(t.gen.src_lens.v4[i] == 32 - i);
	for (int i = 0; i < 128; i++)
		CHECK(t.gen.src_lens.v6[i] == 128 - i);
	CHECK(t.src.nhosts == 2);	/* 255.255.255.255/32 and ffff:...:ffff/128 */
	/* past vigil_fw_trie_lens() lengths, auto takes the trie on the sides
	 * and families that have them (no destinations here) */
	CHECK((t.gen.flags & (VIGIL_FW_G_SRC4_TRIE | VIGIL_FW_G_SRC6_TRIE)) ==
	      (VIGIL_FW_G_SRC4_TRIE | VIGIL_FW_G_SRC6_TRIE));
	CHECK(!(t.gen.flags & (VIGIL_FW_G_DST4_TRIE | VIGIL_FW_G_DST6_TRIE)));
	for (int l = 1; l <= 32; l++) {
		uint32_t v = ~(0x80000000u >> l);	/* bit l clear (none when l = 32) */
		struct vigil_fw_pkt p;

		if (l == 32)
			v = 0xffffffff;
		snprintf(a, sizeof(a), "%u.%u.%u.%u", v >> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255);
		p = pkt(a, "1.1.1.1", 17, 53);
		CHECK(vigil_fw_eval(&rs, &p) == (uint32_t)l);
		CHECK(vigil_fw_simulate(&t, &p) == (uint32_t)l);
	}
	for (int l = 1; l <= 128; l++) {
		uint8_t b[16];
		struct vigil_fw_pkt p;

		memset(b, 0xff, sizeof(b));
		if (l < 128)
			b[l / 8] &= (uint8_t)~(0x80 >> (l % 8));
		inet_ntop(AF_INET6, b, a, sizeof(a));
		p = pkt(a, "2002::1", 17, 53);
		CHECK(vigil_fw_eval(&rs, &p) == (uint32_t)(32 + l));
		CHECK(vigil_fw_simulate(&t, &p) == (uint32_t)(32 + l));
	}
	/* no match in the family: the root, i.e. the default */
	{
		struct vigil_fw_pkt p4 = pkt("127.0.0.1", "1.1.1.1", 17, 53), p6 = pkt("2002::1", "::1", 17, 53);

		CHECK(vigil_fw_simulate(&t, &p4) == 0 && vigil_fw_eval(&rs, &p4) == 0);
		CHECK(vigil_fw_simulate(&t, &p6) == 0 && vigil_fw_eval(&rs, &p6) == 0);
	}
	vigil_fw_table_free(&t);
	/* forced: hash keeps probing 32 + 128 lengths; the lengths stay listed */
	memset(&t, 0, sizeof(t));
	t.lookup = VIGIL_FW_LOOKUP_HASH;
	CHECK(vigil_fw_compile(&rs, &t, err, sizeof(err)) == 0);
	CHECK(!(t.gen.flags & (VIGIL_FW_G_SRC4_TRIE | VIGIL_FW_G_SRC6_TRIE)));
	CHECK(t.gen.src_lens.n4 == 32 && t.lookup == VIGIL_FW_LOOKUP_HASH);
	vigil_fw_table_free(&t);
	vigil_rules_free(&rs);
	/* forced trie: only where a family has prefixes (none for IPv6 here) */
	CHECK(parse(&rs, "drop from 10.0.0.0/8\npass to 10.1.2.3\n") == 0);
	memset(&t, 0, sizeof(t));
	t.lookup = VIGIL_FW_LOOKUP_TRIE;
	CHECK(vigil_fw_compile(&rs, &t, err, sizeof(err)) == 0);
	CHECK((t.gen.flags & (VIGIL_FW_G_SRC4_TRIE | VIGIL_FW_G_SRC6_TRIE | VIGIL_FW_G_DST4_TRIE |
			      VIGIL_FW_G_DST6_TRIE)) == (VIGIL_FW_G_SRC4_TRIE | VIGIL_FW_G_DST4_TRIE));
	vigil_fw_table_free(&t);
	vigil_rules_free(&rs);
	free(text);
}

/* where --lookup auto switches to the trie: the measured crossover */
static void test_trie_lens(void)
{
	CHECK(vigil_fw_trie_lens(0) == 7 && vigil_fw_trie_lens(1) == 7 && vigil_fw_trie_lens(99) == 7);
	CHECK(vigil_fw_trie_lens(100) == 7);
	CHECK(vigil_fw_trie_lens(1000) == 10 && vigil_fw_trie_lens(9999) == 10);
	CHECK(vigil_fw_trie_lens(10000) == 13 && vigil_fw_trie_lens(100000) == 16);
	CHECK(vigil_fw_trie_lens(UINT32_MAX) == 28);
}

/* counter slots across a reload: unchanged rules keep theirs, the rest get free ones */
static void test_ctr_slots(void)
{
	struct vigil_rules a, b;
	uint32_t fresh[16], nfresh = 99;
	struct vigil_fw_table t = { 0 };
	char err[200];

	CHECK(parse(&a, "drop from 10.0.0.1\npass tcp port 22\ndrop udp to 10.9.0.0/16 port 53\n"
			"ratelimit 10/s icmp\ndrop from 10.0.0.7\ndrop from 10.0.0.7\ndefault drop\n") == 0);
	/* the parser's slots are the rule ids */
	for (uint32_t i = 0; i < a.n; i++)
		CHECK(a.rules[i].ctr == i);
	/* pretend the running set had other slots */
	for (uint32_t i = 0; i < a.n; i++)
		a.rules[i].ctr = 100 + 2 * i;
	/* reordered; rule 3 changed (port), the rate limit's rate changed, one
	 * duplicate of three is new, a new rule; the default is unchanged */
	CHECK(parse(&b, "default drop\ndrop from 10.0.0.7\npass tcp port 22\n"
			"drop udp to 10.9.0.0/16 port 54\nratelimit 20/s icmp\ndrop from 10.0.0.1\n"
			"drop from 10.0.0.7\ndrop from 10.0.0.7\npass from 10.0.0.1\n") == 0);
	CHECK(b.n == 9);
	CHECK(vigil_fw_ctr_assign(a.rules, a.n, &b, fresh, &nfresh) == 0);
	CHECK(b.rules[0].ctr == 100);		/* default */
	CHECK(b.rules[1].ctr == 110 || b.rules[1].ctr == 112);	/* 10.0.0.7, old 5 or 6 */
	CHECK(b.rules[2].ctr == 104);		/* tcp port 22, old 2 */
	CHECK(b.rules[5].ctr == 102);		/* 10.0.0.1, old 1 */
	CHECK(b.rules[6].ctr == 110 || b.rules[6].ctr == 112);
	CHECK(b.rules[1].ctr != b.rules[6].ctr);
	CHECK(nfresh == 4);			/* port 54, 20/s, the third 10.0.0.7, pass from */
	for (uint32_t i = 0; i < nfresh; i++) {
		CHECK(fresh[i] < VIGIL_FW_MAX_CTRS);
		/* never a slot of the running set, never twice */
		for (uint32_t k = 0; k < a.n; k++)
			CHECK(fresh[i] != a.rules[k].ctr);
		for (uint32_t k = 0; k < i; k++)
			CHECK(fresh[i] != fresh[k]);
	}
	{
		uint32_t seen = 0;

		for (uint32_t i = 0; i < b.n; i++)
			for (uint32_t k = 0; k < nfresh; k++)
				seen += b.rules[i].ctr == fresh[k];
		CHECK(seen == nfresh);
	}
	/* the verdicts carry the slots: compile, then copy them in */
	CHECK(vigil_fw_compile(&b, &t, err, sizeof(err)) == 0);
	vigil_fw_table_set_ctrs(&t, &b);
	CHECK(t.gen.dflt.ctr == 100);
	for (uint32_t i = 0; i < t.src.n4; i++)
		if (t.src.vals4[i].flags & VIGIL_FW_C_DECIDED)
			CHECK(t.src.vals4[i].v.ctr == b.rules[t.src.vals4[i].v.rule_id].ctr);
	for (uint32_t i = 0; i < t.ncombo; i++)
		if (!(t.cvals[i].flags & VIGIL_FW_V_PORTS))
			CHECK(t.cvals[i].ctr == b.rules[t.cvals[i].rule_id].ctr);
	for (uint32_t i = 0; i < t.nmatch; i++)
		CHECK(t.mvals[i].ctr == b.rules[t.mvals[i].rule_id].ctr);
	CHECK(t.ncombo > 0 && t.nmatch > 0);
	vigil_fw_table_free(&t);
	/* a bad slot in the running set is refused */
	a.rules[3].ctr = VIGIL_FW_MAX_CTRS;
	CHECK(vigil_fw_ctr_assign(a.rules, a.n, &b, fresh, &nfresh) < 0);
	vigil_rules_free(&a);
	vigil_rules_free(&b);

	/* both sets full and disjoint: the fresh slots still fit */
	{
		uint32_t n = VIGIL_FW_MAX_RULES + 1, *fr = malloc(n * sizeof(uint32_t)), nf = 0, bad = 0;
		struct vigil_fw_rule *old = calloc(n, sizeof(*old));
		struct vigil_rules big = { .n = n, .rules = calloc(n, sizeof(struct vigil_fw_rule)) };

		for (uint32_t i = 0; i < n; i++) {
			old[i].port_lo = old[i].port_hi = (uint16_t)i;
			old[i].src[0] = (uint8_t)(i >> 16);
			old[i].ctr = i;
			big.rules[i] = old[i];
			big.rules[i].action = VIGIL_FW_DROP;	/* every rule differs from its old self */
		}
		CHECK(vigil_fw_ctr_assign(old, n, &big, fr, &nf) == 0);
		CHECK(nf == n);
		for (uint32_t i = 0; i < n; i++)
			bad += big.rules[i].ctr != n + i;
		CHECK(bad == 0);
		free(fr);
		free(old);
		free(big.rules);
	}
}

/* the port map: aligned blocks, keyed with their size; the combination lists the sizes */
static void test_port_blocks(void)
{
	struct vigil_rules rs;
	struct vigil_fw_table t = { 0 };
	char err[200];
	uint32_t ports = 0, vports = 0;

	/* 1-100: 1, 2-3, 4-7, 8-15, 16-31, 32-63, 64-95, 96-99, 100 */
	CHECK(parse(&rs, "drop udp from 10.0.0.1 port 1-100\n") == 0);
	CHECK(vigil_fw_compile(&rs, &t, err, sizeof(err)) == 0);
	CHECK(t.nmatch == 9);
	for (uint32_t i = 0; i < t.ncombo; i++) {
		if (!(t.cvals[i].flags & VIGIL_FW_V_PORTS))
			continue;
		vports++;
		CHECK(t.cvals[i].plens == ((1u << 16) | (1u << 15) | (1u << 14) | (1u << 13) |
					   (1u << 12) | (1u << 11)));
	}
	CHECK(vports == 1);
	for (uint32_t i = 0; i < t.nmatch; i++) {
		const struct vigil_fw_port_key *k = &t.mkeys[i];
		uint16_t port = ntohs(k->port), size = (uint16_t)(1u << (16 - k->bits));

		CHECK(k->bits <= 16 && (port & (size - 1)) == 0);	/* aligned */
		CHECK(port >= 1 && port + size - 1 <= 100);
		CHECK(k->proto == 17 && t.mvals[i].rule_id == 1);
		ports += size;
	}
	CHECK(ports == 100);
	for (int port = 0; port < 200; port++) {
		struct vigil_fw_pkt p = pkt("10.0.0.1", "1.1.1.1", 17, port);

		CHECK(vigil_fw_simulate(&t, &p) == (port >= 1 && port <= 100 ? 1u : 0u));
	}
	vigil_fw_table_free(&t);
	vigil_rules_free(&rs);
}

/* random rule sets over a small address pool: the tables must agree with the reference */
static void test_differential(void)
{
	static const char *pfx4[] = { "10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.1.2.3", "10.1.2.4/31",
				      "192.168.0.0/16", "192.168.1.0/24", "0.0.0.0/0", "10.128.0.0/9" };
	static const char *pfx6[] = { "2001:db8::/32", "2001:db8:1::/48", "2001:db8:1::1", "::/0", "fe80::/10",
				      "::/64" };
	static const char *addr4[] = { "10.1.2.3", "10.1.2.4", "10.1.2.5", "10.2.0.1", "192.168.1.1",
				       "192.168.2.1", "8.8.8.8", "10.200.0.1" };
	/* the last two: IPv4-mapped, which IPv4 rules must not match */
	static const char *addr6[] = { "2001:db8::5", "2001:db8:1::1", "2001:db8:1::2", "fe80::1", "2002::1",
				       "::ffff:10.1.2.3", "::ffff:192.168.1.1" };
	static const char *protos[] = { "", "tcp ", "udp ", "icmp ", "icmpv6 ", "any " };
	static const int pkt_protos[] = { 6, 17, 1, 58, 47 };
	unsigned seed = 12345;
	int mismatches = 0, total = 0;

	for (int iter = 0; iter < 300; iter++) {
		char text[8192];
		size_t o = 0;
		int nrules = 1 + rand_r(&seed) % 25;
		struct vigil_rules rs;
		struct vigil_fw_table t = { 0 };	/* zero limits: the defaults */
		char err[200];

		for (int i = 0; i < nrules; i++) {
			int v6 = rand_r(&seed) % 3 == 0;
			int pr = rand_r(&seed) % 6;
			const char *act = rand_r(&seed) % 2 ? "drop" : "pass";

			if ((pr == 3 && v6) || (pr == 4 && !v6))
				pr = 0;
			o += snprintf(text + o, sizeof(text) - o, "%s %s", act, protos[pr]);
			if (rand_r(&seed) % 2)
				o += snprintf(text + o, sizeof(text) - o, "from %s ",
					      v6 ? pfx6[rand_r(&seed) % 6] : pfx4[rand_r(&seed) % 9]);
			if (rand_r(&seed) % 2)
				o += snprintf(text + o, sizeof(text) - o, "to %s ",
					      v6 ? pfx6[rand_r(&seed) % 6] : pfx4[rand_r(&seed) % 9]);
			if ((pr == 1 || pr == 2) && rand_r(&seed) % 2) {
				int lo = rand_r(&seed) % 40, hi = lo + rand_r(&seed) % 20;

				o += snprintf(text + o, sizeof(text) - o, "port %d-%d", lo, hi);
			}
			o += snprintf(text + o, sizeof(text) - o, "\n");
		}
		if (parse(&rs, text)) {
			fprintf(stderr, "generated rules did not parse:\n%s", text);
			vigil_rules_print_diags(&rs, stderr);
			CHECK(0);
			vigil_rules_free(&rs);
			continue;
		}
		CHECK(vigil_fw_compile(&rs, &t, err, sizeof(err)) == 0);
		for (int k = 0; k < 200; k++) {
			int v6 = rand_r(&seed) % 2;
			struct vigil_fw_pkt p = pkt(v6 ? addr6[rand_r(&seed) % 7] : addr4[rand_r(&seed) % 8],
						    v6 ? addr6[rand_r(&seed) % 7] : addr4[rand_r(&seed) % 8],
						    pkt_protos[rand_r(&seed) % 5], 0);

			if (p.proto == 6 || p.proto == 17)
				p.dport = (uint16_t)(rand_r(&seed) % 70);
			total++;
			if (vigil_fw_eval(&rs, &p) != vigil_fw_simulate(&t, &p)) {
				if (!mismatches++)
					fprintf(stderr, "mismatch (eval %u sim %u) on rules:\n%s",
						vigil_fw_eval(&rs, &p), vigil_fw_simulate(&t, &p), text);
			}
		}
		vigil_fw_table_free(&t);
		vigil_rules_free(&rs);
	}
	CHECK(mismatches == 0);
	CHECK(total == 300 * 200);
}

/* many rules: compiles, lookups stay three tries, entry count linear */
static void test_scale(void)
{
	size_t cap = 100000 * 40, o = 0;
	char *text = malloc(cap);
	struct vigil_rules rs;
	struct vigil_fw_table t = { 0 };	/* zero limits: the defaults */
	char err[200];

	for (int i = 0; i < 100000; i++)
		o += snprintf(text + o, cap - o, "drop from 10.%d.%d.%d\n", i >> 16, (i >> 8) & 255, i & 255);
	CHECK(vigil_rules_parse(&rs, "big", text, o) == 0);
	CHECK(rs.n == 100001);
	CHECK(vigil_fw_compile(&rs, &t, err, sizeof(err)) == 0);
	/* host rules: all in the source hash, the trie keeps only the two roots and
	 * is not consulted; every host decides its packets alone, so no
	 * combination entries at all */
	CHECK(t.src.nhosts == 100000 && t.src.n4 == 100000 && t.src.n6 == 0);
	CHECK(t.gen.src_lens.n4 == 1 && t.gen.src_lens.v4[0] == 32 && t.gen.src_lens.n6 == 0);
	CHECK(t.gen.dst_lens.n4 == 0 && t.gen.dst_lens.n6 == 0);
	CHECK(t.src.vals4[66051].flags == VIGIL_FW_C_DECIDED);
	CHECK(t.src.vals4[66051].v.rule_id == 66051 + 1);
	CHECK(t.src.vals4[66051].v.action == VIGIL_FW_DROP);
	CHECK(t.ncombo == 0);
	CHECK(t.nmatch == 0);
	struct vigil_fw_pkt p = pkt("10.1.2.3", "1.1.1.1", 6, 80);
	CHECK(vigil_fw_eval(&rs, &p) == 66051 + 1);
	CHECK(vigil_fw_simulate(&t, &p) == 66051 + 1);
	vigil_fw_table_free(&t);
	vigil_rules_free(&rs);

	/* the combination limit is an error, not a crash (tcp: sources that do
	 * not decide alone, so every source x destination pair needs entries) */
	CHECK(parse(&rs, "drop tcp from 10.0.0.0/8\ndrop tcp from 11.0.0.0/8\ndrop to 12.0.0.0/8\n"
			 "drop to 13.0.0.0/8\n") == 0);
	memset(&t, 0, sizeof(t));
	t.max_combo = 3;
	CHECK(vigil_fw_compile(&rs, &t, err, sizeof(err)) < 0);
	CHECK(strstr(err, "combinations") != NULL);
	vigil_rules_free(&rs);
	CHECK(parse(&rs, "drop tcp from 10.0.0.0/8 port 1-100\ndrop tcp to 12.0.0.0/8 port 5000\n") == 0);
	memset(&t, 0, sizeof(t));
	t.max_match = 3;
	CHECK(vigil_fw_compile(&rs, &t, err, sizeof(err)) < 0);
	CHECK(strstr(err, "port combination entries") != NULL);
	vigil_rules_free(&rs);
	free(text);
}

int main(void)
{
	test_valid();
	test_errors();
	test_warnings();
	test_precedence();
	test_hosts();
	test_lengths();
	test_trie_lens();
	test_ctr_slots();
	test_port_blocks();
	test_differential();
	test_scale();
	return check_done("test_rules");
}
