/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The firewall's kernel/user structs: its map keys and values, the
 * generation record, the rule as stored, its info and drop event.
 *
 * Same rules as vigil/events.h (which it includes for the header and the
 * layout checks): fixed-width types, explicit padding, _Static_assert on
 * sizes and offsets. Included by bpf/firewall.bpf.c and src/fw/.
 */
#ifndef VIGIL_FW_H
#define VIGIL_FW_H

#include "vigil/events.h"

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

#endif /* VIGIL_FW_H */
