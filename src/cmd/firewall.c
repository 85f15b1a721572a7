// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * vigil firewall: an XDP firewall fed from a rules file, with atomic reload.
 *
 *   load -i IFACE RULES     attach; foreground (Ctrl-C detaches) or --persist
 *   reload -i IFACE RULES   swap in a new rule set in one step (persistent)
 *   status [-i IFACE]       rules with hit counters, mode, since when (persistent
 *                           and foreground firewalls)
 *   unload -i IFACE         detach and remove the pins
 *   events -i IFACE         sampled drops of a persistent firewall
 *   check RULES             parse and compile only
 *
 * Persistent state lives under /sys/fs/bpf/vigil/firewall/IFACE/ (0600) and
 * every change to it happens under an flock on /run/vigil/firewall.lock, so
 * each CLI run reopens the state and holds none itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "core/vigil.h"
#include "core/env.h"
#include "core/opts.h"
#include "core/out.h"
#include "fw/rules.h"
#include "core/session.h"
#include "firewall.skel.h"

#define PIN_ROOT "/sys/fs/bpf/vigil"
#define PIN_DIR PIN_ROOT "/firewall"
#define LOCK_DIR "/run/vigil"
#define LOCK_PATH LOCK_DIR "/firewall.lock"

static struct {
	const char *iface;
	const char *mode;
	bool persist, watch, dry_run;
	uint32_t sample;
	bool sample_set;
	uint32_t lookup;
	bool lookup_set;
} o = { .sample = 100 };

static int opt_lookup(const char *arg)
{
	static const char *const names[] = { "auto", "hash", "trie" };

	for (uint32_t i = 0; i < 3; i++) {
		if (!strcmp(arg, names[i])) {
			o.lookup = i;	/* VIGIL_FW_LOOKUP_* in this order */
			o.lookup_set = true;
			return 0;
		}
	}
	fprintf(stderr, "vigil firewall: invalid --lookup '%s': auto, hash or trie\n", arg);
	return -1;
}

static int opt_sample(const char *arg)
{
	if (vigil_parse_u32(arg, &o.sample)) {
		fprintf(stderr, "vigil firewall: invalid --sample '%s': a number of drops\n", arg);
		return -1;
	}
	o.sample_set = true;
	return 0;
}

static const struct vigil_opt fw_opts[] = {
	VOPT_SECTION("Firewall"),
	{ "iface", 'i', VO_STR, &o.iface, "IFACE", "network interface (load, reload, unload, events; status filter)" },
	{ "mode", 'm', VO_STR, &o.mode, "MODE", "XDP mode: auto (native, else generic; default), native, generic" },
	{ "persist", 'p', VO_FLAG, &o.persist, NULL, "load: pin under " PIN_DIR "/IFACE and exit; survives the CLI" },
	{ "watch", 'w', VO_FLAG, &o.watch, NULL, "load (foreground): reload when the rules file changes" },
	{ "dry-run", 'n', VO_FLAG, &o.dry_run, NULL, "load: count what would be dropped, but pass everything" },
	{ "sample", 0, VO_FUNC, NULL, "N", "load: one drop event per N drops per CPU (0: none; default 100)", opt_sample },
	{ "lookup", 0, VO_FUNC, NULL, "HOW", "load, reload, check: prefix lookup per side and family: auto (a hash probe per "
	  "distinct prefix length, or an LPM trie where there are too many lengths; default), hash, "
	  "trie; reloads keep the load's unless given", opt_lookup },
	VOPT_END,
};

/* the maps that make up the firewall's state, by fd; in the order of fw_map_names */
struct fw_fds {
	int active, src4, src6, dst4, dst6, match, counters, rules, combo, gen, trie4, trie6, info;
};

static const char *const fw_map_names[] = {
	".data.fw_active", "fw_src4", "fw_src6", "fw_dst4", "fw_dst6", "fw_match", "fw_counters",
	"fw_rules", "fw_combo", ".data.fw_gen", "fw_trie4", "fw_trie6", "fw_info",
};

/* every map the object has, pinned under the same names (see pin_name) */
static const char *const pin_maps[] = {
	".data.fw_active", "fw_src4", "fw_src6", "fw_dst4", "fw_dst6", "fw_match", "fw_counters",
	"fw_rules", "fw_combo", ".data.fw_gen", "fw_trie4", "fw_trie6", "fw_info", "fw_buckets",
	"fw_sample_ctr", "vigil_events", "vigil_lost",
};

/* a map's pin file: global data maps (".data.X") as "data_X", not hidden */
static const char *pin_name(const char *map, char *buf, size_t n)
{
	if (map[0] != '.')
		return map;
	snprintf(buf, n, "data_%s", map + sizeof(".data.") - 1);
	return buf;
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static const char *mode_name(uint32_t mode)
{
	return mode == 1 ? "native" : mode == 2 ? "generic" : "unknown";
}

/* ---- rules file -> tables ---- */

static int read_rules(const char *path, struct vigil_rules *rs, struct vigil_fw_table *t)
{
	char err[256];

	if (vigil_rules_parse_file(rs, path)) {
		vigil_rules_print_diags(rs, stderr);
		vigil_error("rules file '%s' has %u error%s; nothing was changed", path, rs->nerrors,
			    rs->nerrors == 1 ? "" : "s");
		vigil_rules_free(rs);
		return VIGIL_EXIT_FAIL;
	}
	memset(t, 0, sizeof(*t));	/* zero limits: the defaults */
	t->lookup = o.lookup;
	if (vigil_fw_compile(rs, t, err, sizeof(err))) {
		vigil_rules_print_diags(rs, stderr);
		vigil_error("cannot compile rules file '%s': %s; nothing was changed", path, err);
		vigil_rules_free(rs);
		return VIGIL_EXIT_FAIL;
	}
	if (!vigil.quiet)
		vigil_rules_print_diags(rs, stderr);
	return 0;
}

/* ---- generations ---- */

/* the kernel's batch operations (5.6+) say ENOTSUPP when a map type has none */
#define ENOTSUPP_KERNEL 524

/*
 * Write n entries: in one syscall where the map has batch operations (a
 * 100,000-rule reload made 100,000s of syscalls one by one), else one by one.
 * The maps written are fresh or (counters) written whole, so BPF_ANY.
 */
static int map_fill(int fd, const void *keys, size_t ksz, const void *vals, size_t vsz, uint32_t n)
{
	__u32 count = n;

	if (!n)
		return 0;
	if (!bpf_map_update_batch(fd, keys, vals, &count, NULL))
		return 0;
	if (errno != ENOTSUPP_KERNEL && errno != EOPNOTSUPP)
		return -errno;
	for (uint32_t i = 0; i < n; i++)
		if (bpf_map_update_elem(fd, (const char *)keys + i * ksz,
					(const char *)vals + i * vsz, BPF_ANY))
			return -errno;
	return 0;
}

/* a hash sized to its contents: the kernel allocates its buckets at creation */
static int hash_create(const char *name, size_t ksz, size_t vsz, uint32_t n)
{
	LIBBPF_OPTS(bpf_map_create_opts, noprealloc, .map_flags = BPF_F_NO_PREALLOC);

	return bpf_map_create(BPF_MAP_TYPE_HASH, name, ksz, vsz, n ? n : 1, &noprealloc);
}

/* a side and family's prefixes, created and filled: in an LPM trie when the
 * compiler chose one (the hash then stays empty), else in the per-length hash */
static int addr_maps(const char *hname, const char *tname, bool trie, const void *keys,
		     size_t ksz, const struct vigil_fw_class *vals, uint32_t n, int *hfd, int *tfd)
{
	LIBBPF_OPTS(bpf_map_create_opts, noprealloc, .map_flags = BPF_F_NO_PREALLOC);
	size_t vsz = sizeof(*vals);

	*hfd = hash_create(hname, ksz, vsz, trie ? 0 : n);
	*tfd = trie ? bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, tname, ksz, vsz, n ? n : 1, &noprealloc) : -1;
	if (*hfd < 0 || (trie && *tfd < 0))
		return -errno;
	return map_fill(trie ? *tfd : *hfd, keys, ksz, vals, vsz, n);
}

static int inner_fd(int outer, __u32 gen);

/*
 * Counter slots for a reload: rules unchanged since the running set keep
 * theirs (their counters go on), the others get free slots, zeroed here
 * before any packet can reach them.
 */
static int assign_ctrs(const struct fw_fds *f, __u32 cur, struct vigil_rules *rs,
		       struct vigil_fw_table *t)
{
	int ncpu = libbpf_num_possible_cpus(), rfd, err = 0;
	struct vigil_fw_rule *old = NULL;
	struct vigil_fw_counter *zeros = NULL;
	struct bpf_map_info mi;
	uint32_t nold = 0, cap, nfresh = 0, *fresh = NULL, *keys = NULL, chunk;
	__u32 len = sizeof(mi), key, nkey;
	__u64 tok = 0;

	rfd = inner_fd(f->rules, cur);
	if (rfd < 0)
		return -ENOENT;
	/* the running set's rules: its map holds exactly max_entries of them */
	memset(&mi, 0, sizeof(mi));
	if (bpf_obj_get_info_by_fd(rfd, &mi, &len)) {
		err = -errno;
		goto out;
	}
	cap = mi.max_entries;
	old = calloc(cap ? cap : 1, sizeof(*old));
	keys = calloc(cap ? cap : 1, sizeof(*keys));
	if (!old || !keys) {
		err = -ENOMEM;
		goto out;
	}
	while (nold < cap) {
		__u32 count = cap - nold;
		int r = bpf_map_lookup_batch(rfd, nold ? &tok : NULL, &tok, keys + nold, old + nold,
					     &count, NULL);

		nold += count;
		if (!r && count)
			continue;
		if (!r)
			break;
		if (errno == ENOENT)	/* the end of the map */
			break;
		if (errno != ENOTSUPP_KERNEL && errno != EOPNOTSUPP) {
			err = -errno;
			goto out;
		}
		/* no batch operations: key by key */
		nold = 0;
		for (int more = !bpf_map_get_next_key(rfd, NULL, &key); more && nold < cap;
		     more = !bpf_map_get_next_key(rfd, &key, &nkey), key = nkey)
			if (!bpf_map_lookup_elem(rfd, &key, &old[nold]))
				nold++;
		break;
	}
	fresh = malloc(rs->n * sizeof(*fresh));
	/* zeroed in chunks: a per-CPU value per key, so bounded by the CPUs */
	chunk = ncpu > 0 ? (65536 / (uint32_t)ncpu > 0 ? 65536 / (uint32_t)ncpu : 1) : 1;
	zeros = calloc((size_t)chunk * (ncpu > 0 ? ncpu : 1), sizeof(*zeros));
	if (!fresh || !zeros || ncpu <= 0) {
		err = -ENOMEM;
		goto out;
	}
	if (vigil_fw_ctr_assign(old, nold, rs, fresh, &nfresh)) {
		err = -EINVAL;
		goto out;
	}
	for (uint32_t i = 0; i < nfresh && !err; i += chunk)
		err = map_fill(f->counters, fresh + i, sizeof(*fresh), zeros,
			       sizeof(*zeros) * (size_t)ncpu, nfresh - i < chunk ? nfresh - i : chunk);
	if (!err)
		vigil_fw_table_set_ctrs(t, rs);
out:
	close(rfd);
	free(old);
	free(keys);
	free(fresh);
	free(zeros);
	return err;
}

/*
 * Build the new generation's maps completely, put them in the inactive
 * slots, then switch the active generation with one map update. The last
 * step re-installs a map-in-map slot, which makes the kernel wait for an RCU
 * grace period: when this returns no packet still uses the old generation,
 * so the next reload may overwrite its slots.
 */
static int install(const struct fw_fds *f, struct vigil_rules *rs, struct vigil_fw_table *t,
		   bool initial)
{
	enum { SRC4, SRC6, DST4, DST6, TSRC4, TDST4, TSRC6, TDST6, MATCH, COMBO, RULES, NMAPS };
	int fds[NMAPS];
	/* fw_rules last: re-installing its slot is the RCU wait (see above) */
	const int outer[NMAPS] = { f->src4, f->src6, f->dst4, f->dst6, f->trie4, f->trie4,
				   f->trie6, f->trie6, f->match, f->combo, f->rules };
	const uint32_t gf = t->gen.flags;
	__u32 zero = 0, cur = 0, next, slot[NMAPS];
	int err = 0;

	for (int i = 0; i < NMAPS; i++)
		fds[i] = -1;
	if (!initial && bpf_map_lookup_elem(f->active, &zero, &cur)) {
		err = -errno;
		goto out;
	}
	next = initial ? 0 : (cur ^ 1) & 1;
	/* the tries' slots are per generation and side (see fw_trie4) */
	for (int i = 0; i < NMAPS; i++)
		slot[i] = i >= TSRC4 && i <= TDST6 ? next * 2 + (i == TDST4 || i == TDST6) : next;
	/* a fresh object's counters are all zero: the parser's slots will do */
	if (!initial) {
		err = assign_ctrs(f, cur & 1, rs, t);
		if (err)
			goto out;
	}
	err = addr_maps("fw_src4_gen", "fw_src4_trie", gf & VIGIL_FW_G_SRC4_TRIE, t->src.keys4,
			sizeof(*t->src.keys4), t->src.vals4, t->src.n4, &fds[SRC4], &fds[TSRC4]);
	if (!err)
		err = addr_maps("fw_src6_gen", "fw_src6_trie", gf & VIGIL_FW_G_SRC6_TRIE, t->src.keys6,
				sizeof(*t->src.keys6), t->src.vals6, t->src.n6, &fds[SRC6], &fds[TSRC6]);
	if (!err)
		err = addr_maps("fw_dst4_gen", "fw_dst4_trie", gf & VIGIL_FW_G_DST4_TRIE, t->dst.keys4,
				sizeof(*t->dst.keys4), t->dst.vals4, t->dst.n4, &fds[DST4], &fds[TDST4]);
	if (!err)
		err = addr_maps("fw_dst6_gen", "fw_dst6_trie", gf & VIGIL_FW_G_DST6_TRIE, t->dst.keys6,
				sizeof(*t->dst.keys6), t->dst.vals6, t->dst.n6, &fds[DST6], &fds[TDST6]);
	if (err)
		goto out;
	fds[MATCH] = hash_create("fw_port_gen", sizeof(*t->mkeys), sizeof(*t->mvals), t->nmatch);
	fds[COMBO] = hash_create("fw_combo_gen", sizeof(*t->ckeys), sizeof(*t->cvals), t->ncombo);
	fds[RULES] = hash_create("fw_rules_gen", sizeof(__u32), sizeof(struct vigil_fw_rule), rs->n);
	if (fds[MATCH] < 0 || fds[COMBO] < 0 || fds[RULES] < 0) {
		err = -errno;
		goto out;
	}
	err = map_fill(fds[COMBO], t->ckeys, sizeof(*t->ckeys), t->cvals, sizeof(*t->cvals),
		       t->ncombo);
	if (!err)
		err = map_fill(fds[MATCH], t->mkeys, sizeof(*t->mkeys), t->mvals, sizeof(*t->mvals),
			       t->nmatch);
	/* plain data in the inactive slot: no packet reads it (see above). The
	 * map holds both slots as one value: the active one is written back
	 * with the bytes it has, so its readers see no change */
	if (!err) {
		struct vigil_fw_gen gens[2];

		if (bpf_map_lookup_elem(f->gen, &zero, gens)) {
			err = -errno;
		} else {
			gens[next] = t->gen;
			if (bpf_map_update_elem(f->gen, &zero, gens, BPF_ANY))
				err = -errno;
		}
	}
	if (!err) {
		uint32_t *ids = malloc(rs->n * sizeof(*ids));

		for (uint32_t i = 0; ids && i < rs->n; i++)
			ids[i] = i;
		err = ids ? map_fill(fds[RULES], ids, sizeof(*ids), rs->rules, sizeof(*rs->rules),
				     rs->n) : -ENOMEM;
		free(ids);
	}
	if (err)
		goto out;
	for (int i = 0; i < NMAPS; i++) {
		/* no trie this time: free the old generation's, if any */
		if (fds[i] < 0 ? bpf_map_delete_elem(outer[i], &slot[i]) && errno != ENOENT :
				 bpf_map_update_elem(outer[i], &slot[i], &fds[i], BPF_ANY)) {
			err = -errno;
			goto out;
		}
	}
	/* the switch: one word */
	if (bpf_map_update_elem(f->active, &zero, &next, BPF_ANY) ||
	    bpf_map_update_elem(f->rules, &next, &fds[RULES], BPF_ANY))
		err = -errno;
out:
	for (int i = 0; i < NMAPS; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return err;
}

static int info_get(const struct fw_fds *f, struct vigil_fw_info *info)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(f->info, &zero, info) ? -errno : 0;
}

static int info_put(const struct fw_fds *f, const struct vigil_fw_info *info)
{
	__u32 zero = 0;

	return bpf_map_update_elem(f->info, &zero, info, BPF_ANY) ? -errno : 0;
}

static void fds_from_skel(struct firewall_bpf *skel, struct fw_fds *f)
{
	f->active = bpf_map__fd(skel->maps.data_fw_active);
	f->src4 = bpf_map__fd(skel->maps.fw_src4);
	f->src6 = bpf_map__fd(skel->maps.fw_src6);
	f->dst4 = bpf_map__fd(skel->maps.fw_dst4);
	f->dst6 = bpf_map__fd(skel->maps.fw_dst6);
	f->match = bpf_map__fd(skel->maps.fw_match);
	f->counters = bpf_map__fd(skel->maps.fw_counters);
	f->rules = bpf_map__fd(skel->maps.fw_rules);
	f->combo = bpf_map__fd(skel->maps.fw_combo);
	f->gen = bpf_map__fd(skel->maps.data_fw_gen);
	f->trie4 = bpf_map__fd(skel->maps.fw_trie4);
	f->trie6 = bpf_map__fd(skel->maps.fw_trie6);
	f->info = bpf_map__fd(skel->maps.fw_info);
}

static void fds_close(struct fw_fds *f)
{
	for (int *fd = &f->active; fd <= &f->info; fd++) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
	}
}

static int pin_path(char *buf, size_t n, const char *iface, const char *name)
{
	int len = name ? snprintf(buf, n, PIN_DIR "/%s/%s", iface, name) :
			 snprintf(buf, n, PIN_DIR "/%s", iface);

	return len < 0 || (size_t)len >= n ? -ENAMETOOLONG : 0;
}

/* open the pinned state of iface; returns 0, or an exit code after an error */
static int fds_from_pins(const char *iface, struct fw_fds *f)
{
	char path[PATH_MAX], dir[PATH_MAX], name[64];

	for (int *fd = &f->active; fd <= &f->info; fd++)
		*fd = -1;
	pin_path(dir, sizeof(dir), iface, NULL);
	for (size_t i = 0; i < sizeof(fw_map_names) / sizeof(fw_map_names[0]); i++) {
		int *fd = &f->active + i;

		pin_path(path, sizeof(path), iface, pin_name(fw_map_names[i], name, sizeof(name)));
		*fd = bpf_obj_get(path);
		if (*fd < 0) {
			int err = errno;

			fds_close(f);
			if (err == ENOENT && !access(dir, F_OK))
				/* the directory is there: pinned by a vigil with other maps */
				vigil_error("persistent firewall on '%s' was loaded by another vigil version "
					    "('%s' is missing); run 'vigil firewall unload -i %s' and load it again",
					    iface, path, iface);
			else if (err == ENOENT)
				vigil_error("no persistent firewall on '%s' (nothing pinned at '%s')", iface, dir);
			else
				vigil_error("cannot open '%s': %s", path, strerror(err));
			return VIGIL_EXIT_FAIL;
		}
	}
	return 0;
}

/* ---- lock ---- */

static int fw_lock(void)
{
	int fd;

	if (mkdir(LOCK_DIR, 0700) && errno != EEXIST) {
		vigil_error("cannot create '%s': %s", LOCK_DIR, strerror(errno));
		return -1;
	}
	fd = open(LOCK_PATH, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		vigil_error("cannot open lock file '%s': %s", LOCK_PATH, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX)) {
		vigil_error("cannot lock '%s': %s", LOCK_PATH, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void fw_unlock(int fd)
{
	if (fd >= 0)
		close(fd);	/* releases the flock */
}

/* ---- attach ---- */

static int attach_xdp(int prog_fd, int ifindex, const char *iface, uint32_t *mode)
{
	bool auto_mode = !o.mode || !strcmp(o.mode, "auto");
	bool try_native = auto_mode || !strcmp(o.mode, "native");
	LIBBPF_OPTS(bpf_link_create_opts, lo);
	int fd, err = 0;

	if (try_native) {
		lo.flags = XDP_FLAGS_DRV_MODE;
		fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &lo);
		if (fd >= 0) {
			*mode = 1;
			return fd;
		}
		err = errno;
		if (err == EBUSY || err == EEXIST || !auto_mode)
			goto fail;
		vigil_info("firewall: native XDP is not available on '%s' (%s); using generic mode",
			   iface, strerror(err));
	}
	lo.flags = XDP_FLAGS_SKB_MODE;
	fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &lo);
	if (fd >= 0) {
		*mode = 2;
		return fd;
	}
	err = errno;
fail:
	if (err == EBUSY || err == EEXIST)
		vigil_error("interface '%s' already has an XDP program; see 'ip link show %s' "
			    "and 'vigil firewall status'", iface, iface);
	else
		vigil_error("cannot attach XDP (%s mode) to '%s': %s", try_native && !auto_mode ?
			    "native" : "generic", iface, strerror(err));
	return -1;
}

/* ---- status ---- */

struct rule_row {
	uint32_t id;
	struct vigil_fw_rule r;
	struct vigil_fw_counter c;
};

static int inner_fd(int outer, __u32 gen)
{
	__u32 id;

	if (bpf_map_lookup_elem(outer, &gen, &id))
		return -1;
	return bpf_map_get_fd_by_id(id);
}

/* collect: the active generation's rules and their summed per-CPU counters */
static int collect_rules(const struct fw_fds *f, struct rule_row **rows, uint32_t *n)
{
	int ncpu = libbpf_num_possible_cpus();
	__u32 zero = 0, gen, key, next;
	int rfd = -1, cfd = -1, err = 0;
	struct vigil_fw_counter *vals = NULL;
	uint32_t cap = 0;

	*rows = NULL;
	*n = 0;
	if (bpf_map_lookup_elem(f->active, &zero, &gen))
		return -errno;
	rfd = inner_fd(f->rules, gen);
	cfd = dup(f->counters);
	vals = calloc(ncpu > 0 ? ncpu : 1, sizeof(*vals));
	if (rfd < 0 || cfd < 0 || !vals) {
		err = -ENOENT;
		goto out;
	}
	for (int more = !bpf_map_get_next_key(rfd, NULL, &key); more;
	     more = !bpf_map_get_next_key(rfd, &key, &next), key = next) {
		struct rule_row *row;

		if (*n == cap) {
			void *p;

			cap = cap ? cap * 2 : 64;
			p = realloc(*rows, cap * sizeof(**rows));
			if (!p) {
				err = -ENOMEM;
				goto out;
			}
			*rows = p;
		}
		row = &(*rows)[*n];
		memset(row, 0, sizeof(*row));
		row->id = key;
		if (bpf_map_lookup_elem(rfd, &key, &row->r))
			continue;
		if (!bpf_map_lookup_elem(cfd, &row->r.ctr, vals)) {
			for (int c = 0; c < ncpu; c++) {
				row->c.packets += vals[c].packets;
				row->c.bytes += vals[c].bytes;
				row->c.drops += vals[c].drops;
			}
		}
		/* the program counts drops only for rate limits: a drop rule drops
		 * (or, dry run, would drop) every packet it matches */
		if (row->r.action == VIGIL_FW_DROP)
			row->c.drops = row->c.packets;
		(*n)++;
	}
out:
	free(vals);
	if (rfd >= 0)
		close(rfd);
	if (cfd >= 0)
		close(cfd);
	return err;
}

static int row_cmp(const void *a, const void *b)
{
	const struct rule_row *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static void iso_realtime(uint64_t ns, char *buf, size_t n)
{
	time_t sec = (time_t)(ns / 1000000000ull);
	struct tm tm;

	gmtime_r(&sec, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* how one side and family's prefixes are found: none (no prefix but the root), hash or trie */
static const char *lookup_name(const struct vigil_fw_gen *g, uint32_t nlens, uint32_t trie_flag)
{
	return (g->flags & trie_flag) ? "trie" : nlens ? "hash" : "none";
}

/* the four lookups of a generation, as `check` and `status` show them */
static void lookups_json(struct jw *w, const struct vigil_fw_gen *g)
{
	jw_str(w, "source_ipv4_lookup", lookup_name(g, g->src_lens.n4, VIGIL_FW_G_SRC4_TRIE));
	jw_str(w, "source_ipv6_lookup", lookup_name(g, g->src_lens.n6, VIGIL_FW_G_SRC6_TRIE));
	jw_str(w, "destination_ipv4_lookup", lookup_name(g, g->dst_lens.n4, VIGIL_FW_G_DST4_TRIE));
	jw_str(w, "destination_ipv6_lookup", lookup_name(g, g->dst_lens.n6, VIGIL_FW_G_DST6_TRIE));
}

static void lookups_text(const struct vigil_fw_gen *g)
{
	fprintf(vigil.out, "prefix lookup: source ipv4 %s, ipv6 %s; destination ipv4 %s, ipv6 %s\n",
		lookup_name(g, g->src_lens.n4, VIGIL_FW_G_SRC4_TRIE),
		lookup_name(g, g->src_lens.n6, VIGIL_FW_G_SRC6_TRIE),
		lookup_name(g, g->dst_lens.n4, VIGIL_FW_G_DST4_TRIE),
		lookup_name(g, g->dst_lens.n6, VIGIL_FW_G_DST6_TRIE));
}

/* the generation packets use now */
static int gen_get(const struct fw_fds *f, struct vigil_fw_gen *g)
{
	struct vigil_fw_gen gens[2];
	__u32 zero = 0, active;

	if (bpf_map_lookup_elem(f->active, &zero, &active) ||
	    bpf_map_lookup_elem(f->gen, &zero, gens))
		return -errno;
	*g = gens[active & 1];
	return 0;
}

static int render_status(const char *iface, const struct fw_fds *f)
{
	struct vigil_fw_gen gen;
	struct vigil_fw_info info;
	struct rule_row *rows;
	uint32_t n;
	char since[40], text[256];
	int err;

	err = info_get(f, &info);
	if (!err)
		err = gen_get(f, &gen);
	if (!err)
		err = collect_rules(f, &rows, &n);
	if (err) {
		vigil_error("cannot read the firewall state of '%s': %s", iface, strerror(-err));
		return VIGIL_EXIT_FAIL;
	}
	qsort(rows, n, sizeof(*rows), row_cmp);
	iso_realtime(info.loaded_at, since, sizeof(since));
	if (vigil.json) {
		struct jw w;

		jw_init(&w, vigil.out);
		jw_obj(&w, NULL);
		jw_str(&w, "type", "firewall_status");
		jw_str(&w, "interface", iface);
		jw_u64(&w, "ifindex", info.ifindex);
		jw_str(&w, "mode", mode_name(info.mode));
		jw_bool(&w, "persistent", info.flags & VIGIL_FW_I_PERSIST);
		jw_bool(&w, "dry_run", info.flags & VIGIL_FW_I_DRY_RUN);
		jw_str(&w, "since", since);
		jw_u64(&w, "loaded_at", info.loaded_at);
		jw_u64(&w, "reloads", info.reloads);
		if (info.reloaded_at)
			jw_u64(&w, "reloaded_at", info.reloaded_at);
		jw_str(&w, "rules_file", info.rules_path);
		jw_u64(&w, "sample", info.sample);
		lookups_json(&w, &gen);
		jw_arr(&w, "rules");
		for (uint32_t i = 0; i < n; i++) {
			vigil_fw_rule_format(&rows[i].r, text, sizeof(text));
			jw_obj(&w, NULL);
			jw_u64(&w, "id", rows[i].id);
			jw_u64(&w, "line", rows[i].r.line);
			jw_str(&w, "rule", text);
			jw_str(&w, "action", vigil_fw_action_name(rows[i].r.action));
			if (rows[i].r.action == VIGIL_FW_RATELIMIT)
				jw_u64(&w, "rate", rows[i].r.rate);
			jw_bool(&w, "default", rows[i].id == 0);
			jw_u64(&w, "packets", rows[i].c.packets);
			jw_u64(&w, "bytes", rows[i].c.bytes);
			jw_u64(&w, "drops", rows[i].c.drops);
			jw_end_obj(&w);
		}
		jw_end_arr(&w);
		jw_end_obj(&w);
	} else {
		fprintf(vigil.out, "interface %s (ifindex %u): %s XDP, %s%s since %s, %u rules from '%s', "
			"%llu reloads\n", iface, info.ifindex, mode_name(info.mode),
			info.flags & VIGIL_FW_I_PERSIST ? "persistent" : "foreground",
			info.flags & VIGIL_FW_I_DRY_RUN ? ", DRY RUN" : "", since, info.nrules,
			info.rules_path, (unsigned long long)info.reloads);
		lookups_text(&gen);
		fprintf(vigil.out, "%5s %5s %12s %14s %12s  %s\n", "ID", "LINE", "PACKETS", "BYTES",
			"DROPS", "RULE");
		for (uint32_t i = 0; i < n; i++) {
			vigil_fw_rule_format(&rows[i].r, text, sizeof(text));
			fprintf(vigil.out, "%5u %5u %12llu %14llu %12llu  %s\n", rows[i].id, rows[i].r.line,
				(unsigned long long)rows[i].c.packets, (unsigned long long)rows[i].c.bytes,
				(unsigned long long)rows[i].c.drops, text);
		}
	}
	free(rows);
	return 0;
}

/* open the maps of a loaded firewall program by name (a foreground one pins nothing) */
static int fds_from_prog(__u32 prog_id, struct fw_fds *f)
{
	struct bpf_prog_info pi;
	__u32 ids[32], len = sizeof(pi);
	int pfd, n = 0;

	for (int *fd = &f->active; fd <= &f->info; fd++)
		*fd = -1;
	pfd = bpf_prog_get_fd_by_id(prog_id);
	if (pfd < 0)
		return -errno;
	memset(&pi, 0, sizeof(pi));
	pi.nr_map_ids = 32;
	pi.map_ids = (__u64)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(pfd, &pi, &len) || pi.nr_map_ids > 32) {
		close(pfd);
		return -EINVAL;
	}
	close(pfd);
	for (__u32 i = 0; i < pi.nr_map_ids; i++) {
		struct bpf_map_info mi;
		__u32 mlen = sizeof(mi);
		int mfd = bpf_map_get_fd_by_id(ids[i]);
		size_t k;

		if (mfd < 0)
			continue;
		memset(&mi, 0, sizeof(mi));
		if (bpf_obj_get_info_by_fd(mfd, &mi, &mlen)) {
			close(mfd);
			continue;
		}
		for (k = 0; k < sizeof(fw_map_names) / sizeof(fw_map_names[0]); k++) {
			if (!strcmp(mi.name, fw_map_names[k]) && (&f->active)[k] < 0) {
				(&f->active)[k] = mfd;
				n++;
				break;
			}
		}
		if (k == sizeof(fw_map_names) / sizeof(fw_map_names[0]))
			close(mfd);
	}
	if (n != (int)(sizeof(fw_map_names) / sizeof(fw_map_names[0]))) {
		fds_close(f);
		return -ENOENT;
	}
	return 0;
}

/*
 * Foreground firewalls: vigil's XDP links on interfaces of this network
 * namespace that have no pins (those are listed from their pins). A link's
 * ifindex may belong to another namespace: the interface of that index here
 * must run the link's very program.
 */
static int status_foreground(const char *only, int *found)
{
	char dir[PATH_MAX], ifname[IF_NAMESIZE];
	__u32 id = 0;
	int err = 0;

	while (!bpf_link_get_next_id(id, &id)) {
		struct bpf_link_info li;
		struct bpf_prog_info pi;
		__u32 len = sizeof(li), plen = sizeof(pi);
		LIBBPF_OPTS(bpf_xdp_query_opts, q);
		struct fw_fds f;
		int lfd = bpf_link_get_fd_by_id(id), pfd;

		if (lfd < 0)
			continue;
		memset(&li, 0, sizeof(li));
		if (bpf_obj_get_info_by_fd(lfd, &li, &len) || li.type != BPF_LINK_TYPE_XDP) {
			close(lfd);
			continue;
		}
		close(lfd);
		pfd = bpf_prog_get_fd_by_id(li.prog_id);
		if (pfd < 0)
			continue;
		memset(&pi, 0, sizeof(pi));
		if (bpf_obj_get_info_by_fd(pfd, &pi, &plen) || strcmp(pi.name, "vigil_firewall")) {
			close(pfd);
			continue;
		}
		close(pfd);
		if (!if_indextoname(li.xdp.ifindex, ifname) || (only && strcmp(only, ifname)) ||
		    bpf_xdp_query((int)li.xdp.ifindex, 0, &q) ||
		    (q.prog_id != li.prog_id && q.drv_prog_id != li.prog_id && q.skb_prog_id != li.prog_id))
			continue;
		pin_path(dir, sizeof(dir), ifname, NULL);
		if (!access(dir, F_OK))
			continue;	/* persistent: listed from its pins */
		if (fds_from_prog(li.prog_id, &f))
			continue;	/* not ours after all, or going away */
		(*found)++;
		err |= render_status(ifname, &f);
		fds_close(&f);
	}
	return err;
}

static int do_status(void)
{
	struct fw_fds f;
	DIR *d;
	struct dirent *de;
	int err = 0, found = 0;

	if (o.iface) {
		char dir[PATH_MAX];

		pin_path(dir, sizeof(dir), o.iface, NULL);
		if (access(dir, F_OK)) {
			/* not persistent: a foreground one, or none */
			err = status_foreground(o.iface, &found);
			if (!found) {
				vigil_error("no firewall on '%s' (nothing pinned at '%s', no foreground "
					    "vigil firewall attached)", o.iface, dir);
				return VIGIL_EXIT_FAIL;
			}
			return err;
		}
		err = fds_from_pins(o.iface, &f);
		if (err)
			return err;
		err = render_status(o.iface, &f);
		fds_close(&f);
		return err;
	}
	d = opendir(PIN_DIR);
	if (d) {
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			if (fds_from_pins(de->d_name, &f)) {
				err = VIGIL_EXIT_FAIL;
				continue;
			}
			found++;
			err |= render_status(de->d_name, &f);
			fds_close(&f);
		}
		closedir(d);
	}
	err |= status_foreground(NULL, &found);
	if (!found && !vigil.json)
		fprintf(vigil.out, "no firewall loaded\n");
	return err;
}

/* ---- events ---- */

static void fmt_addr(const uint8_t a[16], int family, char *buf, size_t n)
{
	if (family == 4)
		inet_ntop(AF_INET, a + 12, buf, n);
	else
		inet_ntop(AF_INET6, a, buf, n);
}

static void col_what(const struct vrow *r, char *buf, size_t n)
{
	const struct vfield *dr = vrow_get(r, "dry_run"), *rl = vrow_get(r, "ratelimit");

	snprintf(buf, n, "%s", rl && rl->b ? "ratelimit" : dr && dr->b ? "would-drop" : "drop");
}

static const struct vcol event_cols[] = {
	VCOL_TIME,
	{ "WHAT", 10, NULL, col_what },
	{ "RULE", 5, "rule_id", NULL, true },
	{ "PROTO", 6, "proto" },
	{ "SRC", 40, "src" },
	{ "SPORT", 6, "sport", NULL, true },
	{ "DST", 40, "dst" },
	{ "DPORT", 0, "dport" },
	{ 0 },
};

static int on_event(void *ctx, void *data, size_t size)
{
	const struct vigil_fw_drop *e = data;
	char src[64], dst[64], ifname[IF_NAMESIZE] = "", proto[16];
	struct vrow r;

	(void)ctx;
	if (size < sizeof(*e) || e->hdr.type != VIGIL_EV_FW_DROP)
		return 0;
	fmt_addr(e->src, e->family, src, sizeof(src));
	fmt_addr(e->dst, e->family, dst, sizeof(dst));
	if_indextoname(e->ifindex, ifname);
	snprintf(proto, sizeof(proto), "%s", vigil_fw_proto_name(e->proto));
	if (!strcmp(proto, "other") || !strcmp(proto, "any"))
		snprintf(proto, sizeof(proto), "%u", e->proto);
	vrow_init(&r);
	vrow_str(&r, "type", "fw_drop");
	vrow_u64(&r, "ts", e->hdr.ts);
	vigil_iso_time(e->hdr.ts, r.time, sizeof(r.time));
	vrow_str(&r, "time", r.time);
	vrow_str(&r, "interface", ifname);
	vrow_u64(&r, "rule_id", e->rule_id);
	vrow_u64(&r, "family", e->family);
	vrow_str(&r, "proto", proto);
	vrow_str(&r, "src", src);
	vrow_str(&r, "dst", dst);
	vrow_u64(&r, "sport", e->sport);
	vrow_u64(&r, "dport", e->dport);
	vrow_u64(&r, "len", e->pkt_len);
	vrow_bool(&r, "dry_run", e->flags & VIGIL_FW_E_DRY_RUN);
	vrow_bool(&r, "ratelimit", e->flags & VIGIL_FW_E_RATELIMIT);
	vrow_bool(&r, "fragment", e->flags & VIGIL_FW_E_FRAGMENT);
	return out_row(&r);
}

/* ---- load ---- */

struct fg {
	struct firewall_bpf *skel;
	struct vigil_rules rs;
	struct vigil_fw_table t;
	const char *rules_path;
	char rules_dir[PATH_MAX];
	const char *rules_base;
	int ifindex;
	int link_fd;
	int inotify_fd;
	struct vigil_fw_info info;
};

static void info_init(struct vigil_fw_info *info, const char *path, int ifindex, uint32_t nrules)
{
	char abs[PATH_MAX];

	memset(info, 0, sizeof(*info));
	info->loaded_at = realtime_ns();
	info->ifindex = (uint32_t)ifindex;
	info->flags = (o.dry_run ? VIGIL_FW_I_DRY_RUN : 0) | (o.persist ? VIGIL_FW_I_PERSIST : 0);
	info->nrules = nrules;
	info->sample = o.sample;
	info->lookup = o.lookup;
	if (!realpath(path, abs))
		snprintf(abs, sizeof(abs), "%s", path);
	snprintf(info->rules_path, sizeof(info->rules_path), "%.*s", (int)sizeof(info->rules_path) - 1, abs);
}

/* after load: fill generation 0, attach */
static int fg_prepare(struct vigil_session *s, void *ctx)
{
	struct fg *g = ctx;
	struct fw_fds f;
	int err;

	fds_from_skel(g->skel, &f);
	err = install(&f, &g->rs, &g->t, true);
	if (err) {
		vigil_error("cannot fill the firewall maps: %s", strerror(-err));
		return VIGIL_EXIT_FAIL;
	}
	g->link_fd = attach_xdp(bpf_program__fd(g->skel->progs.vigil_firewall), g->ifindex, o.iface,
				&g->info.mode);
	if (g->link_fd < 0)
		return VIGIL_EXIT_FAIL;
	info_put(&f, &g->info);
	s->attached++;
	vigil_info("firewall: %s XDP on '%s', %u rules from '%s'%s", mode_name(g->info.mode), o.iface,
		   g->rs.n - 1, g->rules_path, o.dry_run ? " (dry run: nothing is dropped)" : "");
	return 0;
}

static int reload_from_file(const char *path, const struct fw_fds *f, bool quiet_ok)
{
	struct vigil_rules rs;
	struct vigil_fw_table t = { 0 };	/* zero limits: the defaults */
	struct vigil_fw_info info;
	int err;

	(void)quiet_ok;
	/* the --lookup of the load stands unless this reload names one */
	if (!o.lookup_set && !info_get(f, &info) && info.lookup <= VIGIL_FW_LOOKUP_TRIE)
		o.lookup = info.lookup;
	err = read_rules(path, &rs, &t);
	if (err)
		return err;
	err = install(f, &rs, &t, false);
	if (err) {
		vigil_error("cannot install the new rules from '%s': %s; the old rules stay in force",
			    path, strerror(-err));
	} else if (!info_get(f, &info)) {
		info.reloads++;
		info.reloaded_at = realtime_ns();
		info.nrules = rs.n - 1;
		info.lookup = o.lookup;
		info_put(f, &info);
		vigil_info("firewall: reloaded %u rules from '%s'", rs.n - 1, path);
	}
	vigil_fw_table_free(&t);
	vigil_rules_free(&rs);
	return err ? VIGIL_EXIT_FAIL : 0;
}

/* inotify on the rules file's directory: editors replace files by rename */
static int fg_on_inotify(void *ctx)
{
	struct fg *g = ctx;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool hit = false;
	ssize_t len;
	struct fw_fds f;

	while ((len = read(g->inotify_fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + len;) {
			struct inotify_event *ev = (struct inotify_event *)p;

			if (ev->len && !strcmp(ev->name, g->rules_base))
				hit = true;
			p += sizeof(*ev) + ev->len;
		}
	}
	if (!hit)
		return 0;
	fds_from_skel(g->skel, &f);
	/* a bad file is reported and ignored: the running rules stay */
	reload_from_file(g->rules_path, &f, true);
	return 0;
}

static int pin_all(struct firewall_bpf *skel, int link_fd, const char *iface)
{
	char path[PATH_MAX];
	int err;

	if ((mkdir(PIN_ROOT, 0700) && errno != EEXIST) || (mkdir(PIN_DIR, 0700) && errno != EEXIST))
		return -errno;
	pin_path(path, sizeof(path), iface, NULL);
	if (mkdir(path, 0700))
		return -errno;
	for (size_t i = 0; i < sizeof(pin_maps) / sizeof(pin_maps[0]); i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(skel->obj, pin_maps[i]);
		char name[64];

		pin_path(path, sizeof(path), iface, pin_name(pin_maps[i], name, sizeof(name)));
		if (!m)
			return -ENOENT;
		err = bpf_map__pin(m, path);
		if (err)
			return err;
		chmod(path, 0600);
	}
	pin_path(path, sizeof(path), iface, "link");
	if (bpf_obj_pin(link_fd, path))
		return -errno;
	chmod(path, 0600);
	return 0;
}

/* remove the pins of iface; detaching the link first makes it synchronous */
static int unpin_all(const char *iface)
{
	char path[PATH_MAX];
	struct dirent *de;
	int fd, err = 0;
	DIR *d;

	pin_path(path, sizeof(path), iface, "link");
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		if (bpf_link_detach(fd))
			err = -errno;
		close(fd);
	}
	unlink(path);
	/* every pin in the directory, not just this version's map names: a
	 * firewall pinned by another vigil version must go away too */
	pin_path(path, sizeof(path), iface, NULL);
	d = opendir(path);
	while (d && (de = readdir(d))) {
		char pin[PATH_MAX];

		if (de->d_name[0] == '.' || pin_path(pin, sizeof(pin), iface, de->d_name))
			continue;
		if (unlink(pin) && errno != ENOENT && !err)
			err = -errno;
	}
	if (d)
		closedir(d);
	if (rmdir(path) && errno != ENOENT && !err)
		err = -errno;
	rmdir(PIN_DIR);		/* only when empty: other interfaces keep it */
	rmdir(PIN_ROOT);	/* other vigil commands may pin here too */
	return err;
}

static int do_load(const char *rules_path)
{
	struct vigil_session s;
	struct fg g = { .link_fd = -1, .inotify_fd = -1, .rules_path = rules_path };
	struct fw_fds f;
	int err, lock = -1;
	char path[PATH_MAX];

	if (o.persist && o.watch) {
		fprintf(stderr, "vigil firewall: --watch needs a foreground load (not --persist); "
			"use 'vigil firewall reload' for a persistent one\n");
		return VIGIL_EXIT_USAGE;
	}
	if (o.mode && strcmp(o.mode, "auto") && strcmp(o.mode, "native") && strcmp(o.mode, "generic")) {
		fprintf(stderr, "vigil firewall: invalid --mode '%s': auto, native or generic\n", o.mode);
		return VIGIL_EXIT_USAGE;
	}
	g.ifindex = (int)if_nametoindex(o.iface);
	if (!g.ifindex) {
		vigil_error("no network interface '%s'", o.iface);
		return VIGIL_EXIT_FAIL;
	}
	err = read_rules(rules_path, &g.rs, &g.t);
	if (err)
		return err;
	info_init(&g.info, rules_path, g.ifindex, g.rs.n - 1);

	g.skel = firewall_bpf__open();
	if (!g.skel) {
		vigil_error("cannot open the BPF object of 'firewall': %s", strerror(errno));
		err = VIGIL_EXIT_FAIL;
		goto out_free;
	}
	g.skel->rodata->fw_dry_run = o.dry_run;
	g.skel->rodata->fw_sample = o.sample;
	bpf_program__set_autoattach(g.skel->progs.vigil_firewall, false);

	if (o.persist) {
		lock = fw_lock();
		if (lock < 0) {
			err = VIGIL_EXIT_FAIL;
			goto out_free;
		}
		pin_path(path, sizeof(path), o.iface, NULL);
		if (!access(path, F_OK)) {
			vigil_error("a persistent firewall is already loaded on '%s'; use 'vigil firewall "
				    "reload' or 'unload'", o.iface);
			err = VIGIL_EXIT_FAIL;
			goto out_free;
		}
		err = vigil_object_load("firewall", g.skel->obj);
		if (err)
			goto out_free;
		fds_from_skel(g.skel, &f);
		err = install(&f, &g.rs, &g.t, true);
		if (err) {
			vigil_error("cannot fill the firewall maps: %s", strerror(-err));
			err = VIGIL_EXIT_FAIL;
			goto out_free;
		}
		g.link_fd = attach_xdp(bpf_program__fd(g.skel->progs.vigil_firewall), g.ifindex,
				       o.iface, &g.info.mode);
		if (g.link_fd < 0) {
			err = VIGIL_EXIT_FAIL;
			goto out_free;
		}
		info_put(&f, &g.info);
		err = pin_all(g.skel, g.link_fd, o.iface);
		if (err) {
			vigil_error("cannot pin the firewall under '%s': %s", PIN_DIR, strerror(-err));
			unpin_all(o.iface);
			err = VIGIL_EXIT_FAIL;
			goto out_free;
		}
		vigil_info("firewall: %s XDP on '%s', %u rules from '%s'%s; pinned under '%s/%s'",
			   mode_name(g.info.mode), o.iface, g.rs.n - 1, rules_path,
			   o.dry_run ? " (dry run)" : "", PIN_DIR, o.iface);
		err = 0;
		goto out_free;
	}

	/* foreground: the session's loop, Ctrl-C detaches */
	err = vigil_session_open(&s, "firewall", g.skel->skeleton);
	if (err)
		goto out_free;
	s.prepare = fg_prepare;
	s.prepare_ctx = &g;
	if (o.watch) {
		const char *slash = strrchr(rules_path, '/');

		snprintf(g.rules_dir, sizeof(g.rules_dir), "%.*s",
			 slash ? (int)(slash - rules_path) + 1 : 1, slash ? rules_path : ".");
		g.rules_base = slash ? slash + 1 : rules_path;
		g.inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (g.inotify_fd < 0 ||
		    inotify_add_watch(g.inotify_fd, g.rules_dir,
				      IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE) < 0) {
			vigil_error("cannot watch '%s': %s", g.rules_dir, strerror(errno));
			err = VIGIL_EXIT_FAIL;
			goto out_session;
		}
		vigil_session_watch_fd(&s, g.inotify_fd, fg_on_inotify, &g);
	}
	out_set_columns(event_cols);
	err = vigil_session_start(&s, on_event, &g);
	if (err)
		goto out_session;
	out_header();
	err = vigil_session_loop(&s, NULL, NULL);
	/* the final summary: rules and their counters, before detaching */
	if (!vigil.broken_pipe) {
		fds_from_skel(g.skel, &f);
		render_status(o.iface, &f);
	}
out_session:
	if (g.link_fd >= 0) {
		close(g.link_fd);	/* fd-owned link: this detaches */
		g.link_fd = -1;
	}
	err = vigil_session_close(&s, err);
out_free:
	if (g.link_fd >= 0)
		close(g.link_fd);
	if (g.inotify_fd >= 0)
		close(g.inotify_fd);
	fw_unlock(lock);
	firewall_bpf__destroy(g.skel);
	vigil_fw_table_free(&g.t);
	vigil_rules_free(&g.rs);
	return err;
}

static int do_reload(const char *rules_path)
{
	struct fw_fds f;
	int lock, err;

	/* parse before taking the lock: a bad file changes nothing */
	struct vigil_rules rs;
	struct vigil_fw_table t = { 0 };	/* zero limits: the defaults */

	err = read_rules(rules_path, &rs, &t);
	if (err)
		return err;
	vigil_fw_table_free(&t);
	vigil_rules_free(&rs);
	lock = fw_lock();
	if (lock < 0)
		return VIGIL_EXIT_FAIL;
	err = fds_from_pins(o.iface, &f);
	if (!err) {
		/* quiet: the warnings were printed above */
		bool q = vigil.quiet;

		vigil.quiet = true;
		err = reload_from_file(rules_path, &f, false);
		vigil.quiet = q;
		if (!err && vigil.verbose)
			vigil_info("firewall: reload of '%s' done", o.iface);
		fds_close(&f);
	}
	fw_unlock(lock);
	return err;
}

static int do_unload(void)
{
	char path[PATH_MAX];
	int lock, err;

	lock = fw_lock();
	if (lock < 0)
		return VIGIL_EXIT_FAIL;
	pin_path(path, sizeof(path), o.iface, NULL);
	if (access(path, F_OK)) {
		vigil_error("no persistent firewall on '%s' (nothing at '%s')", o.iface, path);
		fw_unlock(lock);
		return VIGIL_EXIT_FAIL;
	}
	err = unpin_all(o.iface);
	fw_unlock(lock);
	if (err) {
		vigil_error("cannot remove the firewall of '%s': %s", o.iface, strerror(-err));
		return VIGIL_EXIT_FAIL;
	}
	vigil_info("firewall: detached from '%s' and unpinned", o.iface);
	return 0;
}

/* a persistent firewall's drop events: its pinned ring buffer through the session loop */
static int do_events(void)
{
	struct vigil_session s;
	struct firewall_bpf *skel;
	char path[PATH_MAX];
	const char *reuse[] = { "vigil_events", "vigil_lost" };
	int err;

	skel = firewall_bpf__open();
	err = vigil_session_open(&s, "firewall", skel ? skel->skeleton : NULL);
	if (err)
		goto out;
	for (size_t i = 0; i < 2; i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(skel->obj, reuse[i]);
		int fd;

		pin_path(path, sizeof(path), o.iface, reuse[i]);
		fd = bpf_obj_get(path);
		if (fd < 0) {
			vigil_error("no persistent firewall on '%s' (cannot open '%s': %s)", o.iface, path,
				    strerror(errno));
			err = VIGIL_EXIT_FAIL;
			goto out;
		}
		err = bpf_map__reuse_fd(m, fd);
		close(fd);
		if (err) {
			vigil_error("cannot reuse '%s': %s", path, strerror(-err));
			err = VIGIL_EXIT_FAIL;
			goto out;
		}
	}
	/* only the ring buffer is wanted: no program, and tiny unused maps */
	bpf_program__set_autoload(skel->progs.vigil_firewall, false);
	bpf_map__set_max_entries(skel->maps.fw_buckets, 1);
	bpf_map__set_max_entries(skel->maps.fw_counters, 1);
	out_set_columns(event_cols);
	err = vigil_session_start(&s, on_event, NULL);
	if (err)
		goto out;
	vigil_info("firewall: reading drop events of '%s'; ctrl-c to end (attached)", o.iface);
	out_header();
	err = vigil_session_loop(&s, NULL, NULL);
out:
	err = vigil_session_close(&s, err);
	firewall_bpf__destroy(skel);
	return err;
}

static int do_check(const char *rules_path)
{
	struct vigil_rules rs;
	struct vigil_fw_table t = { 0 };	/* zero limits: the defaults */
	int err = read_rules(rules_path, &rs, &t);

	if (err)
		return err;
	if (vigil.json) {
		struct jw w;

		jw_init(&w, vigil.out);
		jw_obj(&w, NULL);
		jw_str(&w, "type", "firewall_check");
		jw_str(&w, "rules_file", rules_path);
		jw_u64(&w, "rules", rs.n - 1);
		jw_u64(&w, "warnings", rs.nwarnings);
		/* prefixes include the host addresses and the two family roots */
		jw_u64(&w, "source_prefixes", t.src.n4 + t.src.n6 + 2);
		jw_u64(&w, "source_hosts", t.src.nhosts);
		jw_u64(&w, "source_lengths", t.gen.src_lens.n4 + t.gen.src_lens.n6);
		jw_u64(&w, "destination_prefixes", t.dst.n4 + t.dst.n6 + 2);
		jw_u64(&w, "destination_hosts", t.dst.nhosts);
		jw_u64(&w, "destination_lengths", t.gen.dst_lens.n4 + t.gen.dst_lens.n6);
		lookups_json(&w, &t.gen);
		jw_u64(&w, "match_entries", t.ncombo + t.nmatch);
		jw_u64(&w, "combinations", t.ncombo);
		jw_u64(&w, "port_entries", t.nmatch);
		jw_end_obj(&w);
	} else {
		fprintf(vigil.out, "%s: %u rules, %u warnings; %u source prefixes (%u hosts, %u lengths), "
			"%u destination prefixes (%u hosts, %u lengths), %u combinations, %u port entries\n",
			rules_path, rs.n - 1, rs.nwarnings, t.src.n4 + t.src.n6 + 2, t.src.nhosts,
			t.gen.src_lens.n4 + t.gen.src_lens.n6, t.dst.n4 + t.dst.n6 + 2, t.dst.nhosts,
			t.gen.dst_lens.n4 + t.gen.dst_lens.n6, t.ncombo, t.nmatch);
		lookups_text(&t.gen);
	}
	vigil_fw_table_free(&t);
	vigil_rules_free(&rs);
	return 0;
}

static int usage_err(const char *msg)
{
	fprintf(stderr, "vigil firewall: %s; see 'vigil firewall --help'\n", msg);
	return VIGIL_EXIT_USAGE;
}

static int firewall_run(int argc, char **argv)
{
	const char *sub = argc > 0 ? argv[0] : NULL;
	int err;

	if (!sub)
		return usage_err("expected a subcommand: load, reload, status, unload, events or check");
	if (!strcmp(sub, "check")) {
		if (argc != 2)
			return usage_err("'check' takes one rules file");
		return do_check(argv[1]);
	}
	if (!strcmp(sub, "status")) {
		if (argc != 1)
			return usage_err("'status' takes no arguments besides -i");
		return do_status();
	}
	if (strcmp(sub, "load") && strcmp(sub, "reload") && strcmp(sub, "unload") && strcmp(sub, "events")) {
		fprintf(stderr, "vigil firewall: unknown subcommand '%s': load, reload, status, unload, "
			"events or check\n", sub);
		return VIGIL_EXIT_USAGE;
	}
	if (!o.iface)
		return usage_err("'-i IFACE' is required");
	if (strlen(o.iface) >= IF_NAMESIZE || strchr(o.iface, '/') || o.iface[0] == '.')
		return usage_err("invalid interface name");
	err = vigil_env_need_bpffs();
	if (err)
		return err;
	if (!strcmp(sub, "load")) {
		if (argc != 2)
			return usage_err("'load' takes one rules file");
		return do_load(argv[1]);
	}
	if (!strcmp(sub, "reload")) {
		if (argc != 2)
			return usage_err("'reload' takes one rules file");
		return do_reload(argv[1]);
	}
	if (argc != 1)
		return usage_err("unexpected argument");
	return !strcmp(sub, "unload") ? do_unload() : do_events();
}

const struct vigil_cmd cmd_firewall = {
	.name = "firewall",
	.run = firewall_run,
	.summary = "XDP firewall from a rules file, with atomic reload (load/reload/status/unload/events/check)",
	.usage = "load -i IFACE RULES | reload -i IFACE RULES | status [-i IFACE] | unload -i IFACE | "
		 "events -i IFACE | check RULES",
	.opts = fw_opts,
	.flags = VC_ROOT,
	.needs = VIGIL_MECH(VIGIL_M_XDP) | VIGIL_MECH(VIGIL_M_RINGBUF),
};
