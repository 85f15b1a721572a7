// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* Unit tests of vigil disk's pure logic: rwbs decoding (the BPF code, as plain C),
 * the --op list, flag letters and percentiles estimated from log2 buckets. */
#include <stdint.h>
#include <string.h>
#include "check.h"
#include "cmd/disk.h"

#undef __always_inline
#define __always_inline inline
#define VIGIL_DISK_OP_USER_TEST
typedef uint32_t __u32;
#include "../../bpf/disk_op.h"

static void test_rwbs(void)
{
	static const struct { const char *rwbs; uint32_t op, flags; } cases[] = {
		{ "R", VIGIL_DISK_READ, 0 },
		{ "RS", VIGIL_DISK_READ, VIGIL_DISK_F_SYNC },
		{ "RA", VIGIL_DISK_READ, VIGIL_DISK_F_AHEAD },
		{ "RM", VIGIL_DISK_READ, VIGIL_DISK_F_META },
		{ "WS", VIGIL_DISK_WRITE, VIGIL_DISK_F_SYNC },
		{ "WFS", VIGIL_DISK_WRITE, VIGIL_DISK_F_FUA | VIGIL_DISK_F_SYNC },
		{ "FWS", VIGIL_DISK_WRITE, VIGIL_DISK_F_PREFLUSH | VIGIL_DISK_F_SYNC },
		{ "FWFSM", VIGIL_DISK_WRITE, VIGIL_DISK_F_PREFLUSH | VIGIL_DISK_F_FUA |
		  VIGIL_DISK_F_SYNC | VIGIL_DISK_F_META },
		{ "F", VIGIL_DISK_FLUSH, 0 },
		{ "FF", VIGIL_DISK_FLUSH, VIGIL_DISK_F_PREFLUSH },
		{ "FFS", VIGIL_DISK_FLUSH, VIGIL_DISK_F_PREFLUSH | VIGIL_DISK_F_SYNC },
		{ "D", VIGIL_DISK_DISCARD, 0 },
		{ "DE", VIGIL_DISK_DISCARD, 0 },
		{ "N", VIGIL_DISK_OTHER, 0 },
		{ "", VIGIL_DISK_OTHER, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char rwbs[10] = { 0 };
		__u32 flags = 0xdead;

		strncpy(rwbs, cases[i].rwbs, sizeof(rwbs) - 1);
		CHECK(vigil_disk_rwbs(rwbs, &flags) == cases[i].op);
		CHECK(flags == cases[i].flags);
	}
}

static void test_parse_ops(void)
{
	uint32_t m = 0;
	char bad[32];

	CHECK(disk_parse_ops("read", &m, bad, sizeof(bad)) == 0 && m == 1u << VIGIL_DISK_READ);
	CHECK(disk_parse_ops("write,flush", &m, bad, sizeof(bad)) == 0 &&
	      m == ((1u << VIGIL_DISK_WRITE) | (1u << VIGIL_DISK_FLUSH)));
	CHECK(disk_parse_ops("discard,other,read", &m, bad, sizeof(bad)) == 0 && m == 0x19);
	CHECK(disk_parse_ops("read,bogus", &m, bad, sizeof(bad)) < 0);
	CHECK_STR(bad, "bogus");
	CHECK(disk_parse_ops("reads", &m, bad, sizeof(bad)) < 0);
	CHECK_STR(bad, "reads");
	CHECK(disk_parse_ops("", &m, bad, sizeof(bad)) < 0);
	CHECK(disk_parse_ops(",", &m, bad, sizeof(bad)) < 0);
	CHECK_STR(disk_op_name(VIGIL_DISK_FLUSH), "flush");
	CHECK_STR(disk_op_name(VIGIL_DISK_OP__COUNT), "all");
}

static void test_flag_str(void)
{
	char b[8];

	disk_flag_str(0, b, sizeof(b));
	CHECK_STR(b, "");
	disk_flag_str(VIGIL_DISK_F_SYNC | VIGIL_DISK_F_META | VIGIL_DISK_F_NOISSUER, b, sizeof(b));
	CHECK_STR(b, "SM");
	disk_flag_str(0x1f, b, sizeof(b));
	CHECK_STR(b, "SMFPA");
	disk_flag_str(0x1f, b, 3);
	CHECK_STR(b, "SM");
}

static void test_quantiles(void)
{
	uint64_t s[VIGIL_HIST_SLOTS] = { 0 };

	CHECK(disk_hist_quantile(s, 0.5) == 0);
	/* 100 values in [1024, 2047]: every quantile inside that bucket, in order */
	s[10] = 100;
	CHECK(disk_hist_quantile(s, 0.5) >= 1024 && disk_hist_quantile(s, 0.5) <= 2047);
	CHECK(disk_hist_quantile(s, 0.5) < disk_hist_quantile(s, 0.9));
	CHECK(disk_hist_quantile(s, 0.9) < disk_hist_quantile(s, 0.99));
	CHECK(disk_hist_quantile(s, 1.0) == 2047);
	CHECK(disk_hist_quantile(s, 0.5) == 1024 + (2047 - 1024) / 2);
	/* 90 fast, 10 slow: p50 and p90 in the fast bucket, p99 in the slow one */
	memset(s, 0, sizeof(s));
	s[12] = 90;	/* 4096..8191 */
	s[20] = 10;	/* 1048576..2097151 */
	CHECK(disk_hist_quantile(s, 0.50) >= 4096 && disk_hist_quantile(s, 0.50) <= 8191);
	CHECK(disk_hist_quantile(s, 0.90) == 8191);
	CHECK(disk_hist_quantile(s, 0.91) >= 1048576);
	CHECK(disk_hist_quantile(s, 0.99) >= 1048576 && disk_hist_quantile(s, 0.99) <= 2097151);
	/* out-of-range q is clamped; one value is every quantile's bucket */
	CHECK(disk_hist_quantile(s, -1) == disk_hist_quantile(s, 0));
	CHECK(disk_hist_quantile(s, 2) == 2097151);
	memset(s, 0, sizeof(s));
	s[0] = 1;
	CHECK(disk_hist_quantile(s, 0.99) <= 1);
	memset(s, 0, sizeof(s));
	s[63] = 1;
	CHECK(disk_hist_quantile(s, 0.5) >= (1ull << 63));
}

int main(void)
{
	test_rwbs();
	test_parse_ops();
	test_flag_str();
	test_quantiles();
	return check_done("disk");
}
