// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * The firewall's datapath management (see fw/datapath.h): maps and their
 * generations, the XDP attachment, pins, the lock, the running state.
 *
 * Every change to a persistent firewall happens under an flock on
 * VIGIL_FW_LOCK_PATH; a process holds no state between calls, it reopens
 * the pins each time.
 */
#define _GNU_SOURCE	/* renameat2 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "core/bpfmap.h"
#include "core/vigil.h"
#include "core/session.h"
#include "fw/datapath.h"
#include "firewall.skel.h"

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

const char *vigil_fw_mode_name(uint32_t mode)
{
	return mode == 1 ? "native" : mode == 2 ? "generic" : "unknown";
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

struct rules_acc {
	__u32 *keys;
	struct vigil_fw_rule *vals;
	uint32_t n, cap;
};

static int rules_add(void *ctx, const void *key, const void *val)
{
	struct rules_acc *a = ctx;

	if (a->n == a->cap)
		return 0;	/* more than max_entries: cannot be */
	memcpy(&a->keys[a->n], key, sizeof(*a->keys));
	memcpy(&a->vals[a->n], val, sizeof(*a->vals));
	a->n++;
	return 0;
}

/*
 * Every rule of a generation's rule map (exactly max_entries of them), read
 * in batches. *keys and *vals are malloc'd, *n set; 0 or -errno.
 */
static int rules_read(int rfd, __u32 **keysp, struct vigil_fw_rule **valsp, uint32_t *n)
{
	struct bpf_map_info mi;
	__u32 len = sizeof(mi);
	struct rules_acc a = { 0 };
	int err;

	*keysp = NULL;
	*valsp = NULL;
	*n = 0;
	memset(&mi, 0, sizeof(mi));
	if (bpf_obj_get_info_by_fd(rfd, &mi, &len))
		return -errno;
	a.cap = mi.max_entries;
	a.vals = calloc(a.cap ? a.cap : 1, sizeof(*a.vals));
	a.keys = calloc(a.cap ? a.cap : 1, sizeof(*a.keys));
	if (!a.vals || !a.keys)
		err = -ENOMEM;
	else
		err = vigil_map_each(rfd, rules_add, &a);
	if (err) {
		free(a.vals);
		free(a.keys);
		return err;
	}
	*keysp = a.keys;
	*valsp = a.vals;
	*n = a.n;
	return 0;
}

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
	uint32_t nold = 0, nfresh = 0, *fresh = NULL, *keys = NULL, chunk;

	rfd = inner_fd(f->rules, cur);
	if (rfd < 0)
		return -ENOENT;
	/* the running set's rules */
	if ((err = rules_read(rfd, &keys, &old, &nold)))
		goto out;
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

static int inner_fd(int outer, __u32 gen)
{
	__u32 id;

	if (bpf_map_lookup_elem(outer, &gen, &id))
		return -1;
	return bpf_map_get_fd_by_id(id);
}

/* collect: the active generation's rules and their summed per-CPU counters */
/*
 * Per-CPU counters of slots lo..lo+n-1, summed over CPUs into sums[]: one
 * batch syscall per chunk where the kernel has them. 0, or -errno (then the
 * caller reads slot by slot).
 */
static int ctrs_read_range(int cfd, __u32 lo, uint32_t n, int ncpu, struct vigil_fw_counter *sums)
{
	enum { CHUNK = 1024 };
	struct vigil_fw_counter *vals = calloc((size_t)CHUNK * ncpu, sizeof(*vals));
	__u32 *keys = calloc(CHUNK, sizeof(*keys));
	uint32_t done = 0;
	int err = 0;

	if (!vals || !keys)
		err = -ENOMEM;
	while (!err && done < n) {
		/* an array's batch starts after the key it is given: NULL for slot 0 */
		__u32 prev = lo + done - 1, out, count = n - done < CHUNK ? n - done : CHUNK;
		int r = bpf_map_lookup_batch(cfd, lo + done ? &prev : NULL, &out, keys, vals, &count,
					     NULL);

		if (r && errno != ENOENT) {
			err = -errno;
			break;
		}
		for (uint32_t i = 0; i < count; i++) {
			struct vigil_fw_counter *sum;

			if (keys[i] < lo || keys[i] - lo >= n)
				continue;
			sum = &sums[keys[i] - lo];
			for (int c = 0; c < ncpu; c++) {
				sum->packets += vals[(size_t)i * ncpu + c].packets;
				sum->bytes += vals[(size_t)i * ncpu + c].bytes;
				sum->drops += vals[(size_t)i * ncpu + c].drops;
			}
		}
		if (r || !count)
			break;	/* the end of the array */
		done += count;
	}
	free(vals);
	free(keys);
	return err;
}

/*
 * The running generation's rules with their counters: batch reads of the
 * rule map and of the counter slots they use, so a scrape of thousands of
 * rules costs a few syscalls, not three per rule.
 */
static int collect_rules(const struct fw_fds *f, struct vigil_fw_rule_stat **rows, uint32_t *n)
{
	int ncpu = libbpf_num_possible_cpus();
	__u32 zero = 0, gen, *keys = NULL, lo = UINT32_MAX, hi = 0;
	struct vigil_fw_counter *vals = NULL, *sums = NULL;
	struct vigil_fw_rule *rules = NULL;
	int rfd = -1, cfd = -1, err = 0;
	uint32_t nr = 0;
	bool ranged = false;

	*rows = NULL;
	*n = 0;
	if (bpf_map_lookup_elem(f->active, &zero, &gen))
		return -errno;
	rfd = inner_fd(f->rules, gen);
	cfd = dup(f->counters);
	vals = calloc(ncpu > 0 ? ncpu : 1, sizeof(*vals));
	if (rfd < 0 || cfd < 0 || !vals || ncpu <= 0) {
		err = -ENOENT;
		goto out;
	}
	if ((err = rules_read(rfd, &keys, &rules, &nr)))
		goto out;
	*rows = calloc(nr ? nr : 1, sizeof(**rows));
	if (!*rows) {
		err = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < nr; i++) {
		if (rules[i].ctr < lo)
			lo = rules[i].ctr;
		if (rules[i].ctr > hi)
			hi = rules[i].ctr;
	}
	/* one range read when the slots in use are dense enough (reloads scatter them) */
	if (nr && hi - lo < 4 * nr + 1024) {
		sums = calloc(hi - lo + 1, sizeof(*sums));
		ranged = sums && !ctrs_read_range(cfd, lo, hi - lo + 1, ncpu, sums);
	}
	for (uint32_t i = 0; i < nr; i++) {
		struct vigil_fw_rule_stat *row = &(*rows)[i];

		row->id = keys[i];
		row->r = rules[i];
		if (ranged) {
			row->c = sums[rules[i].ctr - lo];
		} else if (!bpf_map_lookup_elem(cfd, &row->r.ctr, vals)) {
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
	}
	*n = nr;
out:
	free(vals);
	free(sums);
	free(keys);
	free(rules);
	if (rfd >= 0)
		close(rfd);
	if (cfd >= 0)
		close(cfd);
	return err;
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

static int rule_stat_cmp(const void *a, const void *b)
{
	const struct vigil_fw_rule_stat *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* ---- messages ---- */

static int fail(char *buf, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *buf, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, VIGIL_FW_MSG_LEN, fmt, ap);
	va_end(ap);
	return code;
}

/* ---- pins ---- */

/* dir/a or dir/a/b */
static int join(char *buf, size_t n, const char *dir, const char *a, const char *b)
{
	const char *parts[3] = { dir, a, b };
	size_t len = 0;

	for (int i = 0; i < 3 && parts[i]; i++) {
		size_t l = strlen(parts[i]);

		if (len + !!i + l >= n)
			return -ENAMETOOLONG;
		if (i)
			buf[len++] = '/';
		memcpy(buf + len, parts[i], l);
		len += l;
	}
	buf[len] = 0;
	return 0;
}

/* open the maps pinned in dir; -errno of the first that fails, its path in bad */
static int fds_from_dir(const char *dir, struct fw_fds *f, char *bad, size_t n)
{
	char path[PATH_MAX], name[64];

	for (int *fd = &f->active; fd <= &f->info; fd++)
		*fd = -1;
	for (size_t i = 0; i < sizeof(fw_map_names) / sizeof(fw_map_names[0]); i++) {
		int *fd = &f->active + i;

		join(path, sizeof(path), dir, pin_name(fw_map_names[i], name, sizeof(name)), NULL);
		*fd = bpf_obj_get(path);
		if (*fd < 0) {
			int err = -errno;

			snprintf(bad, n, "%s", path);
			fds_close(f);
			return err;
		}
	}
	return 0;
}

static int pin_all(struct firewall_bpf *skel, int link_fd, const char *dir)
{
	char path[PATH_MAX];
	int err;

	for (size_t i = 0; i < sizeof(pin_maps) / sizeof(pin_maps[0]); i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(skel->obj, pin_maps[i]);
		char name[64];

		if (!m)
			return -ENOENT;
		join(path, sizeof(path), dir, pin_name(pin_maps[i], name, sizeof(name)), NULL);
		err = bpf_map__pin(m, path);
		if (err)
			return err;
		chmod(path, 0600);
	}
	/* the link last: a directory with a link pin has all the maps */
	join(path, sizeof(path), dir, "link", NULL);
	if (bpf_obj_pin(link_fd, path))
		return -errno;
	chmod(path, 0600);
	return 0;
}

/* remove a firewall's pin directory; detaching the link first makes it synchronous */
static int unpin_dir(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	int fd, err = 0;
	DIR *d;

	join(path, sizeof(path), dir, "link", NULL);
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		if (bpf_link_detach(fd))
			err = -errno;
		close(fd);
	}
	/* every pin in the directory, not just this version's map names: a
	 * firewall pinned by another vigil version must go away too */
	d = opendir(dir);
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.' || join(path, sizeof(path), dir, de->d_name, NULL))
			continue;
		if (unlink(path) && errno != ENOENT && !err)
			err = -errno;
	}
	if (d)
		closedir(d);
	if (rmdir(dir) && errno != ENOENT && !err)
		err = -errno;
	return err;
}

/* the parents, only when empty: other interfaces and vigil commands pin there too */
static void prune_parents(void)
{
	rmdir(VIGIL_FW_TMP_DIR);
	rmdir(VIGIL_FW_PIN_DIR);
	rmdir(VIGIL_FW_PIN_ROOT);
}

/* a temporary directory's name, PID-IFACE: its pid, and whether it is iface's (NULL: any) */
static bool tmp_name_parse(const char *name, const char *iface, long *pid)
{
	char *end;

	*pid = strtol(name, &end, 10);
	if (end == name || *end != '-' || *pid <= 0 || !end[1])
		return false;
	return !iface || !strcmp(end + 1, iface);
}

/*
 * Remove the temporary directories of loads that did not finish, iface's
 * or (NULL) all. Only under the lock: every load holds it while its
 * directory exists, so those found then are of killed loads. Returns how
 * many were removed; the last one's pid in *pid.
 */
static int remove_leftovers(const char *iface, long *pid, int *err)
{
	char path[PATH_MAX];
	struct dirent *de;
	int n = 0;
	DIR *d = opendir(VIGIL_FW_TMP_DIR);
	long p;

	*err = 0;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.' || !tmp_name_parse(de->d_name, iface, &p) ||
		    join(path, sizeof(path), VIGIL_FW_TMP_DIR, de->d_name, NULL))
			continue;
		*err = unpin_dir(path) ?: *err;
		*pid = p;
		n++;
	}
	if (d)
		closedir(d);
	return n;
}

/* ---- lock ---- */

static int fw_lock(struct vigil_fw_msg *m)
{
	int fd;

	if (mkdir(VIGIL_FW_LOCK_DIR, 0700) && errno != EEXIST)
		return -fail(m->err, 1, "cannot create '%s': %s", VIGIL_FW_LOCK_DIR, strerror(errno));
	fd = open(VIGIL_FW_LOCK_PATH, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -fail(m->err, 1, "cannot open lock file '%s': %s", VIGIL_FW_LOCK_PATH,
			     strerror(errno));
	if (flock(fd, LOCK_EX)) {
		fail(m->err, 1, "cannot lock '%s': %s", VIGIL_FW_LOCK_PATH, strerror(errno));
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

/* whether some process holds the lock now (a load or reload in progress) */
static bool fw_lock_busy(void)
{
	int fd = open(VIGIL_FW_LOCK_PATH, O_RDONLY | O_CLOEXEC);
	bool busy;

	if (fd < 0)
		return false;
	busy = flock(fd, LOCK_SH | LOCK_NB) && errno == EWOULDBLOCK;
	close(fd);
	return busy;
}

/* ---- attach ---- */

static int attach_xdp(int prog_fd, int ifindex, const char *iface, uint32_t want, uint32_t *mode,
		      struct vigil_fw_msg *m)
{
	bool auto_mode = want == VIGIL_FW_MODE_AUTO;
	bool try_native = auto_mode || want == VIGIL_FW_MODE_NATIVE;
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
		fail(m->note, 0, "firewall: native XDP is not available on '%s' (%s); using generic mode",
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
		fail(m->err, 1, "interface '%s' already has an XDP program; see 'ip link show %s' "
		     "and 'vigil firewall status'", iface, iface);
	else
		fail(m->err, 1, "cannot attach XDP (%s mode) to '%s': %s", try_native && !auto_mode ?
		     "native" : "generic", iface, strerror(err));
	return -1;
}

/* ---- a firewall this process holds ---- */

struct vigil_fw {
	struct firewall_bpf *skel;
	struct fw_fds f;	/* the skeleton's, not owned */
	int link_fd;
	int ifindex;
	uint32_t mode;		/* enum vigil_fw_mode asked for */
	char iface[IF_NAMESIZE];
	struct vigil_fw_info info;
};

int vigil_fw_open(const struct vigil_fw_opts *o, const char *rules_path, struct vigil_fw **out,
		  struct vigil_fw_msg *m)
{
	struct vigil_fw *fw;
	char abs[PATH_MAX];

	*out = NULL;
	if (!o->iface || strlen(o->iface) >= IF_NAMESIZE)
		return fail(m->err, VIGIL_EXIT_USAGE, "invalid interface name '%s'",
			    o->iface ? o->iface : "");
	fw = calloc(1, sizeof(*fw));
	if (!fw)
		return fail(m->err, VIGIL_EXIT_FAIL, "out of memory");
	fw->link_fd = -1;
	fw->mode = o->mode;
	snprintf(fw->iface, sizeof(fw->iface), "%s", o->iface);
	fw->ifindex = (int)if_nametoindex(o->iface);
	if (!fw->ifindex) {
		free(fw);
		return fail(m->err, VIGIL_EXIT_FAIL, "no network interface '%s'", o->iface);
	}
	fw->skel = firewall_bpf__open();
	if (!fw->skel) {
		fail(m->err, VIGIL_EXIT_FAIL, "cannot open the BPF object of 'firewall': %s",
		     strerror(errno));
		free(fw);
		return VIGIL_EXIT_FAIL;
	}
	fw->skel->rodata->fw_dry_run = o->dry_run;
	fw->skel->rodata->fw_sample = o->sample;
	bpf_program__set_autoattach(fw->skel->progs.vigil_firewall, false);

	fw->info.loaded_at = realtime_ns();
	fw->info.ifindex = (uint32_t)fw->ifindex;
	fw->info.flags = (o->dry_run ? VIGIL_FW_I_DRY_RUN : 0) | (o->persist ? VIGIL_FW_I_PERSIST : 0);
	fw->info.sample = o->sample;
	fw->info.lookup = o->lookup;
	if (!realpath(rules_path, abs))
		snprintf(abs, sizeof(abs), "%s", rules_path);
	snprintf(fw->info.rules_path, sizeof(fw->info.rules_path), "%.*s",
		 (int)sizeof(fw->info.rules_path) - 1, abs);
	*out = fw;
	return 0;
}

struct bpf_object_skeleton *vigil_fw_skeleton(struct vigil_fw *fw)
{
	return fw->skel->skeleton;
}

const struct vigil_fw_info *vigil_fw_get_info(const struct vigil_fw *fw)
{
	return &fw->info;
}

int vigil_fw_start(struct vigil_fw *fw, struct vigil_rules *rs, struct vigil_fw_table *t,
		   struct vigil_fw_msg *m)
{
	int err;

	fds_from_skel(fw->skel, &fw->f);
	err = install(&fw->f, rs, t, true);
	if (err)
		return fail(m->err, VIGIL_EXIT_FAIL, "cannot fill the firewall maps: %s", strerror(-err));
	fw->link_fd = attach_xdp(bpf_program__fd(fw->skel->progs.vigil_firewall), fw->ifindex,
				 fw->iface, fw->mode, &fw->info.mode, m);
	if (fw->link_fd < 0)
		return VIGIL_EXIT_FAIL;
	fw->info.nrules = rs->n - 1;
	info_put(&fw->f, &fw->info);
	return 0;
}

void vigil_fw_detach(struct vigil_fw *fw)
{
	if (fw && fw->link_fd >= 0) {
		close(fw->link_fd);
		fw->link_fd = -1;
	}
}

void vigil_fw_close(struct vigil_fw *fw)
{
	if (!fw)
		return;
	if (fw->link_fd >= 0)
		close(fw->link_fd);	/* fd-owned link: a foreground firewall detaches */
	firewall_bpf__destroy(fw->skel);
	free(fw);
}

static bool cancelled(const struct vigil_fw_opts *o)
{
	return o->cancelled && o->cancelled(o->cancel_ctx);
}

/* under the lock: what is pinned at dir, as a reason not to load there */
static int pinned_state(const char *iface, const char *dir, struct vigil_fw_msg *m)
{
	char link[PATH_MAX];

	join(link, sizeof(link), dir, "link", NULL);
	if (access(link, F_OK))
		return fail(m->err, VIGIL_EXIT_FAIL, "a half-made persistent firewall is on '%s': '%s' "
			    "has pins but no link (an interrupted load) and filters nothing; run "
			    "'vigil firewall unload -i %s', then load again", iface, dir, iface);
	return fail(m->err, VIGIL_EXIT_FAIL, "a persistent firewall is already loaded on '%s'; use "
		    "'vigil firewall reload' or 'unload'", iface);
}

int vigil_fw_load(const struct vigil_fw_opts *o, const char *rules_path, struct vigil_rules *rs,
		  struct vigil_fw_table *t, struct vigil_fw **out, struct vigil_fw_msg *m)
{
	char dir[PATH_MAX], tmp[PATH_MAX], name[64];
	struct vigil_fw *fw = NULL;
	int lock, err, n, rerr;
	bool made_tmp = false;
	long pid = 0;

	if (out)
		*out = NULL;
	if (join(dir, sizeof(dir), VIGIL_FW_PIN_DIR, o->iface, NULL))
		return fail(m->err, VIGIL_EXIT_USAGE, "invalid interface name '%s'", o->iface);
	snprintf(name, sizeof(name), "%ld-%s", (long)getpid(), o->iface);
	join(tmp, sizeof(tmp), VIGIL_FW_TMP_DIR, name, NULL);
	lock = fw_lock(m);
	if (lock < 0)
		return VIGIL_EXIT_FAIL;
	if (!access(dir, F_OK)) {
		err = pinned_state(o->iface, dir, m);
		goto out;
	}
	n = remove_leftovers(NULL, &pid, &rerr);
	if (n)
		fail(m->note, 0, "firewall: removed %d half-made firewall%s left by a killed load "
		     "(process %ld)%s", n, n == 1 ? "" : "s", pid, rerr ? "; some pins remain" : "");
	err = vigil_fw_open(o, rules_path, &fw, m);
	if (err)
		goto out;
	err = vigil_object_load("firewall", fw->skel->obj);	/* reports its own errors */
	if (err)
		goto out;
	if (cancelled(o))
		goto cancel;
	err = vigil_fw_start(fw, rs, t, m);
	if (err)
		goto out;
	if (cancelled(o))
		goto cancel;
	if ((mkdir(VIGIL_FW_PIN_ROOT, 0700) && errno != EEXIST) ||
	    (mkdir(VIGIL_FW_TMP_DIR, 0700) && errno != EEXIST) ||
	    (mkdir(VIGIL_FW_PIN_DIR, 0700) && errno != EEXIST) || mkdir(tmp, 0700)) {
		err = fail(m->err, VIGIL_EXIT_FAIL, "cannot create the pin directory '%s': %s", tmp,
			   strerror(errno));
		goto out;
	}
	made_tmp = true;
	err = pin_all(fw->skel, fw->link_fd, tmp);
	if (err) {
		err = fail(m->err, VIGIL_EXIT_FAIL, "cannot pin the firewall under '%s': %s", tmp,
			   strerror(-err));
		goto out;
	}
	if (cancelled(o))
		goto cancel;
	/* the commit: the directory appears whole, or not at all */
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dir, RENAME_NOREPLACE)) {
		err = fail(m->err, VIGIL_EXIT_FAIL, "cannot publish the firewall pins '%s' as '%s': %s",
			   tmp, dir, strerror(errno));
		goto out;
	}
	made_tmp = false;
	err = 0;
	goto out;
cancel:
	err = fail(m->err, VIGIL_EXIT_FAIL, "load of a persistent firewall on '%s' interrupted; "
		   "nothing was loaded", o->iface);
out:
	if (made_tmp)
		unpin_dir(tmp);
	if (err) {
		vigil_fw_close(fw);
		fw = NULL;
		prune_parents();
	}
	fw_unlock(lock);
	if (out)
		*out = fw;
	else
		vigil_fw_close(fw);
	return err;
}

/* a pin directory without one of this version's maps: why, and what to do */
static int missing_map(const char *iface, const char *dir, const char *bad, char *buf)
{
	char link[PATH_MAX];

	join(link, sizeof(link), dir, "link", NULL);
	if (access(link, F_OK))
		return fail(buf, VIGIL_EXIT_FAIL, "persistent firewall on '%s' is half-made: '%s' has "
			    "pins but no link (an interrupted load) and filters nothing; run 'vigil "
			    "firewall unload -i %s' and load it again", iface, dir, iface);
	return fail(buf, VIGIL_EXIT_FAIL, "persistent firewall on '%s' was loaded by another vigil "
		    "version ('%s' is missing); run 'vigil firewall unload -i %s' and load it again",
		    iface, bad, iface);
}

/* ---- reload ---- */

static int reload_fds(const struct fw_fds *f, const struct vigil_fw_opts *o, struct vigil_rules *rs,
		      struct vigil_fw_reload_res *res, struct vigil_fw_msg *m)
{
	struct vigil_fw_table t = { 0 };	/* zero limits: the defaults */
	struct vigil_fw_info info;
	char why[256];
	int err;

	err = info_get(f, &info);
	if (err)
		return fail(m->err, VIGIL_EXIT_FAIL, "cannot read the firewall state of '%s': %s",
			    o->iface, strerror(-err));
	/* the --lookup of the load stands unless this reload names one */
	t.lookup = o->lookup_set ? o->lookup : info.lookup <= VIGIL_FW_LOOKUP_TRIE ? info.lookup :
		   VIGIL_FW_LOOKUP_AUTO;
	res->lookup = t.lookup;
	res->nrules = rs->n - 1;
	if (vigil_fw_compile(rs, &t, why, sizeof(why))) {
		vigil_fw_table_free(&t);
		return fail(m->err, VIGIL_EXIT_FAIL, "cannot compile rules file '%s': %s; nothing was "
			    "changed", rs->name, why);
	}
	err = install(f, rs, &t, false);
	vigil_fw_table_free(&t);
	if (err)
		return fail(m->err, VIGIL_EXIT_FAIL, "cannot install the new rules from '%s': %s; the "
			    "old rules stay in force", rs->name, strerror(-err));
	info.reloads++;
	info.reloaded_at = realtime_ns();
	info.nrules = rs->n - 1;
	info.lookup = res->lookup;
	info_put(f, &info);
	return 0;
}

int vigil_fw_reload(const struct vigil_fw_opts *o, struct vigil_rules *rs,
		    struct vigil_fw_reload_res *res, struct vigil_fw_msg *m)
{
	char dir[PATH_MAX], bad[PATH_MAX];
	struct fw_fds f;
	int lock, err;

	if (join(dir, sizeof(dir), VIGIL_FW_PIN_DIR, o->iface, NULL))
		return fail(m->err, VIGIL_EXIT_USAGE, "invalid interface name '%s'", o->iface);
	lock = fw_lock(m);
	if (lock < 0)
		return VIGIL_EXIT_FAIL;
	err = fds_from_dir(dir, &f, bad, sizeof(bad));
	if (err == -ENOENT && !access(dir, F_OK))
		/* the directory is there: half-made, or pinned by a vigil with other maps */
		err = missing_map(o->iface, dir, bad, m->err);
	else if (err == -ENOENT)
		err = fail(m->err, VIGIL_EXIT_FAIL, "no persistent firewall on '%s' (nothing pinned at "
			   "'%s')", o->iface, dir);
	else if (err)
		err = fail(m->err, VIGIL_EXIT_FAIL, "cannot open '%s': %s", bad, strerror(-err));
	else {
		err = reload_fds(&f, o, rs, res, m);
		fds_close(&f);
	}
	fw_unlock(lock);
	return err;
}

int vigil_fw_reload_fw(struct vigil_fw *fw, const struct vigil_fw_opts *o, struct vigil_rules *rs,
		       struct vigil_fw_reload_res *res, struct vigil_fw_msg *m)
{
	int err = reload_fds(&fw->f, o, rs, res, m);

	if (!err)
		info_get(&fw->f, &fw->info);
	return err;
}

/* ---- unload ---- */

int vigil_fw_unload(const char *iface, struct vigil_fw_msg *m)
{
	char dir[PATH_MAX];
	int lock, err = 0, rerr, n;
	bool pinned;
	long pid = 0;

	if (join(dir, sizeof(dir), VIGIL_FW_PIN_DIR, iface, NULL))
		return fail(m->err, VIGIL_EXIT_USAGE, "invalid interface name '%s'", iface);
	lock = fw_lock(m);
	if (lock < 0)
		return VIGIL_EXIT_FAIL;
	pinned = !access(dir, F_OK);
	if (pinned)
		err = unpin_dir(dir);
	n = remove_leftovers(iface, &pid, &rerr);
	err = err ?: rerr;
	prune_parents();
	fw_unlock(lock);
	if (!pinned && !n)
		return fail(m->err, VIGIL_EXIT_FAIL, "no persistent firewall on '%s' (nothing at '%s')",
			    iface, dir);
	if (err)
		return fail(m->err, VIGIL_EXIT_FAIL, "cannot remove the firewall of '%s': %s", iface,
			    strerror(-err));
	if (n)
		fail(m->note, 0, "firewall: removed the half-made firewall of '%s' left by a killed load "
		     "(process %ld)", iface, pid);
	return 0;
}

/* ---- status ---- */

static int status_read(const struct fw_fds *f, struct vigil_fw_status *st)
{
	int err = info_get(f, &st->info);

	if (!err)
		err = gen_get(f, &st->gen);
	if (!err)
		err = collect_rules(f, &st->rules, &st->nrules);
	if (err) {
		st->state = VIGIL_FW_ST_ERROR;
		fail(st->problem, 0, "cannot read the firewall state of '%s': %s", st->iface,
		     strerror(-err));
		return err;
	}
	qsort(st->rules, st->nrules, sizeof(*st->rules), rule_stat_cmp);
	return 0;
}

struct status_list {
	struct vigil_fw_status *v;
	uint32_t n, cap;
};

static struct vigil_fw_status *status_add(struct status_list *l, const char *iface)
{
	struct vigil_fw_status *st;

	if (l->n == l->cap) {
		uint32_t cap = l->cap ? l->cap * 2 : 8;
		void *p = realloc(l->v, cap * sizeof(*l->v));

		if (!p)
			return NULL;
		l->v = p;
		l->cap = cap;
	}
	st = &l->v[l->n++];
	memset(st, 0, sizeof(*st));
	snprintf(st->iface, sizeof(st->iface), "%s", iface);
	return st;
}

static void status_pinned(struct status_list *l, const char *iface)
{
	char dir[PATH_MAX], link[PATH_MAX], bad[PATH_MAX] = "";
	struct vigil_fw_status *st = status_add(l, iface);
	struct fw_fds f;
	int err;

	if (!st || join(dir, sizeof(dir), VIGIL_FW_PIN_DIR, iface, NULL))
		return;
	st->persistent = true;
	err = fds_from_dir(dir, &f, bad, sizeof(bad));
	join(link, sizeof(link), dir, "link", NULL);
	if (err == -ENOENT || access(link, F_OK)) {
		/* a vigil of this version publishes all its pins at once: an older
		 * one's interrupted load, or another version's maps */
		if (!err)
			fds_close(&f);
		st->state = access(link, F_OK) ? VIGIL_FW_ST_HALF : VIGIL_FW_ST_OTHER;
		missing_map(iface, dir, bad, st->problem);
		return;
	}
	if (err) {
		st->state = VIGIL_FW_ST_ERROR;
		fail(st->problem, 0, "cannot open '%s': %s", bad, strerror(-err));
		return;
	}
	status_read(&f, st);
	fds_close(&f);
}

/* temporary directories: loads in progress, or left by killed ones */
static void status_tmp(struct status_list *l, const char *only)
{
	char path[PATH_MAX], link[PATH_MAX];
	bool busy = fw_lock_busy();
	struct dirent *de;
	DIR *d = opendir(VIGIL_FW_TMP_DIR);
	long pid;

	while (d && (de = readdir(d))) {
		struct vigil_fw_status *st;
		const char *iface;

		if (de->d_name[0] == '.' || !tmp_name_parse(de->d_name, only, &pid) ||
		    join(path, sizeof(path), VIGIL_FW_TMP_DIR, de->d_name, NULL))
			continue;
		iface = strchr(de->d_name, '-') + 1;
		st = status_add(l, iface);
		if (!st)
			break;
		st->persistent = true;
		join(link, sizeof(link), path, "link", NULL);
		if (busy && !kill((pid_t)pid, 0)) {
			st->state = VIGIL_FW_ST_LOADING;
			fail(st->problem, 0, "a persistent firewall is being loaded on '%s' by process %ld; "
			     "run 'vigil firewall status -i %s' again when it is done", iface, pid, iface);
		} else {
			st->state = VIGIL_FW_ST_LEFTOVER;
			fail(st->problem, 0, "a load of a persistent firewall on '%s' (process %ld) was "
			     "killed and left a half-made firewall in '%s'%s; run 'vigil firewall unload "
			     "-i %s', or load again (which removes it)", iface, pid, path,
			     access(link, F_OK) ? "" : " (its XDP program is still attached)", iface);
		}
	}
	if (d)
		closedir(d);
}

static bool has_tmp(const char *iface)
{
	struct dirent *de;
	DIR *d = opendir(VIGIL_FW_TMP_DIR);
	bool found = false;
	long pid;

	while (d && !found && (de = readdir(d)))
		found = de->d_name[0] != '.' && tmp_name_parse(de->d_name, iface, &pid);
	if (d)
		closedir(d);
	return found;
}

/*
 * Foreground firewalls: vigil's XDP links on interfaces of this network
 * namespace that have no pins (those are listed from their pins). A link's
 * ifindex may belong to another namespace: the interface of that index here
 * must run the link's very program.
 */
static void status_foreground(struct status_list *l, const char *only)
{
	char dir[PATH_MAX], ifname[IF_NAMESIZE];
	__u32 id = 0;

	while (!bpf_link_get_next_id(id, &id)) {
		struct bpf_link_info li;
		struct bpf_prog_info pi;
		__u32 len = sizeof(li), plen = sizeof(pi);
		LIBBPF_OPTS(bpf_xdp_query_opts, q);
		struct vigil_fw_status *st;
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
		join(dir, sizeof(dir), VIGIL_FW_PIN_DIR, ifname, NULL);
		if (!access(dir, F_OK) || has_tmp(ifname))
			continue;	/* persistent: listed from its pins */
		if (fds_from_prog(li.prog_id, &f))
			continue;	/* not ours after all, or going away */
		st = status_add(l, ifname);
		if (st)
			status_read(&f, st);	/* an error is kept in st */
		fds_close(&f);
	}
}

int vigil_fw_status(const char *iface, struct vigil_fw_status **out, uint32_t *n,
		    struct vigil_fw_msg *m)
{
	struct status_list l = { 0 };
	char dir[PATH_MAX];

	if (iface) {
		if (join(dir, sizeof(dir), VIGIL_FW_PIN_DIR, iface, NULL))
			return fail(m->err, VIGIL_EXIT_USAGE, "invalid interface name '%s'", iface);
		if (!access(dir, F_OK))
			status_pinned(&l, iface);
		status_tmp(&l, iface);
		if (!l.n)
			status_foreground(&l, iface);
	} else {
		DIR *d = opendir(VIGIL_FW_PIN_DIR);
		struct dirent *de;

		while (d && (de = readdir(d)))
			if (de->d_name[0] != '.')
				status_pinned(&l, de->d_name);
		if (d)
			closedir(d);
		status_tmp(&l, NULL);
		status_foreground(&l, NULL);
	}
	*out = l.v;
	*n = l.n;
	return 0;
}

int vigil_fw_status_of(struct vigil_fw *fw, struct vigil_fw_status **out, struct vigil_fw_msg *m)
{
	struct vigil_fw_status *st = calloc(1, sizeof(*st));

	*out = st;
	if (!st)
		return fail(m->err, VIGIL_EXIT_FAIL, "out of memory");
	snprintf(st->iface, sizeof(st->iface), "%s", fw->iface);
	st->persistent = fw->info.flags & VIGIL_FW_I_PERSIST;
	if (status_read(&fw->f, st))
		return fail(m->err, VIGIL_EXIT_FAIL, "%s", st->problem);
	return 0;
}

void vigil_fw_status_free(struct vigil_fw_status *st, uint32_t n)
{
	for (uint32_t i = 0; st && i < n; i++)
		free(st[i].rules);
	free(st);
}
