// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * vigil guard: enforce a policy in the kernel (docs/guard.md). Forbidden
 * execs never run: BPF LSM makes them fail with EPERM where it loads, else
 * SIGKILL at sched_process_exec stops the new image before its first
 * instruction; the core's mechanism plan picks, doctor shows it. Forbidden
 * connects and UDP sends fail with EPERM (cgroup sock_addr programs).
 *
 * The policy file is parsed, resolved and compiled before anything is
 * loaded (src/guard/policy.c); any error is file:line:col, exit 2. Reload
 * (SIGHUP, or --reload for a persistent guard) writes the other
 * generation, switches one word, and waits for a grace period.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <linux/magic.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "core/vigil.h"
#include "core/opts.h"
#include "core/out.h"
#include "core/env.h"
#include "core/loop.h"
#include "core/metrics.h"
#include "core/session.h"
#include "core/feature.h"
#include "core/container.h"
#include "guard/policy.h"
#include "guard.skel.h"

#define GD_PIN_DIR VIGIL_PIN_ROOT "/guard"
#define GD_TMP_DIR VIGIL_PIN_ROOT "/guard_new"
#define GD_LOCK_PATH "/run/vigil/guard.lock"
/* the text of a persistent guard's policy, for 'status' and 'events' (the
 * maps hold inodes and prefixes, not the rules as written) */
#define GD_POLICY_COPY "/run/vigil/guard.policy"
#define GD_MAX_ATTACH 8		/* cgroups the connect programs attach to */
#define GD_NPROGS_NET 4
/* a rule as text: a path and a scope can each be VIGIL_GD_ARG_MAX bytes */
#define GD_RULE_TXT (2 * VIGIL_GD_ARG_MAX + 64)

typedef typeof(*((struct guard_bpf *)0)->bss) gd_data_t;

struct gd_opts {
	const char *policy;
	const char *check;
	const char *mechanism;
	bool dry_run, persist, reload, unload;
};

/* the maps a generation lives in: an object this process holds, or pins */
struct gd_fds {
	int data, files, dirs, hashes, net, sync, sync_inner, counts, cache;
};

struct gd_attach {
	char path[PATH_MAX];
	struct bpf_link *links[GD_NPROGS_NET];
};

struct gd_priv {
	struct vigil_session s;
	struct guard_bpf *skel;
	bool started;
	struct vigil_mech_choice choice;
	struct gd_fds fds;
	/* the policy of each generation, for the text of a deciding rule */
	struct vigil_gd_policy pol[2];
	struct vigil_gd_tables tab[2];
	uint32_t active;
	struct gd_attach att[GD_MAX_ATTACH];
	uint32_t natt;
	uint64_t reloads, reload_errors, hashed;
};

static const struct gd_opts gd_defaults = { 0 };

static int opt_mechanism(void *base, const char *arg)
{
	((struct gd_opts *)base)->mechanism = arg;
	return 0;
}

#define F(f) VOFF(struct gd_opts, f)

/* the feature's (a foreground load, the agent's guard section) */
static const struct vigil_opt guard_opts[] = {
	VOPT_SECTION("Policy (docs/guard.md)"),
	{ "policy", 'f', VO_STR, F(policy), "FILE", "the policy to enforce" },
	{ "dry-run", 'n', VO_FLAG, F(dry_run), NULL,
	  "report what would be denied (how: reported), deny nothing" },
	{ "mechanism", 0, VO_FUNC, 0, "NAME",
	  "auto (default: lsm when BPF LSM works here, else sigkill), lsm or sigkill", opt_mechanism },
	VOPT_END,
};

/* the verbs': each takes only what applies to it (base: cli_opts) */
static const struct vigil_opt load_opts[] = {
	VOPT_SECTION("Policy (docs/guard.md)"),
	{ "policy", 'f', VO_STR, F(policy), "FILE", "the policy to enforce" },
	{ "dry-run", 'n', VO_FLAG, F(dry_run), NULL,
	  "report what would be denied (how: reported), deny nothing" },
	{ "persist", 0, VO_FLAG, F(persist), NULL,
	  "pin the guard in bpffs (" GD_PIN_DIR ", 0600) and exit; it stays until 'vigil guard unload'" },
	{ "mechanism", 0, VO_FUNC, 0, "NAME",
	  "auto (default: lsm when BPF LSM works here, else sigkill), lsm or sigkill", opt_mechanism },
	VOPT_END,
};
static const struct vigil_opt reload_opts[] = {
	VOPT_SECTION("Policy (docs/guard.md)"),
	{ "policy", 'f', VO_STR, F(policy), "FILE", "the new policy" },
	{ "dry-run", 'n', VO_FLAG, F(dry_run), NULL, "the new policy reports, denies nothing" },
	VOPT_END,
};
static struct gd_opts cli_opts;

/* ---- the mechanism plan (docs/guard.md, "Mechanisms") ---- */

static const char *const lsm_progs[] = { "gd_bprm_check", "gd_exec", "gd_connect4", "gd_connect6",
					 "gd_sendmsg4", "gd_sendmsg6", NULL };
static const char *const lsm_seen[] = { "bprm_check_security", "sched_process_exec", NULL };
static const char *const kill_progs[] = { "gd_exec", "gd_connect4", "gd_connect6", "gd_sendmsg4",
					  "gd_sendmsg6", NULL };
static const char *const kill_seen[] = { "sched_process_exec", NULL };

static const struct vigil_mech_path paths[] = {
	{ "lsm", VIGIL_M_LSM, "lsm/bprm_check_security (EPERM)", lsm_progs, lsm_seen, false },
	{ "sigkill", VIGIL_M_SEND_SIGNAL, "tp_btf/sched_process_exec + bpf_send_signal(SIGKILL)",
	  kill_progs, kill_seen, false },
};

static struct bpf_object_skeleton *gd_open(struct vigil_inst *in, const struct vigil_mech_path *path)
{
	struct gd_priv *p = in->priv;
	struct guard_bpf *skel = p->skel = guard_bpf__open();

	if (!skel)
		return NULL;
	skel->rodata->lsm_path = path->mech == VIGIL_M_LSM;
	/* denials are rare and each record is 384 bytes: 256 KiB holds ~680 in a
	 * burst (the rest are counted as lost); 1 MiB mapped twice was 2 MB of
	 * RSS. --ringbuf-size still sets it (applied after this). */
	bpf_map__set_max_entries(skel->maps.vigil_events, 256 * 1024);
	/* attached to cgroups by guard itself, after the check */
	bpf_program__set_autoattach(skel->progs.gd_connect4, false);
	bpf_program__set_autoattach(skel->progs.gd_connect6, false);
	bpf_program__set_autoattach(skel->progs.gd_sendmsg4, false);
	bpf_program__set_autoattach(skel->progs.gd_sendmsg6, false);
	return skel->skeleton;
}

static void gd_destroy(struct vigil_inst *in)
{
	struct gd_priv *p = in->priv;

	guard_bpf__destroy(p->skel);
	p->skel = NULL;
}

/* a child of vigil execs vigil itself: every exec hook of every path runs */
static void gd_trigger(struct vigil_inst *in)
{
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		char *argv[] = { "vigil", "--version", NULL };

		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	if (pid > 0)
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
}

/*
 * Before the LSM path pays for its maps, its BTF and a failed load (about
 * 15 ms of the start-up), load a two-instruction LSM program against BTF id 1
 * (not a function). A kernel that refuses LSM programs outright says EPERM
 * before it looks at the target (this 6.18 host); one that takes them says
 * EINVAL, and then the real path is tried. So the only answer trusted is
 * the refusal, which the full load would have given too.
 */
static int gd_usable(struct vigil_inst *in, const struct vigil_mech_path *path, char *why, size_t n)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, o, .expected_attach_type = BPF_LSM_MAC, .attach_btf_id = 1);
	int fd, err;

	if (path->mech != VIGIL_M_LSM)
		return 0;
	fd = bpf_prog_load(BPF_PROG_TYPE_LSM, "gd_lsm_probe", "GPL", insns, 2, &o);
	err = errno;
	if (fd >= 0)
		close(fd);
	if (fd < 0 && err == EPERM) {
		snprintf(why, n, "load: %s", strerror(err));
		return err;
	}
	return 0;
}

static const struct vigil_mech_plan plan = {
	.paths = paths,
	.npaths = sizeof(paths) / sizeof(paths[0]),
	.open = gd_open,
	.destroy = gd_destroy,
	.trigger = gd_trigger,
	.usable = gd_usable,
};

/* ---- resolving a policy against this host ---- */

static uint32_t kdev(dev_t d)
{
	return (uint32_t)(major(d) << 20 | minor(d));
}

static int env_stat(void *ctx, const char *path, uint32_t *dev, uint64_t *ino, bool *is_dir,
		    bool *is_reg)
{
	struct stat st;

	if (stat(path, &st))
		return -errno;
	*dev = kdev(st.st_dev);
	*ino = st.st_ino;
	*is_dir = S_ISDIR(st.st_mode);
	*is_reg = S_ISREG(st.st_mode);
	return 0;
}

static int env_scope(void *ctx, int kind, const char *name, uint64_t *id, uint32_t *level,
		     char *err, size_t errlen)
{
	struct vigil_inst *in = ctx;
	const char *root = vigil_cgroup2_path();

	if (!root) {
		snprintf(err, errlen, "no cgroup v2 hierarchy is mounted");
		return -ENOENT;
	}
	if (kind == VIGIL_GD_S_CGROUP) {
		char path[PATH_MAX];
		struct statfs sf;
		struct stat st;
		const char *rel = name;
		uint32_t lv = 0;

		if (name[0] == '/' && !strncmp(name, root, strlen(root)))
			rel = name + strlen(root);
		while (*rel == '/')
			rel++;
		snprintf(path, sizeof(path), "%s/%s", root, rel);
		if (stat(path, &st) || statfs(path, &sf))
			return -errno;
		if (!S_ISDIR(st.st_mode) || sf.f_type != CGROUP2_SUPER_MAGIC) {
			snprintf(err, errlen, "'%s' is not a cgroup v2 directory (cgroup2 is at '%s')",
				 path, root);
			return -EINVAL;
		}
		/* the level bpf_get_current_ancestor_cgroup_id() takes: components below the root */
		for (const char *c = rel; *c; c++)
			if (*c != '/' && (c == rel || c[-1] == '/'))
				lv++;
		*id = st.st_ino;
		*level = lv;
		return 0;
	} else {
		struct vigil_container_match m[1];
		int n;

		if (!in || !in->containers) {
			snprintf(err, errlen, "no container resolver");
			return -ENOENT;
		}
		vigil_containers_resolve_now(in->containers);
		n = vigil_containers_match(in->containers, name, m, 1, err, errlen);
		if (n <= 0)
			return n < 0 ? n : -ENOENT;
		*id = m[0].cgroup_id;
		*level = (uint32_t)m[0].level;
		return 0;
	}
}

/* parse, resolve, compile for generation gen; errors printed; 0 or VIGIL_EXIT_USAGE */
static int policy_build(struct vigil_inst *in, const char *path, uint32_t gen, bool dry_run,
			struct vigil_gd_policy *pol, struct vigil_gd_tables *t)
{
	const struct vigil_gd_env env = { env_stat, env_scope, in };
	int err;

	memset(t, 0, sizeof(*t));
	err = vigil_gd_parse_file(pol, path);

	/* the rules that parsed are resolved too: every error in one run */
	err += vigil_gd_resolve(pol, &env);
	if (!err)
		err = vigil_gd_compile(pol, gen, dry_run, t);
	vigil_gd_print_diags(pol, stderr);
	if (err) {
		vigil_gd_tables_free(t);
		vigil_gd_policy_free(pol);
		return VIGIL_EXIT_USAGE;
	}
	return 0;
}

/* ---- generations: fill the inactive one, switch, wait, clear the old ---- */

static int fill(int fd, const void *keys, size_t ksz, const void *vals, size_t vsz, uint32_t n)
{
	uint32_t count = n;

	/* one syscall for the lot where the map type takes batches (hash maps);
	 * 1,000 single updates were ~5 ms of the start-up */
	if (n && !bpf_map_update_batch(fd, keys, vals, &count, NULL))
		return 0;
	for (uint32_t i = 0; i < n; i++)
		if (bpf_map_update_elem(fd, (const char *)keys + i * ksz, (const char *)vals + i * vsz,
					BPF_ANY))
			return -errno;
	return 0;
}

/* delete every key of generation gen (gen sits in the low byte of the u32 at gen_off) */
static int clear_gen(int fd, size_t ksz, size_t gen_off, uint32_t gen)
{
	char key[64], next[64];
	char *del = NULL;
	size_t n = 0, cap = 0;
	bool have = false;
	int err = 0;

	/* collect first, delete after: deleting while walking restarts the walk */
	while (!bpf_map_get_next_key(fd, have ? key : NULL, next)) {
		memcpy(key, next, ksz);
		have = true;
		if ((*(uint32_t *)(key + gen_off) & 0xff) != gen)
			continue;
		if (n == cap) {
			char *m = realloc(del, (cap = cap ? cap * 2 : 256) * ksz);

			if (!m) {
				free(del);
				return -ENOMEM;
			}
			del = m;
		}
		memcpy(del + n++ * ksz, key, ksz);
	}
	for (size_t i = 0; i < n; i++)
		if (bpf_map_delete_elem(fd, del + i * ksz) && errno != ENOENT)
			err = -errno;
	free(del);
	return err;
}

static int clear_all(const struct gd_fds *f, uint32_t gen)
{
	int e1 = clear_gen(f->files, sizeof(struct vigil_gd_ino_key), 0, gen);
	int e2 = clear_gen(f->dirs, sizeof(struct vigil_gd_ino_key), 0, gen);
	int e3 = clear_gen(f->hashes, sizeof(struct vigil_gd_hash_key), 0, gen);
	int e4 = clear_gen(f->net, sizeof(struct vigil_gd_net_key), 4, gen);

	return e1 ? e1 : e2 ? e2 : e3 ? e3 : e4;
}

/* re-installing a map-in-map slot makes the kernel wait for an RCU grace
 * period: no program still runs with the old generation after it */
static int grace(const struct gd_fds *f)
{
	__u32 zero = 0;

	return bpf_map_update_elem(f->sync, &zero, &f->sync_inner, BPF_ANY) ? -errno : 0;
}

/*
 * The tables t were compiled for generation next. Write them, then the
 * generation's header, then the active word; wait; clear the old one.
 */
static int install(const struct gd_fds *f, const struct vigil_gd_tables *t, uint32_t next,
		   bool initial)
{
	gd_data_t d;
	__u32 zero = 0;
	int err;

	if (bpf_map_lookup_elem(f->data, &zero, &d))
		return -errno;
	/* a failed earlier reload may have left entries in the inactive generation */
	err = clear_all(f, next);
	if (!err)
		err = fill(f->files, t->fkeys, sizeof(*t->fkeys), t->fvals, sizeof(*t->fvals), t->nfiles);
	if (!err)
		err = fill(f->dirs, t->dkeys, sizeof(*t->dkeys), t->dvals, sizeof(*t->dvals), t->ndirs);
	if (!err)
		err = fill(f->hashes, t->hkeys, sizeof(*t->hkeys), t->hvals, sizeof(*t->hvals),
			   t->nhashes);
	if (!err)
		err = fill(f->net, t->nkeys, sizeof(*t->nkeys), t->nvals, sizeof(*t->nvals), t->nnet);
	if (err) {
		clear_all(f, next);
		return err;
	}
	/* the inactive header: no program reads it yet; the live one is written
	 * back with the bytes it has */
	d.gd_gens[next] = t->gen;
	if (bpf_map_update_elem(f->data, &zero, &d, BPF_ANY))
		return -errno;
	/* the switch: one word */
	d.gd_active = next;
	if (bpf_map_update_elem(f->data, &zero, &d, BPF_ANY))
		return -errno;
	if (initial)
		return 0;	/* no older generation to wait out: the grace period was ~25 ms of start-up */
	err = grace(f);
	if (err)
		return err;
	{
		/* nothing reads the old generation now */
		memset(&d.gd_gens[next ^ 1], 0, sizeof(d.gd_gens[0]));
		if (bpf_map_update_elem(f->data, &zero, &d, BPF_ANY))
			return -errno;
		return clear_all(f, next ^ 1);
	}
	return 0;
}

/* once the maps hold a generation, user space needs only its hash rules
 * (on_hash_request decides there) and its header: free the rest (peak RSS) */
static void tables_trim(struct vigil_gd_tables *t)
{
	free(t->fkeys);
	free(t->fvals);
	free(t->dkeys);
	free(t->dvals);
	free(t->nkeys);
	free(t->nvals);
	t->fkeys = t->dkeys = NULL;
	t->fvals = t->dvals = NULL;
	t->nkeys = NULL;
	t->nvals = NULL;
	t->nfiles = t->ndirs = t->nnet = 0;
}

static void fds_of_skel(struct guard_bpf *skel, struct gd_fds *f)
{
	f->data = bpf_map__fd(skel->maps.bss);
	f->files = bpf_map__fd(skel->maps.gd_files);
	f->dirs = bpf_map__fd(skel->maps.gd_dirs);
	f->hashes = bpf_map__fd(skel->maps.gd_hashes);
	f->net = bpf_map__fd(skel->maps.gd_net);
	f->sync = bpf_map__fd(skel->maps.gd_sync);
	f->sync_inner = bpf_map__fd(skel->maps.gd_sync_inner);
	f->counts = bpf_map__fd(skel->maps.gd_counts);
	f->cache = bpf_map__fd(skel->maps.gd_hash_cache);
}

/* ---- where the connect programs attach ---- */

/* the cgroups to attach at: the root when a host or container rule exists,
 * else each named cgroup that is not below another */
static uint32_t attach_set(const struct vigil_gd_policy *pol, bool root_only,
			   char (*out)[PATH_MAX], uint32_t max)
{
	const char *root = vigil_cgroup2_path();
	uint32_t n = 0;
	bool any = false, need_root = root_only;

	for (uint32_t i = 0; i < pol->n; i++) {
		const struct vigil_gd_rule *r = &pol->rules[i];

		if (r->kind != VIGIL_GD_R_CONNECT)
			continue;
		any = true;
		if (r->scope_kind != VIGIL_GD_S_CGROUP)
			need_root = true;
	}
	if (!any || !root)
		return 0;
	if (need_root) {
		snprintf(out[0], PATH_MAX, "%s", root);
		return 1;
	}
	for (uint32_t i = 0; i < pol->n; i++) {
		const struct vigil_gd_rule *r = &pol->rules[i];
		const char *rel = r->scope;
		char path[PATH_MAX];
		bool skip = false;

		if (r->kind != VIGIL_GD_R_CONNECT)
			continue;
		if (rel[0] == '/' && !strncmp(rel, root, strlen(root)))
			rel += strlen(root);
		while (*rel == '/')
			rel++;
		snprintf(path, sizeof(path), "%s/%s", root, rel);
		while (strlen(path) > 1 && path[strlen(path) - 1] == '/')
			path[strlen(path) - 1] = 0;
		for (uint32_t j = 0; j < n && !skip; j++) {
			size_t l = strlen(out[j]);

			skip = !strncmp(path, out[j], l) && (path[l] == '/' || !path[l]);
		}
		if (skip)
			continue;
		/* a new one above an earlier one replaces it */
		for (uint32_t j = 0; j < n; j++) {
			size_t l = strlen(path);

			if (!strncmp(out[j], path, l) && out[j][l] == '/') {
				memmove(&out[j], &out[j + 1], (n - j - 1) * sizeof(out[0]));
				n--;
				j--;
			}
		}
		if (n == max) {
			snprintf(out[0], PATH_MAX, "%s", root);
			return 1;
		}
		snprintf(out[n++], PATH_MAX, "%s", path);
	}
	return n;
}

static struct bpf_program *net_prog(struct guard_bpf *skel, int i)
{
	struct bpf_program *const progs[GD_NPROGS_NET] = {
		skel->progs.gd_connect4, skel->progs.gd_connect6,
		skel->progs.gd_sendmsg4, skel->progs.gd_sendmsg6,
	};

	return progs[i];
}

static void detach_one(struct gd_attach *a)
{
	for (int i = 0; i < GD_NPROGS_NET; i++) {
		bpf_link__destroy(a->links[i]);
		a->links[i] = NULL;
	}
}

/* attach to the new set before detaching what is no longer in it: no gap */
static int attach_update(struct gd_priv *p, const struct vigil_gd_policy *pol, bool root_only)
{
	char want[GD_MAX_ATTACH][PATH_MAX];
	struct gd_attach next[GD_MAX_ATTACH];
	uint32_t n = attach_set(pol, root_only, want, GD_MAX_ATTACH);

	memset(next, 0, sizeof(next));
	for (uint32_t i = 0; i < n; i++) {
		bool kept = false;

		memcpy(next[i].path, want[i], sizeof(next[i].path));
		for (uint32_t j = 0; j < p->natt && !kept; j++) {
			if (strcmp(p->att[j].path, want[i]))
				continue;
			next[i] = p->att[j];
			memset(&p->att[j], 0, sizeof(p->att[j]));
			kept = true;
		}
		if (kept)
			continue;
		int fd = open(want[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (fd < 0) {
			vigil_error("guard: cannot open cgroup '%s': %s", want[i], strerror(errno));
			goto fail;
		}
		for (int k = 0; k < GD_NPROGS_NET; k++) {
			next[i].links[k] = bpf_program__attach_cgroup(net_prog(p->skel, k), fd);
			if (!next[i].links[k]) {
				int e = errno;

				close(fd);
				vigil_error("guard: cannot attach '%s' to cgroup '%s': %s",
					    bpf_program__name(net_prog(p->skel, k)), want[i], strerror(e));
				goto fail;
			}
		}
		close(fd);
		vigil_debug("guard: connect programs attached to cgroup '%s'", want[i]);
	}
	for (uint32_t j = 0; j < p->natt; j++)
		detach_one(&p->att[j]);
	memcpy(p->att, next, sizeof(next));
	p->natt = n;
	return 0;
fail:
	/* the old attachments stand; undo the new ones (kept ones go back) */
	for (uint32_t i = 0; i < n; i++) {
		bool old = false;

		for (uint32_t j = 0; j < p->natt && !old; j++) {
			if (!p->att[j].links[0] && !strcmp(p->att[j].path, next[i].path)) {
				p->att[j] = next[i];
				old = true;
			}
		}
		if (!old)
			detach_one(&next[i]);
	}
	return VIGIL_EXIT_FAIL;
}

/* ---- records ---- */

static const char *kind_name(uint32_t k)
{
	return k == VIGIL_GD_K_EXEC ? "exec" : k == VIGIL_GD_K_CONNECT ? "connect" : "sendmsg";
}

static const struct vigil_gd_rule *rule_at(const struct vigil_gd_policy *pol, uint32_t line)
{
	for (uint32_t i = 0; i < pol->n; i++)
		if (pol->rules[i].line == line)
			return &pol->rules[i];
	return NULL;
}

static void col_what(const struct vrow *r, char *buf, size_t n)
{
	const struct vfield *path = vrow_get(r, "path"), *addr = vrow_get(r, "addr");

	if (path)
		snprintf(buf, n, "%s", path->s);
	else if (addr)
		snprintf(buf, n, "%s port %llu", addr->s, (unsigned long long)vrow_u(r, "port"));
	else
		buf[0] = 0;
}

static const struct vcol guard_cols[] = {
	VCOL_TIME,
	{ "KIND", 7, "kind" },
	{ "ACTION", 6, "action" },
	{ "HOW", 13, "how" },
	{ "PID", 7, "pid", NULL, true },
	{ "COMM", 16, "comm" },
	{ "TARGET", 30, NULL, col_what },
	{ "RULE", 0, "rule" },
	{ 0 },
};

static int emit(struct vigil_inst *in, const struct vigil_gd_event *e, uint32_t action,
		uint32_t how, uint32_t line)
{
	struct gd_priv *p = in->priv;
	const struct vigil_gd_rule *rule = rule_at(&p->pol[e->gen & 1], line);
	char txt[GD_RULE_TXT] = "", addr[64];
	struct vrow r;

	vrow_init(&r);
	vrow_hdr(&r, "guard", &e->hdr);
	vrow_str(&r, "kind", kind_name(e->kind));
	vrow_str(&r, "action", vigil_gd_action_name(action));
	vrow_str(&r, "how", vigil_gd_how_name(how));
	vrow_str(&r, "mechanism", p->choice.path ? p->choice.path->name : "");
	vrow_u64(&r, "line", line);
	if (rule)
		vigil_gd_rule_format(rule, txt, sizeof(txt));
	vrow_str(&r, "rule", txt);
	vrow_u64(&r, "scope_cgroup_id", e->scope);
	if (e->kind == VIGIL_GD_K_EXEC) {
		vrow_str(&r, "path", e->path);
		vrow_u64(&r, "dev", e->dev);
		vrow_u64(&r, "ino", e->ino);
	} else {
		inet_ntop(e->family == 4 ? AF_INET : AF_INET6, e->addr, addr, sizeof(addr));
		vrow_str(&r, "addr", addr);
		vrow_u64(&r, "port", e->port);
		vrow_str(&r, "proto", e->sotype == 2 ? "udp" : e->sotype == 1 ? "tcp" : "other");
	}
	return out_row(in->sink, &r) < 0 ? -1 : 0;
}

/* the task's cgroup ids at the generation's levels, from /proc/PID/cgroup */
static void task_scopes(uint32_t pid, const struct vigil_gd_gen *g, uint64_t *ids)
{
	const char *root = vigil_cgroup2_path();
	char path[PATH_MAX], line[PATH_MAX], *rel = NULL;
	FILE *f;

	memset(ids, 0, sizeof(uint64_t) * VIGIL_GD_MAX_LEVELS);
	snprintf(path, sizeof(path), "/proc/%u/cgroup", pid);
	f = fopen(path, "re");
	if (!f || !root) {
		if (f)
			fclose(f);
		return;
	}
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "0::", 3)) {
			rel = line + 3;
			rel[strcspn(rel, "\n")] = 0;
			break;
		}
	fclose(f);
	if (!rel)
		return;
	for (uint32_t i = 0; i < g->nlevels && i < VIGIL_GD_MAX_LEVELS; i++) {
		uint32_t lv = 0;
		size_t o = strlen(root);
		struct stat st;
		const char *c = rel;

		memcpy(path, root, o);
		/* the first levels[i] components of the task's path */
		while (*c && lv < g->levels[i]) {
			while (*c == '/')
				c++;
			if (!*c)
				break;
			path[o++] = '/';
			while (*c && *c != '/' && o < sizeof(path) - 1)
				path[o++] = *c++;
			lv++;
		}
		path[o] = 0;
		if (lv == g->levels[i] && !stat(path, &st))
			ids[i] = st.st_ino;
	}
}

static bool hash_verdict(const struct vigil_gd_tables *t, const uint8_t sha[32], const uint64_t *ids,
			 struct vigil_gd_verdict *v)
{
	for (uint32_t s = 0; s <= t->gen.nlevels; s++) {
		uint64_t scope = s < t->gen.nlevels ? ids[s] : 0;

		if (s < t->gen.nlevels && !scope)
			continue;
		for (uint32_t i = 0; i < t->nhashes; i++)
			if (t->hkeys[i].scope == scope && !memcmp(t->hkeys[i].sha256, sha, 32)) {
				*v = t->hvals[i];
				return true;
			}
	}
	return false;
}

/*
 * A new image stopped at exec because its inode had no hash yet: hash the
 * file it runs (through /proc/PID/exe, the very inode), cache the hash for
 * the kernel, then kill or continue it.
 */
static int on_hash_request(struct vigil_inst *in, const struct vigil_gd_event *e)
{
	struct gd_priv *p = in->priv;
	uint32_t gen = p->active;
	const struct vigil_gd_tables *t = &p->tab[gen];
	struct vigil_gd_verdict v = { e->action, e->line };
	struct vigil_gd_cache_key ck = { .dev = e->dev, .ino = e->ino, .mtime_ns = e->mtime_ns };
	uint64_t ids[VIGIL_GD_MAX_LEVELS];
	char path[64];
	uint8_t sha[32];
	struct stat st;
	int pidfd, fd, sig = SIGCONT, err = 0;
	bool dry = t->gen.flags & VIGIL_GD_G_DRY_RUN;

	pidfd = (int)syscall(SYS_pidfd_open, e->hdr.pid, 0);
	snprintf(path, sizeof(path), "/proc/%u/exe", e->hdr.pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (pidfd < 0 || fd < 0 || fstat(fd, &st) || st.st_ino != e->ino || kdev(st.st_dev) != e->dev ||
	    vigil_sha256_fd(fd, sha)) {
		/* gone, or no longer that image: nothing to decide */
		vigil_debug("guard: cannot hash the image of pid %u: %s", e->hdr.pid, strerror(errno));
		goto cont;
	}
	p->hashed++;
	bpf_map_update_elem(p->fds.cache, &ck, sha, BPF_ANY);
	task_scopes(e->hdr.pid, &t->gen, ids);
	hash_verdict(t, sha, ids, &v);
	if (v.action == VIGIL_GD_DENY && !dry) {
		sig = SIGKILL;
		err = emit(in, e, v.action, VIGIL_GD_HOW_HASH_KILL, v.line);
	} else if (v.action == VIGIL_GD_DENY || v.action == VIGIL_GD_AUDIT) {
		err = emit(in, e, v.action, VIGIL_GD_HOW_REPORTED, v.line);
	}
cont:
	if (pidfd >= 0) {
		if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) && errno != ESRCH)
			vigil_warn("guard: cannot signal pid %u: %s", e->hdr.pid, strerror(errno));
		close(pidfd);
	} else {
		kill((pid_t)e->hdr.pid, SIGCONT);
	}
	if (fd >= 0)
		close(fd);
	return err;
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct vigil_inst *in = ctx;
	const struct vigil_gd_event *e = data;

	if (size < sizeof(*e))
		return 0;
	if (e->hdr.type == VIGIL_EV_GUARD_HASH)
		return on_hash_request(in, e);
	if (e->hdr.type == VIGIL_EV_GUARD)
		return emit(in, e, e->action, e->how, e->line);
	return 0;
}

/* ---- reload ---- */

static int reload(struct vigil_inst *in)
{
	const struct gd_opts *o = in->opts;
	struct gd_priv *p = in->priv;
	uint32_t next = p->active ^ 1;
	struct vigil_gd_policy pol;
	struct vigil_gd_tables t;
	int err;

	err = policy_build(in, o->policy, next, o->dry_run, &pol, &t);
	if (err) {
		p->reload_errors++;
		vigil_error("guard: reload of '%s' failed: the running policy stays", o->policy);
		return -1;
	}
	err = attach_update(p, &pol, false);
	if (!err)
		err = install(&p->fds, &t, next, false);
	if (err) {
		p->reload_errors++;
		vigil_error("guard: reload of '%s' failed: %s", o->policy, strerror(-err));
		vigil_gd_tables_free(&t);
		vigil_gd_policy_free(&pol);
		return -1;
	}
	vigil_gd_tables_free(&p->tab[next]);
	vigil_gd_policy_free(&p->pol[next]);
	tables_trim(&t);
	p->tab[next] = t;
	p->pol[next] = pol;	/* the old one stays: records still queued name its rules */
	p->active = next;
	vigil_gd_tables_free(&p->tab[next ^ 1]);	/* nothing decides with it now */
	p->reloads++;
	vigil_info("guard: reloaded '%s': %u rules, generation %u", o->policy, pol.n, next);
	if (vigil.json) {
		struct vrow r;

		vrow_init(&r);
		vrow_str(&r, "type", "guard_reload");
		vrow_u64(&r, "generation", next);
		vrow_u64(&r, "rules", pol.n);
		vrow_u64(&r, "reloads", p->reloads);
		out_row(in->sink, &r);
		out_flush(in->sink);
	}
	return 0;
}

/* the agent's SIGHUP with unchanged settings: the policy file may have changed */
static int gd_reload(struct vigil_inst *in)
{
	struct gd_priv *p = in->priv;

	return p && p->started ? reload(in) : 0;
}

static int on_signal(void *ctx, int sig)
{
	struct vigil_inst *in = ctx;

	if (sig == SIGHUP) {
		reload(in);	/* a failed one is reported; the guard goes on */
		return 0;
	}
	vigil_loop_stop(in->loop, 0);
	return 0;
}

/* ---- persistence ---- */

/* the ring buffer and its loss counter too: 'vigil guard events' reads them */
static const char *const pin_maps[] = { "bss", "gd_files", "gd_dirs", "gd_hashes", "gd_net",
					"gd_sync", "gd_sync_inner", "gd_counts", "vigil_events",
					"vigil_lost", NULL };

static int lock_take(void)
{
	int fd;

	mkdir("/run/vigil", 0755);
	fd = open(GD_LOCK_PATH, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX)) {
		vigil_error("guard: cannot take the lock '%s': %s", GD_LOCK_PATH, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void rm_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[PATH_MAX];

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (de->d_type == DT_DIR)
			rm_tree(path);
		else
			unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

static int pin_one(int fd, const char *dir, const char *name, bool is_link, struct bpf_link *l)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (is_link ? bpf_link__pin(l, path) : bpf_obj_pin(fd, path))
		return -errno;
	if (chmod(path, 0600))
		return -errno;
	return 0;
}

/* copy the policy file as it was loaded to GD_POLICY_COPY (0600), in one rename */
static int save_policy(const char *src)
{
	char tmp[PATH_MAX], buf[65536];
	int in = open(src, O_RDONLY | O_CLOEXEC), out;
	ssize_t n = 0;

	if (in < 0)
		return -errno;
	snprintf(tmp, sizeof(tmp), GD_POLICY_COPY ".%d", getpid());
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0) {
		close(in);
		return -errno;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			n = -1;
			break;
		}
	close(in);
	if (close(out) || n < 0 || rename(tmp, GD_POLICY_COPY)) {
		int e = errno;

		unlink(tmp);
		return -e;
	}
	return 0;
}

/* build under GD_TMP_DIR/PID, then publish with one rename: complete or absent */
static int persist(struct vigil_inst *in)
{
	struct gd_priv *p = in->priv;
	struct bpf_map *map;
	char tmp[PATH_MAX], name[64];
	struct stat st;
	int lock, err = 0;

	lock = lock_take();
	if (lock < 0)
		return VIGIL_EXIT_FAIL;
	if (!stat(GD_PIN_DIR, &st)) {
		vigil_error("guard: a persistent guard is loaded ('%s'); use 'vigil guard reload' or "
			    "'vigil guard unload'",
			    GD_PIN_DIR);
		close(lock);
		return VIGIL_EXIT_FAIL;
	}
	mkdir(VIGIL_PIN_ROOT, 0700);
	mkdir(GD_TMP_DIR, 0700);
	snprintf(tmp, sizeof(tmp), GD_TMP_DIR "/%d", getpid());
	rm_tree(tmp);
	if (mkdir(tmp, 0700)) {
		err = -errno;
		goto out;
	}
	for (int i = 0; pin_maps[i] && !err; i++) {
		map = bpf_object__find_map_by_name(p->skel->obj, strcmp(pin_maps[i], "bss") ? pin_maps[i] :
						   ".bss");
		err = map ? pin_one(bpf_map__fd(map), tmp, pin_maps[i], false, NULL) : -ENOENT;
	}
	for (int i = 0; i < p->skel->skeleton->prog_cnt && !err; i++) {
		struct bpf_link *l = *p->skel->skeleton->progs[i].link;

		if (!l)
			continue;
		snprintf(name, sizeof(name), "link_%s", p->skel->skeleton->progs[i].name);
		err = pin_one(-1, tmp, name, true, l);
	}
	for (uint32_t a = 0; a < p->natt && !err; a++)
		for (int k = 0; k < GD_NPROGS_NET && !err; k++) {
			snprintf(name, sizeof(name), "link_cg%u_%s", a, bpf_program__name(net_prog(p->skel, k)));
			err = pin_one(-1, tmp, name, true, p->att[a].links[k]);
		}
	if (!err)
		err = save_policy(((const struct gd_opts *)in->opts)->policy);
	if (!err && rename(tmp, GD_PIN_DIR))
		err = -errno;
out:
	if (err) {
		rm_tree(tmp);
		vigil_error("guard: cannot pin the guard: %s", strerror(-err));
	}
	rmdir(GD_TMP_DIR);
	rmdir(VIGIL_PIN_ROOT);	/* only if a failed pin left it empty */
	close(lock);
	return err ? VIGIL_EXIT_FAIL : 0;
}

static int pinned_fds(struct gd_fds *f)
{
	int *slots[] = { &f->data, &f->files, &f->dirs, &f->hashes, &f->net, &f->sync,
			 &f->sync_inner, &f->counts };
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++) {
		snprintf(path, sizeof(path), GD_PIN_DIR "/%s", pin_maps[i]);
		*slots[i] = bpf_obj_get(path);
		if (*slots[i] < 0)
			return -errno;
	}
	f->cache = -1;
	return 0;
}

static void fds_close(struct gd_fds *f)
{
	int *slots[] = { &f->data, &f->files, &f->dirs, &f->hashes, &f->net, &f->sync,
			 &f->sync_inner, &f->counts };

	for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++)
		if (*slots[i] > 0)
			close(*slots[i]);
}

static int reload_pinned(struct vigil_inst *in)
{
	const struct gd_opts *o = in->opts;
	struct vigil_gd_policy pol;
	struct vigil_gd_tables t;
	struct gd_fds f;
	gd_data_t d;
	__u32 zero = 0, next;
	int lock, err;

	memset(&f, -1, sizeof(f));
	lock = lock_take();
	if (lock < 0)
		return VIGIL_EXIT_FAIL;
	err = pinned_fds(&f);
	if (err) {
		vigil_error("guard: no persistent guard at '%s': %s", GD_PIN_DIR, strerror(-err));
		err = VIGIL_EXIT_FAIL;
		goto out;
	}
	if (bpf_map_lookup_elem(f.data, &zero, &d)) {
		err = VIGIL_EXIT_FAIL;
		goto out;
	}
	next = (d.gd_active & 1) ^ 1;
	err = policy_build(in, o->policy, next, o->dry_run, &pol, &t);
	if (err)
		goto out;
	if (t.nhashes) {
		vigil_error("guard: '%s': sha256 rules need a running vigil to hash new files; a "
			    "persistent guard cannot take them", o->policy);
		err = VIGIL_EXIT_USAGE;
	} else {
		err = install(&f, &t, next, false);
		if (err)
			vigil_error("guard: reload failed: %s", strerror(-err));
		else
			vigil_info("guard: reloaded '%s': %u rules, generation %u", o->policy, pol.n, next);
		if (!err && save_policy(o->policy))
			vigil_warn("guard: cannot keep a copy of '%s' in '%s': status shows no rules",
				   o->policy, GD_POLICY_COPY);
		err = err ? VIGIL_EXIT_FAIL : 0;
	}
	vigil_gd_tables_free(&t);
	vigil_gd_policy_free(&pol);
out:
	fds_close(&f);
	close(lock);
	return err;
}

static int unload(void)
{
	struct stat st;
	int lock = lock_take();
	bool had = !stat(GD_PIN_DIR, &st);

	if (lock < 0)
		return VIGIL_EXIT_FAIL;
	/* links first (the programs detach), then maps */
	rm_tree(GD_PIN_DIR);
	rm_tree(GD_TMP_DIR);
	unlink(GD_POLICY_COPY);
	rmdir(VIGIL_PIN_ROOT);	/* the last of vigil's pins: nothing of it stays in bpffs */
	close(lock);
	if (!had) {
		vigil_error("guard: no persistent guard at '%s'", GD_PIN_DIR);
		return VIGIL_EXIT_FAIL;
	}
	vigil_info("guard: unloaded; '%s' removed", GD_PIN_DIR);
	return 0;
}

/* ---- run ---- */

static int gd_check(struct vigil_inst *in)
{
	const struct gd_opts *o = in->opts;

	if (!o->check && !o->unload && !o->policy) {
		vigil_usage_error("needs a policy: -f FILE");
		return VIGIL_EXIT_USAGE;
	}
	if (in->c.filter.flags || in->c.cgroup_path || in->c.container) {
		vigil_usage_error("guard takes no -p/-u/-c/--cgroup/--container: scopes are in the policy "
				  "(host, cgroup PATH, container NAME)");
		return VIGIL_EXIT_USAGE;
	}
	return 0;
}

static int gd_start(struct vigil_inst *in)
{
	const struct gd_opts *o = in->opts;
	struct gd_priv *p = in->priv;
	int err;

	out_set_columns(in->sink, guard_cols);
	/* the one-shot modes print no table */
	in->sink->header_done = o->check || o->unload || o->reload || o->persist;
	if (o->check) {
		err = policy_build(in, o->check, 0, o->dry_run, &p->pol[0], &p->tab[0]);
		if (!err)
			vigil_info("guard: '%s': %u rules, no errors", o->check, p->pol[0].n);
		vigil_loop_stop(in->loop, 0);
		return err;
	}
	if (o->unload) {
		err = unload();
		vigil_loop_stop(in->loop, 0);
		return err;
	}
	if (o->reload) {
		err = reload_pinned(in);
		vigil_loop_stop(in->loop, 0);
		return err;
	}
	/* everything is decided before anything is loaded */
	err = policy_build(in, o->policy, 0, o->dry_run, &p->pol[0], &p->tab[0]);
	if (err)
		return err;
	if (o->persist && p->tab[0].nhashes) {
		vigil_usage_error("'%s': sha256 rules need a running vigil to hash new files; a "
				  "persistent guard cannot take them", o->policy);
		return VIGIL_EXIT_USAGE;
	}
	in->c.mechanism = o->mechanism;
	err = vigil_session_start_plan(&p->s, in, &plan, on_event, in, &p->choice);
	if (err)
		return err;
	p->started = true;
	fds_of_skel(p->skel, &p->fds);
	err = attach_update(p, &p->pol[0], o->persist);
	if (!err && install(&p->fds, &p->tab[0], 0, true)) {
		vigil_error("guard: cannot fill the policy maps: %s", strerror(errno));
		err = VIGIL_EXIT_FAIL;
	}
	if (err)
		return err;
	tables_trim(&p->tab[0]);
	vigil_info("guard: enforcing '%s' (%u rules) with %s%s", o->policy, p->pol[0].n,
		   p->choice.path->name, o->dry_run ? ", dry run: nothing is denied" : "");
	if (o->persist) {
		err = persist(in);
		if (!err)
			vigil_info("guard: pinned at '%s'; 'vigil guard unload' removes it", GD_PIN_DIR);
		vigil_loop_stop(in->loop, 0);
		return err;
	}
	/* the CLI's SIGHUP reloads; the agent keeps its own (a config reload) */
	if (!in->loop->on_signal) {
		in->loop->on_signal = on_signal;
		in->loop->signal_ctx = in;
	}
	return 0;
}

static int gd_stop(struct vigil_inst *in, int err)
{
	struct gd_priv *p = in->priv;

	if (p->started) {
		for (uint32_t a = 0; a < p->natt; a++)
			detach_one(&p->att[a]);
		p->natt = 0;
		err = vigil_session_close(&p->s, err);
		gd_destroy(in);
		p->started = false;
	}
	for (int g = 0; g < 2; g++) {
		vigil_gd_tables_free(&p->tab[g]);
		vigil_gd_policy_free(&p->pol[g]);
	}
	return err;
}

static int gd_sessions(struct vigil_inst *in, struct vigil_session **out, int max)
{
	struct gd_priv *p = in->priv;

	out[0] = &p->s;
	return max > 0 && p->started ? 1 : 0;
}

static void gd_metrics(struct vigil_inst *in, struct vigil_metrics *m)
{
	static const struct { uint32_t idx; const char *kind, *action; } series[] = {
		{ VIGIL_GD_C_EXEC_DENY, "exec", "deny" },
		{ VIGIL_GD_C_EXEC_AUDIT, "exec", "audit" },
		{ VIGIL_GD_C_NET_DENY, "connect", "deny" },
		{ VIGIL_GD_C_NET_AUDIT, "connect", "audit" },
	};
	struct gd_priv *p = in->priv;
	int ncpu = libbpf_num_possible_cpus();
	uint64_t vals[VIGIL_GD_C__COUNT] = { 0 };
	uint64_t *per = ncpu > 0 ? calloc((size_t)ncpu, sizeof(*per)) : NULL;

	if (!p->started || !per) {
		free(per);
		return;
	}
	for (uint32_t k = 0; k < VIGIL_GD_C__COUNT; k++) {
		if (bpf_map_lookup_elem(p->fds.counts, &k, per))
			continue;
		for (int c = 0; c < ncpu; c++)
			vals[k] += per[c];
	}
	free(per);
	vm_family(m, "vigil_guard_decisions_total", "counter",
		  "execs and connects the guard denied or audited (a deny under --dry-run counts as audit)");
	for (size_t i = 0; i < sizeof(series) / sizeof(series[0]); i++)
		vm_u64(m, vals[series[i].idx], (const char *[]){ "feature", in->name, "kind",
			series[i].kind, "action", series[i].action,
			"mechanism", series[i].kind[0] == 'e' ? p->choice.path->name : "cgroup", NULL });
	vm_family(m, "vigil_guard_hash_stops_total", "counter",
		  "execs held at exec until vigil hashed a file it had no hash for");
	vm_u64(m, vals[VIGIL_GD_C_HASH_STOP], (const char *[]){ "feature", in->name, NULL });
	vm_family(m, "vigil_guard_reloads_total", "counter", "policy reloads, by result");
	vm_u64(m, p->reloads, (const char *[]){ "feature", in->name, "result", "ok", NULL });
	vm_u64(m, p->reload_errors, (const char *[]){ "feature", in->name, "result", "error", NULL });
	vm_family(m, "vigil_guard_rules", "gauge", "rules of the running policy");
	vm_u64(m, p->pol[p->active].n, (const char *[]){ "feature", in->name, NULL });
}

static const struct vigil_feature feat_guard = {
	.name = "guard",
	.opts = guard_opts,
	.opts_size = sizeof(struct gd_opts),
	.opts_default = &gd_defaults,
	.priv_size = sizeof(struct gd_priv),
	.check = gd_check,
	.start = gd_start,
	.stop = gd_stop,
	.sessions = gd_sessions,
	.metrics = gd_metrics,
	.reload = gd_reload,
};

/* ---- the verbs ---- */

enum gd_mode { GD_LOAD, GD_RELOAD, GD_UNLOAD, GD_CHECK };

/* an instance of the feature on the CLI's loop, in one of its modes */
static int run_mode(enum gd_mode mode, const char *check_file)
{
	struct vigil_loop loop;
	struct vigil_inst *in = vigil_inst_new(&feat_guard, "guard");
	struct gd_opts *o;
	int err;

	if (!in || vigil_loop_init(&loop)) {
		vigil_error("cannot set up the event loop: %s", strerror(errno));
		vigil_inst_free(in);
		return VIGIL_EXIT_FAIL;
	}
	o = in->opts;
	*o = cli_opts;
	o->check = mode == GD_CHECK ? check_file : NULL;
	o->reload = mode == GD_RELOAD;
	o->unload = mode == GD_UNLOAD;
	if (mode == GD_LOAD && vigil.verbose)
		vigil_bpf_stats_enable();
	/* container scopes are resolved like --container */
	in->containers = vigil_containers_start();
	out_schema(vigil.sink);
	err = vigil_inst_start(in, &loop, vigil.sink);
	if (!err) {
		if (!vigil.sink->header_done)
			out_header(vigil.sink);
		err = vigil_loop_run(&loop, -1);
	}
	err = vigil_inst_stop(in, err);
	vigil_loop_fini(&loop);
	if (in->containers)
		vigil_containers_free(in->containers);
	in->containers = NULL;
	vigil_inst_free(in);
	return err;
}

static int run_load(int argc, char **argv)
{
	int err = vigil_want_args(argc, 0, "'load' takes -f POLICY and options, no other arguments");

	return err ? err : run_mode(GD_LOAD, NULL);
}

static int run_reload(int argc, char **argv)
{
	int err = vigil_want_args(argc, 0, "'reload' takes -f POLICY, no other arguments");

	if (!err && !cli_opts.policy) {
		vigil_usage_error("needs a policy: -f FILE");
		err = VIGIL_EXIT_USAGE;
	}
	return err ? err : run_mode(GD_RELOAD, NULL);
}

static int run_unload(int argc, char **argv)
{
	int err = vigil_want_args(argc, 0, "'unload' takes no arguments");

	return err ? err : run_mode(GD_UNLOAD, NULL);
}

static int run_check(int argc, char **argv)
{
	int err = vigil_want_args(argc, 1, "'check' takes one policy file");

	return err ? err : run_mode(GD_CHECK, argv[0]);
}

/* the rules of the persistent guard as they were loaded (GD_POLICY_COPY) */
static int pinned_policy(struct vigil_gd_policy *pol)
{
	memset(pol, 0, sizeof(*pol));
	if (access(GD_POLICY_COPY, R_OK)) {
		vigil_warn("guard: no copy of the persistent guard's policy ('%s'): rules unknown",
			   GD_POLICY_COPY);
		return -1;
	}
	if (vigil_gd_parse_file(pol, GD_POLICY_COPY)) {
		vigil_gd_print_diags(pol, stderr);
		vigil_gd_policy_free(pol);
		memset(pol, 0, sizeof(*pol));
		return -1;
	}
	return 0;
}

static const struct vcol status_rule_cols[] = {
	{ "LINE", 5, "line", NULL, true },
	{ "RULE", 0, "rule" },
	{ 0 },
};
static const struct vcol status_count_cols[] = {
	{ "KIND", 8, "kind" },
	{ "ACTION", 7, "action" },
	{ "COUNT", 0, "count" },
	{ 0 },
};

/* the persistent guard: its generation, mechanism, rules and decision counters */
static int run_status(int argc, char **argv)
{
	static const struct { uint32_t idx; const char *kind, *action; } series[] = {
		{ VIGIL_GD_C_EXEC_DENY, "exec", "deny" },
		{ VIGIL_GD_C_EXEC_AUDIT, "exec", "audit" },
		{ VIGIL_GD_C_NET_DENY, "connect", "deny" },
		{ VIGIL_GD_C_NET_AUDIT, "connect", "audit" },
		{ VIGIL_GD_C_HASH_STOP, "exec", "hash-stop" },
	};
	struct vigil_sink *k = vigil.sink;
	struct vigil_gd_policy pol;
	struct gd_fds f;
	struct stat st;
	gd_data_t d;
	__u32 zero = 0;
	int err = vigil_want_args(argc, 0, "'status' takes no arguments"), ncpu = libbpf_num_possible_cpus();
	bool lsm, have_pol;
	uint64_t *per;
	struct vrow r;

	if (err)
		return err;
	memset(&f, -1, sizeof(f));
	if (pinned_fds(&f) || bpf_map_lookup_elem(f.data, &zero, &d)) {
		vigil_error("guard: no persistent guard at '%s': %s", GD_PIN_DIR, strerror(errno));
		fds_close(&f);
		return VIGIL_EXIT_FAIL;
	}
	lsm = !stat(GD_PIN_DIR "/link_gd_bprm_check", &st);
	have_pol = !pinned_policy(&pol);
	vrow_init(&r);
	vrow_str(&r, "type", "guard_status");
	vrow_u64(&r, "generation", d.gd_active & 1);
	vrow_str(&r, "mechanism", lsm ? "lsm" : "sigkill");
	vrow_bool(&r, "dry_run", d.gd_gens[d.gd_active & 1].flags & VIGIL_GD_G_DRY_RUN);
	vrow_u64(&r, "rules", have_pol ? pol.n : 0);
	if (k->json)
		out_row(k, &r);
	else
		fprintf(vigil.out, "guard: persistent at %s, generation %u, mechanism %s%s, %u rules\n\n",
			GD_PIN_DIR, d.gd_active & 1, lsm ? "lsm" : "sigkill",
			d.gd_gens[d.gd_active & 1].flags & VIGIL_GD_G_DRY_RUN ? " (dry run)" : "",
			have_pol ? pol.n : 0);
	out_set_columns(k, status_rule_cols);
	if (!k->json)
		out_header(k);
	for (uint32_t i = 0; have_pol && i < pol.n; i++) {
		char txt[GD_RULE_TXT];

		vigil_gd_rule_format(&pol.rules[i], txt, sizeof(txt));
		vrow_init(&r);
		vrow_str(&r, "type", "guard_rule");
		vrow_u64(&r, "line", pol.rules[i].line);
		vrow_str(&r, "rule", txt);
		out_row(k, &r);
	}
	if (have_pol)
		vigil_gd_policy_free(&pol);
	if (!k->json)
		fputc('\n', vigil.out);
	out_set_columns(k, status_count_cols);
	if (!k->json)
		out_header(k);
	per = ncpu > 0 ? calloc((size_t)ncpu, sizeof(*per)) : NULL;
	for (size_t i = 0; per && i < sizeof(series) / sizeof(series[0]); i++) {
		uint64_t sum = 0;

		if (!bpf_map_lookup_elem(f.counts, &series[i].idx, per))
			for (int c = 0; c < ncpu; c++)
				sum += per[c];
		vrow_init(&r);
		vrow_str(&r, "type", "guard_counter");
		vrow_str(&r, "kind", series[i].kind);
		vrow_str(&r, "action", series[i].action);
		vrow_u64(&r, "count", sum);
		out_row(k, &r);
	}
	free(per);
	fds_close(&f);
	return 0;
}

/* the deny and audit records of the persistent guard, from its pinned ring buffer */
static int run_events(int argc, char **argv)
{
	struct vigil_session s = { 0 };
	const char *names[] = { "vigil_events", "vigil_lost" };
	struct vigil_loop loop;
	struct vigil_inst *in = NULL;
	struct gd_priv *p;
	char path[PATH_MAX];
	struct stat st;
	int fds[2] = { -1, -1 }, err = vigil_want_args(argc, 0, "'events' takes no arguments");

	if (err)
		return err;
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), GD_PIN_DIR "/%s", names[i]);
		fds[i] = bpf_obj_get(path);
		if (fds[i] < 0) {
			vigil_error("guard: no persistent guard at '%s' (cannot open '%s': %s)", GD_PIN_DIR,
				    path, strerror(errno));
			err = VIGIL_EXIT_FAIL;
			goto out;
		}
	}
	/* not a running guard: a loop, the CLI's sink, the rules for their text */
	in = vigil_inst_new(&feat_guard, "guard");
	if (in)
		in->priv = calloc(1, sizeof(struct gd_priv));	/* vigil_inst_start's job, not run here */
	if (!in || !in->priv || vigil_loop_init(&loop)) {
		err = VIGIL_EXIT_FAIL;
		goto out;
	}
	in->loop = &loop;
	in->sink = vigil.sink;
	p = in->priv;
	p->choice.path = &paths[stat(GD_PIN_DIR "/link_gd_bprm_check", &st) ? 1 : 0];
	if (!pinned_policy(&p->pol[0]))
		p->pol[1] = p->pol[0];	/* records name lines of whichever generation */
	out_schema(in->sink);
	err = vigil_session_open_rb(&s, in, fds[0], fds[1], on_event, in);
	if (!err) {
		out_set_columns(in->sink, guard_cols);
		vigil_info("guard: reading the persistent guard's records; ctrl-c to end");
		out_header(in->sink);
		err = vigil_loop_run(&loop, -1);
		err = vigil_session_close(&s, err);
	}
	vigil_gd_policy_free(&p->pol[0]);
	memset(&p->pol[1], 0, sizeof(p->pol[1]));
	vigil_loop_fini(&loop);
out:
	vigil_inst_free(in);
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return err;
}

#define GD_FLAGS (VC_ROOT | VC_BTF | VC_BPFFS)

static const struct vigil_verb gd_verbs[] = {
	{ "load", run_load, "enforce a policy: in the foreground (denials stream as rows), or --persist",
	  "-f POLICY [--dry-run] [--persist] [--mechanism NAME]", load_opts, GD_FLAGS },
	{ "reload", run_reload, "swap the persistent guard's policy in one step; a bad file changes nothing",
	  "-f POLICY [--dry-run]", reload_opts, GD_FLAGS },
	{ "status", run_status, "the persistent guard: mechanism, generation, rules, decision counters",
	  "[--json]", NULL, VC_ROOT | VC_BPFFS },
	{ "unload", run_unload, "detach the persistent guard and remove every pin", "", NULL,
	  VC_ROOT | VC_BPFFS },
	{ "events", run_events, "stream the persistent guard's deny and audit records", "[--json]", NULL,
	  VC_ROOT | VC_BPFFS },
	{ "check", run_check, "parse and resolve a policy (file:line:col errors); loads nothing",
	  "POLICY", NULL, 0 },
	{ 0 },
};

const struct vigil_cmd cmd_guard = {
	.name = "guard",
	.summary = "enforce a policy in the kernel: denied execs never run, denied connects fail "
		   "(load/reload/status/unload/events/check)",
	.cmd_opts = &cli_opts,
	.verbs = gd_verbs,
	.flags = VC_ROOT | VC_BTF | VC_BPFFS,
	.needs = VIGIL_MECH(VIGIL_M_TP_BTF) | VIGIL_MECH(VIGIL_M_CGROUP) | VIGIL_MECH(VIGIL_M_RINGBUF),
	.plan = &plan,
	.feature = &feat_guard,
};
