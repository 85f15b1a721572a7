/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The x86_64 syscall name table. The table itself is generated at build
 * time from the kernel's syscall list (asm/unistd_64.h, see the Makefile);
 * this is the lookup around it, pure logic with unit tests.
 */
#ifndef VIGIL_SYSCALLS_H
#define VIGIL_SYSCALLS_H

#include <stddef.h>

/* One past the highest syscall number in the generated table. */
int vigil_syscall_count(void);
/* 39 -> "getppid"; NULL for a number the table does not know */
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
