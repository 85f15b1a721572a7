/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The x86_64 syscall name table. The table itself is generated at build
 * time from the kernel's syscall list (asm/unistd_64.h, see the Makefile);
 * this is the lookup around it, pure logic with unit tests.
 */
#ifndef VIGIL_SYSCALLS_H
#define VIGIL_SYSCALLS_H

#include <stddef.h>
#include <stdint.h>

/*
 * The kernel may be newer than the headers the table was generated from.
 * The first time a number or name the table lacks is asked for, this learner
 * (if set) reads the running kernel's own syscall table, once. The binary sets
 * it to vigil_syscall_learn_kernel (core/ksyms.c); unit tests leave it NULL.
 */
extern void (*vigil_syscall_learner)(void);

/* A kernel symbol, as listed in /proc/kallsyms. */
struct vigil_ksym {
	uint64_t addr;
	const char *name;
};

/*
 * Name the numbers the generated table lacks from the running kernel's
 * syscall table (one handler address per number) and its __x64_sys_*
 * symbols. Returns how many numbers got a name.
 */
int vigil_syscall_learn(const uint64_t *table, int n, const struct vigil_ksym *syms, int nsyms);

/* One past the highest syscall number in the generated table. */
int vigil_syscall_count(void);
/* 39 -> "getppid"; NULL for a number neither the table nor the kernel names */
const char *vigil_syscall_name(int nr);
/* like vigil_syscall_name, but never NULL: unknown numbers become "syscall_451" */
const char *vigil_syscall_label(int nr, char *buf, size_t n);
/* "getppid" or "39" -> 39; -1 if unknown */
int vigil_syscall_nr(const char *name);
/*
 * Up to max known names close to an unknown one (typos, missing prefixes or
 * suffixes), best first. Returns how many were stored in out.
 */
int vigil_syscall_suggest(const char *name, const char **out, int max);
/* Levenshtein distance, for the suggestions above */
unsigned int vigil_edit_distance(const char *a, const char *b);

/*
 * Which argument of a syscall deserves decoding in stream mode: a path
 * (open, execve, stat family...) or a socket address (connect, bind).
 */
enum vigil_sc_arg_kind { VIGIL_SC_ARG_NONE, VIGIL_SC_ARG_PATH, VIGIL_SC_ARG_SOCKADDR };
enum vigil_sc_arg_kind vigil_syscall_decoded_arg(int nr, int *arg);

#endif
