// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * vigil security: the events an intrusion leaves behind, in one stream.
 *
 * Syscalls that change something (set*id, capset, ptrace, bpf, modules) are
 * caught at the syscall tracepoints: the entry keeps the task's credentials
 * and the arguments per thread, the exit ships them with the credentials
 * after the call and its result. Execs come from sched_process_exec, where
 * the new image's file and credentials are final; only the flagged ones
 * (set-uid/set-gid, no links left, world-writable directory) are shipped.
 * Capability checks come from capability:cap_capable (6.14+) or fexit on
 * cap_capable (the mechanism plan picks), de-duplicated here unless --all.
 */
#include "common.bpf.h"
#include "mech.bpf.h"

const volatile __u32 self_tgid = 0;	/* vigil does not report itself */
const volatile bool cap_all = false;	/* --all: every check, no de-duplication */
const volatile bool cap_denied = false;	/* --denied: failed checks only */

#define S_ISUID 04000
#define S_ISGID 02000
#define S_IWOTH 00002
#define PTRACE_ATTACH 16
#define PTRACE_SEIZE 0x4206
#define BPF_CMD_MAP_CREATE 0
#define BPF_CMD_PROG_LOAD 5
#define BPF_OBJ_NAME_LEN 16

/* a syscall in flight, keyed by tid: LRU, so threads that die inside one cannot fill it */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct vigil_sec);
} sec_inflight SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vigil_sec);
} sec_scratch SEC(".maps");

/* capability checks already shipped, with how often each was seen since */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct vigil_sec_cap_key);
	__type(value, __u64);
} sec_cap_seen SEC(".maps");

static __always_inline bool is_self(void)
{
	return self_tgid && (__u32)(bpf_get_current_pid_tgid() >> 32) == self_tgid;
}

static __always_inline __u64 read_cap(const kernel_cap_t *c)
{
	__u64 v = 0;

	/* a u64 since 6.3, two u32 before: the same 8 bytes either way */
	bpf_core_read(&v, sizeof(v), c);
	return v;
}

static __always_inline void read_ids(struct vigil_sec_ids *ids, const struct cred *c)
{
	ids->uid = BPF_CORE_READ(c, uid.val);
	ids->euid = BPF_CORE_READ(c, euid.val);
	ids->suid = BPF_CORE_READ(c, suid.val);
	ids->fsuid = BPF_CORE_READ(c, fsuid.val);
	ids->gid = BPF_CORE_READ(c, gid.val);
	ids->egid = BPF_CORE_READ(c, egid.val);
	ids->sgid = BPF_CORE_READ(c, sgid.val);
	ids->fsgid = BPF_CORE_READ(c, fsgid.val);
	ids->cap_eff = read_cap(&c->cap_effective);
	ids->cap_prm = read_cap(&c->cap_permitted);
	ids->ngroups = BPF_CORE_READ(c, group_info, ngroups);
	ids->_pad = 0;
}

static __always_inline const struct cred *current_cred(void)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();

	return BPF_CORE_READ(t, cred);
}

static __always_inline struct vigil_sec *scratch(void)
{
	__u32 zero = 0;
	struct vigil_sec *e = bpf_map_lookup_elem(&sec_scratch, &zero);

	if (e)
		__builtin_memset(e, 0, sizeof(*e));
	return e;
}

/* ---- syscalls: entry keeps the credentials and arguments, exit ships ------ */

static __always_inline struct vigil_sec *enter_begin(__u32 kind, __u32 op, __u64 a0, __u64 a1,
						     __u64 a2)
{
	struct vigil_sec *e;

	if (is_self() || !vigil_filter_pass())
		return NULL;
	e = scratch();
	if (!e)
		return NULL;
	e->kind = kind;
	e->op = op;
	e->args[0] = a0;
	e->args[1] = a1;
	e->args[2] = a2;
	read_ids(&e->old, current_cred());
	return e;
}

static __always_inline int enter_keep(struct vigil_sec *e)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	bpf_map_update_elem(&sec_inflight, &tid, e, BPF_ANY);
	return 0;
}

static __always_inline int enter_simple(__u32 kind, __u32 op, __u64 a0, __u64 a1, __u64 a2)
{
	struct vigil_sec *e = enter_begin(kind, op, a0, a1, a2);

	return e ? enter_keep(e) : 0;
}

static __always_inline int exit_ship(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct vigil_sec *kept, *e;

	kept = bpf_map_lookup_elem(&sec_inflight, &tid);
	if (!kept)
		return 0;
	e = vigil_reserve(sizeof(*e));
	if (e) {
		bpf_probe_read_kernel(e, sizeof(*e), kept);
		vigil_fill_hdr(&e->hdr, VIGIL_EV_SECURITY, bpf_get_current_task_btf());
		e->ret = ret;
		read_ids(&e->new, current_cred());
		bpf_ringbuf_submit(e, 0);
	}
	bpf_map_delete_elem(&sec_inflight, &tid);
	return 0;
}

/*
 * The first n arguments by value (the ctx cannot be offset by a variable),
 * never past the call's own: attaching fails with EACCES for a program that
 * reads beyond its tracepoint's record.
 */
#define ARG(ctx, i, n) ((i) < (n) ? (ctx)->args[(i) < (n) ? (i) : 0] : 0)
#define ARGS(ctx, n) ARG(ctx, 0, n), ARG(ctx, 1, n), ARG(ctx, 2, n)

/* the credential calls: same entry and exit, the op says which */
#define CRED_PAIR(call, op, n)						\
SEC("tracepoint/syscalls/sys_enter_" #call)					\
int sec_enter_##call(struct trace_event_raw_sys_enter *ctx)			\
{										\
	return enter_simple(VIGIL_SEC_CRED, op, ARGS(ctx, n));			\
}										\
SEC("tracepoint/syscalls/sys_exit_" #call)					\
int sec_exit_##call(struct trace_event_raw_sys_exit *ctx)			\
{										\
	return exit_ship(ctx->ret);						\
}

CRED_PAIR(setuid, VIGIL_SOP_SETUID, 1)
CRED_PAIR(setgid, VIGIL_SOP_SETGID, 1)
CRED_PAIR(setreuid, VIGIL_SOP_SETREUID, 2)
CRED_PAIR(setregid, VIGIL_SOP_SETREGID, 2)
CRED_PAIR(setresuid, VIGIL_SOP_SETRESUID, 3)
CRED_PAIR(setresgid, VIGIL_SOP_SETRESGID, 3)
CRED_PAIR(setfsuid, VIGIL_SOP_SETFSUID, 1)
CRED_PAIR(setfsgid, VIGIL_SOP_SETFSGID, 1)
CRED_PAIR(setgroups, VIGIL_SOP_SETGROUPS, 2)
CRED_PAIR(capset, VIGIL_SOP_CAPSET, 2)

/* ptrace: attach and seize only; the other requests act on a tracee already held */
SEC("tracepoint/syscalls/sys_enter_ptrace")
int sec_enter_ptrace(struct trace_event_raw_sys_enter *ctx)
{
	long req = ctx->args[0];
	struct vigil_sec *e;

	if (req != PTRACE_ATTACH && req != PTRACE_SEIZE)
		return 0;
	e = enter_begin(VIGIL_SEC_PTRACE, req == PTRACE_ATTACH ? VIGIL_SOP_PTRACE_ATTACH :
				VIGIL_SOP_PTRACE_SEIZE, ARGS(ctx, 3));
	if (!e)
		return 0;
	e->target_pid = ctx->args[1];
	return enter_keep(e);
}

SEC("tracepoint/syscalls/sys_exit_ptrace")
int sec_exit_ptrace(struct trace_event_raw_sys_exit *ctx)
{
	return exit_ship(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_process_vm_writev")
int sec_enter_vm_writev(struct trace_event_raw_sys_enter *ctx)
{
	struct vigil_sec *e = enter_begin(VIGIL_SEC_PTRACE, VIGIL_SOP_VM_WRITEV, ARGS(ctx, 3));

	if (!e)
		return 0;
	e->target_pid = ctx->args[0];
	return enter_keep(e);
}

SEC("tracepoint/syscalls/sys_exit_process_vm_writev")
int sec_exit_vm_writev(struct trace_event_raw_sys_exit *ctx)
{
	return exit_ship(ctx->ret);
}

/* bpf(): program loads and map creation, the type and name from the caller's attr */
SEC("tracepoint/syscalls/sys_enter_bpf")
int sec_enter_bpf(struct trace_event_raw_sys_enter *ctx)
{
	const char *attr = (const char *)ctx->args[1];
	long cmd = ctx->args[0];
	struct vigil_sec *e;

	if (cmd != BPF_CMD_PROG_LOAD && cmd != BPF_CMD_MAP_CREATE)
		return 0;
	e = enter_begin(VIGIL_SEC_BPF, cmd == BPF_CMD_PROG_LOAD ? VIGIL_SOP_PROG_LOAD :
				VIGIL_SOP_MAP_CREATE, ARGS(ctx, 3));
	if (!e)
		return 0;
	/* prog_type and map_type are both the attr's first word (UAPI) */
	bpf_probe_read_user(&e->obj_type, sizeof(e->obj_type), attr);
	if (cmd == BPF_CMD_PROG_LOAD)
		bpf_probe_read_user(e->name, BPF_OBJ_NAME_LEN,
				    attr + __builtin_offsetof(union bpf_attr, prog_name));
	else
		bpf_probe_read_user(e->name, BPF_OBJ_NAME_LEN,
				    attr + __builtin_offsetof(union bpf_attr, map_name));
	e->name[BPF_OBJ_NAME_LEN - 1] = 0;
	return enter_keep(e);
}

SEC("tracepoint/syscalls/sys_exit_bpf")
int sec_exit_bpf(struct trace_event_raw_sys_exit *ctx)
{
	return exit_ship(ctx->ret);
}

/* module loads: loaded only where the kernel has modules (the tracepoints exist) */
SEC("tracepoint/syscalls/sys_enter_init_module")
int sec_enter_init_module(struct trace_event_raw_sys_enter *ctx)
{
	struct vigil_sec *e = enter_begin(VIGIL_SEC_MODULE, VIGIL_SOP_INIT_MODULE, ARGS(ctx, 3));

	if (!e)
		return 0;
	if (bpf_probe_read_user_str(e->path, sizeof(e->path), (const char *)ctx->args[2]) ==
	    sizeof(e->path))
		e->flags |= VIGIL_SECF_PATH_TRUNC;
	return enter_keep(e);
}

SEC("tracepoint/syscalls/sys_exit_init_module")
int sec_exit_init_module(struct trace_event_raw_sys_exit *ctx)
{
	return exit_ship(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_finit_module")
int sec_enter_finit_module(struct trace_event_raw_sys_enter *ctx)
{
	struct vigil_sec *e = enter_begin(VIGIL_SEC_MODULE, VIGIL_SOP_FINIT_MODULE, ARGS(ctx, 3));

	if (!e)
		return 0;
	if (bpf_probe_read_user_str(e->path, sizeof(e->path), (const char *)ctx->args[1]) ==
	    sizeof(e->path))
		e->flags |= VIGIL_SECF_PATH_TRUNC;
	return enter_keep(e);
}

SEC("tracepoint/syscalls/sys_exit_finit_module")
int sec_exit_finit_module(struct trace_event_raw_sys_exit *ctx)
{
	return exit_ship(ctx->ret);
}

/* module:module_load, the format of every kernel with modules since 2.6.31 */
struct module_load_ctx {
	__u64 common;
	__u32 taints;
	__u32 name_loc;		/* __data_loc char[]: offset | length << 16 */
};

SEC("tracepoint/module/module_load")
int sec_module_load(struct module_load_ctx *ctx)
{
	struct vigil_sec *e;
	__u32 loc = ctx->name_loc;

	if (is_self())
		return 0;
	e = vigil_begin(sizeof(*e), VIGIL_EV_SECURITY, bpf_get_current_task_btf());
	if (!e)
		return 0;
	__builtin_memset((char *)e + sizeof(e->hdr), 0, sizeof(*e) - sizeof(e->hdr));
	e->kind = VIGIL_SEC_MODULE;
	e->op = VIGIL_SOP_MODULE_LOAD;
	e->args[0] = ctx->taints;
	bpf_probe_read_kernel_str(e->name, sizeof(e->name), (char *)ctx + (loc & 0xffff));
	read_ids(&e->old, current_cred());
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* ---- execs: only those worth a look -------------------------------------- */

SEC("tp_btf/sched_process_exec")
int BPF_PROG(sec_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct file *f = BPF_CORE_READ(bprm, file);
	struct dentry *d = BPF_CORE_READ(f, f_path.dentry);
	struct inode *ino = BPF_CORE_READ(f, f_inode);
	__u32 mode = BPF_CORE_READ(ino, i_mode);
	__u32 dmode = BPF_CORE_READ(d, d_parent, d_inode, i_mode);
	__u32 nlink = BPF_CORE_READ(ino, i_nlink);
	__u32 flags = 0;
	struct vigil_sec *e;
	const unsigned char *dname;

	if (mode & S_ISUID)
		flags |= VIGIL_SECF_SETUID;
	/* set-gid without group execute is mandatory locking, not set-gid */
	if ((mode & S_ISGID) && (mode & 00010))
		flags |= VIGIL_SECF_SETGID;
	if (!nlink)
		flags |= VIGIL_SECF_UNLINKED;
	if (dmode & S_IWOTH)
		flags |= VIGIL_SECF_WW_DIR;
	if (!flags || is_self())
		return 0;
	e = vigil_begin(sizeof(*e), VIGIL_EV_SECURITY, p);
	if (!e)
		return 0;
	__builtin_memset((char *)e + sizeof(e->hdr), 0, sizeof(*e) - sizeof(e->hdr));
	e->kind = VIGIL_SEC_EXEC;
	e->op = VIGIL_SOP_EXEC;
	e->obj_type = mode;
	e->obj_uid = BPF_CORE_READ(ino, i_uid.val);
	e->obj_gid = BPF_CORE_READ(ino, i_gid.val);
	dname = BPF_CORE_READ(d, d_name.name);
	bpf_probe_read_kernel_str(e->name, sizeof(e->name), dname);
	/* memfd_create names its file "memfd:NAME" (mm/memfd.c) */
	if (e->name[0] == 'm' && e->name[1] == 'e' && e->name[2] == 'm' && e->name[3] == 'f' &&
	    e->name[4] == 'd' && e->name[5] == ':' && !nlink) {
		/* its "directory" is the root of the kernel's internal shmem mount */
		flags |= VIGIL_SECF_MEMFD;
		flags &= ~VIGIL_SECF_WW_DIR;
	}
	if (bpf_probe_read_kernel_str(e->path, sizeof(e->path), BPF_CORE_READ(bprm, filename)) ==
	    sizeof(e->path))
		flags |= VIGIL_SECF_PATH_TRUNC;
	e->flags = flags;
	/* the credentials the new image runs with; the real uid is who ran it */
	read_ids(&e->new, BPF_CORE_READ(p, cred));
	e->old = e->new;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* ---- capability checks ---------------------------------------------------- */

static __always_inline int cap_check(int cap, int ret, const struct user_namespace *ns, __u32 slot)
{
	struct vigil_sec_cap_key k;
	struct vigil_sec *e;
	__u64 one = 1, *n;

	vigil_seen_hit(slot);
	if ((cap_denied && !ret) || is_self() || !vigil_filter_pass())
		return 0;
	if (!cap_all) {
		k.cgroup_id = bpf_get_current_cgroup_id();
		k.pid = bpf_get_current_pid_tgid() >> 32;
		k.cap = cap;
		k.ret = ret;
		k._pad = 0;
		n = bpf_map_lookup_elem(&sec_cap_seen, &k);
		if (n) {
			__sync_fetch_and_add(n, 1);
			return 0;
		}
		bpf_map_update_elem(&sec_cap_seen, &k, &one, BPF_NOEXIST);
	}
	e = vigil_begin(sizeof(*e), VIGIL_EV_SECURITY, bpf_get_current_task_btf());
	if (!e)
		return 0;
	__builtin_memset((char *)e + sizeof(e->hdr), 0, sizeof(*e) - sizeof(e->hdr));
	e->kind = VIGIL_SEC_CAP;
	e->op = VIGIL_SOP_CAPABLE;
	e->args[0] = cap;
	e->ret = ret;
	if (ns && BPF_CORE_READ(ns, level) > 0)
		e->flags |= VIGIL_SECF_USERNS;
	read_ids(&e->old, current_cred());
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* 6.14+: the tracepoint at the end of cap_capable() */
SEC("tp_btf/cap_capable")
int BPF_PROG(sec_cap_tp, const struct cred *cred, struct user_namespace *target_ns,
	     const struct user_namespace *capable_ns, int cap, int ret)
{
	return cap_check(cap, ret, target_ns, 0);
}

/* older kernels: the same function's return, where BPF trampolines work */
SEC("fexit/cap_capable")
int BPF_PROG(sec_cap_fexit, const struct cred *cred, struct user_namespace *ns, int cap,
	     unsigned int opts, int ret)
{
	return cap_check(cap, ret, ns, 0);
}
