// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* Unit tests of filetop's pure logic: sort keys, ordering, interval merges, names. */
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "cmd/filetop.h"

static struct ft_row row(uint32_t pid, uint64_t ino, uint64_t r, uint64_t w, uint64_t rb,
			 uint64_t wb, const char *name)
{
	struct ft_row x;

	memset(&x, 0, sizeof(x));
	x.key.pid = pid;
	x.key.dev = (8u << 20) | 1;
	x.key.ino = ino;
	x.val.reads = r;
	x.val.writes = w;
	x.val.rbytes = rb;
	x.val.wbytes = wb;
	x.val.mode = 0100644;
	snprintf(x.val.name, sizeof(x.val.name), "%s", name);
	snprintf(x.val.comm, sizeof(x.val.comm), "c%u", pid);
	return x;
}

static void test_sort_parse(void)
{
	enum ft_sort k = FT_SORT_ALL;

	CHECK(ft_sort_parse("reads", &k) == 0 && k == FT_SORT_READS);
	CHECK(ft_sort_parse("wbytes", &k) == 0 && k == FT_SORT_WBYTES);
	CHECK(ft_sort_parse("all", &k) == 0 && k == FT_SORT_ALL);
	CHECK(ft_sort_parse("size", &k) < 0);
	CHECK(ft_sort_parse("", &k) < 0);
	CHECK(ft_sort_parse("READS", &k) < 0);
}

static void test_sort_order(void)
{
	struct ft_table t = { 0 };
	struct ft_row rows[] = {
		row(10, 1, 5, 0, 100, 0, "a"),
		row(10, 2, 1, 9, 10, 500, "b"),
		row(11, 1, 5, 1, 100, 1, "c"),	/* same reads as a: key order breaks the tie */
		row(9, 7, 0, 0, 0, 0, "d"),
	};

	for (size_t i = 0; i < 4; i++)
		CHECK(ft_table_add(&t, &rows[i]) == 0);
	ft_sort(&t, FT_SORT_READS);
	CHECK_STR(t.rows[0].val.name, "a");
	CHECK_STR(t.rows[1].val.name, "c");
	CHECK_STR(t.rows[2].val.name, "b");
	CHECK_STR(t.rows[3].val.name, "d");
	ft_sort(&t, FT_SORT_WBYTES);
	CHECK_STR(t.rows[0].val.name, "b");
	ft_sort(&t, FT_SORT_ALL);	/* rbytes + wbytes: b 510, c 101, a 100 */
	CHECK_STR(t.rows[0].val.name, "b");
	CHECK_STR(t.rows[1].val.name, "c");
	CHECK_STR(t.rows[2].val.name, "a");
	ft_sort(&t, FT_SORT_WRITES);	/* b 9, c 1, then a and d tie at 0: d's pid is lower */
	CHECK_STR(t.rows[0].val.name, "b");
	CHECK_STR(t.rows[2].val.name, "d");
	CHECK_STR(t.rows[3].val.name, "a");
	free(t.rows);
}

static void test_merge(void)
{
	struct ft_table total = { .max = 3 }, iv = { 0 };
	struct ft_row a = row(1, 1, 1, 2, 3, 4, "a"), b = row(1, 2, 1, 1, 1, 1, "b");
	struct ft_row a2 = row(1, 1, 10, 20, 30, 40, "renamed"), c = row(2, 1, 1, 0, 7, 0, "c");
	struct ft_row d = row(3, 1, 1, 0, 7, 0, "d");

	ft_table_add(&iv, &b);
	ft_table_add(&iv, &a);
	CHECK(ft_table_merge(&total, &iv) == 0);
	CHECK(total.n == 2 && total.dropped == 0);
	/* in key order after a merge */
	CHECK_STR(total.rows[0].val.name, "a");

	iv.n = 0;
	ft_table_add(&iv, &c);
	ft_table_add(&iv, &a2);
	ft_table_add(&iv, &d);		/* the fourth key: over max, counted */
	CHECK(ft_table_merge(&total, &iv) == 0);
	CHECK(total.n == 3 && total.dropped == 1);
	CHECK(total.rows[0].val.reads == 11 && total.rows[0].val.writes == 22);
	CHECK(total.rows[0].val.rbytes == 33 && total.rows[0].val.wbytes == 44);
	/* who and what stay as first seen */
	CHECK_STR(total.rows[0].val.name, "a");
	CHECK_STR(total.rows[2].val.name, "c");

	/* an empty interval changes nothing */
	iv.n = 0;
	CHECK(ft_table_merge(&total, &iv) == 0);
	CHECK(total.n == 3 && total.dropped == 1 && total.rows[1].val.reads == 1);
	free(total.rows);
	free(iv.rows);
}

static void test_names(void)
{
	struct ft_row r = row(1, 4242, 0, 0, 0, 0, "");
	char buf[96];

	CHECK_STR(ft_kind_name(0100644), "regular");
	CHECK_STR(ft_kind_name(0140777), "socket");
	CHECK_STR(ft_kind_name(0010600), "pipe");
	CHECK_STR(ft_kind_name(0020666), "char");
	CHECK_STR(ft_kind_name(0), "other");
	CHECK(ft_kind_letter(0100644) == 'R' && ft_kind_letter(0140777) == 'S');
	CHECK(ft_kind_letter(0010600) == 'P' && ft_kind_letter(0) == 'O');

	r.val.mode = 0010600;
	ft_file_name(&r, buf, sizeof(buf));
	CHECK_STR(buf, "pipe:[4242]");
	/* a name filling the whole field has no NUL: still bounded */
	memset(r.val.name, 'x', sizeof(r.val.name));
	ft_file_name(&r, buf, sizeof(buf));
	CHECK(strlen(buf) == VIGIL_FT_NAME_LEN);

	ft_dev_name((259u << 20) | 3, buf, sizeof(buf));
	CHECK_STR(buf, "259:3");
	ft_dev_name(0, buf, sizeof(buf));
	CHECK_STR(buf, "0:0");
}

int main(void)
{
	test_sort_parse();
	test_sort_order();
	test_merge();
	test_names();
	return check_done("test_filetop");
}
