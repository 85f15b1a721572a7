/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* Symbolic names for numbers the kernel hands us. */
#ifndef VIGIL_NAMES_H
#define VIGIL_NAMES_H

const char *vigil_errno_name(int err);		/* 2 -> "ENOENT"; unknown -> "E123" */
int vigil_errno_parse(const char *name);	/* "ENOENT" or "2" -> 2; -1 if unknown */
const char *vigil_signal_name(int sig);		/* 9 -> "SIGKILL"; unknown -> "SIG70" */

#endif
