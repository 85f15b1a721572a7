// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * vigil tcp: connections from open to close on tracepoints only.
 *
 * sock:inet_sock_set_state runs in whatever context changed the state: the
 * connecting process for SYN_SENT, softirq for most others. So the owner is
 * taken only where the kernel runs on the owner's behalf (connect, the exit
 * of accept(), close/shutdown), kept per socket, and put on every record of
 * that socket; never from whoever a softirq interrupted.
 */
#include "common.bpf.h"
#include <bpf/bpf_endian.h>
#include "hist.bpf.h"

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6

/* the kernel's TCP states (include/net/tcp_states.h), a stable ABI */
enum {
	S_ESTABLISHED = 1, S_SYN_SENT, S_SYN_RECV, S_FIN_WAIT1, S_FIN_WAIT2, S_TIME_WAIT,
	S_CLOSE, S_CLOSE_WAIT, S_LAST_ACK, S_LISTEN, S_CLOSING, S_NEW_SYN_RECV,
};

const volatile struct vigil_tcp_filter tcp_filter = {};
const volatile bool want_states = false;
const volatile bool want_events = true;	/* false with --hist: maps only */
const volatile bool want_top = false;
const volatile bool top_counters = false;	/* --top without sock_send_length: read tcp_sock */
const volatile __u32 hist_by = 0;	/* 0: one histogram, 1: per remote port, 2: per pid */

/* what a socket's records share, from its open until it is closed */
struct tcp_conn {
	struct vigil_hdr owner;	/* valid with VIGIL_TCP_F_OWNER */
	__u64 cookie;
	__u64 start_ns;
	__u64 connect_ns;
	__u8 dir;
	__u8 flags;
	__u8 _pad[6];
};

/* per socket, created at the open, deleted at CLOSE (and when the socket is freed) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);	/* --max-conns, set before load */
	__type(key, __u64);
	__type(value, struct tcp_conn);
} tcp_conns SEC(".maps");

/* --top: keyed by socket cookie; user space reads and deletes every interval */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VIGIL_TCP_TOP_MAX);
	__type(key, __u64);
	__type(value, struct vigil_tcp_top);
} tcp_top SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VIGIL_TCP_S__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} tcp_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct vigil_tcp_hkey);
	__type(value, struct vigil_hist);
} tcp_hists SEC(".maps");

static __always_inline void stat_add(__u32 idx, __u64 v)
{
	__u64 *n = bpf_map_lookup_elem(&tcp_stats, &idx);

	if (n)
		*n += v;
}

static __always_inline void hist_add(__u32 kind, __u32 key, __u64 v)
{
	struct vigil_tcp_hkey k = { .kind = kind, .key = hist_by ? key : 0 };
	struct vigil_hist *h = bpf_map_lookup_elem(&tcp_hists, &k);

	if (!h) {
		static const struct vigil_hist zero;

		bpf_map_update_elem(&tcp_hists, &k, &zero, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&tcp_hists, &k);
		if (!h)
			return;
	}
	h->slots[vigil_hist_slot(v)]++;
}

/* the socket's addresses and ports, as the record carries them */
struct tcp_addrs {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport, dport, family;
};

static __always_inline void sk_addrs(const struct sock *sk, struct tcp_addrs *e)
{
	e->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	/* inet_sport, not skc_num: the bind hash lets go of skc_num before CLOSE */
	e->sport = bpf_ntohs(BPF_CORE_READ((const struct inet_sock *)sk, inet_sport));
	e->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (e->family == AF_INET) {
		bpf_core_read(e->saddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(e->daddr, 4, &sk->__sk_common.skc_daddr);
	} else {
		bpf_core_read(e->saddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(e->daddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
}

static __always_inline bool cidr_match(const __u8 *a, __u16 family, const volatile struct vigil_tcp_cidr *c)
{
	int plen = c->plen;

	if (c->family != family)
		return false;
#pragma unroll
	for (int b = 0; b < 16; b++) {
		int bits = plen - b * 8;
		__u8 mask;

		if (bits <= 0)
			break;
		mask = bits >= 8 ? 0xff : (__u8)(0xff << (8 - bits));
		if ((a[b] ^ c->addr[b]) & mask)
			return false;
	}
	return true;
}

/*
 * The cheap filters on the socket's own fields. with_ports is false at
 * SYN_SENT, where the local port is not chosen yet; every record checks it.
 */
static __always_inline bool addr_pass(const struct tcp_addrs *e, __u8 dir, bool with_ports)
{
	bool in;

	if (tcp_filter.family && e->family != tcp_filter.family)
		return false;
	if (tcp_filter.dir && dir != tcp_filter.dir)
		return false;
	if (with_ports && tcp_filter.nports) {
		in = false;
#pragma unroll
		for (int i = 0; i < VIGIL_TCP_MAX_PORTS; i++)
			if (i < tcp_filter.nports &&
			    (tcp_filter.ports[i] == e->sport || tcp_filter.ports[i] == e->dport))
				in = true;
		if (!in)
			return false;
	}
	if (tcp_filter.nladdr) {
		in = false;
#pragma unroll
		for (int i = 0; i < VIGIL_TCP_MAX_CIDRS; i++)
			if (i < tcp_filter.nladdr && cidr_match(e->saddr, e->family, &tcp_filter.laddr[i]))
				in = true;
		if (!in)
			return false;
	}
	if (tcp_filter.nraddr) {
		in = false;
#pragma unroll
		for (int i = 0; i < VIGIL_TCP_MAX_CIDRS; i++)
			if (i < tcp_filter.nraddr && cidr_match(e->daddr, e->family, &tcp_filter.raddr[i]))
				in = true;
		if (!in)
			return false;
	}
	return true;
}

/*
 * tcp_sock counters, read with CO-RE. bytes_acked and bytes_received count
 * sequence space: the SYN an active open had acknowledged and a FIN each
 * way take one each. Those are taken off, so the bytes are the payload the
 * applications moved. oldstate is the state being left (CLOSE), else 0.
 */
static __always_inline void sk_payload(const struct sock *sk, struct tcp_conn *c, int oldstate,
				       __u64 *sent, __u64 *received)
{
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;
	__u64 acked = BPF_CORE_READ(tp, bytes_acked), rcvd = BPF_CORE_READ(tp, bytes_received);
	bool fin_sent = oldstate == S_FIN_WAIT1 || oldstate == S_FIN_WAIT2 ||
			oldstate == S_CLOSING || oldstate == S_LAST_ACK;

	if (c && c->dir == VIGIL_TCP_ACTIVE && c->connect_ns && acked)
		acked--;
	if (fin_sent && acked && BPF_CORE_READ(tp, snd_una) == BPF_CORE_READ(tp, write_seq))
		acked--;
	/* SOCK_DONE: tcp_fin() saw the peer's FIN */
	if ((BPF_CORE_READ(sk, __sk_common.skc_flags) & (1ul << SOCK_DONE)) && rcvd)
		rcvd--;
	*sent = acked;
	*received = rcvd;
}

static __always_inline void sk_counters(const struct sock *sk, struct tcp_conn *c,
					struct vigil_tcp *e, int oldstate)
{
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;

	sk_payload(sk, c, oldstate, &e->bytes_acked, &e->bytes_received);
	if (bpf_core_field_exists(tp->bytes_retrans))
		e->bytes_retrans = BPF_CORE_READ(tp, bytes_retrans);
	e->segs_out = BPF_CORE_READ(tp, segs_out);
	e->segs_in = BPF_CORE_READ(tp, segs_in);
	e->retrans = BPF_CORE_READ(tp, total_retrans);
	e->srtt_us = BPF_CORE_READ(tp, srtt_us) >> 3;
}

/*
 * Reserve a record about sk: NULL when filtered out or lost. c is its
 * tracked state, or NULL for a socket opened before vigil started (shown
 * only when no filter needs an owner).
 */
static __always_inline struct vigil_tcp *tcp_begin(const struct sock *sk, struct tcp_conn *c,
						   __u8 kind, int oldstate)
{
	struct tcp_addrs probe = {};
	struct vigil_tcp *e;
	__u8 dir = c ? c->dir : 0;

	if (!want_events)
		return NULL;
	sk_addrs(sk, &probe);
	if (!addr_pass(&probe, dir, true))
		return NULL;
	if (!(c && (c->flags & VIGIL_TCP_F_OWNER)) && vigil_filter.flags)
		return NULL;
	e = vigil_reserve(sizeof(*e));
	if (!e)
		return NULL;
	__builtin_memcpy(e->saddr, probe.saddr, sizeof(e->saddr));
	__builtin_memcpy(e->daddr, probe.daddr, sizeof(e->daddr));
	e->sport = probe.sport;
	e->dport = probe.dport;
	e->family = probe.family;
	if (c && (c->flags & VIGIL_TCP_F_OWNER))
		__builtin_memcpy(&e->hdr, &c->owner, sizeof(e->hdr));
	else
		__builtin_memset(&e->hdr, 0, sizeof(e->hdr));
	e->hdr.ts = bpf_ktime_get_boot_ns();
	e->hdr.type = VIGIL_EV_TCP;
	e->cookie = c ? c->cookie : 0;
	e->kind = kind;
	e->dir = dir;
	e->flags = c ? c->flags : 0;
	e->duration_ns = 0;
	e->connect_ns = c ? c->connect_ns : 0;
	e->oldstate = 0;
	e->newstate = 0;
	__builtin_memset(e->_pad, 0, sizeof(e->_pad));
	sk_counters(sk, c, e, oldstate);
	return e;
}

static __always_inline void take_owner(struct tcp_conn *c)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();

	vigil_fill_hdr(&c->owner, VIGIL_EV_TCP, t);
	c->flags |= VIGIL_TCP_F_OWNER;
}

/* a new connection: tracked when the filters that can be checked now pass */
static __always_inline struct tcp_conn *track(const struct sock *sk, __u8 dir, __u64 now)
{
	struct tcp_addrs probe = {};
	struct tcp_conn c = {}, *cp;
	__u64 key = (__u64)sk;

	sk_addrs(sk, &probe);
	if (!addr_pass(&probe, dir, dir == VIGIL_TCP_PASSIVE))
		return NULL;
	c.dir = dir;
	c.start_ns = now;
	c.cookie = bpf_get_socket_cookie((void *)sk);
	if (bpf_map_update_elem(&tcp_conns, &key, &c, BPF_ANY)) {
		stat_add(VIGIL_TCP_S_NOROOM, 1);
		return NULL;
	}
	cp = bpf_map_lookup_elem(&tcp_conns, &key);
	return cp;
}

/* every cheap filter, the local port included: for what is counted in maps */
static __always_inline bool sk_pass(const struct sock *sk, __u8 dir)
{
	struct tcp_addrs a = {};

	sk_addrs(sk, &a);
	return addr_pass(&a, dir, true);
}

static __always_inline bool counted(struct tcp_conn *c)
{
	/* with a common filter, a passive open counts once accept() names its owner */
	return !vigil_filter.flags || (c->flags & VIGIL_TCP_F_OWNER);
}

/*
 * --top from the connection's own counters (kernels before 6.3): the
 * payload so far, refreshed on every segment it receives (tcp:tcp_probe) and
 * once more at CLOSE; user space takes the differences each interval.
 */
static __always_inline void top_abs(const struct sock *sk, struct tcp_conn *c, int oldstate,
				    bool closed)
{
	struct vigil_tcp_top *v;
	__u64 cookie = c->cookie;

	/* the counters are totals: nothing is lost waiting for accept() to name the owner */
	if (!(c->flags & VIGIL_TCP_F_OWNER) || !sk_pass(sk, c->dir))
		return;
	v = bpf_map_lookup_elem(&tcp_top, &cookie);
	if (!v) {
		struct vigil_tcp_top n = {};
		struct tcp_addrs a = {};

		sk_addrs(sk, &a);
		__builtin_memcpy(n.saddr, a.saddr, sizeof(n.saddr));
		__builtin_memcpy(n.daddr, a.daddr, sizeof(n.daddr));
		n.sport = a.sport;
		n.dport = a.dport;
		n.family = a.family;
		bpf_map_update_elem(&tcp_top, &cookie, &n, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&tcp_top, &cookie);
		if (!v) {
			stat_add(VIGIL_TCP_S_TOP_NOROOM, 1);
			return;
		}
	}
	v->pid = c->owner.pid;
	v->uid = c->owner.uid;
	__builtin_memcpy(v->comm, c->owner.comm, sizeof(v->comm));
	sk_payload(sk, c, oldstate, &v->tx, &v->rx);
	if (closed)
		v->closed = 1;
}

static __always_inline void emit_state(const struct sock *sk, struct tcp_conn *c, __u8 kind,
				       int oldstate, int newstate, __u64 now)
{
	struct vigil_tcp *e = tcp_begin(sk, c, kind, kind == VIGIL_TCP_CLOSE ? oldstate : 0);

	if (!e)
		return;
	e->oldstate = oldstate;
	e->newstate = newstate;
	if (kind == VIGIL_TCP_CLOSE && c)
		e->duration_ns = now - c->start_ns;
	bpf_ringbuf_submit(e, 0);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tcp_set_state, const struct sock *sk, const int oldstate, const int newstate)
{
	__u64 key = (__u64)sk, now;
	struct tcp_conn *c;
	__u8 kind = VIGIL_TCP_STATE;

	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	now = bpf_ktime_get_boot_ns();
	if (newstate == S_SYN_SENT) {
		/* connect(): the caller is the owner */
		if (!vigil_filter_pass())
			return 0;
		c = track(sk, VIGIL_TCP_ACTIVE, now);
		if (!c)
			return 0;
		take_owner(c);
		if (want_states)
			emit_state(sk, c, kind, oldstate, newstate, now);
		return 0;
	}
	if (newstate == S_ESTABLISHED && oldstate == S_SYN_RECV) {
		/* softirq: no owner until accept() */
		c = track(sk, VIGIL_TCP_PASSIVE, now);
		if (!c)
			return 0;
		if (!vigil_filter.flags)
			stat_add(VIGIL_TCP_S_OPEN + 1, 1);
		if (want_states)
			emit_state(sk, c, kind, oldstate, newstate, now);
		return 0;
	}
	c = bpf_map_lookup_elem(&tcp_conns, &key);
	if (!c)
		return 0;
	if (newstate == S_ESTABLISHED && oldstate == S_SYN_SENT) {
		/* the local port is known from here on: --port decides now */
		if (!sk_pass(sk, c->dir)) {
			bpf_map_delete_elem(&tcp_conns, &key);
			return 0;
		}
		c->connect_ns = now - c->start_ns;
		stat_add(VIGIL_TCP_S_OPEN, 1);
		hist_add(VIGIL_TCP_H_CONNECT, hist_by == 2 ? c->owner.pid :
			 bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport)), c->connect_ns);
		kind = VIGIL_TCP_CONNECT;
	} else if ((newstate == S_FIN_WAIT1 && oldstate == S_ESTABLISHED) ||
		   (newstate == S_LAST_ACK && oldstate == S_CLOSE_WAIT)) {
		/* close() or shutdown(): process context, the last owner */
		if (!(c->flags & VIGIL_TCP_F_OWNER) && vigil_filter_pass()) {
			take_owner(c);
			if (vigil_filter.flags && c->dir == VIGIL_TCP_PASSIVE)
				stat_add(VIGIL_TCP_S_OPEN + 1, 1);
		}
	} else if (newstate == S_CLOSE) {
		kind = VIGIL_TCP_CLOSE;
		if (counted(c) && sk_pass(sk, c->dir)) {
			const struct tcp_sock *tp = (const struct tcp_sock *)sk;
			__u64 sent, received;

			sk_payload(sk, c, oldstate, &sent, &received);
			stat_add(VIGIL_TCP_S_CLOSE + c->dir * VIGIL_TCP_NSTATES +
				 (oldstate & (VIGIL_TCP_NSTATES - 1)), 1);
			stat_add(VIGIL_TCP_S_BYTES_TX, sent);
			stat_add(VIGIL_TCP_S_BYTES_RX, received);
			if (c->dir == VIGIL_TCP_ACTIVE || c->dir == VIGIL_TCP_PASSIVE)
				hist_add(VIGIL_TCP_H_RTT, hist_by == 2 ? c->owner.pid :
					 bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport)),
					 BPF_CORE_READ(tp, srtt_us) >> 3);
		}
		if (want_top && top_counters)
			top_abs(sk, c, oldstate, true);
		emit_state(sk, c, kind, oldstate, newstate, now);
		bpf_map_delete_elem(&tcp_conns, &key);
		return 0;
	}
	if (kind != VIGIL_TCP_STATE || want_states)
		emit_state(sk, c, kind, oldstate, newstate, now);
	return 0;
}

/* the fd's socket, from the current task's table */
static __always_inline struct sock *fd_sock(long fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds, *file = NULL;
	struct socket *so;

	if (!fdt || fd < 0 || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return NULL;
	so = BPF_CORE_READ(file, private_data);
	return so ? BPF_CORE_READ(so, sk) : NULL;
}

/* accept() returned: the caller owns the connection from now on */
static __always_inline int on_accept(long fd)
{
	struct sock *sk;
	struct tcp_conn *c;
	__u64 key;
	struct vigil_tcp *e;

	if (fd < 0)
		return 0;
	sk = fd_sock(fd);
	if (!sk)
		return 0;
	key = (__u64)sk;
	c = bpf_map_lookup_elem(&tcp_conns, &key);
	if (!c || (c->flags & VIGIL_TCP_F_OWNER))
		return 0;
	if (!vigil_filter_pass()) {
		/* someone else's: not worth a slot */
		bpf_map_delete_elem(&tcp_conns, &key);
		return 0;
	}
	take_owner(c);
	if (vigil_filter.flags)
		stat_add(VIGIL_TCP_S_OPEN + 1, 1);
	e = tcp_begin(sk, c, VIGIL_TCP_ACCEPT, 0);
	if (!e)
		return 0;
	e->newstate = BPF_CORE_READ(sk, __sk_common.skc_state);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int tcp_accept4(struct trace_event_raw_sys_exit *ctx)
{
	return on_accept(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int tcp_accept(struct trace_event_raw_sys_exit *ctx)
{
	return on_accept(ctx->ret);
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(tcp_retrans, const struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct tcp_conn *c;
	struct vigil_tcp *e;

	if (!sk)
		return 0;
	c = bpf_map_lookup_elem(&tcp_conns, &key);
	if (c && counted(c))
		stat_add(VIGIL_TCP_S_RETRANS, 1);
	e = tcp_begin(sk, c, VIGIL_TCP_RETRANS, 0);
	if (!e)
		return 0;
	e->newstate = BPF_CORE_READ(sk, __sk_common.skc_state);
	if (!c)
		e->cookie = bpf_get_socket_cookie((void *)sk);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

static __always_inline int on_reset(const struct sock *sk, __u8 flag, __u32 stat)
{
	__u64 key = (__u64)sk;
	struct tcp_conn *c;
	struct vigil_tcp *e;

	c = bpf_map_lookup_elem(&tcp_conns, &key);
	if (c) {
		c->flags |= flag;
		if (counted(c))
			stat_add(stat, 1);
	}
	e = tcp_begin(sk, c, VIGIL_TCP_RESET, 0);
	if (!e)
		return 0;
	e->flags |= flag;
	e->newstate = BPF_CORE_READ(sk, __sk_common.skc_state);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(tcp_rst_rx, struct sock *sk)
{
	return sk ? on_reset(sk, VIGIL_TCP_F_RST_RX, VIGIL_TCP_S_RST_RX) : 0;
}

/* sk is NULL for a reset that answers no socket (a closed port): no connection to tie it to */
SEC("tp_btf/tcp_send_reset")
int BPF_PROG(tcp_rst_tx, const struct sock *sk)
{
	if (!sk || BPF_CORE_READ(sk, __sk_common.skc_state) == S_TIME_WAIT ||
	    BPF_CORE_READ(sk, __sk_common.skc_state) == S_NEW_SYN_RECV)
		return 0;
	return on_reset(sk, VIGIL_TCP_F_RST_TX, VIGIL_TCP_S_RST_TX);
}

/*
 * --top: sendmsg/recvmsg run in the caller's context, so the bytes are its
 * own; the tracepoints came in Linux 6.3 (user space probes them).
 */
static __always_inline int top_add(struct sock *sk, int len, bool tx)
{
	struct vigil_tcp_top *v;
	struct tcp_addrs a = {};
	struct tcp_conn *c;
	__u64 key = (__u64)sk, cookie;

	if (!want_top || len <= 0 || !sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	if (!vigil_filter_pass())
		return 0;
	c = bpf_map_lookup_elem(&tcp_conns, &key);
	sk_addrs(sk, &a);
	if (!addr_pass(&a, c ? c->dir : 0, true))
		return 0;
	cookie = bpf_get_socket_cookie(sk);
	v = bpf_map_lookup_elem(&tcp_top, &cookie);
	if (!v) {
		struct vigil_tcp_top n = {};

		n.pid = bpf_get_current_pid_tgid() >> 32;
		n.uid = (__u32)bpf_get_current_uid_gid();
		bpf_get_current_comm(n.comm, sizeof(n.comm));
		__builtin_memcpy(n.saddr, a.saddr, sizeof(n.saddr));
		__builtin_memcpy(n.daddr, a.daddr, sizeof(n.daddr));
		n.sport = a.sport;
		n.dport = a.dport;
		n.family = a.family;
		bpf_map_update_elem(&tcp_top, &cookie, &n, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&tcp_top, &cookie);
		if (!v) {
			stat_add(VIGIL_TCP_S_TOP_NOROOM, 1);
			return 0;
		}
	}
	__sync_fetch_and_add(tx ? &v->tx : &v->rx, len);
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(tcp_send_len, struct sock *sk, int ret, int flags)
{
	return top_add(sk, ret, true);
}

#define MSG_PEEK 2

SEC("tp_btf/sock_recv_length")
int BPF_PROG(tcp_recv_len, struct sock *sk, int ret, int flags)
{
	/* a peek leaves the bytes to be read again */
	return flags & MSG_PEEK ? 0 : top_add(sk, ret, false);
}

SEC("tp_btf/tcp_probe")
int BPF_PROG(tcp_top_probe, struct sock *sk, struct sk_buff *skb)
{
	__u64 key = (__u64)sk;
	struct tcp_conn *c;

	if (!want_top || !top_counters)
		return 0;
	c = bpf_map_lookup_elem(&tcp_conns, &key);
	if (c)
		top_abs(sk, c, 0, false);
	return 0;
}

/* the socket is freed: whatever CLOSE did not clean up goes now */
SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(tcp_destroy, struct sock *sk)
{
	__u64 key = (__u64)sk;

	bpf_map_delete_elem(&tcp_conns, &key);
	return 0;
}
