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
	VIGIL_EV_SCHED_WAIT = 30,	/* sched --min: one run-queue wait over the threshold */
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

/* ---- sched: run-queue latency, off-CPU time, context switches ------------ */

#define VIGIL_SCHED_MAX_ROWS 16384	/* processes, threads or cgroups counted */
#define VIGIL_SCHED_MAX_HISTS 4096	/* rows with a histogram of their own (-P, --per-container) */
#define VIGIL_SCHED_MAX_STACKS 16384	/* distinct off-CPU stacks (--stacks) */
#define VIGIL_SCHED_STACK_DEPTH 32

/* why a task left the CPU, from sched_switch's prev_state and preempt */
enum vigil_sched_state {
	VIGIL_SCHED_SLEEP = 0,		/* S: TASK_INTERRUPTIBLE */
	VIGIL_SCHED_DISK = 1,		/* D: TASK_UNINTERRUPTIBLE (I/O, locks) */
	VIGIL_SCHED_PREEMPTED = 2,	/* still runnable: preempted or yielded */
	VIGIL_SCHED_OTHER = 3,		/* stopped, traced, idle kthreads, dying */
	VIGIL_SCHED__STATES = 4,
};

/* what a row of the counts is */
enum vigil_sched_by {
	VIGIL_SCHED_BY_PROCESS = 0,	/* tgid */
	VIGIL_SCHED_BY_THREAD = 1,	/* tid */
	VIGIL_SCHED_BY_CGROUP = 2,	/* cgroup v2 id: folded into containers in user space */
};

enum vigil_sched_drop {
	VIGIL_SCHED_DROP_ROWS = 0,	/* a new row did not fit */
	VIGIL_SCHED_DROP_HISTS = 1,	/* a new row histogram did not fit */
	VIGIL_SCHED_DROP_STACKS = 2,	/* a stack or its count did not fit */
	VIGIL_SCHED__DROPS = 3,
};

/* what is counted, per row and per CPU (per-CPU copies, summed by user space) */
struct vigil_sched_counts {
	__u64 runq_ns;		/* run-queue waits that ended in this row */
	__u64 runq_n;
	__u64 vol;		/* voluntary context switches (blocked) */
	__u64 invol;		/* involuntary (preempted, yielded) */
	__u64 migrations;
	__u64 off_ns[VIGIL_SCHED__STATES];	/* switch-out to switch-in, by why it left */
};
VIGIL_CHECK_SIZE(struct vigil_sched_counts, 72);
VIGIL_CHECK_OFF(struct vigil_sched_counts, off_ns, 40);

/* a row: its counts and who it is (set in the copy of the CPU that made it) */
struct vigil_sched_row {
	struct vigil_sched_counts c;
	__u64 cgroup_id;
	__u32 pid;		/* tgid */
	__u32 tid;		/* the thread that made the row */
	char comm[VIGIL_COMM_LEN];
};
VIGIL_CHECK_SIZE(struct vigil_sched_row, 104);
VIGIL_CHECK_OFF(struct vigil_sched_row, cgroup_id, 72);
VIGIL_CHECK_OFF(struct vigil_sched_row, comm, 88);

/* one per CPU, written only by that CPU: the host histogram is their sum */
struct vigil_sched_cpu {
	__u64 slots[VIGIL_HIST_SLOTS];	/* run-queue latency, ns */
	struct vigil_sched_counts c;
};
VIGIL_CHECK_SIZE(struct vigil_sched_cpu, 8 * VIGIL_HIST_SLOTS + 72);

/* --min: one run-queue wait over the threshold; the header is the task that waited */
struct vigil_sched_wait {
	struct vigil_hdr hdr;
	__u64 delay_ns;
	__u32 cpu;
	__u32 prev_pid;		/* tid of the task it waited behind */
	char prev_comm[VIGIL_COMM_LEN];
};
VIGIL_CHECK_SIZE(struct vigil_sched_wait, 88);
VIGIL_CHECK_OFF(struct vigil_sched_wait, delay_ns, 56);
VIGIL_CHECK_OFF(struct vigil_sched_wait, prev_comm, 72);

/* --stacks: off-CPU time per row key, state and stack pair */
struct vigil_sched_stack_key {
	__u64 key;		/* the row key (tgid, tid or cgroup id) */
	__u32 state;		/* enum vigil_sched_state */
	__s32 kstack;		/* stack map ids; negative: not captured */
	__s32 ustack;
	__u32 _pad;
};
VIGIL_CHECK_SIZE(struct vigil_sched_stack_key, 24);
VIGIL_CHECK_OFF(struct vigil_sched_stack_key, kstack, 12);

/* the firewall's structs: vigil/fw.h */

#endif /* VIGIL_EVENTS_H */
