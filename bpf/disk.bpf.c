// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * disk: block requests from the process that issued them to their
 * completion. A request is remembered when it is queued, in the issuer's
 * context (the only place where "who" is known), stamped when it is issued
 * to the driver, and joined at completion, which runs in an interrupt or a
 * driver thread.
 *
 * Two ways in (src/cmd/disk.c, the mechanism plan; docs/disk.md):
 *  - tp_btf: block_io_start (6.5+), block_rq_issue, block_rq_complete with
 *    the struct request *, which is the key;
 *  - tracepoint: the classic block_bio_queue, block_rq_issue and
 *    block_rq_complete, which carry no pointer: requests are known by disk
 *    and sector.
 * Both end in the same functions, so records look the same.
 *
 * The state is an LRU hash, bounded: a request that never completes (its
 * device went away) is pushed out by newer ones, and user space also sweeps
 * entries older than --stale every interval.
 */
#include "common.bpf.h"
#include "mech.bpf.h"
#include "hist.bpf.h"
#include "disk_op.h"

#define E2BIG 7

enum { DISK_STREAM = 0, DISK_HIST = 1, DISK_SIZES = 2, DISK_TOP = 3 };

const volatile __u32 disk_mode = DISK_STREAM;
const volatile __u32 self_tgid = 0;
const volatile __u32 want_dev = 0;		/* --disk, 0: all */
const volatile __u32 want_ops = 0;		/* --op bit mask, 0: all */
const volatile bool hist_per_disk = false;	/* -D */
const volatile bool hist_per_op = false;	/* -F */
const volatile bool hist_queued = false;	/* -Q: from queued, not issued */

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);	/* --max-inflight */
	__type(key, struct vigil_disk_rkey);
	__type(value, struct vigil_disk_req);
} disk_reqs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct vigil_disk_key);
	__type(value, struct vigil_disk_stat);
} disk_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct vigil_disk_key);
	__type(value, struct vigil_disk_hist);
} disk_hists SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);	/* --max-rows */
	__type(key, __u32);
	__type(value, struct vigil_disk_size_val);
} disk_sizes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);	/* --max-rows */
	__type(key, struct vigil_disk_top_key);
	__type(value, struct vigil_disk_top_val);
} disk_top SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VIGIL_DISK_DROP__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} disk_drops SEC(".maps");

/* the per-CPU histogram scratch value: too big for the BPF stack */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vigil_disk_size_val);
} disk_zero SEC(".maps");

/* vigil_seen_hit() for a hook that runs in another context: the issuer decides */
static __always_inline void disk_seen_issuer(__u32 slot, __u32 issuer)
{
	__u32 zero = 0, k = slot + 1;
	__u64 *tgid, *n;

	tgid = bpf_map_lookup_elem(&vigil_seen, &zero);
	if (!tgid || !*tgid || *tgid != issuer)
		return;
	n = bpf_map_lookup_elem(&vigil_seen, &k);
	if (n)
		__sync_fetch_and_add(n, 1);
}

static __always_inline bool disk_op_wanted(__u32 dev, __u32 op)
{
	if (want_dev && dev != want_dev)
		return false;
	if (want_ops && !(want_ops & (1u << op)))
		return false;
	return true;
}

/* ---- the request's op and disk from struct request (tp_btf) --------------- */

static __always_inline __u32 disk_rq_op(struct request *rq, __u32 *flags)
{
	__u32 cf = BPF_CORE_READ(rq, cmd_flags), f = 0, op;

	switch (cf & 0xff) {	/* REQ_OP_MASK */
	case REQ_OP_READ: op = VIGIL_DISK_READ; break;
	case REQ_OP_WRITE: op = VIGIL_DISK_WRITE; break;
	case REQ_OP_FLUSH: op = VIGIL_DISK_FLUSH; break;
	case REQ_OP_DISCARD:
	case REQ_OP_SECURE_ERASE: op = VIGIL_DISK_DISCARD; break;
	default: op = VIGIL_DISK_OTHER; break;
	}
	/* the flag bits moved between kernels: their numbers come from its BTF */
	if (cf & (1u << bpf_core_enum_value(enum req_flag_bits, __REQ_SYNC)))
		f |= VIGIL_DISK_F_SYNC;
	if (cf & (1u << bpf_core_enum_value(enum req_flag_bits, __REQ_META)))
		f |= VIGIL_DISK_F_META;
	if (cf & (1u << bpf_core_enum_value(enum req_flag_bits, __REQ_FUA)))
		f |= VIGIL_DISK_F_FUA;
	if (cf & (1u << bpf_core_enum_value(enum req_flag_bits, __REQ_PREFLUSH)))
		f |= VIGIL_DISK_F_PREFLUSH;
	if (cf & (1u << bpf_core_enum_value(enum req_flag_bits, __REQ_RAHEAD)))
		f |= VIGIL_DISK_F_AHEAD;
	*flags = f;
	return op;
}

/* the whole disk's dev_t, as the classic tracepoints print it */
static __always_inline __u32 disk_rq_dev(struct request *rq)
{
	struct gendisk *d = BPF_CORE_READ(rq, q, disk);

	if (!d)
		return 0;
	return ((__u32)BPF_CORE_READ(d, major) << 20) | (__u32)BPF_CORE_READ(d, first_minor);
}

/* ---- the three steps, shared by both paths -------------------------------- */

/* queued, in the issuer's context: who, and when */
static __always_inline void disk_queued(struct vigil_disk_rkey *key, __u32 dev, __u64 sector,
					__u32 op, __u32 flags)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct vigil_disk_req r = {};

	if (tgid == self_tgid) {
		flags |= VIGIL_DISK_F_SELF;
	} else {
		if (!disk_op_wanted(dev, op))
			return;
		if (!vigil_filter_pass())
			return;
	}
	vigil_fill_hdr(&r.h, VIGIL_EV_DISK, (struct task_struct *)bpf_get_current_task());
	r.start_ns = r.h.ts;
	r.sector = sector;
	r.dev = dev;
	r.op = op;
	r.flags = flags;
	bpf_map_update_elem(&disk_reqs, key, &r, BPF_ANY);
}

/* issued to the driver: the queue time ends, the device time starts */
static __always_inline void disk_issued(struct vigil_disk_rkey *key, __u32 dev, __u64 sector,
					__u32 bytes, __u32 op, __u32 flags)
{
	struct vigil_disk_req *r = bpf_map_lookup_elem(&disk_reqs, key);
	__u64 now = bpf_ktime_get_boot_ns();

	if (r) {
		disk_seen_issuer(1, r->h.pid);
		r->issue_ns = now;	/* a requeued request: the last issue counts */
		r->bytes = bytes;
		r->dev = dev;
		return;
	}
	/*
	 * Not seen queued: made by the block layer (a flush sequence), split
	 * off, or queued before vigil. Counted without an issuer, unless a
	 * process filter asks for a process.
	 */
	if (vigil_filter.flags || !disk_op_wanted(dev, op))
		return;
	struct vigil_disk_req n = {};

	n.h.type = VIGIL_EV_DISK;
	n.start_ns = n.issue_ns = now;
	n.sector = sector;
	n.dev = dev;
	n.bytes = bytes;
	n.op = op;
	n.flags = flags | VIGIL_DISK_F_NOISSUER;
	bpf_map_update_elem(&disk_reqs, key, &n, BPF_ANY);
}

static __always_inline void disk_add_stat(struct vigil_disk_key *k, __u64 bytes, bool err,
					  __u64 lat)
{
	struct vigil_disk_stat *s = bpf_map_lookup_elem(&disk_stats, k);

	if (!s) {
		struct vigil_disk_stat z = {};

		bpf_map_update_elem(&disk_stats, k, &z, BPF_NOEXIST);
		s = bpf_map_lookup_elem(&disk_stats, k);
		if (!s)
			return;
	}
	s->requests++;
	s->bytes += bytes;
	s->errors += err;
	s->lat_ns += lat;
}

static __always_inline void disk_add_hist(struct vigil_disk_key *k, __u64 lat)
{
	struct vigil_disk_hist *h = bpf_map_lookup_elem(&disk_hists, k);
	__u32 zero = 0;

	if (!h) {
		void *z = bpf_map_lookup_elem(&disk_zero, &zero);

		if (!z)
			return;
		bpf_map_update_elem(&disk_hists, k, z, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&disk_hists, k);
		if (!h)
			return;
	}
	h->slots[vigil_hist_slot(lat)]++;
	h->sum += lat;
}

static __always_inline void disk_add_size(const struct vigil_disk_req *r)
{
	struct vigil_disk_size_val *v;
	__u32 pid = r->h.pid, zero = 0;

	v = bpf_map_lookup_elem(&disk_sizes, &pid);
	if (!v) {
		struct vigil_disk_size_val *z = bpf_map_lookup_elem(&disk_zero, &zero);

		if (!z)
			return;
		__builtin_memcpy(z->comm, r->h.comm, sizeof(z->comm));
		if (bpf_map_update_elem(&disk_sizes, &pid, z, BPF_NOEXIST) == -E2BIG)
			vigil_inc(&disk_drops, VIGIL_DISK_DROP_TOPFULL);
		__builtin_memset(z->comm, 0, sizeof(z->comm));
		v = bpf_map_lookup_elem(&disk_sizes, &pid);
		if (!v)
			return;
	}
	__sync_fetch_and_add(&v->slots[vigil_hist_slot(r->bytes)], 1);
	__sync_fetch_and_add(&v->sum, r->bytes);
}

static __always_inline void disk_add_top(const struct vigil_disk_req *r, __u64 lat)
{
	struct vigil_disk_top_key k = { .pid = r->h.pid, .dev = r->dev };
	struct vigil_disk_top_val *v = bpf_map_lookup_elem(&disk_top, &k);

	if (!v) {
		struct vigil_disk_top_val n = { .cgroup_id = r->h.cgroup_id };

		__builtin_memcpy(n.comm, r->h.comm, sizeof(n.comm));
		if (bpf_map_update_elem(&disk_top, &k, &n, BPF_NOEXIST) == -E2BIG)
			vigil_inc(&disk_drops, VIGIL_DISK_DROP_TOPFULL);
		v = bpf_map_lookup_elem(&disk_top, &k);
		if (!v)
			return;
	}
	/* flushes and discards move no data of the process's: not in the top */
	if (r->op == VIGIL_DISK_WRITE) {
		__sync_fetch_and_add(&v->writes, 1);
		__sync_fetch_and_add(&v->wbytes, r->bytes);
	} else if (r->op == VIGIL_DISK_READ) {
		__sync_fetch_and_add(&v->reads, 1);
		__sync_fetch_and_add(&v->rbytes, r->bytes);
	}
	__sync_fetch_and_add(&v->lat_ns, lat);
}

/* completed: join, count, and ship a record in stream mode */
static __always_inline void disk_completed(struct vigil_disk_rkey *key, __u32 dev, __u32 op,
					   int error, __u32 nr_bytes, __u32 left)
{
	struct vigil_disk_req *r = bpf_map_lookup_elem(&disk_reqs, key);
	struct vigil_disk_key k;
	__u64 now, issue, lat;

	if (!r) {
		/* only the requests the filters would have kept count as missed */
		if (!vigil_filter.flags && disk_op_wanted(dev, op))
			vigil_inc(&disk_drops, VIGIL_DISK_DROP_UNMATCHED);
		return;
	}
	disk_seen_issuer(2, r->h.pid);
	/* a partial completion (the driver finished part of it): wait for the rest */
	if (nr_bytes < left && !error)
		return;
	if (r->flags & VIGIL_DISK_F_SELF)
		goto out;
	now = bpf_ktime_get_boot_ns();
	issue = r->issue_ns ? r->issue_ns : now;
	lat = now - (hist_queued ? r->start_ns : issue);

	k.dev = r->dev;
	k.op = r->op;
	disk_add_stat(&k, r->bytes, error != 0, lat);
	switch (disk_mode) {
	case DISK_HIST:
		k.dev = hist_per_disk ? r->dev : 0;
		k.op = hist_per_op ? r->op : VIGIL_DISK_OP__COUNT;
		disk_add_hist(&k, lat);
		break;
	case DISK_SIZES:
		disk_add_size(r);
		break;
	case DISK_TOP:
		disk_add_top(r, now - issue);
		break;
	default: {
		struct vigil_disk_event *e = vigil_reserve(sizeof(*e));

		if (!e)
			break;
		e->h = r->h;
		e->h.ts = now;
		e->sector = r->sector;
		e->queue_ns = issue - r->start_ns;
		e->dev_ns = now - issue;
		e->dev = r->dev;
		e->bytes = r->bytes;
		e->op = r->op;
		e->flags = r->flags;
		e->error = error;
		e->_pad = 0;
		__builtin_memset(e->disk, 0, sizeof(e->disk));
		bpf_ringbuf_submit(e, 0);
		break;
	}
	}
out:
	bpf_map_delete_elem(&disk_reqs, key);
}

/* ---- tp_btf path: the request pointer is the key --------------------------- */

/* seen slots: 0 the queued hook, 1 block_rq_issue, 2 block_rq_complete */
SEC("tp_btf/block_io_start")
int BPF_PROG(disk_io_start, struct request *rq)
{
	struct vigil_disk_rkey key = { .id = (__u64)rq };
	__u32 flags, op = disk_rq_op(rq, &flags);

	vigil_seen_hit(0);
	disk_queued(&key, disk_rq_dev(rq), BPF_CORE_READ(rq, __sector), op, flags);
	return 0;
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(disk_rq_issue_btf, struct request *rq)
{
	struct vigil_disk_rkey key = { .id = (__u64)rq };
	__u32 flags, op = disk_rq_op(rq, &flags);

	disk_issued(&key, disk_rq_dev(rq), BPF_CORE_READ(rq, __sector),
		    BPF_CORE_READ(rq, __data_len), op, flags);
	return 0;
}

/* blk_status_t to errno, as blk_status_to_errno() does for the common ones */
static __always_inline int disk_status_errno(__u8 st)
{
	switch (st) {
	case 0: return 0;
	case 1: return -95;	/* BLK_STS_NOTSUPP: EOPNOTSUPP */
	case 2: return -110;	/* BLK_STS_TIMEOUT: ETIMEDOUT */
	case 3: return -28;	/* BLK_STS_NOSPC: ENOSPC */
	case 4: return -67;	/* BLK_STS_TRANSPORT: ENOLINK */
	case 5: return -121;	/* BLK_STS_TARGET: EREMOTEIO */
	case 7: return -61;	/* BLK_STS_MEDIUM: ENODATA */
	case 8: return -84;	/* BLK_STS_PROTECTION: EILSEQ */
	case 9: return -12;	/* BLK_STS_RESOURCE: ENOMEM */
	case 12: return -11;	/* BLK_STS_AGAIN: EAGAIN */
	default: return -5;	/* BLK_STS_IOERR and the rest: EIO */
	}
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(disk_rq_complete_btf, struct request *rq, blk_status_t error, unsigned int nr_bytes)
{
	struct vigil_disk_rkey key = { .id = (__u64)rq };
	__u32 flags, op = disk_rq_op(rq, &flags);

	disk_completed(&key, disk_rq_dev(rq), op, disk_status_errno(error), nr_bytes,
		       BPF_CORE_READ(rq, __data_len));
	return 0;
}

/* ---- tracepoint path: disk and sector are the key --------------------------- */

SEC("tracepoint/block/block_bio_queue")
int disk_bio_queue(struct trace_event_raw_block_bio *ctx)
{
	struct vigil_disk_rkey key = {};
	__u32 flags, op;
	char rwbs[10];

	vigil_seen_hit(0);
	BPF_CORE_READ_INTO(&key.id, ctx, sector);
	BPF_CORE_READ_INTO(&key.dev, ctx, dev);
	bpf_core_read(rwbs, sizeof(rwbs), &ctx->rwbs);
	rwbs[9] = 0;
	op = vigil_disk_rwbs(rwbs, &flags);
	disk_queued(&key, key.dev, key.id, op, flags);
	return 0;
}

SEC("tracepoint/block/block_rq_issue")
int disk_rq_issue_tp(struct trace_event_raw_block_rq *ctx)
{
	struct vigil_disk_rkey key = {};
	__u32 flags, op, bytes = 0;
	char rwbs[10];

	BPF_CORE_READ_INTO(&key.id, ctx, sector);
	BPF_CORE_READ_INTO(&key.dev, ctx, dev);
	BPF_CORE_READ_INTO(&bytes, ctx, bytes);
	bpf_core_read(rwbs, sizeof(rwbs), &ctx->rwbs);
	rwbs[9] = 0;
	op = vigil_disk_rwbs(rwbs, &flags);
	disk_issued(&key, key.dev, key.id, bytes, op, flags);
	return 0;
}

SEC("tracepoint/block/block_rq_complete")
int disk_rq_complete_tp(struct trace_event_raw_block_rq_completion *ctx)
{
	struct vigil_disk_rkey key = {};
	__u32 flags, op;
	int error = 0;
	char rwbs[10];

	BPF_CORE_READ_INTO(&key.id, ctx, sector);
	BPF_CORE_READ_INTO(&key.dev, ctx, dev);
	BPF_CORE_READ_INTO(&error, ctx, error);
	bpf_core_read(rwbs, sizeof(rwbs), &ctx->rwbs);
	rwbs[9] = 0;
	op = vigil_disk_rwbs(rwbs, &flags);
	/* nr_sector is what completed; partial completions move the sector: the
	 * request is joined at its first completion */
	disk_completed(&key, key.dev, op, error, 1, 0);
	return 0;
}
