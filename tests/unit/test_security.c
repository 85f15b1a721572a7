// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* Unit tests of vigil security's pure logic: --kind, privilege gain, severity, names. */
#include <string.h>
#include "check.h"
#include "cmd/security.h"

static struct vigil_sec cred(uint32_t op, uint32_t old_euid, uint32_t new_euid, long ret)
{
	struct vigil_sec e;

	memset(&e, 0, sizeof(e));
	e.kind = VIGIL_SEC_CRED;
	e.op = op;
	e.ret = ret;
	e.old.uid = e.old.euid = e.old.suid = e.old.fsuid = old_euid;
	e.new.uid = e.new.euid = e.new.suid = e.new.fsuid = new_euid;
	return e;
}

static void test_kinds(void)
{
	uint32_t m = 0;
	char bad[80];

	CHECK(sec_kinds_parse("cred", &m, bad, sizeof(bad)) == 0 && m == 1u << VIGIL_SEC_CRED);
	CHECK(sec_kinds_parse("cap,exec,module", &m, bad, sizeof(bad)) == 0 &&
	      m == ((1u << VIGIL_SEC_CAP) | (1u << VIGIL_SEC_EXEC) | (1u << VIGIL_SEC_MODULE)));
	CHECK(sec_kinds_parse("capability", &m, bad, sizeof(bad)) == 0 && m == 1u << VIGIL_SEC_CAP);
	CHECK(sec_kinds_parse("ptrace,nope", &m, bad, sizeof(bad)) == -1);
	CHECK_STR(bad, "nope");
	CHECK(sec_kinds_parse("cred,", &m, bad, sizeof(bad)) == -1);
	CHECK(sec_kinds_parse("", &m, bad, sizeof(bad)) == -1);
	/* a prefix is not a kind */
	CHECK(sec_kinds_parse("cre", &m, bad, sizeof(bad)) == -1);
}

static void test_gain(void)
{
	struct vigil_sec e;

	e = cred(VIGIL_SOP_SETUID, 1000, 0, 0);
	CHECK(sec_privilege_gain(&e));
	CHECK(sec_severity_of(&e) == SEC_SEV_HIGH);
	/* root staying root, and dropping root: no gain */
	e = cred(VIGIL_SOP_SETUID, 0, 0, 0);
	CHECK(!sec_privilege_gain(&e) && sec_severity_of(&e) == SEC_SEV_INFO);
	e = cred(VIGIL_SOP_SETUID, 0, 65534, 0);
	CHECK(!sec_privilege_gain(&e));
	/* a failed call gains nothing; asking for root from non-root ranks medium */
	e = cred(VIGIL_SOP_SETUID, 65534, 65534, -1);
	e.args[0] = 0;
	CHECK(!sec_privilege_gain(&e) && sec_asked_root(&e));
	CHECK(sec_severity_of(&e) == SEC_SEV_MEDIUM && sec_result_of(&e) == SEC_RES_FAILED);
	e.args[0] = 1000;
	CHECK(!sec_asked_root(&e) && sec_severity_of(&e) == SEC_SEV_LOW);
	/* setresuid(-1, -1, 0): only the third argument asks for root */
	e = cred(VIGIL_SOP_SETRESUID, 1000, 1000, -1);
	e.args[0] = e.args[1] = 0xffffffffu;
	e.args[2] = 0;
	CHECK(sec_asked_root(&e));
	/* capabilities: raising what was permitted is no gain; a new permitted bit is */
	e = cred(VIGIL_SOP_CAPSET, 1000, 1000, 0);
	e.old.cap_prm = 0x3;
	e.new.cap_prm = 0x3;
	e.new.cap_eff = 0x3;
	CHECK(!sec_privilege_gain(&e));
	e.new.cap_prm = 0x7;
	CHECK(sec_privilege_gain(&e));
	e.new.cap_prm = 0x3;
	e.new.cap_eff = 0x8;
	CHECK(sec_privilege_gain(&e));
}

static void test_exec(void)
{
	struct vigil_sec e;

	memset(&e, 0, sizeof(e));
	e.kind = VIGIL_SEC_EXEC;
	e.flags = VIGIL_SECF_SETUID;
	e.new.uid = 1000;
	e.new.euid = 0;
	CHECK(sec_privilege_gain(&e) && sec_severity_of(&e) == SEC_SEV_MEDIUM);
	e.new.uid = 0;
	CHECK(!sec_privilege_gain(&e) && sec_severity_of(&e) == SEC_SEV_LOW);
	e.flags = VIGIL_SECF_UNLINKED | VIGIL_SECF_MEMFD;
	CHECK(sec_severity_of(&e) == SEC_SEV_HIGH);
	e.flags = VIGIL_SECF_WW_DIR;
	CHECK(sec_severity_of(&e) == SEC_SEV_MEDIUM);
	CHECK(sec_result_of(&e) == SEC_RES_OK);
}

static void test_others(void)
{
	struct vigil_sec e;
	char buf[16];

	memset(&e, 0, sizeof(e));
	e.kind = VIGIL_SEC_CAP;
	e.ret = -1;
	CHECK(sec_result_of(&e) == SEC_RES_DENIED && sec_severity_of(&e) == SEC_SEV_LOW);
	e.ret = 0;
	CHECK(sec_result_of(&e) == SEC_RES_GRANTED && sec_severity_of(&e) == SEC_SEV_INFO);
	e.kind = VIGIL_SEC_PTRACE;
	e.op = VIGIL_SOP_VM_WRITEV;
	e.ret = 8;
	CHECK(sec_severity_of(&e) == SEC_SEV_HIGH);
	e.op = VIGIL_SOP_PTRACE_ATTACH;
	e.ret = 0;
	CHECK(sec_severity_of(&e) == SEC_SEV_MEDIUM);
	e.ret = -1;
	CHECK(sec_severity_of(&e) == SEC_SEV_LOW);
	e.kind = VIGIL_SEC_MODULE;
	CHECK(sec_severity_of(&e) == SEC_SEV_MEDIUM);
	e.ret = 0;
	CHECK(sec_severity_of(&e) == SEC_SEV_HIGH);

	CHECK_STR(SEC_ARRAY_NAME(sec_cap_names, 21u, buf, sizeof(buf)), "CAP_SYS_ADMIN");
	CHECK_STR(SEC_ARRAY_NAME(sec_cap_names, 40u, buf, sizeof(buf)), "CAP_CHECKPOINT_RESTORE");
	CHECK_STR(SEC_ARRAY_NAME(sec_cap_names, 63u, buf, sizeof(buf)), "63");
	CHECK_STR(SEC_ARRAY_NAME(sec_prog_types, 1u, buf, sizeof(buf)), "socket_filter");
	CHECK_STR(SEC_ARRAY_NAME(sec_prog_types, 26u, buf, sizeof(buf)), "tracing");
	CHECK_STR(SEC_ARRAY_NAME(sec_map_types, 27u, buf, sizeof(buf)), "ringbuf");
	for (int i = 0; i < VIGIL_SOP__COUNT; i++)
		CHECK(sec_op_names[i] != NULL);
}

int main(void)
{
	test_kinds();
	test_gain();
	test_exec();
	test_others();
	return check_done("test_security");
}
