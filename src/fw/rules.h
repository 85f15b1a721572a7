/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Firewall rules: the text format, its strict parser, and the compiler that
 * turns a rule list into the lookup tables the XDP program reads.
 *
 * Pure logic, no BPF calls: unit tests and the fuzzer link it directly.
 * The grammar and the precedence are documented in docs/firewall.md.
 */
#ifndef VIGIL_FW_RULES_H
#define VIGIL_FW_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "vigil/fw.h"

#define VIGIL_DIAG_MSG 200
#define VIGIL_DIAG_MAX 100	/* more errors than this are counted, not kept */

struct vigil_diag {
	uint32_t line;		/* 1-based; 0 when about the whole file */
	uint32_t col;		/* 1-based byte column; 0 when about the line */
	bool warning;
	char msg[VIGIL_DIAG_MSG];
};

struct vigil_rules {
	const char *name;		/* file name, for messages */
	struct vigil_fw_rule *rules;	/* [0] is the default policy, then file order */
	uint32_t n;			/* including the default */
	uint32_t cap;
	struct vigil_diag *diags;
	uint32_t ndiags, cap_diags;
	uint32_t nerrors, nwarnings;
};

/*
 * Parse text (len bytes, not NUL-terminated). Returns the number of errors;
 * a non-zero result means the rule list must not be used. Warnings
 * (duplicates, later shadowed rules) do not count as errors.
 */
int vigil_rules_parse(struct vigil_rules *rs, const char *name, const char *text, size_t len);
/* read and parse a file; an unreadable file is one error at line 0 */
int vigil_rules_parse_file(struct vigil_rules *rs, const char *path);
void vigil_rules_free(struct vigil_rules *rs);
/* "file:line:col: error: msg", one per line */
void vigil_rules_print_diags(const struct vigil_rules *rs, FILE *f);

/* canonical text of a rule, e.g. "drop tcp from 10.0.0.0/8 port 22-25" */
void vigil_fw_rule_format(const struct vigil_fw_rule *r, char *buf, size_t n);
const char *vigil_fw_action_name(uint32_t action);
const char *vigil_fw_proto_name(uint8_t proto);
/* < 0 when a takes precedence over b (more specific, then earlier) */
int vigil_fw_precedence_cmp(const struct vigil_fw_rule *a, const struct vigil_fw_rule *b);

/* ---- compiled tables: exactly the entries of the BPF maps ---- */

/*
 * Per side (source, destination) and family: every prefix except the family
 * roots, keyed by (length, masked address), and the distinct lengths longest
 * first (in gen.src_lens / gen.dst_lens). An address's class is the first
 * hit probing the lengths in that order (its longest matching prefix), else
 * its family root. Hosts (/32, /128) are just the longest length.
 */
struct vigil_fw_side_table {
	struct vigil_fw_addr4_key *keys4;
	struct vigil_fw_class *vals4;		/* class, and for sources maybe the verdict */
	uint32_t n4;
	struct vigil_fw_addr6_key *keys6;
	struct vigil_fw_class *vals6;
	uint32_t n6;
	uint32_t nhosts;			/* entries of length 32 (v4) or 128 (v6) */
};

struct vigil_fw_table {
	struct vigil_fw_side_table src, dst;
	/* combination hash: (src class, dst class, proto) -> verdict or "see ports" */
	struct vigil_fw_combo_key *ckeys;
	struct vigil_fw_verdict *cvals;
	uint32_t ncombo, cap_combo;
	uint32_t max_combo;		/* limit, VIGIL_FW_MAX_COMBOS unless a test lowers it */
	/* port hash: only combinations whose verdict depends on the port */
	struct vigil_fw_port_key *mkeys;
	struct vigil_fw_verdict *mvals;
	uint32_t nmatch, cap_match;
	uint32_t max_match;		/* limit, VIGIL_FW_MAX_MATCH unless a test lowers it */
	struct vigil_fw_gen gen;	/* flags, root classes, default verdict */
	/* how prefixes are looked up, per side and family: VIGIL_FW_LOOKUP_AUTO
	 * (0) takes an LPM trie past vigil_fw_trie_lens() distinct lengths */
	uint32_t lookup;
};

enum { VIGIL_FW_LOOKUP_AUTO, VIGIL_FW_LOOKUP_HASH, VIGIL_FW_LOOKUP_TRIE };

/* --lookup auto: the most distinct prefix lengths a side and family with
 * this many prefixes probes in the hash; more take the LPM trie */
uint32_t vigil_fw_trie_lens(uint32_t prefixes);

/*
 * Build the tables into t, which must be zeroed or hold only the limits
 * (max_combo, max_match; 0 for the defaults) and the lookup choice. Adds "never matches" warnings to rs for rules that win
 * no packet. Returns 0, or -1 with a reason in err (e.g. too many entries).
 */
int vigil_fw_compile(struct vigil_rules *rs, struct vigil_fw_table *t, char *err, size_t errlen);
void vigil_fw_table_free(struct vigil_fw_table *t);

/*
 * Counter slots for a new rule set rs, given the running set's rules (old,
 * nold, each with its slot in ctr): a rule equal to a running one (what it
 * matches and does, whatever its line; duplicates pair up in order) takes
 * over its slot, so its counters go on across the reload. Every other rule
 * gets a slot below VIGIL_FW_MAX_CTRS that no running rule uses (the old
 * set's packets may count into those until the switch completes), listed in
 * fresh (room for rs->n) for the caller to zero. Sets rs->rules[i].ctr.
 * Returns 0, or -1 (out of memory, or an old slot out of range).
 */
int vigil_fw_ctr_assign(const struct vigil_fw_rule *old, uint32_t nold, struct vigil_rules *rs,
			uint32_t *fresh, uint32_t *nfresh);
/* copy the rules' slots into every verdict of the tables (after the above) */
void vigil_fw_table_set_ctrs(struct vigil_fw_table *t, const struct vigil_rules *rs);

/* rate limit bucket depth for a rate: a tenth of a second, at least 1 */
uint32_t vigil_fw_burst(uint32_t rate);

/* A packet as the datapath sees it, for tests: addresses IPv4 mapped. */
struct vigil_fw_pkt {
	uint8_t family;		/* 4 or 6 */
	uint8_t proto;
	uint16_t dport;		/* 0 without ports (ICMP, non-first fragments) */
	uint8_t src[16];
	uint8_t dst[16];
};

/* the reference: every rule checked, the first in precedence order wins */
uint32_t vigil_fw_eval(const struct vigil_rules *rs, const struct vigil_fw_pkt *p);
/* the datapath's algorithm over the compiled tables, same lookup order (linear
 * searches, for tests) */
uint32_t vigil_fw_simulate(const struct vigil_fw_table *t, const struct vigil_fw_pkt *p);
/* textual address (v4 or v6) -> mapped form; returns family or 0 */
int vigil_fw_addr_parse(const char *s, uint8_t out[16]);

#endif
