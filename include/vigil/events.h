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
	VIGIL_EV_DISK = 24,	/* disk: one completed block request */
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

/* ---- disk ------------------------------------------------------------------ */

#define VIGIL_DISK_NAME_LEN 32	/* struct gendisk disk_name */

/* the operation class of a request: the --op filter is a bit mask of these */
enum vigil_disk_op {
	VIGIL_DISK_READ = 0,
	VIGIL_DISK_WRITE = 1,
	VIGIL_DISK_FLUSH = 2,
	VIGIL_DISK_DISCARD = 3,	/* discard and secure erase */
	VIGIL_DISK_OTHER = 4,	/* write zeroes, zone management, driver commands */
	VIGIL_DISK_OP__COUNT,
};

/* request flags, from cmd_flags (tp_btf) or the rwbs letters (tracepoint) */
enum vigil_disk_flag {
	VIGIL_DISK_F_SYNC = 1 << 0,
	VIGIL_DISK_F_META = 1 << 1,
	VIGIL_DISK_F_FUA = 1 << 2,
	VIGIL_DISK_F_PREFLUSH = 1 << 3,
	VIGIL_DISK_F_AHEAD = 1 << 4,
	/* no issuer was seen: started before vigil, or made by the block layer */
	VIGIL_DISK_F_NOISSUER = 1 << 8,
	VIGIL_DISK_F_SELF = 1 << 9,	/* vigil's own start-up check: never counted */
};

/* a request in flight, from its issue by a process to its completion */
struct vigil_disk_req {
	struct vigil_hdr h;	/* the issuer, captured in its own context */
	__u64 start_ns;		/* queued: block_io_start or block_bio_queue (boot ns) */
	__u64 issue_ns;		/* handed to the driver: block_rq_issue, 0 before */
	__u64 sector;
	__u32 dev;		/* whole disk, kernel encoding (major << 20 | minor) */
	__u32 bytes;		/* at issue */
	__u32 op;		/* enum vigil_disk_op */
	__u32 flags;		/* enum vigil_disk_flag */
};
VIGIL_CHECK_SIZE(struct vigil_disk_req, 96);
VIGIL_CHECK_OFF(struct vigil_disk_req, start_ns, 56);
VIGIL_CHECK_OFF(struct vigil_disk_req, dev, 80);

/* classic tracepoints have no request pointer: requests are known by disk and sector */
struct vigil_disk_rkey {
	__u64 id;		/* struct request * (tp_btf) or sector (tracepoint) */
	__u32 dev;		/* 0 with a request pointer */
	__u32 _pad;
};
VIGIL_CHECK_SIZE(struct vigil_disk_rkey, 16);

/* one completed request (stream mode); h is the issuer */
struct vigil_disk_event {
	struct vigil_hdr h;
	__u64 sector;
	__u64 queue_ns;		/* queued until issued to the driver */
	__u64 dev_ns;		/* issued until completed: time on the device */
	__u32 dev;
	__u32 bytes;
	__u32 op;
	__u32 flags;
	__s32 error;		/* negative errno, 0 on success */
	__u32 _pad;
	char disk[VIGIL_DISK_NAME_LEN];
};
VIGIL_CHECK_SIZE(struct vigil_disk_event, 136);
VIGIL_CHECK_OFF(struct vigil_disk_event, dev, 80);
VIGIL_CHECK_OFF(struct vigil_disk_event, error, 96);
VIGIL_CHECK_OFF(struct vigil_disk_event, disk, 104);

/* per disk and operation: always counted (the agent's counters, the summary) */
struct vigil_disk_key {
	__u32 dev;		/* 0: all disks (histograms without -D) */
	__u32 op;		/* VIGIL_DISK_OP__COUNT: all operations (without -F) */
};
VIGIL_CHECK_SIZE(struct vigil_disk_key, 8);

struct vigil_disk_stat {
	__u64 requests;
	__u64 bytes;
	__u64 errors;
	__u64 lat_ns;		/* sum of the histogram's latencies, for averages */
};
VIGIL_CHECK_SIZE(struct vigil_disk_stat, 32);

/* --hist: latency per disk and op; --sizes: request bytes per process */
struct vigil_disk_hist {
	__u64 slots[VIGIL_HIST_SLOTS];
	__u64 sum;
};
VIGIL_CHECK_SIZE(struct vigil_disk_hist, 8 * VIGIL_HIST_SLOTS + 8);

struct vigil_disk_size_val {
	__u64 slots[VIGIL_HIST_SLOTS];
	__u64 sum;
	char comm[VIGIL_COMM_LEN];
};
VIGIL_CHECK_SIZE(struct vigil_disk_size_val, 8 * VIGIL_HIST_SLOTS + 24);

/* --top: per process and disk */
struct vigil_disk_top_key {
	__u32 pid;		/* 0: no issuer seen */
	__u32 dev;
};
VIGIL_CHECK_SIZE(struct vigil_disk_top_key, 8);

struct vigil_disk_top_val {
	__u64 cgroup_id;
	__u64 reads, writes;	/* requests */
	__u64 rbytes, wbytes;
	__u64 lat_ns;		/* issue to complete, summed */
	char comm[VIGIL_COMM_LEN];
};
VIGIL_CHECK_SIZE(struct vigil_disk_top_val, 64);

enum vigil_disk_drop {
	VIGIL_DISK_DROP_UNMATCHED = 0,	/* a completion with no state: before vigil, or evicted */
	VIGIL_DISK_DROP_TOPFULL = 1,	/* the --top or --sizes map was full */
	VIGIL_DISK_DROP_EXPIRED = 2,	/* never completed: swept by user space (counted there) */
	VIGIL_DISK_DROP__COUNT,
};

/* the firewall's structs: vigil/fw.h */

#endif /* VIGIL_EVENTS_H */
