/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* Host environment: privileges, BTF, pseudo filesystems, cgroup v2. */
#ifndef VIGIL_ENV_H
#define VIGIL_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VIGIL_BTF_PATH "/sys/kernel/btf/vmlinux"

/* Each returns 0, or prints an actionable error and returns a vigil exit code. */
int vigil_env_check_privileges(void);
/* what a command's flags (VC_ROOT, VC_BTF, VC_BPFFS) need, checked once */
int vigil_env_for(unsigned int cmd_flags);
int vigil_env_check_btf(void);
int vigil_env_need_tracefs(void);	/* mounts it when missing */
int vigil_tracefs_mount(void);		/* the same without a message: 0 or -errno */
int vigil_env_need_bpffs(void);		/* mounts it when missing */
/* vigil's persistent state in bpffs: one directory per feature below it. Whoever removes
 * the last one removes this too (rmdir: it fails while another feature's is there). */
#define VIGIL_PIN_ROOT "/sys/fs/bpf/vigil"

/* Where a filesystem of this type is mounted, from /proc/self/mountinfo. */
int vigil_find_mount(const char *fstype, char *buf, size_t n);
const char *vigil_tracefs_path(void);	/* NULL when not mounted */
const char *vigil_cgroup2_path(void);	/* NULL when cgroup v2 is not mounted */
bool vigil_has_cap(int cap);
/* a process's start time in clock ticks since boot (/proc/PID/stat field 22) */
int vigil_proc_start_ticks(uint32_t pid, uint64_t *ticks);

/*
 * Resolve a --cgroup argument: an absolute directory inside the cgroup2
 * mount, or a path relative to it. Opens it and returns its id (inode).
 */
int vigil_cgroup_open(const char *arg, int *fd, uint64_t *id, char *resolved, size_t n);

#endif
