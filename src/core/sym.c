// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* The symbolizer (core/sym.h): kallsyms, process maps, ELF symbols, JIT maps. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <lzma.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/ksyms.h"
#include "core/sym.h"
#include "core/vigil.h"

/* ---- pure parts ---- */

int vigil_maps_parse(char *line, struct vigil_map_line *m)
{
	unsigned long long start, end, pgoff, inode;
	unsigned int maj, min;
	char perm[8];
	int pos = 0;
	char *nl;

	if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %n", &start, &end, perm, &pgoff, &maj, &min,
		   &inode, &pos) < 7 || !pos || end <= start)
		return -1;
	m->start = start;
	m->end = end;
	m->pgoff = pgoff;
	m->inode = inode;
	m->dev_major = maj;
	m->dev_minor = min;
	m->exec = strlen(perm) >= 3 && perm[2] == 'x';
	m->path = line + pos;
	nl = strchr(line + pos, '\n');
	if (nl)
		*nl = 0;
	return 0;
}

int vigil_seg_vaddr(const struct vigil_seg *segs, size_t n, uint64_t off, uint64_t *vaddr)
{
	for (size_t i = 0; i < n; i++)
		if (off >= segs[i].off && off < segs[i].off + segs[i].filesz) {
			*vaddr = off - segs[i].off + segs[i].vaddr;
			return 0;
		}
	return -1;
}

int vigil_symtab_add(struct vigil_symtab *t, uint64_t addr, uint64_t size, const char *name)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		struct vigil_symtab_ent *e = realloc(t->e, cap * sizeof(*e));

		if (!e)
			return -ENOMEM;
		t->e = e;
		t->cap = cap;
	}
	t->e[t->n].name = strdup(name);
	if (!t->e[t->n].name)
		return -ENOMEM;
	t->e[t->n].addr = addr;
	t->e[t->n].size = size;
	t->n++;
	t->sorted = false;
	return 0;
}

static int ent_cmp(const void *a, const void *b)
{
	const struct vigil_symtab_ent *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	/* at one address the sized symbol wins over an alias of size 0 */
	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	return strcmp(x->name, y->name);
}

void vigil_symtab_finish(struct vigil_symtab *t)
{
	size_t k = 0;

	qsort(t->e, t->n, sizeof(*t->e), ent_cmp);
	for (size_t i = 0; i < t->n; i++) {
		if (k && t->e[k - 1].addr == t->e[i].addr) {
			free((char *)t->e[i].name);
			continue;
		}
		t->e[k++] = t->e[i];
	}
	t->n = k;
	t->sorted = true;
}

const struct vigil_symtab_ent *vigil_symtab_find(const struct vigil_symtab *t, uint64_t addr)
{
	size_t lo = 0, hi = t->n;
	const struct vigil_symtab_ent *e;

	if (!t->n || addr < t->e[0].addr)
		return NULL;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->e[mid].addr <= addr)
			lo = mid;
		else
			hi = mid;
	}
	e = &t->e[lo];
	if (e->size && addr >= e->addr + e->size)
		return NULL;
	/* a size 0 symbol (assembly) reaches the next one, or 64 KiB at the end */
	if (!e->size && lo + 1 == t->n && addr - e->addr >= 65536)
		return NULL;
	return e;
}

void vigil_symtab_free(struct vigil_symtab *t)
{
	for (size_t i = 0; i < t->n; i++)
		free((char *)t->e[i].name);
	free(t->e);
	memset(t, 0, sizeof(*t));
}

int vigil_perfmap_parse(FILE *f, struct vigil_symtab *t)
{
	char line[4096];
	int n = 0;

	while (fgets(line, sizeof(line), f)) {
		unsigned long long start, size;
		int pos = 0;
		char *nl;

		if (sscanf(line, "%llx %llx %n", &start, &size, &pos) < 2 || !pos || !line[pos])
			continue;
		nl = strchr(line + pos, '\n');
		if (nl)
			*nl = 0;
		if (!line[pos])
			continue;
		if (vigil_symtab_add(t, start, size, line + pos))
			break;
		n++;
	}
	vigil_symtab_finish(t);
	return n;
}

void vigil_sym_format(const struct vigil_sym *s, char *buf, size_t n)
{
	if (s->name && s->kernel && s->module && strcmp(s->module, "vmlinux"))
		snprintf(buf, n, "%s [%s]", s->name, s->module);	/* a module's */
	else if (s->name)
		snprintf(buf, n, "%s", s->name);
	else if (s->module)
		snprintf(buf, n, "[%s]", s->module);
	else
		snprintf(buf, n, "[unknown]");
	/* the folded format splits frames at ';' and lines at '\n' */
	for (char *p = buf; *p; p++)
		if (*p == ';' || (unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '_';
}

/* ---- ELF files ---- */

struct sym_elf {
	uint64_t dev, ino;
	int fd;			/* held until its symbols are read: the file may go away */
	bool loaded;
	char *base;		/* base name, the module of its frames */
	struct vigil_seg *segs;
	size_t nsegs;
	struct vigil_symtab syms;
	bool is_dyn;
};

struct sym_map {
	uint64_t start, end, pgoff;
	struct sym_elf *elf;	/* NULL: anonymous (JIT) or special */
	const char *special;	/* "[vdso]", ... */
};

struct sym_proc {
	uint32_t pid;
	struct sym_map *maps;
	size_t n;
	struct vigil_symtab jit;
	time_t jit_mtime;
	bool jit_tried;
};

struct vigil_symbolizer {
	struct vigil_kallsyms *ks;
	bool ks_tried;
	struct sym_elf **elfs;
	size_t nelfs, elfcap;
	struct sym_proc *procs;
	size_t nprocs, proccap;
};

/* symbols of one section into t */
static void elf_syms(Elf *elf, Elf_Scn *scn, GElf_Shdr *sh, struct vigil_symtab *t)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	size_t n = sh->sh_entsize ? sh->sh_size / sh->sh_entsize : 0;

	for (size_t i = 0; d && i < n; i++) {
		GElf_Sym s;
		const char *name;
		int type;

		if (!gelf_getsym(d, i, &s))
			break;
		type = GELF_ST_TYPE(s.st_info);
		if ((type != STT_FUNC && type != STT_GNU_IFUNC) || !s.st_value ||
		    s.st_shndx == SHN_UNDEF)
			continue;
		name = elf_strptr(elf, sh->sh_link, s.st_name);
		if (!name || !*name)
			continue;
		if (vigil_symtab_add(t, s.st_value, s.st_size, name))
			return;
	}
}

/* read the symbol tables of elf; *has_symtab tells a full table from .dynsym */
static void elf_read_syms(Elf *elf, struct vigil_symtab *t, bool *has_symtab, char *buildid,
			  size_t bidlen, Elf_Scn **debugdata)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	*has_symtab = false;
	if (elf_getshdrstrndx(elf, &shstrndx))
		return;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *sname;

		if (!gelf_getshdr(scn, &sh))
			continue;
		sname = elf_strptr(elf, shstrndx, sh.sh_name);
		if (sh.sh_type == SHT_SYMTAB) {
			*has_symtab = true;
			elf_syms(elf, scn, &sh, t);
		} else if (sh.sh_type == SHT_DYNSYM) {
			elf_syms(elf, scn, &sh, t);
		} else if (sh.sh_type == SHT_NOTE && buildid) {
			Elf_Data *d = elf_getdata(scn, NULL);
			size_t off = 0, noff, doff;
			GElf_Nhdr nh;

			while (d && (off = gelf_getnote(d, off, &nh, &noff, &doff)) > 0) {
				if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
				    !memcmp((char *)d->d_buf + noff, "GNU", 4) && nh.n_descsz <= 64) {
					const unsigned char *b = (unsigned char *)d->d_buf + doff;

					for (size_t i = 0; i < nh.n_descsz && 2 * i + 2 < bidlen; i++)
						sprintf(buildid + 2 * i, "%02x", b[i]);
				}
			}
		} else if (debugdata && sname && !strcmp(sname, ".gnu_debugdata")) {
			*debugdata = scn;
		}
	}
}

/*
 * MiniDebugInfo: an xz-compressed ELF in .gnu_debugdata holding the .symtab
 * that stripping removed (Fedora's and others' binaries; Debian does not
 * ship it). Its symbols use the same addresses as the file's.
 */
static void vigil_sym_minidebuginfo(Elf *elf, Elf_Scn *scn, bool has_symtab, struct vigil_symtab *t)
{
	uint64_t memlimit = 256ull << 20;
	size_t inpos = 0, outpos = 0, cap;
	Elf_Data *d;
	uint8_t *buf;
	Elf *mini;
	bool full;

	if (!scn || has_symtab || !(d = elf_rawdata(scn, NULL)) || !d->d_size)
		return;
	cap = d->d_size * 8 < (64u << 20) ? d->d_size * 8 : (64u << 20);
	for (;;) {
		lzma_ret r;

		buf = malloc(cap);
		if (!buf)
			return;
		inpos = outpos = 0;
		r = lzma_stream_buffer_decode(&memlimit, 0, NULL, d->d_buf, &inpos, d->d_size, buf,
					      &outpos, cap);
		if (r == LZMA_OK || r == LZMA_STREAM_END)
			break;
		free(buf);
		if (r != LZMA_BUF_ERROR || cap >= (256u << 20))
			return;
		cap *= 2;
	}
	mini = elf_memory((char *)buf, outpos);
	if (mini) {
		elf_read_syms(mini, t, &full, NULL, 0, NULL);
		elf_end(mini);
	}
	free(buf);
}

static struct sym_elf *elf_open(const char *path, const char *shown, uint64_t dev, uint64_t ino)
{
	struct sym_elf *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->dev = dev;
	e->ino = ino;
	e->base = strdup(strrchr(shown, '/') ? strrchr(shown, '/') + 1 : shown);
	if (!e->base) {
		free(e);
		return NULL;
	}
	/* symbols are read when an address first needs them: most mapped files never do */
	e->fd = open(path, O_RDONLY | O_CLOEXEC);
	return e;
}

static void elf_load(struct sym_elf *e)
{
	char buildid[132] = "";
	Elf_Scn *debugdata = NULL;
	bool has_symtab;
	GElf_Ehdr eh;
	size_t nph;
	Elf *elf;

	e->loaded = true;
	if (e->fd < 0)
		return;		/* known by name: frames show its module */
	elf = elf_begin(e->fd, ELF_C_READ_MMAP, NULL);
	if (!elf || !gelf_getehdr(elf, &eh) || elf_getphdrnum(elf, &nph))
		goto out;
	e->is_dyn = eh.e_type == ET_DYN;
	e->segs = calloc(nph ? nph : 1, sizeof(*e->segs));
	for (size_t i = 0; e->segs && i < nph; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(elf, i, &ph) && ph.p_type == PT_LOAD)
			e->segs[e->nsegs++] = (struct vigil_seg){ ph.p_offset, ph.p_vaddr, ph.p_filesz };
	}
	elf_read_syms(elf, &e->syms, &has_symtab, buildid, sizeof(buildid), &debugdata);
	if (!has_symtab && buildid[0]) {
		/* Debian's -dbgsym packages: /usr/lib/debug/.build-id/xx/rest.debug */
		char dbg[256];
		int dfd;

		snprintf(dbg, sizeof(dbg), "/usr/lib/debug/.build-id/%.2s/%s.debug", buildid,
			 buildid + 2);
		dfd = open(dbg, O_RDONLY | O_CLOEXEC);
		if (dfd >= 0) {
			Elf *de = elf_begin(dfd, ELF_C_READ_MMAP, NULL);
			bool full;

			if (de) {
				elf_read_syms(de, &e->syms, &full, NULL, 0, NULL);
				elf_end(de);
				has_symtab = full;
			}
			close(dfd);
		}
	}
	vigil_sym_minidebuginfo(elf, debugdata, has_symtab, &e->syms);
out:
	vigil_symtab_finish(&e->syms);
	if (elf)
		elf_end(elf);
	close(e->fd);
	e->fd = -1;
}

static void elf_free(struct sym_elf *e)
{
	if (e->fd >= 0)
		close(e->fd);
	vigil_symtab_free(&e->syms);
	free(e->segs);
	free(e->base);
	free(e);
}

static struct sym_elf *elf_get(struct vigil_symbolizer *sy, const char *path, const char *shown,
			       uint64_t dev, uint64_t ino)
{
	struct sym_elf *e;

	for (size_t i = 0; i < sy->nelfs; i++)
		if (sy->elfs[i]->dev == dev && sy->elfs[i]->ino == ino &&
		    !strcmp(sy->elfs[i]->base, strrchr(shown, '/') ? strrchr(shown, '/') + 1 : shown))
			return sy->elfs[i];
	if (sy->nelfs == sy->elfcap) {
		size_t cap = sy->elfcap ? sy->elfcap * 2 : 64;
		struct sym_elf **p = realloc(sy->elfs, cap * sizeof(*p));

		if (!p)
			return NULL;
		sy->elfs = p;
		sy->elfcap = cap;
	}
	e = elf_open(path, shown, dev, ino);
	if (e)
		sy->elfs[sy->nelfs++] = e;
	return e;
}

/* ---- processes ---- */

struct vigil_symbolizer *vigil_sym_new(void)
{
	elf_version(EV_CURRENT);
	return calloc(1, sizeof(struct vigil_symbolizer));
}

static void proc_clear(struct sym_proc *p)
{
	free(p->maps);
	vigil_symtab_free(&p->jit);
}

void vigil_sym_free(struct vigil_symbolizer *sy)
{
	if (!sy)
		return;
	vigil_kallsyms_free(sy->ks);
	for (size_t i = 0; i < sy->nelfs; i++)
		elf_free(sy->elfs[i]);
	free(sy->elfs);
	for (size_t i = 0; i < sy->nprocs; i++)
		proc_clear(&sy->procs[i]);
	free(sy->procs);
	free(sy);
}

size_t vigil_sym_procs(const struct vigil_symbolizer *sy)
{
	return sy->nprocs;
}

static struct sym_proc *proc_find(struct vigil_symbolizer *sy, uint32_t pid)
{
	for (size_t i = 0; i < sy->nprocs; i++)
		if (sy->procs[i].pid == pid)
			return &sy->procs[i];
	return NULL;
}

int vigil_sym_proc_seen(struct vigil_symbolizer *sy, uint32_t pid)
{
	char path[64], line[4352];
	struct sym_map *maps = NULL;
	size_t n = 0, cap = 0;
	struct sym_proc *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		struct vigil_map_line m;
		struct sym_map *sm;

		if (vigil_maps_parse(line, &m) || !m.exec)
			continue;
		if (n == cap) {
			struct sym_map *q = realloc(maps, (cap = cap ? cap * 2 : 32) * sizeof(*q));

			if (!q)
				break;
			maps = q;
		}
		sm = &maps[n++];
		memset(sm, 0, sizeof(*sm));
		sm->start = m.start;
		sm->end = m.end;
		sm->pgoff = m.pgoff;
		if (m.path[0] == '/') {
			char file[64];
			char shown[4096];
			char *del;

			snprintf(shown, sizeof(shown), "%s", m.path);
			del = strstr(shown, " (deleted)");
			if (del && !del[10])
				*del = 0;
			/* the mapped file itself: other mount namespaces, deleted binaries */
			snprintf(file, sizeof(file), "/proc/%u/map_files/%llx-%llx", pid,
				 (unsigned long long)m.start, (unsigned long long)m.end);
			sm->elf = elf_get(sy, access(file, R_OK) ? shown : file, shown,
					  ((uint64_t)m.dev_major << 32) | m.dev_minor, m.inode);
		} else if (m.path[0] == '[') {
			sm->special = !strncmp(m.path, "[vdso]", 6) ? "[vdso]" :
				      !strncmp(m.path, "[vsyscall]", 10) ? "[vsyscall]" : "[anon]";
		}
	}
	fclose(f);
	if (!n) {
		free(maps);
		return -ENOENT;		/* exited meanwhile, or a kernel thread: keep what we had */
	}
	p = proc_find(sy, pid);
	if (!p && sy->nprocs >= VIGIL_SYM_MAX_PROCS) {
		/* bounded: the oldest snapshot of a process that is gone makes room */
		for (size_t i = 0; i < sy->nprocs; i++) {
			char d[32];

			snprintf(d, sizeof(d), "/proc/%u", sy->procs[i].pid);
			if (access(d, F_OK)) {
				proc_clear(&sy->procs[i]);
				memmove(&sy->procs[i], &sy->procs[i + 1],
					(sy->nprocs - i - 1) * sizeof(*sy->procs));
				sy->nprocs--;
				break;
			}
		}
		if (sy->nprocs >= VIGIL_SYM_MAX_PROCS) {
			free(maps);
			return -ENOSPC;
		}
	}
	if (p) {
		free(p->maps);
	} else {
		if (sy->nprocs == sy->proccap) {
			size_t pc = sy->proccap ? sy->proccap * 2 : 64;
			struct sym_proc *q = realloc(sy->procs, pc * sizeof(*q));

			if (!q) {
				free(maps);
				return -ENOMEM;
			}
			sy->procs = q;
			sy->proccap = pc;
		}
		p = &sy->procs[sy->nprocs++];
		memset(p, 0, sizeof(*p));
		p->pid = pid;
	}
	p->maps = maps;
	p->n = n;
	return 0;
}

static void proc_jit(struct sym_proc *p)
{
	char path[64];
	struct stat st;
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/perf-%u.map", p->pid);
	if (stat(path, &st)) {
		p->jit_tried = true;
		return;
	}
	if (p->jit_tried && st.st_mtime == p->jit_mtime)
		return;
	p->jit_tried = true;
	p->jit_mtime = st.st_mtime;
	f = fopen(path, "re");
	if (!f)
		return;
	vigil_symtab_free(&p->jit);
	vigil_perfmap_parse(f, &p->jit);
	fclose(f);
}

int vigil_sym_user(struct vigil_symbolizer *sy, uint32_t pid, uint64_t addr, struct vigil_sym *out)
{
	struct sym_proc *p = proc_find(sy, pid);

	memset(out, 0, sizeof(*out));
	if (!p && !vigil_sym_proc_seen(sy, pid))
		p = proc_find(sy, pid);
	if (!p)
		return -1;
	for (size_t i = 0; i < p->n; i++) {
		const struct sym_map *m = &p->maps[i];
		const struct vigil_symtab_ent *e;
		uint64_t vaddr;

		if (addr < m->start || addr >= m->end)
			continue;
		if (m->elf) {
			if (!m->elf->loaded)
				elf_load(m->elf);
			out->module = m->elf->base;
			out->off = addr - m->start + m->pgoff;
			if (vigil_seg_vaddr(m->elf->segs, m->elf->nsegs, out->off, &vaddr))
				return 1;
			e = vigil_symtab_find(&m->elf->syms, vaddr);
			if (!e)
				return 1;
			out->name = e->name;
			out->off = vaddr - e->addr;
			return 0;
		}
		if (m->special && strcmp(m->special, "[anon]")) {
			out->module = m->special;
			out->off = addr - m->start;
			return 1;
		}
		break;	/* anonymous executable memory: a JIT's */
	}
	proc_jit(p);
	const struct vigil_symtab_ent *e = vigil_symtab_find(&p->jit, addr);

	if (!e)
		return -1;
	out->name = e->name;
	out->module = "[jit]";
	out->off = addr - e->addr;
	return 0;
}

int vigil_sym_kernel(struct vigil_symbolizer *sy, uint64_t addr, struct vigil_sym *out)
{
	const char *mod;

	memset(out, 0, sizeof(*out));
	out->kernel = true;
	if (!sy->ks_tried) {
		sy->ks_tried = true;
		sy->ks = vigil_kallsyms_load(NULL);
		if (!sy->ks)
			vigil_debug("cannot read '/proc/kallsyms': %s", strerror(errno));
	}
	out->name = vigil_kallsyms_find(sy->ks, addr, &out->off, &mod);
	if (!out->name)
		return -1;
	out->module = mod[0] ? mod : "vmlinux";
	return 0;
}
