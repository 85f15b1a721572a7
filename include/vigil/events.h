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
	VIGIL_EV_PROFILE_PROC = 19,	/* profile: a process sampled for the first time (or after exec) */
	VIGIL_EV_FW_DROP = 20,	/* firewall: a sampled drop */
	VIGIL_EV_DISK = 24,	/* disk: one completed block request */
	VIGIL_EV_SCHED_WAIT = 30,	/* sched --min: one run-queue wait over the threshold */
	VIGIL_EV_FILE = 40,	/* file: an open, a lifecycle call or a slow operation */
	VIGIL_EV_SECURITY = 50,	/* security: one struct vigil_sec of any kind */
	VIGIL_EV_GUARD = 60,	/* guard: a denied or audited exec or connect */
	VIGIL_EV_GUARD_HASH = 61,	/* guard: an exec stopped until user space hashes it */
	VIGIL_EV_TCP = 130,	/* tcp: one connection event (struct vigil_tcp) */
	VIGIL_EV_MEM_OOM = 160,	/* mem: an OOM kill (issue 16: 160-169) */
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

/* the file(s) of a call in flight, per thread */
struct vigil_ft_inflight {
	__u64 file;		/* struct file *, resolved from the fd at entry (0: not counted) */
	__u64 file2;		/* the written end of sendfile, splice, copy_file_range */
	__u32 write;		/* 1: file is written; 0: file is read (and file2 written) */
	__u32 kind;		/* enum vigil_ft_kind */
};
VIGIL_CHECK_SIZE(struct vigil_ft_inflight, 24);
VIGIL_CHECK_OFF(struct vigil_ft_inflight, file2, 8);
VIGIL_CHECK_OFF(struct vigil_ft_inflight, write, 16);
VIGIL_CHECK_OFF(struct vigil_ft_inflight, kind, 20);

/* how a counted call did its I/O: the agent's totals are split by it */
enum vigil_ft_kind {
	VIGIL_FT_K_RW = 0,	/* read, write, pread64, pwrite64 (or vfs_read/vfs_write) */
	VIGIL_FT_K_VECTORED,	/* readv, writev, preadv, pwritev, preadv2, pwritev2 */
	VIGIL_FT_K_SENDFILE,
	VIGIL_FT_K_SPLICE,
	VIGIL_FT_K_COPY,	/* copy_file_range */
	VIGIL_FT_K_URING,	/* io_uring read/write requests */
	VIGIL_FT_K__COUNT,
};

/* totals per (kind, direction) in the kernel, index kind * 2 + write */
struct vigil_ft_total {
	__u64 calls;
	__u64 bytes;
};
VIGIL_CHECK_SIZE(struct vigil_ft_total, 16);

enum vigil_ft_drop {
	VIGIL_FT_DROP_FULL = 0,		/* a new row did not fit in the counts map */
	VIGIL_FT_DROP_INFLIGHT = 1,	/* a call's fd did not fit in the in-flight map */
	VIGIL_FT_DROP__COUNT,
};

/* ---- tcp ------------------------------------------------------------------ */

#define VIGIL_TCP_MAX_PORTS 8
#define VIGIL_TCP_MAX_CIDRS 4

enum vigil_tcp_kind {
	VIGIL_TCP_CONNECT = 1,	/* active open established (SYN_SENT -> ESTABLISHED) */
	VIGIL_TCP_ACCEPT = 2,	/* passive open handed to a process by accept() */
	VIGIL_TCP_CLOSE = 3,	/* the socket reached CLOSE: totals of its life */
	VIGIL_TCP_STATE = 4,	/* any other transition (--states) */
	VIGIL_TCP_RETRANS = 5,	/* a segment retransmitted */
	VIGIL_TCP_RESET = 6,	/* a reset sent or received */
};

enum vigil_tcp_dir {
	VIGIL_TCP_DIR_UNKNOWN = 0,	/* open before vigil started */
	VIGIL_TCP_ACTIVE = 1,
	VIGIL_TCP_PASSIVE = 2,
};

enum vigil_tcp_flags {
	VIGIL_TCP_F_OWNER = 1 << 0,	/* hdr describes the owning process */
	VIGIL_TCP_F_RST_RX = 1 << 1,	/* a reset was received on it */
	VIGIL_TCP_F_RST_TX = 1 << 2,	/* a reset was sent on it */
};

/* one record for every kind; the fields a kind has no value for are zero */
struct vigil_tcp {
	struct vigil_hdr hdr;	/* the owner's (connect, accept, last owner) */
	__u64 cookie;		/* the socket cookie: one id for all events of a connection */
	__u64 duration_ns;	/* since the open (CLOSE), 0 otherwise */
	__u64 connect_ns;	/* SYN sent to ESTABLISHED (active) */
	__u64 bytes_acked;	/* sent and acknowledged (tcp_sock.bytes_acked) */
	__u64 bytes_received;	/* tcp_sock.bytes_received */
	__u64 bytes_retrans;
	__u32 segs_out;
	__u32 segs_in;
	__u32 retrans;		/* tcp_sock.total_retrans */
	__u32 srtt_us;		/* smoothed RTT */
	__u8 saddr[16];		/* local; IPv4 in the first 4 bytes */
	__u8 daddr[16];		/* remote */
	__u16 sport;		/* local, host order */
	__u16 dport;		/* remote, host order */
	__u16 family;		/* AF_INET or AF_INET6 */
	__u8 kind;		/* enum vigil_tcp_kind */
	__u8 dir;		/* enum vigil_tcp_dir */
	__u8 oldstate;		/* TCP_* of the kernel; CLOSE: the state it died in */
	__u8 newstate;
	__u8 flags;		/* enum vigil_tcp_flags */
	__u8 _pad[5];
};
VIGIL_CHECK_SIZE(struct vigil_tcp, 56 + 48 + 16 + 32 + 16);
VIGIL_CHECK_OFF(struct vigil_tcp, cookie, 56);
VIGIL_CHECK_OFF(struct vigil_tcp, segs_out, 104);
VIGIL_CHECK_OFF(struct vigil_tcp, saddr, 120);
VIGIL_CHECK_OFF(struct vigil_tcp, sport, 152);
VIGIL_CHECK_OFF(struct vigil_tcp, kind, 158);

/* --laddr/--raddr: a prefix of an address of one family */
struct vigil_tcp_cidr {
	__u8 addr[16];
	__u16 family;
	__u8 plen;
	__u8 _pad[5];
};
VIGIL_CHECK_SIZE(struct vigil_tcp_cidr, 24);

/* the cheap filters, fixed in .rodata before load */
struct vigil_tcp_filter {
	__u16 family;		/* 0: both */
	__u8 dir;		/* 0: both, else enum vigil_tcp_dir */
	__u8 nports;
	__u8 nladdr;
	__u8 nraddr;
	__u16 ports[VIGIL_TCP_MAX_PORTS];	/* local or remote, host order */
	__u8 _pad[2];
	struct vigil_tcp_cidr laddr[VIGIL_TCP_MAX_CIDRS];
	struct vigil_tcp_cidr raddr[VIGIL_TCP_MAX_CIDRS];
};
VIGIL_CHECK_SIZE(struct vigil_tcp_filter, 24 + 48 * VIGIL_TCP_MAX_CIDRS);

/* in-kernel counters (per CPU array slots), what the agent exports */
#define VIGIL_TCP_NSTATES 16
enum vigil_tcp_stat {
	VIGIL_TCP_S_OPEN = 0,		/* + dir - 1: active, passive */
	VIGIL_TCP_S_CLOSE = 2,		/* + (dir * NSTATES) + state it died in; dir 0..2 */
	VIGIL_TCP_S_BYTES_TX = 2 + 3 * VIGIL_TCP_NSTATES,
	VIGIL_TCP_S_BYTES_RX,
	VIGIL_TCP_S_RETRANS,
	VIGIL_TCP_S_RST_TX,
	VIGIL_TCP_S_RST_RX,
	VIGIL_TCP_S_NOROOM,		/* a connection not tracked: the socket map was full */
	VIGIL_TCP_S_TOP_NOROOM,		/* --top: bytes of a connection not counted, its map was full */
	VIGIL_TCP_S__COUNT,
};

enum vigil_tcp_hist_kind { VIGIL_TCP_H_CONNECT = 0, VIGIL_TCP_H_RTT = 1 };

/* histogram map key: key is 0, the remote port or the pid (--hist-by) */
struct vigil_tcp_hkey {
	__u32 kind;		/* enum vigil_tcp_hist_kind */
	__u32 key;
};
VIGIL_CHECK_SIZE(struct vigil_tcp_hkey, 8);

/*
 * --top: bytes per connection since user space last took them (read and
 * deleted); without sock:sock_send_length (before Linux 6.3), the
 * connection's payload counters so far, which user space diffs per interval.
 */
#define VIGIL_TCP_TOP_MAX 16384
struct vigil_tcp_top {
	__u64 tx;		/* sendmsg returns, from sock:sock_send_length */
	__u64 rx;		/* recvmsg returns, from sock:sock_recv_length */
	__u32 pid;		/* who sent or received first in the interval */
	__u32 uid;
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u16 family;
	__u16 closed;		/* counters mode: the connection has closed, take it last */
	char comm[VIGIL_COMM_LEN];
};
VIGIL_CHECK_SIZE(struct vigil_tcp_top, 80);
VIGIL_CHECK_OFF(struct vigil_tcp_top, saddr, 24);
VIGIL_CHECK_OFF(struct vigil_tcp_top, comm, 64);

/* ---- mem: page faults per process and mapping, OOM kills, RSS ---------------- */

#define VIGIL_MEM_NAME_LEN 64	/* a mapped file's base name (dentry), NUL-terminated */

/* what a fault's address falls in */
enum vigil_mem_map {
	VIGIL_MEM_MAP_FILE = 0,		/* a file mapping: dev and ino name it */
	VIGIL_MEM_MAP_HEAP = 1,		/* [heap]: the brk area */
	VIGIL_MEM_MAP_STACK = 2,	/* [stack]: the main thread's stack */
	VIGIL_MEM_MAP_ANON = 3,		/* any other anonymous mapping */
	VIGIL_MEM_MAP_NONE = 4,		/* no mapping there (a bad access) */
	VIGIL_MEM_MAP_UNKNOWN = 5,	/* bpf_find_vma could not look (the mmap lock was busy) */
	VIGIL_MEM_MAP_ADDR = 6,		/* the "maps" path: ino is addr >> VIGIL_MEM_CHUNK_SHIFT,
					 * resolved from /proc/PID/maps in user space */
};

#define VIGIL_MEM_CHUNK_SHIFT 16	/* the "maps" path counts per 64 KiB of address space */

/* faults of one process in one mapping, counted in the kernel since start */
struct vigil_mem_fkey {
	__u32 pid;		/* tgid */
	__u32 map;		/* enum vigil_mem_map */
	__u32 dev;		/* file: the superblock's s_dev (major << 20 | minor) */
	__u32 _pad;
	__u64 ino;		/* file: the inode; ADDR: the chunk */
};
VIGIL_CHECK_SIZE(struct vigil_mem_fkey, 24);
VIGIL_CHECK_OFF(struct vigil_mem_fkey, ino, 16);

struct vigil_mem_fval {
	__u64 faults;		/* exceptions:page_fault_user (and _kernel with --kernel) */
	__u64 major;		/* PERF_COUNT_SW_PAGE_FAULTS_MAJ at the same address */
	__u64 cgroup_id;	/* cgroup v2 of the task, when the row was made */
	__u32 uid;
	__u32 _pad;
	char comm[VIGIL_COMM_LEN];
	char name[VIGIL_MEM_NAME_LEN];
};
VIGIL_CHECK_SIZE(struct vigil_mem_fval, 32 + VIGIL_COMM_LEN + VIGIL_MEM_NAME_LEN);
VIGIL_CHECK_OFF(struct vigil_mem_fval, comm, 32);
VIGIL_CHECK_OFF(struct vigil_mem_fval, name, 48);

/* kmem:rss_stat's members, in the kernel's order (MM_FILEPAGES ...) */
enum vigil_mem_rss { VIGIL_RSS_FILE, VIGIL_RSS_ANON, VIGIL_RSS_SWAP, VIGIL_RSS_SHMEM,
		     VIGIL_RSS__COUNT };

/* a process's resident memory by kind, as of its last kmem:rss_stat */
struct vigil_mem_rval {
	__s64 cur[VIGIL_RSS__COUNT];	/* bytes now */
	__s64 first[VIGIL_RSS__COUNT];	/* bytes at the first event of the run */
	__u64 cgroup_id;
	__u32 seen;			/* bit per kind: first[] is set */
	__u32 _pad;
	char comm[VIGIL_COMM_LEN];
};
VIGIL_CHECK_SIZE(struct vigil_mem_rval, 64 + 16 + VIGIL_COMM_LEN);
VIGIL_CHECK_OFF(struct vigil_mem_rval, cgroup_id, 64);

enum vigil_mem_oom_flags {
	VIGIL_OOM_TP_FULL = 1 << 0,	/* mark_victim passes the task (6.8+); else only its pid */
	VIGIL_OOM_TASK = 1 << 1,	/* the victim's task was found: hdr and memory are its own */
	VIGIL_OOM_MM = 1 << 2,		/* it still had its mm: the memory fields are set */
	VIGIL_OOM_MEMCG = 1 << 3,	/* its memory cgroup was read */
	VIGIL_OOM_LIMIT = 1 << 4,	/* a memory cgroup at its limit: limit_* name it */
};

#define VIGIL_MEM_MEMCG_DEPTH 8		/* memory cgroups walked up from the victim's */

/* an OOM kill: hdr is the victim (when found), trig_* the task that was current */
struct vigil_mem_oom {
	struct vigil_hdr hdr;
	__u32 flags;		/* enum vigil_mem_oom_flags */
	__u32 victim_pid;	/* as mark_victim passed it (a tid) */
	__u64 total_vm_kb;
	__u64 anon_rss_kb;
	__u64 file_rss_kb;
	__u64 shmem_rss_kb;
	__u64 swap_kb;
	__u64 pgtables_kb;
	__s32 oom_score_adj;
	__u32 trig_pid;		/* tgid of current: the task whose allocation failed */
	__u32 trig_tid;
	__u32 memcg_level;	/* of the victim's memory cgroup */
	__u64 trig_cgroup_id;
	__u64 memcg_id;		/* the victim's memory cgroup (kernfs id in its hierarchy) */
	__u64 limit_id;		/* the memory cgroup at its limit, with VIGIL_OOM_LIMIT */
	__u64 limit_bytes;
	__u64 usage_bytes;
	__u32 limit_level;
	__u32 _pad;
	char trig_comm[VIGIL_COMM_LEN];
	char limit_name[VIGIL_MEM_NAME_LEN];	/* its directory's name */
};
VIGIL_CHECK_SIZE(struct vigil_mem_oom, 56 + 120 + VIGIL_COMM_LEN + VIGIL_MEM_NAME_LEN);
VIGIL_CHECK_OFF(struct vigil_mem_oom, flags, 56);
VIGIL_CHECK_OFF(struct vigil_mem_oom, trig_cgroup_id, 128);
VIGIL_CHECK_OFF(struct vigil_mem_oom, trig_comm, 176);

/* ---- profile (issue 19): CPU samples counted per stack in the kernel ---- */

#define VIGIL_PROF_DEPTH 127		/* PERF_MAX_STACK_DEPTH: frames per stack */

/* a sampled stack pair: stack ids are slots of the stack trace map, or <0 (none) */
struct vigil_prof_key {
	__u32 pid;		/* tgid */
	__s32 kstack;		/* bpf_get_stackid(): a slot, or -errno */
	__s32 ustack;
	__u32 _pad;
	char comm[VIGIL_COMM_LEN];	/* the thread's */
};
VIGIL_CHECK_SIZE(struct vigil_prof_key, 32);
VIGIL_CHECK_OFF(struct vigil_prof_key, ustack, 8);
VIGIL_CHECK_OFF(struct vigil_prof_key, comm, 16);

/* per-CPU counters of the sampler, indexes into its stats array */
enum vigil_prof_stat {
	VIGIL_PROF_SAMPLES = 0,		/* samples that passed the filters */
	VIGIL_PROF_IDLE = 1,		/* samples of the idle task, skipped */
	VIGIL_PROF_KSTACK_ERR = 2,	/* a kernel stack that could not be taken (map full, collision) */
	VIGIL_PROF_USTACK_ERR = 3,	/* a user stack that could not be taken */
	VIGIL_PROF_COUNTS_FULL = 4,	/* a new stack pair did not fit in the counts map */
	VIGIL_PROF_STAT__COUNT,
};

/* ---- security ------------------------------------------------------------ */

/* what a struct vigil_sec describes (the "kind" of docs/security.md) */
enum vigil_sec_kind {
	VIGIL_SEC_CAP = 0,	/* a capability check */
	VIGIL_SEC_CRED = 1,	/* set*id, setgroups, capset */
	VIGIL_SEC_EXEC = 2,	/* a set-uid/set-gid, fileless or world-writable-dir exec */
	VIGIL_SEC_PTRACE = 3,	/* ptrace attach/seize, process_vm_writev */
	VIGIL_SEC_BPF = 4,	/* bpf(BPF_PROG_LOAD), bpf(BPF_MAP_CREATE) */
	VIGIL_SEC_MODULE = 5,	/* init_module, finit_module, module:module_load */
	VIGIL_SEC__KINDS,
};

/* which call or hook, per kind: the "op" of the record */
enum vigil_sec_op {
	VIGIL_SOP_CAPABLE = 0,
	VIGIL_SOP_SETUID, VIGIL_SOP_SETGID, VIGIL_SOP_SETREUID, VIGIL_SOP_SETREGID,
	VIGIL_SOP_SETRESUID, VIGIL_SOP_SETRESGID, VIGIL_SOP_SETFSUID, VIGIL_SOP_SETFSGID,
	VIGIL_SOP_SETGROUPS, VIGIL_SOP_CAPSET,
	VIGIL_SOP_EXEC,
	VIGIL_SOP_PTRACE_ATTACH, VIGIL_SOP_PTRACE_SEIZE, VIGIL_SOP_VM_WRITEV,
	VIGIL_SOP_PROG_LOAD, VIGIL_SOP_MAP_CREATE,
	VIGIL_SOP_INIT_MODULE, VIGIL_SOP_FINIT_MODULE, VIGIL_SOP_MODULE_LOAD,
	VIGIL_SOP__COUNT,
};

enum vigil_sec_flags {
	VIGIL_SECF_SETUID = 1 << 0,	/* exec: the file has S_ISUID */
	VIGIL_SECF_SETGID = 1 << 1,	/* exec: the file has S_ISGID */
	VIGIL_SECF_UNLINKED = 1 << 2,	/* exec: the file had no links left (deleted, memfd) */
	VIGIL_SECF_MEMFD = 1 << 3,	/* exec: the file is a memfd */
	VIGIL_SECF_WW_DIR = 1 << 4,	/* exec: its directory is world-writable (/tmp, /dev/shm) */
	VIGIL_SECF_USERNS = 1 << 5,	/* capability: checked against a user namespace below init */
	VIGIL_SECF_PATH_TRUNC = 1 << 6,
};

/* one task's credentials, as the kernel holds them in struct cred */
struct vigil_sec_ids {
	__u32 uid, euid, suid, fsuid;
	__u32 gid, egid, sgid, fsgid;
	__u64 cap_eff, cap_prm;
	__u32 ngroups;
	__u32 _pad;
};
VIGIL_CHECK_SIZE(struct vigil_sec_ids, 56);
VIGIL_CHECK_OFF(struct vigil_sec_ids, cap_eff, 32);

#define VIGIL_SEC_NAME_LEN 64

struct vigil_sec {
	struct vigil_hdr hdr;
	__u32 kind;		/* enum vigil_sec_kind */
	__u32 op;		/* enum vigil_sec_op */
	__s64 ret;		/* the call's result: 0 or a value, or -errno */
	__u64 args[3];		/* the call's arguments (ids asked for; ptrace: pid; cap: number) */
	__u32 target_pid;	/* ptrace, process_vm_writev: the target's tgid */
	__u32 flags;		/* enum vigil_sec_flags */
	__u32 obj_type;		/* bpf: program or map type; exec: the file's mode */
	__u32 obj_uid;		/* exec: the file's owner */
	__u32 obj_gid;
	__u32 _pad;
	struct vigil_sec_ids old;	/* before the call (cred), or at the check/exec */
	struct vigil_sec_ids new;	/* after the call */
	char name[VIGIL_SEC_NAME_LEN];	/* bpf: object name; exec: file name; module: name */
	char path[VIGIL_PATH_LEN];	/* exec: the path it was run by; module: its parameters */
};
VIGIL_CHECK_SIZE(struct vigil_sec, 56 + 64 + 2 * 56 + VIGIL_SEC_NAME_LEN + VIGIL_PATH_LEN);
VIGIL_CHECK_OFF(struct vigil_sec, kind, 56);
VIGIL_CHECK_OFF(struct vigil_sec, ret, 64);
VIGIL_CHECK_OFF(struct vigil_sec, old, 120);
VIGIL_CHECK_OFF(struct vigil_sec, name, 232);

/* capability checks are de-duplicated in the kernel on this key (LRU) */
struct vigil_sec_cap_key {
	__u64 cgroup_id;
	__u32 pid;		/* tgid */
	__u32 cap;
	__s32 ret;
	__u32 _pad;
};
VIGIL_CHECK_SIZE(struct vigil_sec_cap_key, 24);
VIGIL_CHECK_OFF(struct vigil_sec_cap_key, ret, 16);

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

/* ---- file ------------------------------------------------------------------ */

/*
 * A resolved path: the base directory (cwd, the dirfd's or the fd's own
 * path) walked up from its dentry, below VIGIL_FILE_HALF bytes, then "/" and
 * the argument as passed, below VIGIL_FILE_HALF bytes too. Both halves are
 * written at offsets masked into the first half, so the buffer is twice that.
 */
#define VIGIL_FILE_HALF 256
#define VIGIL_FILE_PATH_LEN (2 * VIGIL_FILE_HALF)
#define VIGIL_FILE_DEPTH 16		/* directory levels walked; deeper is marked truncated */
#define VIGIL_FILE_PREFIXES 4		/* --path PREFIX, at most this many */
#define VIGIL_FILE_PREFIX_LEN 128

/* the calls vigil file watches; also the histogram index */
enum vigil_file_op {
	VIGIL_FOP_OPEN = 0,
	VIGIL_FOP_OPENAT,
	VIGIL_FOP_OPENAT2,
	VIGIL_FOP_CREAT,
	VIGIL_FOP_UNLINK,
	VIGIL_FOP_UNLINKAT,
	VIGIL_FOP_RENAME,
	VIGIL_FOP_RENAMEAT,
	VIGIL_FOP_RENAMEAT2,
	VIGIL_FOP_MKDIR,
	VIGIL_FOP_MKDIRAT,
	VIGIL_FOP_RMDIR,
	VIGIL_FOP_SYMLINK,
	VIGIL_FOP_SYMLINKAT,
	VIGIL_FOP_LINK,
	VIGIL_FOP_LINKAT,
	VIGIL_FOP_TRUNCATE,
	VIGIL_FOP_FTRUNCATE,
	VIGIL_FOP_CHMOD,
	VIGIL_FOP_FCHMODAT,
	VIGIL_FOP_FCHMOD,
	VIGIL_FOP_CHOWN,
	VIGIL_FOP_LCHOWN,
	VIGIL_FOP_FCHOWNAT,
	VIGIL_FOP_FCHOWN,
	VIGIL_FOP_READ,		/* the slow-operation calls (--min, --hist) */
	VIGIL_FOP_WRITE,
	VIGIL_FOP_PREAD64,
	VIGIL_FOP_PWRITE64,
	VIGIL_FOP_FSYNC,
	VIGIL_FOP_FDATASYNC,
	VIGIL_FOP_FCHMODAT2,	/* Linux 6.6+ */
	VIGIL_FOP_URING_OPENAT,	/* io_uring requests, from the io_uring tracepoints */
	VIGIL_FOP_URING_OPENAT2,
	VIGIL_FOP_URING_UNLINKAT,
	VIGIL_FOP_URING_RENAMEAT,
	VIGIL_FOP_URING_MKDIRAT,
	VIGIL_FOP_URING_SYMLINKAT,
	VIGIL_FOP_URING_LINKAT,
	VIGIL_FOP__COUNT,
};

enum vigil_file_flags {
	VIGIL_FILE_CREATED = 1 << 0,	/* the open made the file (FMODE_CREATED) */
	VIGIL_FILE_TRUNC0 = 1 << 1,	/* path[0] did not fit or was deeper than VIGIL_FILE_DEPTH */
	VIGIL_FILE_TRUNC1 = 1 << 2,
	VIGIL_FILE_TWO = 1 << 3,	/* path[1] is used */
	VIGIL_FILE_RAW1 = 1 << 4,	/* path[1] is not resolved (a symlink's target) */
};

struct vigil_file_ev {
	struct vigil_hdr hdr;
	__s64 ret;		/* the syscall's return: fd, bytes, 0 or -errno */
	__u64 latency_ns;	/* entry to exit */
	__u64 args[6];		/* the syscall's arguments; openat2's open_how in 2..4, the
				   file position at entry in 3 for read and write */
	__u32 op;		/* enum vigil_file_op */
	__u32 flags;		/* enum vigil_file_flags */
	__u16 rel[2];		/* where in path[i] the argument as passed begins */
	__u16 len[2];		/* bytes used in path[i], without the NUL */
	char path[2][VIGIL_FILE_PATH_LEN];
};
VIGIL_CHECK_SIZE(struct vigil_file_ev, 136 + 2 * VIGIL_FILE_PATH_LEN);
VIGIL_CHECK_OFF(struct vigil_file_ev, ret, 56);
VIGIL_CHECK_OFF(struct vigil_file_ev, args, 72);
VIGIL_CHECK_OFF(struct vigil_file_ev, op, 120);
VIGIL_CHECK_OFF(struct vigil_file_ev, rel, 128);
VIGIL_CHECK_OFF(struct vigil_file_ev, path, 136);

/* a call in flight, per thread: its arguments, until the exit */
struct vigil_file_stash {
	__u64 ts;
	__u64 args[6];
	__u64 pos;		/* the file position at entry (read, write) */
	__u32 op;
	__u32 _pad;
};
VIGIL_CHECK_SIZE(struct vigil_file_stash, 72);
VIGIL_CHECK_OFF(struct vigil_file_stash, op, 64);

/* --path prefixes, in .rodata */
struct vigil_file_prefixes {
	__u32 n;
	__u32 len[VIGIL_FILE_PREFIXES];
	__u32 _pad[3];
	char s[VIGIL_FILE_PREFIXES][VIGIL_FILE_PREFIX_LEN];
};
VIGIL_CHECK_SIZE(struct vigil_file_prefixes, 32 + VIGIL_FILE_PREFIXES * VIGIL_FILE_PREFIX_LEN);

/* the result classes the kernel counts per op (the agent's `result` label) */
enum vigil_file_res {
	VIGIL_FRES_OK = 0,
	VIGIL_FRES_ENOENT,
	VIGIL_FRES_EACCES,
	VIGIL_FRES_EPERM,
	VIGIL_FRES_OTHER,
	VIGIL_FRES__COUNT,
};

/* per op, per CPU: calls by result and their summed latency (the histogram's sum) */
struct vigil_file_opstat {
	__u64 res[VIGIL_FRES__COUNT];
	__u64 lat_sum_ns;
};
VIGIL_CHECK_SIZE(struct vigil_file_opstat, 48);

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
