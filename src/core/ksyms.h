/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* What the running kernel knows: its symbols and, through BPF, its memory. */
#ifndef VIGIL_KSYMS_H
#define VIGIL_KSYMS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Copy len (<= VIGIL_KREAD_MAX) bytes of kernel memory at addr; 0 or -errno. */
int vigil_kread(uint64_t addr, void *buf, size_t len);
/* The learner of core/syscalls.h: names syscalls newer than the generated table. */
void vigil_syscall_learn_kernel(void);

/*
 * The kernel's symbol table for naming addresses (profile stacks): text
 * symbols of /proc/kallsyms sorted by address, with the module of each.
 */
struct vigil_kallsyms;
/* NULL with errno set; path NULL: /proc/kallsyms */
struct vigil_kallsyms *vigil_kallsyms_load(const char *path);
/* the lines of f (the /proc/kallsyms format) */
struct vigil_kallsyms *vigil_kallsyms_parse(FILE *f);
void vigil_kallsyms_free(struct vigil_kallsyms *ks);
size_t vigil_kallsyms_count(const struct vigil_kallsyms *ks);
/* the symbol addr is in: its name, and its module ("" for vmlinux) and the
 * offset into it; NULL below the first symbol or when addresses are hidden */
const char *vigil_kallsyms_find(const struct vigil_kallsyms *ks, uint64_t addr, uint64_t *off,
				const char **module);

#endif
