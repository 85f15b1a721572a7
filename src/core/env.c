// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "core/vigil.h"
#include "core/env.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

bool vigil_has_cap(int cap)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = {};

	if (syscall(SYS_capget, &h, d))
		return false;
	return d[cap / 32].effective & (1u << (cap % 32));
}

int vigil_env_check_privileges(void)
{
	if (vigil_has_cap(CAP_SYS_ADMIN))
		return 0;
	if (vigil_has_cap(CAP_BPF) && vigil_has_cap(CAP_PERFMON))
		return 0;
	vigil_error("permission denied: loading BPF programs needs root, or CAP_BPF and "
		    "CAP_PERFMON (plus CAP_NET_ADMIN for network attachments); run as root or with sudo");
	return VIGIL_EXIT_UNSUPPORTED;
}

int vigil_env_check_btf(void)
{
	if (access(VIGIL_BTF_PATH, R_OK) == 0)
		return 0;
	vigil_error("kernel BTF not found at '%s': %s; vigil needs a kernel built with "
		    "CONFIG_DEBUG_INFO_BTF=y (most distribution kernels since 5.4 have it)",
		    VIGIL_BTF_PATH, strerror(errno));
	return VIGIL_EXIT_UNSUPPORTED;
}

int vigil_find_mount(const char *fstype, char *buf, size_t n)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	int ret = -1;

	if (!f)
		return -1;
	/* 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw */
	while (fgets(line, sizeof(line), f)) {
		char mnt[PATH_MAX], type[64];
		char *sep = strstr(line, " - ");

		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1)
			continue;
		if (sscanf(sep + 3, "%63s", type) != 1 || strcmp(type, fstype))
			continue;
		snprintf(buf, n, "%s", mnt);
		ret = 0;
		break;
	}
	fclose(f);
	return ret;
}

static bool is_fs(const char *path, long magic)
{
	struct statfs s;

	return statfs(path, &s) == 0 && s.f_type == magic;
}

const char *vigil_tracefs_path(void)
{
	static char path[PATH_MAX];
	char probe[PATH_MAX + 16];

	if (is_fs("/sys/kernel/tracing", TRACEFS_MAGIC))
		return "/sys/kernel/tracing";
	if (vigil_find_mount("tracefs", path, sizeof(path)) == 0) {
		snprintf(probe, sizeof(probe), "%s/events", path);
		if (access(probe, F_OK) == 0)
			return path;
	}
	return NULL;
}

const char *vigil_cgroup2_path(void)
{
	static char path[PATH_MAX];

	if (vigil_find_mount("cgroup2", path, sizeof(path)) == 0)
		return path;
	return NULL;
}

int vigil_tracefs_mount(void)
{
	if (vigil_tracefs_path())
		return 0;
	/* libbpf looks for tracepoint ids under /sys/kernel/tracing or debugfs */
	if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL))
		return -errno;
	vigil_debug("mounted tracefs at '/sys/kernel/tracing'");
	return 0;
}

int vigil_env_need_tracefs(void)
{
	int err = vigil_tracefs_mount();

	if (!err)
		return 0;
	vigil_error("tracefs is not mounted and mounting it failed: %s; run: "
		    "mount -t tracefs tracefs /sys/kernel/tracing", strerror(-err));
	return VIGIL_EXIT_UNSUPPORTED;
}

int vigil_env_need_bpffs(void)
{
	if (is_fs("/sys/fs/bpf", BPF_FS_MAGIC))
		return 0;
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") == 0) {
		vigil_debug("mounted bpffs at '/sys/fs/bpf'");
		return 0;
	}
	vigil_error("bpffs is not mounted at '/sys/fs/bpf' and mounting it failed: %s; run: "
		    "mount -t bpf bpf /sys/fs/bpf", strerror(errno));
	return VIGIL_EXIT_UNSUPPORTED;
}

int vigil_cgroup_open(const char *arg, int *fd, uint64_t *id, char *resolved, size_t n)
{
	const char *root = vigil_cgroup2_path();
	char path[PATH_MAX];
	struct stat st;

	if (!root) {
		vigil_error("cannot use --cgroup '%s': no cgroup v2 hierarchy is mounted "
			    "(mount -t cgroup2 none /sys/fs/cgroup)", arg);
		return VIGIL_EXIT_UNSUPPORTED;
	}
	if (arg[0] == '/' && (!strncmp(arg, root, strlen(root)) &&
			      (arg[strlen(root)] == '/' || !arg[strlen(root)])))
		snprintf(path, sizeof(path), "%s", arg);
	else
		snprintf(path, sizeof(path), "%s/%s", root, arg[0] == '/' ? arg + 1 : arg);
	*fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fd < 0 || fstat(*fd, &st)) {
		vigil_error("cannot open cgroup '%s' (as '%s'): %s", arg, path, strerror(errno));
		return VIGIL_EXIT_USAGE;
	}
	if (!is_fs(path, CGROUP2_SUPER_MAGIC)) {
		vigil_error("'%s' is not a cgroup v2 directory (cgroup2 is mounted at '%s')", path, root);
		close(*fd);
		return VIGIL_EXIT_USAGE;
	}
	*id = st.st_ino;
	if (resolved)
		snprintf(resolved, n, "%s", path);
	return 0;
}

int vigil_proc_start_ticks(uint32_t pid, uint64_t *ticks)
{
	char path[64], buf[1024], *p;
	unsigned long long v;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	/* comm may hold spaces and parentheses: fields start after the last ')' */
	p = strrchr(buf, ')');
	if (!p)
		return -EIO;
	p++;
	for (int field = 3; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p, " %llu", &v) != 1)
		return -EIO;
	*ticks = v;
	return 0;
}

int vigil_env_for(unsigned int flags)
{
	int err;

	if ((flags & VC_ROOT) && (err = vigil_env_check_privileges()))
		return err;
	if ((flags & VC_BTF) && (err = vigil_env_check_btf()))
		return err;
	if ((flags & VC_BPFFS) && (err = vigil_env_need_bpffs()))
		return err;
	return 0;
}
