// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Reading what the running kernel knows and exports no other way: its symbol
 * table (/proc/kallsyms) and, through a BPF program run once, its memory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "core/ksyms.h"
#include "core/syscalls.h"
#include "core/vigil.h"
#include "kread.skel.h"

static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return 0;
}

int vigil_kread(uint64_t addr, void *buf, size_t len)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	libbpf_print_fn_t old = NULL;
	struct kread_bpf *skel;
	int err;

	if (len > VIGIL_KREAD_MAX)
		return -E2BIG;
	/* a helper, not a command: its failures are the caller's to report */
	if (!vigil.verbose)
		old = libbpf_set_print(quiet_print);
	skel = kread_bpf__open();
	if (!skel) {
		err = -errno;
		goto out;
	}
	skel->rodata->kread_addr = addr;
	skel->rodata->kread_len = len;
	err = kread_bpf__load(skel);
	if (!err)
		err = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.kread), &opts);
	if (!err)
		err = skel->bss->kread_ret;
	if (!err)
		memcpy(buf, skel->bss->kread_buf, len);
out:
	kread_bpf__destroy(skel);
	if (!vigil.verbose)
		libbpf_set_print(old);
	return err;
}

void vigil_syscall_learn_kernel(void)
{
	uint64_t table = 0, bound = 0, *entries = NULL;
	struct vigil_ksym *syms = NULL;
	int nsyms = 0, cap = 0, n, err;
	char line[512], name[256];
	FILE *f;

	f = fopen("/proc/kallsyms", "re");
	if (!f) {
		vigil_debug("cannot read '/proc/kallsyms': %s", strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		unsigned long long addr;
		char type;

		if (sscanf(line, "%llx %c %255s", &addr, &type, name) != 3)
			continue;
		/* the table's end: the next symbol (vmlinux symbols come sorted) */
		if (table && !bound && addr > table)
			bound = addr;
		if (!strcmp(name, "sys_call_table")) {
			table = addr;
			continue;
		}
		if (strncmp(name, "__x64_sys_", 10) || strchr(line, '['))
			continue;
		if (nsyms == cap) {
			struct vigil_ksym *s = realloc(syms, (cap = cap ? cap * 2 : 512) * sizeof(*s));

			if (!s)
				goto out;
			syms = s;
		}
		syms[nsyms].addr = addr;
		if (!(syms[nsyms].name = strdup(name)))
			goto out;
		nsyms++;
	}
	if (!table) {
		/* zero addresses too: kptr_restrict hides them from the unprivileged */
		vigil_debug("no 'sys_call_table' in /proc/kallsyms: syscall names stop at %d",
			    vigil_syscall_count());
		goto out;
	}
	n = VIGIL_KREAD_MAX / 8;
	if (bound && (bound - table) / 8 < (uint64_t)n)
		n = (bound - table) / 8;
	entries = calloc(n, 8);
	if (!entries)
		goto out;
	err = vigil_kread(table, entries, n * 8);
	if (err) {
		vigil_debug("cannot read the kernel's syscall table: %s", strerror(-err));
		goto out;
	}
	n = vigil_syscall_learn(entries, n, syms, nsyms);
	vigil_debug("learned %d syscall names from the running kernel", n);
out:
	fclose(f);
	for (int i = 0; i < nsyms; i++)
		free((char *)syms[i].name);
	free(syms);
	free(entries);
}

/* ---- /proc/kallsyms for naming addresses ---- */

struct kallsym {
	uint64_t addr;
	const char *name;	/* into the string pool */
	const char *module;
};

struct vigil_kallsyms {
	struct kallsym *s;
	size_t n, cap;
	char **pool;		/* one block per module name and per name, freed together */
	size_t npool, poolcap;
};

static const char *ks_keep(struct vigil_kallsyms *ks, const char *str)
{
	char *d;

	if (ks->npool == ks->poolcap) {
		size_t cap = ks->poolcap ? ks->poolcap * 2 : 1024;
		char **p = realloc(ks->pool, cap * sizeof(*p));

		if (!p)
			return NULL;
		ks->pool = p;
		ks->poolcap = cap;
	}
	d = strdup(str);
	if (d)
		ks->pool[ks->npool++] = d;
	return d;
}

static int ks_cmp(const void *a, const void *b)
{
	const struct kallsym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

struct vigil_kallsyms *vigil_kallsyms_parse(FILE *f)
{
	struct vigil_kallsyms *ks = calloc(1, sizeof(*ks));
	char line[512], name[256], mod[128], lastmod[128] = "";
	const char *modp = "";

	if (!ks)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long addr;
		char type;
		int k;

		mod[0] = 0;
		k = sscanf(line, "%llx %c %255s [%127[^]]]", &addr, &type, name, mod);
		if (k < 3 || !addr)
			continue;
		/* text only: t/T, and weak text (w/W) that the kernel also lists */
		if (type != 't' && type != 'T' && type != 'w' && type != 'W')
			continue;
		if (strcmp(mod, lastmod)) {
			snprintf(lastmod, sizeof(lastmod), "%s", mod);
			modp = mod[0] ? ks_keep(ks, mod) : "";
			if (!modp)
				goto fail;
		}
		if (ks->n == ks->cap) {
			size_t cap = ks->cap ? ks->cap * 2 : 65536;
			struct kallsym *s = realloc(ks->s, cap * sizeof(*s));

			if (!s)
				goto fail;
			ks->s = s;
			ks->cap = cap;
		}
		ks->s[ks->n].addr = addr;
		ks->s[ks->n].module = modp;
		if (!(ks->s[ks->n].name = ks_keep(ks, name)))
			goto fail;
		ks->n++;
	}
	qsort(ks->s, ks->n, sizeof(*ks->s), ks_cmp);
	return ks;
fail:
	vigil_kallsyms_free(ks);
	errno = ENOMEM;
	return NULL;
}

struct vigil_kallsyms *vigil_kallsyms_load(const char *path)
{
	FILE *f = fopen(path ? path : "/proc/kallsyms", "re");
	struct vigil_kallsyms *ks;

	if (!f)
		return NULL;
	ks = vigil_kallsyms_parse(f);
	fclose(f);
	return ks;
}

void vigil_kallsyms_free(struct vigil_kallsyms *ks)
{
	if (!ks)
		return;
	for (size_t i = 0; i < ks->npool; i++)
		free(ks->pool[i]);
	free(ks->pool);
	free(ks->s);
	free(ks);
}

size_t vigil_kallsyms_count(const struct vigil_kallsyms *ks)
{
	return ks ? ks->n : 0;
}

const char *vigil_kallsyms_find(const struct vigil_kallsyms *ks, uint64_t addr, uint64_t *off,
				const char **module)
{
	size_t lo = 0, hi;

	if (!ks || !ks->n || addr < ks->s[0].addr)
		return NULL;
	hi = ks->n;
	/* the last symbol at or below addr */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (ks->s[mid].addr <= addr)
			lo = mid;
		else
			hi = mid;
	}
	if (off)
		*off = addr - ks->s[lo].addr;
	if (module)
		*module = ks->s[lo].module;
	return ks->s[lo].name;
}
