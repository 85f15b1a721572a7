// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/vigil.h"
#include "core/opts.h"

int vigil_parse_u32(const char *s, uint32_t *v)
{
	char *end;
	unsigned long long x;

	if (!s || !*s || *s == '-')
		return -1;
	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno || *end || x > UINT32_MAX)
		return -1;
	*v = x;
	return 0;
}

int vigil_parse_duration(const char *s, uint64_t *ns)
{
	static const struct { const char *unit; uint64_t mul; } units[] = {
		{ "ns", 1 }, { "us", 1000 }, { "ms", 1000000 }, { "s", 1000000000ull },
		{ "m", 60000000000ull }, { "h", 3600000000000ull }, { "", 1000000000ull },
	};
	char *end;
	double x;

	if (!s || !*s || *s == '-')
		return -1;
	errno = 0;
	x = strtod(s, &end);
	if (errno || end == s || x < 0)
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (!strcmp(end, units[i].unit)) {
			double v = x * units[i].mul;

			if (v > 1e19)
				return -1;
			*ns = (uint64_t)v;
			return 0;
		}
	}
	return -1;
}

int vigil_parse_size(const char *s, uint64_t *bytes)
{
	char *end;
	unsigned long long x;
	uint64_t mul = 1;

	if (!s || !*s || *s == '-')
		return -1;
	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	if (!strcmp(end, "K") || !strcmp(end, "k") || !strcmp(end, "KiB"))
		mul = 1ull << 10;
	else if (!strcmp(end, "M") || !strcmp(end, "MiB"))
		mul = 1ull << 20;
	else if (!strcmp(end, "G") || !strcmp(end, "GiB"))
		mul = 1ull << 30;
	else if (*end)
		return -1;
	if (x > UINT64_MAX / mul)
		return -1;
	*bytes = x * mul;
	return 0;
}

static const char *kind_expect(enum vopt_kind k)
{
	switch (k) {
	case VO_U32: return "a non-negative integer";
	case VO_DURATION: return "a duration such as 500ms, 10s or 2m";
	case VO_SIZE: return "a size such as 4096, 64K or 16M";
	default: return "a value";
	}
}

static int store(const struct vigil_opt *o, const char *arg)
{
	switch (o->kind) {
	case VO_FLAG: *(bool *)o->dest = true; return 0;
	case VO_STR: *(const char **)o->dest = arg; return 0;
	case VO_U32: return vigil_parse_u32(arg, o->dest);
	case VO_DURATION: return vigil_parse_duration(arg, o->dest);
	case VO_SIZE: return vigil_parse_size(arg, o->dest);
	case VO_FUNC: return o->fn(arg);
	case VO_SECTION: break;
	}
	return -1;
}

#define MAX_OPTS 128

int vigil_parse_opts(const char *cmd, int argc, char **argv,
		     const struct vigil_opt *const *tables, int *first_arg)
{
	struct option lopts[MAX_OPTS + 2];
	const struct vigil_opt *map[MAX_OPTS];
	char sopts[MAX_OPTS * 2 + 4] = "-:h";
	size_t n = 0, sl = strlen(sopts);
	int c, idx;

	/* '-': options may follow positionals, which come back as 1 in order */
	for (int t = 0; tables[t]; t++) {
		for (const struct vigil_opt *o = tables[t]; o->name; o++) {
			if (o->kind == VO_SECTION || n >= MAX_OPTS)
				continue;
			lopts[n] = (struct option){ o->name,
				o->kind == VO_FLAG ? no_argument : required_argument, NULL, 256 + (int)n };
			map[n++] = o;
			if (o->key) {
				sopts[sl++] = o->key;
				if (o->kind != VO_FLAG)
					sopts[sl++] = ':';
			}
		}
	}
	lopts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	lopts[n] = (struct option){ 0 };
	sopts[sl] = 0;

	/* collect positionals in order; getopt's '-' mode hands them to us as 1 */
	static char *pos[256];
	int npos = 0;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, sopts, lopts, &idx)) != -1) {
		const struct vigil_opt *o = NULL;

		if (c == 1) {
			if (npos < 256)
				pos[npos++] = optarg;
			continue;
		}
		if (c == 'h')
			return -1;
		if (c == '?') {
			if (optopt)
				fprintf(stderr, "vigil %s: unknown option '-%c'\n", cmd, optopt);
			else
				fprintf(stderr, "vigil %s: unknown option '%s'\n", cmd, argv[optind - 1]);
			goto usage;
		}
		if (c == ':') {
			if (optopt >= 256)
				fprintf(stderr, "vigil %s: option '--%s' needs a value\n", cmd,
					map[optopt - 256]->name);
			else
				fprintf(stderr, "vigil %s: option '-%c' needs a value\n", cmd, optopt);
			goto usage;
		}
		if (c >= 256) {
			o = map[c - 256];
		} else {
			for (size_t i = 0; i < n - 1; i++)
				if (map[i]->key == c)
					o = map[i];
		}
		if (!o)
			goto usage;
		if (store(o, optarg)) {
			/* VO_FUNC parsers print their own reason */
			if (o->kind != VO_FUNC)
				fprintf(stderr, "vigil %s: invalid value '%s' for '--%s': expected %s\n",
					cmd, optarg, o->name, kind_expect(o->kind));
			goto usage;
		}
	}
	/* whatever follows "--" is positional too */
	while (optind < argc && npos < 256)
		pos[npos++] = argv[optind++];
	/* put the positionals back at the end of argv, in order */
	for (int i = 0; i < npos; i++)
		argv[argc - npos + i] = pos[i];
	*first_arg = argc - npos;
	return 0;
usage:
	fprintf(stderr, "see 'vigil %s --help'\n", cmd);
	return VIGIL_EXIT_USAGE;
}

void vigil_print_help(FILE *f, const char *cmd, const char *usage, const char *summary,
		      const struct vigil_opt *const *tables)
{
	fprintf(f, "usage: vigil %s %s\n\n%s\n", cmd, usage ? usage : "[OPTIONS]", summary);
	for (int t = 0; tables[t]; t++) {
		for (const struct vigil_opt *o = tables[t]; o->name; o++) {
			char left[64];

			if (o->kind == VO_SECTION) {
				fprintf(f, "\n%s:\n", o->name);
				continue;
			}
			if (o->hidden)
				continue;
			snprintf(left, sizeof(left), "%c%c%s--%s%s%s",
				 o->key ? '-' : ' ', o->key ? o->key : ' ', o->key ? ", " : "  ",
				 o->name, o->arg ? " " : "", o->arg ? o->arg : "");
			if (strlen(left) > 26)
				fprintf(f, "  %s\n  %-26s %s\n", left, "", o->help);
			else
				fprintf(f, "  %-26s %s\n", left, o->help);
		}
	}
	fprintf(f, "  %-26s %s\n", "-h, --help", "show this help");
}
