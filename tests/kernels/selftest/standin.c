// SPDX-License-Identifier: GPL-2.0
// standin: a static libbpf program used to prove the kernel-matrix harness end to end.
// Usage: standin MECH   (MECH is tp, kprobe, fentry or lsm)
// Loads and attaches the one program for MECH, drives it, and prints one JSON line:
//   {"mech":"tp","loaded":true,"attached":true,"hits":10,"error":""}
// Exit codes: 0 the program ran (hits > 0), 1 it loaded but never ran or failed, 2 usage,
// 3 the kernel refused to load or attach it (the mechanism is unavailable here).
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <bpf/libbpf.h>
#include "standin.skel.h"

static int quiet(enum libbpf_print_level l, const char *f, va_list a) { (void)l; (void)f; (void)a; return 0; }

int main(int argc, char **argv)
{
	const char *mech = argc == 2 ? argv[1] : "";
	struct standin_bpf *s = NULL;
	struct bpf_program *want = NULL, *p;
	struct bpf_link *link = NULL;
	int loaded = 0, attached = 0, rc = 3, err;
	unsigned long long hits = 0;
	char msg[128] = "";

	libbpf_set_print(quiet);
	s = standin_bpf__open();
	if (!s) {
		fprintf(stderr, "standin: cannot open skeleton: %s\n", strerror(errno));
		return 1;
	}
	if (!strcmp(mech, "tp")) want = s->progs.tp_getppid;
	else if (!strcmp(mech, "kprobe")) want = s->progs.kp_getppid;
	else if (!strcmp(mech, "fentry")) want = s->progs.fe_file_open;
	else if (!strcmp(mech, "lsm")) want = s->progs.lsm_file_open;
	else {
		fprintf(stderr, "usage: standin tp|kprobe|fentry|lsm\n");
		standin_bpf__destroy(s);
		return 2;
	}
	bpf_object__for_each_program(p, s->obj)
		bpf_program__set_autoload(p, p == want);
	s->rodata->target_tgid = getpid();
	err = standin_bpf__load(s);
	if (err) {
		snprintf(msg, sizeof(msg), "load: %s", strerror(-err));
		goto out;
	}
	loaded = 1;
	link = bpf_program__attach(want);
	if (!link) {
		snprintf(msg, sizeof(msg), "attach: %s", strerror(errno));
		goto out;
	}
	attached = 1;
	for (int i = 0; i < 10; i++) {
		syscall(SYS_getppid);
		int fd = open("/proc/self/stat", O_RDONLY);
		if (fd >= 0)
			close(fd);
	}
	hits = !strcmp(mech, "tp") ? s->bss->hits_tp : !strcmp(mech, "kprobe") ? s->bss->hits_kprobe :
	       !strcmp(mech, "fentry") ? s->bss->hits_fentry : s->bss->hits_lsm;
	rc = hits ? 0 : 1;
	if (!hits)
		snprintf(msg, sizeof(msg), "attached but never ran");
out:
	printf("{\"mech\":\"%s\",\"loaded\":%s,\"attached\":%s,\"hits\":%llu,\"error\":\"%s\"}\n", mech,
	       loaded ? "true" : "false", attached ? "true" : "false", hits, msg);
	bpf_link__destroy(link);
	standin_bpf__destroy(s);
	return rc;
}
