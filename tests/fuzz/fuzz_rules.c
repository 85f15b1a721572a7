// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * libFuzzer harness for the firewall rules parser and compiler (ASan/UBSan).
 *
 * Any input: the parser must not crash, and must report an error or produce
 * rules. For accepted inputs it also checks:
 *   - every rule prints to text that parses back to the same rule;
 *   - the compiled tables, looked up in the datapath's order (address hash
 *     per distinct length, then family root; combination hash, then port
 *     hash per block size), give the same verdict as the reference
 *     evaluator for packets built from the rules' own addresses and ports,
 *     and for IPv6 packets carrying the IPv4-mapped form of IPv4 rules'
 *     addresses;
 * Build and run: make fuzz-rules FUZZ_SECONDS=20
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "fw/rules.h"

static void check_roundtrip(const struct vigil_fw_rule *r)
{
	struct vigil_rules again;
	char text[256];

	vigil_fw_rule_format(r, text, sizeof(text));
	if (vigil_rules_parse(&again, "roundtrip", text, strlen(text)) || again.n != 2)
		abort();
	/* line and counter slot differ; everything else must be identical */
	struct vigil_fw_rule a = *r, b = again.rules[1];

	a.line = b.line = 0;
	a.ctr = b.ctr = 0;
	if (memcmp(&a, &b, sizeof(a)))
		abort();
	vigil_rules_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vigil_rules rs;
	struct vigil_fw_table t = { .max_match = 20000, .max_combo = 20000 };
	char err[256];

	if (vigil_rules_parse(&rs, "fuzz", (const char *)data, size)) {
		if (!rs.nerrors || !rs.ndiags)
			abort();	/* an error is always reported */
		vigil_rules_free(&rs);
		return 0;
	}
	if (rs.n > 64) {
		/* keep an iteration cheap: the quadratic checks below are for small sets */
		vigil_rules_free(&rs);
		return 0;
	}
	for (uint32_t i = 1; i < rs.n; i++)
		check_roundtrip(&rs.rules[i]);
	if (vigil_fw_compile(&rs, &t, err, sizeof(err)) == 0) {
		static const uint8_t protos[] = { 6, 17, 1, 58, 47 };

		/* probe with every rule's own prefix, one address off, and its ports */
		for (uint32_t i = 1; i < rs.n; i++) {
			const struct vigil_fw_rule *r = &rs.rules[i];

			for (uint32_t j = 1; j < rs.n; j++) {
				const struct vigil_fw_rule *q = &rs.rules[j];
				struct vigil_fw_pkt p = { .family = r->family ? r->family : 4 };

				memcpy(p.src, r->src, 16);
				memcpy(p.dst, q->dst, 16);
				if (!(q->flags & VIGIL_FW_R_DST) || q->family != p.family) {
					memcpy(p.dst, r->src, 16);
					p.dst[15] ^= 1;
				}
				if (p.family == 4) {
					/* a real IPv4 packet: both addresses IPv4 mapped */
					memset(p.src, 0, 10);
					memset(p.dst, 0, 10);
					p.src[10] = p.src[11] = p.dst[10] = p.dst[11] = 0xff;
				}
				for (size_t k = 0; k < sizeof(protos); k++) {
					p.proto = protos[k];
					p.dport = (p.proto == 6 || p.proto == 17) ? q->port_hi : 0;
					if (vigil_fw_eval(&rs, &p) != vigil_fw_simulate(&t, &p))
						abort();
					p.dport = (p.proto == 6 || p.proto == 17) ? (uint16_t)(q->port_lo - 1) : 0;
					if (vigil_fw_eval(&rs, &p) != vigil_fw_simulate(&t, &p))
						abort();
				}
				if (p.family == 4) {
					/* the same addresses in an IPv6 packet: IPv4 rules must not apply */
					p.family = 6;
					p.proto = 6;
					p.dport = q->port_lo;
					if (vigil_fw_eval(&rs, &p) != vigil_fw_simulate(&t, &p))
						abort();
				}
			}
		}
		vigil_fw_table_free(&t);
	}
	vigil_rules_free(&rs);
	return 0;
}
