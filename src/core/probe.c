// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Feature probing: is a mechanism really usable here? Each probe loads,
 * attaches and triggers a tiny program, and "works" means the program ran.
 * doctor reports all of them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/perf_event.h>
#include <net/if.h>
#include <dirent.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "core/vigil.h"
#include "core/env.h"
#include "core/out.h"
#include "core/probe.h"
#include "probe.skel.h"

struct probe_ctx {
	struct probe_bpf *skel;
	struct bpf_program *prog;
	struct bpf_link *link;
	int fd;
	bool tc_created;
	struct bpf_tc_hook tc_hook;
};

struct probe {
	enum vigil_mech mech;
	const char *prog;
	int (*attach)(struct probe_ctx *c);	/* NULL: bpf_program__attach() */
	void (*detach)(struct probe_ctx *c);
	int (*trigger)(struct probe_ctx *c);	/* returns 0, or -errno when it could not */
	bool netns;	/* on the 'lo' of a private network namespace */
};

/* ---- triggers ---- */

static int trig_getppid(struct probe_ctx *c)
{
	for (int i = 0; i < 3; i++)
		syscall(SYS_getppid);
	return 0;
}

static int trig_udp_lo(struct probe_ctx *c)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(9),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	for (int i = 0; i < 3; i++)
		sendto(fd, "vigil", 5, 0, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	/* generic XDP and TC ingress on lo run in softirq: let it happen */
	usleep(20000);
	return 0;
}

static int trig_read(struct probe_ctx *c)
{
	char buf[256];
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	for (int i = 0; i < 3; i++)
		pread(fd, buf, sizeof(buf), 0);
	close(fd);
	return 0;
}

static int trig_spin(struct probe_ctx *c)
{
	uint64_t end = vigil_mono_ns() + 50000000ull;
	volatile uint64_t x = 0;

	while (vigil_mono_ns() < end)
		x++;
	return 0;
}

__attribute__((noinline)) int vigil_probe_uprobe_target(int x)
{
	/* keep the call and the function: the uprobe needs both */
	__asm__ volatile("" : "+r"(x));
	return x + 1;
}

static int trig_uprobe(struct probe_ctx *c)
{
	for (int i = 0; i < 3; i++)
		vigil_probe_uprobe_target(i);
	return 0;
}

/* the program is attached to our own cgroup: our socket is what it sees */
static int trig_cgroup(struct probe_ctx *c)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* a child execs; the program must kill it with SIGKILL at exec */
static int trig_send_signal(struct probe_ctx *c)
{
	int pfd[2], status;
	pid_t pid;
	char go;

	if (pipe2(pfd, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		close(pfd[1]);
		if (read(pfd[0], &go, 1) != 1)
			_exit(1);
		if (null >= 0)
			dup2(null, 1);
		execl("/proc/self/exe", "vigil", "--version", (char *)NULL);
		_exit(127);
	}
	close(pfd[0]);
	c->skel->bss->victim_tgid = pid;
	if (write(pfd[1], "g", 1) != 1) {
		close(pfd[1]);
		kill(pid, SIGKILL);
	}
	close(pfd[1]);
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	c->skel->bss->victim_tgid = 0;
	/* hits are counted by the program; the kill itself is what we check */
	if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
		c->skel->bss->hits[VIGIL_M_SEND_SIGNAL] = 0;
	return 0;
}

/* ---- attachments that need more than bpf_program__attach() ---- */

static int attach_xdp(struct probe_ctx *c)
{
	c->link = bpf_program__attach_xdp(c->prog, if_nametoindex("lo"));
	return c->link ? 0 : -errno;
}

static int attach_tc(struct probe_ctx *c)
{
	LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = bpf_program__fd(c->prog),
		    .handle = 0x76696, .priority = 1);
	int err;

	memset(&c->tc_hook, 0, sizeof(c->tc_hook));
	c->tc_hook.sz = sizeof(c->tc_hook);
	c->tc_hook.ifindex = if_nametoindex("lo");
	c->tc_hook.attach_point = BPF_TC_INGRESS;
	err = bpf_tc_hook_create(&c->tc_hook);
	if (err && err != -EEXIST)
		return err;
	/* only remove the clsact qdisc if we made it */
	c->tc_created = !err;
	err = bpf_tc_attach(&c->tc_hook, &opts);
	c->fd = err ? -1 : 1;
	return err;
}

static void detach_tc(struct probe_ctx *c)
{
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 0x76696, .priority = 1);

	if (c->fd > 0)
		bpf_tc_detach(&c->tc_hook, &opts);
	if (c->tc_created) {
		c->tc_hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&c->tc_hook);
	}
	c->fd = -1;
}

/*
 * Older versions made a vigil-probe-PID directory for this probe, which a kill
 * left behind: remove those whose process is gone (rmdir fails, harmlessly, on
 * one still in use).
 */
static void remove_stale_cgroups(const char *root)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *d = opendir(root);

	if (!d)
		return;
	while ((e = readdir(d))) {
		char *end;
		long pid;

		if (strncmp(e->d_name, "vigil-probe-", 12))
			continue;
		pid = strtol(e->d_name + 12, &end, 10);
		if (*end || pid <= 0 || !(kill(pid, 0) && errno == ESRCH))
			continue;
		snprintf(path, sizeof(path), "%s/%s", root, e->d_name);
		if (!rmdir(path))
			vigil_debug("removed the stale probe cgroup '%s'", path);
	}
	closedir(d);
}

/*
 * Our own cgroup, which exists before and after us: an fd-owned link there
 * leaves nothing behind whatever ends the process. The program lets every
 * socket through, so the other members of the cgroup see no difference.
 */
static int attach_cgroup(struct probe_ctx *c)
{
	const char *root = vigil_cgroup2_path();
	char line[PATH_MAX], path[PATH_MAX * 2];
	FILE *f;

	if (!root)
		return -ENOENT;
	remove_stale_cgroups(root);
	snprintf(path, sizeof(path), "%s", root);
	f = fopen("/proc/self/cgroup", "re");
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (!strncmp(line, "0::/", 4)) {
			snprintf(path, sizeof(path), "%s%s", root, line + 3);
			break;
		}
	}
	if (f)
		fclose(f);
	c->fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	/* another cgroup namespace: our path is not under this mount */
	if (c->fd < 0)
		c->fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->fd < 0)
		return -errno;
	c->link = bpf_program__attach_cgroup(c->prog, c->fd);
	return c->link ? 0 : -errno;
}

static int attach_perf(struct probe_ctx *c)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(attr),
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.sample_freq = 1000,
		.freq = 1,
	};

	c->fd = syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
	if (c->fd < 0)
		return -errno;
	c->link = bpf_program__attach_perf_event(c->prog, c->fd);
	return c->link ? 0 : -errno;
}

static void detach_fd_link(struct probe_ctx *c)
{
	bpf_link__destroy(c->link);
	c->link = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static int attach_uprobe(struct probe_ctx *c)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .func_name = "vigil_probe_uprobe_target");
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n < 0)
		return -errno;
	exe[n] = 0;
	c->link = bpf_program__attach_uprobe_opts(c->prog, getpid(), exe, 0, &opts);
	return c->link ? 0 : -errno;
}

static const struct probe probes[] = {
	{ VIGIL_M_TRACEPOINT, "probe_tracepoint", NULL, NULL, trig_getppid },
	{ VIGIL_M_RAW_TP, "probe_raw_tp", NULL, NULL, trig_getppid },
	{ VIGIL_M_TP_BTF, "probe_tp_btf", NULL, NULL, trig_getppid },
	{ VIGIL_M_RINGBUF, "probe_ringbuf", NULL, NULL, NULL },	/* see round_trip() */
	{ VIGIL_M_XDP, "probe_xdp", attach_xdp, NULL, trig_udp_lo, true },
	{ VIGIL_M_TC, "probe_tc", attach_tc, detach_tc, trig_udp_lo, true },
	{ VIGIL_M_CGROUP, "probe_cgroup", attach_cgroup, detach_fd_link, trig_cgroup },
	{ VIGIL_M_PERF_EVENT, "probe_perf_event", attach_perf, detach_fd_link, trig_spin },
	{ VIGIL_M_UPROBE, "probe_uprobe", attach_uprobe, NULL, trig_uprobe },
	{ VIGIL_M_KPROBE, "probe_kprobe", NULL, NULL, trig_read },
	{ VIGIL_M_FENTRY, "probe_fentry", NULL, NULL, trig_read },
	{ VIGIL_M_LSM, "probe_lsm", NULL, NULL, trig_read },
	{ VIGIL_M_SEND_SIGNAL, "probe_send_signal", NULL, NULL, trig_send_signal },
};

/* ---- why a mechanism failed, in one line ---- */

const char *vigil_lsm_list(void)
{
	static char lsm[256];
	FILE *f;

	if (lsm[0])
		return lsm;
	f = fopen("/sys/kernel/security/lsm", "re");
	if (f) {
		if (!fgets(lsm, sizeof(lsm), f))
			lsm[0] = 0;
		lsm[strcspn(lsm, "\n")] = 0;
		fclose(f);
	}
	return lsm;
}

static bool lsm_active(const char *name)
{
	char list[256 + 2], want[64];

	snprintf(list, sizeof(list), ",%s,", vigil_lsm_list());
	snprintf(want, sizeof(want), ",%s,", name);
	return strstr(list, want) != NULL;
}

static void explain(enum vigil_mech m, struct vigil_probe *r)
{
	const char *why = NULL;

	if (r->ok)
		return;
	switch (m) {
	case VIGIL_M_KPROBE:
		if (access("/sys/bus/event_source/devices/kprobe", F_OK))
			why = "the kernel has no kprobe PMU: built without CONFIG_KPROBES";
		break;
	case VIGIL_M_FENTRY:
		if (r->err == EPERM || r->err == 524 /* ENOTSUPP */ || r->err == EOPNOTSUPP)
			why = "the kernel refuses BPF trampoline programs (fentry/fexit) here; "
			      "vigil uses tracepoints instead";
		break;
	case VIGIL_M_LSM:
		if (!lsm_active("bpf"))
			why = "the bpf LSM is not active: boot with lsm=...,bpf";
		else if (r->err == EPERM)
			why = "the kernel refuses BPF LSM programs here (no BPF trampoline support)";
		break;
	case VIGIL_M_TRACEPOINT:
		if (!vigil_tracefs_path())
			why = "tracefs is not mounted: mount -t tracefs tracefs /sys/kernel/tracing";
		break;
	case VIGIL_M_XDP:
	case VIGIL_M_TC:
		if (r->err == EBUSY || r->err == EEXIST)
			why = "another program already holds this hook on 'lo'";
		break;
	case VIGIL_M_CGROUP:
		if (!vigil_cgroup2_path())
			why = "no cgroup v2 hierarchy is mounted";
		break;
	default:
		break;
	}
	if (!why && !strcmp(r->stage, "run"))
		why = "attached, but the program never ran when triggered";
	if (why)
		snprintf(r->reason, sizeof(r->reason), "%s", why);
	else
		snprintf(r->reason, sizeof(r->reason), "%s failed: %s", r->stage, strerror(r->err));
}

/* ---- probing ---- */

static struct probe_bpf *open_only(const char *prog_name, struct bpf_program **prog)
{
	struct probe_bpf *skel = probe_bpf__open();
	struct bpf_program *p;

	if (!skel)
		return NULL;
	skel->rodata->target_tgid = getpid();
	bpf_object__for_each_program(p, skel->obj) {
		bool me = !strcmp(bpf_program__name(p), prog_name);

		bpf_program__set_autoload(p, me);
		if (me)
			*prog = p;
	}
	/* doctor does not need a megabyte of ring buffer */
	bpf_map__set_max_entries(skel->maps.vigil_events, 64 * 1024);
	return skel;
}

static void probe_one(const struct probe *p, struct vigil_probe *out)
{
	struct vigil_probe *r = out;
	struct probe_ctx c = { .fd = -1 };
	int err;

	r->probed = true;
	c.skel = open_only(p->prog, &c.prog);
	if (!c.skel) {
		r->stage = "open";
		r->err = errno;
		goto out;
	}
	err = probe_bpf__load(c.skel);
	if (err) {
		r->stage = "load";
		r->err = -err;
		goto out;
	}
	if (p->attach) {
		err = p->attach(&c);
	} else {
		c.link = bpf_program__attach(c.prog);
		err = c.link ? 0 : -errno;
	}
	if (err) {
		r->stage = "attach";
		r->err = -err;
		goto out;
	}
	if (p->trigger && (err = p->trigger(&c))) {
		r->stage = "trigger";
		r->err = -err;
		goto out;
	}
	r->hits = c.skel->bss->hits[p->mech];
	r->ok = r->hits > 0;
	r->stage = "run";
out:
	if (p->detach)
		p->detach(&c);
	else
		bpf_link__destroy(c.link);
	probe_bpf__destroy(c.skel);
	explain(p->mech, r);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double lat_us[VIGIL_PING_COUNT];
static int ping_received;

static int on_ping(void *ctx, void *data, size_t size)
{
	const struct vigil_ping *p = data;
	uint64_t now = vigil_boot_ns();

	if (size >= sizeof(*p) && ping_received < VIGIL_PING_COUNT)
		lat_us[ping_received++] = (now - p->hdr.ts) / 1e3;
	return 0;
}

/* An event made by doctor travels kernel -> ring buffer -> user space. */
static void round_trip(struct vigil_probe *r, struct vigil_ping_stats *ping)
{
	struct bpf_program *prog = NULL;
	struct probe_bpf *skel;
	struct ring_buffer *rb = NULL;
	struct bpf_link *link = NULL;
	int err = 0;

	r->probed = true;
	r->stage = "open";
	skel = open_only("probe_ringbuf", &prog);
	if (!skel) {
		err = errno;
		goto out;
	}
	r->stage = "load";
	if ((err = -probe_bpf__load(skel)))
		goto out;
	r->stage = "attach";
	link = bpf_program__attach(prog);
	if (!link) {
		err = errno;
		goto out;
	}
	rb = ring_buffer__new(bpf_map__fd(skel->maps.vigil_events), on_ping, NULL, NULL);
	if (!rb) {
		err = errno;
		goto out;
	}
	r->stage = "run";
	ping_received = 0;
	for (int i = 0; i < VIGIL_PING_COUNT; i++) {
		int before = ping_received;

		syscall(SYS_getppid);
		/* wait for this one event, through epoll like every command */
		for (int t = 0; t < 10 && ping_received == before; t++)
			ring_buffer__poll(rb, 100);
	}
	r->hits = skel->bss->hits[VIGIL_M_RINGBUF];
	r->ok = ping_received > 0;
out:
	r->err = err;
	if (ping) {
		ping->sent = VIGIL_PING_COUNT;
		ping->received = ping_received;
		if (ping_received) {
			qsort(lat_us, ping_received, sizeof(double), cmp_double);
			ping->median_us = lat_us[ping_received / 2];
			ping->max_us = lat_us[ping_received - 1];
		}
	}
	ring_buffer__free(rb);
	bpf_link__destroy(link);
	probe_bpf__destroy(skel);
	explain(VIGIL_M_RINGBUF, r);
}

/* a private network namespace whose 'lo' is up; it dies with its last process */
static int enter_netns(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd, err = 0;

	if (unshare(CLONE_NEWNET))
		return -errno;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr))
			err = -errno;
	} else {
		err = -errno;
	}
	close(fd);
	return err;
}

/*
 * A probe runs in a child of its own, with SIGINT and SIGTERM blocked (doctor
 * blocks them; the mask is inherited). Whatever ends doctor, SIGKILL
 * included, the child finishes the probe and undoes it: a kill never lands
 * between a netlink qdisc and its removal, nor in the middle of a uprobe's
 * register or unregister (a fatal signal there makes the kernel's page writes
 * fail with EINTR and it leaks the uprobe). The TC and XDP probes use a
 * private namespace's 'lo', so even a SIGKILL of the child itself leaves
 * nothing: the kernel removes the qdisc with the namespace.
 */
static void probe_isolated(const struct probe *p, struct vigil_probe *r)
{
	int pfd[2], status;
	ssize_t n = 0;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC)) {
		r->probed = true;
		r->stage = "open";
		r->err = errno;
		snprintf(r->reason, sizeof(r->reason), "cannot make a pipe: %s", strerror(errno));
		return;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		int err;

		close(pfd[0]);
		/* without CAP_SYS_ADMIN: the host's 'lo', as before */
		if (p->netns && (err = enter_netns()))
			vigil_debug("doctor: no private network namespace for '%s': %s; using the host's 'lo'",
				    vigil_mech_name(p->mech), strerror(-err));
		probe_one(p, r);
		_exit(write(pfd[1], r, sizeof(*r)) == sizeof(*r) ? 0 : 1);
	}
	close(pfd[1]);
	if (pid > 0) {
		while ((n = read(pfd[0], r, sizeof(*r))) < 0 && errno == EINTR)
			;
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	close(pfd[0]);
	if (pid < 0 || n != sizeof(*r)) {
		int err = pid < 0 ? errno : EIO;

		memset(r, 0, sizeof(*r));
		r->probed = true;
		r->stage = pid < 0 ? "open" : "run";
		r->err = err;
		snprintf(r->reason, sizeof(r->reason), pid < 0 ? "cannot fork the probe: %s" :
			 "the probe's process ended without a result (%s)", strerror(err));
	}
}

void vigil_probe_mech(enum vigil_mech m, struct vigil_probe *r, struct vigil_ping_stats *ping)
{
	memset(r, 0, sizeof(*r));
	vigil_debug("doctor: probing '%s'", vigil_mech_name(m));
	if (m == VIGIL_M_RINGBUF) {
		round_trip(r, ping);
		return;
	}
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		if (probes[i].mech == m) {
			probe_isolated(&probes[i], r);
			return;
		}
	}
	r->stage = "open";
	r->err = ENOENT;
	snprintf(r->reason, sizeof(r->reason), "no probe for this mechanism");
}
