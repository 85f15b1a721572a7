// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* Unit tests of the core's pure logic: option parsing, names, JSON and rows. */
#include <errno.h>
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

struct topts {
	bool flag;
	uint32_t num, small;
	const char *str;
	uint64_t dur, size;
};

#define T(f) VOFF(struct topts, f)

static const struct vigil_opt table[] = {
	VOPT_SECTION("Test"),
	{ "flag", 'f', VO_FLAG, T(flag), NULL, "a flag" },
	{ "num", 'n', VO_U32, T(num), "N", "a number" },
	{ "small", 0, VO_U32, T(small), "N", "a bounded number", .min = 1, .max = 10 },
	{ "str", 0, VO_STR, T(str), "S", "a string" },
	{ "dur", 'd', VO_DURATION, T(dur), "D", "a duration", .min = 1000000, .max = 3600000000000ull },
	{ "size", 0, VO_SIZE, T(size), "SIZE", "a size", .min = 4096, .max = 1 << 20 },
	VOPT_END,
};

static struct topts to;

static int parse(int argc, char **argv, int *first)
{
	struct vigil_optset sets[] = { { table, &to }, { 0 } };

	memset(&to, 0, sizeof(to));
	return vigil_parse_opts("test", argc, argv, sets, first);
}

static int parse1(const char *opt, const char *val)
{
	char *a[] = { "test", (char *)opt, (char *)val, NULL };
	int first;

	return parse(3, a, &first);
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
	CHECK(to.flag && to.num == 42 && to.str && !strcmp(to.str, "x") && to.dur == 2000000000ull);
	CHECK(first == 7);
	CHECK_STR(a1[7], "pos1");
	CHECK_STR(a1[8], "pos2");
	CHECK(parse(3, a2, &first) == VIGIL_EXIT_USAGE);
	CHECK(parse(2, a3, &first) == VIGIL_EXIT_USAGE);
	CHECK(parse(2, a4, &first) == -1);
	CHECK(parse(4, a5, &first) == 0 && to.flag && first == 3);
	CHECK_STR(a5[3], "-n");
}

/* every numeric kind checks its bounds in one place */
static void test_bounds(void)
{
	struct vigil_optset sets[] = { { table, &to }, { 0 } };
	char b[64];

	CHECK(parse1("--small", "10") == 0 && to.small == 10);
	CHECK(parse1("--small", "11") == VIGIL_EXIT_USAGE);
	CHECK(parse1("--small", "0") == VIGIL_EXIT_USAGE);
	CHECK(parse1("--dur", "1ms") == 0 && to.dur == 1000000);
	CHECK(parse1("--dur", "999us") == VIGIL_EXIT_USAGE);
	CHECK(parse1("--dur", "2h") == VIGIL_EXIT_USAGE);
	CHECK(parse1("--dur", "nan") == VIGIL_EXIT_USAGE);
	CHECK(parse1("--dur", "inf") == VIGIL_EXIT_USAGE);
	CHECK(parse1("--dur", "0x10s") == VIGIL_EXIT_USAGE);
	CHECK(parse1("--size", "4K") == 0 && to.size == 4096);
	CHECK(parse1("--size", "2M") == VIGIL_EXIT_USAGE);
	CHECK(parse1("--size", "4095") == VIGIL_EXIT_USAGE);
	vigil_opt_bounds(&table[5], b, sizeof(b));
	CHECK_STR(b, "1ms to 1h");
	vigil_opt_bounds(&table[3], b, sizeof(b));
	CHECK_STR(b, "1 to 10");
	/* the config path takes the same checks */
	CHECK(vigil_opt_set("test", sets, "small", "5") == 0 && to.small == 5);
	CHECK(vigil_opt_set("test", sets, "small", "50") == -1);
	CHECK(vigil_opt_set("test", sets, "flag", "true") == 0 && to.flag);
	CHECK(vigil_opt_set("test", sets, "flag", "maybe") == -1);
	CHECK(vigil_opt_set("test", sets, "nope", "1") == -ENOENT);
}

static int dummy_fn(void *base, const char *arg)
{
	return 0;
}

/* merged tables sharing a letter or a name are refused when built */
static void test_duplicates(void)
{
	static const struct vigil_opt t2[] = {
		{ "other", 'f', VO_FLAG, 0, NULL, "clashes with --flag's -f" }, VOPT_END,
	};
	static const struct vigil_opt t3[] = {
		{ "num", 0, VO_FUNC, 0, "N", "clashes with --num", dummy_fn }, VOPT_END,
	};
	struct vigil_optset ok[] = { { table, &to },
				     { vigil_output_opts, NULL }, { 0 } };
	struct vigil_optset d1[] = { { table, &to }, { t2, &to }, { 0 } };
	struct vigil_optset d2[] = { { table, &to }, { t3, &to }, { 0 } };
	char *a[] = { "test", NULL };
	int first;

	CHECK(vigil_opts_check("test", ok) == 0);
	CHECK(vigil_opts_check("test", d1) == -1);
	CHECK(vigil_opts_check("test", d2) == -1);
	CHECK(vigil_parse_opts("test", 1, a, d1, &first) == VIGIL_EXIT_FAIL);
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

static struct vigil_sink sink;

static char *render(void (*fn)(void))
{
	static char *buf;
	size_t len;

	free(buf);
	vigil.out = open_memstream(&buf, &len);
	memset(&sink, 0, sizeof(sink));
	sink.f = vigil.out;
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
	sink.json = true;
	out_row(&sink, &row);
}

static const struct vcol cols[] = {
	{ "PID", 5, "pid", NULL, true },
	{ "COMM", 6, "comm" },
	{ "ARGS", 0, "argv" },
	{ 0 },
};

static void row_table(void)
{
	sink.json = false;
	out_set_columns(&sink, cols);
	out_header(&sink);
	out_row(&sink, &row);
}

static void test_json_and_rows(void)
{
	static const char args[] = "ls\0-l\0\0tail-without-nul";
	struct vigil_hdr h = { .ts = 1, .pid = 42, .tid = 43, .comm = "ls" };

	CHECK_STR(render(json_doc),
		  "{\"s\":\"a\\\"b\\\\c\\n\\u0001\\udcff\",\"a\":[1,-2,{}],\"t\":true,\"n\":null}\n");

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

static const char *jstr_in;

static void json_one(void)
{
	struct jw w;

	jw_init(&w, vigil.out);
	jw_obj(&w, NULL);
	jw_str(&w, "s", jstr_in);
	jw_end_obj(&w);
}

static const char *json_of(const char *s)
{
	static char out[256];
	const char *r;

	jstr_in = s;
	r = render(json_one);
	/* {"s":"...."}\n -> the string's JSON text */
	snprintf(out, sizeof(out), "%.*s", (int)strlen(r) - 9, r + 6);
	return out;
}

/* JSON keeps text: UTF-8 passes through, other bytes escape reversibly */
static void test_utf8(void)
{
	CHECK_STR(json_of("caf\xc3\xa9"), "caf\xc3\xa9");
	CHECK_STR(json_of("\xe2\x82\xac \xf0\x9f\x90\xa7"), "\xe2\x82\xac \xf0\x9f\x90\xa7");
	CHECK_STR(json_of("a\xff" "b"), "a\\udcffb");
	/* a lone continuation byte, a cut sequence, an overlong '/', an encoded surrogate */
	CHECK_STR(json_of("\x80"), "\\udc80");
	CHECK_STR(json_of("\xc3"), "\\udcc3");
	CHECK_STR(json_of("\xc0\xaf"), "\\udcc0\\udcaf");
	CHECK_STR(json_of("\xed\xa0\x80"), "\\udced\\udca0\\udc80");
	CHECK_STR(json_of("\xf4\x90\x80\x80"), "\\udcf4\\udc90\\udc80\\udc80");
	CHECK(vigil_utf8_seq((const unsigned char *)"\xc3\xa9", 2) == 2);
	CHECK(vigil_utf8_seq((const unsigned char *)"\xc3\xa9", 1) == 0);
}

/* what other users control cannot forge a table row or reach the terminal */
static void test_term_escape(void)
{
	char b[128];

	vigil_term_escape("a\n12:00:00 exit", 64, b, sizeof(b));
	CHECK_STR(b, "a\\n12:00:00 exit");
	vigil_term_escape("\x1b[31mred", 64, b, sizeof(b));
	CHECK_STR(b, "\\x1b[31mred");
	vigil_term_escape("caf\xc3\xa9\x7f", 64, b, sizeof(b));
	CHECK_STR(b, "caf\xc3\xa9\\x7f");
	/* U+009B (CSI as one C1 code) and a byte that is not UTF-8 */
	vigil_term_escape("\xc2\x9b" "2J\xff", 64, b, sizeof(b));
	CHECK_STR(b, "\\xc2\\x9b2J\\xff");
	vigil_term_escape("abcdef", 64, b, 4);
	CHECK_STR(b, "abc");
}

static void row_table_evil(void)
{
	static const char args[] = "echo\0x\n12:00:00 exit 1\0\x1b]0;pwned\a";
	struct vigil_hdr h = { .ts = 1, .pid = 7, .comm = "e\x1bvil" };

	vrow_init(&row);
	vrow_hdr(&row, "exec", &h);
	vrow_strlist(&row, "argv", args, sizeof(args) - 1);
	sink.json = false;
	out_set_columns(&sink, cols);
	out_row(&sink, &row);
}

/* a missing key or a row past its limit is a bug, counted (fatal with VIGIL_STRICT) */
static void test_row_bugs(void)
{
	unsigned int bugs = vigil.bugs;
	struct vrow r;

	CHECK_STR(render(row_table_evil), "    7 e\\x1bvil echo x\\n12:00:00 exit 1 \\x1b]0;pwned\\x07\n");
	vrow_init(&r);
	vrow_u64(&r, "pid", 1);
	CHECK(vrow_u(&r, "pid") == 1);
	CHECK(vigil.bugs == bugs);
	CHECK(vrow_u(&r, "nope") == 0);
	CHECK_STR(vrow_s(&r, "pid"), "");	/* there, but not a string */
	CHECK(vigil.bugs == bugs + 2);
	for (int i = 0; i < VROW_MAX; i++)
		vrow_u64(&r, "x", i);
	CHECK(r.n == VROW_MAX && vigil.bugs == bugs + 3);
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
	test_bounds();
	test_duplicates();
	test_utf8();
	test_term_escape();
	test_row_bugs();
	test_durations_fmt();
	return check_done("test_core");
}
