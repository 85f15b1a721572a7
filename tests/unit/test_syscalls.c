// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* The generated syscall table and its lookups. */
#include "check.h"
#include <stdint.h>
#include "core/syscalls.h"

static int has(const char **v, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(v[i], s))
			return 1;
	return 0;
}

static int learner_calls;

static void learner(void)
{
	learner_calls++;
}

int main(void)
{
	const char *near[5];
	char buf[32];
	int n, arg;

	/* the x86_64 ABI numbers, which never change once assigned */
	CHECK_STR(vigil_syscall_name(0), "read");
	CHECK_STR(vigil_syscall_name(110), "getppid");
	CHECK_STR(vigil_syscall_name(59), "execve");
	CHECK_STR(vigil_syscall_name(257), "openat");
	CHECK(vigil_syscall_name(-1) == NULL);
	CHECK(vigil_syscall_name(100000) == NULL);
	CHECK(vigil_syscall_count() > 400);

	CHECK(vigil_syscall_nr("getppid") == 110);
	CHECK(vigil_syscall_nr("sys_openat") == 257);
	CHECK(vigil_syscall_nr("39") == 39);
	CHECK(vigil_syscall_nr("451") == 451);	/* newer than the table: allowed */
	CHECK(vigil_syscall_nr("5000") == -1);
	CHECK(vigil_syscall_nr("getppdi") == -1);
	CHECK(vigil_syscall_nr("") == -1);

	CHECK_STR(vigil_syscall_label(110, buf, sizeof(buf)), "getppid");
	CHECK_STR(vigil_syscall_label(999, buf, sizeof(buf)), "syscall_999");

	CHECK(vigil_edit_distance("", "") == 0);
	CHECK(vigil_edit_distance("abc", "abc") == 0);
	CHECK(vigil_edit_distance("abc", "") == 3);
	CHECK(vigil_edit_distance("kitten", "sitting") == 3);
	CHECK(vigil_edit_distance("getppdi", "getppid") == 2);

	n = vigil_syscall_suggest("getppdi", near, 5);
	CHECK(n >= 1 && has(near, n, "getppid"));
	n = vigil_syscall_suggest("opn", near, 5);
	CHECK(n >= 1 && !strcmp(near[0], "open"));
	n = vigil_syscall_suggest("fstatt", near, 5);
	CHECK(n >= 1 && !strcmp(near[0], "fstat"));
	n = vigil_syscall_suggest("xyzzy", near, 5);
	CHECK(n == 0);
	/* a fragment finds the names that contain it */
	n = vigil_syscall_suggest("statat", near, 5);
	CHECK(has(near, n, "newfstatat"));
	n = vigil_syscall_suggest("getppdi", near, 1);
	CHECK(n == 1);

	CHECK(vigil_syscall_decoded_arg(257, &arg) == VIGIL_SC_ARG_PATH && arg == 1);
	CHECK(vigil_syscall_decoded_arg(59, &arg) == VIGIL_SC_ARG_PATH && arg == 0);
	CHECK(vigil_syscall_decoded_arg(42, &arg) == VIGIL_SC_ARG_SOCKADDR && arg == 1);
	CHECK(vigil_syscall_decoded_arg(110, &arg) == VIGIL_SC_ARG_NONE);
	CHECK(vigil_syscall_decoded_arg(-5, &arg) == VIGIL_SC_ARG_NONE);

	/* learning from the running kernel: a fake table and its symbols */
	{
		static uint64_t table[600];
		struct vigil_ksym syms[] = {
			{ 0x1000, "__x64_sys_ni_syscall" },
			{ 0x2000, "__x64_sys_read" },
			{ 0x3000, "__x64_sys_vigiltest_new" },
			{ 0x4000, "__x64_sys_vigiltest_later" },
			{ 0x5000, "__ia32_sys_vigiltest_compat" },
		};
		int base = vigil_syscall_count();

		for (int i = 0; i < 600; i++)
			table[i] = 0x1000;		/* unassigned */
		table[0] = 0x2000;			/* the table's name wins */
		table[base + 1] = 0x3000;
		table[base + 3] = 0x4000;
		table[base + 4] = 0x5000;		/* not an x86_64 handler */
		table[base + 5] = 0x9999;		/* no symbol */
		/* a miss asks the learner, once */
		vigil_syscall_learner = learner;
		CHECK(vigil_syscall_name(base + 1) == NULL);
		CHECK(vigil_syscall_nr("vigiltest_new") == -1);
		CHECK(learner_calls == 1);
		CHECK(vigil_syscall_learn(table, 600, syms, 5) == 2);
		CHECK_STR(vigil_syscall_name(0), "read");
		CHECK_STR(vigil_syscall_name(base + 1), "vigiltest_new");
		CHECK_STR(vigil_syscall_name(base + 3), "vigiltest_later");
		CHECK(vigil_syscall_name(base) == NULL);
		CHECK(vigil_syscall_name(base + 4) == NULL);
		CHECK(vigil_syscall_name(base + 5) == NULL);
		CHECK(vigil_syscall_nr("vigiltest_later") == base + 3);
		CHECK_STR(vigil_syscall_label(base + 1, buf, sizeof(buf)), "vigiltest_new");
		n = vigil_syscall_suggest("vigiltest_neww", near, 5);
		CHECK(n >= 1 && !strcmp(near[0], "vigiltest_new"));
		CHECK(learner_calls == 1);
	}
	return check_done("test_syscalls");
}
