// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * vigil guard: a policy decided in the kernel's path (docs/guard.md).
 *
 * exec: BPF LSM bprm_check_security returns -EPERM where BPF LSM loads;
 * elsewhere tp_btf/sched_process_exec sends SIGKILL to the new image before
 * it returns to user space. Both decide with decide_exec(): the file's
 * inode, its content hash (computed by vigil, cached by inode and mtime),
 * then each directory above it, each in the scopes the task is in, most
 * specific scope first. An inode with no cached hash while sha256 rules
 * exist is stopped at sched_process_exec for vigil to hash.
 *
 * connect: cgroup/connect4/6 and sendmsg4/6, one LPM lookup per scope.
 *
 * Every lookup uses the generation gd_active names, read once per decision:
 * reload writes the other generation, switches the word, and waits for a
 * grace period before touching the old one (src/cmd/guard.c).
 */
#include "common.bpf.h"
#include "mech.bpf.h"
#include <bpf/bpf_endian.h>

#define EPERM 1
#define SIGKILL 9
#define SIGSTOP 19
#define AF_INET 2
#define AF_INET6 10

const volatile bool lsm_path = false;	/* exec decided at bprm_check_security */

__u32 gd_active = 0;
struct vigil_gd_gen gd_gens[2] = {};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);	/* entries as the policy has them */
	__type(key, struct vigil_gd_ino_key);
	__type(value, struct vigil_gd_verdict);
} gd_files SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);	/* entries as the policy has them */
	__type(key, struct vigil_gd_ino_key);
	__type(value, struct vigil_gd_verdict);
} gd_dirs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vigil_gd_hash_key);
	__type(value, struct vigil_gd_verdict);
} gd_hashes SEC(".maps");

/* content hashes vigil computed, by inode and mtime; LRU so it stays bounded */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct vigil_gd_cache_key);
	__type(value, __u8[32]);
} gd_hash_cache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 2 * 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vigil_gd_net_key);
	__type(value, struct vigil_gd_net_val);
} gd_net SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VIGIL_GD_C__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} gd_counts SEC(".maps");

/* user space re-installs this slot to wait for an RCU grace period */
struct gd_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} gd_sync_inner SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct gd_inner);
} gd_sync SEC(".maps") = {
	.values = { [0] = &gd_sync_inner },
};

struct mount___gd {
	struct mount___gd *mnt_parent;
	struct dentry *mnt_mountpoint;
	struct vfsmount mnt;
} __attribute__((preserve_access_index));

/* the inode's mtime: i_mtime (up to 6.5), __i_mtime (6.6), i_mtime_sec/nsec (6.7+) */
struct inode___tsold {
	struct timespec64 i_mtime;
} __attribute__((preserve_access_index));
struct inode___tsmid {
	struct timespec64 __i_mtime;
} __attribute__((preserve_access_index));

static __always_inline __u64 inode_mtime_ns(struct inode *ino)
{
	if (bpf_core_field_exists(ino->i_mtime_sec))
		return BPF_CORE_READ(ino, i_mtime_sec) * 1000000000ull + BPF_CORE_READ(ino, i_mtime_nsec);
	if (bpf_core_field_exists(((struct inode___tsmid *)ino)->__i_mtime)) {
		struct inode___tsmid *m = (void *)ino;

		return BPF_CORE_READ(m, __i_mtime.tv_sec) * 1000000000ull +
		       BPF_CORE_READ(m, __i_mtime.tv_nsec);
	} else {
		struct inode___tsold *o = (void *)ino;

		return BPF_CORE_READ(o, i_mtime.tv_sec) * 1000000000ull +
		       BPF_CORE_READ(o, i_mtime.tv_nsec);
	}
}

/* the start-up check: vigil's own trigger is a child of vigil that execs */
static __always_inline void seen(__u32 slot)
{
	__u32 zero = 0, k = slot + 1;
	struct task_struct *t = (void *)bpf_get_current_task();
	__u64 *tgid, *n;
	__u32 me = bpf_get_current_pid_tgid() >> 32;

	tgid = bpf_map_lookup_elem(&vigil_seen, &zero);
	if (!tgid || !*tgid)
		return;
	if (*tgid != me && *tgid != BPF_CORE_READ(t, real_parent, tgid))
		return;
	n = bpf_map_lookup_elem(&vigil_seen, &k);
	if (n)
		__sync_fetch_and_add(n, 1);
}

struct decision {
	struct vigil_gd_verdict v;
	__u64 scope;
	__u32 gen;
	__u32 need_hash;
	__u32 dev;
	__u32 _pad;
	__u64 ino, mtime_ns;
};

/*
 * Start-up cost: the verifier. The lookups below are global (non-static)
 * functions and the directory walk is a bpf_loop() callback, so each is
 * verified once per program with unknown arguments instead of once per path
 * through every caller's loops (docs/guard.md, "Cost"; bench/RESULTS.md).
 */

/* scope ids of the current task: the gen's levels, deepest first, then the host */
static __always_inline __u64 scope_at(const struct vigil_gd_gen *g, __u32 i)
{
	if (i >= g->nlevels || i >= VIGIL_GD_MAX_LEVELS)
		return 0;
	return bpf_get_current_ancestor_cgroup_id(g->levels[i]);
}

/* an inode in gd_files (dirs 0) or gd_dirs (1), in each scope the task is in,
 * most specific first: 1 and *d filled, or 0 */
__noinline int gd_find_ino(__u32 dirs, struct vigil_gd_ino_key *k, struct decision *d)
{
	const struct vigil_gd_gen *g;
	struct vigil_gd_verdict *v;
	struct vigil_gd_ino_key key;

	if (!k || !d)
		return 0;
	/* on the stack: 6.1 takes no argument memory as a map key */
	key = *k;
	g = &gd_gens[key.gen & 1];
	for (__u32 i = 0; i <= VIGIL_GD_MAX_LEVELS; i++) {
		if (i > g->nlevels)
			break;
		key.scope = scope_at(g, i);
		if (i < g->nlevels && !key.scope)
			continue;
		v = dirs ? bpf_map_lookup_elem(&gd_dirs, &key) : bpf_map_lookup_elem(&gd_files, &key);
		if (v) {
			d->v = *v;
			d->scope = key.scope;
			return 1;
		}
	}
	return 0;
}

/* a content hash in gd_hashes, scopes as gd_find_ino */
__noinline int gd_find_hash(struct vigil_gd_hash_key *hk, struct decision *d)
{
	const struct vigil_gd_gen *g;
	struct vigil_gd_verdict *v;
	struct vigil_gd_hash_key key;

	if (!hk || !d)
		return 0;
	key = *hk;	/* on the stack, as in gd_find_ino */
	g = &gd_gens[key.gen & 1];
	for (__u32 i = 0; i <= VIGIL_GD_MAX_LEVELS; i++) {
		if (i > g->nlevels)
			break;
		key.scope = scope_at(g, i);
		if (i < g->nlevels && !key.scope)
			continue;
		v = bpf_map_lookup_elem(&gd_hashes, &key);
		if (v) {
			d->v = *v;
			d->scope = key.scope;
			return 1;
		}
	}
	return 0;
}

/* one step up from the exec'd file: the walk's state, kernel pointers as numbers */
struct gd_walk {
	__u64 de, mnt, moff;
	struct vigil_gd_ino_key k;
	struct decision d;
	__u32 found;
};

static long gd_walk_step(__u32 i, void *c)
{
	struct gd_walk *w = c;
	struct dentry *de = (void *)w->de, *up;
	struct vfsmount *mnt = (void *)w->mnt;
	struct inode *di;

	if (de == BPF_CORE_READ(mnt, mnt_root)) {
		/* the top of a mount: go on from where it is mounted */
		struct mount___gd *m = (void *)mnt - w->moff;
		struct mount___gd *pm = BPF_CORE_READ(m, mnt_parent);

		if (pm == m || !pm)
			return 1;
		w->de = (__u64)BPF_CORE_READ(m, mnt_mountpoint);
		w->mnt = (__u64)pm + w->moff;
		return 0;
	}
	up = BPF_CORE_READ(de, d_parent);
	if (!up || up == de)
		return 1;
	w->de = (__u64)up;
	di = BPF_CORE_READ(up, d_inode);
	w->k.dev = BPF_CORE_READ(di, i_sb, s_dev);
	w->k.ino = BPF_CORE_READ(di, i_ino);
	if (gd_find_ino(1, &w->k, &w->d)) {
		w->found = 1;
		return 1;
	}
	return 0;
}

/* the exec of `file` (a struct file *): 1 when a rule decided (*d), else 0;
 * d->need_hash when a hash rule might apply but the inode has no hash yet */
__noinline int gd_decide_exec(__u64 file, struct decision *d)
{
	__u32 gen = gd_active & 1;
	const struct vigil_gd_gen *g = &gd_gens[gen];
	struct file *f = (void *)file;
	struct inode *ino = BPF_CORE_READ(f, f_inode);
	struct gd_walk w = {};

	if (!d)
		return 0;
	d->gen = gen;
	if (!(g->flags & VIGIL_GD_G_EXEC))
		return 0;
	w.k.gen = gen;
	w.k.dev = BPF_CORE_READ(ino, i_sb, s_dev);
	w.k.ino = BPF_CORE_READ(ino, i_ino);
	d->dev = w.k.dev;
	d->ino = w.k.ino;
	if (gd_find_ino(0, &w.k, d))
		return 1;
	if (g->flags & VIGIL_GD_G_HASH) {
		struct vigil_gd_cache_key ck = { .dev = w.k.dev, .ino = w.k.ino };
		struct vigil_gd_hash_key hk = { .gen = gen };
		__u8 *sha;

		ck.mtime_ns = inode_mtime_ns(ino);
		d->mtime_ns = ck.mtime_ns;
		sha = bpf_map_lookup_elem(&gd_hash_cache, &ck);
		if (sha) {
			__builtin_memcpy(hk.sha256, sha, 32);
			if (gd_find_hash(&hk, d))
				return 1;
		} else {
			d->need_hash = 1;
		}
	}
	if (!(g->flags & VIGIL_GD_G_DIRS))
		return 0;
	/* every directory above the file, crossing mounts, nearest first */
	w.de = (__u64)BPF_CORE_READ(f, f_path.dentry);
	w.mnt = (__u64)BPF_CORE_READ(f, f_path.mnt);
	w.moff = bpf_core_field_offset(struct mount___gd, mnt);
	w.d = *d;
	bpf_loop(VIGIL_GD_MAX_DEPTH, gd_walk_step, &w, 0);
	if (!w.found)
		return 0;
	d->v = w.d.v;
	d->scope = w.d.scope;
	return 1;
}

static __always_inline void count(__u32 idx)
{
	vigil_inc(&gd_counts, idx);
}

/* one record of an exec decision; filename: the bprm's (a kernel char *) */
__noinline int gd_report(__u32 kind, struct decision *d, __u32 how, __u64 filename, __u32 type)
{
	struct task_struct *t = (void *)bpf_get_current_task();
	struct vigil_gd_event *e;

	if (!d)
		return 0;
	e = vigil_reserve(sizeof(*e));
	if (!e)
		return 0;
	vigil_fill_hdr(&e->hdr, type, t);
	e->kind = kind;
	e->action = d->v.action;
	e->how = how;
	e->line = d->v.line;
	e->gen = d->gen;
	e->dev = d->dev;
	e->ino = d->ino;
	e->mtime_ns = d->mtime_ns;
	e->scope = d->scope;
	__builtin_memset(e->addr, 0, sizeof(e->addr));
	e->port = 0;
	e->family = 0;
	e->sotype = 0;
	e->path[0] = 0;
	if (filename)
		bpf_probe_read_kernel_str(e->path, sizeof(e->path), (const char *)filename);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("lsm/bprm_check_security")
int BPF_PROG(gd_bprm_check, struct linux_binprm *bprm, int ret)
{
	struct decision d = {};
	__u64 filename = (__u64)BPF_CORE_READ(bprm, filename);
	bool dry;

	seen(0);
	if (ret)
		return ret;
	/* no hash yet for this inode: sched_process_exec holds it for vigil */
	if (!gd_decide_exec((__u64)BPF_CORE_READ(bprm, file), &d) || d.need_hash)
		return 0;
	dry = gd_gens[d.gen & 1].flags & VIGIL_GD_G_DRY_RUN;
	if (d.v.action == VIGIL_GD_DENY && !dry) {
		count(VIGIL_GD_C_EXEC_DENY);
		gd_report(VIGIL_GD_K_EXEC, &d, VIGIL_GD_HOW_EPERM, filename, VIGIL_EV_GUARD);
		return -EPERM;
	}
	if (d.v.action == VIGIL_GD_AUDIT || d.v.action == VIGIL_GD_DENY) {
		count(VIGIL_GD_C_EXEC_AUDIT);
		gd_report(VIGIL_GD_K_EXEC, &d, VIGIL_GD_HOW_REPORTED, filename, VIGIL_EV_GUARD);
	}
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(gd_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct decision d = {};
	bool decided, dry;
	__u64 filename;

	seen(lsm_path ? 1 : 0);
	decided = gd_decide_exec((__u64)BPF_CORE_READ(bprm, file), &d);
	filename = (__u64)BPF_CORE_READ(bprm, filename);
	if (d.need_hash) {
		/* carries what the kernel found without the hash (a directory rule) */
		/* the new image has not run: hold it until vigil has hashed the file */
		bpf_send_signal(SIGSTOP);
		count(VIGIL_GD_C_HASH_STOP);
		gd_report(VIGIL_GD_K_EXEC, &d, 0, filename, VIGIL_EV_GUARD_HASH);
		return 0;
	}
	if (!decided || lsm_path)
		return 0;	/* bprm_check_security decided: denied ones never get here */
	dry = gd_gens[d.gen & 1].flags & VIGIL_GD_G_DRY_RUN;
	if (d.v.action == VIGIL_GD_DENY && !dry) {
		bpf_send_signal(SIGKILL);
		count(VIGIL_GD_C_EXEC_DENY);
		gd_report(VIGIL_GD_K_EXEC, &d, VIGIL_GD_HOW_SIGKILL, filename, VIGIL_EV_GUARD);
	} else if (d.v.action == VIGIL_GD_AUDIT || d.v.action == VIGIL_GD_DENY) {
		count(VIGIL_GD_C_EXEC_AUDIT);
		gd_report(VIGIL_GD_K_EXEC, &d, VIGIL_GD_HOW_REPORTED, filename, VIGIL_EV_GUARD);
	}
	return 0;
}

/* ---- connect ---- */

/* the first port range of v that holds port: 1 and *out, or 0 */
__noinline int gd_port_match(const struct vigil_gd_net_val *v, __u32 port,
			     struct vigil_gd_verdict *out)
{
	if (!v || !out)
		return 0;
	for (__u32 j = 0; j < VIGIL_GD_MAX_PORTS; j++) {
		if (j >= v->n)
			break;
		if (port < v->p[j].lo || port > v->p[j].hi)
			continue;
		out->action = v->p[j].action;
		out->line = v->p[j].line;
		return 1;
	}
	return 0;
}

/*
 * One connect or send to k->addr (family 4 or 6; k->prefixlen set) and port:
 * 1 allows, 0 rejects (EPERM). Global, so the four sock_addr programs share
 * it and it is verified without their context; they read the context (which
 * fields are readable depends on the attach type) and pass what it says.
 */
__noinline int gd_decide_net(struct vigil_gd_net_key *karg, __u32 port, __u32 family, __u32 kind,
			     __u32 sotype)
{
	__u32 gen = gd_active & 1;
	const struct vigil_gd_gen *g = &gd_gens[gen];
	struct vigil_gd_net_key key, *k = &key;
	struct decision d = {};
	struct vigil_gd_event *e;
	bool dry, deny;

	if (!karg || !(g->flags & VIGIL_GD_G_NET))
		return 1;
	key = *karg;	/* on the stack, as in gd_find_ino */
	k->genfam = gen | family << 8;
	d.gen = gen;
	for (__u32 i = 0; i <= VIGIL_GD_MAX_LEVELS; i++) {
		struct vigil_gd_net_val *v;

		if (i > g->nlevels)
			break;
		k->scope = scope_at(g, i);
		if (i < g->nlevels && !k->scope)
			continue;
		v = bpf_map_lookup_elem(&gd_net, k);
		if (v && gd_port_match(v, port, &d.v)) {
			d.scope = k->scope;
			goto found;
		}
	}
	return 1;
found:
	if (d.v.action == VIGIL_GD_ALLOW)
		return 1;
	dry = g->flags & VIGIL_GD_G_DRY_RUN;
	deny = d.v.action == VIGIL_GD_DENY && !dry;
	count(deny ? VIGIL_GD_C_NET_DENY : VIGIL_GD_C_NET_AUDIT);
	e = vigil_reserve(sizeof(*e));
	if (e) {
		vigil_fill_hdr(&e->hdr, VIGIL_EV_GUARD, (void *)bpf_get_current_task());
		e->kind = kind;
		e->action = d.v.action;
		e->how = deny ? VIGIL_GD_HOW_CONNECT : VIGIL_GD_HOW_REPORTED;
		e->line = d.v.line;
		e->gen = gen;
		e->dev = 0;
		e->ino = 0;
		e->mtime_ns = 0;
		e->scope = d.scope;
		__builtin_memcpy(e->addr, k->addr, 16);
		e->port = port;
		e->family = family;
		e->sotype = sotype;
		e->path[0] = 0;
		bpf_ringbuf_submit(e, 0);
	}
	return deny ? 0 : 1;
}

static __always_inline int net4(struct bpf_sock_addr *ctx, __u32 kind)
{
	struct vigil_gd_net_key k = { .prefixlen = 96 + 32 };
	__u32 a = ctx->user_ip4;

	__builtin_memcpy(k.addr, &a, 4);
	/* a global function returns any int to the verifier: 0 or 1 here */
	return gd_decide_net(&k, bpf_ntohs((__u16)ctx->user_port), 4, kind, ctx->type) ? 1 : 0;
}

static __always_inline int net6(struct bpf_sock_addr *ctx, __u32 kind)
{
	struct vigil_gd_net_key k = { .prefixlen = 96 + 128 };
	__u32 w0 = ctx->user_ip6[0], w1 = ctx->user_ip6[1];
	__u32 w2 = ctx->user_ip6[2], w3 = ctx->user_ip6[3];
	__u32 family = 6;

	/* IPv4 through an IPv6 socket (::ffff:a.b.c.d): the IPv4 rules */
	if (w0 == 0 && w1 == 0 && w2 == bpf_htonl(0xffff)) {
		family = 4;
		k.prefixlen = 96 + 32;
		__builtin_memcpy(k.addr, &w3, 4);
	} else {
		__builtin_memcpy(k.addr, &w0, 4);
		__builtin_memcpy(k.addr + 4, &w1, 4);
		__builtin_memcpy(k.addr + 8, &w2, 4);
		__builtin_memcpy(k.addr + 12, &w3, 4);
	}
	/* a global function returns any int to the verifier: 0 or 1 here */
	return gd_decide_net(&k, bpf_ntohs((__u16)ctx->user_port), family, kind, ctx->type) ? 1 : 0;
}

SEC("cgroup/connect4")
int gd_connect4(struct bpf_sock_addr *ctx)
{
	return net4(ctx, VIGIL_GD_K_CONNECT);
}

SEC("cgroup/connect6")
int gd_connect6(struct bpf_sock_addr *ctx)
{
	return net6(ctx, VIGIL_GD_K_CONNECT);
}

SEC("cgroup/sendmsg4")
int gd_sendmsg4(struct bpf_sock_addr *ctx)
{
	return net4(ctx, VIGIL_GD_K_SENDMSG);
}

SEC("cgroup/sendmsg6")
int gd_sendmsg6(struct bpf_sock_addr *ctx)
{
	return net6(ctx, VIGIL_GD_K_SENDMSG);
}
