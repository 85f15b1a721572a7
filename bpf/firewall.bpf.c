// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * vigil firewall: XDP datapath.
 *
 * Per packet: parse to the L4 header, read the active generation once, then
 * in that generation's maps: source class, destination class, then
 * (classes, protocol) -> verdict. Every lookup is a hash lookup: the
 * kernel's LPM trie walk gets slower as the trie grows, a hash lookup does
 * not. An address's class is found by probing the side's per-family hash,
 * keyed by (prefix length, masked address), once per distinct prefix length
 * of the generation, longest first: the first hit is the longest matching
 * prefix, and no hit means the family root. So the cost grows with the
 * number of distinct lengths, not with the number of rules. The port map is
 * consulted only for combinations whose verdict depends on the port, once
 * per port block size they use. User space (src/fw/rules.c) precomputes
 * which rule wins for every combination; see docs/firewall.md.
 */
#include "common.bpf.h"
#include "vigil/fw.h"
#include <bpf/bpf_endian.h>

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8
#define IP_OFFSET_MASK 0x1fff
#define IP6_OFFSET_MASK 0xfff8
#define NEXTHDR_HOP 0
#define NEXTHDR_ROUTING 43
#define NEXTHDR_FRAGMENT 44
#define NEXTHDR_AUTH 51
#define NEXTHDR_DEST 60
#define PROTO_ICMP 1
#define PROTO_TCP 6
#define PROTO_UDP 17
#define PROTO_ICMPV6 58

/* fixed at load: count "would drop" but pass everything */
const volatile __u32 fw_dry_run = 0;
/* one drop event per this many drops, per CPU; 0 disables events */
const volatile __u32 fw_sample = 100;
/* always 0: see the start of vigil_firewall() */
const volatile __u32 fw_never = 0;

/* inner map templates: sizes, not BTF types (clang would emit only forward
 * declarations for types used nowhere else, and libbpf rejects those). The
 * kernel does not compare a hash inner map's max_entries with its template's
 * (5.10+), so user space sizes each generation's hashes to their contents. */
#define FW_INNER(name, kind, max, key, value)					\
	struct name {								\
		__uint(type, kind);						\
		__uint(max_entries, max);					\
		__uint(map_flags, BPF_F_NO_PREALLOC);				\
		__uint(key_size, sizeof(key));					\
		__uint(value_size, sizeof(value));				\
	}

/* an array of n inner maps of the template */
#define FW_OUTER(name, n, inner)						\
	struct {								\
		__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);			\
		__uint(max_entries, n);						\
		__type(key, __u32);						\
		__array(values, struct inner);					\
	} name SEC(".maps")

FW_INNER(fw_port_hash, BPF_MAP_TYPE_HASH, VIGIL_FW_MAX_MATCH, struct vigil_fw_port_key,
	 struct vigil_fw_verdict);
FW_INNER(fw_addr4_hash, BPF_MAP_TYPE_HASH, VIGIL_FW_MAX_ADDRS, struct vigil_fw_addr4_key,
	 struct vigil_fw_class);
FW_INNER(fw_addr6_hash, BPF_MAP_TYPE_HASH, VIGIL_FW_MAX_ADDRS, struct vigil_fw_addr6_key,
	 struct vigil_fw_class);
/* with many distinct prefix lengths (VIGIL_FW_G_*_TRIE): the same keys and
 * values in an LPM trie, one walk instead of a probe per length */
FW_INNER(fw_addr4_trie, BPF_MAP_TYPE_LPM_TRIE, VIGIL_FW_MAX_ADDRS, struct vigil_fw_addr4_key,
	 struct vigil_fw_class);
FW_INNER(fw_addr6_trie, BPF_MAP_TYPE_LPM_TRIE, VIGIL_FW_MAX_ADDRS, struct vigil_fw_addr6_key,
	 struct vigil_fw_class);
FW_INNER(fw_combo_hash, BPF_MAP_TYPE_HASH, VIGIL_FW_MAX_COMBOS, struct vigil_fw_combo_key,
	 struct vigil_fw_verdict);
FW_INNER(fw_rule_hash, BPF_MAP_TYPE_HASH, VIGIL_FW_MAX_RULES + 1, __u32, struct vigil_fw_rule);

/* generation slots 0 and 1 of each kind of per-rule-set map */
FW_OUTER(fw_src4, 2, fw_addr4_hash);
FW_OUTER(fw_src6, 2, fw_addr6_hash);
FW_OUTER(fw_dst4, 2, fw_addr4_hash);
FW_OUTER(fw_dst6, 2, fw_addr6_hash);
FW_OUTER(fw_match, 2, fw_port_hash);
FW_OUTER(fw_combo, 2, fw_combo_hash);
/* not read here: the rules as loaded, for `status` */
FW_OUTER(fw_rules, 2, fw_rule_hash);
/* the tries, slot gen * 2 + side (0 source, 1 destination); a slot is
 * empty when its generation probes the hash instead */
FW_OUTER(fw_trie4, 4, fw_addr4_trie);
FW_OUTER(fw_trie6, 4, fw_addr6_trie);

/* the generations' flags, lengths and default, by generation: plain data in
 * a global (one map, ".data.fw_gen"), so finding a generation's is pointer
 * arithmetic, no lookup. A reload writes the inactive slot, which no packet
 * reads any more (see install() in src/cmd/firewall.c). */
struct vigil_fw_gen fw_gens[2] SEC(".data.fw_gen") = {};

/* per rule, by counter slot (vigil_fw_verdict.ctr), shared by the
 * generations: a rule unchanged by a reload keeps its slot and its counts */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VIGIL_FW_MAX_CTRS);
	__type(key, __u32);
	__type(value, struct vigil_fw_counter);
} fw_counters SEC(".maps");

/* the active generation, 0 or 1: switching it is the atomic step of a
 * reload. A global of its own (map ".data.fw_active"): one load per packet */
__u32 fw_active SEC(".data.fw_active") = 0;

/* not read here: interface, mode, since when */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vigil_fw_info);
} fw_info SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, VIGIL_FW_MAX_BUCKETS);
	__type(key, struct vigil_fw_bucket_key);
	__type(value, struct vigil_fw_bucket);
} fw_buckets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} fw_sample_ctr SEC(".maps");

struct vlan_hdr_ {
	__be16 tci;
	__be16 proto;
};

struct ip6_opt_ {
	__u8 nexthdr;
	__u8 hdrlen;
};

struct ip6_frag_ {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off;
	__be32 id;
};

struct pkt {
	__be32 src[4];		/* IPv6; IPv4 in src[3] only (the rest is not set) */
	__be32 dst[4];
	__u8 family;
	__u8 proto;
	__u16 sport;		/* host order; read by load_ports() */
	__u16 dport;
	__u16 l4off;		/* of the L4 header, from data */
	__u8 nonfirst_frag;
	__u8 src_mapped6;	/* an IPv6 packet with an address in ::ffff:0:0/96 */
	__u8 dst_mapped6;
};

static __always_inline bool is_mapped6(const struct in6_addr *a)
{
	return a->in6_u.u6_addr32[0] == 0 && a->in6_u.u6_addr32[1] == 0 &&
	       a->in6_u.u6_addr32[2] == bpf_htonl(0xffff);
}

/* the address as the wire structs carry it: IPv6, or IPv4 mapped (::ffff:a.b.c.d) */
static __always_inline void addr16(__u8 *out, const struct pkt *p, const __be32 *a)
{
	if (p->family == 4) {
		__be32 v4 = a[3];

		__builtin_memset(out, 0, 10);
		out[10] = 0xff;
		out[11] = 0xff;
		__builtin_memcpy(out + 12, &v4, 4);
	} else {
		__builtin_memcpy(out, a, 16);
	}
}

/* Ethernet and up to two VLAN tags (802.1Q, QinQ): the L3 protocol and its
 * offset from data. 0: parsed; -1: truncated */
static __always_inline int parse_l2(void *data, void *end, __u16 *proto, __u32 *off)
{
	struct ethhdr *eth = data;
	__u16 h_proto;

	*off = sizeof(*eth);
	if ((void *)(eth + 1) > end)
		return -1;
	h_proto = eth->h_proto;
#pragma unroll
	for (int i = 0; i < 2; i++) {
		if (h_proto == bpf_htons(ETH_P_8021Q) || h_proto == bpf_htons(ETH_P_8021AD)) {
			struct vlan_hdr_ *vh = data + *off;

			if ((void *)(vh + 1) > end)
				return -1;
			h_proto = vh->proto;
			*off += sizeof(*vh);
		}
	}
	*proto = h_proto;
	return 0;
}

/* 0: parsed; -1: not IP (or unparseable L2/L3), let the stack have it */
static __always_inline int parse(struct xdp_md *ctx, struct pkt *p)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u16 h_proto;
	__u32 off, l4off;

	p->nonfirst_frag = 0;
	p->src_mapped6 = 0;
	p->dst_mapped6 = 0;
	if (parse_l2(data, end, &h_proto, &off))
		return -1;

	if (h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = data + off;
		__u32 ihl;

		if ((void *)(ip + 1) > end)
			return -1;
		ihl = ip->ihl * 4;
		if (ihl < sizeof(*ip))
			return -1;
		p->family = 4;
		/* the mapped form is built only when needed (events, rate limits) */
		p->src[3] = ip->saddr;
		p->dst[3] = ip->daddr;
		p->proto = ip->protocol;
		p->nonfirst_frag = (ip->frag_off & bpf_htons(IP_OFFSET_MASK)) != 0;
		l4off = off + ihl;
	} else if (h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data + off;
		__u8 nh;

		if ((void *)(ip6 + 1) > end)
			return -1;
		p->family = 6;
		__builtin_memcpy(p->src, &ip6->saddr, 16);
		__builtin_memcpy(p->dst, &ip6->daddr, 16);
		p->src_mapped6 = is_mapped6(&ip6->saddr);
		p->dst_mapped6 = is_mapped6(&ip6->daddr);
		nh = ip6->nexthdr;
		l4off = off + sizeof(*ip6);
		/* extension headers, a bounded number of them */
#pragma unroll
		for (int i = 0; i < 4; i++) {
			if (nh == NEXTHDR_HOP || nh == NEXTHDR_ROUTING || nh == NEXTHDR_DEST ||
			    nh == NEXTHDR_AUTH) {
				struct ip6_opt_ *o = data + (l4off & 0xffff);

				if ((void *)(o + 1) > end)
					break;
				nh = o->nexthdr;
				l4off += nh == NEXTHDR_AUTH ? ((__u32)o->hdrlen + 2) * 4 :
							     ((__u32)o->hdrlen + 1) * 8;
			} else if (nh == NEXTHDR_FRAGMENT) {
				struct ip6_frag_ *f = data + (l4off & 0xffff);

				if ((void *)(f + 1) > end)
					break;
				nh = f->nexthdr;
				if (f->frag_off & bpf_htons(IP6_OFFSET_MASK))
					p->nonfirst_frag = 1;
				l4off += sizeof(*f);
			}
		}
		p->proto = nh;
	} else {
		return -1;
	}

	p->l4off = l4off & 0xffff;
	return 0;
}

/*
 * The ports, read only when something needs them: a source that decides
 * alone does not (then only a sampled drop event does). Not inlined into
 * the IPv6 loop's caller states: fw_lookup6_src/_dst are global functions, so the
 * offset staying live across it costs the verifier nothing there.
 */
static __always_inline void load_ports(struct xdp_md *ctx, struct pkt *p)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;

	p->sport = 0;
	p->dport = 0;
	/* beyond any XDP buffer (so the header is not there); and the verifier
	 * needs a bound on the offset below 64k to accept the check */
	if (p->l4off > 0x3fff)
		return;
	if ((p->proto == PROTO_TCP || p->proto == PROTO_UDP) && !p->nonfirst_frag) {
		__be16 *ports = data + p->l4off;

		/* a truncated header leaves the ports at 0 */
		if ((void *)(ports + 2) <= end) {
			p->sport = bpf_ntohs(ports[0]);
			p->dport = bpf_ntohs(ports[1]);
		}
	}
}

/* one drop event per fw_sample drops, per CPU: true when this drop is the one */
static __always_inline bool sample_due(void)
{
	__u32 zero = 0;
	__u64 *n;

	/* fixed at load: with sampling off the verifier drops the rest */
	if (!fw_sample)
		return false;
	n = bpf_map_lookup_elem(&fw_sample_ctr, &zero);
	if (!n || ++*n < fw_sample)
		return false;
	*n = 0;
	return true;
}

static __always_inline void emit_drop(struct xdp_md *ctx, struct pkt *p, __u32 rule_id,
				      __u32 len, __u32 flags)
{
	struct vigil_fw_drop *e;

	e = vigil_reserve(sizeof(*e));
	if (!e)
		return;
	load_ports(ctx, p);
	__builtin_memset(e, 0, sizeof(*e));
	e->hdr.ts = bpf_ktime_get_boot_ns();
	e->hdr.type = VIGIL_EV_FW_DROP;
	addr16(e->src, p, p->src);
	addr16(e->dst, p, p->dst);
	e->rule_id = rule_id;
	e->ifindex = ctx->ingress_ifindex;
	e->pkt_len = len;
	e->flags = flags | (fw_dry_run ? VIGIL_FW_E_DRY_RUN : 0) |
		   (p->nonfirst_frag ? VIGIL_FW_E_FRAGMENT : 0);
	e->sport = p->sport;
	e->dport = p->dport;
	e->family = p->family;
	e->proto = p->proto;
	bpf_ringbuf_submit(e, 0);
}

/* token bucket in time units: credit accrues with time, a packet costs 1e9/rate ns */
static __always_inline bool bucket_allows(const struct pkt *p, const struct vigil_fw_verdict *v)
{
	struct vigil_fw_bucket_key k = {};
	struct vigil_fw_bucket *b;
	__u64 now = bpf_ktime_get_ns();
	__u64 cost, cap, credit;

	if (!v->rate)
		return false;
	cost = 1000000000ull / v->rate;
	cap = cost * (v->burst ? v->burst : 1);
	addr16(k.addr, p, p->src);
	k.bucket = v->bucket;
	b = bpf_map_lookup_elem(&fw_buckets, &k);
	if (!b) {
		struct vigil_fw_bucket nb = { .credit_ns = cap - cost, .last_ns = now };

		bpf_map_update_elem(&fw_buckets, &k, &nb, BPF_ANY);
		return true;
	}
	/* racy across CPUs by design: at worst one extra packet per CPU */
	credit = b->credit_ns + (now - b->last_ns);
	if (credit > cap)
		credit = cap;
	b->last_ns = now;
	if (credit >= cost) {
		b->credit_ns = credit - cost;
		return true;
	}
	b->credit_ns = credit;
	return false;
}

/* a word's network mask: its top len bits set, 0 <= len <= 32 */
static __always_inline __be32 mask32(__u32 len)
{
	return bpf_htonl((__u32)(0xffffffff00000000ull >> (len & 63)));
}

static __always_inline struct vigil_fw_class *probe4(void *m, __u32 len, __be32 a)
{
	struct vigil_fw_addr4_key k;
	__be32 masked = a & mask32(len);

	k.prefixlen = len;
	__builtin_memcpy(k.addr, &masked, 4);
	return bpf_map_lookup_elem(m, &k);
}

/* longest matching IPv4 prefix in the trie of (gen, side); NULL: none, or no trie */
static __always_inline struct vigil_fw_class *trie4(__u32 gen, __u32 side, __be32 a)
{
	struct vigil_fw_addr4_key k = { .prefixlen = 32 };
	__u32 slot = (gen & 1) * 2 + side;
	void *m;

	m = bpf_map_lookup_elem(&fw_trie4, &slot);
	if (!m)
		return NULL;
	__builtin_memcpy(k.addr, &a, 4);
	return bpf_map_lookup_elem(m, &k);
}

/* longest matching IPv4 prefix: one hash probe per distinct length, longest first */
static __always_inline struct vigil_fw_class *lookup4(void *m, const struct vigil_fw_lens *l,
						      __be32 a)
{
	struct vigil_fw_class *hc;
	__u32 n = l->n4;

	/* the first probe outside the loop: hosts only, or one prefix length
	 * (block lists), end here without a loop counter to keep */
	if (!n)
		return NULL;
	hc = probe4(m, l->v4[0], a);
	if (hc)
		return hc;
	for (__u32 i = 1; i < 32; i++) {
		if (i >= n)
			break;
		hc = probe4(m, l->v4[i], a);
		if (hc)
			return hc;
	}
	return NULL;
}

/*
 * The same for IPv6, up to 128 lengths, in the maps of one side (side: 0
 * source, 1 destination). Global functions (fw_lookup6_src/_dst below), so
 * the verifier checks the loop once: inlined, it would be walked again for
 * every distinct state the IPv6 parser hands it (3x the verifier's work for
 * the whole program). One function per side: a lookup call that may see the
 * maps of both sides is not inlined by the verifier (an indirect call, ~10
 * ns here). Global functions cannot return map pointers: copies the entry to
 * *out. 1: hit, 0: no prefix matches, -1: this generation's map is missing.
 */
static __always_inline int lookup6(void *outer, __u32 side, __u32 gen,
				   const struct vigil_fw_lens *l, const struct pkt *p,
				   struct vigil_fw_class *out)
{
	struct vigil_fw_addr6_key k;
	struct vigil_fw_class *hc;
	const __be32 *a;
	void *m;
	__u32 n;

	if (!l || !p || !out)
		return -1;
	gen &= 1;
	a = side ? p->dst : p->src;
	if (fw_gens[gen].flags & (side ? VIGIL_FW_G_DST6_TRIE : VIGIL_FW_G_SRC6_TRIE)) {
		__u32 slot = gen * 2 + side;

		m = bpf_map_lookup_elem(&fw_trie6, &slot);
		if (!m)
			return -1;
		k.prefixlen = 128;
		__builtin_memcpy(k.addr, a, 16);
		hc = bpf_map_lookup_elem(m, &k);
		/* keeps clang from merging this call with the hash one below */
		barrier_var(hc);
		if (!hc)
			return 0;
		*out = *hc;
		return 1;
	}
	m = bpf_map_lookup_elem(outer, &gen);
	if (!m)
		return -1;
	n = l->n6;
	for (__u32 i = 0; i < 128; i++) {
		__be32 w[4];
		__u32 len;

		if (i >= n)
			break;
		len = l->v6[i];
#pragma unroll
		for (int j = 0; j < 4; j++) {
			/* bits of the length inside word j, clamped to 0..32 */
			__u32 b = len > 32 * j ? len - 32 * j : 0;

			w[j] = a[j] & mask32(b > 32 ? 32 : b);
		}
		k.prefixlen = len;
		__builtin_memcpy(k.addr, w, 16);
		hc = bpf_map_lookup_elem(m, &k);
		if (hc) {
			*out = *hc;
			return 1;
		}
	}
	return 0;
}

__noinline int fw_lookup6_src(__u32 gen, const struct vigil_fw_lens *l, const struct pkt *p,
			      struct vigil_fw_class *out)
{
	return lookup6(&fw_src6, 0, gen, l, p, out);
}

__noinline int fw_lookup6_dst(__u32 gen, const struct vigil_fw_lens *l, const struct pkt *p,
			      struct vigil_fw_class *out)
{
	return lookup6(&fw_dst6, 1, gen, l, p, out);
}

/*
 * An address's class: its longest matching prefix (lookup4/lookup6), else
 * its family root. For sources, *decided is set when no further lookup can
 * change the verdict: an entry carrying its rule's verdict, or a root class
 * no rule applies to (the default policy). -1: the maps of this generation
 * are missing (only before the first load completes).
 */
static __always_inline int addr_class(bool src, __u32 gen, struct vigil_fw_gen *g,
				      const struct pkt *p, __u32 *out,
				      struct vigil_fw_verdict **decided, struct vigil_fw_class *copy)
{
	const struct vigil_fw_lens *l = src ? &g->src_lens : &g->dst_lens;
	struct vigil_fw_class *hc = NULL;
	__u32 none;
	void *m;

	if (p->family == 4) {
		if (g->flags & (src ? VIGIL_FW_G_SRC4_TRIE : VIGIL_FW_G_DST4_TRIE)) {
			hc = trie4(gen, src ? 0 : 1, src ? p->src[3] : p->dst[3]);
		} else if (l->n4) {
			m = bpf_map_lookup_elem(src ? (void *)&fw_src4 : (void *)&fw_dst4, &gen);
			if (!m)
				return -1;
			hc = lookup4(m, l, src ? p->src[3] : p->dst[3]);
		}
		*out = src ? g->src_root4 : g->dst_root4;
		none = VIGIL_FW_G_SRC_ROOT4_NONE;
	} else if (src ? p->src_mapped6 : p->dst_mapped6) {
		/* IPv4 rules never apply to IPv6 packets, whatever their address */
		*out = src ? g->src_mapped6 : g->dst_mapped6;
		none = VIGIL_FW_G_SRC_MAPPED6_NONE;
		goto root;
	} else {
		if (l->n6) {
			int r = src ? fw_lookup6_src(gen, l, p, copy) : fw_lookup6_dst(gen, l, p, copy);

			if (r < 0)
				return -1;
			if (r)
				hc = copy;
		}
		*out = src ? g->src_root6 : g->dst_root6;
		none = VIGIL_FW_G_SRC_ROOT6_NONE;
	}
	if (hc) {
		*out = hc->id;
		if (src && (hc->flags & VIGIL_FW_C_DECIDED))
			*decided = &hc->v;
		return 0;
	}
root:
	if (src && (g->flags & none))
		*decided = &g->dflt;
	return 0;
}

/*
 * The port map of a combination whose verdict depends on the port: one probe
 * per block size the combination uses (plens); its blocks are disjoint, so
 * the first hit is the answer, in any order. A global function, so
 * the verifier checks its loop once (see lookup6); copies the verdict to
 * *out. packed: gen << 24 | proto << 16 | dport. 1: hit, 0: no rule for this
 * port, -1: this generation's map is missing.
 */
__noinline int fw_port_lookup(__u32 sid, __u32 did, __u32 packed, __u32 plens,
			      struct vigil_fw_verdict *out)
{
	struct vigil_fw_port_key k;
	__u32 gen = (packed >> 24) & 1;
	__u16 dport = packed & 0xffff;
	struct vigil_fw_verdict *v;
	void *m;

	if (!out)
		return -1;
	m = bpf_map_lookup_elem(&fw_match, &gen);
	if (!m)
		return -1;
	k.src_id = sid;
	k.dst_id = did;
	k.proto = (packed >> 16) & 0xff;
	/* largest blocks first: most ports of a range are in them */
	for (int b = 0; b <= 16; b++) {
		if (!(plens & (1u << b)))
			continue;
		k.bits = b;
		k.port = bpf_htons(dport & (__u16)(0xffff0000u >> b));
		v = bpf_map_lookup_elem(m, &k);
		if (v) {
			*out = *v;
			return 1;
		}
	}
	return 0;
}

/* the combination's verdict, through the port map if it depends on the port; NULL: no rule */
static __always_inline struct vigil_fw_verdict *match(void *combo_t, __u32 gen, __u32 sid,
						      __u32 did, __u8 proto, __u16 dport,
						      struct vigil_fw_verdict *buf)
{
	struct vigil_fw_combo_key ck = { .src_id = sid, .dst_id = did, .proto = proto };
	struct vigil_fw_verdict *v;

	v = bpf_map_lookup_elem(combo_t, &ck);
	if (!v || !(v->flags & VIGIL_FW_V_PORTS))
		return v;
	if (fw_port_lookup(sid, did, gen << 24 | (__u32)proto << 16 | dport, v->plens, buf) > 0)
		return buf;
	return NULL;
}

/*
 * The packet in the generic form, for the paths that need more than the
 * source address. A global function, so the verifier walks the parser (its
 * VLAN and IPv6 extension header branches) once, not once per caller state.
 * 0: parsed; -1: not IP.
 */
__noinline int fw_parse(struct xdp_md *ctx, struct pkt *p)
{
	if (!p)
		return -1;
	return parse(ctx, p);
}

/* a sampled drop event, when this drop is the one (the caller checked) */
__noinline int fw_event(struct xdp_md *ctx, __u32 rule_id, __u32 flags)
{
	struct pkt p;

	if (!fw_parse(ctx, &p))
		emit_drop(ctx, &p, rule_id, ctx->data_end - ctx->data, flags);
	return 0;
}

/* a rate-limit verdict: the bucket of (rule, source address) decides */
__noinline int fw_ratelimit(struct xdp_md *ctx, const struct vigil_fw_verdict *v)
{
	struct vigil_fw_counter *c;
	struct pkt p;
	__u32 ctr;

	if (!v || fw_parse(ctx, &p) || bucket_allows(&p, v))
		return XDP_PASS;
	ctr = v->ctr;
	c = bpf_map_lookup_elem(&fw_counters, &ctr);
	if (c)
		c->drops++;
	if (sample_due())
		emit_drop(ctx, &p, v->rule_id, ctx->data_end - ctx->data, VIGIL_FW_E_RATELIMIT);
	return fw_dry_run ? XDP_PASS : XDP_DROP;
}

/* counters, then the action; the packet is parsed again only on the rare paths that need it */
static __always_inline int act(struct xdp_md *ctx, struct vigil_fw_verdict *v)
{
	struct vigil_fw_counter *c;
	__u32 ctr = v->ctr;

	c = bpf_map_lookup_elem(&fw_counters, &ctr);
	if (c) {
		c->packets++;
		c->bytes += ctx->data_end - ctx->data;
	}
	if (v->action == VIGIL_FW_PASS)
		return XDP_PASS;
	if (v->action == VIGIL_FW_RATELIMIT)
		return fw_ratelimit(ctx, v);
	/* a drop rule drops every packet it matches: user space reports its
	 * packets as its drops, one counter update less per drop */
	if (sample_due())
		fw_event(ctx, v->rule_id, 0);
	return fw_dry_run ? XDP_PASS : XDP_DROP;
}

/*
 * The source did not decide: the destination class, then the combination
 * of both classes with the protocol (and the port where it matters), else
 * the default policy.
 */
static __always_inline struct vigil_fw_verdict *decide(struct xdp_md *ctx, __u32 gen,
						       struct vigil_fw_gen *g, struct pkt *p,
						       __u32 sid, struct vigil_fw_class *dcopy,
						       struct vigil_fw_verdict *pv)
{
	struct vigil_fw_verdict *v = NULL;
	void *combo_t;
	__u32 did;
	__u8 cls = 0;

	combo_t = bpf_map_lookup_elem(&fw_combo, &gen);
	if (!combo_t || addr_class(false, gen, g, p, &did, &v, dcopy))
		return NULL;
	load_ports(ctx, p);

	/* a protocol no combination names needs no lookup of its own */
	if (p->proto == PROTO_TCP)
		cls = g->flags & VIGIL_FW_G_TCP ? PROTO_TCP : 0;
	else if (p->proto == PROTO_UDP)
		cls = g->flags & VIGIL_FW_G_UDP ? PROTO_UDP : 0;
	else if (p->proto == PROTO_ICMP)
		cls = g->flags & VIGIL_FW_G_ICMP ? PROTO_ICMP : 0;
	else if (p->proto == PROTO_ICMPV6)
		cls = g->flags & VIGIL_FW_G_ICMPV6 ? PROTO_ICMPV6 : 0;
	if (cls)
		v = match(combo_t, gen, sid, did, cls, p->dport, pv);
	/* nothing specific to this protocol: the protocol-less rules decide */
	if (!v)
		v = match(combo_t, gen, sid, did, VIGIL_FW_PROTO_ANY, p->dport, pv);
	/* no rule: the default policy */
	return v ? v : &g->dflt;
}

/*
 * IPv4, the common case, on its own path: the source address straight from
 * the header into one probe per prefix length, and nothing else kept live
 * across the lookups when the source decides alone (block lists). The
 * rest of the packet is parsed only when the source does not decide.
 */
static __always_inline int fw_ipv4(struct xdp_md *ctx, __be32 saddr)
{
	struct vigil_fw_class *hc = NULL, dcls;
	struct vigil_fw_verdict *v, pv;
	struct vigil_fw_gen *g;
	struct pkt p;
	__u32 gen, sid, n, len0;
	void *m;

	/* one read of the generation: every lookup below sees the same rule set */
	gen = *(volatile __u32 *)&fw_active & 1;
	g = &fw_gens[gen];
	n = g->src_lens.n4;
	if (g->flags & VIGIL_FW_G_SRC4_TRIE) {
		hc = trie4(gen, 0, saddr);
	} else if (n) {
		/* the longest length first, outside lookup4's loop: with one
		 * length (hosts only, block lists) that is the whole search */
		len0 = g->src_lens.v4[0];
		m = bpf_map_lookup_elem(&fw_src4, &gen);
		if (!m)
			return XDP_PASS;
		hc = probe4(m, len0, saddr);
		if (!hc && n > 1)
			hc = lookup4(m, &g->src_lens, saddr);
	}
	if (hc) {
		if (hc->flags & VIGIL_FW_C_DECIDED)
			return act(ctx, &hc->v);
		sid = hc->id;
	} else {
		if (g->flags & VIGIL_FW_G_SRC_ROOT4_NONE)
			return act(ctx, &g->dflt);
		sid = g->src_root4;
	}
	if (fw_parse(ctx, &p) || p.family != 4)
		return XDP_PASS;
	v = decide(ctx, gen, g, &p, sid, &dcls, &pv);
	return v ? act(ctx, v) : XDP_PASS;
}

/* IPv6 in general: every prefix length, mapped addresses, destinations */
static __always_inline int fw_ipv6(struct xdp_md *ctx, __u32 gen)
{
	struct vigil_fw_verdict *v = NULL, pv;
	struct vigil_fw_class cls6, dcls6;	/* IPv6 entries, copied (fw_lookup6_src/_dst) */
	struct vigil_fw_gen *g;
	struct pkt p;
	__u32 sid;

	if (fw_parse(ctx, &p) || p.family != 6)
		return XDP_PASS;
	gen &= 1;
	g = &fw_gens[gen];
	if (addr_class(true, gen, g, &p, &sid, &v, &cls6))
		return XDP_PASS;
	/* the source alone decides (see addr_class): no more lookups */
	if (!v)
		v = decide(ctx, gen, g, &p, sid, &dcls6, &pv);
	return v ? act(ctx, v) : XDP_PASS;
}

/*
 * IPv6, the block-list case as cheap as IPv4's: the source address from
 * the header into one probe of the longest length (or the trie). A source
 * that decides alone ends here; anything else (a miss with more lengths to
 * try, an IPv4-mapped source, a class whose rules look further) takes the
 * general path above, in the same generation.
 */
static __always_inline int fw_ipv6_fast(struct xdp_md *ctx, const struct ipv6hdr *ip6)
{
	struct vigil_fw_addr6_key k;
	struct vigil_fw_class *hc;
	struct vigil_fw_gen *g;
	__u32 gen, slot;
	void *m;

	gen = *(volatile __u32 *)&fw_active & 1;
	g = &fw_gens[gen];
	__builtin_memcpy(k.addr, &ip6->saddr, 16);
	if (is_mapped6((const struct in6_addr *)k.addr))
		return fw_ipv6(ctx, gen);
	/* one lookup call per map kind: a call site that may see either map
	 * is not inlined by the verifier (an indirect call, ~10 ns here) */
	if (g->flags & VIGIL_FW_G_SRC6_TRIE) {
		slot = gen * 2;
		m = bpf_map_lookup_elem(&fw_trie6, &slot);
		if (!m)
			return XDP_PASS;
		k.prefixlen = 128;
		hc = bpf_map_lookup_elem(m, &k);
		/* keeps clang from merging this call with the hash one below */
		barrier_var(hc);
	} else if (g->src_lens.n6) {
		__u32 len = g->src_lens.v6[0];

		m = bpf_map_lookup_elem(&fw_src6, &gen);
		if (!m)
			return XDP_PASS;
		k.prefixlen = len;
		/* hosts (block lists) need no mask */
		if (len < 128) {
			__be32 *w = (__be32 *)k.addr;

#pragma unroll
			for (int j = 0; j < 4; j++) {
				/* bits of the length inside word j, clamped to 0..32 */
				__u32 b = len > 32 * j ? len - 32 * j : 0;

				w[j] &= mask32(b > 32 ? 32 : b);
			}
		}
		hc = bpf_map_lookup_elem(m, &k);
	} else {
		if (g->flags & VIGIL_FW_G_SRC_ROOT6_NONE)
			return act(ctx, &g->dflt);
		return fw_ipv6(ctx, gen);
	}
	if (hc && (hc->flags & VIGIL_FW_C_DECIDED))
		return act(ctx, &hc->v);
	/* no prefix at all (a trie miss, or a miss at the only length): the
	 * root's class, which may have no rule (most traffic past a block list) */
	if (!hc && ((g->flags & VIGIL_FW_G_SRC6_TRIE) || g->src_lens.n6 == 1) &&
	    (g->flags & VIGIL_FW_G_SRC_ROOT6_NONE))
		return act(ctx, &g->dflt);
	/* anything else: the general path finds the same class again */
	return fw_ipv6(ctx, gen);
}

SEC("xdp")
int vigil_firewall(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct iphdr *ip;
	__u32 zero = 0, off;
	__u16 h_proto;

	/* never true (fixed at load, so the verifier removes this): it only makes
	 * the maps the program does not read part of it, so that `status` finds
	 * a foreground firewall's rules and info from its XDP link (no pins) */
	if (fw_never) {
		bpf_map_lookup_elem(&fw_rules, &zero);
		bpf_map_lookup_elem(&fw_info, &zero);
	}
	/* the dispatch on the family only; parse() does the full job where needed */
	if (parse_l2(data, end, &h_proto, &off))
		return XDP_PASS;
	if (h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data + off;

		if ((void *)(ip6 + 1) > end)
			return XDP_PASS;
		return fw_ipv6_fast(ctx, ip6);
	}
	if (h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	ip = data + off;
	if ((void *)(ip + 1) > end || ip->ihl < 5)
		return XDP_PASS;
	return fw_ipv4(ctx, ip->saddr);
}
