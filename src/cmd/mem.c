// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * vigil mem: page faults per process and mapping (minor and major), OOM
 * kills with the victim's memory, the task that triggered them and the
 * memory cgroup at its limit, and resident memory growth per process by
 * kind. Faults and RSS are counted in the kernel (bpf/mem.bpf.c) and shown
 * every interval like top; OOM kills are records as they happen.
 * docs/mem.md.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "core/vigil.h"
#include "core/container.h"
#include "core/env.h"
#include "core/feature.h"
#include "core/metrics.h"
#include "core/opts.h"
#include "core/out.h"
#include "core/session.h"
#include "cmd/mem.h"
#include "mem.skel.h"

#define MEM_INTERVAL_DEFAULT 1000000000ull
#define MEM_MAX_MAPS_DEFAULT 16384
#define MEM_MAX_MAPS (1u << 18)
#define MEM_GONE_FACTOR 4		/* rows of exited processes kept for the summary */
#define MEM_MAX_ACC 256			/* metric label sets kept (containers, memcgs) */
#define MEM_MAX_CPUS 1024

struct mem_opts {
	uint32_t events;	/* enum mem_events */
	uint32_t top, min_faults, max_maps;
	bool kernel;
	bool container_metrics;
	bool no_trigger;	/* test knob: the start-up check sees nothing */
	const char *mechanism;
};

static const struct mem_opts mem_defaults = {
	.events = MEM_EV_FAULTS | MEM_EV_OOM, .top = 20, .max_maps = MEM_MAX_MAPS_DEFAULT,
};

/* faults of one key, cumulative in the kernel; last = at the previous interval */
struct frow {
	struct vigil_mem_fkey key;
	struct vigil_mem_fval val;
	uint64_t last_faults, last_major;
	uint32_t rmap;		/* the kind, once the "maps" path resolved the chunk */
	char *path;		/* resolved from /proc/PID/maps, or NULL */
	bool present;
};

struct rrow {
	uint32_t pid;
	struct vigil_mem_rval val;
	__s64 last[VIGIL_RSS__COUNT];
	bool present;
};

/* a metric label set and what it counted */
struct acc {
	char key[400];		/* container name, or "(host)"; OOM: scope|memcg|container */
	uint64_t v[2];
};

struct maps_cache {
	uint32_t pid;
	struct mem_vma *v;
	size_t n, cap;
};

struct mem_priv {
	struct vigil_session s;
	struct mem_bpf *skel;
	bool started, find_vma;
	struct bpf_link *perf[MEM_MAX_CPUS];
	int nperf;
	struct frow *rows;
	size_t n, cap;
	struct mem_show *gone;		/* faults of exited processes, for the summary */
	size_t ngone, capgone;
	uint64_t gone_dropped;
	struct rrow *rss;
	size_t nrss, caprss;
	uint64_t full_seen[2], full_iv[2];
	uint64_t span_start, run_start;
	struct maps_cache mc;
	struct acc fault_acc[MEM_MAX_ACC + 1];	/* of exited processes; the last is "(other)" */
	size_t nfacc;
	struct acc oom_acc[MEM_MAX_ACC + 1];
	size_t noacc;
	uint64_t oom_kills;
	char memmnt[MEM_PATH_LEN];	/* the memory controller's mount */
	bool memmnt_done;
};

static int opt_events(void *base, const char *arg)
{
	char bad[64];

	if (mem_events_parse(arg, &((struct mem_opts *)base)->events, bad, sizeof(bad))) {
		vigil_usage_error("invalid event kind '%s': faults, oom or rss, comma separated", bad);
		return -1;
	}
	return 0;
}

static int opt_mechanism(void *base, const char *arg)
{
	((struct mem_opts *)base)->mechanism = arg;
	return 0;
}

#define O(f) VOFF(struct mem_opts, f)

static const struct vigil_opt mem_opts[] = {
	VOPT_SECTION("What (default: faults and OOM kills, top 20 every second)"),
	{ "events", 'e', VO_FUNC, 0, "LIST", "faults, oom, rss, comma separated (default faults,oom)",
	  opt_events },
	{ "kernel", 'K', VO_FLAG, O(kernel), NULL,
	  "also faults the kernel takes on user memory (exceptions:page_fault_kernel)" },
	{ "top", 'n', VO_U32, O(top), "N", "only the first N rows of each interval (0: all)" },
	{ "min-faults", 0, VO_U32, O(min_faults), "N", "only rows with at least N faults in the interval" },
	{ "max-maps", 0, VO_U32, O(max_maps), "N",
	  "rows the kernel keeps (process and mapping; default 16384); more are counted as dropped",
	  .min = 1, .max = MEM_MAX_MAPS },
	{ "container-metrics", 0, VO_FLAG, O(container_metrics), NULL,
	  "agent: faults and RSS per container (default: host totals)" },
	{ "mechanism", 0, VO_FUNC, 0, "NAME",
	  "auto (default: find_vma when it loads here, else maps), find_vma or maps", opt_mechanism },
	{ "test-skip-self-check", 0, VO_FLAG, O(no_trigger), NULL,
	  "make no start-up activity, so no mechanism is seen to run", .hidden = true },
	VOPT_END,
};

/* ---- the two ways to name a mapping (docs/mem.md, "Mechanisms") ------------ */

static const char *const no_progs[] = { NULL };
static const char *const fault_seen[] = { "exceptions:page_fault_user", NULL };

static const struct vigil_mech_path paths[] = {
	{ "find_vma", VIGIL_M_TP_BTF, "exceptions:page_fault_user + bpf_find_vma()", no_progs,
	  fault_seen, false },
	{ "maps", VIGIL_M_TP_BTF, "exceptions:page_fault_user, mappings from /proc/PID/maps",
	  no_progs, fault_seen, false },
};

static struct bpf_object_skeleton *mem_open(struct vigil_inst *in, const struct vigil_mech_path *path)
{
	const struct mem_opts *o = in->opts;
	struct mem_priv *p = in->priv;
	struct mem_bpf *skel;
	bool faults = o->events & MEM_EV_FAULTS, oom = o->events & MEM_EV_OOM;

	skel = p->skel = mem_bpf__open();
	if (!skel)
		return NULL;
	p->find_vma = path && !strcmp(path->name, "find_vma");
	skel->rodata->use_find_vma = p->find_vma;
	skel->rodata->want_kernel = o->kernel;
	skel->rodata->self_tgid = getpid();
	bpf_program__set_autoload(skel->progs.mem_fault_user, faults);
	bpf_program__set_autoload(skel->progs.mem_fault_kernel, faults && o->kernel);
	bpf_program__set_autoload(skel->progs.mem_major, faults);
	/* attached per CPU by prepare(): it needs a perf event */
	bpf_program__set_autoattach(skel->progs.mem_major, false);
	bpf_program__set_autoload(skel->progs.mem_rss_stat, o->events & MEM_EV_RSS);
	bpf_program__set_autoload(skel->progs.mem_oom, oom);
	bpf_program__set_autoload(skel->progs.mem_kill_sig, oom);
	bpf_map__set_max_entries(skel->maps.mem_faults, faults ? o->max_maps : 1);
	bpf_map__set_max_entries(skel->maps.mem_rss, o->events & MEM_EV_RSS ? o->max_maps : 1);
	if (!oom) {
		/* OOM kills are the only records */
		bpf_map__set_max_entries(skel->maps.vigil_events, getpagesize());
		bpf_map__set_max_entries(skel->maps.mem_kill, 1);
	}
	return skel->skeleton;
}

static void mem_destroy(struct vigil_inst *in)
{
	struct mem_priv *p = in->priv;

	for (int i = 0; i < p->nperf; i++)
		bpf_link__destroy(p->perf[i]);
	p->nperf = 0;
	mem_bpf__destroy(p->skel);
	p->skel = NULL;
}

/* a fault of each hooked kind, by vigil itself */
static void mem_trigger(struct vigil_inst *in)
{
	const struct mem_opts *o = in->opts;
	long pg = getpagesize();
	char *m;
	int fd;

	if (o->no_trigger)
		return;
	m = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return;
	m[0] = 1;
	munmap(m, pg);
	if (!o->kernel)
		return;
	/* the kernel's own write to a fresh user page: page_fault_kernel */
	m = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	if (m != MAP_FAILED && fd >= 0 && read(fd, m, 64) < 0)
		vigil_debug("mem: self-check read failed: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
	if (m != MAP_FAILED)
		munmap(m, pg);
}

/* major faults: a program on the software event of every CPU */
static int mem_prepare(struct vigil_session *s, void *ctx)
{
	struct vigil_inst *in = ctx;
	struct mem_priv *p = in->priv;
	int ncpu = libbpf_num_possible_cpus();

	if (!bpf_program__autoload(p->skel->progs.mem_major))
		return 0;
	for (int cpu = 0; cpu < ncpu && cpu < MEM_MAX_CPUS; cpu++) {
		struct perf_event_attr a = {
			.type = PERF_TYPE_SOFTWARE,
			.size = sizeof(a),
			.config = PERF_COUNT_SW_PAGE_FAULTS_MAJ,
			.sample_period = 1,
		};
		struct bpf_link *l;
		int fd = syscall(SYS_perf_event_open, &a, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);

		if (fd < 0) {
			if (errno == ENODEV)	/* a possible CPU that is not online */
				continue;
			vigil_error("cannot open the major page fault event on cpu %d: %s", cpu,
				    strerror(errno));
			return VIGIL_EXIT_FAIL;
		}
		l = bpf_program__attach_perf_event(p->skel->progs.mem_major, fd);
		if (!l) {
			int err = errno;

			close(fd);
			vigil_error("cannot attach 'mem_major' to cpu %d's major fault event: %s", cpu,
				    strerror(err));
			return VIGIL_EXIT_FAIL;
		}
		p->perf[p->nperf++] = l;
		s->attached++;
	}
	return 0;
}

static const struct vigil_mech_plan plan = {
	.paths = paths,
	.npaths = sizeof(paths) / sizeof(paths[0]),
	.open = mem_open,
	.destroy = mem_destroy,
	.trigger = mem_trigger,
	.prepare = mem_prepare,
};

/* ---- names: /proc/PID/maps, memory cgroups ---------------------------------- */

static void maps_load(struct maps_cache *c, uint32_t pid)
{
	char path[32], line[512];
	FILE *f;

	if (c->pid == pid)
		return;
	c->pid = pid;
	c->n = 0;
	snprintf(path, sizeof(path), "/proc/%u/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (c->n == c->cap) {
			size_t cap = c->cap ? c->cap * 2 : 64;
			struct mem_vma *v = realloc(c->v, cap * sizeof(*v));

			if (!v)
				break;
			c->v = v;
			c->cap = cap;
		}
		if (!mem_maps_parse(line, &c->v[c->n]))
			c->n++;
	}
	fclose(f);
}

/* what the row's mapping is called, and its kind */
static const char *row_name(struct mem_priv *p, struct frow *r, uint32_t *kind)
{
	struct maps_cache *c = &p->mc;

	*kind = r->rmap;
	if (r->path)
		return r->path;
	if (r->key.map == VIGIL_MEM_MAP_FILE) {
		const struct mem_vma *ino_only = NULL;

		maps_load(c, r->key.pid);
		for (size_t i = 0; i < c->n; i++) {
			if (c->v[i].ino != r->key.ino || c->v[i].path[0] != '/')
				continue;
			if (c->v[i].dev == r->key.dev) {
				ino_only = &c->v[i];
				break;
			}
			ino_only = ino_only ? ino_only : &c->v[i];
		}
		if (ino_only)
			r->path = strdup(ino_only->path);
		return r->path ? r->path : r->val.name;
	}
	if (r->key.map == VIGIL_MEM_MAP_ADDR) {
		uint64_t lo = r->key.ino << VIGIL_MEM_CHUNK_SHIFT, hi = lo + (1ull << VIGIL_MEM_CHUNK_SHIFT);

		maps_load(c, r->key.pid);
		for (size_t i = 0; i < c->n; i++)
			if (c->v[i].start < hi && c->v[i].end > lo) {
				r->rmap = *kind = mem_vma_kind(&c->v[i]);
				/* as the find_vma path: one "anon" per process, [vdso] and [vvar] too */
				r->path = strdup(*kind == VIGIL_MEM_MAP_FILE ? c->v[i].path :
						 mem_map_default_name(*kind));
				return r->path ? r->path : "anon";
			}
		*kind = VIGIL_MEM_MAP_UNKNOWN;
		return "(unknown)";
	}
	return mem_map_default_name(r->key.map);
}

/* the memory controller's mount: cgroup v1 "memory", else a cgroup2 that has it */
static const char *memcg_mount(struct mem_priv *p)
{
	char line[1024], v2[MEM_PATH_LEN] = "";
	FILE *f;

	if (p->memmnt_done)
		return p->memmnt[0] ? p->memmnt : NULL;
	p->memmnt_done = true;
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		char *sep = strstr(line, " - "), mnt[MEM_PATH_LEN], fs[32], src[64], sopts[512];
		char *tok, *save;

		if (!sep || sscanf(line, "%*s %*s %*s %*s %255s", mnt) != 1 ||
		    sscanf(sep + 3, "%31s %63s %511s", fs, src, sopts) != 3)
			continue;
		if (!strcmp(fs, "cgroup2") && !v2[0]) {
			snprintf(v2, sizeof(v2), "%s", mnt);
			continue;
		}
		if (strcmp(fs, "cgroup"))
			continue;
		for (tok = strtok_r(sopts, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
			if (!strcmp(tok, "memory")) {
				snprintf(p->memmnt, sizeof(p->memmnt), "%s", mnt);
				fclose(f);
				return p->memmnt;
			}
	}
	fclose(f);
	if (v2[0]) {
		char path[MEM_PATH_LEN + 32], buf[256] = "";
		FILE *c;

		snprintf(path, sizeof(path), "%s/cgroup.controllers", v2);
		c = fopen(path, "re");
		if (c) {
			if (fgets(buf, sizeof(buf), c) && strstr(buf, "memory"))
				snprintf(p->memmnt, sizeof(p->memmnt), "%s", v2);
			fclose(c);
		}
	}
	return p->memmnt[0] ? p->memmnt : NULL;
}

/* the directory at exactly depth levels below dir whose inode is ino */
static bool find_ino(char *dir, size_t cap, uint64_t ino, uint32_t depth)
{
	size_t len = strlen(dir);
	struct dirent *d;
	DIR *D;

	if (!depth) {
		struct stat st;

		return !stat(dir, &st) && st.st_ino == ino;
	}
	D = opendir(dir);
	if (!D)
		return false;
	while ((d = readdir(D))) {
		if (d->d_type != DT_DIR || d->d_name[0] == '.')
			continue;
		if (len + strlen(d->d_name) + 2 > cap)
			continue;
		snprintf(dir + len, cap - len, "/%s", d->d_name);
		if ((depth == 1 && d->d_ino == ino) || (depth > 1 && find_ino(dir, cap, ino, depth - 1))) {
			closedir(D);
			return true;
		}
		dir[len] = 0;
	}
	closedir(D);
	return false;
}

/* a memory cgroup's path in its hierarchy ("/" for the root), or "" */
static void memcg_path(struct mem_priv *p, uint64_t id, uint32_t level, char *out, size_t n)
{
	const char *mnt = memcg_mount(p);
	char dir[1024];
	size_t ml;

	out[0] = 0;
	if (!mnt)
		return;
	snprintf(dir, sizeof(dir), "%s", mnt);
	ml = strlen(dir);
	if (find_ino(dir, sizeof(dir), id, level))
		snprintf(out, n, "%s", dir[ml] ? dir + ml : "/");
}

/* ---- OOM kills ------------------------------------------------------------------- */

static void oom_col_detail(const struct vrow *r, char *buf, size_t n)
{
	const struct vfield *lim = vrow_get(r, "limit_memcg");
	size_t o;

	o = snprintf(buf, n, "anon=%lluK file=%lluK shmem=%lluK pgtables=%lluK adj=%lld ",
		     (unsigned long long)vrow_u(r, "anon_rss_kb"),
		     (unsigned long long)vrow_u(r, "file_rss_kb"),
		     (unsigned long long)vrow_u(r, "shmem_rss_kb"),
		     (unsigned long long)vrow_u(r, "pgtables_kb"),
		     (long long)vrow_i(r, "oom_score_adj"));
	if (o >= n)
		return;
	if (lim)
		o += snprintf(buf + o, n - o, "memcg %s at limit %lluK", lim->s,
			      (unsigned long long)(vrow_u(r, "limit_bytes") >> 10));
	else
		o += snprintf(buf + o, n - o, "%s", vrow_s(r, "scope"));
	if (o < n)
		snprintf(buf + o, n - o, "; by %llu (%s)", (unsigned long long)vrow_u(r, "trigger_pid"),
			 vrow_s(r, "trigger_comm"));
}

static const struct vcol oom_cols[] = {
	VCOL_TIME,
	{ "EVENT", 8, "type" },
	{ "PID", 7, "pid", NULL, true },
	{ "COMM", 16, "comm" },
	{ "DETAIL", 0, NULL, oom_col_detail },
	{ 0 },
};

/* what /proc still says of a victim whose task the kernel did not pass (6.1) */
static uint32_t oom_from_proc(struct vigil_mem_oom *e)
{
	char path[48], line[256];
	uint32_t got = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/status", e->victim_pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v;

		if (sscanf(line, "Name: %15s", e->hdr.comm) == 1)
			got |= 1;
		else if (sscanf(line, "Tgid: %llu", &v) == 1)
			e->hdr.pid = v;
		else if (sscanf(line, "VmSize: %llu", &v) == 1)
			e->total_vm_kb = v;
		else if (sscanf(line, "RssAnon: %llu", &v) == 1)
			e->anon_rss_kb = v, got |= 2;
		else if (sscanf(line, "RssFile: %llu", &v) == 1)
			e->file_rss_kb = v;
		else if (sscanf(line, "RssShmem: %llu", &v) == 1)
			e->shmem_rss_kb = v;
		else if (sscanf(line, "VmPTE: %llu", &v) == 1)
			e->pgtables_kb = v;
		else if (sscanf(line, "VmSwap: %llu", &v) == 1)
			e->swap_kb = v;
	}
	fclose(f);
	snprintf(path, sizeof(path), "/proc/%u/oom_score_adj", e->victim_pid);
	f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%d", &e->oom_score_adj) == 1)
			got |= 4;
		fclose(f);
	}
	return got;
}

static void oom_count(struct mem_priv *p, const char *key)
{
	size_t i;

	p->oom_kills++;
	for (i = 0; i < p->noacc; i++)
		if (!strcmp(p->oom_acc[i].key, key))
			break;
	if (i == p->noacc) {
		if (p->noacc == MEM_MAX_ACC) {
			i = MEM_MAX_ACC;
			snprintf(p->oom_acc[i].key, sizeof(p->oom_acc[i].key), "(other)||(other)");
		} else {
			snprintf(p->oom_acc[p->noacc++].key, sizeof(p->oom_acc[0].key), "%s", key);
		}
	}
	p->oom_acc[i].v[0]++;
}

static const char *container_name(struct vigil_inst *in, uint64_t cgid)
{
	const struct vigil_container *c = in->containers && cgid ?
		vigil_container_lookup(in->containers, cgid) : NULL;

	if (!c)
		return "(host)";
	return c->name_state == VIGIL_CNAME_KNOWN ? c->name : c->id;
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct vigil_inst *in = ctx;
	struct mem_priv *p = in->priv;
	struct vigil_mem_oom e;
	char memcg[MEM_PATH_LEN], limit[MEM_PATH_LEN], key[400];
	const char *missing[8], *scope;
	char missbuf[128];
	uint32_t nmiss = 0, ml = 0;
	struct vrow r;

	if (size < sizeof(e) || ((struct vigil_hdr *)data)->type != VIGIL_EV_MEM_OOM)
		return 0;
	memcpy(&e, data, sizeof(e));
	e.hdr.comm[VIGIL_COMM_LEN - 1] = e.trig_comm[VIGIL_COMM_LEN - 1] = 0;
	e.limit_name[VIGIL_MEM_NAME_LEN - 1] = 0;
	if (!(e.flags & VIGIL_OOM_TASK)) {
		uint32_t got = oom_from_proc(&e);

		if (!(got & 1))
			missing[nmiss++] = "comm";
		if (!(got & 2))
			missing[nmiss++] = "memory";
		if (!(got & 4))
			missing[nmiss++] = "oom_score_adj";
		missing[nmiss++] = "cgroup_id";
		missing[nmiss++] = "memcg";
	} else if (!(e.flags & VIGIL_OOM_MM)) {
		missing[nmiss++] = "memory";
	}
	memcg[0] = limit[0] = 0;
	if (e.flags & VIGIL_OOM_MEMCG)
		memcg_path(p, e.memcg_id, e.memcg_level, memcg, sizeof(memcg));
	if (e.flags & VIGIL_OOM_LIMIT) {
		memcg_path(p, e.limit_id, e.limit_level, limit, sizeof(limit));
		if (!limit[0])
			snprintf(limit, sizeof(limit), "%s", e.limit_name);
	}
	scope = e.flags & VIGIL_OOM_LIMIT ? "memcg" : e.flags & VIGIL_OOM_MEMCG ? "system" : "unknown";
	for (uint32_t i = 0; i < nmiss; i++)
		ml += snprintf(missbuf + ml, sizeof(missbuf) - ml, "%s", missing[i]) + 1;
	vrow_init(&r);
	vrow_hdr(&r, "oom_kill", &e.hdr);
	vrow_u64(&r, "victim_tid", e.victim_pid);
	vrow_str(&r, "tracepoint_args", e.flags & VIGIL_OOM_TP_FULL ? "task" : "pid");
	vrow_str(&r, "victim_source", e.flags & VIGIL_OOM_TP_FULL ? "mark_victim" :
		 e.flags & VIGIL_OOM_TASK ? "signal_generate" : "proc");
	vrow_u64(&r, "total_vm_kb", e.total_vm_kb);
	vrow_u64(&r, "anon_rss_kb", e.anon_rss_kb);
	vrow_u64(&r, "file_rss_kb", e.file_rss_kb);
	vrow_u64(&r, "shmem_rss_kb", e.shmem_rss_kb);
	vrow_u64(&r, "swap_kb", e.swap_kb);
	vrow_u64(&r, "pgtables_kb", e.pgtables_kb);
	vrow_s64(&r, "oom_score_adj", e.oom_score_adj);
	vrow_u64(&r, "trigger_pid", e.trig_pid);
	vrow_u64(&r, "trigger_tid", e.trig_tid);
	vrow_str(&r, "trigger_comm", e.trig_comm);
	vrow_u64(&r, "trigger_cgroup_id", e.trig_cgroup_id);
	vrow_str(&r, "scope", scope);
	if (e.flags & VIGIL_OOM_MEMCG) {
		vrow_u64(&r, "memcg_id", e.memcg_id);
		vrow_str(&r, "memcg", memcg[0] ? memcg : "");
	}
	if (e.flags & VIGIL_OOM_LIMIT) {
		vrow_u64(&r, "limit_memcg_id", e.limit_id);
		vrow_str(&r, "limit_memcg", limit);
		vrow_u64(&r, "limit_bytes", e.limit_bytes);
		vrow_u64(&r, "usage_bytes", e.usage_bytes);
	}
	vrow_strlist(&r, "missing", missbuf, ml);
	snprintf(key, sizeof(key), "%s|%s|%s", scope, limit, container_name(in, e.hdr.cgroup_id));
	oom_count(p, key);
	if (!in->sink->json) {
		out_set_columns(in->sink, oom_cols);
		out_header(in->sink);
	}
	return out_row(in->sink, &r);
}

/* ---- faults: read the kernel's counts, show the interval's ----------------------- */

static int fkey_cmp(const void *a, const void *b)
{
	const struct vigil_mem_fkey *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->map != y->map)
		return x->map < y->map ? -1 : 1;
	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

static int frow_cmp(const void *a, const void *b)
{
	return fkey_cmp(&((const struct frow *)a)->key, &((const struct frow *)b)->key);
}

static void read_full(struct mem_priv *p)
{
	int ncpu = libbpf_num_possible_cpus();

	if (ncpu <= 0)
		return;
	uint64_t v[ncpu];

	for (__u32 k = 0; k < 2; k++) {
		uint64_t sum = 0;

		if (bpf_map_lookup_elem(bpf_map__fd(p->skel->maps.mem_full), &k, v))
			continue;
		for (int c = 0; c < ncpu; c++)
			sum += v[c];
		p->full_iv[k] = sum - p->full_seen[k];
		p->full_seen[k] = sum;
	}
}

/* the kernel's rows into p->rows (kept sorted by key) */
static int collect_faults(struct mem_priv *p)
{
	int fd = bpf_map__fd(p->skel->maps.mem_faults);
	struct vigil_mem_fkey key, next, *prev = NULL;
	size_t old = p->n;
	bool added = false;

	for (size_t i = 0; i < p->n; i++)
		p->rows[i].present = false;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		struct vigil_mem_fval val;
		struct frow *r;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &val))
			continue;
		r = bsearch(&key, p->rows, old, sizeof(*r), fkey_cmp);
		if (!r) {
			if (p->n == p->cap) {
				size_t cap = p->cap ? p->cap * 2 : 64;
				struct frow *q = realloc(p->rows, cap * sizeof(*q));

				if (!q)
					return -ENOMEM;
				p->rows = q;
				p->cap = cap;
			}
			r = &p->rows[p->n++];
			memset(r, 0, sizeof(*r));
			r->key = key;
			r->rmap = key.map;
			added = true;
		}
		val.comm[VIGIL_COMM_LEN - 1] = 0;
		val.name[VIGIL_MEM_NAME_LEN - 1] = 0;
		r->val = val;
		r->present = true;
	}
	if (added)
		qsort(p->rows, p->n, sizeof(*p->rows), frow_cmp);
	read_full(p);
	return 0;
}

static void show_fill(struct mem_priv *p, struct frow *r, struct mem_show *s, uint64_t f, uint64_t m)
{
	uint32_t kind;
	const char *name = row_name(p, r, &kind);

	memset(s, 0, sizeof(*s));
	s->pid = r->key.pid;
	s->uid = r->val.uid;
	s->map = kind;
	s->cgroup_id = r->val.cgroup_id;
	s->faults = f;
	s->major = m;
	if (kind == VIGIL_MEM_MAP_FILE && r->key.map == VIGIL_MEM_MAP_FILE) {
		s->dev = r->key.dev;
		s->ino = r->key.ino;
	}
	memcpy(s->comm, r->val.comm, sizeof(s->comm));
	snprintf(s->name, sizeof(s->name), "%s", name);
}

static void col_fkind(const struct vrow *r, char *buf, size_t n)
{
	snprintf(buf, n, "%s", vrow_s(r, "kind"));
}

static const struct vcol fault_cols[] = {
	{ "PID", 7, "pid", NULL, true },
	{ "COMM", 16, "comm" },
	{ "FAULTS", 9, "faults", NULL, true },
	{ "MINOR", 9, "minor", NULL, true },
	{ "MAJOR", 7, "major", NULL, true },
	{ "KIND", 6, NULL, col_fkind },
	{ "MAPPING", 0, "mapping" },
	{ 0 },
};

static int render_faults(struct vigil_inst *in, struct mem_show *sh, size_t n, bool final,
			 uint64_t span, uint64_t dropped)
{
	const struct mem_opts *o = in->opts;
	struct mem_priv *p = in->priv;
	struct vigil_sink *k = in->sink;
	uint64_t now = vigil_boot_ns(), faults = 0, major = 0;
	size_t shown = 0, lim;
	char iso[40], dur[32];
	struct vrow r;

	n = mem_show_merge(sh, n);
	qsort(sh, n, sizeof(*sh), mem_show_cmp);
	for (size_t i = 0; i < n; i++) {
		faults += sh[i].faults;
		major += sh[i].major;
	}
	while (shown < n && sh[shown].faults + sh[shown].major >= (o->min_faults ? o->min_faults : 1))
		shown++;
	lim = o->top && o->top < shown ? o->top : shown;
	vigil_iso_time(now, iso, sizeof(iso));
	vrow_init(&r);
	vrow_str(&r, "type", "mem_faults_summary");
	vrow_u64(&r, "ts", now);
	vrow_str(&r, "time", iso);
	vrow_bool(&r, "final", final);
	vrow_u64(&r, "span_ns", span);
	vrow_str(&r, "mechanism", p->find_vma ? "find_vma" : "maps");
	vrow_u64(&r, "rows", n);
	vrow_u64(&r, "shown", lim);
	vrow_u64(&r, "faults", faults);
	vrow_u64(&r, "major", major);
	vrow_u64(&r, "dropped", dropped);
	if (final)
		vrow_u64(&r, "rows_dropped", p->gone_dropped);
	if (k->json) {
		if (out_row(k, &r) < 0)
			return -1;
	} else {
		char hhmmss[16];

		vcol_time(&r, hhmmss, sizeof(hhmmss));
		vigil_fmt_duration(span, dur, sizeof(dur));
		out_text(k, "\n%s  page faults, %s %s: %llu (%llu major) in %zu mappings%s", hhmmss,
			 final ? "total over" : "last", dur, (unsigned long long)faults,
			 (unsigned long long)major, n, lim < n ? ", top rows" : "");
		if (dropped)
			out_text(k, "; %llu faults not counted: kernel map full (raise --max-maps)",
				 (unsigned long long)dropped);
		out_text(k, "\n");
		out_set_columns(k, fault_cols);
		out_header(k);
	}
	for (size_t i = 0; i < lim; i++) {
		const struct mem_show *s = &sh[i];

		vrow_init(&r);
		vrow_str(&r, "type", "mem_faults");
		vrow_u64(&r, "ts", now);
		vrow_str(&r, "time", iso);
		vrow_bool(&r, "final", final);
		vrow_u64(&r, "span_ns", span);
		vrow_u64(&r, "pid", s->pid);
		vrow_u64(&r, "uid", s->uid);
		vrow_str(&r, "comm", s->comm);
		vrow_u64(&r, "cgroup_id", s->cgroup_id);
		vrow_str(&r, "kind", mem_map_kind(s->map));
		vrow_str(&r, "mapping", s->name);
		if (s->ino) {
			vrow_u64(&r, "ino", s->ino);
			vrow_u64(&r, "dev_major", s->dev >> 20);
			vrow_u64(&r, "dev_minor", s->dev & ((1u << 20) - 1));
		}
		/* the tracepoint counts every fault, the perf event the major ones */
		vrow_u64(&r, "faults", s->faults);
		vrow_u64(&r, "minor", s->faults > s->major ? s->faults - s->major : 0);
		vrow_u64(&r, "major", s->major);
		if (out_row(k, &r) < 0)
			return -1;
	}
	return 0;
}

/* exited processes: their rows leave the kernel map, their counts stay in the totals */
static void faults_reap(struct vigil_inst *in)
{
	const struct mem_opts *o = in->opts;
	struct mem_priv *p = in->priv;
	int fd = bpf_map__fd(p->skel->maps.mem_faults);
	size_t w = 0;

	for (size_t i = 0; i < p->n; i++) {
		struct frow *r = &p->rows[i];
		const char *cn;
		size_t a;

		if (r->present && (kill(r->key.pid, 0) == 0 || errno != ESRCH)) {
			p->rows[w++] = *r;
			continue;
		}
		if (r->present) {
			bpf_map_delete_elem(fd, &r->key);
			if (p->ngone < (size_t)o->max_maps * MEM_GONE_FACTOR) {
				if (p->ngone == p->capgone) {
					size_t cap = p->capgone ? p->capgone * 2 : 64;
					struct mem_show *q = realloc(p->gone, cap * sizeof(*q));

					if (q) {
						p->gone = q;
						p->capgone = cap;
					}
				}
				if (p->ngone < p->capgone)
					show_fill(p, r, &p->gone[p->ngone++], r->val.faults, r->val.major);
				else
					p->gone_dropped++;
			} else {
				p->gone_dropped++;
			}
			/* the agent's counters must not go down when a process goes */
			cn = o->container_metrics ? container_name(in, r->val.cgroup_id) : "(host)";
			for (a = 0; a < p->nfacc; a++)
				if (!strcmp(p->fault_acc[a].key, cn))
					break;
			if (a == p->nfacc) {
				if (p->nfacc < MEM_MAX_ACC)
					snprintf(p->fault_acc[p->nfacc++].key, sizeof(p->fault_acc[0].key),
						 "%s", cn);
				else
					snprintf(p->fault_acc[a = MEM_MAX_ACC].key,
						 sizeof(p->fault_acc[0].key), "(other)");
			}
			p->fault_acc[a].v[0] += r->val.faults;
			p->fault_acc[a].v[1] += r->val.major;
		}
		free(r->path);
	}
	p->n = w;
}

static int faults_interval(struct vigil_inst *in, bool final, uint64_t span)
{
	struct mem_priv *p = in->priv;
	struct mem_show *sh;
	size_t n = 0;
	int err;

	if (collect_faults(p)) {
		vigil_error("cannot read the page fault counts: %s", strerror(ENOMEM));
		return VIGIL_EXIT_FAIL;
	}
	p->mc.pid = 0;		/* maps change: read them again */
	sh = calloc(p->n + (final ? p->ngone : 0) + 1, sizeof(*sh));
	if (!sh)
		return VIGIL_EXIT_FAIL;
	for (size_t i = 0; i < p->n; i++) {
		struct frow *r = &p->rows[i];
		uint64_t f = final ? r->val.faults : r->val.faults - r->last_faults;
		uint64_t m = final ? r->val.major : r->val.major - r->last_major;

		r->last_faults = r->val.faults;
		r->last_major = r->val.major;
		if (f || m)
			show_fill(p, r, &sh[n++], f, m);
	}
	if (final) {
		memcpy(sh + n, p->gone, p->ngone * sizeof(*sh));
		n += p->ngone;
	}
	err = render_faults(in, sh, n, final, span, final ? p->full_seen[0] : p->full_iv[0]);
	free(sh);
	if (!final)
		faults_reap(in);
	return err < 0 ? -1 : 0;
}

/* ---- RSS ------------------------------------------------------------------------ */

static int rrow_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = ((const struct rrow *)b)->pid;

	return x < y ? -1 : x > y;
}

static int rrow_sort(const void *a, const void *b)
{
	uint32_t x = ((const struct rrow *)a)->pid, y = ((const struct rrow *)b)->pid;

	return x < y ? -1 : x > y;
}

static int collect_rss(struct mem_priv *p)
{
	int fd = bpf_map__fd(p->skel->maps.mem_rss);
	__u32 key, next, *prev = NULL;
	size_t old = p->nrss;
	bool added = false;

	for (size_t i = 0; i < p->nrss; i++)
		p->rss[i].present = false;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		struct vigil_mem_rval val;
		struct rrow *r;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &val))
			continue;
		r = bsearch(&key, p->rss, old, sizeof(*r), rrow_cmp);
		if (!r) {
			if (p->nrss == p->caprss) {
				size_t cap = p->caprss ? p->caprss * 2 : 64;
				struct rrow *q = realloc(p->rss, cap * sizeof(*q));

				if (!q)
					return -ENOMEM;
				p->rss = q;
				p->caprss = cap;
			}
			r = &p->rss[p->nrss++];
			memset(r, 0, sizeof(*r));
			r->pid = key;
			added = true;
		}
		val.comm[VIGIL_COMM_LEN - 1] = 0;
		/* kinds first seen since the last interval start from their first value */
		for (int k = 0; k < VIGIL_RSS__COUNT; k++)
			if ((val.seen & (1u << k)) && !(r->val.seen & (1u << k)))
				r->last[k] = val.first[k];
		r->val = val;
		r->present = true;
	}
	if (added)
		qsort(p->rss, p->nrss, sizeof(*p->rss), rrow_sort);
	return 0;
}

struct rshow {
	struct rrow *r;
	__s64 d[VIGIL_RSS__COUNT];
	__s64 growth;
};

static int rshow_cmp(const void *a, const void *b)
{
	const struct rshow *x = a, *y = b;

	if (x->growth != y->growth)
		return x->growth > y->growth ? -1 : 1;
	return x->r->pid < y->r->pid ? -1 : x->r->pid > y->r->pid;
}

static void col_kb(const struct vrow *r, char *buf, size_t n, const char *k)
{
	snprintf(buf, n, "%lld", (long long)(vrow_i(r, k) / 1024));
}

static void col_growth(const struct vrow *r, char *b, size_t n) { col_kb(r, b, n, "growth_bytes"); }
static void col_anon(const struct vrow *r, char *b, size_t n) { col_kb(r, b, n, "anon_bytes"); }
static void col_file(const struct vrow *r, char *b, size_t n) { col_kb(r, b, n, "file_bytes"); }
static void col_shmem(const struct vrow *r, char *b, size_t n) { col_kb(r, b, n, "shmem_bytes"); }
static void col_swap(const struct vrow *r, char *b, size_t n) { col_kb(r, b, n, "swap_bytes"); }

static void col_rss(const struct vrow *r, char *buf, size_t n)
{
	snprintf(buf, n, "%llu", (unsigned long long)(vrow_u(r, "rss_bytes") / 1024));
}

static const struct vcol rss_cols[] = {
	{ "PID", 7, "pid", NULL, true },
	{ "COMM", 16, "comm" },
	{ "GROWTH_KB", 10, NULL, col_growth, true },
	{ "ANON_KB", 10, NULL, col_anon, true },
	{ "FILE_KB", 9, NULL, col_file, true },
	{ "SHMEM_KB", 9, NULL, col_shmem, true },
	{ "SWAP_KB", 9, NULL, col_swap, true },
	{ "RSS_KB", 0, NULL, col_rss, true },
	{ 0 },
};

static int rss_interval(struct vigil_inst *in, bool final, uint64_t span)
{
	const struct mem_opts *o = in->opts;
	struct mem_priv *p = in->priv;
	struct vigil_sink *k = in->sink;
	uint64_t now = vigil_boot_ns();
	int fd = bpf_map__fd(p->skel->maps.mem_rss);
	char iso[40], dur[32];
	struct rshow *sh;
	size_t n = 0, lim, w = 0;
	struct vrow r;
	int err = 0;

	if (collect_rss(p)) {
		vigil_error("cannot read the rss counts: %s", strerror(ENOMEM));
		return VIGIL_EXIT_FAIL;
	}
	sh = calloc(p->nrss + 1, sizeof(*sh));
	if (!sh)
		return VIGIL_EXIT_FAIL;
	for (size_t i = 0; i < p->nrss; i++) {
		struct rrow *q = &p->rss[i];

		sh[n].r = q;
		sh[n].growth = mem_rss_growth(q->val.cur, final ? q->val.first : q->last, sh[n].d);
		if (sh[n].growth || sh[n].d[VIGIL_RSS_SWAP])
			n++;
		memcpy(q->last, q->val.cur, sizeof(q->last));
	}
	qsort(sh, n, sizeof(*sh), rshow_cmp);
	lim = o->top && o->top < n ? o->top : n;
	vigil_iso_time(now, iso, sizeof(iso));
	vrow_init(&r);
	vrow_str(&r, "type", "mem_rss_summary");
	vrow_u64(&r, "ts", now);
	vrow_str(&r, "time", iso);
	vrow_bool(&r, "final", final);
	vrow_u64(&r, "span_ns", span);
	vrow_u64(&r, "processes", n);
	vrow_u64(&r, "shown", lim);
	vrow_u64(&r, "dropped", final ? p->full_seen[1] : p->full_iv[1]);
	if (k->json) {
		err = out_row(k, &r);
	} else {
		char hhmmss[16];

		vcol_time(&r, hhmmss, sizeof(hhmmss));
		vigil_fmt_duration(span, dur, sizeof(dur));
		out_text(k, "\n%s  resident memory growth, %s %s: %zu processes changed\n", hhmmss,
			 final ? "total over" : "last", dur, n);
		out_set_columns(k, rss_cols);
		out_header(k);
	}
	for (size_t i = 0; i < lim && err >= 0; i++) {
		const struct rrow *q = sh[i].r;
		const __s64 *c = q->val.cur;

		vrow_init(&r);
		vrow_str(&r, "type", "mem_rss");
		vrow_u64(&r, "ts", now);
		vrow_str(&r, "time", iso);
		vrow_bool(&r, "final", final);
		vrow_u64(&r, "span_ns", span);
		vrow_u64(&r, "pid", q->pid);
		vrow_str(&r, "comm", q->val.comm);
		vrow_u64(&r, "cgroup_id", q->val.cgroup_id);
		vrow_s64(&r, "growth_bytes", sh[i].growth);
		vrow_s64(&r, "anon_bytes", sh[i].d[VIGIL_RSS_ANON]);
		vrow_s64(&r, "file_bytes", sh[i].d[VIGIL_RSS_FILE]);
		vrow_s64(&r, "shmem_bytes", sh[i].d[VIGIL_RSS_SHMEM]);
		vrow_s64(&r, "swap_bytes", sh[i].d[VIGIL_RSS_SWAP]);
		vrow_u64(&r, "rss_bytes", c[VIGIL_RSS_ANON] + c[VIGIL_RSS_FILE] + c[VIGIL_RSS_SHMEM]);
		vrow_u64(&r, "rss_anon_bytes", c[VIGIL_RSS_ANON]);
		vrow_u64(&r, "rss_file_bytes", c[VIGIL_RSS_FILE]);
		vrow_u64(&r, "rss_shmem_bytes", c[VIGIL_RSS_SHMEM]);
		vrow_u64(&r, "swap_now_bytes", c[VIGIL_RSS_SWAP]);
		err = out_row(k, &r);
	}
	free(sh);
	if (final || err < 0)
		return err < 0 ? -1 : 0;
	/* exited processes leave the map after their last interval was shown */
	for (size_t i = 0; i < p->nrss; i++) {
		if (p->rss[i].present && (kill(p->rss[i].pid, 0) == 0 || errno != ESRCH)) {
			p->rss[w++] = p->rss[i];
			continue;
		}
		bpf_map_delete_elem(fd, &p->rss[i].pid);
	}
	p->nrss = w;
	return 0;
}

/* ---- run ---------------------------------------------------------------------- */

static int interval(struct vigil_inst *in, bool final)
{
	const struct mem_opts *o = in->opts;
	struct mem_priv *p = in->priv;
	uint64_t mono = vigil_mono_ns();
	uint64_t span = final ? mono - p->run_start : mono - p->span_start;
	int err = 0;

	if (o->events & MEM_EV_FAULTS)
		err = faults_interval(in, final, span);
	if (!err && (o->events & MEM_EV_RSS))
		err = rss_interval(in, final, span);
	p->span_start = mono;
	if (!err && out_flush(in->sink))
		err = -1;
	return err;
}

static int mem_tick(struct vigil_inst *in)
{
	const struct mem_opts *o = in->opts;

	if (!(o->events & (MEM_EV_FAULTS | MEM_EV_RSS)))
		return 0;
	return interval(in, false);
}

static int mem_check(struct vigil_inst *in)
{
	const struct mem_opts *o = in->opts;

	if (o->kernel && !(o->events & MEM_EV_FAULTS)) {
		vigil_usage_error("--kernel counts page faults: add faults to --events");
		return VIGIL_EXIT_USAGE;
	}
	if (o->min_faults && !(o->events & MEM_EV_FAULTS)) {
		vigil_usage_error("--min-faults needs faults in --events");
		return VIGIL_EXIT_USAGE;
	}
	if (o->mechanism && strcmp(o->mechanism, "auto") && !(o->events & MEM_EV_FAULTS)) {
		vigil_usage_error("--mechanism chooses how faults are counted: add faults to --events");
		return VIGIL_EXIT_USAGE;
	}
	return 0;
}

/*
 * Say once what this kernel's oom:mark_victim lacks. The BPF side finds out
 * for itself through BTF (CO-RE); this only tells the user, from the event's
 * format in tracefs, which is there whenever tracing is.
 */
static void oom_report_fields(void)
{
	const char *tfs = vigil_tracefs_path();
	char path[512], buf[4096];
	size_t n;
	FILE *f;

	if (!tfs)
		return;
	snprintf(path, sizeof(path), "%s/events/oom/mark_victim/format", tfs);
	f = fopen(path, "re");
	if (!f) {
		vigil_warn("mem: no oom:mark_victim tracepoint here ('%s'): OOM kills are not seen", path);
		return;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	if (!strstr(buf, "anon_rss"))
		vigil_info("mem: oom:mark_victim has only the victim's pid on this kernel (before 6.8): "
			   "the victim's task and memory come from the OOM killer's SIGKILL "
			   "(signal:signal_generate)");
}

static int mem_start(struct vigil_inst *in)
{
	const struct mem_opts *o = in->opts;
	struct mem_priv *p = in->priv;
	struct vigil_mech_choice choice;
	int err;

	out_set_columns(in->sink, oom_cols);
	if (o->events & MEM_EV_OOM)
		oom_report_fields();
	if (o->events & MEM_EV_FAULTS) {
		in->c.mechanism = o->mechanism;
		err = vigil_session_start_plan(&p->s, in, &plan, on_event, in, &choice);
	} else {
		err = vigil_session_open(&p->s, in, mem_open(in, NULL) ? p->skel->skeleton : NULL);
		p->s.prepare = mem_prepare;
		p->s.prepare_ctx = in;
		if (!err)
			err = vigil_session_start(&p->s, on_event, in);
	}
	if (err)
		return err;
	p->started = true;
	p->run_start = p->span_start = vigil_mono_ns();
	return 0;
}

static int mem_stop(struct vigil_inst *in, int err)
{
	struct mem_priv *p = in->priv;

	if (!p->started)
		goto out;
	/* the perf links first: no new counts while the session drains */
	for (int i = 0; i < p->nperf; i++)
		bpf_link__destroy(p->perf[i]);
	p->nperf = 0;
	err = vigil_session_close(&p->s, err);
	if (!in->sink->broken_pipe && !err && in->feat->tick &&
	    (VIGIL_OPTS(in, struct mem_opts)->events & (MEM_EV_FAULTS | MEM_EV_RSS)) &&
	    interval(in, true) < 0 && !in->sink->broken_pipe)
		err = VIGIL_EXIT_FAIL;
	if (p->full_seen[0] + p->full_seen[1] + p->gone_dropped)
		vigil_warn("mem: %llu faults and %llu rss updates not counted because a kernel map was "
			   "full, %llu rows left out of the totals (raise --max-maps)",
			   (unsigned long long)p->full_seen[0], (unsigned long long)p->full_seen[1],
			   (unsigned long long)p->gone_dropped);
out:
	mem_destroy(in);
	for (size_t i = 0; i < p->n; i++)
		free(p->rows[i].path);
	free(p->rows);
	free(p->gone);
	free(p->rss);
	free(p->mc.v);
	p->rows = NULL;
	p->gone = NULL;
	p->rss = NULL;
	p->mc.v = NULL;
	p->n = p->ngone = p->nrss = 0;
	return err;
}

static int mem_sessions(struct vigil_inst *in, struct vigil_session **out, int max)
{
	struct mem_priv *p = in->priv;

	out[0] = &p->s;
	return max > 0 && p->started ? 1 : 0;
}

/* ---- the agent's metrics ------------------------------------------------------------ */

static size_t acc_find(struct acc *a, size_t *n, const char *key)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (!strcmp(a[i].key, key))
			return i;
	if (*n == MEM_MAX_ACC) {
		snprintf(a[MEM_MAX_ACC].key, sizeof(a[0].key), "(other)");
		return MEM_MAX_ACC;
	}
	memset(&a[*n], 0, sizeof(a[0]));
	snprintf(a[*n].key, sizeof(a[0].key), "%s", key);
	return (*n)++;
}

static void mem_metrics(struct vigil_inst *in, struct vigil_metrics *m)
{
	const struct mem_opts *o = in->opts;
	struct mem_priv *p = in->priv;
	struct acc *live;
	size_t nlive = 0;

	if (!p->started || !(live = calloc(MEM_MAX_ACC + 1, sizeof(*live))))
		return;
	if (o->events & MEM_EV_FAULTS) {
		int fd = bpf_map__fd(p->skel->maps.mem_faults);
		struct vigil_mem_fkey key, next, *prev = NULL;
		struct vigil_mem_fval v;

		/* the kernel's counts since start, plus those of processes that went */
		for (size_t i = 0; i < p->nfacc; i++)
			live[nlive++] = p->fault_acc[i];
		if (p->fault_acc[MEM_MAX_ACC].key[0])
			live[MEM_MAX_ACC] = p->fault_acc[MEM_MAX_ACC];
		else
			memset(&live[MEM_MAX_ACC], 0, sizeof(live[0]));
		while (bpf_map_get_next_key(fd, prev, &next) == 0) {
			size_t a;

			key = next;
			prev = &key;
			if (bpf_map_lookup_elem(fd, &key, &v))
				continue;
			a = acc_find(live, &nlive, o->container_metrics ?
				     container_name(in, v.cgroup_id) : "(host)");
			live[a].v[0] += v.faults;
			live[a].v[1] += v.major;
		}
		vm_family(m, "vigil_mem_page_faults_total", "counter",
			  "page faults: minor (all faults less the major ones) and major (needed I/O)");
		for (size_t i = 0; i <= MEM_MAX_ACC; i++) {
			if (i >= nlive && i != MEM_MAX_ACC)
				continue;
			if (i == MEM_MAX_ACC && !live[i].key[0])
				continue;
			uint64_t minor = live[i].v[0] > live[i].v[1] ? live[i].v[0] - live[i].v[1] : 0;

			vm_u64(m, minor, (const char *[]){ "feature", in->name, "kind", "minor",
					 "container", live[i].key, NULL });
			vm_u64(m, live[i].v[1], (const char *[]){ "feature", in->name, "kind", "major",
					 "container", live[i].key, NULL });
		}
		vm_family(m, "vigil_mem_rows_dropped_total", "counter",
			  "faults and rss updates not counted: the kernel map was full");
		read_full(p);
		vm_u64(m, p->full_seen[0], (const char *[]){ "feature", in->name, "table", "faults", NULL });
		vm_u64(m, p->full_seen[1], (const char *[]){ "feature", in->name, "table", "rss", NULL });
	}
	if (o->events & MEM_EV_OOM) {
		vm_family(m, "vigil_mem_oom_kills_total", "counter",
			  "OOM kills, by scope (memcg or system), the memory cgroup at its limit and the "
			  "victim's container");
		for (size_t i = 0; i <= MEM_MAX_ACC; i++) {
			char key[400], *scope, *memcg, *ctr;

			if ((i >= p->noacc && i != MEM_MAX_ACC) || !p->oom_acc[i].key[0])
				continue;
			snprintf(key, sizeof(key), "%s", p->oom_acc[i].key);
			scope = key;
			memcg = strchr(scope, '|');
			if (!memcg)
				continue;
			*memcg++ = 0;
			ctr = strchr(memcg, '|');
			if (!ctr)
				continue;
			*ctr++ = 0;
			vm_u64(m, p->oom_acc[i].v[0], (const char *[]){ "feature", in->name, "scope", scope,
					 "memcg", memcg, "container", ctr, NULL });
		}
	}
	if ((o->events & MEM_EV_RSS) && o->container_metrics) {
		int fd = bpf_map__fd(p->skel->maps.mem_rss);
		__u32 key, next, *prev = NULL;
		struct vigil_mem_rval v;

		nlive = 0;
		memset(&live[MEM_MAX_ACC], 0, sizeof(live[0]));
		while (bpf_map_get_next_key(fd, prev, &next) == 0) {
			size_t a;

			key = next;
			prev = &key;
			if (bpf_map_lookup_elem(fd, &key, &v) || (kill(key, 0) && errno == ESRCH))
				continue;
			a = acc_find(live, &nlive, container_name(in, v.cgroup_id));
			/* two kinds per accumulator slot would not fit: anon and file here */
			live[a].v[0] += v.cur[VIGIL_RSS_ANON] + v.cur[VIGIL_RSS_SHMEM];
			live[a].v[1] += v.cur[VIGIL_RSS_FILE];
		}
		vm_family(m, "vigil_mem_rss_bytes", "gauge",
			  "resident memory of the processes seen changing it, by container: anon "
			  "(with shmem) and file");
		for (size_t i = 0; i < nlive; i++) {
			vm_u64(m, live[i].v[0], (const char *[]){ "feature", in->name, "kind", "anon",
					 "container", live[i].key, NULL });
			vm_u64(m, live[i].v[1], (const char *[]){ "feature", in->name, "kind", "file",
					 "container", live[i].key, NULL });
		}
	}
	free(live);
}

static const struct vigil_feature feat_mem = {
	.name = "mem",
	.opts = mem_opts,
	.opts_size = sizeof(struct mem_opts),
	.opts_default = &mem_defaults,
	.priv_size = sizeof(struct mem_priv),
	.check = mem_check,
	.start = mem_start,
	.tick = mem_tick,
	.stop = mem_stop,
	.sessions = mem_sessions,
	.metrics = mem_metrics,
	.default_interval_ns = MEM_INTERVAL_DEFAULT,
};

const struct vigil_cmd cmd_mem = {
	.name = "mem",
	.summary = "page faults per process and mapping, OOM kills with their cause, RSS growth",
	.flags = VC_ROOT | VC_BTF | VC_TRACE,
	.needs = VIGIL_MECH(VIGIL_M_TP_BTF) | VIGIL_MECH(VIGIL_M_RAW_TP) |
		 VIGIL_MECH(VIGIL_M_PERF_EVENT) | VIGIL_MECH(VIGIL_M_RINGBUF),
	.plan = &plan,
	.feature = &feat_mem,
};
