// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/signalfd.h>
#include <sys/time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include "core/vigil.h"
#include "core/env.h"
#include "core/names.h"
#include "core/out.h"
#include "core/session.h"
#include "core/feature.h"
#include "core/loop.h"

/* ---- libbpf messages ---- */

static char logbuf[32768];
static size_t loglen;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	va_list aq;
	char *line;
	size_t n;
	int len;

	if (vigil.verbose)
		return vfprintf(stderr, fmt, ap);
	if (level == LIBBPF_DEBUG)
		return 0;
	/* the verifier log comes as one large message: format all of it */
	va_copy(aq, ap);
	len = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (len <= 0 || !(line = malloc(len + 1)))
		return 0;
	vsnprintf(line, len + 1, fmt, ap);
	n = len;
	/* keep the newest bytes: the verifier's verdict is at the end */
	if (n >= sizeof(logbuf)) {
		memcpy(logbuf, line + n - (sizeof(logbuf) - 1), sizeof(logbuf) - 1);
		loglen = sizeof(logbuf) - 1;
	} else {
		if (loglen + n >= sizeof(logbuf)) {
			size_t drop = loglen + n - sizeof(logbuf) + 1;

			memmove(logbuf, logbuf + drop, loglen - drop);
			loglen -= drop;
		}
		memcpy(logbuf + loglen, line, n);
		loglen += n;
	}
	logbuf[loglen] = 0;
	free(line);
	return 0;
}

/*
 * Kernel BTF for CO-RE and tp_btf. libbpf 1.1 reads the 5.5 MB file into one
 * buffer and copies it into a second, so the peak RSS pays for it twice. Since
 * 6.16 the kernel lets the file be mapped read-only straight from kernel memory
 * (a pfn mapping, not counted in RSS): map it and let btf__new() make the only
 * copy. The link wraps libbpf's calls here (-Wl,--wrap=btf__load_vmlinux_btf);
 * older kernels refuse the mmap and take libbpf's own path
 * (libbpf_find_kernel_btf is the same function, unwrapped).
 */
struct btf *__wrap_btf__load_vmlinux_btf(void);

struct btf *__wrap_btf__load_vmlinux_btf(void)
{
	const char *path = "/sys/kernel/btf/vmlinux";
	struct btf *btf = NULL;
	struct stat st;
	void *raw;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) || st.st_size <= 0) {
		if (fd >= 0)
			close(fd);
		return libbpf_find_kernel_btf();
	}
	raw = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (raw == MAP_FAILED)
		return libbpf_find_kernel_btf();
	btf = btf__new(raw, st.st_size);
	munmap(raw, st.st_size);
	if (!btf)
		return libbpf_find_kernel_btf();
	return btf;
}

void vigil_libbpf_setup(void)
{
	libbpf_set_print(libbpf_print);
	/*
	 * Each BPF object's load parses the kernel's BTF into a 5.5 MB copy and
	 * frees it. glibc raises its mmap threshold past a freed mmap'ed chunk,
	 * so the next object's copy came from the heap, which does not shrink: a
	 * fixed threshold keeps every large buffer an mmap, given back on free
	 * (an agent with every feature: 13 MiB of heap before, see bench/RESULTS.md).
	 */
	mallopt(M_MMAP_THRESHOLD, 256 << 10);
}

void vigil_libbpf_log_clear(void)
{
	loglen = 0;
	logbuf[0] = 0;
}

void vigil_libbpf_dump_tail(int lines)
{
	size_t i = loglen;
	int seen = 0;

	if (!loglen || vigil.verbose)
		return;
	while (i > 0 && seen <= lines) {
		i--;
		if (logbuf[i] == '\n')
			seen++;
	}
	if (logbuf[i] == '\n')
		i++;
	fprintf(stderr, "vigil: last libbpf/verifier messages (all of them with -v):\n");
	fputs(logbuf + i, stderr);
	if (loglen && logbuf[loglen - 1] != '\n')
		fputc('\n', stderr);
	loglen = 0;
}

/* ---- object helpers ---- */

int vigil_rodata_set(struct bpf_object *obj, const char *var, const void *val, size_t size)
{
	const struct btf *btf = bpf_object__btf(obj);
	const struct btf_var_secinfo *vs;
	const struct btf_type *sec;
	struct bpf_map *map;
	size_t data_sz;
	void *data;
	int id;

	bpf_object__for_each_map(map, obj) {
		const char *n = bpf_map__name(map);
		size_t l = strlen(n);

		if (l >= 7 && !strcmp(n + l - 7, ".rodata"))
			break;
	}
	if (!map || !btf)
		return -ENOENT;
	id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
	if (id < 0)
		return -ENOENT;
	sec = btf__type_by_id(btf, id);
	data = (void *)bpf_map__initial_value(map, &data_sz);
	if (!data)
		return -ENOENT;
	vs = btf_var_secinfos(sec);
	for (int i = 0; i < btf_vlen(sec); i++, vs++) {
		const struct btf_type *t = btf__type_by_id(btf, vs->type);

		if (strcmp(btf__name_by_offset(btf, t->name_off), var))
			continue;
		if (vs->size != size || vs->offset + size > data_sz)
			return -EINVAL;
		memcpy((char *)data + vs->offset, val, size);
		return 0;
	}
	return -ENOENT;
}

static int load_failed(const char *name, int err)
{
	vigil_error("cannot load the BPF programs of '%s': %s", name, strerror(-err));
	vigil_libbpf_dump_tail(25);
	return err == -EPERM || err == -EOPNOTSUPP || err == -EINVAL ?
		VIGIL_EXIT_UNSUPPORTED : VIGIL_EXIT_FAIL;
}

int vigil_object_load(const char *name, struct bpf_object *obj)
{
	int err = bpf_object__load(obj);

	return err ? load_failed(name, err) : 0;
}

static struct bpf_prog_skeleton *skel_prog(struct bpf_object_skeleton *s, int i)
{
	return (struct bpf_prog_skeleton *)((char *)s->progs + (size_t)i * s->prog_skel_sz);
}

/* ---- session ---- */

/* set while the exit drain runs: a second SIGINT/SIGTERM or the limit cuts it */
static volatile sig_atomic_t drain_cut;

/* every record passes here, so "received" is counted in one place */
static int session_sample(void *ctx, void *data, size_t size)
{
	struct vigil_session *s = ctx;

	int err;

	if (drain_cut)
		return -EINTR;
	s->received++;
	err = s->on_event(s->on_event_ctx, data, size);
	/* libbpf's consume runs while the producer keeps up: hand the loop back now
	 * and then, so signals and timers are seen (this record is consumed) */
	if (!err && ++s->batch >= VIGIL_RB_BATCH)
		return -EAGAIN;
	return err;
}

static void session_init(struct vigil_session *s, struct vigil_inst *in)
{
	memset(s, 0, sizeof(*s));
	s->name = in->name;
	s->in = in;
	s->rb_fd = s->drainfd = s->lost_fd = -1;
}

int vigil_session_open(struct vigil_session *s, struct vigil_inst *in,
		       struct bpf_object_skeleton *skel)
{
	struct bpf_map *rb;
	int err;

	session_init(s, in);
	if (!skel) {
		vigil_error("cannot open the BPF object of '%s': %s", s->name, strerror(errno));
		return VIGIL_EXIT_FAIL;
	}
	s->skel = skel;
	s->obj = *skel->obj;

	err = vigil_rodata_set(s->obj, "vigil_filter", &in->c.filter, sizeof(in->c.filter));
	if (err) {
		vigil_error("BPF object of '%s' has no usable 'vigil_filter': %s", s->name,
			    strerror(-err));
		return VIGIL_EXIT_FAIL;
	}
	rb = bpf_object__find_map_by_name(s->obj, "vigil_events");
	if (rb && in->c.ringbuf_size) {
		err = bpf_map__set_max_entries(rb, in->c.ringbuf_size);
		if (err) {
			vigil_error("cannot size the ring buffer to %llu bytes: %s",
				    (unsigned long long)in->c.ringbuf_size, strerror(-err));
			return VIGIL_EXIT_USAGE;
		}
	}
	return 0;
}

/* the cgroup filter map, then the command's own preparation */
static int session_prepare(struct vigil_session *s)
{
	struct vigil_common *c = &s->in->c;
	struct bpf_map *map;

	if (c->filter.flags & VIGIL_F_CGROUP) {
		__u32 zero = 0;

		map = bpf_object__find_map_by_name(s->obj, "vigil_cgroup");
		if (!map || bpf_map__update_elem(map, &zero, sizeof(zero), &c->cgroup_fd,
						 sizeof(c->cgroup_fd), BPF_ANY)) {
			vigil_error("cannot set the cgroup filter '%s': %s", c->cgroup_path,
				    strerror(errno));
			return VIGIL_EXIT_FAIL;
		}
	}
	if (s->prepare)
		return s->prepare(s, s->prepare_ctx);
	return 0;
}

static bool missing_feature(int err)
{
	return err == ENOENT || err == EOPNOTSUPP || err == EPERM || err == 524 /* ENOTSUPP */;
}

/*
 * Attach every loaded program with autoattach. Returns 0 or a positive
 * errno; *failed names the program that could not be attached.
 */
static int session_attach(struct vigil_session *s, struct bpf_program **failed)
{
	for (int i = 0; i < s->skel->prog_cnt; i++) {
		struct bpf_prog_skeleton *ps = skel_prog(s->skel, i);
		struct bpf_program *p = *ps->prog;
		struct bpf_link *link;

		if (!bpf_program__autoload(p) || !bpf_program__autoattach(p))
			continue;
		link = bpf_program__attach(p);
		if (!link) {
			*failed = p;
			return errno ? errno : EINVAL;
		}
		*ps->link = link;
		s->attached++;
		vigil_debug("attached '%s' to '%s'", bpf_program__name(p), bpf_program__section_name(p));
	}
	return 0;
}

/* the doctor mechanism a loaded program rests on, or -1 */
static int prog_mech(const struct bpf_program *p)
{
	switch (bpf_program__type(p)) {
	case BPF_PROG_TYPE_TRACEPOINT: return VIGIL_M_TRACEPOINT;
	case BPF_PROG_TYPE_RAW_TRACEPOINT: return VIGIL_M_RAW_TP;
	case BPF_PROG_TYPE_XDP: return VIGIL_M_XDP;
	case BPF_PROG_TYPE_SCHED_CLS: return VIGIL_M_TC;
	case BPF_PROG_TYPE_PERF_EVENT: return VIGIL_M_PERF_EVENT;
	case BPF_PROG_TYPE_KPROBE: return VIGIL_M_KPROBE;	/* also uprobes: told apart below */
	case BPF_PROG_TYPE_LSM: return VIGIL_M_LSM;
	case BPF_PROG_TYPE_CGROUP_SKB:
	case BPF_PROG_TYPE_CGROUP_SOCK:
	case BPF_PROG_TYPE_CGROUP_SOCK_ADDR: return VIGIL_M_CGROUP;
	case BPF_PROG_TYPE_TRACING:
		return bpf_program__expected_attach_type(p) == BPF_TRACE_RAW_TP ? VIGIL_M_TP_BTF :
										 VIGIL_M_FENTRY;
	default: return -1;
	}
}

/* -v: which kernel mechanisms this run rests on, for every command */
static void report_mechs(struct vigil_session *s)
{
	unsigned int used = 0;
	char list[160] = "";
	size_t o = 0;

	if (!vigil.verbose)
		return;
	for (int i = 0; i < s->skel->prog_cnt; i++) {
		struct bpf_program *p = *skel_prog(s->skel, i)->prog;
		int m = prog_mech(p);

		if (!bpf_program__autoload(p) || m < 0)
			continue;
		if (m == VIGIL_M_KPROBE && strstr(bpf_program__section_name(p), "uprobe"))
			m = VIGIL_M_UPROBE;
		used |= VIGIL_MECH(m);
	}
	if (bpf_object__find_map_by_name(s->obj, "vigil_events") && s->on_event)
		used |= VIGIL_MECH(VIGIL_M_RINGBUF);
	for (int m = 0; m < VIGIL_M__COUNT && o < sizeof(list); m++)
		if (used & VIGIL_MECH(m))
			o += snprintf(list + o, sizeof(list) - o, "%s%s", o ? ", " : "",
				      vigil_mech_name(m));
	vigil_debug("%s: uses %s", s->name, o ? list : "no kernel programs");
}

static int rb_consume(struct vigil_session *s)
{
	int err;

	s->batch = 0;
	err = ring_buffer__consume(s->rb);
	/* a full batch: the rest is read on the loop's next turn (the fd stays ready) */
	if (err == -EAGAIN)
		err = 0;
	if (err >= 0)
		out_containers(s->in->sink);
	/* rows are flushed per batch (the sink defers) */
	if (err >= 0 && out_flush(s->in->sink))
		err = -EIO;
	if (err < 0) {
		struct vigil_sink *k = s->in->sink;

		/* a callback's negative return: output is gone or broken */
		if (k->broken_pipe)
			return 0;	/* a reader that went away ends the run quietly */
		if (k->err) {
			vigil_error("cannot write output: %s", strerror(k->err));
			return VIGIL_EXIT_FAIL;
		}
		vigil_error("ring buffer consumer of '%s' failed: %s", s->name, strerror(-err));
		return VIGIL_EXIT_FAIL;
	}
	return 0;
}

static int rb_ready(void *ctx, int fd, uint32_t events)
{
	struct vigil_session *s = ctx;
	int r = rb_consume(s);

	(void)fd;
	(void)events;
	if (!r && s->in->sink->broken_pipe)
		vigil_loop_stop(s->in->loop, 0);
	return r;
}

static int rb_register(struct vigil_session *s, ring_buffer_sample_fn on_event, void *ctx,
		       int map_fd)
{
	int err;

	s->on_event = on_event;
	s->on_event_ctx = ctx;
	s->streams = true;
	s->rb = ring_buffer__new(map_fd, session_sample, s, NULL);
	if (!s->rb) {
		vigil_error("cannot open the ring buffer of '%s': %s", s->name, strerror(errno));
		return VIGIL_EXIT_FAIL;
	}
	s->in->sink->defer = true;
	s->rb_fd = ring_buffer__epoll_fd(s->rb);
	err = vigil_loop_add(s->in->loop, s->rb_fd, EPOLLIN, rb_ready, s);
	if (!err && s->drain_ns) {
		s->drainfd = vigil_loop_timer(s->in->loop, s->drain_ns, true, rb_ready, s);
		err = s->drainfd < 0 ? s->drainfd : 0;
	}
	if (err) {
		vigil_error("cannot watch the ring buffer of '%s': %s", s->name, strerror(-err));
		return VIGIL_EXIT_FAIL;
	}
	return 0;
}

/* the ring buffer (when the object streams) and the status line */
static int session_ready(struct vigil_session *s, ring_buffer_sample_fn on_event, void *ctx,
			 uint64_t t0)
{
	struct bpf_map *map = bpf_object__find_map_by_name(s->obj, "vigil_events");
	char took[32];
	int err;

	if (map && on_event && (err = rb_register(s, on_event, ctx, bpf_map__fd(map))))
		return err;
	report_mechs(s);
	vigil_fmt_duration(vigil_mono_ns() - t0, took, sizeof(took));
	vigil_info("%s: %d programs attached in %s; ctrl-c to end", s->name, s->attached, took);
	return 0;
}

int vigil_session_open_rb(struct vigil_session *s, struct vigil_inst *in, int rb_map_fd,
			  int lost_map_fd, ring_buffer_sample_fn on_event, void *ctx)
{
	session_init(s, in);
	s->lost_fd = lost_map_fd;
	return rb_register(s, on_event, ctx, rb_map_fd);
}

int vigil_session_start(struct vigil_session *s, ring_buffer_sample_fn on_event, void *ctx)
{
	uint64_t t0 = vigil_mono_ns();
	struct bpf_program *p = NULL;
	int err;

	/* through the skeleton, so skel->bss and skel->data map the kernel's copies */
	err = bpf_object__load_skeleton(s->skel);
	if (err)
		return load_failed(s->name, err);
	err = session_prepare(s);
	if (err)
		return err;
	err = session_attach(s, &p);
	if (err) {
		vigil_error("cannot attach program '%s' to '%s': %s", bpf_program__name(p),
			    bpf_program__section_name(p), strerror(err));
		vigil_libbpf_dump_tail(5);
		return missing_feature(err) ? VIGIL_EXIT_UNSUPPORTED : VIGIL_EXIT_FAIL;
	}
	return session_ready(s, on_event, ctx, t0);
}

/* ---- mechanism choice ---- */

static int path_count(const char *const *list)
{
	int n = 0;

	while (list && list[n])
		n++;
	return n;
}

static bool path_has(const struct vigil_mech_path *p, const char *prog)
{
	for (int i = 0; p->progs && p->progs[i]; i++)
		if (!strcmp(p->progs[i], prog))
			return true;
	return false;
}

/* load only this path's programs (and those no path claims) */
static void path_autoload(const struct vigil_mech_plan *plan, const struct vigil_mech_path *path,
			  struct bpf_object *obj)
{
	struct bpf_program *p;

	bpf_object__for_each_program(p, obj) {
		const char *n = bpf_program__name(p);
		bool other = false;

		if (path_has(path, n)) {
			bpf_program__set_autoload(p, true);
			continue;
		}
		for (int i = 0; i < plan->npaths; i++)
			other |= path_has(&plan->paths[i], n);
		if (other)
			bpf_program__set_autoload(p, false);
	}
}

/*
 * Every hook of the path must run when vigil itself triggers it: slot 0 of
 * vigil_seen holds our tgid meanwhile, slot k+1 counts hook k (bpf/mech.bpf.h).
 */
static int path_seen(struct vigil_session *s, const struct vigil_mech_plan *plan,
		     const struct vigil_mech_path *path, char *why, size_t n)
{
	struct bpf_map *map = bpf_object__find_map_by_name(s->obj, "vigil_seen");
	int nseen = path_count(path->seen), err = 0;
	__u64 me = getpid(), off = 0, hits;
	__u32 k = 0;

	if (nseen > VIGIL_SEEN_SLOTS) {
		snprintf(why, n, "check: %d hooks, more than the %d slots of 'vigil_seen'", nseen,
			 VIGIL_SEEN_SLOTS);
		return EINVAL;
	}
	if (!map || bpf_map__update_elem(map, &k, sizeof(k), &me, sizeof(me), BPF_ANY)) {
		snprintf(why, n, "check: no usable 'vigil_seen' map: %s", strerror(errno));
		return EINVAL;
	}
	plan->trigger(s->in);
	for (k = 1; k <= (__u32)nseen && !err; k++) {
		if (bpf_map__lookup_elem(map, &k, sizeof(k), &hits, sizeof(hits), 0)) {
			err = errno;
			snprintf(why, n, "check: cannot read 'vigil_seen': %s", strerror(err));
		} else if (!hits) {
			snprintf(why, n, "attached, but '%s' never ran when vigil triggered it",
				 path->seen[k - 1]);
			err = ENOENT;
		} else {
			vigil_debug("%s: '%s' seen %llu times", s->name, path->seen[k - 1],
				    (unsigned long long)hits);
		}
	}
	k = 0;
	bpf_map__update_elem(map, &k, sizeof(k), &off, sizeof(off), BPF_ANY);
	return err;
}

/*
 * Open, load, attach and check one path. 0 when it works (s stays open),
 * else a positive errno with the reason in why, s closed and the object
 * destroyed. Fatal problems that no other path would avoid return -exit code.
 */
static int path_try(struct vigil_session *s, struct vigil_inst *in, const struct vigil_mech_plan *plan,
		    const struct vigil_mech_path *path, char *why, size_t n)
{
	const char *name = in->name;
	struct bpf_program *failed = NULL;
	int err;

	if (plan->usable && (err = plan->usable(in, path, why, n)) > 0) {
		vigil_debug("%s: cannot use %s: %s", name, path->name, why);
		return err;
	}
	err = vigil_session_open(s, in, plan->open(in, path));
	if (err) {
		plan->destroy(in);
		return -err;
	}
	if (plan->prepare) {
		s->prepare = plan->prepare;
		s->prepare_ctx = in;
	}
	path_autoload(plan, path, s->obj);
	/* quietly: doctor asks too, and its JSON is one document */
	if (path->tracefs && (err = -vigil_tracefs_mount())) {
		snprintf(why, n, "tracefs is not mounted and mounting it failed: %s", strerror(err));
		goto fail;
	}
	err = -bpf_object__load_skeleton(s->skel);
	if (err) {
		snprintf(why, n, "load: %s", strerror(err));
		goto fail;
	}
	err = session_prepare(s);
	if (err) {
		vigil_session_close(s, err);
		plan->destroy(in);
		return -err;
	}
	err = session_attach(s, &failed);
	if (err) {
		snprintf(why, n, "attach '%s': %s", bpf_program__section_name(failed), strerror(err));
		goto fail;
	}
	err = path_seen(s, plan, path, why, n);
	if (!err)
		return 0;
fail:
	vigil_debug("%s: cannot use %s: %s", name, path->name, why);
	vigil_session_close(s, VIGIL_EXIT_FAIL);
	plan->destroy(in);
	return err;
}

static const struct vigil_mech_path *plan_find(const struct vigil_mech_plan *plan, const char *m)
{
	for (int i = 0; i < plan->npaths; i++)
		if (!strcmp(plan->paths[i].name, m))
			return &plan->paths[i];
	return NULL;
}

/* try the paths in order; c->path is the one left open in s, or NULL */
static int plan_choose(struct vigil_session *s, struct vigil_inst *in,
		       const struct vigil_mech_plan *plan, const char *forced,
		       struct vigil_mech_choice *c)
{
	size_t o = 0;

	memset(c, 0, sizeof(*c));
	c->forced = forced != NULL;
	for (int i = 0; i < plan->npaths; i++) {
		const struct vigil_mech_path *p = &plan->paths[i];
		char why[256] = "";
		int err;

		if (forced && strcmp(p->name, forced))
			continue;
		err = path_try(s, in, plan, p, why, sizeof(why));
		if (err < 0)
			return -err;
		if (!err) {
			c->path = p;
			return 0;
		}
		c->err = err;
		if (o < sizeof(c->why))
			o += snprintf(c->why + o, sizeof(c->why) - o, "%s%s: %s", o ? "; " : "",
				      p->name, why);
		/* keep only the tail of the last failure for the error report */
		if (i + 1 < plan->npaths && !forced)
			vigil_libbpf_log_clear();
	}
	return 0;
}

static void report_choice(struct vigil_inst *in, const struct vigil_mech_choice *c)
{
	const char *name = in->name;

	if (c->why[0])
		vigil_debug("%s: mechanism %s (%s); %s", name, c->path->name, c->path->hooks, c->why);
	else
		vigil_debug("%s: mechanism %s (%s)%s", name, c->path->name, c->path->hooks,
			    c->forced ? ", as asked" : "");
	if (in->sink->json) {
		struct jw w;

		jw_record(&w, in->sink, "mechanism", vigil_boot_ns());
		jw_str(&w, "command", name);
		jw_str(&w, "mechanism", c->path->name);
		jw_str(&w, "hooks", c->path->hooks);
		jw_bool(&w, "forced", c->forced);
		if (c->why[0])
			jw_str(&w, "fallback_reason", c->why);
		jw_end_obj(&w);
		out_flush(in->sink);
	}
}

int vigil_session_start_plan(struct vigil_session *s, struct vigil_inst *in,
			     const struct vigil_mech_plan *plan, ring_buffer_sample_fn on_event,
			     void *ctx, struct vigil_mech_choice *c)
{
	const char *mech = in->c.mechanism, *name = in->name;
	const char *forced = mech && strcmp(mech, "auto") ? mech : NULL;
	uint64_t t0 = vigil_mono_ns();
	int err;

	session_init(s, in);
	if (forced && !plan_find(plan, forced)) {
		size_t o = 0;
		char names[128] = "auto";

		o = strlen(names);
		for (int i = 0; i < plan->npaths && o < sizeof(names); i++)
			o += snprintf(names + o, sizeof(names) - o, "%s%s",
				      i + 1 < plan->npaths ? ", " : " or ", plan->paths[i].name);
		vigil_error("unknown mechanism '%s' for '%s': %s", forced, name, names);
		return VIGIL_EXIT_USAGE;
	}
	err = plan_choose(s, in, plan, forced, c);
	if (err)
		return err;
	if (!c->path) {
		if (forced)
			vigil_error("mechanism '%s' is not available for '%s' here: %s (%s); "
				    "'--mechanism auto' picks one that works", forced, name,
				    c->why + strlen(forced) + 2, vigil_errno_name(c->err));
		else
			vigil_error("no mechanism of '%s' works here: %s", name, c->why);
		vigil_libbpf_dump_tail(15);
		return missing_feature(c->err) || c->err == EINVAL ? VIGIL_EXIT_UNSUPPORTED :
								      VIGIL_EXIT_FAIL;
	}
	report_choice(in, c);
	err = session_ready(s, on_event, ctx, t0);
	if (err) {
		vigil_session_close(s, err);
		plan->destroy(in);
	}
	return err;
}

void vigil_mech_plan_probe(struct vigil_inst *in, const struct vigil_mech_plan *plan,
			   struct vigil_mech_choice *c)
{
	struct vigil_session s;

	session_init(&s, in);
	if (plan_choose(&s, in, plan, NULL, c) == 0 && c->path) {
		vigil_session_close(&s, VIGIL_EXIT_FAIL);
		plan->destroy(in);
	}
	vigil_libbpf_log_clear();
}

static uint64_t percpu_sum(int fd)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t total = 0;
	__u32 zero = 0;

	if (fd < 0 || ncpu <= 0)
		return 0;
	uint64_t vals[ncpu];

	if (bpf_map_lookup_elem(fd, &zero, vals))
		return 0;
	for (int i = 0; i < ncpu; i++)
		total += vals[i];
	return total;
}

uint64_t vigil_session_lost(struct vigil_session *s)
{
	struct bpf_map *map;

	if (!s->obj)
		return percpu_sum(s->lost_fd);
	map = bpf_object__find_map_by_name(s->obj, "vigil_lost");
	return map ? percpu_sum(bpf_map__fd(map)) : 0;
}

static void report_lost(struct vigil_session *s, bool final)
{
	struct vigil_sink *k = s->in->sink;
	uint64_t lost = vigil_session_lost(s);

	if (!final && lost == s->lost_reported)
		return;
	s->lost_reported = lost;
	if (k->json) {
		struct jw w;

		jw_record(&w, k, "lost", vigil_boot_ns());
		if (!k->feature)
			jw_str(&w, "feature", s->name);
		jw_u64(&w, "lost", lost);
		jw_u64(&w, "received", s->received);
		if (s->unread)
			jw_bool(&w, "drain_cut", true);
		jw_bool(&w, "final", final);
		jw_end_obj(&w);
		out_flush(k);
	}
	/* the closing tally also goes to stderr with JSON, for output sent elsewhere */
	if ((!k->json && (final || lost)) || (k->json && final && !vigil.quiet)) {
		fprintf(stderr, "vigil: %s: %llu events received, %llu lost%s\n", s->name,
			(unsigned long long)s->received, (unsigned long long)lost,
			lost ? " (ring buffer full: raise --ringbuf-size or narrow the filters)" : "");
	}
	if (final && s->unread)
		fprintf(stderr, "vigil: %s: exit drain cut short: events still queued in the ring "
			"buffer were not read\n", s->name);
}

void vigil_session_tick(struct vigil_session *s)
{
	if (s->streams)
		report_lost(s, false);
}

static volatile sig_atomic_t drain_signals;	/* SIGINT/SIGTERM seen so far */
static struct sigaction drain_saved[3];		/* SIGINT, SIGTERM, SIGALRM */

static void on_cut(int sig)
{
	struct sigaction sa = { .sa_handler = on_cut };
	void (*prev)(int) = drain_saved[sig == SIGTERM].sa_handler;

	/* the loop's own handler (the agent's) still hears it */
	if (sig != SIGALRM && prev != SIG_DFL && prev != SIG_IGN && prev != on_cut)
		prev(sig);

	if (sig == SIGALRM || ++drain_signals >= 2) {
		drain_cut = 1;
		return;
	}
	/* the first signal (the run had ended by itself) only arms the next one,
	 * which then interrupts even a write blocked on a full pipe */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/*
 * The exit drain must end even when the reader of our output stopped
 * reading (a full pipe blocks write()) or a storm keeps the ring full: a
 * second SIGINT/SIGTERM, or the time limit, interrupts it. Handlers without
 * SA_RESTART make a blocked write return EINTR.
 */
static void drain_guard(bool on, int signals_before, sigset_t *saved)
{
	struct sigaction sa = { .sa_handler = on_cut,
				.sa_flags = signals_before ? 0 : SA_RESTART };
	struct itimerval it = { .it_value = { VIGIL_DRAIN_LIMIT_MS / 1000,
					      (VIGIL_DRAIN_LIMIT_MS % 1000) * 1000 } };
	static const int sigs[3] = { SIGINT, SIGTERM, SIGALRM };
	sigset_t m;

	sigemptyset(&m);
	for (int i = 0; i < 3; i++)
		sigaddset(&m, sigs[i]);
	if (on) {
		drain_cut = 0;
		drain_signals = signals_before;
		/* the agent's loop has handlers of its own: they come back afterwards */
		sigprocmask(SIG_BLOCK, &m, saved);
		for (int i = 0; i < 3; i++)
			sigaction(sigs[i], &sa, &drain_saved[i]);
		setitimer(ITIMER_REAL, &it, NULL);
		sigprocmask(SIG_UNBLOCK, &m, NULL);
	} else {
		sigprocmask(SIG_BLOCK, &m, NULL);
		memset(&it, 0, sizeof(it));
		setitimer(ITIMER_REAL, &it, NULL);
		for (int i = 0; i < 3; i++)
			sigaction(sigs[i], &drain_saved[i], NULL);
		sigprocmask(SIG_SETMASK, saved, NULL);
	}
}

/* -v: what each program cost in the kernel, per run */
static void report_costs(struct vigil_session *s)
{
	struct vigil_prog_cost c[32];
	int n;

	if (!vigil.verbose || !vigil_bpf_stats_on())
		return;
	n = vigil_session_costs(s, c, 32);
	for (int i = 0; i < n; i++)
		fprintf(stderr, "vigil: %s: cost: '%s' ran %llu times, %llu ns in all, %.0f ns per run\n",
			s->name, c[i].name, (unsigned long long)c[i].runs,
			(unsigned long long)c[i].run_ns, c[i].runs ? (double)c[i].run_ns / c[i].runs : 0.0);
}

int vigil_session_close(struct vigil_session *s, int err)
{
	struct vigil_sink *k = s->in ? s->in->sink : NULL;
	struct vigil_loop *l = s->in ? s->in->loop : NULL;

	if (s->skel && s->attached)
		report_costs(s);
	if (s->skel) {
		/* stop new events first, then drain what is already queued */
		for (int i = 0; i < s->skel->prog_cnt; i++) {
			struct bpf_prog_skeleton *ps = skel_prog(s->skel, i);

			if (*ps->link) {
				bpf_link__destroy(*ps->link);
				*ps->link = NULL;
			}
		}
	}
	if (s->rb && k && !k->broken_pipe && !k->err) {
		sigset_t saved;
		int err2;

		drain_guard(true, l ? l->signals : 1, &saved);
		/* in batches until empty, or cut */
		do {
			s->batch = 0;
			err2 = ring_buffer__consume(s->rb);
		} while (err2 == -EAGAIN && !drain_cut);
		if (err2 >= 0)
			out_flush(k);
		if (drain_cut)
			s->unread = 1;
		drain_guard(false, 0, &saved);
		/* a write cut by the guard is not lost output: it was asked for */
		if (s->unread) {
			clearerr(k->f);
			k->err = 0;
		}
		/* only a command that streams records has anything to lose */
		if (!k->broken_pipe)
			report_lost(s, true);
	}
	if (l) {
		vigil_loop_del(l, s->rb_fd);
		vigil_loop_del(l, s->drainfd);
	}
	ring_buffer__free(s->rb);
	s->rb = NULL;
	s->rb_fd = s->drainfd = -1;
	if (!err && k && !k->broken_pipe && out_flush(k) && !k->broken_pipe) {
		vigil_error("cannot write output: %s", strerror(k->err ? k->err : EIO));
		err = VIGIL_EXIT_FAIL;
	}
	return err;
}

/* ---- cost: kernel BPF stats ---- */

static int stats_fd = -1;

void vigil_bpf_stats_enable(void)
{
	/* process-wide: the kernel counts while any fd of it is open */
	if (stats_fd < 0)
		stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats_fd < 0)
		vigil_debug("cannot turn on BPF run-time stats: %s", strerror(errno));
}

bool vigil_bpf_stats_on(void)
{
	return stats_fd >= 0;
}

int vigil_session_costs(struct vigil_session *s, struct vigil_prog_cost *out, int max)
{
	int n = 0;

	if (!s->skel)
		return 0;
	for (int i = 0; i < s->skel->prog_cnt && n < max; i++) {
		struct bpf_program *p = *skel_prog(s->skel, i)->prog;
		struct bpf_prog_info info = { 0 };
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(p);

		if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
			continue;
		out[n++] = (struct vigil_prog_cost){ bpf_program__name(p), info.run_cnt,
						     info.run_time_ns };
	}
	return n;
}
