/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * filetop's pure logic, kept apart so tests/unit/test_filetop.c can check
 * it without a kernel: rows, sorting, merging an interval into the run's
 * totals, file kinds and names.
 */
#ifndef VIGIL_CMD_FILETOP_H
#define VIGIL_CMD_FILETOP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "vigil/events.h"

struct ft_row {
	struct vigil_ft_key key;
	struct vigil_ft_val val;
};

/* rows; bounded by max (0: unbounded), rows that did not fit are counted */
struct ft_table {
	struct ft_row *rows;
	size_t n, cap, max;
	uint64_t dropped;
};

enum ft_sort { FT_SORT_ALL, FT_SORT_READS, FT_SORT_WRITES, FT_SORT_RBYTES, FT_SORT_WBYTES };

static inline int ft_sort_parse(const char *s, enum ft_sort *k)
{
	static const char *const names[] = { "all", "reads", "writes", "rbytes", "wbytes" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(s, names[i])) {
			*k = (enum ft_sort)i;
			return 0;
		}
	}
	return -1;
}

static inline uint64_t ft_sort_value(const struct ft_row *r, enum ft_sort k)
{
	switch (k) {
	case FT_SORT_READS: return r->val.reads;
	case FT_SORT_WRITES: return r->val.writes;
	case FT_SORT_RBYTES: return r->val.rbytes;
	case FT_SORT_WBYTES: return r->val.wbytes;
	default: return r->val.rbytes + r->val.wbytes;
	}
}

static inline int ft_key_cmp(const void *a, const void *b)
{
	const struct vigil_ft_key *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

static enum ft_sort ft_sort_by;

/* largest first; ties in key order, so the output is stable between runs */
static inline int ft_row_cmp(const void *a, const void *b)
{
	uint64_t x = ft_sort_value(a, ft_sort_by), y = ft_sort_value(b, ft_sort_by);

	if (x != y)
		return x > y ? -1 : 1;
	return ft_key_cmp(a, b);
}

static inline void ft_sort(struct ft_table *t, enum ft_sort k)
{
	ft_sort_by = k;
	if (t->n)
		qsort(t->rows, t->n, sizeof(t->rows[0]), ft_row_cmp);
}

static inline void ft_sort_keys(struct ft_table *t)
{
	if (t->n)
		qsort(t->rows, t->n, sizeof(t->rows[0]), ft_key_cmp);
}

static inline int ft_table_reserve(struct ft_table *t, size_t want)
{
	struct ft_row *rows;
	size_t cap = t->cap ? t->cap : 64;

	if (want <= t->cap)
		return 0;
	while (cap < want)
		cap *= 2;
	rows = realloc(t->rows, cap * sizeof(*rows));
	if (!rows)
		return -1;
	t->rows = rows;
	t->cap = cap;
	return 0;
}

/* append; -1 only when out of memory (a full table counts the row as dropped) */
static inline int ft_table_add(struct ft_table *t, const struct ft_row *r)
{
	if (t->max && t->n >= t->max) {
		t->dropped++;
		return 0;
	}
	if (ft_table_reserve(t, t->n + 1))
		return -1;
	t->rows[t->n++] = *r;
	return 0;
}

/*
 * Add an interval's rows into the run's totals. Both end up in key order;
 * counts of a key already there are summed (who and what stay as first
 * seen), new keys are added while the totals have room.
 */
static inline int ft_table_merge(struct ft_table *total, struct ft_table *iv)
{
	struct ft_table out = { .max = total->max, .dropped = total->dropped };
	size_t i = 0, j = 0;

	ft_sort_keys(total);
	ft_sort_keys(iv);
	if (ft_table_reserve(&out, total->n + iv->n))
		return -1;
	while (i < total->n || j < iv->n) {
		int c = i == total->n ? 1 : j == iv->n ? -1 :
			ft_key_cmp(&total->rows[i].key, &iv->rows[j].key);

		if (c < 0) {
			out.rows[out.n++] = total->rows[i++];
		} else if (c > 0) {
			ft_table_add(&out, &iv->rows[j++]);
		} else {
			struct ft_row r = total->rows[i++];
			const struct vigil_ft_val *v = &iv->rows[j++].val;

			r.val.reads += v->reads;
			r.val.writes += v->writes;
			r.val.rbytes += v->rbytes;
			r.val.wbytes += v->wbytes;
			out.rows[out.n++] = r;
		}
	}
	free(total->rows);
	*total = out;
	return 0;
}

#define FT_S_IFMT 0170000

/* kind of file from i_mode, as JSON says it, and as the one-letter T column */
static inline const char *ft_kind_name(uint32_t mode)
{
	switch (mode & FT_S_IFMT) {
	case 0100000: return "regular";
	case 0140000: return "socket";
	case 0010000: return "pipe";
	case 0020000: return "char";
	case 0060000: return "block";
	case 0040000: return "dir";
	case 0120000: return "symlink";
	default: return "other";
	}
}

static inline char ft_kind_letter(uint32_t mode)
{
	switch (mode & FT_S_IFMT) {
	case 0100000: return 'R';
	case 0140000: return 'S';
	case 0010000: return 'P';
	case 0020000: return 'C';
	case 0060000: return 'B';
	case 0040000: return 'D';
	case 0120000: return 'L';
	default: return 'O';
	}
}

/* the dentry's name; pseudo files without one (pipes) as "pipe:[ino]" */
static inline void ft_file_name(const struct ft_row *r, char *buf, size_t n)
{
	size_t len = strnlen(r->val.name, sizeof(r->val.name));

	if (len)
		snprintf(buf, n, "%.*s", (int)len, r->val.name);
	else
		snprintf(buf, n, "%s:[%llu]", ft_kind_name(r->val.mode),
			 (unsigned long long)r->key.ino);
}

/* the kernel's internal dev_t (major << 20 | minor) as "major:minor" */
static inline void ft_dev_name(uint32_t dev, char *buf, size_t n)
{
	snprintf(buf, n, "%u:%u", dev >> 20, dev & ((1u << 20) - 1));
}

#endif /* VIGIL_CMD_FILETOP_H */
