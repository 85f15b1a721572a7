// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <math.h>
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
	/* "nan", "inf" and hex floats are not durations */
	if (errno || end == s || !isfinite(x) || x < 0)
		return -1;
	for (const char *p = s; p < end; p++)
		if (!(*p >= '0' && *p <= '9') && *p != '.' && *p != 'e' && *p != 'E' && *p != '+')
			return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (!strcmp(end, units[i].unit)) {
			double v = x * units[i].mul;

			/* 0.1ns is not 0: a value that rounds to nothing is refused */
			if (v > 1.8e19 || (x > 0 && v < 1))
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


/* bounds in the units people type: 1ms, 24h */
static void vigil_fmt_duration_opt(uint64_t ns, char *buf, size_t n)
{
	static const struct { const char *u; uint64_t mul; } units[] = {
		{ "h", 3600000000000ull }, { "m", 60000000000ull }, { "s", 1000000000ull },
		{ "ms", 1000000ull }, { "us", 1000ull },
	};

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (ns >= units[i].mul && ns % units[i].mul == 0) {
			snprintf(buf, n, "%llu%s", (unsigned long long)(ns / units[i].mul), units[i].u);
			return;
		}
	snprintf(buf, n, "%lluns", (unsigned long long)ns);
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

static uint64_t kind_max(const struct vigil_opt *o)
{
	if (o->max)
		return o->max;
	return o->kind == VO_U32 ? UINT32_MAX : UINT64_MAX;
}

void vigil_opt_bounds(const struct vigil_opt *o, char *buf, size_t n)
{
	uint64_t lo = o->min, hi = kind_max(o);
	char a[32], b[32];

	if (o->kind == VO_DURATION) {
		vigil_fmt_duration_opt(lo, a, sizeof(a));
		vigil_fmt_duration_opt(hi, b, sizeof(b));
	} else {
		snprintf(a, sizeof(a), "%llu", (unsigned long long)lo);
		snprintf(b, sizeof(b), "%llu", (unsigned long long)hi);
	}
	snprintf(buf, n, "%s to %s", a, b);
}

static void *at(void *base, const struct vigil_opt *o)
{
	return (char *)base + o->off;
}

/* 0, -1 bad syntax, -2 out of bounds */
static int store(const struct vigil_opt *o, void *base, const char *arg)
{
	uint64_t v = 0;
	uint32_t u;

	switch (o->kind) {
	case VO_FLAG: *(bool *)at(base, o) = true; return 0;
	case VO_STR: *(const char **)at(base, o) = arg; return 0;
	case VO_FUNC: return o->fn(base, arg);
	case VO_U32:
		if (vigil_parse_u32(arg, &u))
			return -1;
		v = u;
		break;
	case VO_DURATION:
		if (vigil_parse_duration(arg, &v))
			return -1;
		break;
	case VO_SIZE:
		if (vigil_parse_size(arg, &v))
			return -1;
		break;
	case VO_SECTION:
		return -1;
	}
	if (v < o->min || v > kind_max(o))
		return -2;
	if (o->kind == VO_U32)
		*(uint32_t *)at(base, o) = v;
	else
		*(uint64_t *)at(base, o) = v;
	return 0;
}

static int store_report(const char *cmd, const struct vigil_opt *o, void *base, const char *arg)
{
	char b[64];
	int r = store(o, base, arg);

	if (r == -1 && o->kind != VO_FUNC)
		vigil_usage_error("invalid value '%s' for '--%s': expected %s", arg,
			o->name, kind_expect(o->kind));
	if (r == -2) {
		vigil_opt_bounds(o, b, sizeof(b));
		vigil_usage_error("value '%s' for '--%s' is out of bounds: %s", arg,
			o->name, b);
	}
	return r ? -1 : 0;
}

#define MAX_OPTS 160

int vigil_opts_check(const char *cmd, const struct vigil_optset *sets)
{
	const struct vigil_opt *seen[MAX_OPTS];
	int n = 0;

	for (int t = 0; sets[t].opts; t++) {
		for (const struct vigil_opt *o = sets[t].opts; o->name; o++) {
			if (o->kind == VO_SECTION)
				continue;
			if (n == MAX_OPTS || !strcmp(o->name, "help") || o->key == 'h') {
				fprintf(stderr, "vigil %s: option '--%s' clashes with --help or "
					"exceeds the table limit\n", cmd, o->name);
				return -1;
			}
			for (int i = 0; i < n; i++) {
				if (!strcmp(seen[i]->name, o->name) ||
				    (o->key && seen[i]->key == o->key)) {
					fprintf(stderr, "vigil %s: options '--%s' and '--%s' share a "
						"name or the letter '-%c'\n", cmd, seen[i]->name,
						o->name, o->key ? o->key : '?');
					return -1;
				}
			}
			seen[n++] = o;
		}
	}
	return 0;
}

const struct vigil_opt *vigil_opt_find(const struct vigil_optset *sets, const char *name,
				       void **base)
{
	for (int t = 0; sets[t].opts; t++)
		for (const struct vigil_opt *o = sets[t].opts; o->name; o++)
			if (o->kind != VO_SECTION && !strcmp(o->name, name)) {
				if (base)
					*base = sets[t].base;
				return o;
			}
	return NULL;
}

int vigil_opt_set(const char *cmd, const struct vigil_optset *sets, const char *name,
		  const char *value)
{
	void *base;
	const struct vigil_opt *o = vigil_opt_find(sets, name, &base);

	if (!o)
		return -ENOENT;
	if (o->kind == VO_FLAG) {
		if (!strcmp(value, "true") || !strcmp(value, "yes") || !strcmp(value, "on")) {
			*(bool *)at(base, o) = true;
			return 0;
		}
		if (!strcmp(value, "false") || !strcmp(value, "no") || !strcmp(value, "off")) {
			*(bool *)at(base, o) = false;
			return 0;
		}
		vigil_usage_error("invalid value '%s' for '%s': expected true or false", value, name);
		return -1;
	}
	return store_report(cmd, o, base, value);
}

int vigil_parse_opts(const char *cmd, int argc, char **argv, const struct vigil_optset *sets,
		     int *first_arg)
{
	struct option lopts[MAX_OPTS + 2];
	const struct vigil_opt *map[MAX_OPTS];
	void *bases[MAX_OPTS];
	char sopts[MAX_OPTS * 2 + 4] = "-:h";
	size_t n = 0, sl = strlen(sopts);
	char **pos;
	int c, idx, npos = 0;

	if (vigil_opts_check(cmd, sets))
		return VIGIL_EXIT_FAIL;
	/* '-': options may follow positionals, which come back as 1 in order */
	for (int t = 0; sets[t].opts; t++) {
		for (const struct vigil_opt *o = sets[t].opts; o->name; o++) {
			if (o->kind == VO_SECTION)
				continue;
			lopts[n] = (struct option){ o->name,
				o->kind == VO_FLAG ? no_argument : required_argument, NULL, 256 + (int)n };
			bases[n] = sets[t].base;
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

	pos = calloc(argc + 1, sizeof(*pos));
	if (!pos)
		return VIGIL_EXIT_FAIL;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, sopts, lopts, &idx)) != -1) {
		const struct vigil_opt *o = NULL;
		void *base = NULL;

		if (c == 1) {
			pos[npos++] = optarg;
			continue;
		}
		if (c == 'h') {
			free(pos);
			return -1;
		}
		if (c == '?') {
			if (optopt)
				vigil_usage_error("unknown option '-%c'", optopt);
			else
				vigil_usage_error("unknown option '%s'", argv[optind - 1]);
			goto usage;
		}
		if (c == ':') {
			if (optopt >= 256)
				vigil_usage_error("option '--%s' needs a value",
						  map[optopt - 256]->name);
			else
				vigil_usage_error("option '-%c' needs a value", optopt);
			goto usage;
		}
		if (c >= 256) {
			o = map[c - 256];
			base = bases[c - 256];
		} else {
			for (size_t i = 0; i < n - 1; i++)
				if (map[i]->key == c) {
					o = map[i];
					base = bases[i];
				}
		}
		if (!o || store_report(cmd, o, base, optarg))
			goto usage;
	}
	/* whatever follows "--" is positional too */
	while (optind < argc)
		pos[npos++] = argv[optind++];
	/* put the positionals back at the end of argv, in order */
	for (int i = 0; i < npos; i++)
		argv[argc - npos + i] = pos[i];
	*first_arg = argc - npos;
	free(pos);
	return 0;
usage:
	free(pos);
	fprintf(stderr, "see 'vigil %s --help'\n", cmd);
	return VIGIL_EXIT_USAGE;
}

void vigil_print_help(FILE *f, const char *cmd, const char *usage, const char *summary,
		      const struct vigil_optset *sets)
{
	fprintf(f, "usage: vigil %s %s\n\n%s\n", cmd, usage ? usage : "[OPTIONS]", summary);
	for (int t = 0; sets[t].opts; t++) {
		for (const struct vigil_opt *o = sets[t].opts; o->name; o++) {
			char left[64], bounds[64] = "";

			if (o->kind == VO_SECTION) {
				fprintf(f, "\n%s:\n", o->name);
				continue;
			}
			if (o->hidden)
				continue;
			snprintf(left, sizeof(left), "%c%c%s--%s%s%s",
				 o->key ? '-' : ' ', o->key ? o->key : ' ', o->key ? ", " : "  ",
				 o->name, o->arg ? " " : "", o->arg ? o->arg : "");
			if (o->min || o->max) {
				char b[48];

				vigil_opt_bounds(o, b, sizeof(b));
				snprintf(bounds, sizeof(bounds), " [%s]", b);
			}
			if (strlen(left) > 26)
				fprintf(f, "  %s\n  %-26s %s%s\n", left, "", o->help, bounds);
			else
				fprintf(f, "  %-26s %s%s\n", left, o->help, bounds);
		}
	}
	fprintf(f, "  %-26s %s\n", "-h, --help", "show this help");
}
