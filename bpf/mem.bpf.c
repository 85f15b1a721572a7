// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * vigil mem: page faults per process and mapping, OOM kills with their
 * context, resident memory by kind. Faults and RSS are counted in maps and
 * read by user space every interval; only OOM kills are records.
 *
 *  - exceptions:page_fault_user (and _kernel with --kernel) count every
 *    fault; the tracepoint cannot say whether it needed I/O, so a program on
 *    the PERF_COUNT_SW_PAGE_FAULTS_MAJ software event (which the kernel
 *    raises once a fault is done, in the faulting task, with its address)
 *    counts the major ones into the same row.
 *  - The mapping is found with bpf_find_vma() ("find_vma" path); where that
 *    does not load, the address is counted per 64 KiB and user space looks
 *    it up in /proc/PID/maps ("maps" path).
 *  - oom:mark_victim runs in the OOM killer's context: current is the task
 *    whose allocation failed. Since 6.8 it passes the victim's task; 6.1
 *    passes only its pid, so the victim is taken from the SIGKILL that the
 *    killer sends it just before (signal:signal_generate, same task).
 *  - kmem:rss_stat fires on every change of a mm's counters.
 */
#include "common.bpf.h"
#include "mech.bpf.h"

#define ENOENT 2
#define SIGKILL 9
#define PAGE_SHIFT 12
/* a page_counter without a limit holds PAGE_COUNTER_MAX (LONG_MAX / PAGE_SIZE) */
#define MEMCG_NO_LIMIT (1ull << 50)
/* a charge that failed left usage within this many pages of the limit
 * (the largest charge is a THP: 512 pages) */
#define MEMCG_AT_LIMIT_PAGES 1024
#define USER_TOP (1ull << 47)

const volatile bool use_find_vma = true;	/* the "find_vma" path; else "maps" */
const volatile bool want_kernel = false;	/* also faults taken in kernel mode */
const volatile __u32 self_tgid = 0;		/* vigil's own faults are not counted */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);	/* --max-maps, set before load */
	__type(key, struct vigil_mem_fkey);
	__type(value, struct vigil_mem_fval);
} mem_faults SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);	/* --max-maps */
	__type(key, __u32);
	__type(value, struct vigil_mem_rval);
} mem_rss SEC(".maps");

/* rows that did not fit: 0 faults, 1 rss */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} mem_full SEC(".maps");

/* 6.1: the task the OOM killer just sent SIGKILL, per killer thread */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 64);
	__type(key, __u64);
	__type(value, __u64);
} mem_kill SEC(".maps");

/* 6.1 kept the rss counters as atomics in struct mm_rss_stat; 6.2 made them
 * percpu_counters (f1a7941243c1 "mm: convert mm's rss stats into percpu_counter") */
struct mm_rss_stat___old {
	atomic_long_t count[VIGIL_RSS__COUNT];
} __attribute__((preserve_access_index));

struct mm_struct___old {
	struct mm_rss_stat___old rss_stat;
} __attribute__((preserve_access_index));

/* the counter's global value, as get_mm_counter() reads it (in pages) */
static __always_inline long rss_pages(struct mm_struct *mm, __u32 member)
{
	long v = 0;

	if (member >= VIGIL_RSS__COUNT)
		return 0;
	if (bpf_core_field_exists(((struct mm_struct___old *)mm)->rss_stat.count)) {
		struct mm_struct___old *o = (void *)mm;

		bpf_core_read(&v, sizeof(v), &o->rss_stat.count[member].counter);
	} else {
		char *pc = (char *)mm + bpf_core_field_offset(struct mm_struct, rss_stat) +
			   member * bpf_core_type_size(struct percpu_counter);

		bpf_core_read(&v, sizeof(v), pc + bpf_core_field_offset(struct percpu_counter, count));
	}
	return v < 0 ? 0 : v;
}

/* ---- faults ---------------------------------------------------------------- */

static __always_inline void count(struct vigil_mem_fkey *k, struct file *f, bool major)
{
	struct vigil_mem_fval *v = bpf_map_lookup_elem(&mem_faults, k);

	if (!v) {
		struct vigil_mem_fval z = {};

		z.cgroup_id = bpf_get_current_cgroup_id();
		z.uid = (__u32)bpf_get_current_uid_gid();
		bpf_get_current_comm(z.comm, sizeof(z.comm));
		if (f)
			bpf_probe_read_kernel_str(z.name, sizeof(z.name),
						  BPF_CORE_READ(f, f_path.dentry, d_name.name));
		/* another CPU may have made it meanwhile: the lookup then finds that one */
		bpf_map_update_elem(&mem_faults, k, &z, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&mem_faults, k);
		if (!v) {
			vigil_inc(&mem_full, 0);
			return;
		}
	}
	if (major)
		__sync_fetch_and_add(&v->major, 1);
	else
		__sync_fetch_and_add(&v->faults, 1);
}

struct fault_ctx {
	struct vigil_mem_fkey k;
	__u32 major;
};

/* runs with the mmap lock held: the vma and its file are stable here */
static long on_vma(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	struct fault_ctx *c = data;
	struct file *f = BPF_CORE_READ(vma, vm_file);
	struct mm_struct *mm;
	__u64 start, end;

	if (f) {
		struct inode *ino = BPF_CORE_READ(f, f_inode);

		c->k.map = VIGIL_MEM_MAP_FILE;
		c->k.dev = BPF_CORE_READ(ino, i_sb, s_dev);
		c->k.ino = BPF_CORE_READ(ino, i_ino);
		count(&c->k, f, c->major);
		return 0;
	}
	/* the same tests as /proc/PID/maps for its [heap] and [stack] */
	mm = BPF_CORE_READ(vma, vm_mm);
	start = BPF_CORE_READ(vma, vm_start);
	end = BPF_CORE_READ(vma, vm_end);
	if (start <= BPF_CORE_READ(mm, brk) && end >= BPF_CORE_READ(mm, start_brk))
		c->k.map = VIGIL_MEM_MAP_HEAP;
	else if (start <= BPF_CORE_READ(mm, start_stack) && end >= BPF_CORE_READ(mm, start_stack))
		c->k.map = VIGIL_MEM_MAP_STACK;
	else
		c->k.map = VIGIL_MEM_MAP_ANON;
	count(&c->k, NULL, c->major);
	return 0;
}

static __always_inline void fault(__u64 addr, bool major)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct fault_ctx c = {};
	long r;

	if (tgid == self_tgid || !vigil_filter_pass())
		return;
	c.k.pid = tgid;
	c.major = major;
	if (!use_find_vma) {
		c.k.map = VIGIL_MEM_MAP_ADDR;
		c.k.ino = addr >> VIGIL_MEM_CHUNK_SHIFT;
		count(&c.k, NULL, major);
		return;
	}
	r = bpf_find_vma(bpf_get_current_task_btf(), addr, on_vma, &c, 0);
	if (!r)
		return;
	/* -EBUSY: the mmap lock was taken for writing, or the irq_work was busy */
	c.k.map = r == -ENOENT ? VIGIL_MEM_MAP_NONE : VIGIL_MEM_MAP_UNKNOWN;
	count(&c.k, NULL, major);
}

SEC("tp_btf/page_fault_user")
int BPF_PROG(mem_fault_user, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	vigil_seen_hit(0);
	fault(address, false);
	return 0;
}

SEC("tp_btf/page_fault_kernel")
int BPF_PROG(mem_fault_kernel, unsigned long address, struct pt_regs *regs,
	     unsigned long error_code)
{
	/* only faults on user memory (copy_to_user and the like) */
	if (address < USER_TOP)
		fault(address, false);
	return 0;
}

/* the kernel raises it in the faulting task once a fault needed I/O (mm_account_fault) */
SEC("perf_event")
int mem_major(struct bpf_perf_event_data *ctx)
{
	/* the context is read in whole words: cs shares its word with padding (FRED) */
	__u64 cs = *(volatile __u64 *)((char *)ctx + __builtin_offsetof(struct bpf_perf_event_data, regs.cs));

	/* a fault in kernel mode: counted only when its minor twin is */
	if (!want_kernel && (cs & 3) != 3)
		return 0;
	if (ctx->addr < USER_TOP)
		fault(ctx->addr, true);
	return 0;
}

/* ---- RSS --------------------------------------------------------------------- */

SEC("tp_btf/rss_stat")
int BPF_PROG(mem_rss_stat, struct mm_struct *mm, int member)
{
	struct task_struct *owner = BPF_CORE_READ(mm, owner);
	struct vigil_mem_rval *v;
	__u32 tgid, m = member;

	if (!owner || m >= VIGIL_RSS__COUNT)
		return 0;
	tgid = BPF_CORE_READ(owner, tgid);
	/* current may be another task (reclaim, an exit, a ptrace): filter the owner */
	if (!tgid || tgid == self_tgid || !vigil_task_filter_pass(owner))
		return 0;
	v = bpf_map_lookup_elem(&mem_rss, &tgid);
	if (!v) {
		struct vigil_mem_rval z = {};

		z.cgroup_id = vigil_task_cgid(owner);
		BPF_CORE_READ_STR_INTO(&z.comm, owner, comm);
		bpf_map_update_elem(&mem_rss, &tgid, &z, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&mem_rss, &tgid);
		if (!v) {
			vigil_inc(&mem_full, 1);
			return 0;
		}
	}
	v->cur[m] = rss_pages(mm, m) << PAGE_SHIFT;
	if (!(v->seen & (1u << m))) {
		v->first[m] = v->cur[m];
		v->seen |= 1u << m;	/* a lost race only moves first[] to a later event */
	}
	return 0;
}

/* ---- OOM kills ----------------------------------------------------------------- */

/* 6.1: remember whom this OOM killer is about to mark (__oom_kill_process) */
SEC("tp_btf/signal_generate")
int BPF_PROG(mem_kill_sig, int sig, struct kernel_siginfo *info, struct task_struct *task,
	     int group, int result)
{
	__u64 id, t;

	/* mark_victim passes the task itself (6.8+): nothing to remember */
	if (bpf_core_field_exists(struct trace_event_raw_mark_victim, anon_rss))
		return 0;
	/* the OOM killer's SIGKILL is SEND_SIG_PRIV, ((struct kernel_siginfo *)1) */
	if (sig != SIGKILL || (__u64)info != 1)
		return 0;
	id = bpf_get_current_pid_tgid();
	t = (__u64)task;
	bpf_map_update_elem(&mem_kill, &id, &t, BPF_ANY);
	return 0;
}

/* the victim's memory cgroup, and the nearest one up from it that is at its limit */
static __always_inline void oom_memcg(struct vigil_mem_oom *e, struct task_struct *t)
{
	int id = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
	struct cgroup_subsys_state *css = NULL;
	struct css_set *cs = BPF_CORE_READ(t, cgroups);

	if (!cs || id < 0 || id >= 16)
		return;
	bpf_core_read(&css, sizeof(css), &cs->subsys[id]);
	if (!css)
		return;
	e->flags |= VIGIL_OOM_MEMCG;
	e->memcg_id = BPF_CORE_READ(css, cgroup, kn, id);
	e->memcg_level = BPF_CORE_READ(css, cgroup, level);
#pragma unroll
	for (int i = 0; i < VIGIL_MEM_MEMCG_DEPTH; i++) {
		struct mem_cgroup *mc = (void *)((char *)css - bpf_core_field_offset(struct mem_cgroup, css));
		__u64 max = BPF_CORE_READ(mc, memory.max);
		__u64 usage = BPF_CORE_READ(mc, memory.usage.counter);

		if (max < MEMCG_NO_LIMIT && usage + MEMCG_AT_LIMIT_PAGES >= max) {
			const char *name = BPF_CORE_READ(css, cgroup, kn, name);

			e->flags |= VIGIL_OOM_LIMIT;
			e->limit_id = BPF_CORE_READ(css, cgroup, kn, id);
			e->limit_level = BPF_CORE_READ(css, cgroup, level);
			e->limit_bytes = max << PAGE_SHIFT;
			e->usage_bytes = usage << PAGE_SHIFT;
			bpf_probe_read_kernel_str(e->limit_name, sizeof(e->limit_name), name);
			return;
		}
		css = BPF_CORE_READ(css, parent);
		if (!css)
			return;
	}
}

SEC("raw_tp/mark_victim")
int mem_oom(struct bpf_raw_tracepoint_args *ctx)
{
	bool full = bpf_core_field_exists(struct trace_event_raw_mark_victim, anon_rss);
	struct task_struct *victim = NULL;
	struct vigil_mem_oom *e;
	struct mm_struct *mm;
	__u64 id = bpf_get_current_pid_tgid();
	__u32 vpid;

	if (full) {
		victim = (void *)ctx->args[0];
		vpid = BPF_CORE_READ(victim, pid);
	} else {
		__u64 *t = bpf_map_lookup_elem(&mem_kill, &id);

		vpid = (__u32)ctx->args[0];
		if (t && BPF_CORE_READ((struct task_struct *)*t, pid) == vpid)
			victim = (void *)*t;
		bpf_map_delete_elem(&mem_kill, &id);
	}
	if (victim) {
		e = vigil_begin_task(sizeof(*e), VIGIL_EV_MEM_OOM, victim);
	} else {
		/* nothing to filter on: only an unfiltered run reports it */
		if (vigil_filter.flags)
			return 0;
		e = vigil_reserve(sizeof(*e));
		if (e) {
			__builtin_memset(&e->hdr, 0, sizeof(e->hdr));
			e->hdr.ts = bpf_ktime_get_boot_ns();
			e->hdr.type = VIGIL_EV_MEM_OOM;
			e->hdr.pid = e->hdr.tid = vpid;
		}
	}
	if (!e)
		return 0;
	e->flags = full ? VIGIL_OOM_TP_FULL : 0;
	e->victim_pid = vpid;
	e->total_vm_kb = e->anon_rss_kb = e->file_rss_kb = e->shmem_rss_kb = 0;
	e->swap_kb = e->pgtables_kb = 0;
	e->oom_score_adj = 0;
	e->memcg_level = e->limit_level = 0;
	e->memcg_id = e->limit_id = e->limit_bytes = e->usage_bytes = 0;
	e->_pad = 0;
	e->limit_name[0] = 0;
	e->trig_pid = id >> 32;
	e->trig_tid = (__u32)id;
	e->trig_cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(e->trig_comm, sizeof(e->trig_comm));
	if (victim) {
		e->flags |= VIGIL_OOM_TASK;
		e->oom_score_adj = BPF_CORE_READ(victim, signal, oom_score_adj);
		mm = BPF_CORE_READ(victim, mm);
		if (mm) {
			e->flags |= VIGIL_OOM_MM;
			/* kB, as the kernel's own "Killed process" line */
			e->total_vm_kb = BPF_CORE_READ(mm, total_vm) << (PAGE_SHIFT - 10);
			e->anon_rss_kb = rss_pages(mm, VIGIL_RSS_ANON) << (PAGE_SHIFT - 10);
			e->file_rss_kb = rss_pages(mm, VIGIL_RSS_FILE) << (PAGE_SHIFT - 10);
			e->shmem_rss_kb = rss_pages(mm, VIGIL_RSS_SHMEM) << (PAGE_SHIFT - 10);
			e->swap_kb = rss_pages(mm, VIGIL_RSS_SWAP) << (PAGE_SHIFT - 10);
			e->pgtables_kb = BPF_CORE_READ(mm, pgtables_bytes.counter) >> 10;
		}
		oom_memcg(e, victim);
	}
	bpf_ringbuf_submit(e, 0);
	return 0;
}
