// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * libFuzzer harness for the guard policy parser, resolver and compiler
 * (ASan/UBSan; docs/guard.md, "The policy language").
 *
 * Any input: the parser must not crash, and must report an error or produce
 * rules, with every diagnostic at a line and column inside the input. For
 * accepted inputs it also checks:
 *   - every rule prints (vigil_gd_rule_format) to text that parses back to
 *     the same rule;
 *   - resolved against a fake file system and cgroup tree (every path is a
 *     file and a directory, every scope an id derived from its name), the
 *     compiled connect tables, looked up as the datapath does
 *     (vigil_gd_simulate_connect: scope, then longest prefix, then the
 *     ports), give the reference verdict (vigil_gd_eval_connect) for each
 *     connect rule's own address and the ports at and around its range,
 *     from the host and from inside the rule's scope.
 * Build and run: make fuzz-guard FUZZ_SECONDS=20
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "guard/policy.h"

static uint64_t fnv(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h | 1;	/* never 0: that is the host */
}

static int fake_stat(void *ctx, const char *path, uint32_t *dev, uint64_t *ino, bool *is_dir,
		     bool *is_reg)
{
	*dev = 8;
	*ino = fnv(path);
	*is_dir = *is_reg = true;
	return 0;
}

static int fake_scope(void *ctx, int kind, const char *name, uint64_t *id, uint32_t *level,
		      char *err, size_t errlen)
{
	uint32_t lv = 0;

	for (const char *c = name; *c; c++)
		if (*c != '/' && (c == name || c[-1] == '/'))
			lv++;
	*id = fnv(name) ^ (uint64_t)kind;
	*level = kind == VIGIL_GD_S_CGROUP ? (lv ? lv : 1) : 1;
	return 0;
}

static void check_diags(const struct vigil_gd_policy *p, size_t size)
{
	for (uint32_t i = 0; i < p->ndiags; i++)
		if (p->diags[i].line > size + 1 || p->diags[i].col > size + 1)
			abort();
}

static void check_roundtrip(const struct vigil_gd_rule *r)
{
	struct vigil_gd_policy again;
	char text[VIGIL_GD_ARG_MAX * 2 + 256];
	const struct vigil_gd_rule *b;

	vigil_gd_rule_format(r, text, sizeof(text));
	if (strlen(text) + 1 >= sizeof(text))
		return;	/* cut short: nothing to compare */
	if (vigil_gd_parse(&again, "roundtrip", text, strlen(text)) || again.n != 1)
		abort();
	b = &again.rules[0];
	if (b->action != r->action || b->kind != r->kind || b->scope_kind != r->scope_kind ||
	    b->family != r->family || b->plen != r->plen || b->port_lo != r->port_lo ||
	    b->port_hi != r->port_hi || memcmp(b->addr, r->addr, 16) ||
	    memcmp(b->sha256, r->sha256, 32) || !b->arg != !r->arg ||
	    (r->arg && strcmp(b->arg, r->arg)) || !b->scope != !r->scope ||
	    (r->scope && strcmp(b->scope, r->scope)))
		abort();
	vigil_gd_policy_free(&again);
}

static void check_connects(const struct vigil_gd_policy *p, const struct vigil_gd_tables *t)
{
	for (uint32_t i = 0; i < p->n; i++) {
		const struct vigil_gd_rule *r = &p->rules[i];
		uint64_t at_level[VIGIL_GD_MAX_LEVELS] = { 0 };
		uint32_t ports[4] = { r->port_lo, r->port_hi, r->port_lo - 1u, r->port_hi + 1u };
		uint64_t scope = r->scope_id;

		if (r->kind != VIGIL_GD_R_CONNECT)
			continue;
		for (uint32_t l = 0; scope && l < t->gen.nlevels; l++)
			if (t->gen.levels[l] == r->scope_level)
				at_level[l] = scope;
		for (int in_scope = 0; in_scope <= !!scope; in_scope++) {
			const uint64_t none[VIGIL_GD_MAX_LEVELS] = { 0 };

			for (int k = 0; k < 4; k++) {
				struct vigil_gd_verdict ref, sim;

				if (ports[k] > 65535)
					continue;
				ref = vigil_gd_eval_connect(p, r->family, r->addr, (uint16_t)ports[k], &scope,
							    in_scope ? 1 : 0);
				sim = vigil_gd_simulate_connect(t, 0, r->family, r->addr, (uint16_t)ports[k],
								in_scope ? at_level : none);
				if (ref.action != sim.action || ref.line != sim.line)
					abort();
			}
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct vigil_gd_env env = { fake_stat, fake_scope, NULL };
	struct vigil_gd_policy p;
	struct vigil_gd_tables t;

	if (vigil_gd_parse(&p, "fuzz", (const char *)data, size)) {
		if (!p.nerrors || !p.ndiags)
			abort();	/* an error is always reported */
		check_diags(&p, size);
		vigil_gd_policy_free(&p);
		return 0;
	}
	check_diags(&p, size);
	if (p.n > 64) {
		/* keep an iteration cheap: the checks below are quadratic */
		vigil_gd_policy_free(&p);
		return 0;
	}
	for (uint32_t i = 0; i < p.n; i++)
		check_roundtrip(&p.rules[i]);
	memset(&t, 0, sizeof(t));
	if (!vigil_gd_resolve(&p, &env) && !vigil_gd_compile(&p, 0, false, &t))
		check_connects(&p, &t);
	check_diags(&p, size);
	vigil_gd_tables_free(&t);
	vigil_gd_policy_free(&p);
	return 0;
}
