// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/metrics.h"
#include "core/hist.h"

#define VM_HIST_LE 36	/* 2^36 ns: 69 s */

void vm_init(struct vigil_metrics *m, uint32_t limit)
{
	memset(m, 0, sizeof(*m));
	m->limit = limit ? limit : 10000;
}

void vm_free(struct vigil_metrics *m)
{
	free(m->buf);
	m->buf = NULL;
	m->len = m->cap = 0;
}

static void __attribute__((noinline)) put_grow(struct vigil_metrics *m, const char *s, size_t n)
{
	if (m->len + n + 1 > m->cap) {
		size_t cap = m->cap ? m->cap : 65536;
		char *p;

		while (cap < m->len + n + 1)
			cap *= 2;
		p = realloc(m->buf, cap);
		if (!p) {
			m->oom = true;
			return;
		}
		m->buf = p;
		m->cap = cap;
	}
	memcpy(m->buf + m->len, s, n);
	m->len += n;
	m->buf[m->len] = 0;
}

/* a scrape is tens of thousands of short pieces: room first, no call on the hot path */
static inline __attribute__((always_inline)) void put(struct vigil_metrics *m, const char *s,
						      size_t n)
{
	if (__builtin_expect(m->len + n + 1 <= m->cap, 1)) {
		char *d = m->buf + m->len;

		m->len += n;
		while (n--)
			*d++ = *s++;
		*d = 0;
		return;
	}
	put_grow(m, s, n);
}

static void putf(struct vigil_metrics *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct vigil_metrics *m, const char *fmt, ...)
{
	char b[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b, sizeof(b), fmt, ap);
	va_end(ap);
	if (n > 0)
		put(m, b, (size_t)n < sizeof(b) ? (size_t)n : sizeof(b) - 1);
}

void vm_family(struct vigil_metrics *m, const char *name, const char *type, const char *help)
{
	m->family = name;
	putf(m, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void labels_out(struct vigil_metrics *m, const char *const *labels, const char *le)
{
	bool any = false;

	for (int i = 0; labels && labels[i] && labels[i + 1]; i += 2) {
		put(m, any ? "," : "{", 1);
		put(m, labels[i], strlen(labels[i]));
		put(m, "=\"", 2);
		/* plain runs copied whole; backslash, quote and newline escaped */
		for (const char *p = labels[i + 1], *run = p;; p++) {
			if (*p && *p != '\\' && *p != '"' && *p != '\n')
				continue;
			put(m, run, (size_t)(p - run));
			if (!*p)
				break;
			put(m, *p == '\n' ? "\\n" : *p == '"' ? "\\\"" : "\\\\", 2);
			run = p + 1;
		}
		put(m, "\"", 1);
		any = true;
	}
	if (le) {
		putf(m, "%sle=\"%s\"", any ? "," : "{", le);
		any = true;
	}
	if (any)
		put(m, "}", 1);
}

static bool room(struct vigil_metrics *m)
{
	if (m->series < m->limit) {
		m->series++;
		return true;
	}
	m->dropped++;
	return false;
}

void vm_value(struct vigil_metrics *m, double v, const char *const *labels)
{
	if (!room(m))
		return;
	put(m, m->family, strlen(m->family));
	labels_out(m, labels, NULL);
	putf(m, " %.17g\n", v);
}

static void put_value_u64(struct vigil_metrics *m, uint64_t v)
{
	char b[24], *q = b + sizeof(b);

	*--q = '\n';
	do
		*--q = '0' + v % 10;
	while (v /= 10);
	*--q = ' ';
	put(m, q, (size_t)(b + sizeof(b) - q));
}

void vm_u64(struct vigil_metrics *m, uint64_t v, const char *const *labels)
{
	if (!room(m))
		return;
	put(m, m->family, strlen(m->family));
	labels_out(m, labels, NULL);
	put_value_u64(m, v);
}

char *vm_labels_render(const char *const *labels)
{
	struct vigil_metrics t;

	char *r;

	vm_init(&t, 1);
	labels_out(&t, labels, NULL);
	/* a copy of its size: the scratch buffer is a scrape's 64 KiB */
	r = t.oom ? NULL : strdup(t.buf ? t.buf : "");
	vm_free(&t);
	return r;
}

void vm_u64_pre(struct vigil_metrics *m, uint64_t v, const char *rendered)
{
	if (!room(m))
		return;
	put(m, m->family, strlen(m->family));
	put(m, rendered, strlen(rendered));
	put_value_u64(m, v);
}

void vm_hist(struct vigil_metrics *m, const uint64_t *slots, double scale, double sum,
	     const char *const *labels)
{
	uint64_t cum = 0, total = 0;
	double est = 0;
	char le[40];

	if (!room(m))
		return;
	for (unsigned int k = 0; k < VIGIL_HIST_SLOTS; k++)
		total += slots[k];
	/* the same buckets every scrape (rate() needs them), 2^k units up to 2^VM_HIST_LE */
	for (unsigned int k = 0; k < VM_HIST_LE; k++) {
		cum += slots[k];
		est += slots[k] * (vhist_low(k) + vhist_high(k)) / 2.0 * scale;
		snprintf(le, sizeof(le), "%.9g", (vhist_high(k) + 1) * scale);
		putf(m, "%s_bucket", m->family);
		labels_out(m, labels, le);
		putf(m, " %llu\n", (unsigned long long)cum);
	}
	for (unsigned int k = VM_HIST_LE; k < VIGIL_HIST_SLOTS; k++)
		est += slots[k] * (vhist_low(k) + vhist_high(k)) / 2.0 * scale;
	cum = total;
	putf(m, "%s_bucket", m->family);
	labels_out(m, labels, "+Inf");
	putf(m, " %llu\n", (unsigned long long)cum);
	putf(m, "%s_sum", m->family);
	labels_out(m, labels, NULL);
	putf(m, " %.9g\n", sum >= 0 ? sum : est);
	putf(m, "%s_count", m->family);
	labels_out(m, labels, NULL);
	putf(m, " %llu\n", (unsigned long long)cum);
}

void vm_finish(struct vigil_metrics *m)
{
	uint64_t dropped = m->dropped;

	m->limit = UINT32_MAX;	/* these two are always written */
	vm_family(m, "vigil_metrics_series", "gauge", "series written in this scrape");
	vm_u64(m, m->series, NULL);
	vm_family(m, "vigil_metrics_series_dropped", "gauge",
		  "series left out of this scrape: over metrics.series_limit");
	vm_u64(m, dropped, NULL);
}
