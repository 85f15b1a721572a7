// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Every syscall, paired entry to exit: streamed one record per call, or
 * counted, or bucketed into latency histograms in maps (nothing shipped per
 * call). raw_tp needs no tracefs and is the cheapest syscall hook there is.
 *
 * Pairing state is one slot per traced thread in sc_inflight, keyed by tid
 * and rewritten in place at every entry (no allocation per call). Slots are
 * deleted when the thread exits, and moved when a multi-threaded exec hands
 * the leader's tid to the exec'ing thread, so the map holds live threads
 * only and never grows past its fixed size.
 */
#include "common.bpf.h"
#include "hist.bpf.h"

const volatile __u32 sc_mode = VIGIL_SC_STREAM;
const volatile bool per_process = false;
const volatile bool failed_only = false;
const volatile __u32 want_errno = 0;		/* positive errno; 0: any */
const volatile __u64 min_latency_ns = 0;
const volatile __u32 self_pid = 0;		/* vigil itself: its writes would feed back */
const volatile bool filter_nr = false;
const volatile __u8 want_nr[VIGIL_SYSCALL_MAX] = {};
const volatile __u8 decode_nr[VIGIL_SYSCALL_MAX] = {};	/* enum vigil_sc_decode | arg + 1 */
/*
 * 0: wake the consumer whenever it has caught up (the kernel default).
 * Otherwise wake it only each time this many bytes have piled up, and let
 * it drain on a timer in between: at a million records a second, one
 * wakeup per record costs more than the record.
 */
const volatile __u32 wakeup_bytes = 0;
const volatile bool interval_max = false;	/* -i: also keep each interval's maximum */
/* bumped by user space after it reads an interval: older maxima restart */
__u64 interval_epoch = 0;

struct inflight {
	__u64 ts;		/* boot ns at entry; 0 when not inside a traced call */
	__u64 args[6];
	__u32 nr;
	__u32 flags;		/* enum vigil_sc_flags */
	__u32 data_len;
	__u32 _pad;
	char data[VIGIL_SC_DATA_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct inflight);
} sc_inflight SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct vigil_sc_key);
	__type(value, struct vigil_sc_stat);
} sc_counts SEC(".maps");

/* the same without -P: indexed by syscall number, no hashing on the hot path */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VIGIL_SYSCALL_MAX);
	__type(key, __u32);
	__type(value, struct vigil_sc_stat);
} sc_counts_nr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct vigil_sc_err_key);
	__type(value, __u64);
} sc_errors SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct vigil_sc_key);
	__type(value, struct vigil_hist);
} sc_hists SEC(".maps");

/* pid -> comm, filled when a process gets its first row (-P) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, char[VIGIL_COMM_LEN]);
} sc_comms SEC(".maps");

/* A zeroed value to insert from: the structs are too big for the stack. */
union sc_zero {
	struct inflight f;
	struct vigil_hist h;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, union sc_zero);
} sc_zero SEC(".maps");

/* Calls not traced because a map was full: [0] sc_inflight, [1] a count/hist map. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} sc_overflow SEC(".maps");

static __always_inline void count_overflow(__u32 which)
{
	vigil_inc(&sc_overflow, which);
}

static __always_inline void *zero_value(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&sc_zero, &zero);
}

/* Look a key up, inserting a zeroed value the first time. */
static __always_inline void *lookup_or_init(void *map, const void *key)
{
	void *v = bpf_map_lookup_elem(map, key);
	void *z;

	if (v)
		return v;
	z = zero_value();
	if (!z)
		return NULL;
	bpf_map_update_elem(map, key, z, BPF_NOEXIST);
	return bpf_map_lookup_elem(map, key);
}

static __always_inline void read_args(struct inflight *f, struct pt_regs *regs, __u32 nr)
{
	struct pt_regs r;
	__u8 dec = decode_nr[nr];
	__u32 idx;
	__u64 ptr;
	long n;

	/* the user registers saved at entry; x86_64 passes the 4th in r10 */
	if (bpf_probe_read_kernel(&r, sizeof(r), regs)) {
		__builtin_memset(f->args, 0, sizeof(f->args));
	} else {
		f->args[0] = r.di;
		f->args[1] = r.si;
		f->args[2] = r.dx;
		f->args[3] = r.r10;
		f->args[4] = r.r8;
		f->args[5] = r.r9;
	}
	f->flags = 0;
	f->data_len = 0;
	if (!dec)
		return;
	/* user memory is read at entry: after execve it belongs to a new image */
	idx = (dec & 0xf) - 1;
	if (idx >= 6)
		return;
	ptr = f->args[idx];
	if (dec & VIGIL_SC_DEC_PATH) {
		n = bpf_probe_read_user_str(f->data, sizeof(f->data), (void *)ptr);
		if (n <= 0)
			return;
		f->data_len = n;
		f->flags = VIGIL_SC_DATA_PATH;
		if (n == sizeof(f->data))
			f->flags |= VIGIL_SC_DATA_TRUNC;
	} else if ((dec & VIGIL_SC_DEC_SOCKADDR) && idx < 5) {
		__u64 len = f->args[idx + 1];

		/* the largest sockaddr we decode is sockaddr_un (110 bytes) */
		if (len > 112)
			len = 112;
		if (!len || bpf_probe_read_user(f->data, len, (void *)ptr))
			return;
		f->data_len = len;
		f->flags = VIGIL_SC_DATA_SOCKADDR;
	}
}

/* not vigil itself, a syscall number the table has (drops -1: a ptrace-cancelled
 * call), one of --syscall's, and the common filters */
static __always_inline bool sc_wanted(__u64 pid_tgid, __u32 nr)
{
	if ((__u32)(pid_tgid >> 32) == self_pid || nr >= VIGIL_SYSCALL_MAX)
		return false;
	if (filter_nr && !want_nr[nr])
		return false;
	return vigil_filter_pass();
}

SEC("raw_tp/sys_enter")
int BPF_PROG(sc_enter, struct pt_regs *regs, long id)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	__u32 nr = (__u32)id;
	struct inflight *f;

	if (!sc_wanted(pid_tgid, nr))
		return 0;
	f = lookup_or_init(&sc_inflight, &tid);
	if (!f) {
		count_overflow(0);
		return 0;
	}
	f->nr = nr;
	if (sc_mode == VIGIL_SC_STREAM)
		read_args(f, regs, nr);
	/* written last: a non-zero ts marks the slot as a call in progress */
	f->ts = bpf_ktime_get_boot_ns();
	return 0;
}

static __always_inline void save_comm(__u32 pid)
{
	char comm[VIGIL_COMM_LEN];

	bpf_get_current_comm(comm, sizeof(comm));
	bpf_map_update_elem(&sc_comms, &pid, comm, BPF_ANY);
}

static __always_inline void do_count(__u32 pid, __u32 nr, long ret, bool failed, __u64 lat)
{
	struct vigil_sc_key key = { .pid = per_process ? pid : 0, .nr = nr };
	struct vigil_sc_stat *st;

	if (!per_process)
		st = bpf_map_lookup_elem(&sc_counts_nr, &nr);
	else
		st = bpf_map_lookup_elem(&sc_counts, &key);
	if (!st && !per_process) {
		count_overflow(1);
		return;
	}
	if (!st) {
		struct vigil_sc_stat zero = {};

		bpf_map_update_elem(&sc_counts, &key, &zero, BPF_NOEXIST);
		st = bpf_map_lookup_elem(&sc_counts, &key);
		if (!st) {
			count_overflow(1);
			return;
		}
		if (per_process)
			save_comm(key.pid);
	}
	st->calls++;
	st->total_ns += lat;
	if (lat > st->max_ns)
		st->max_ns = lat;
	if (interval_max) {
		__u64 epoch = interval_epoch;

		if (st->epoch != epoch) {
			st->epoch = epoch;
			st->imax_ns = 0;
		}
		if (lat > st->imax_ns)
			st->imax_ns = lat;
	}
	if (failed) {
		struct vigil_sc_err_key ek = { .pid = key.pid, .nr = nr, .err = -ret };
		__u64 *n;

		st->errors++;
		n = bpf_map_lookup_elem(&sc_errors, &ek);
		if (n) {
			*n += 1;
		} else {
			__u64 one = 1;

			bpf_map_update_elem(&sc_errors, &ek, &one, BPF_NOEXIST);
		}
	}
}

static __always_inline void do_hist(__u32 pid, __u32 nr, __u64 lat)
{
	struct vigil_sc_key key = { .pid = per_process ? pid : 0, .nr = nr };
	struct vigil_hist *h = bpf_map_lookup_elem(&sc_hists, &key);

	if (!h) {
		h = lookup_or_init(&sc_hists, &key);
		if (!h) {
			count_overflow(1);
			return;
		}
		if (per_process)
			save_comm(key.pid);
	}
	h->slots[vigil_hist_slot(lat)]++;
}

static __always_inline void fill_event(struct vigil_syscall *e, struct inflight *f,
				       __u64 start, long ret, __u64 lat)
{
	vigil_fill_hdr(&e->hdr, VIGIL_EV_SYSCALL, bpf_get_current_task_btf());
	e->hdr.ts = start;
	e->args[0] = f->args[0];
	e->args[1] = f->args[1];
	e->args[2] = f->args[2];
	e->args[3] = f->args[3];
	e->args[4] = f->args[4];
	e->args[5] = f->args[5];
	e->ret = ret;
	e->latency_ns = lat;
	e->nr = f->nr;
	e->flags = f->flags;
	e->data_len = f->data_len;
	e->_pad = 0;
}

static __always_inline void submit(void *rec, __u64 size)
{
	__u64 flags = 0, avail;

	if (wakeup_bytes) {
		/* includes this record: wake when it crosses a multiple of wakeup_bytes */
		avail = bpf_ringbuf_query(&vigil_events, BPF_RB_AVAIL_DATA);
		flags = avail / wakeup_bytes != (avail - size) / wakeup_bytes || avail < size ?
			BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
	}
	bpf_ringbuf_submit(rec, flags);
}

static __always_inline void do_stream(struct inflight *f, __u64 start, long ret, __u64 lat)
{
	if (f->data_len) {
		struct vigil_syscall_data *e = vigil_reserve(sizeof(*e));

		if (!e)
			return;
		fill_event(&e->ev, f, start, ret, lat);
		__builtin_memcpy(e->data, f->data, sizeof(e->data));
		submit(e, sizeof(*e));
	} else {
		struct vigil_syscall *e = vigil_reserve(sizeof(*e));

		if (!e)
			return;
		fill_event(e, f, start, ret, lat);
		submit(e, sizeof(*e));
	}
}

SEC("raw_tp/sys_exit")
int BPF_PROG(sc_exit, struct pt_regs *regs, long ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct inflight *f;
	__u64 start, lat;
	bool failed;

	f = bpf_map_lookup_elem(&sc_inflight, &tid);
	/* no slot or no start: not traced, or entered before we attached */
	if (!f || !f->ts)
		return 0;
	start = f->ts;
	f->ts = 0;
	lat = bpf_ktime_get_boot_ns() - start;
	failed = ret < 0 && ret >= -4095;
	if (failed_only && !failed)
		return 0;
	if (want_errno && (!failed || -ret != want_errno))
		return 0;
	if (min_latency_ns && lat < min_latency_ns)
		return 0;
	if (sc_mode == VIGIL_SC_COUNT)
		do_count(pid_tgid >> 32, f->nr, ret, failed, lat);
	else if (sc_mode == VIGIL_SC_HIST)
		do_hist(pid_tgid >> 32, f->nr, lat);
	else
		do_stream(f, start, ret, lat);
	return 0;
}

/*
 * --count without latency: calls and errors are known at the exit alone, so
 * one hook and no per-thread state (what syscount does without -L).
 */
SEC("raw_tp/sys_exit")
int BPF_PROG(sc_exit_count, struct pt_regs *regs, long ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 nr;
	bool failed;

	nr = BPF_CORE_READ(regs, orig_ax);
	if (!sc_wanted(pid_tgid, nr))
		return 0;
	failed = ret < 0 && ret >= -4095;
	if (failed_only && !failed)
		return 0;
	if (want_errno && (!failed || -ret != want_errno))
		return 0;
	do_count(pid_tgid >> 32, nr, ret, failed, 0);
	return 0;
}

/* A thread that exits (even inside a syscall) gives its slot back. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(sc_task_exit, struct task_struct *p)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	bpf_map_delete_elem(&sc_inflight, &tid);
	return 0;
}

/*
 * A non-leader thread that execs takes over the leader's tid (de_thread):
 * its slot, holding the execve in progress, moves from the old tid.
 */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(sc_task_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u32 old = old_pid;
	struct inflight *f;

	if (old == tid)
		return 0;
	f = bpf_map_lookup_elem(&sc_inflight, &old);
	if (f) {
		bpf_map_update_elem(&sc_inflight, &tid, f, BPF_ANY);
		bpf_map_delete_elem(&sc_inflight, &old);
	}
	return 0;
}
