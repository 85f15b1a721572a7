/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* What the running kernel knows: its symbols and, through BPF, its memory. */
#ifndef VIGIL_KSYMS_H
#define VIGIL_KSYMS_H

#include <stddef.h>
#include <stdint.h>

/* Copy len (<= VIGIL_KREAD_MAX) bytes of kernel memory at addr; 0 or -errno. */
int vigil_kread(uint64_t addr, void *buf, size_t len);
/* The learner of core/syscalls.h: names syscalls newer than the generated table. */
void vigil_syscall_learn_kernel(void);

#endif
