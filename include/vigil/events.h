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
};
VIGIL_CHECK_SIZE(struct vigil_filter, 48 + 12 * VIGIL_MAX_CONTAINERS);
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

/* ---- firewall ------------------------------------------------------------ */

/*
 * The firewall keeps two generations of its lookup maps (slots 0 and 1 of
 * ARRAY_OF_MAPS outer maps) and a one-word "active generation" the XDP
 * program reads once per packet; see docs/firewall.md. Addresses are
 * stored as IPv6, IPv4 as IPv4-mapped (::ffff:a.b.c.d), so one map serves
 * both families. Limits are fixed because inner maps must match the outer
 * map's template.
 *
 * Per packet every address lookup is a hash lookup (kernel LPM tries get
 * slower as they grow): per side and family one hash keyed by (prefix
 * length, masked address), probed for each distinct prefix length of the
 * generation, longest first; the first hit is the longest matching prefix.
 * Then (source class, destination class, protocol) in a hash, and the port
 * hash only for combinations whose rules name ports, probed once per block
 * size the combination uses.
 */
#define VIGIL_FW_MAX_RULES 131072	/* rule ids 1..MAX; id 0 is the default policy */
#define VIGIL_FW_MAX_PREFIXES 262144	/* distinct prefixes per side */
#define VIGIL_FW_MAX_MATCH (1 << 21)	/* entries in the port map */
#define VIGIL_FW_MAX_BUCKETS 65536	/* rate limit buckets (LRU) */
#define VIGIL_FW_MAX_ADDRS VIGIL_FW_MAX_RULES	/* prefixes per side and family: one per rule at most */
#define VIGIL_FW_MAX_COMBOS (1 << 20)	/* (source class, destination class, protocol) entries */
/* counter slots: the active rule set's and the next one's, each at most
 * MAX_RULES + 1 (with the default) */
#define VIGIL_FW_MAX_CTRS (2 * (VIGIL_FW_MAX_RULES + 1))

enum vigil_fw_action {
	VIGIL_FW_PASS = 0,
	VIGIL_FW_DROP = 1,
	VIGIL_FW_RATELIMIT = 2,
};

/* protocol classes in match keys: 0 is "any rule", also used for protocols
 * no rule names (their packets can only match protocol-less rules) */
#define VIGIL_FW_PROTO_ANY 0

/* hash key of the IPv4 address maps: 8 bytes, hashed in one jhash round */
struct vigil_fw_addr4_key {
	__u32 prefixlen;	/* 1..32 (0 is the family root, never in the map) */
	__u8 addr[4];		/* network order, host bits zero */
};
VIGIL_CHECK_SIZE(struct vigil_fw_addr4_key, 8);
VIGIL_CHECK_OFF(struct vigil_fw_addr4_key, addr, 4);

/* hash key of the IPv6 address maps */
struct vigil_fw_addr6_key {
	__u32 prefixlen;	/* 1..128 (0 is the family root, never in the map) */
	__u8 addr[16];		/* network order, host bits zero */
};
VIGIL_CHECK_SIZE(struct vigil_fw_addr6_key, 20);
VIGIL_CHECK_OFF(struct vigil_fw_addr6_key, addr, 4);

/* hash key of the combination map: what a verdict depends on besides the port */
struct vigil_fw_combo_key {
	__u32 src_id;		/* class from the source maps */
	__u32 dst_id;		/* class from the destination maps */
	__u8 proto;		/* IPPROTO_*, or VIGIL_FW_PROTO_ANY */
	__u8 _pad[3];		/* zero: hashed with the key */
};
VIGIL_CHECK_SIZE(struct vigil_fw_combo_key, 12);
VIGIL_CHECK_OFF(struct vigil_fw_combo_key, proto, 8);

/*
 * Hash key of the port map, for combinations whose verdict depends on the
 * port: (source class, destination class, protocol) and the destination
 * port as an aligned block of 2^(16 - bits) ports, so a port range is a
 * handful of entries. The blocks of one combination are disjoint; its
 * combination entry lists the block sizes it uses (vigil_fw_verdict.plens)
 * and the program probes only those.
 */
struct vigil_fw_port_key {
	__u32 src_id;		/* class from the source maps */
	__u32 dst_id;		/* class from the destination maps */
	__u8 proto;		/* IPPROTO_*, or VIGIL_FW_PROTO_ANY */
	__u8 bits;		/* port prefix length, 0..16 */
	__u16 port;		/* network order, the low 16 - bits bits zero */
};
VIGIL_CHECK_SIZE(struct vigil_fw_port_key, 12);
VIGIL_CHECK_OFF(struct vigil_fw_port_key, proto, 8);
VIGIL_CHECK_OFF(struct vigil_fw_port_key, bits, 9);
VIGIL_CHECK_OFF(struct vigil_fw_port_key, port, 10);

enum vigil_fw_verdict_flags {
	/* in the combination map: the verdict depends on the port, look up the
	 * port map for the block sizes in plens (the other fields are unused) */
	VIGIL_FW_V_PORTS = 1 << 0,
};

/* what the combination map and port map answer: the winning rule, precomputed */
struct vigil_fw_verdict {
	__u32 rule_id;		/* 0: the default policy */
	__u32 action;		/* enum vigil_fw_action */
	__u32 rate;		/* ratelimit: packets per second */
	__u32 burst;		/* ratelimit: bucket depth in packets */
	__u32 bucket;		/* ratelimit: stable id of the rule's buckets */
	__u32 flags;		/* enum vigil_fw_verdict_flags */
	__u32 ctr;		/* the rule's slot in fw_counters */
	__u32 plens;		/* with VIGIL_FW_V_PORTS: bit b set when some port
				 * entry of the combination has bits == b */
};
VIGIL_CHECK_SIZE(struct vigil_fw_verdict, 32);
VIGIL_CHECK_OFF(struct vigil_fw_verdict, plens, 28);
VIGIL_CHECK_OFF(struct vigil_fw_verdict, action, 4);
VIGIL_CHECK_OFF(struct vigil_fw_verdict, bucket, 16);
VIGIL_CHECK_OFF(struct vigil_fw_verdict, flags, 20);
VIGIL_CHECK_OFF(struct vigil_fw_verdict, ctr, 24);

enum vigil_fw_class_flags {
	/* source only: the class's best rule has no destination, protocol or
	 * port, so it wins every packet from the class; v is its verdict
	 * (never on the roots and the IPv4-mapped IPv6 class: they are also
	 * reached without a lookup, see vigil_fw_gen) */
	VIGIL_FW_C_DECIDED = 1 << 0,
};

/* value of the address maps */
struct vigil_fw_class {
	__u32 id;		/* the address's class */
	__u32 flags;		/* enum vigil_fw_class_flags */
	struct vigil_fw_verdict v;	/* with VIGIL_FW_C_DECIDED: no more lookups */
};
VIGIL_CHECK_SIZE(struct vigil_fw_class, 40);
VIGIL_CHECK_OFF(struct vigil_fw_class, v, 8);

enum vigil_fw_gen_flags {
	/* some combination names this protocol: without one, a packet of the
	 * protocol goes straight to the protocol-less entries */
	VIGIL_FW_G_TCP = 1 << 4,
	VIGIL_FW_G_UDP = 1 << 5,
	VIGIL_FW_G_ICMP = 1 << 6,
	VIGIL_FW_G_ICMPV6 = 1 << 7,
	/* no rule applies to packets whose source class is this root (every
	 * address lookup missed) or the IPv4-mapped IPv6 class: the default decides */
	VIGIL_FW_G_SRC_ROOT4_NONE = 1 << 8,
	VIGIL_FW_G_SRC_ROOT6_NONE = 1 << 9,
	VIGIL_FW_G_SRC_MAPPED6_NONE = 1 << 10,
	/* this side and family's prefixes are in an LPM trie (fw_trie4/6),
	 * not the per-length hash: too many distinct lengths to probe */
	VIGIL_FW_G_SRC4_TRIE = 1 << 11,
	VIGIL_FW_G_SRC6_TRIE = 1 << 12,
	VIGIL_FW_G_DST4_TRIE = 1 << 13,
	VIGIL_FW_G_DST6_TRIE = 1 << 14,
};


/*
 * The distinct prefix lengths of one side's address maps, longest first,
 * without 0 (the family roots are never looked up). The program probes the
 * hash once per length: cost grows with the number of distinct lengths, not
 * with the number of rules.
 */
struct vigil_fw_lens {
	__u8 n4;		/* lengths used in v4[] (0..32) */
	__u8 n6;		/* lengths used in v6[] (0..128) */
	__u8 _pad[2];
	__u8 v4[32];		/* 32..1 */
	__u8 v6[128];		/* 128..1 */
};
VIGIL_CHECK_SIZE(struct vigil_fw_lens, 4 + 32 + 128);
VIGIL_CHECK_OFF(struct vigil_fw_lens, v4, 4);
VIGIL_CHECK_OFF(struct vigil_fw_lens, v6, 36);

/*
 * One per generation (a one-entry array): what lets the program skip
 * lookups that cannot change the answer. An address matching none of the
 * side's prefixes is in its family root's class; an IPv6 packet with an
 * IPv4-mapped address takes the class of the longest IPv6 prefix containing
 * ::ffff:0:0/96 (IPv4 rules never apply to IPv6 packets).
 */
struct vigil_fw_gen {
	__u32 flags;		/* enum vigil_fw_gen_flags */
	__u32 src_root4;	/* class of ::ffff:0:0/96 */
	__u32 src_root6;	/* class of ::/0 */
	__u32 src_mapped6;	/* class of IPv6 packets from ::ffff:0:0/96 */
	__u32 dst_root4;
	__u32 dst_root6;
	__u32 dst_mapped6;
	__u32 _pad;
	struct vigil_fw_verdict dflt;	/* no rule matches: rule 0 */
	struct vigil_fw_lens src_lens;
	struct vigil_fw_lens dst_lens;
};
VIGIL_CHECK_SIZE(struct vigil_fw_gen, 32 + 32 + 2 * 164);
VIGIL_CHECK_OFF(struct vigil_fw_gen, dst_root4, 16);
VIGIL_CHECK_OFF(struct vigil_fw_gen, dflt, 32);
VIGIL_CHECK_OFF(struct vigil_fw_gen, src_lens, 64);
VIGIL_CHECK_OFF(struct vigil_fw_gen, dst_lens, 64 + 164);

/* per-CPU, per counter slot (one per rule; an unchanged rule keeps its slot
 * across reloads, so its counters go on): packets and bytes matched; drops: rate limit excess
 * (with dry run: what would have been dropped). For drop rules the program
 * leaves drops at 0: every packet is a drop, and user space reports packets */
struct vigil_fw_counter {
	__u64 packets;
	__u64 bytes;
	__u64 drops;
	__u64 _pad;
};
VIGIL_CHECK_SIZE(struct vigil_fw_counter, 32);
VIGIL_CHECK_OFF(struct vigil_fw_counter, drops, 16);

/* token bucket per (rule bucket id, source address) */
struct vigil_fw_bucket_key {
	__u8 addr[16];
	__u32 bucket;
	__u32 _pad;
};
VIGIL_CHECK_SIZE(struct vigil_fw_bucket_key, 24);
VIGIL_CHECK_OFF(struct vigil_fw_bucket_key, bucket, 16);

struct vigil_fw_bucket {
	__u64 credit_ns;	/* saved time credit; one packet costs 1e9 / rate */
	__u64 last_ns;
};
VIGIL_CHECK_SIZE(struct vigil_fw_bucket, 16);

enum vigil_fw_rule_flags {
	VIGIL_FW_R_SRC = 1 << 0,	/* has a source address */
	VIGIL_FW_R_DST = 1 << 1,
	VIGIL_FW_R_PORT = 1 << 2,
	VIGIL_FW_R_DEFAULT = 1 << 3,	/* rule 0, the default policy */
};

/* a rule as loaded, kept per generation so `status` can show it */
struct vigil_fw_rule {
	__u8 src[16];		/* IPv4 mapped */
	__u8 dst[16];
	__u8 src_len;		/* in the rule's own family: 0..32 or 0..128 */
	__u8 dst_len;
	__u8 family;		/* 0 any, 4, 6 */
	__u8 proto;		/* IPPROTO_*, or VIGIL_FW_PROTO_ANY */
	__u16 port_lo;		/* host order */
	__u16 port_hi;
	__u32 action;		/* enum vigil_fw_action */
	__u32 rate;
	__u32 line;		/* in the rules file; 0 for the default */
	__u32 flags;		/* enum vigil_fw_rule_flags */
	__u32 ctr;		/* its slot in fw_counters */
	__u32 _pad;
};
VIGIL_CHECK_SIZE(struct vigil_fw_rule, 64);
VIGIL_CHECK_OFF(struct vigil_fw_rule, ctr, 56);
VIGIL_CHECK_OFF(struct vigil_fw_rule, src_len, 32);
VIGIL_CHECK_OFF(struct vigil_fw_rule, port_lo, 36);
VIGIL_CHECK_OFF(struct vigil_fw_rule, action, 40);
VIGIL_CHECK_OFF(struct vigil_fw_rule, flags, 52);

#define VIGIL_FW_PATH_LEN 256

enum vigil_fw_info_flags {
	VIGIL_FW_I_DRY_RUN = 1 << 0,
	VIGIL_FW_I_PERSIST = 1 << 1,
};

/* written by user space only (under the lock); the XDP program never reads it */
struct vigil_fw_info {
	__u64 loaded_at;	/* CLOCK_REALTIME ns */
	__u64 reloaded_at;	/* CLOCK_REALTIME ns of the last reload, or 0 */
	__u64 reloads;
	__u32 ifindex;
	__u32 mode;		/* 1 native (driver), 2 generic (skb) */
	__u32 flags;		/* enum vigil_fw_info_flags */
	__u32 nrules;		/* in the active generation, without the default */
	__u32 sample;		/* one drop event every N drops */
	__u32 lookup;		/* --lookup of the load: 0 auto, 1 hash, 2 trie;
				 * reloads keep it unless given another */
	char rules_path[VIGIL_FW_PATH_LEN];
};
VIGIL_CHECK_SIZE(struct vigil_fw_info, 48 + VIGIL_FW_PATH_LEN);
VIGIL_CHECK_OFF(struct vigil_fw_info, ifindex, 24);
VIGIL_CHECK_OFF(struct vigil_fw_info, lookup, 44);
VIGIL_CHECK_OFF(struct vigil_fw_info, rules_path, 48);

enum vigil_fw_event_flags {
	VIGIL_FW_E_DRY_RUN = 1 << 0,	/* would have been dropped */
	VIGIL_FW_E_RATELIMIT = 1 << 1,	/* over a rate limit */
	VIGIL_FW_E_FRAGMENT = 1 << 2,	/* a non-first fragment: no ports */
};

/* a sampled drop; hdr.pid/comm are zero (XDP runs in no task's context) */
struct vigil_fw_drop {
	struct vigil_hdr hdr;
	__u8 src[16];		/* IPv4 mapped */
	__u8 dst[16];
	__u32 rule_id;
	__u32 ifindex;
	__u32 pkt_len;
	__u32 flags;		/* enum vigil_fw_event_flags */
	__u16 sport;		/* host order */
	__u16 dport;
	__u8 family;		/* 4 or 6 */
	__u8 proto;		/* IPPROTO_* as on the wire */
	__u8 _pad[2];
};
VIGIL_CHECK_SIZE(struct vigil_fw_drop, 56 + 32 + 24);
VIGIL_CHECK_OFF(struct vigil_fw_drop, src, 56);
VIGIL_CHECK_OFF(struct vigil_fw_drop, rule_id, 88);
VIGIL_CHECK_OFF(struct vigil_fw_drop, sport, 104);
VIGIL_CHECK_OFF(struct vigil_fw_drop, family, 108);

#endif /* VIGIL_EVENTS_H */
