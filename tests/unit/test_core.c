// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* Unit tests of the core's pure logic: option parsing, names, JSON and rows. */
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "core/vigil.h"
#include "core/names.h"
#include "core/opts.h"
#include "core/out.h"

static void test_durations(void)
{
	uint64_t ns;

	CHECK(vigil_parse_duration("10s", &ns) == 0 && ns == 10000000000ull);
	CHECK(vigil_parse_duration("500ms", &ns) == 0 && ns == 500000000ull);
	CHECK(vigil_parse_duration("2m", &ns) == 0 && ns == 120000000000ull);
	CHECK(vigil_parse_duration("1h", &ns) == 0 && ns == 3600000000000ull);
	CHECK(vigil_parse_duration("3", &ns) == 0 && ns == 3000000000ull);
	CHECK(vigil_parse_duration("1.5s", &ns) == 0 && ns == 1500000000ull);
	CHECK(vigil_parse_duration("250us", &ns) == 0 && ns == 250000ull);
	CHECK(vigil_parse_duration("", &ns) < 0);
	CHECK(vigil_parse_duration("-1s", &ns) < 0);
	CHECK(vigil_parse_duration("10 s", &ns) < 0);
	CHECK(vigil_parse_duration("soon", &ns) < 0);
	CHECK(vigil_parse_duration("5d", &ns) < 0);
	CHECK(vigil_parse_duration("1e30h", &ns) < 0);
}

static void test_sizes_and_ints(void)
{
	uint64_t b;
	uint32_t v;

	CHECK(vigil_parse_size("4096", &b) == 0 && b == 4096);
	CHECK(vigil_parse_size("64K", &b) == 0 && b == 65536);
	CHECK(vigil_parse_size("16M", &b) == 0 && b == 16u << 20);
	CHECK(vigil_parse_size("1G", &b) == 0 && b == 1u << 30);
	CHECK(vigil_parse_size("12Q", &b) < 0);
	CHECK(vigil_parse_size("-4K", &b) < 0);
	CHECK(vigil_parse_size("99999999999999999999G", &b) < 0);
	CHECK(vigil_parse_u32("4294967295", &v) == 0 && v == 4294967295u);
	CHECK(vigil_parse_u32("4294967296", &v) < 0);
	CHECK(vigil_parse_u32("12a", &v) < 0);
	CHECK(vigil_parse_u32("-1", &v) < 0);
}

static bool flag;
static uint32_t num;
static const char *str;
static uint64_t dur;

static const struct vigil_opt table[] = {
	VOPT_SECTION("Test"),
	{ "flag", 'f', VO_FLAG, &flag, NULL, "a flag" },
	{ "num", 'n', VO_U32, &num, "N", "a number" },
	{ "str", 0, VO_STR, &str, "S", "a string" },
	{ "dur", 'd', VO_DURATION, &dur, "D", "a duration" },
	VOPT_END,
};

static int parse(int argc, char **argv, int *first)
{
	const struct vigil_opt *tables[] = { table, NULL };

	flag = false, num = 0, str = NULL, dur = 0;
	return vigil_parse_opts("test", argc, argv, tables, first);
}

static void test_parser(void)
{
	char *a1[] = { "test", "-f", "pos1", "--num", "42", "--str=x", "-d", "2s", "pos2", NULL };
	char *a2[] = { "test", "-n", "x", NULL };
	char *a3[] = { "test", "--nope", NULL };
	char *a4[] = { "test", "--help", NULL };
	char *a5[] = { "test", "-f", "--", "-n", NULL };
	int first;

	CHECK(parse(9, a1, &first) == 0);
	CHECK(flag && num == 42 && str && !strcmp(str, "x") && dur == 2000000000ull);
	CHECK(first == 7);
	CHECK_STR(a1[7], "pos1");
	CHECK_STR(a1[8], "pos2");
	CHECK(parse(3, a2, &first) == VIGIL_EXIT_USAGE);
	CHECK(parse(2, a3, &first) == VIGIL_EXIT_USAGE);
	CHECK(parse(2, a4, &first) == -1);
	CHECK(parse(4, a5, &first) == 0 && flag && first == 3);
	CHECK_STR(a5[3], "-n");
}

static void test_names(void)
{
	CHECK_STR(vigil_errno_name(2), "ENOENT");
	CHECK_STR(vigil_errno_name(1), "EPERM");
	CHECK_STR(vigil_errno_name(4000), "E4000");
	CHECK(vigil_errno_parse("ENOENT") == 2);
	CHECK(vigil_errno_parse("eacces") == 13);
	CHECK(vigil_errno_parse("13") == 13);
	CHECK(vigil_errno_parse("ENOTANERRNO") == -1);
	CHECK(vigil_errno_parse("0") == -1);
	CHECK_STR(vigil_signal_name(9), "SIGKILL");
	CHECK_STR(vigil_signal_name(15), "SIGTERM");
}

static char *render(void (*fn)(void))
{
	static char *buf;
	size_t len;

	free(buf);
	vigil.out = open_memstream(&buf, &len);
	fn();
	fclose(vigil.out);
	vigil.out = stdout;
	return buf;
}

static void json_doc(void)
{
	struct jw w;

	jw_init(&w, vigil.out);
	jw_obj(&w, NULL);
	jw_str(&w, "s", "a\"b\\c\n\x01\xff");
	jw_arr(&w, "a");
	jw_u64(&w, NULL, 1);
	jw_s64(&w, NULL, -2);
	jw_obj(&w, NULL);
	jw_end_obj(&w);
	jw_end_arr(&w);
	jw_bool(&w, "t", true);
	jw_null(&w, "n");
	jw_end_obj(&w);
}

static struct vrow row;

static void row_json(void)
{
	vigil.json = true;
	out_row(&row);
}

static const struct vcol cols[] = {
	{ "PID", 5, "pid", NULL, true },
	{ "COMM", 6, "comm" },
	{ "ARGS", 0, "argv" },
	{ 0 },
};

static void row_table(void)
{
	vigil.json = false;
	out_set_columns(cols);
	out_header();
	out_row(&row);
}

static void test_json_and_rows(void)
{
	static const char args[] = "ls\0-l\0\0tail-without-nul";
	struct vigil_hdr h = { .ts = 1, .pid = 42, .tid = 43, .comm = "ls" };

	CHECK_STR(render(json_doc),
		  "{\"s\":\"a\\\"b\\\\c\\n\\u0001\\u00ff\",\"a\":[1,-2,{}],\"t\":true,\"n\":null}\n");

	vrow_init(&row);
	vrow_hdr(&row, "exec", &h);
	vrow_strlist(&row, "argv", args, sizeof(args) - 1);
	CHECK(vrow_get(&row, "pid")->u == 42);
	CHECK(vrow_get(&row, "missing") == NULL);
	{
		const char *j = render(row_json);

		CHECK(strstr(j, "\"type\":\"exec\",\"ts\":1,\"time\":\"") == j + 1);
		CHECK(strstr(j, "\"argv\":[\"ls\",\"-l\",\"\",\"tail-without-nul\"]}\n") != NULL);
		CHECK(strstr(j, "\"pid\":42,\"tid\":43,\"ppid\":0,\"uid\":0,\"comm\":\"ls\"") != NULL);
	}
	CHECK_STR(render(row_table), "  PID COMM   ARGS\n   42 ls     ls -l  tail-without-nul\n");
}

static void test_durations_fmt(void)
{
	char b[32];

	vigil_fmt_duration(1500, b, sizeof(b));
	CHECK_STR(b, "1.50us");
	vigil_fmt_duration(2500000000ull, b, sizeof(b));
	CHECK_STR(b, "2.50s");
	vigil_fmt_duration(999, b, sizeof(b));
	CHECK_STR(b, "999ns");
	vigil_iso_time(vigil_boot_ns(), b, sizeof(b));
	CHECK(strlen(b) == 30 && b[10] == 'T' && b[29] == 'Z');
}

int main(void)
{
	vigil.out = stdout;
	test_durations();
	test_sizes_and_ints();
	test_parser();
	test_names();
	test_json_and_rows();
	test_durations_fmt();
	return check_done("test_core");
}
