/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The symbolizer: kernel and user addresses -> function names.
 *
 * Kernel addresses through /proc/kallsyms (core/ksyms.h), with module
 * names. User addresses through a snapshot of the process's executable
 * mappings (/proc/PID/maps), each file's ELF symbols (.symtab, else
 * .dynsym plus a build-id debug file under /usr/lib/debug, else
 * .gnu_debugdata), and /tmp/perf-PID.map for JIT code. A snapshot is kept
 * after the process exits, so take it while the process lives
 * (vigil_sym_proc_seen() when it is first seen); the ELF files are read at
 * snapshot time through /proc/PID/map_files, so a process in another mount
 * namespace, or one whose binary was deleted, is named too.
 *
 * All state is in struct vigil_symbolizer: one per feature instance.
 * Reader: libelf (docs/architecture.md says why not libdw).
 */
#ifndef VIGIL_SYM_H
#define VIGIL_SYM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct vigil_symbolizer;

/* one named address */
struct vigil_sym {
	const char *name;	/* function, or NULL when only the module is known */
	const char *module;	/* "vmlinux", a kernel module, a file's base name,
				   "[vdso]", "[jit]"; NULL when nothing maps addr */
	uint64_t off;		/* addr - the symbol's start (or the module's) */
	bool kernel;
};

struct vigil_symbolizer *vigil_sym_new(void);
void vigil_sym_free(struct vigil_symbolizer *sy);
/* read pid's /proc/PID/maps and its files now; a failed read keeps an older
 * snapshot (the process exited). At most VIGIL_SYM_MAX_PROCS snapshots: the
 * oldest of a process that is gone makes room. 0 or -errno */
#define VIGIL_SYM_MAX_PROCS 4096
int vigil_sym_proc_seen(struct vigil_symbolizer *sy, uint32_t pid);
/* the snapshots held, and processes never snapshotted that a lookup missed */
size_t vigil_sym_procs(const struct vigil_symbolizer *sy);
/* name addr: 0 with a name, 1 with a module only, -1 with nothing */
int vigil_sym_kernel(struct vigil_symbolizer *sy, uint64_t addr, struct vigil_sym *out);
int vigil_sym_user(struct vigil_symbolizer *sy, uint32_t pid, uint64_t addr, struct vigil_sym *out);
/* a frame as folded stacks and flame graphs show it: the name ("name [mod]"
 * for a kernel module's), else "[module]", else "[unknown]"; ';' and control
 * bytes become '_' */
void vigil_sym_format(const struct vigil_sym *s, char *buf, size_t n);

/* ---- the pure parts, for unit tests ---- */

/* one line of /proc/PID/maps */
struct vigil_map_line {
	uint64_t start, end, pgoff, inode;
	unsigned int dev_major, dev_minor;
	bool exec;
	const char *path;	/* into the line: "" for anonymous memory */
};
/* parse line (modified: the path is cut at its newline); 0 or -1 */
int vigil_maps_parse(char *line, struct vigil_map_line *m);

/* a loadable segment of an ELF file */
struct vigil_seg {
	uint64_t off, vaddr, filesz;
};
/* file offset -> the ELF's virtual address (what its symbols use); -1 when
 * no segment holds it */
int vigil_seg_vaddr(const struct vigil_seg *segs, size_t n, uint64_t off, uint64_t *vaddr);

/* a sorted symbol table */
struct vigil_symtab_ent {
	uint64_t addr, size;
	const char *name;
};
struct vigil_symtab {
	struct vigil_symtab_ent *e;
	size_t n, cap;
	bool sorted;
};
/* add a symbol (the name is copied) */
int vigil_symtab_add(struct vigil_symtab *t, uint64_t addr, uint64_t size, const char *name);
/* sort and drop duplicates; call after the adds */
void vigil_symtab_finish(struct vigil_symtab *t);
/* the symbol holding addr: size 0 symbols reach the next symbol */
const struct vigil_symtab_ent *vigil_symtab_find(const struct vigil_symtab *t, uint64_t addr);
void vigil_symtab_free(struct vigil_symtab *t);
/* a JIT's /tmp/perf-PID.map ("START SIZE name", hex) into t; the count read */
int vigil_perfmap_parse(FILE *f, struct vigil_symtab *t);

#endif
