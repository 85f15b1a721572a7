// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Security-relevant activity of known shape for tests/e2e/test_security.py:
 * one operation per run, its result as one "key=value ..." line on stdout.
 *
 *   sec_ops setuid UID          setuid(UID)
 *   sec_ops regain              drop the effective uid to 65534 keeping saved uid 0,
 *                               then take root back: a drop and a gain
 *   sec_ops ids                 print uid/euid (as a set-uid copy, who it runs as)
 *   sec_ops capcheck N          drop CAP_SYS_ADMIN from the effective set, then N
 *                               sethostname() calls: N denied CAP_SYS_ADMIN checks
 *   sec_ops ptrace attach|seize fork a child, attach to it, detach; then one
 *                               process_vm_writev into it
 *   sec_ops bpf NAME            load a two-instruction socket filter NAME and create
 *                               an array map NAME
 *   sec_ops memfd               memfd_create + fexecve of /bin/true
 *   sec_ops deleted DIR         copy /bin/true to DIR, unlink it, exec it by fd
 *   sec_ops finit               finit_module(-1): EBADF, or ENOSYS without modules
 *   sec_ops spin N              N getppid() calls (the bench's syscall-heavy load)
 *   sec_ops setuids N           N setuid(getuid()) calls (hooked calls, for the bench)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile long target_word = 1;

static int copy_true(int out)
{
	int in = open("/bin/true", O_RDONLY);
	struct stat st;

	if (in < 0 || fstat(in, &st) || sendfile(out, in, NULL, st.st_size) != st.st_size)
		return -1;
	close(in);
	return 0;
}

static int do_capcheck(long n)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	long denied = 0;

	if (syscall(SYS_capget, &h, d))
		return 1;
	d[CAP_SYS_ADMIN / 32].effective &= ~(1u << (CAP_SYS_ADMIN % 32));
	if (syscall(SYS_capset, &h, d))
		return 1;
	for (long i = 0; i < n; i++)
		if (sethostname("vigil-never", 11) && errno == EPERM)
			denied++;
	printf("pid=%d denied=%ld\n", getpid(), denied);
	return denied == n ? 0 : 1;
}

static int do_ptrace(const char *how)
{
	long v = 42;
	struct iovec local = { &v, sizeof(v) }, remote = { (void *)&target_word, sizeof(v) };
	pid_t child = fork();
	long r;
	int st;

	if (child == 0) {
		for (;;)
			pause();
	}
	if (!strcmp(how, "seize")) {
		r = ptrace(PTRACE_SEIZE, child, 0, 0);
		if (r == 0) {
			ptrace(PTRACE_INTERRUPT, child, 0, 0);
			waitpid(child, &st, 0);
		}
	} else {
		r = ptrace(PTRACE_ATTACH, child, 0, 0);
		if (r == 0)
			waitpid(child, &st, 0);
	}
	if (r == 0)
		ptrace(PTRACE_DETACH, child, 0, 0);
	long w = process_vm_writev(child, &local, 1, &remote, 1, 0);
	printf("tracer=%d target=%d ptrace=%ld writev=%ld\n", getpid(), child, r, w);
	kill(child, SIGKILL);
	waitpid(child, &st, 0);
	return r == 0 && w == sizeof(v) ? 0 : 1;
}

static int do_bpf(const char *name)
{
	struct bpf_insn insns[2] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr a;
	int prog, map;

	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	a.insns = (uintptr_t)insns;
	a.insn_cnt = 2;
	a.license = (uintptr_t)"GPL";
	strncpy(a.prog_name, name, sizeof(a.prog_name) - 1);
	prog = syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof(a));
	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_ARRAY;
	a.key_size = 4;
	a.value_size = 8;
	a.max_entries = 1;
	strncpy(a.map_name, name, sizeof(a.map_name) - 1);
	map = syscall(SYS_bpf, BPF_MAP_CREATE, &a, sizeof(a));
	printf("pid=%d prog_fd=%d map_fd=%d\n", getpid(), prog, map);
	return prog >= 0 && map >= 0 ? 0 : 1;
}

static int exec_fd(int fd)
{
	char *argv[] = { "true", NULL }, *envp[] = { NULL };

	printf("pid=%d\n", getpid());
	fflush(stdout);
	syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
	perror("execveat");
	return 1;
}

static int do_memfd(void)
{
	int fd = memfd_create("vigil-fileless", MFD_CLOEXEC), ro;
	char path[64];

	if (fd < 0 || copy_true(fd))
		return 1;
	/* exec refuses a file open for writing: a read-only fd, the writer closed */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ro = open(path, O_RDONLY);
	close(fd);
	return ro < 0 ? 1 : exec_fd(ro);
}

static int do_deleted(const char *dir)
{
	char path[4096];
	int fd, ro;

	snprintf(path, sizeof(path), "%s/vigil-deleted-%d", dir, getpid());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	if (fd < 0 || copy_true(fd))
		return 1;
	close(fd);
	ro = open(path, O_RDONLY);
	if (ro < 0 || unlink(path))
		return 1;
	return exec_fd(ro);
}

int main(int argc, char **argv)
{
	const char *op = argc > 1 ? argv[1] : "";

	/*
	 * A static stdout buffer: no allocation after capcheck drops CAP_SYS_ADMIN, whose
	 * memory accounting (cap_vm_enough_memory) would add a denied check of its own.
	 */
	static char outbuf[4096];

	setvbuf(stdout, outbuf, _IOLBF, sizeof(outbuf));
	if (!strcmp(op, "setuid") && argc > 2) {
		int r = setuid(atoi(argv[2]));

		printf("pid=%d ret=%d errno=%d\n", getpid(), r, r ? errno : 0);
		return 0;
	}
	if (!strcmp(op, "regain")) {
		int a = setresuid(-1, 65534, 0), b = setresuid(-1, 0, -1);

		printf("pid=%d drop=%d regain=%d euid=%d\n", getpid(), a, b, geteuid());
		return a || b;
	}
	if (!strcmp(op, "ids")) {
		printf("pid=%d uid=%d euid=%d\n", getpid(), getuid(), geteuid());
		return 0;
	}
	if (!strcmp(op, "capcheck") && argc > 2)
		return do_capcheck(atol(argv[2]));
	if (!strcmp(op, "ptrace") && argc > 2)
		return do_ptrace(argv[2]);
	if (!strcmp(op, "bpf") && argc > 2)
		return do_bpf(argv[2]);
	if (!strcmp(op, "memfd"))
		return do_memfd();
	if (!strcmp(op, "deleted") && argc > 2)
		return do_deleted(argv[2]);
	if (!strcmp(op, "finit")) {
		long r = syscall(SYS_finit_module, -1, "", 0);

		printf("pid=%d ret=%ld errno=%d\n", getpid(), r, r ? errno : 0);
		return 0;
	}
	if (!strcmp(op, "spin") && argc > 2) {
		long n = atol(argv[2]);

		for (long i = 0; i < n; i++)
			syscall(SYS_getppid);
		return 0;
	}
	if (!strcmp(op, "setuids") && argc > 2) {
		long n = atol(argv[2]);
		uid_t me = getuid();

		for (long i = 0; i < n; i++)
			if (setuid(me))
				return 1;
		return 0;
	}
	fprintf(stderr, "usage: sec_ops setuid UID | ids | capcheck N | ptrace attach|seize | "
		"bpf NAME | memfd | deleted DIR | finit | spin N | setuids N\n");
	return 2;
}
