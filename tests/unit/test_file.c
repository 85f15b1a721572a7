// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* Unit tests of vigil file's pure logic: open flags, path clean-up, the lifetime table. */
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "cmd/file.h"

static const char *flags(uint64_t f)
{
	static char buf[256];

	fl_open_flags(f, buf, sizeof(buf));
	return buf;
}

static void test_flags(void)
{
	CHECK_STR(flags(0), "O_RDONLY");
	CHECK_STR(flags(01 | 0100 | 01000), "O_WRONLY|O_CREAT|O_TRUNC");
	CHECK_STR(flags(02 | 02000000), "O_RDWR|O_CLOEXEC");
	CHECK_STR(flags(0200000 | 0400000), "O_RDONLY|O_DIRECTORY|O_NOFOLLOW");
	/* two-bit flags by the names people use */
	CHECK_STR(flags(01 | 04010000), "O_WRONLY|O_SYNC");
	CHECK_STR(flags(02 | 020200000), "O_RDWR|O_TMPFILE");
	CHECK_STR(flags(010000), "O_RDONLY|O_DSYNC");
	/* bits without a name stay visible, in octal */
	CHECK_STR(flags(0100000000), "O_RDONLY|0100000000");
	CHECK_STR(flags(3), "O_ACCMODE");
}

static const char *clean(const char *in)
{
	static char buf[512];

	snprintf(buf, sizeof(buf), "%s", in);
	fl_clean_path(buf);
	return buf;
}

static void test_clean(void)
{
	CHECK_STR(clean("/a/b/c"), "/a/b/c");
	CHECK_STR(clean("/a/./b//c/"), "/a/b/c");
	CHECK_STR(clean("/a/b/../c"), "/a/c");
	CHECK_STR(clean("/tmp/sub/../exists"), "/tmp/exists");
	CHECK_STR(clean("/../../x"), "/x");
	CHECK_STR(clean("/"), "/");
	CHECK_STR(clean("//"), "/");
	CHECK_STR(clean("/a/.."), "/");
	CHECK_STR(clean("/a/..b/.c"), "/a/..b/.c");
	/* relative (no base found): left relative, ".." kept */
	CHECK_STR(clean("a/./b"), "a/b");
	CHECK_STR(clean("../x"), "../x");
	CHECK_STR(clean("."), ".");
}

static void test_live(void)
{
	struct fl_live *t = calloc(1, sizeof(*t));

	fl_live_add(t, "/a", 100);
	CHECK(fl_live_take(t, "/b") == 0);
	fl_live_rename(t, "/a", "/b");
	CHECK(fl_live_take(t, "/a") == 0);
	CHECK(fl_live_take(t, "/b") == 100);
	CHECK(fl_live_take(t, "/b") == 0);
	/* made again: the newer time counts */
	fl_live_add(t, "/c", 1);
	fl_live_add(t, "/c", 2);
	CHECK(fl_live_take(t, "/c") == 2);
	/* a rename over a known file replaces it */
	fl_live_add(t, "/d", 5);
	fl_live_add(t, "/e", 6);
	fl_live_rename(t, "/d", "/e");
	CHECK(fl_live_take(t, "/e") == 5);
	/* bounded: the oldest goes first */
	for (int i = 0; i < FL_LIVE_MAX + 1; i++) {
		char p[32];

		snprintf(p, sizeof(p), "/f%d", i);
		fl_live_add(t, p, 1000 + i);
	}
	CHECK(fl_live_take(t, "/f0") == 0);
	CHECK(fl_live_take(t, "/f1") == 1001);
	fl_live_free(t);
	free(t);
}

static void test_names(void)
{
	CHECK_STR(fl_op_name(VIGIL_FOP_OPENAT2), "openat2");
	CHECK_STR(fl_op_name(VIGIL_FOP_FCHOWN), "fchown");
	CHECK_STR(fl_op_name(VIGIL_FOP_FDATASYNC), "fdatasync");
	CHECK_STR(fl_op_name(VIGIL_FOP__COUNT), "unknown");
	CHECK(fl_op_is_open(VIGIL_FOP_CREAT) && !fl_op_is_open(VIGIL_FOP_UNLINK));
}

int main(void)
{
	test_flags();
	test_clean();
	test_live();
	test_names();
	return check_done("file");
}
