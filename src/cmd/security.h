/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * vigil security's pure logic: names of kinds, calls, capabilities and BPF
 * types, and the severity and privilege-gain rules, apart from the CLI so
 * the unit tests can check them (tests/unit/test_security.c).
 */
#ifndef VIGIL_CMD_SECURITY_H
#define VIGIL_CMD_SECURITY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "vigil/events.h"

enum sec_severity { SEC_SEV_INFO, SEC_SEV_LOW, SEC_SEV_MEDIUM, SEC_SEV_HIGH, SEC_SEV__COUNT };

/* the result label: syscalls succeed or fail, capability checks are granted or denied */
enum sec_result { SEC_RES_OK, SEC_RES_FAILED, SEC_RES_GRANTED, SEC_RES_DENIED, SEC_RES__COUNT };

static const char *const sec_kind_names[VIGIL_SEC__KINDS] = {
	[VIGIL_SEC_CAP] = "capability", [VIGIL_SEC_CRED] = "cred", [VIGIL_SEC_EXEC] = "exec",
	[VIGIL_SEC_PTRACE] = "ptrace", [VIGIL_SEC_BPF] = "bpf", [VIGIL_SEC_MODULE] = "module",
};

static const char *const sec_severity_names[SEC_SEV__COUNT] = { "info", "low", "medium", "high" };
static const char *const sec_result_names[SEC_RES__COUNT] = { "ok", "failed", "granted", "denied" };

static const char *const sec_op_names[VIGIL_SOP__COUNT] = {
	[VIGIL_SOP_CAPABLE] = "capable",
	[VIGIL_SOP_SETUID] = "setuid", [VIGIL_SOP_SETGID] = "setgid",
	[VIGIL_SOP_SETREUID] = "setreuid", [VIGIL_SOP_SETREGID] = "setregid",
	[VIGIL_SOP_SETRESUID] = "setresuid", [VIGIL_SOP_SETRESGID] = "setresgid",
	[VIGIL_SOP_SETFSUID] = "setfsuid", [VIGIL_SOP_SETFSGID] = "setfsgid",
	[VIGIL_SOP_SETGROUPS] = "setgroups", [VIGIL_SOP_CAPSET] = "capset",
	[VIGIL_SOP_EXEC] = "exec",
	[VIGIL_SOP_PTRACE_ATTACH] = "ptrace_attach", [VIGIL_SOP_PTRACE_SEIZE] = "ptrace_seize",
	[VIGIL_SOP_VM_WRITEV] = "process_vm_writev",
	[VIGIL_SOP_PROG_LOAD] = "prog_load", [VIGIL_SOP_MAP_CREATE] = "map_create",
	[VIGIL_SOP_INIT_MODULE] = "init_module", [VIGIL_SOP_FINIT_MODULE] = "finit_module",
	[VIGIL_SOP_MODULE_LOAD] = "module_load",
};

/* include/uapi/linux/capability.h */
static const char *const sec_cap_names[] = {
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
	"CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
	"CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
	"CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
	"CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
};
#define SEC_NCAPS (sizeof(sec_cap_names) / sizeof(sec_cap_names[0]))

/* include/uapi/linux/bpf.h, enum bpf_prog_type */
static const char *const sec_prog_types[] = {
	"unspec", "socket_filter", "kprobe", "sched_cls", "sched_act", "tracepoint", "xdp",
	"perf_event", "cgroup_skb", "cgroup_sock", "lwt_in", "lwt_out", "lwt_xmit", "sock_ops",
	"sk_skb", "cgroup_device", "sk_msg", "raw_tracepoint", "cgroup_sock_addr", "lwt_seg6local",
	"lirc_mode2", "sk_reuseport", "flow_dissector", "cgroup_sysctl", "raw_tracepoint_writable",
	"cgroup_sockopt", "tracing", "struct_ops", "ext", "lsm", "sk_lookup", "syscall", "netfilter",
};

/* enum bpf_map_type */
static const char *const sec_map_types[] = {
	"unspec", "hash", "array", "prog_array", "perf_event_array", "percpu_hash", "percpu_array",
	"stack_trace", "cgroup_array", "lru_hash", "lru_percpu_hash", "lpm_trie", "array_of_maps",
	"hash_of_maps", "devmap", "sockmap", "cpumap", "xskmap", "sockhash", "cgroup_storage",
	"reuseport_sockarray", "percpu_cgroup_storage", "queue", "stack", "sk_storage",
	"devmap_hash", "struct_ops", "ringbuf", "inode_storage", "task_storage", "bloom_filter",
	"user_ringbuf", "cgrp_storage", "arena",
};

#define SEC_ARRAY_NAME(tab, i, buf, n) \
	((i) < sizeof(tab) / sizeof(tab[0]) ? tab[i] : (snprintf((buf), (n), "%u", (unsigned)(i)), (buf)))

/* "cap,cred" -> a mask of kinds; -1 with the bad word in bad */
static inline int sec_kinds_parse(const char *s, uint32_t *mask, char *bad, size_t n)
{
	uint32_t m = 0;

	while (*s) {
		size_t len = strcspn(s, ",");
		int k;

		for (k = 0; k < VIGIL_SEC__KINDS; k++)
			if (len == strlen(sec_kind_names[k]) && !strncmp(s, sec_kind_names[k], len))
				break;
		/* "cap" and "capabilities" are what people type */
		if (k == VIGIL_SEC__KINDS && ((len == 3 && !strncmp(s, "cap", 3)) ||
					      (len == 12 && !strncmp(s, "capabilities", 12))))
			k = VIGIL_SEC_CAP;
		if (k == VIGIL_SEC__KINDS) {
			snprintf(bad, n, "%.*s", (int)(len > 64 ? 64 : len), s);
			return -1;
		}
		m |= 1u << k;
		s += len;
		if (*s == ',' && *++s == 0) {
			snprintf(bad, n, "%s", "");
			return -1;
		}
	}
	if (!m) {
		snprintf(bad, n, "%s", "");
		return -1;
	}
	*mask = m;
	return 0;
}

static inline bool sec_is_uid_op(uint32_t op)
{
	return op == VIGIL_SOP_SETUID || op == VIGIL_SOP_SETREUID || op == VIGIL_SOP_SETRESUID ||
	       op == VIGIL_SOP_SETFSUID;
}

static inline bool sec_is_gid_op(uint32_t op)
{
	return op == VIGIL_SOP_SETGID || op == VIGIL_SOP_SETREGID || op == VIGIL_SOP_SETRESGID ||
	       op == VIGIL_SOP_SETFSGID;
}

/* a non-zero uid that became 0 */
static inline bool sec_became_root(uint32_t before, uint32_t after)
{
	return before != 0 && after == 0;
}

/*
 * A gain of privilege: a uid that became 0, or capabilities the task did not
 * have (effective or permitted). For an exec: a set-uid/file-capability image
 * run by a non-root user that runs as root or with capabilities.
 */
static inline bool sec_privilege_gain(const struct vigil_sec *e)
{
	const struct vigil_sec_ids *o = &e->old, *n = &e->new;

	if (e->kind == VIGIL_SEC_EXEC)
		return n->uid != 0 && (n->euid == 0 || n->cap_eff != 0);
	if (e->kind != VIGIL_SEC_CRED || e->ret < 0)
		return false;
	/* raising an effective capability the task held in its permitted set is no gain */
	return sec_became_root(o->uid, n->uid) || sec_became_root(o->euid, n->euid) ||
	       sec_became_root(o->suid, n->suid) || sec_became_root(o->fsuid, n->fsuid) ||
	       (n->cap_eff & ~(o->cap_eff | o->cap_prm)) || (n->cap_prm & ~o->cap_prm);
}

/* a uid call that asked for uid 0 from a task that was not root (arguments of -1 keep the id) */
static inline bool sec_asked_root(const struct vigil_sec *e)
{
	int nargs = e->op == VIGIL_SOP_SETRESUID ? 3 : e->op == VIGIL_SOP_SETREUID ? 2 : 1;

	if (!sec_is_uid_op(e->op) || e->old.euid == 0)
		return false;
	for (int i = 0; i < nargs; i++)
		if ((uint32_t)e->args[i] == 0)
			return true;
	return false;
}

static inline enum sec_result sec_result_of(const struct vigil_sec *e)
{
	if (e->kind == VIGIL_SEC_CAP)
		return e->ret ? SEC_RES_DENIED : SEC_RES_GRANTED;
	return e->ret < 0 ? SEC_RES_FAILED : SEC_RES_OK;
}

/* docs/security.md, "Severity" */
static inline enum sec_severity sec_severity_of(const struct vigil_sec *e)
{
	bool ok = e->ret >= 0;

	switch (e->kind) {
	case VIGIL_SEC_CAP:
		return e->ret ? SEC_SEV_LOW : SEC_SEV_INFO;
	case VIGIL_SEC_CRED:
		if (sec_privilege_gain(e))
			return SEC_SEV_HIGH;
		if (!ok)
			return sec_asked_root(e) ? SEC_SEV_MEDIUM : SEC_SEV_LOW;
		return SEC_SEV_INFO;
	case VIGIL_SEC_EXEC:
		if (e->flags & (VIGIL_SECF_MEMFD | VIGIL_SECF_UNLINKED))
			return SEC_SEV_HIGH;
		if (sec_privilege_gain(e) || (e->flags & VIGIL_SECF_WW_DIR))
			return SEC_SEV_MEDIUM;
		return SEC_SEV_LOW;
	case VIGIL_SEC_PTRACE:
		if (!ok)
			return SEC_SEV_LOW;
		return e->op == VIGIL_SOP_VM_WRITEV ? SEC_SEV_HIGH : SEC_SEV_MEDIUM;
	case VIGIL_SEC_BPF:
		if (!ok)
			return SEC_SEV_LOW;
		return e->op == VIGIL_SOP_PROG_LOAD ? SEC_SEV_MEDIUM : SEC_SEV_INFO;
	case VIGIL_SEC_MODULE:
		return ok ? SEC_SEV_HIGH : SEC_SEV_MEDIUM;
	}
	return SEC_SEV_INFO;
}

#endif
