/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Every struct that crosses the kernel/user boundary, in one place.
 *
 * Included by the BPF programs (after vmlinux.h) and by user space. Only
 * fixed-width types; padding is written out as named fields so it is zeroed
 * on both sides, and every struct has its size and key offsets pinned by
 * _Static_assert: a layout change that would silently break the wire
 * format fails the build instead.
 */
#ifndef VIGIL_EVENTS_H
#define VIGIL_EVENTS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#include <stddef.h>
#endif

#define VIGIL_CHECK_SIZE(type, size) \
	_Static_assert(sizeof(type) == (size), "size of " #type " changed")
#define VIGIL_CHECK_OFF(type, field, off) \
	_Static_assert(__builtin_offsetof(type, field) == (off), \
		       "offset of " #type "." #field " changed")

#define VIGIL_COMM_LEN 16

/* Event types: the first field a consumer reads to dispatch a record. */
enum vigil_event_type {
	VIGIL_EV_NONE = 0,
	VIGIL_EV_EXEC = 1,
	VIGIL_EV_FORK = 2,
	VIGIL_EV_EXIT = 3,
	VIGIL_EV_PING = 4,	/* doctor's round trip */
	VIGIL_EV_SYSCALL = 5,
	VIGIL_EV_FW_DROP = 20,	/* firewall: a sampled drop */
	VIGIL_EV_GUARD = 30,	/* guard: a denied or audited exec or connect */
	VIGIL_EV_GUARD_HASH = 31,	/* guard: an exec stopped until user space hashes it */
};

/* Common prefix of every ring buffer record. */
struct vigil_hdr {
	__u64 ts;		/* CLOCK_BOOTTIME ns */
	__u64 cgroup_id;	/* cgroup v2 id of the task */
	__u32 type;		/* enum vigil_event_type */
	__u32 pid;		/* tgid */
	__u32 tid;
	__u32 ppid;		/* tgid of real_parent */
	__u32 uid;
	__u32 gid;
	char comm[VIGIL_COMM_LEN];
};
VIGIL_CHECK_SIZE(struct vigil_hdr, 56);
VIGIL_CHECK_OFF(struct vigil_hdr, type, 16);
VIGIL_CHECK_OFF(struct vigil_hdr, pid, 20);
VIGIL_CHECK_OFF(struct vigil_hdr, comm, 40);

/*
 * Filters common to every tracing command, fixed in .rodata before load so
 * the verifier prunes the disabled ones. The cgroup filter itself is a
 * cgroup array map (it needs an fd); this only says whether to consult it.
 */
enum vigil_filter_flags {
	VIGIL_F_PID = 1 << 0,
	VIGIL_F_TID = 1 << 1,
	VIGIL_F_UID = 1 << 2,
	VIGIL_F_COMM = 1 << 3,
	VIGIL_F_CGROUP = 1 << 4,
	VIGIL_F_CONTAINER = 1 << 5,	/* --container */
};

#define VIGIL_MAX_CONTAINERS 8

struct vigil_filter {
	__u32 flags;		/* enum vigil_filter_flags */
	__u32 pid;
	__u32 tid;
	__u32 uid;
	char comm[VIGIL_COMM_LEN];
	/* with VIGIL_F_PID: the process's start time in clock ticks since boot
	 * (/proc/PID/stat field 22), so a new process reusing the pid fails */
	__u64 pid_start;
	/* --container: the task is in one of these cgroups or below (the
	 * container's top cgroup id at its level in the hierarchy) */
	__u32 nctr;
	__u32 ctr_level[VIGIL_MAX_CONTAINERS];
	__u32 _pad;
	__u64 ctr_id[VIGIL_MAX_CONTAINERS];
	/* with VIGIL_F_CGROUP: the --cgroup directory's id and level, for hooks
	 * that filter a task other than current (vigil_task_filter_pass) */
	__u64 cg_id;
	__u32 cg_level;
	__u32 _pad2;
};
VIGIL_CHECK_SIZE(struct vigil_filter, 64 + 12 * VIGIL_MAX_CONTAINERS);
VIGIL_CHECK_OFF(struct vigil_filter, comm, 16);
VIGIL_CHECK_OFF(struct vigil_filter, pid_start, 32);

/* ---- proc ---------------------------------------------------------------- */

#define VIGIL_PATH_LEN 256
#define VIGIL_ARGS_LEN 1024	/* argv bytes shipped per exec, NUL separated */
#define VIGIL_ARG_MAX 256	/* longest single argument read at syscall entry */
#define VIGIL_MAX_ARGS 32	/* arguments read at syscall entry */

enum vigil_exec_flags {
	VIGIL_EXEC_ARGS_TRUNC = 1 << 0,	/* argv longer than VIGIL_ARGS_LEN */
	VIGIL_EXEC_PATH_TRUNC = 1 << 1,
	VIGIL_EXEC_FAILED = 1 << 2,	/* from sys_exit_execve with ret < 0 */
};

struct vigil_exec {
	struct vigil_hdr hdr;
	__s32 retval;		/* 0, or -errno of a failed exec */
	__u32 flags;		/* enum vigil_exec_flags */
	__u32 args_len;		/* bytes used in args */
	__u32 argc;
	char filename[VIGIL_PATH_LEN];
	char args[VIGIL_ARGS_LEN];
};
VIGIL_CHECK_SIZE(struct vigil_exec, 56 + 16 + VIGIL_PATH_LEN + VIGIL_ARGS_LEN);
VIGIL_CHECK_OFF(struct vigil_exec, retval, 56);
VIGIL_CHECK_OFF(struct vigil_exec, filename, 72);
VIGIL_CHECK_OFF(struct vigil_exec, args, 72 + VIGIL_PATH_LEN);

struct vigil_fork {
	struct vigil_hdr hdr;
	__u32 child_pid;
	__u32 child_tid;
	__u32 clone_thread;	/* 1 when the child is a thread of the parent */
	__u32 _pad;
};
VIGIL_CHECK_SIZE(struct vigil_fork, 72);
VIGIL_CHECK_OFF(struct vigil_fork, child_pid, 56);

struct vigil_exit {
	struct vigil_hdr hdr;
	__u64 lifetime_ns;	/* since the task started */
	__u32 exit_code;	/* raw wait status: code << 8 | signal */
	__u32 _pad;
};
VIGIL_CHECK_SIZE(struct vigil_exit, 72);
VIGIL_CHECK_OFF(struct vigil_exit, lifetime_ns, 56);
VIGIL_CHECK_OFF(struct vigil_exit, exit_code, 64);

/* ---- doctor --------------------------------------------------------------- */

/* Kernel mechanisms a command may need; doctor probes each one (hits[] slot). */
enum vigil_mech {
	VIGIL_M_TRACEPOINT,
	VIGIL_M_RAW_TP,
	VIGIL_M_TP_BTF,
	VIGIL_M_RINGBUF,
	VIGIL_M_XDP,
	VIGIL_M_TC,
	VIGIL_M_CGROUP,
	VIGIL_M_PERF_EVENT,
	VIGIL_M_UPROBE,
	VIGIL_M_KPROBE,
	VIGIL_M_FENTRY,
	VIGIL_M_LSM,
	VIGIL_M_SEND_SIGNAL,
	VIGIL_M__COUNT,
};

struct vigil_ping {
	struct vigil_hdr hdr;
	__u64 seq;
};
VIGIL_CHECK_SIZE(struct vigil_ping, 64);

/* ---- histograms ---------------------------------------------------------- */

/* log2 buckets: slot 0 holds 0 and 1, slot k holds [2^k, 2^(k+1) - 1] */
#define VIGIL_HIST_SLOTS 64

struct vigil_hist {
	__u64 slots[VIGIL_HIST_SLOTS];
};
VIGIL_CHECK_SIZE(struct vigil_hist, 8 * VIGIL_HIST_SLOTS);

/* ---- syscall -------------------------------------------------------------- */

#define VIGIL_SYSCALL_MAX 1024	/* syscall numbers are below this (x86_64: ~470) */
/* Largest block kread.bpf.c copies from kernel memory in one run (512 pointers). */
#define VIGIL_KREAD_MAX 4096
#define VIGIL_SC_DATA_LEN 256	/* decoded argument bytes: a path or a sockaddr */

enum vigil_sc_mode {
	VIGIL_SC_STREAM = 0,	/* one record per syscall through the ring buffer */
	VIGIL_SC_COUNT = 1,	/* struct vigil_sc_stat per key, in a map */
	VIGIL_SC_HIST = 2,	/* struct vigil_hist of latencies per key, in a map */
};

/* What user space asks to decode per syscall: low nibble = argument index + 1. */
enum vigil_sc_decode {
	VIGIL_SC_DEC_PATH = 1 << 4,
	VIGIL_SC_DEC_SOCKADDR = 2 << 4,
};

enum vigil_sc_flags {
	VIGIL_SC_DATA_PATH = 1 << 0,	/* data holds a NUL-terminated path */
	VIGIL_SC_DATA_SOCKADDR = 1 << 1,/* data holds data_len bytes of sockaddr */
	VIGIL_SC_DATA_TRUNC = 1 << 2,	/* the path was longer than VIGIL_SC_DATA_LEN */
};

/* One syscall, shipped at its exit. hdr.ts is the time of entry. */
struct vigil_syscall {
	struct vigil_hdr hdr;
	__u64 args[6];
	__s64 ret;
	__u64 latency_ns;	/* entry to exit */
	__u32 nr;
	__u32 flags;		/* enum vigil_sc_flags */
	__u32 data_len;		/* bytes of data that follow (0 when nothing decoded) */
	__u32 _pad;
};
VIGIL_CHECK_SIZE(struct vigil_syscall, 136);
VIGIL_CHECK_OFF(struct vigil_syscall, args, 56);
VIGIL_CHECK_OFF(struct vigil_syscall, ret, 104);
VIGIL_CHECK_OFF(struct vigil_syscall, nr, 120);
VIGIL_CHECK_OFF(struct vigil_syscall, data_len, 128);

/* The same record with the decoded argument: a second, larger record size. */
struct vigil_syscall_data {
	struct vigil_syscall ev;
	char data[VIGIL_SC_DATA_LEN];
};
VIGIL_CHECK_SIZE(struct vigil_syscall_data, 136 + VIGIL_SC_DATA_LEN);

/* Count and histogram maps: pid is 0 unless counting per process (-P). */
struct vigil_sc_key {
	__u32 pid;
	__u32 nr;
};
VIGIL_CHECK_SIZE(struct vigil_sc_key, 8);

struct vigil_sc_err_key {
	__u32 pid;
	__u32 nr;
	__u32 err;		/* positive errno */
	__u32 _pad;
};
VIGIL_CHECK_SIZE(struct vigil_sc_err_key, 16);
VIGIL_CHECK_OFF(struct vigil_sc_err_key, err, 8);

/* per CPU: user space sums calls, errors and time, and takes the max of max */
struct vigil_sc_stat {
	__u64 calls;
	__u64 errors;
	__u64 total_ns;
	__u64 max_ns;		/* since start */
	__u64 imax_ns;		/* since interval `epoch` began (-i only) */
	__u64 epoch;
};
VIGIL_CHECK_SIZE(struct vigil_sc_stat, 48);
VIGIL_CHECK_OFF(struct vigil_sc_stat, max_ns, 24);
VIGIL_CHECK_OFF(struct vigil_sc_stat, epoch, 40);

/* ---- top: per-cgroup counters, summed over CPUs ----------------------------- */

#define VIGIL_TOP_MAX_CGROUPS 16384

struct vigil_top_val {
	__u64 cpu_ns;		/* on-CPU time, charged at each switch away */
	__u64 execs;
	__u64 forks;
	__u64 syscalls;
	__u64 syscalls_failed;
	__u64 rbytes;		/* read, pread64, readv returns */
	__u64 wbytes;		/* write, pwrite64, writev returns */
};
VIGIL_CHECK_SIZE(struct vigil_top_val, 56);

/* ---- filetop --------------------------------------------------------------- */

#define VIGIL_FT_NAME_LEN 64	/* file base name (dentry), NUL-terminated */
#define VIGIL_SEEN_SLOTS 8	/* hooks a mechanism check can watch (bpf/mech.bpf.h) */

/* one row per process and file, aggregated in the kernel */
struct vigil_ft_key {
	__u32 pid;		/* tgid */
	__u32 dev;		/* the superblock's s_dev, kernel encoding (major << 20 | minor) */
	__u64 ino;
};
VIGIL_CHECK_SIZE(struct vigil_ft_key, 16);
VIGIL_CHECK_OFF(struct vigil_ft_key, ino, 8);

struct vigil_ft_val {
	__u64 reads;		/* calls */
	__u64 writes;
	__u64 rbytes;		/* bytes returned by successful calls */
	__u64 wbytes;
	__u32 uid;		/* captured when the row is created */
	__u32 tid;
	__u32 mode;		/* inode i_mode: the S_IFMT bits tell regular files from the rest */
	__u32 _pad;
	char comm[VIGIL_COMM_LEN];
	char name[VIGIL_FT_NAME_LEN];
};
VIGIL_CHECK_SIZE(struct vigil_ft_val, 64 + VIGIL_FT_NAME_LEN);
VIGIL_CHECK_OFF(struct vigil_ft_val, uid, 32);
VIGIL_CHECK_OFF(struct vigil_ft_val, comm, 48);
VIGIL_CHECK_OFF(struct vigil_ft_val, name, 64);

/* tracepoint path: the file of a read/write in flight, per thread */
struct vigil_ft_inflight {
	__u64 file;		/* struct file *, resolved from the fd at entry */
	__u32 write;		/* 1 for write/pwrite64 */
	__u32 _pad;
};
VIGIL_CHECK_SIZE(struct vigil_ft_inflight, 16);
VIGIL_CHECK_OFF(struct vigil_ft_inflight, write, 8);

enum vigil_ft_drop {
	VIGIL_FT_DROP_FULL = 0,		/* a new row did not fit in the counts map */
	VIGIL_FT_DROP_INFLIGHT = 1,	/* a call's fd did not fit in the in-flight map */
	VIGIL_FT_DROP__COUNT,
};

/* the firewall's structs: vigil/fw.h */

/* ---- guard ------------------------------------------------------------------ */

#define VIGIL_GD_MAX_LEVELS 8	/* distinct cgroup levels scopes sit at */
#define VIGIL_GD_MAX_PORTS 16	/* port ranges one address prefix and scope can carry */
#define VIGIL_GD_MAX_DEPTH 32	/* directories walked up from an exec'd file */
#define VIGIL_GD_PATH_LEN 256

enum vigil_gd_action {
	VIGIL_GD_NONE = 0,
	VIGIL_GD_ALLOW = 1,
	VIGIL_GD_DENY = 2,
	VIGIL_GD_AUDIT = 3,	/* allowed, reported */
};

/* what happened to a denied or audited operation */
enum vigil_gd_how {
	VIGIL_GD_HOW_REPORTED = 0,	/* audit rule or --dry-run: nothing was stopped */
	VIGIL_GD_HOW_EPERM = 1,		/* BPF LSM: the exec failed with EPERM */
	VIGIL_GD_HOW_SIGKILL = 2,	/* sched_process_exec: SIGKILL before the first user instruction */
	VIGIL_GD_HOW_HASH_KILL = 3,	/* stopped at exec, hashed by vigil, then SIGKILL */
	VIGIL_GD_HOW_CONNECT = 4,	/* cgroup sock_addr: connect/sendmsg failed with EPERM */
};

enum vigil_gd_kind {
	VIGIL_GD_K_EXEC = 0,
	VIGIL_GD_K_CONNECT = 1,
	VIGIL_GD_K_SENDMSG = 2,
};

/* per generation: what the programs need besides the maps */
enum vigil_gd_gen_flags {
	VIGIL_GD_G_DRY_RUN = 1 << 0,
	VIGIL_GD_G_HASH = 1 << 1,	/* sha256 rules: unknown inodes are stopped and hashed */
	VIGIL_GD_G_DIRS = 1 << 2,
	VIGIL_GD_G_EXEC = 1 << 3,	/* any exec rule */
	VIGIL_GD_G_NET = 1 << 4,
};

struct vigil_gd_gen {
	__u32 flags;			/* enum vigil_gd_gen_flags */
	__u32 nlevels;			/* scope levels to probe, deepest first */
	__u32 levels[VIGIL_GD_MAX_LEVELS];
};
VIGIL_CHECK_SIZE(struct vigil_gd_gen, 40);

/* gd_files / gd_dirs: an inode, in one scope (0: the host, else a cgroup id) */
struct vigil_gd_ino_key {
	__u32 gen;
	__u32 dev;		/* s_dev, kernel encoding (major << 20 | minor) */
	__u64 ino;
	__u64 scope;
};
VIGIL_CHECK_SIZE(struct vigil_gd_ino_key, 24);
VIGIL_CHECK_OFF(struct vigil_gd_ino_key, scope, 16);

struct vigil_gd_verdict {
	__u32 action;		/* enum vigil_gd_action */
	__u32 line;		/* the rule's line in its file */
};
VIGIL_CHECK_SIZE(struct vigil_gd_verdict, 8);

struct vigil_gd_hash_key {
	__u32 gen;
	__u32 _pad;
	__u64 scope;
	__u8 sha256[32];
};
VIGIL_CHECK_SIZE(struct vigil_gd_hash_key, 48);
VIGIL_CHECK_OFF(struct vigil_gd_hash_key, sha256, 16);

/* gd_hash_cache: a file's content hash as vigil computed it, valid for this mtime */
struct vigil_gd_cache_key {
	__u32 dev;
	__u32 _pad;
	__u64 ino;
	__u64 mtime_ns;
};
VIGIL_CHECK_SIZE(struct vigil_gd_cache_key, 24);

/* gd_net: an LPM trie key; prefixlen counts genfam and scope as 96 fixed bits */
struct vigil_gd_net_key {
	__u32 prefixlen;
	__u32 genfam;		/* gen | family << 8 (4 or 6) */
	__u64 scope;
	__u8 addr[16];		/* IPv4: the first 4 bytes */
};
VIGIL_CHECK_SIZE(struct vigil_gd_net_key, 32);
VIGIL_CHECK_OFF(struct vigil_gd_net_key, addr, 16);

struct vigil_gd_port {
	__u16 lo, hi;
	__u32 action;
	__u32 line;
};
VIGIL_CHECK_SIZE(struct vigil_gd_port, 12);

/* every rule that covers the prefix in its scope, most specific first */
struct vigil_gd_net_val {
	__u32 n;
	struct vigil_gd_port p[VIGIL_GD_MAX_PORTS];
};
VIGIL_CHECK_SIZE(struct vigil_gd_net_val, 4 + 12 * VIGIL_GD_MAX_PORTS);

enum vigil_gd_counter {
	VIGIL_GD_C_EXEC_DENY = 0,
	VIGIL_GD_C_EXEC_AUDIT = 1,
	VIGIL_GD_C_NET_DENY = 2,
	VIGIL_GD_C_NET_AUDIT = 3,
	VIGIL_GD_C_HASH_STOP = 4,	/* execs stopped to be hashed */
	VIGIL_GD_C__COUNT = 8,
};

struct vigil_gd_event {
	struct vigil_hdr hdr;
	__u32 kind;		/* enum vigil_gd_kind */
	__u32 action;		/* the rule's: deny or audit (or none: a hash request) */
	__u32 how;		/* enum vigil_gd_how */
	__u32 line;		/* the deciding rule's line; 0 for a hash request */
	__u32 gen;		/* the generation that decided */
	__u32 dev;		/* exec: the file's inode */
	__u64 ino;
	__u64 mtime_ns;
	__u64 scope;		/* the deciding rule's scope cgroup id (0: host) */
	__u8 addr[16];		/* connect: destination (IPv4 in the first 4 bytes) */
	__u16 port;
	__u16 family;		/* 4 or 6 */
	__u32 sotype;		/* SOCK_STREAM, SOCK_DGRAM */
	char path[VIGIL_GD_PATH_LEN];	/* exec: the name execve was given, truncated */
};
VIGIL_CHECK_SIZE(struct vigil_gd_event, 128 + VIGIL_GD_PATH_LEN);
VIGIL_CHECK_OFF(struct vigil_gd_event, ino, 80);
VIGIL_CHECK_OFF(struct vigil_gd_event, addr, 104);
VIGIL_CHECK_OFF(struct vigil_gd_event, path, 128);

#endif /* VIGIL_EVENTS_H */
