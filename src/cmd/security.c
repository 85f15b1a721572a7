// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * vigil security: capability checks, credential changes, ptrace, BPF and
 * module loads, set-uid and fileless execs in one stream, each with a kind
 * and a severity. Capability checks come from the capability:cap_capable
 * tracepoint (6.14+) or fexit on cap_capable, as the mechanism plan finds;
 * where neither works they are reported unavailable and the rest runs.
 * docs/security.md.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include "core/vigil.h"
#include "core/env.h"
#include "core/opts.h"
#include "core/out.h"
#include "core/session.h"
#include "core/feature.h"
#include "core/metrics.h"
#include "core/names.h"
#include "core/container.h"
#include "cmd/security.h"
#include "security.skel.h"

#define SEC_ALL_KINDS ((1u << VIGIL_SEC__KINDS) - 1)
#define SEC_MAX_CONTAINERS 64	/* metric rows per container; the rest are "(other)" */

struct sec_opts {
	uint32_t kinds;		/* mask of enum vigil_sec_kind; 0 = all */
	bool all, denied, by_container;
	const char *mechanism;
};

struct sec_counts {
	uint64_t cgroup_id;	/* the container's top cgroup; 0 = the host, ~0 = the others */
	uint64_t n[VIGIL_SEC__KINDS][SEC_SEV__COUNT][SEC_RES__COUNT];
};

struct sec_priv {
	struct vigil_session s;
	struct security_bpf *skel;
	struct vigil_mech_choice choice;
	bool started, caps;	/* caps: capability checks are hooked */
	bool modules;		/* the kernel has the module syscalls */
	struct sec_counts host;
	struct sec_counts *ctr;	/* with by_container: [SEC_MAX_CONTAINERS + 1], the last "(other)" */
	size_t nctr;
};

static int opt_kind(void *base, const char *arg)
{
	struct sec_opts *o = base;
	char bad[80];

	if (sec_kinds_parse(arg, &o->kinds, bad, sizeof(bad))) {
		vigil_usage_error("invalid kind '%s': capability, cred, exec, ptrace, bpf or module "
				  "(a comma-separated list)", bad);
		return -1;
	}
	return 0;
}

static int opt_mechanism(void *base, const char *arg)
{
	((struct sec_opts *)base)->mechanism = arg;
	return 0;
}

#define O(f) VOFF(struct sec_opts, f)

static const struct vigil_opt sec_opts[] = {
	VOPT_SECTION("Events (default: every kind; capability checks once per process, cgroup, "
		     "capability and result)"),
	{ "kind", 'k', VO_FUNC, 0, "LIST",
	  "only these kinds: capability, cred, exec, ptrace, bpf, module (comma-separated)",
	  opt_kind },
	{ "all", 'a', VO_FLAG, O(all), NULL, "every capability check, not once per key" },
	{ "denied", 0, VO_FLAG, O(denied), NULL, "only capability checks that failed" },
	{ "mechanism", 0, VO_FUNC, 0, "NAME",
	  "capability checks: auto (default), tracepoint, fexit or none", opt_mechanism },
	VOPT_SECTION("Agent"),
	{ "by-container", 0, VO_FLAG, O(by_container), NULL,
	  "metrics: counters per container too (labels: container, pod, namespace)" },
	VOPT_END,
};

/* ---- capability checks: the mechanism plan (docs/security.md) ------------- */

static const char *const tp_progs[] = { "sec_cap_tp", NULL };
static const char *const tp_seen[] = { "capability:cap_capable", NULL };
static const char *const fexit_progs[] = { "sec_cap_fexit", NULL };
static const char *const fexit_seen[] = { "cap_capable", NULL };
static const char *const no_progs[] = { NULL };

/*
 * The tracepoint first: it sits in cap_capable() itself since 6.14, so both
 * ways see the same calls, and it needs no BPF trampoline. "none" keeps the
 * other events where neither works, and says why.
 */
static const struct vigil_mech_path cap_paths[] = {
	{ "tracepoint", VIGIL_M_TP_BTF, "capability:cap_capable", tp_progs, tp_seen, true },
	{ "fexit", VIGIL_M_FENTRY, "cap_capable", fexit_progs, fexit_seen, true },
	{ "none", VIGIL_M_TRACEPOINT, "(no capability checks)", no_progs, no_progs, true },
};

static bool tracepoint_exists(const char *group, const char *name)
{
	const char *tfs = vigil_tracefs_path();
	char path[512];

	if (!tfs && vigil_tracefs_mount() == 0)
		tfs = vigil_tracefs_path();
	if (!tfs)
		return false;
	snprintf(path, sizeof(path), "%s/events/%s/%s", tfs, group, name);
	return access(path, F_OK) == 0;
}

static void autoload_prefix(struct bpf_object *obj, const char *prefix, bool on)
{
	struct bpf_program *p;

	bpf_object__for_each_program(p, obj)
		if (!strncmp(bpf_program__name(p), prefix, strlen(prefix)))
			bpf_program__set_autoload(p, on);
}

static void autoload_kind(struct bpf_object *obj, uint32_t kinds)
{
	static const char *const by_kind[VIGIL_SEC__KINDS][6] = {
		[VIGIL_SEC_CRED] = { "sec_enter_set", "sec_exit_set", "sec_enter_capset",
				     "sec_exit_capset" },
		[VIGIL_SEC_EXEC] = { "sec_exec" },
		[VIGIL_SEC_PTRACE] = { "sec_enter_ptrace", "sec_exit_ptrace", "sec_enter_vm_writev",
				       "sec_exit_vm_writev" },
		[VIGIL_SEC_BPF] = { "sec_enter_bpf", "sec_exit_bpf" },
		[VIGIL_SEC_MODULE] = { "sec_enter_init_module", "sec_exit_init_module",
				       "sec_enter_finit_module", "sec_exit_finit_module",
				       "sec_module_load" },
	};

	for (int k = 0; k < VIGIL_SEC__KINDS; k++)
		for (int i = 0; i < 6 && by_kind[k][i]; i++)
			autoload_prefix(obj, by_kind[k][i], kinds & (1u << k));
}

static struct bpf_object_skeleton *sec_open(struct vigil_inst *in, const struct vigil_mech_path *path)
{
	const struct sec_opts *o = in->opts;
	struct sec_priv *p = in->priv;
	uint32_t kinds = o->kinds ? o->kinds : SEC_ALL_KINDS;
	struct security_bpf *skel;

	skel = p->skel = security_bpf__open();
	if (!skel)
		return NULL;
	skel->rodata->self_tgid = getpid();
	skel->rodata->cap_all = o->all;
	skel->rodata->cap_denied = o->denied;
	autoload_kind(skel->obj, kinds);
	/* without module support the kernel has no such syscalls, hence no tracepoints */
	if (!p->modules) {
		autoload_prefix(skel->obj, "sec_enter_init_module", false);
		autoload_prefix(skel->obj, "sec_exit_init_module", false);
		autoload_prefix(skel->obj, "sec_enter_finit_module", false);
		autoload_prefix(skel->obj, "sec_exit_finit_module", false);
	}
	if (!tracepoint_exists("module", "module_load"))
		autoload_prefix(skel->obj, "sec_module_load", false);
	if (!path) {
		/* not through the plan: no capability programs */
		autoload_prefix(skel->obj, "sec_cap_", false);
	}
	if (o->all || !(kinds & (1u << VIGIL_SEC_CAP)))
		bpf_map__set_max_entries(skel->maps.sec_cap_seen, 1);
	return skel->skeleton;
}

static struct bpf_object_skeleton *plan_open(struct vigil_inst *in, const struct vigil_mech_path *path)
{
	return sec_open(in, path);
}

static void sec_destroy(struct vigil_inst *in)
{
	struct sec_priv *p = in->priv;

	security_bpf__destroy(p->skel);
	p->skel = NULL;
}

/* a capability check of vigil's own: listing BPF programs asks for CAP_SYS_ADMIN */
static void sec_trigger(struct vigil_inst *in)
{
	__u32 next = 0;

	if (bpf_prog_get_next_id(0, &next) && errno != ENOENT)
		vigil_debug("security: self-check: %s", strerror(errno));
}

static const struct vigil_mech_plan cap_plan = {
	.paths = cap_paths,
	.npaths = sizeof(cap_paths) / sizeof(cap_paths[0]),
	.open = plan_open,
	.destroy = sec_destroy,
	.trigger = sec_trigger,
};

/* ---- record -> row ----------------------------------------------------- */

static void col_kind(const struct vrow *r, char *buf, size_t n)
{
	snprintf(buf, n, "%s", vrow_s(r, "kind"));
}

static void col_sev(const struct vrow *r, char *buf, size_t n)
{
	snprintf(buf, n, "%s", vrow_s(r, "severity"));
}

static size_t add(char *buf, size_t n, size_t o, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static size_t add(char *buf, size_t n, size_t o, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (o >= n)
		return o;
	va_start(ap, fmt);
	w = vsnprintf(buf + o, n - o, fmt, ap);
	va_end(ap);
	return w < 0 ? o : o + (size_t)w;
}

static size_t add_result(const struct vrow *r, char *buf, size_t n, size_t o)
{
	const struct vfield *e = vrow_get(r, "errno");

	if (e)
		return add(buf, n, o, " = %s", e->s);
	return add(buf, n, o, " = %lld", (long long)vrow_i(r, "ret"));
}

static size_t add_change(const struct vrow *r, char *buf, size_t n, size_t o, const char *id)
{
	char ko[24], kn[24];
	const struct vfield *a, *b;

	snprintf(ko, sizeof(ko), "old_%s", id);
	snprintf(kn, sizeof(kn), "new_%s", id);
	a = vrow_get(r, ko);
	b = vrow_get(r, kn);
	if (!a || !b)
		return o;
	if (a->u == b->u)
		return add(buf, n, o, " %s=%llu", id, (unsigned long long)a->u);
	return add(buf, n, o, " %s=%llu->%llu", id, (unsigned long long)a->u,
		   (unsigned long long)b->u);
}

/* what differs per kind, in one column */
static void col_detail(const struct vrow *r, char *buf, size_t n)
{
	const char *kind = vrow_s(r, "kind"), *op = vrow_s(r, "op");
	const struct vfield *f;
	size_t o = 0;

	buf[0] = 0;
	if (!strcmp(kind, "capability")) {
		o = add(buf, n, o, "%s %s", vrow_s(r, "cap_name"), vrow_s(r, "result"));
		if (vrow_b(r, "userns"))
			o = add(buf, n, o, " (user namespace)");
	} else if (!strcmp(kind, "cred")) {
		f = vrow_get(r, "asked");
		o = add(buf, n, o, "%s(%s)", op, f ? f->s : "");
		o = add_result(r, buf, n, o);
		static const char *const ids[] = { "uid", "euid", "suid", "fsuid", "gid", "egid",
						   "sgid", "fsgid", "ngroups" };
		for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
			o = add_change(r, buf, n, o, ids[i]);
		f = vrow_get(r, "old_cap_eff");
		if (f && strcmp(f->s, vrow_s(r, "new_cap_eff")))
			o = add(buf, n, o, " caps=%s->%s", f->s, vrow_s(r, "new_cap_eff"));
	} else if (!strcmp(kind, "exec")) {
		o = add(buf, n, o, "%s", vrow_s(r, "filename"));
		f = vrow_get(r, "file");
		if (f && strcmp(f->s, vrow_s(r, "filename")))
			o = add(buf, n, o, " (%s)", f->s);
		static const char *const flags[] = { "setuid", "setgid", "fileless", "memfd",
						     "world_writable_dir" };
		for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
			if (vrow_b(r, flags[i]))
				o = add(buf, n, o, " %s", flags[i]);
		o = add(buf, n, o, " uid=%llu euid=%llu", (unsigned long long)vrow_u(r, "new_uid"),
			(unsigned long long)vrow_u(r, "new_euid"));
	} else if (!strcmp(kind, "ptrace")) {
		o = add(buf, n, o, "%s target=%llu", op, (unsigned long long)vrow_u(r, "target_pid"));
		o = add_result(r, buf, n, o);
	} else if (!strcmp(kind, "bpf")) {
		o = add(buf, n, o, "%s %s '%s'", op, vrow_s(r, "obj_type"), vrow_s(r, "name"));
		o = add_result(r, buf, n, o);
	} else {
		f = vrow_get(r, "name");
		o = add(buf, n, o, "%s%s%s", op, f ? " " : "", f ? f->s : "");
		if (strcmp(op, "module_load"))
			o = add_result(r, buf, n, o);
	}
	if (vrow_b(r, "privilege_gain"))
		add(buf, n, o, " [privilege gain]");
}

static const struct vcol sec_cols[] = {
	VCOL_TIME,
	{ "KIND", 10, NULL, col_kind },
	{ "SEV", 6, NULL, col_sev },
	{ "PID", 7, "pid", NULL, true },
	{ "UID", 5, "uid", NULL, true },
	{ "COMM", 16, "comm" },
	{ "DETAIL", 0, NULL, col_detail },
	{ 0 },
};

/* the row keeps pointers: strings it formats live here until out_row returns */
struct sec_scratch {
	char cap_eff[2][24], cap_prm[2][24], asked[64], num[2][16];
};

static void ids_fields(struct vrow *r, const struct vigil_sec *e, bool uids, bool gids)
{
	static const char *const uk[2][4] = {
		{ "old_uid", "old_euid", "old_suid", "old_fsuid" },
		{ "new_uid", "new_euid", "new_suid", "new_fsuid" } };
	static const char *const gk[2][4] = {
		{ "old_gid", "old_egid", "old_sgid", "old_fsgid" },
		{ "new_gid", "new_egid", "new_sgid", "new_fsgid" } };
	const struct vigil_sec_ids *ids[2] = { &e->old, &e->new };

	for (int w = 0; w < 2; w++) {
		const uint32_t u[4] = { ids[w]->uid, ids[w]->euid, ids[w]->suid, ids[w]->fsuid };
		const uint32_t g[4] = { ids[w]->gid, ids[w]->egid, ids[w]->sgid, ids[w]->fsgid };

		for (int i = 0; i < 4; i++) {
			if (uids)
				vrow_u64(r, uk[w][i], u[i]);
			if (gids)
				vrow_u64(r, gk[w][i], g[i]);
		}
	}
}

static void count(struct sec_priv *p, struct vigil_inst *in, const struct vigil_sec *e,
		  enum sec_severity sev, enum sec_result res)
{
	struct sec_counts *c = NULL;
	uint64_t key = 0;

	p->host.n[e->kind][sev][res]++;
	if (!p->ctr)
		return;
	if (in->containers) {
		const struct vigil_container *ct = vigil_container_lookup(in->containers,
									   e->hdr.cgroup_id);
		key = ct ? ct->cgroup_id : 0;
	}
	for (size_t i = 0; i < p->nctr && !c; i++)
		if (p->ctr[i].cgroup_id == key)
			c = &p->ctr[i];
	if (!c && p->nctr < SEC_MAX_CONTAINERS) {
		c = &p->ctr[p->nctr++];
		c->cgroup_id = key;
	}
	if (!c) {
		c = &p->ctr[SEC_MAX_CONTAINERS];
		c->cgroup_id = ~0ull;
	}
	c->n[e->kind][sev][res]++;
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct vigil_inst *in = ctx;
	struct sec_priv *p = in->priv;
	const struct vigil_sec *e = data;
	struct sec_scratch s;
	enum sec_severity sev;
	enum sec_result res;
	struct vrow r;

	if (size < sizeof(*e) || e->hdr.type != VIGIL_EV_SECURITY || e->kind >= VIGIL_SEC__KINDS ||
	    e->op >= VIGIL_SOP__COUNT)
		return 0;
	sev = sec_severity_of(e);
	res = sec_result_of(e);
	count(p, in, e, sev, res);

	vrow_init(&r);
	vrow_hdr(&r, "security", &e->hdr);
	vrow_str(&r, "kind", sec_kind_names[e->kind]);
	vrow_str(&r, "op", sec_op_names[e->op]);
	vrow_str(&r, "severity", sec_severity_names[sev]);
	vrow_str(&r, "result", sec_result_names[res]);
	vrow_s64(&r, "ret", e->ret);
	if (e->ret < 0)
		vrow_str(&r, "errno", vigil_errno_name((int)-e->ret));
	vrow_bool(&r, "privilege_gain", sec_privilege_gain(e));

	switch (e->kind) {
	case VIGIL_SEC_CAP:
		vrow_u64(&r, "cap", e->args[0]);
		vrow_str(&r, "cap_name", SEC_ARRAY_NAME(sec_cap_names, e->args[0], s.num[0],
							  sizeof(s.num[0])));
		vrow_bool(&r, "userns", e->flags & VIGIL_SECF_USERNS);
		vrow_u64(&r, "euid", e->old.euid);
		break;
	case VIGIL_SEC_CRED: {
		int nargs = e->op == VIGIL_SOP_SETRESUID || e->op == VIGIL_SOP_SETRESGID ? 3 :
			    e->op == VIGIL_SOP_SETREUID || e->op == VIGIL_SOP_SETREGID ? 2 : 1;
		size_t o = 0;

		/* the ids asked for, as the caller wrote them (-1: unchanged) */
		if (sec_is_uid_op(e->op) || sec_is_gid_op(e->op))
			for (int i = 0; i < nargs; i++)
				o += snprintf(s.asked + o, sizeof(s.asked) - o, "%s%d", i ? "," : "",
					      (int)(uint32_t)e->args[i]);
		else if (e->op == VIGIL_SOP_SETGROUPS)
			snprintf(s.asked, sizeof(s.asked), "%d", (int)e->args[0]);
		else
			s.asked[0] = 0;
		vrow_str(&r, "asked", s.asked);
		ids_fields(&r, e, sec_is_uid_op(e->op) || e->op == VIGIL_SOP_CAPSET,
			   sec_is_gid_op(e->op));
		if (e->op == VIGIL_SOP_SETGROUPS) {
			vrow_u64(&r, "old_ngroups", e->old.ngroups);
			vrow_u64(&r, "new_ngroups", e->new.ngroups);
		}
		for (int w = 0; w < 2; w++) {
			const struct vigil_sec_ids *ids = w ? &e->new : &e->old;

			snprintf(s.cap_eff[w], sizeof(s.cap_eff[w]), "0x%llx",
				 (unsigned long long)ids->cap_eff);
			snprintf(s.cap_prm[w], sizeof(s.cap_prm[w]), "0x%llx",
				 (unsigned long long)ids->cap_prm);
		}
		vrow_str(&r, "old_cap_eff", s.cap_eff[0]);
		vrow_str(&r, "new_cap_eff", s.cap_eff[1]);
		vrow_str(&r, "old_cap_prm", s.cap_prm[0]);
		vrow_str(&r, "new_cap_prm", s.cap_prm[1]);
		break;
	}
	case VIGIL_SEC_EXEC:
		vrow_str(&r, "filename", e->path);
		vrow_str(&r, "file", e->name);
		snprintf(s.num[0], sizeof(s.num[0]), "%o", e->obj_type & 07777);
		vrow_str(&r, "mode", s.num[0]);
		vrow_u64(&r, "file_uid", e->obj_uid);
		vrow_u64(&r, "file_gid", e->obj_gid);
		vrow_bool(&r, "setuid", e->flags & VIGIL_SECF_SETUID);
		vrow_bool(&r, "setgid", e->flags & VIGIL_SECF_SETGID);
		vrow_bool(&r, "fileless", e->flags & VIGIL_SECF_UNLINKED);
		vrow_bool(&r, "memfd", e->flags & VIGIL_SECF_MEMFD);
		vrow_bool(&r, "world_writable_dir", e->flags & VIGIL_SECF_WW_DIR);
		vrow_u64(&r, "new_uid", e->new.uid);
		vrow_u64(&r, "new_euid", e->new.euid);
		vrow_u64(&r, "new_egid", e->new.egid);
		break;
	case VIGIL_SEC_PTRACE:
		vrow_u64(&r, "target_pid", e->target_pid);
		break;
	case VIGIL_SEC_BPF:
		vrow_str(&r, "obj_type", e->op == VIGIL_SOP_PROG_LOAD ?
			 SEC_ARRAY_NAME(sec_prog_types, e->obj_type, s.num[0], sizeof(s.num[0])) :
			 SEC_ARRAY_NAME(sec_map_types, e->obj_type, s.num[0], sizeof(s.num[0])));
		vrow_str(&r, "name", e->name);
		break;
	case VIGIL_SEC_MODULE:
		if (e->op == VIGIL_SOP_MODULE_LOAD) {
			vrow_str(&r, "name", e->name);
			vrow_u64(&r, "taints", e->args[0]);
		} else {
			vrow_str(&r, "params", e->path);
			if (e->op == VIGIL_SOP_FINIT_MODULE)
				vrow_s64(&r, "fd", (int)e->args[0]);
			else
				vrow_u64(&r, "len", e->args[1]);
		}
		break;
	}
	return out_row(in->sink, &r);
}

/* ---- lifecycle ------------------------------------------------------------ */

static int sec_check(struct vigil_inst *in)
{
	const struct sec_opts *o = in->opts;

	if ((o->all || o->denied) && o->kinds && !(o->kinds & (1u << VIGIL_SEC_CAP))) {
		vigil_usage_error("--all and --denied are about capability checks, which --kind leaves out");
		return VIGIL_EXIT_USAGE;
	}
	if (o->mechanism && strcmp(o->mechanism, "auto") && strcmp(o->mechanism, "tracepoint") &&
	    strcmp(o->mechanism, "fexit") && strcmp(o->mechanism, "none")) {
		vigil_usage_error("unknown mechanism '%s': auto, tracepoint, fexit or none",
				  o->mechanism);
		return VIGIL_EXIT_USAGE;
	}
	return 0;
}

static int sec_start(struct vigil_inst *in)
{
	const struct sec_opts *o = in->opts;
	struct sec_priv *p = in->priv;
	uint32_t kinds = o->kinds ? o->kinds : SEC_ALL_KINDS;
	int err;

	if ((err = vigil_env_need_tracefs()))
		return err;
	if (o->by_container) {
		p->ctr = calloc(SEC_MAX_CONTAINERS + 1, sizeof(*p->ctr));
		if (!p->ctr)
			return VIGIL_EXIT_FAIL;
	}
	p->modules = tracepoint_exists("syscalls", "sys_enter_finit_module");
	if ((kinds & (1u << VIGIL_SEC_MODULE)) && !p->modules)
		vigil_info("security: this kernel has no module support (no "
			   "syscalls:sys_enter_finit_module): no module can be loaded, none is traced");
	out_set_columns(in->sink, sec_cols);
	if (kinds & (1u << VIGIL_SEC_CAP)) {
		in->c.mechanism = o->mechanism;
		err = vigil_session_start_plan(&p->s, in, &cap_plan, on_event, in, &p->choice);
		if (err)
			return err;
		p->caps = strcmp(p->choice.path->name, "none") != 0;
		if (!p->caps && !p->choice.forced)
			vigil_warn("security: capability checks unavailable: %s", p->choice.why);
	} else {
		err = vigil_session_open(&p->s, in, sec_open(in, NULL));
		if (err)
			return err;
		err = vigil_session_start(&p->s, on_event, in);
		if (err)
			return err;
	}
	p->started = true;
	return 0;
}

/* the de-duplicated checks seen more than once, with how often */
static void cap_summary(struct vigil_inst *in)
{
	struct sec_priv *p = in->priv;
	int fd = bpf_map__fd(p->skel->maps.sec_cap_seen);
	struct vigil_sec_cap_key key, next, *prev = NULL;
	bool header = false;
	char num[16];
	__u64 n;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &n) || n < 2)
			continue;
		const char *cap = SEC_ARRAY_NAME(sec_cap_names, key.cap, num, sizeof(num));
		const char *res = key.ret ? "denied" : "granted";

		if (in->sink->json) {
			struct jw w;

			jw_record(&w, in->sink, "capability_summary", vigil_boot_ns());
			jw_u64(&w, "pid", key.pid);
			jw_u64(&w, "cgroup_id", key.cgroup_id);
			jw_u64(&w, "cap", key.cap);
			jw_str(&w, "cap_name", cap);
			jw_str(&w, "result", res);
			jw_u64(&w, "count", n);
			jw_end_obj(&w);
		} else {
			if (!header)
				out_text(in->sink, "\ncapability checks shown once, seen more often:\n"
					 "%7s  %-24s %-8s %10s\n", "PID", "CAPABILITY", "RESULT", "COUNT");
			header = true;
			out_text(in->sink, "%7u  %-24s %-8s %10llu\n", key.pid, cap, res,
				 (unsigned long long)n);
		}
	}
	out_flush(in->sink);
}

static int sec_stop(struct vigil_inst *in, int err)
{
	const struct sec_opts *o = in->opts;
	struct sec_priv *p = in->priv;

	if (p->s.in)
		err = vigil_session_close(&p->s, err);
	if (p->started && p->caps && !o->all && p->skel)
		cap_summary(in);
	sec_destroy(in);
	free(p->ctr);
	p->ctr = NULL;
	return err;
}

static int sec_sessions(struct vigil_inst *in, struct vigil_session **out, int max)
{
	struct sec_priv *p = in->priv;

	out[0] = &p->s;
	return max > 0 && p->started ? 1 : 0;
}

static void metrics_rows(struct vigil_metrics *m, const char *feature, const struct sec_counts *c,
			 const char *const *extra)
{
	for (int k = 0; k < VIGIL_SEC__KINDS; k++)
		for (int s = 0; s < SEC_SEV__COUNT; s++)
			for (int r = 0; r < SEC_RES__COUNT; r++) {
				const char *l[16] = { "feature", feature, "kind", sec_kind_names[k],
						      "severity", sec_severity_names[s],
						      "result", sec_result_names[r] };
				int n = 8;

				if (!c->n[k][s][r])
					continue;
				for (int i = 0; extra && extra[i] && n < 14; i++)
					l[n++] = extra[i];
				l[n] = NULL;
				vm_u64(m, c->n[k][s][r], l);
			}
}

/* counters by kind, severity and result; per container when asked (by-container) */
static void sec_metrics(struct vigil_inst *in, struct vigil_metrics *m)
{
	struct sec_priv *p = in->priv;

	vm_family(m, "vigil_security_events_total", "counter",
		  "security events by kind, severity and result");
	metrics_rows(m, in->name, &p->host, NULL);
	if (!p->ctr)
		return;
	vm_family(m, "vigil_security_container_events_total", "counter",
		  "security events per container, by kind, severity and result");
	for (size_t i = 0; i <= SEC_MAX_CONTAINERS; i++) {
		const struct sec_counts *c = &p->ctr[i];
		const struct vigil_container *ct;
		const char *name, *pod = "", *ns = "";
		char id[24];

		if (i >= p->nctr && i < SEC_MAX_CONTAINERS)
			continue;
		if (i == SEC_MAX_CONTAINERS && c->cgroup_id != ~0ull)
			continue;
		ct = c->cgroup_id && c->cgroup_id != ~0ull && in->containers ?
			vigil_container_lookup(in->containers, c->cgroup_id) : NULL;
		if (!c->cgroup_id) {
			name = "(host)";
		} else if (c->cgroup_id == ~0ull) {
			name = "(other)";
		} else if (ct && ct->name_state == VIGIL_CNAME_KNOWN) {
			name = ct->name;
			pod = ct->pod;
			ns = ct->namespace;
		} else if (ct) {
			name = ct->id;
		} else {
			snprintf(id, sizeof(id), "%llu", (unsigned long long)c->cgroup_id);
			name = id;
		}
		metrics_rows(m, in->name, c, (const char *[]){ "container", name, "pod", pod,
							    "namespace", ns, NULL });
	}
}

static const struct vigil_feature feat_security = {
	.name = "security",
	.opts = sec_opts,
	.opts_size = sizeof(struct sec_opts),
	.priv_size = sizeof(struct sec_priv),
	.check = sec_check,
	.start = sec_start,
	.stop = sec_stop,
	.sessions = sec_sessions,
	.metrics = sec_metrics,
};

const struct vigil_cmd cmd_security = {
	.name = "security",
	.summary = "capability checks, credential changes, ptrace, BPF and module loads, "
		   "set-uid and fileless execs, in one stream with a kind and a severity",
	.flags = VC_ROOT | VC_BTF | VC_TRACE,
	.needs = VIGIL_MECH(VIGIL_M_TRACEPOINT) | VIGIL_MECH(VIGIL_M_TP_BTF) |
		 VIGIL_MECH(VIGIL_M_RINGBUF),
	.plan = &cap_plan,
	.feature = &feat_security,
};
