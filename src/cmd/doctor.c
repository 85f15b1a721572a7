// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * vigil doctor: what this host can do, measured. Every mechanism is loaded,
 * attached and triggered for real; "works" means the program ran.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/perf_event.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "core/vigil.h"
#include "core/env.h"
#include "core/names.h"
#include "core/out.h"
#include "core/session.h"
#include "core/feature.h"
#include "core/probe.h"

/* commands doctor can report a run-time mechanism choice for; list.h has far fewer */
#define MAX_CMDS 32

static struct {
	struct utsname uts;
	bool btf;
	bool privileged;
	const char *tracefs, *cgroup2;
	bool bpffs, securityfs;
	char lsm[256];
	struct vigil_probe res[VIGIL_M__COUNT];
	struct vigil_ping_stats ping;
	/* per command with a plan: the path it would take here (vigil_cmds order) */
	struct vigil_mech_choice choice[MAX_CMDS];
	bool chosen[MAX_CMDS];
} d;

/* what the command needs: its fixed needs plus the mechanism its plan picked */
static unsigned int cmd_uses(int i)
{
	unsigned int m = vigil_cmds[i]->needs;

	if (i < MAX_CMDS && d.chosen[i] && d.choice[i].path)
		m |= VIGIL_MECH(d.choice[i].path->mech);
	return m;
}

/* a plan with no working path misses every mechanism it could have used */
static unsigned int cmd_missing(int i, unsigned int avail)
{
	const struct vigil_mech_plan *p = vigil_cmds[i]->plan;
	unsigned int m = vigil_cmds[i]->needs & ~avail;

	if (p && !(i < MAX_CMDS && d.chosen[i] && d.choice[i].path))
		for (int k = 0; k < p->npaths; k++)
			m |= VIGIL_MECH(p->paths[k].mech);
	return m;
}

/* ---- environment ---- */

static bool is_mounted_fs(const char *type)
{
	char buf[PATH_MAX];

	return vigil_find_mount(type, buf, sizeof(buf)) == 0;
}

static void read_env(void)
{
	uname(&d.uts);
	d.btf = access(VIGIL_BTF_PATH, R_OK) == 0;
	d.privileged = vigil_has_cap(21 /* CAP_SYS_ADMIN */) ||
		       (vigil_has_cap(39 /* CAP_BPF */) && vigil_has_cap(38 /* CAP_PERFMON */));
	/* doctor mounts what the probes need, as every command would */
	if (d.privileged) {
		if (!vigil_tracefs_path())
			mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL);
		if (!is_mounted_fs("securityfs"))
			mount("securityfs", "/sys/kernel/security", "securityfs", 0, NULL);
		if (!is_mounted_fs("bpf"))
			mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700");
	}
	d.tracefs = vigil_tracefs_path();
	d.cgroup2 = vigil_cgroup2_path();
	d.bpffs = is_mounted_fs("bpf");
	d.securityfs = is_mounted_fs("securityfs");
	snprintf(d.lsm, sizeof(d.lsm), "%s", vigil_lsm_list());
}

static unsigned int available_mask(void)
{
	unsigned int m = 0;

	for (int i = 0; i < VIGIL_M__COUNT; i++)
		if (d.res[i].ok)
			m |= VIGIL_MECH(i);
	return m;
}

/* ---- rendering ---- */

static const struct { int cap; const char *name; } caps[] = {
	{ 21, "CAP_SYS_ADMIN" }, { 39, "CAP_BPF" }, { 38, "CAP_PERFMON" }, { 12, "CAP_NET_ADMIN" },
};

static void render_json(void)
{
	unsigned int avail = available_mask();
	struct jw w;

	jw_record(&w, vigil.sink, "doctor", vigil_boot_ns());
	jw_str(&w, "version", VIGIL_VERSION);
	jw_obj(&w, "kernel");
	jw_str(&w, "release", d.uts.release);
	jw_str(&w, "machine", d.uts.machine);
	jw_end_obj(&w);
	jw_obj(&w, "btf");
	jw_str(&w, "path", VIGIL_BTF_PATH);
	jw_bool(&w, "present", d.btf);
	jw_end_obj(&w);
	jw_obj(&w, "privileges");
	jw_bool(&w, "root", geteuid() == 0);
	jw_bool(&w, "sufficient", d.privileged);
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		jw_bool(&w, caps[i].name, vigil_has_cap(caps[i].cap));
	jw_end_obj(&w);
	jw_obj(&w, "mounts");
	jw_str(&w, "tracefs", d.tracefs);
	jw_str(&w, "cgroup2", d.cgroup2);
	jw_bool(&w, "bpffs", d.bpffs);
	jw_bool(&w, "securityfs", d.securityfs);
	jw_end_obj(&w);
	jw_arr(&w, "lsm");
	for (char *s = d.lsm, *e; *s; s = *e ? e + 1 : e) {
		e = s + strcspn(s, ",");
		jw_strn(&w, NULL, s, e - s);
	}
	jw_end_arr(&w);
	jw_obj(&w, "mechanisms");
	for (int i = 0; i < VIGIL_M__COUNT; i++) {
		const struct vigil_probe *r = &d.res[i];

		jw_obj(&w, vigil_mech_name(i));
		jw_bool(&w, "available", r->ok);
		jw_bool(&w, "probed", r->probed);
		if (r->probed && !r->ok) {
			jw_str(&w, "stage", r->stage);
			if (r->err) {
				jw_s64(&w, "errno", r->err);
				jw_str(&w, "error", vigil_errno_name(r->err));
			}
		}
		if (!r->ok)
			jw_str(&w, "reason", r->reason);
		jw_u64(&w, "hits", r->hits);
		jw_end_obj(&w);
	}
	jw_end_obj(&w);
	jw_obj(&w, "roundtrip");
	jw_bool(&w, "ok", d.res[VIGIL_M_RINGBUF].ok);
	jw_u64(&w, "sent", VIGIL_PING_COUNT);
	jw_u64(&w, "received", d.ping.received);
	if (d.ping.received) {
		jw_double(&w, "median_us", d.ping.median_us);
		jw_double(&w, "max_us", d.ping.max_us);
	} else {
		jw_str(&w, "reason", d.res[VIGIL_M_RINGBUF].reason);
	}
	jw_end_obj(&w);
	jw_obj(&w, "commands");
	for (int i = 0; vigil_cmds[i]; i++) {
		unsigned int missing = cmd_missing(i, avail);

		jw_obj(&w, vigil_cmds[i]->name);
		jw_bool(&w, "runnable", !missing);
		jw_arr(&w, "uses");
		for (int m = 0; m < VIGIL_M__COUNT; m++)
			if (cmd_uses(i) & VIGIL_MECH(m))
				jw_str(&w, NULL, vigil_mech_name(m));
		jw_end_arr(&w);
		if (vigil_cmds[i]->plan && i < MAX_CMDS) {
			const struct vigil_mech_choice *c = &d.choice[i];

			if (c->path) {
				jw_str(&w, "mechanism", c->path->name);
				jw_str(&w, "hooks", c->path->hooks);
			} else {
				jw_null(&w, "mechanism");
			}
			if (c->why[0])
				jw_str(&w, "mechanism_reason", c->why);
		}
		jw_arr(&w, "missing");
		for (int m = 0; m < VIGIL_M__COUNT; m++)
			if (missing & VIGIL_MECH(m))
				jw_str(&w, NULL, vigil_mech_name(m));
		jw_end_arr(&w);
		jw_end_obj(&w);
	}
	jw_end_obj(&w);
	jw_end_obj(&w);
}

static void render_table(void)
{
	unsigned int avail = available_mask();
	FILE *f = vigil.out;

	fprintf(f, "%-12s %s (%s)\n", "kernel", d.uts.release, d.uts.machine);
	fprintf(f, "%-12s %s\n", "btf", d.btf ? VIGIL_BTF_PATH : "missing: vigil needs CONFIG_DEBUG_INFO_BTF=y");
	fprintf(f, "%-12s %s", "privileges", d.privileged ? "sufficient" : "insufficient: run as root");
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		fprintf(f, "%s%s%s", i ? " " : " (", caps[i].name, vigil_has_cap(caps[i].cap) ? "" : "=no");
	fprintf(f, ")\n");
	fprintf(f, "%-12s %s\n", "tracefs", d.tracefs ? d.tracefs : "not mounted");
	fprintf(f, "%-12s %s\n", "bpffs", d.bpffs ? "mounted" : "not mounted");
	fprintf(f, "%-12s %s\n", "cgroup2", d.cgroup2 ? d.cgroup2 : "not mounted");
	fprintf(f, "%-12s %s\n", "lsm", d.lsm[0] ? d.lsm : d.securityfs ? "(none)" : "unknown (securityfs not mounted)");

	fprintf(f, "\n%-12s %-6s %s\n", "MECHANISM", "STATUS", "DETAIL");
	for (int i = 0; i < VIGIL_M__COUNT; i++) {
		const struct vigil_probe *r = &d.res[i];

		if (r->ok)
			fprintf(f, "%-12s %-6s ran %llu times\n", vigil_mech_name(i), "ok",
				(unsigned long long)r->hits);
		else if (!r->probed)
			fprintf(f, "%-12s %-6s not probed: %s\n", vigil_mech_name(i), "?", r->reason);
		else
			fprintf(f, "%-12s %-6s %s (%s: %s)\n", vigil_mech_name(i), "no", r->reason,
				r->stage, r->err ? vigil_errno_name(r->err) : "no hits");
	}
	if (d.ping.received)
		fprintf(f, "\nround trip   kernel -> ring buffer -> user space: %d/%d events, "
			   "median %.1fus, max %.1fus\n", d.ping.received, VIGIL_PING_COUNT,
			d.ping.median_us, d.ping.max_us);
	else
		fprintf(f, "\nround trip   failed: %s\n", d.res[VIGIL_M_RINGBUF].reason);

	fprintf(f, "\n%-12s %-6s %s\n", "COMMAND", "STATUS", "DETAIL");
	for (int i = 0; vigil_cmds[i]; i++) {
		unsigned int missing = cmd_missing(i, avail), uses = cmd_uses(i);
		const struct vigil_mech_choice *c = i < MAX_CMDS ? &d.choice[i] : NULL;
		bool plan = vigil_cmds[i]->plan && c;
		const char *sep = "";

		fprintf(f, "%-12s %-6s ", vigil_cmds[i]->name, missing ? "no" : "ok");
		fprintf(f, missing ? "needs " : "uses ");
		for (int m = 0; m < VIGIL_M__COUNT; m++) {
			if (!((missing ? missing : uses) & VIGIL_MECH(m)))
				continue;
			/* a plan's alternatives: any one of them will do */
			fprintf(f, "%s%s", sep, vigil_mech_name(m));
			sep = missing && plan ? " or " : ", ";
		}
		if (!uses && !missing)
			fprintf(f, "nothing from the kernel");
		if (plan && c->path)
			fprintf(f, " (mechanism %s on %s)", c->path->name, c->path->hooks);
		if (plan && c->why[0])
			fprintf(f, "; %s", c->why);
		fputc('\n', f);
	}
}

/* a SIGINT or SIGTERM arrived while doctor had them blocked */
static bool interrupted(void)
{
	sigset_t pend;

	sigpending(&pend);
	return sigismember(&pend, SIGINT) || sigismember(&pend, SIGTERM);
}

static int doctor_run(int argc, char **argv)
{
	sigset_t stop, old;

	if (argc > 0) {
		fprintf(stderr, "vigil doctor: unexpected argument '%s'\n", argv[0]);
		return VIGIL_EXIT_USAGE;
	}
	/*
	 * A probe changes the host (a qdisc, a uprobe) until it is undone: a
	 * Ctrl-C or SIGTERM waits for the probe under way to end, then stops
	 * doctor by the signal's own action once the mask is restored.
	 */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigprocmask(SIG_BLOCK, &stop, &old);
	read_env();
	for (int m = 0; m < VIGIL_M__COUNT; m++) {
		struct vigil_probe *r = &d.res[m];

		if (!d.privileged || !d.btf || interrupted()) {
			snprintf(r->reason, sizeof(r->reason), "%s",
				 !d.privileged ? "needs root or CAP_BPF and CAP_PERFMON" :
				 !d.btf ? "needs kernel BTF" : "not probed: interrupted");
			continue;
		}
		vigil_probe_mech(m, r, m == VIGIL_M_RINGBUF ? &d.ping : NULL);
	}
	/* commands that choose their mechanism at run time choose here the same way */
	for (int i = 0; vigil_cmds[i] && i < MAX_CMDS; i++) {
		if (!vigil_cmds[i]->plan)
			continue;
		if (!d.privileged || !d.btf || interrupted()) {
			snprintf(d.choice[i].why, sizeof(d.choice[i].why), "not probed: %s",
				 !d.privileged ? "needs root or CAP_BPF and CAP_PERFMON" :
				 !d.btf ? "needs kernel BTF" : "interrupted");
			continue;
		}
		vigil_debug("doctor: probing the mechanism of '%s'", vigil_cmds[i]->name);
		vigil_plan_probe(vigil_cmds[i], &d.choice[i]);
		d.chosen[i] = true;
	}
	/* everything is undone: a pending signal ends doctor here (unless ignored) */
	vigil_debug("doctor: probes done");
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (vigil.json)
		render_json();
	else
		render_table();
	if (!d.privileged)
		return VIGIL_EXIT_UNSUPPORTED;
	/* the report is the result; a host that cannot trace at all is unsupported */
	return d.res[VIGIL_M_RINGBUF].ok ? VIGIL_EXIT_OK : VIGIL_EXIT_UNSUPPORTED;
}

const struct vigil_cmd cmd_doctor = {
	.name = "doctor",
	.run = doctor_run,
	.summary = "check what this host supports, by loading and running each mechanism",
	.flags = 0,
	.needs = VIGIL_MECH(VIGIL_M_RINGBUF),
};
