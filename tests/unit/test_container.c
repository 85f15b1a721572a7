// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Container resolution: the layout table over real cgroup paths (one per
 * runtime layout, as each runtime's documentation or code writes them), the
 * state-file readers over fixtures in the runtimes' real formats, and the
 * resolver over a fake cgroup tree and state root with a fake clock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "check.h"
#include "core/container.h"

#define FIX "tests/unit/fixtures/containers"

/* ids: the docker and podman ones are the real ones in the fixtures */
#define DID "53985946ed867a92cd3436fd863f5ae7fd200abef9a8d5ec4bf3427939ade32c"
#define PID1 "1b9ff379fae5b04a3d672aeac25d62bb86021ad75b07d3d7decb4e2722715006"
#define PID2 "1b9ff379fae5c8e0b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c4e6b8d0f2a4c6e8"
#define CID "a3f1c9e2b4d6f8a0c2e4b6d8f0a2c4e6b8d0f2a4c6e8b0d2f4a6c8e0b2d4f6a8"
#define SID "5b0e5f2bc1f2a09b6a2a0f5d3f0c8b1e9d7a6c5b4a3f2e1d0c9b8a7f6e5d4c3b"
#define XID "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00"
#define NID "ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34"
#define KID "d0c4e7d0c4e7d0c4e7d0c4e7d0c4e7d0c4e7d0c4e7d0c4e7d0c4e7d0c4e7d0c4"
#define UID "8d2ad2e5-4b1a-4c9a-9a64-3f1f0c2e7b11"
#define UID_ "8d2ad2e5_4b1a_4c9a_9a64_3f1f0c2e7b11"

struct pcase {
	const char *path;
	enum vigil_cparse ret;
	enum vigil_runtime rt;
	const char *id;
	const char *pod_uid;
	enum vigil_qos qos;
	const char *name;	/* from the path (nspawn, LXC) */
	const char *outer;	/* outer container id */
	const char *top;	/* the container's own cgroup */
};

#define K8S_SD_B "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice"

static const struct pcase pcases[] = {
	/* docker: cgroupfs driver (seen live here) and systemd driver */
	{ "/docker/" DID, VIGIL_CP_CONTAINER, VIGIL_RT_DOCKER, DID, "", 0, NULL, NULL, "/docker/" DID },
	{ "/system.slice/docker-" DID ".scope", VIGIL_CP_CONTAINER, VIGIL_RT_DOCKER, DID, "", 0, NULL, NULL,
	  "/system.slice/docker-" DID ".scope" },
	/* podman: cgroupfs (seen live here), systemd, systemd with the container sub-cgroup, rootless */
	{ "/libpod_parent/libpod-" PID1, VIGIL_CP_CONTAINER, VIGIL_RT_PODMAN, PID1, "", 0, NULL, NULL,
	  "/libpod_parent/libpod-" PID1 },
	{ "/machine.slice/libpod-" PID1 ".scope", VIGIL_CP_CONTAINER, VIGIL_RT_PODMAN, PID1, "", 0, NULL, NULL,
	  "/machine.slice/libpod-" PID1 ".scope" },
	{ "/machine.slice/libpod-" PID1 ".scope/container", VIGIL_CP_CONTAINER, VIGIL_RT_PODMAN, PID1, "", 0,
	  NULL, NULL, "/machine.slice/libpod-" PID1 ".scope" },
	{ "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" PID1 ".scope/container",
	  VIGIL_CP_CONTAINER, VIGIL_RT_PODMAN, PID1, "", 0, NULL, NULL,
	  "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" PID1 ".scope" },
	/* a podman pod: the pod's slice is no container, its members are */
	{ "/machine.slice/machine-libpod_pod_" SID ".slice/libpod-" PID1 ".scope", VIGIL_CP_CONTAINER,
	  VIGIL_RT_PODMAN, PID1, "", 0, NULL, NULL, "/machine.slice/machine-libpod_pod_" SID ".slice/libpod-" PID1 ".scope" },
	{ "/machine.slice/machine-libpod_pod_" SID ".slice", VIGIL_CP_HOST },
	{ "/libpod_parent/" SID "/libpod-" PID1, VIGIL_CP_CONTAINER, VIGIL_RT_PODMAN, PID1, "", 0, NULL, NULL,
	  "/libpod_parent/" SID "/libpod-" PID1 },
	/* podman's conmon: host-side */
	{ "/machine.slice/libpod-conmon-" PID1 ".scope", VIGIL_CP_HOST },
	{ "/libpod_parent/conmon", VIGIL_CP_HOST },
	/* Kubernetes, systemd driver: containerd, CRI-O, each QoS class */
	{ K8S_SD_B "/cri-containerd-" CID ".scope", VIGIL_CP_CONTAINER, VIGIL_RT_CONTAINERD, CID, UID,
	  VIGIL_QOS_BURSTABLE, NULL, NULL, K8S_SD_B "/cri-containerd-" CID ".scope" },
	{ "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_ ".slice/crio-" XID ".scope",
	  VIGIL_CP_CONTAINER, VIGIL_RT_CRIO, XID, UID, VIGIL_QOS_BESTEFFORT },
	{ "/kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" CID ".scope", VIGIL_CP_CONTAINER,
	  VIGIL_RT_CONTAINERD, CID, UID, VIGIL_QOS_GUARANTEED },
	/* CRI-O's conmon sits in the pod, outside the container */
	{ K8S_SD_B "/crio-conmon-" XID ".scope", VIGIL_CP_HOST, 0, "", UID, VIGIL_QOS_BURSTABLE },
	/* the pod's own slice: no container, but the pod is known */
	{ K8S_SD_B, VIGIL_CP_HOST, 0, "", UID, VIGIL_QOS_BURSTABLE },
	/* Kubernetes, cgroupfs driver: a bare id (kubeadm+containerd, k3s), CRI-O's crio-<id> */
	{ "/kubepods/burstable/pod" UID "/" CID, VIGIL_CP_CONTAINER, VIGIL_RT_CRI, CID, UID, VIGIL_QOS_BURSTABLE },
	{ "/kubepods/besteffort/pod" UID "/" CID, VIGIL_CP_CONTAINER, VIGIL_RT_CRI, CID, UID, VIGIL_QOS_BESTEFFORT },
	{ "/kubepods/pod" UID "/" CID, VIGIL_CP_CONTAINER, VIGIL_RT_CRI, CID, UID, VIGIL_QOS_GUARANTEED },
	{ "/kubepods/burstable/pod" UID "/crio-" XID, VIGIL_CP_CONTAINER, VIGIL_RT_CRIO, XID, UID,
	  VIGIL_QOS_BURSTABLE },
	/* a static pod: the uid is a bare 32-hex hash */
	{ "/kubepods/burstable/pod5f3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d/" CID, VIGIL_CP_CONTAINER, VIGIL_RT_CRI, CID,
	  "5f3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d", VIGIL_QOS_BURSTABLE },
	/* kind / minikube: kubelet --cgroup-root=/kubelet inside a docker "node" */
	{ "/system.slice/docker-" DID ".scope/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice"
	  "/kubelet-kubepods-besteffort-pod" UID_ ".slice/cri-containerd-" CID ".scope",
	  VIGIL_CP_CONTAINER, VIGIL_RT_CONTAINERD, CID, UID, VIGIL_QOS_BESTEFFORT, NULL, DID },
	/* docker in a pod: innermost wins, the pod from the outer */
	{ "/kubepods/burstable/pod" UID "/" CID "/docker/" DID, VIGIL_CP_CONTAINER, VIGIL_RT_DOCKER, DID, UID,
	  VIGIL_QOS_BURSTABLE, NULL, CID, "/kubepods/burstable/pod" UID "/" CID "/docker/" DID },
	/* docker in docker */
	{ "/docker/" CID "/docker/" DID, VIGIL_CP_CONTAINER, VIGIL_RT_DOCKER, DID, "", 0, NULL, CID },
	/* nerdctl: systemd scope, cgroupfs /<namespace>/<id> */
	{ "/system.slice/nerdctl-" NID ".scope", VIGIL_CP_CONTAINER, VIGIL_RT_CONTAINERD, NID },
	{ "/default/" NID, VIGIL_CP_CONTAINER, VIGIL_RT_UNKNOWN, NID },
	/* systemd-nspawn / machined: the name is in the unit, escaped */
	{ "/machine.slice/machine-debian\\x2dbookworm.scope", VIGIL_CP_CONTAINER, VIGIL_RT_NSPAWN,
	  "debian-bookworm", "", 0, "debian-bookworm" },
	{ "/machine.slice/machine-web.scope/payload/system.slice/nginx.service", VIGIL_CP_CONTAINER,
	  VIGIL_RT_NSPAWN, "web", "", 0, "web", NULL, "/machine.slice/machine-web.scope" },
	/* a libvirt VM in machine.slice is not a container */
	{ "/machine.slice/machine-qemu\\x2d1\\x2dvm1.scope/libvirt/emulator", VIGIL_CP_HOST },
	/* LXC: old /lxc/<name>, LXC 4+ lxc.payload.<name> (and its monitor) */
	{ "/lxc/c1", VIGIL_CP_CONTAINER, VIGIL_RT_LXC, "c1", "", 0, "c1" },
	{ "/lxc/c1/init.scope", VIGIL_CP_CONTAINER, VIGIL_RT_LXC, "c1", "", 0, "c1", NULL, "/lxc/c1" },
	{ "/lxc.payload.c1", VIGIL_CP_CONTAINER, VIGIL_RT_LXC, "c1", "", 0, "c1" },
	{ "/lxc.payload.web/system.slice/cron.service", VIGIL_CP_CONTAINER, VIGIL_RT_LXC, "web", "", 0, "web" },
	{ "/lxc.monitor.c1", VIGIL_CP_HOST },
	/* docker inside an LXC container */
	{ "/lxc.payload.c1/docker/" DID, VIGIL_CP_CONTAINER, VIGIL_RT_DOCKER, DID, "", 0, NULL, "c1" },
	/* a 64-hex id in a layout nobody documents: the id, runtime unknown */
	{ "/system.slice/fancyrt-" DID ".scope", VIGIL_CP_CONTAINER, VIGIL_RT_UNKNOWN, DID },
	/* negatives */
	{ "/", VIGIL_CP_HOST },
	{ "", VIGIL_CP_HOST },
	{ "/init.scope", VIGIL_CP_HOST },
	{ "/user.slice", VIGIL_CP_HOST },
	{ "/user.slice/user-1000.slice/session-3.scope", VIGIL_CP_HOST },
	{ "/system.slice/foo.service", VIGIL_CP_HOST },
	{ "/system.slice/docker.service", VIGIL_CP_HOST },
	{ "/system.slice/containerd.service", VIGIL_CP_HOST },
	{ "/docker", VIGIL_CP_HOST },
	{ "/system.slice/docker-53985946ed86.scope", VIGIL_CP_HOST },		/* short hex */
	{ "/docker/53985946ed867a92cd3436fd863f5ae7", VIGIL_CP_HOST },		/* 32 hex */
	{ "/docker/" DID "0", VIGIL_CP_HOST },					/* 65 hex */
	{ "/system.slice/docker-" "53985946ED867A92CD3436FD863F5AE7FD200ABEF9A8D5EC4BF3427939ADE32C" ".scope",
	  VIGIL_CP_HOST },							/* not lowercase */
	{ "/kubepods/burstable/podnot-a-uid/" CID, VIGIL_CP_CONTAINER, VIGIL_RT_UNKNOWN, CID },
	{ "/kubepods/burstable", VIGIL_CP_HOST },
	{ "/system.slice/run-r5f3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d.scope", VIGIL_CP_HOST },
};

static void test_parse(void)
{
	for (size_t i = 0; i < sizeof(pcases) / sizeof(pcases[0]); i++) {
		const struct pcase *t = &pcases[i];
		struct vigil_container_id id;
		enum vigil_cparse r = vigil_container_parse_path(t->path, &id);
		bool ok = r == t->ret;

		if (ok && r == VIGIL_CP_CONTAINER) {
			ok = id.runtime == t->rt && !strcmp(id.id, t->id);
			ok = ok && !strcmp(id.pod_uid, t->pod_uid ? t->pod_uid : "");
			ok = ok && id.qos == t->qos;
			ok = ok && !strcmp(id.name, t->name ? t->name : "");
			ok = ok && !strcmp(id.outer_id, t->outer ? t->outer : "");
			ok = ok && (!t->top || (id.top_len == strlen(t->top) && !strncmp(t->path, t->top, id.top_len)));
		} else if (ok) {
			ok = !strcmp(id.pod_uid, t->pod_uid ? t->pod_uid : "") && id.qos == t->qos;
		}
		if (!ok)
			fprintf(stderr, "parse '%s': ret %d rt %s id '%s' pod '%s' qos %d name '%s' outer '%s' top %zu\n",
				t->path, r, vigil_runtime_name(id.runtime), id.id, id.pod_uid, id.qos, id.name,
				id.outer_id, id.top_len);
		CHECK(ok);
	}
	/* the level of a container's cgroup, for ancestor checks in BPF */
	{
		struct vigil_container_id id;

		vigil_container_parse_path("/libpod_parent/libpod-" PID1, &id);
		CHECK(id.top_level == 2);
		vigil_container_parse_path("//machine.slice//libpod-" PID1 ".scope/container/", &id);
		CHECK(id.top_level == 2 && id.runtime == VIGIL_RT_PODMAN);
		vigil_container_parse_path("/system.slice/fancyrt-" DID ".scope", &id);
		CHECK(id.layout_unknown);
		vigil_container_parse_path("/default/" NID, &id);
		CHECK(!id.layout_unknown);
		vigil_container_parse_path("/docker/" DID, &id);
		CHECK(!id.layout_unknown);
	}
}

static char *load(const char *name, size_t *len)
{
	char path[512];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", FIX, name);
	f = fopen(path, "re");
	if (!f) {
		fprintf(stderr, "cannot open fixture '%s': %s\n", path, strerror(errno));
		exit(1);
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc(n + 1);
	*len = fread(buf, 1, n, f);
	buf[*len] = 0;
	fclose(f);
	return buf;
}

static void test_json(void)
{
	const char *js = "{\"a\":{\"Name\":\"inner\",\"x\":[1,2,{\"Name\":\"deep\"}]},\"n\":-1.5e3,\"t\":true,"
			 "\"esc\":\"q\\\"\\\\\\/\\u00e9\\ud83d\\ude00\\n\",\"Name\":\"/top\"}";
	const char *k1[] = { "Name" }, *k2[] = { "a", "Name" }, *k3[] = { "esc" }, *k4[] = { "missing" };
	const char *k5[] = { "n" };
	char out[64], small[4];

	CHECK(vigil_json_get_str(js, strlen(js), k1, 1, out, sizeof(out)) == 0);
	CHECK_STR(out, "/top");
	CHECK(vigil_json_get_str(js, strlen(js), k2, 2, out, sizeof(out)) == 0);
	CHECK_STR(out, "inner");
	CHECK(vigil_json_get_str(js, strlen(js), k3, 1, out, sizeof(out)) == 0);
	CHECK_STR(out, "q\"\\/\xc3\xa9\xf0\x9f\x98\x80\n");
	CHECK(vigil_json_get_str(js, strlen(js), k4, 1, out, sizeof(out)) == -1);
	CHECK(vigil_json_get_str(js, strlen(js), k5, 1, out, sizeof(out)) == -1);	/* not a string */
	CHECK(vigil_json_get_str(js, strlen(js), k1, 1, small, sizeof(small)) == 0);
	CHECK_STR(small, "/to");
	/* truncated and malformed documents fail cleanly at every cut */
	for (size_t n = 0; n < strlen(js) - 1; n++) {	/* all but the closing brace */
		int r = vigil_json_get_str(js, n, k1, 1, out, sizeof(out));

		CHECK(r == -1);
	}
	CHECK(vigil_json_get_str("[[[[[[[[[[[[", 12, k1, 1, out, sizeof(out)) == -1);
	CHECK(vigil_json_get_str("{\"a\":}", 6, k1, 1, out, sizeof(out)) == -1);
	CHECK(vigil_json_get_str("{\"Name\":\"x\\q\"}", 14, k1, 1, out, sizeof(out)) == -1);
	/* deep nesting is skipped without recursion */
	{
		size_t n = 200000;
		char *deep = malloc(n * 2 + 64);
		size_t o = 0;

		o += sprintf(deep, "{\"d\":");
		for (size_t i = 0; i < n; i++)
			deep[o++] = '[';
		for (size_t i = 0; i < n; i++)
			deep[o++] = ']';
		o += sprintf(deep + o, ",\"Name\":\"ok\"}");
		CHECK(vigil_json_get_str(deep, o, k1, 1, out, sizeof(out)) == 0);
		CHECK_STR(out, "ok");
		free(deep);
	}
}

static void test_readers(void)
{
	struct vigil_cmeta m;
	size_t len;
	char *js;

	/* docker 20.10 as written on this machine: the top-level Name, not a nested one */
	js = load("docker-config.v2.json", &len);
	CHECK(vigil_cmeta_docker(js, len, &m) == 0);
	CHECK_STR(m.name, "dprobe");
	CHECK(!m.pod[0] && !m.sandbox);
	free(js);
	/* dockershim / cri-dockerd: the kubelet's labels win over the k8s_... name */
	js = load("docker-k8s-config.v2.json", &len);
	CHECK(vigil_cmeta_docker(js, len, &m) == 0);
	CHECK_STR(m.name, "api");
	CHECK_STR(m.pod, "api-6f9c7b5d8-qz7lm");
	CHECK_STR(m.namespace, "payments");
	CHECK_STR(m.pod_uid, "3c2b1a09-8f7e-4d6c-b5a4-93827160f5e4");
	free(js);
	/* containerd's CRI plugin */
	js = load("containerd-cri-config.json", &len);
	CHECK(vigil_cmeta_oci(js, len, &m) == 0);
	CHECK_STR(m.name, "nginx");
	CHECK_STR(m.pod, "web-7d4b9c8f5-x2x4q");
	CHECK_STR(m.namespace, "shop");
	CHECK_STR(m.pod_uid, UID);
	CHECK(!m.sandbox);
	free(js);
	js = load("containerd-sandbox-config.json", &len);
	CHECK(vigil_cmeta_oci(js, len, &m) == 0);
	CHECK_STR(m.name, "POD");
	CHECK(m.sandbox);
	CHECK_STR(m.pod, "web-7d4b9c8f5-x2x4q");
	free(js);
	/* CRI-O (its Labels annotation is itself an escaped JSON document) */
	js = load("crio-config.json", &len);
	CHECK(vigil_cmeta_oci(js, len, &m) == 0);
	CHECK_STR(m.name, "coredns");
	CHECK_STR(m.pod, "coredns-5d78c9869d-8kx2p");
	CHECK_STR(m.namespace, "kube-system");
	CHECK_STR(m.pod_uid, "0f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a");
	free(js);
	js = load("nerdctl-config.json", &len);
	CHECK(vigil_cmeta_oci(js, len, &m) == 0);
	CHECK_STR(m.name, "cache");
	free(js);
	/* podman's own OCI spec (real, from this machine) has no name: storage has it */
	js = load("podman-userdata-config.json", &len);
	CHECK(vigil_cmeta_oci(js, len, &m) == -1);
	free(js);
	js = load("podman-containers.json", &len);
	CHECK(vigil_cmeta_storage(js, len, PID1, &m) == 0);
	CHECK_STR(m.name, "probe1");
	CHECK(vigil_cmeta_storage(js, len, PID2, &m) == 0);
	CHECK_STR(m.name, "db\xc3\xa9");
	CHECK(vigil_cmeta_storage(js, len, DID, &m) == -1);
	CHECK(vigil_cmeta_storage(js, len / 2, PID1, &m) == -1);
	free(js);
}

/* ---- the resolver over a fake tree ---- */

static char tmp[256];

static void mkdirs(const char *rel)
{
	char p[1024];

	snprintf(p, sizeof(p), "%s/%s", tmp, rel);
	for (char *s = p + strlen(tmp) + 1; *s; s++) {
		if (*s == '/') {
			*s = 0;
			mkdir(p, 0755);
			*s = '/';
		}
	}
	mkdir(p, 0755);
}

static void put(const char *rel, const char *fixture)
{
	char p[1024];
	size_t len;
	char *js = load(fixture, &len);
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", tmp, rel);
	*strrchr(p, '/') = 0;
	mkdirs(p + strlen(tmp) + 1);
	snprintf(p, sizeof(p), "%s/%s", tmp, rel);
	f = fopen(p, "we");
	fwrite(js, 1, len, f);
	fclose(f);
	free(js);
}

static uint64_t ino(const char *cg)
{
	char p[1024];
	struct stat st;

	snprintf(p, sizeof(p), "%s/cg%s", tmp, cg);
	return stat(p, &st) == 0 ? st.st_ino : 0;
}

static void rm_rf(const char *dir)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
}

#define SEC 1000000000ULL
#define K8S_CG K8S_SD_B "/cri-containerd-" CID ".scope"
#define K8S_SB K8S_SD_B "/cri-containerd-" SID ".scope"
#define CRIO_CG "/kubepods/burstable/pod0f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a/crio-" XID
#define NERD_CG "/default/" NID
#define DIND_CG "/kubepods/burstable/pod" UID "/" CID "/docker/" DID

static void build_tree(void)
{
	static const char *const cgs[] = {
		"/user.slice/user-0.slice/session-1.scope", "/docker/" DID, "/libpod_parent/libpod-" PID1,
		"/libpod_parent/libpod-" PID2, K8S_CG, K8S_SB, CRIO_CG, NERD_CG,
	};

	snprintf(tmp, sizeof(tmp), "/tmp/vigil-test-container-XXXXXX");
	CHECK(mkdtemp(tmp) != NULL);
	for (size_t i = 0; i < sizeof(cgs) / sizeof(cgs[0]); i++) {
		char rel[1024];

		snprintf(rel, sizeof(rel), "cg%s", cgs[i]);
		mkdirs(rel);
	}
	put("root/var/lib/docker/containers/" DID "/config.v2.json", "docker-config.v2.json");
	put("root/var/lib/containers/storage/overlay-containers/containers.json", "podman-containers.json");
	put("root/var/lib/containers/storage/overlay-containers/" PID1 "/userdata/config.json",
	    "podman-userdata-config.json");
	put("root/run/containerd/io.containerd.runtime.v2.task/k8s.io/" CID "/config.json",
	    "containerd-cri-config.json");
	put("root/run/containerd/io.containerd.runtime.v2.task/k8s.io/" SID "/config.json",
	    "containerd-sandbox-config.json");
	put("root/run/containers/storage/overlay-containers/" XID "/userdata/config.json", "crio-config.json");
	put("root/run/containerd/io.containerd.runtime.v2.task/default/" NID "/config.json",
	    "nerdctl-config.json");
}

static struct vigil_containers *open_fake(uint64_t now, uint32_t max_cgroups)
{
	char cg[512], root[512];
	struct vigil_containers_opts o = { 0 };

	snprintf(cg, sizeof(cg), "%s/cg", tmp);
	snprintf(root, sizeof(root), "%s/root", tmp);
	o.cgroup2 = cg;
	o.root = root;
	o.now_ns = now;
	o.retain_ns = 30 * SEC;
	o.max_cgroups = max_cgroups;
	return vigil_containers_new(&o);
}

static void test_resolver(void)
{
	struct vigil_containers *c;
	struct vigil_containers_stats st;
	const struct vigil_container *k, *q;
	struct vigil_container_match m[8];
	uint64_t now = 1000 * SEC, id;
	char err[1024];
	int n;

	build_tree();
	c = open_fake(now, 0);
	CHECK(c != NULL);
	if (!c)
		return;
	vigil_containers_get_stats(c, &st);
	/* root, user.slice x3, docker x2, libpod_parent x3, kubepods.slice x5, kubepods x4, default x2 */
	CHECK(st.cgroups == 20);
	CHECK(st.containers == 7);
	CHECK(st.bytes > 0 && st.bytes < (1 << 20));

	/* a host task */
	CHECK(vigil_container_lookup(c, ino("/user.slice/user-0.slice/session-1.scope")) == NULL);
	/* what the path gives is there at once; the name is pending */
	k = vigil_container_lookup(c, ino("/docker/" DID));
	CHECK(k && k->runtime == VIGIL_RT_DOCKER && !strcmp(k->id, DID));
	CHECK(k && k->name_state == VIGIL_CNAME_PENDING && !k->name[0]);
	CHECK(k && k->cgroup_id == ino("/docker/" DID) && k->cgroup_level == 2);
	k = vigil_container_lookup(c, ino(K8S_CG));
	CHECK(k && k->runtime == VIGIL_RT_CONTAINERD && !strcmp(k->pod_uid, UID) && k->qos == VIGIL_QOS_BURSTABLE);
	vigil_containers_get_stats(c, &st);
	CHECK(st.lookup_host == 1 && st.lookup_pending == 2 && st.lookup_hit == 0);

	/* the tick reads the names; the two looked-up cgroups come back changed, the others not */
	CHECK(vigil_containers_tick(c, now) == 2);
	n = 0;
	while (vigil_containers_next_changed(c, &id, &q)) {
		n++;
		if (id == ino("/docker/" DID)) {
			CHECK_STR(q->name, "dprobe");
			CHECK(q->name_state == VIGIL_CNAME_KNOWN);
		} else {
			CHECK(id == ino(K8S_CG));
			CHECK_STR(q->name, "nginx");
			CHECK_STR(q->pod, "web-7d4b9c8f5-x2x4q");
			CHECK_STR(q->namespace, "shop");
		}
	}
	CHECK(n == 2);
	CHECK(vigil_containers_tick(c, now) == 0);
	k = vigil_container_lookup(c, ino("/docker/" DID));
	CHECK(k && !strcmp(k->name, "dprobe"));
	vigil_containers_get_stats(c, &st);
	CHECK(st.lookup_hit == 1);

	/* every other layout */
	k = vigil_container_lookup(c, ino("/libpod_parent/libpod-" PID1));
	CHECK(k && k->runtime == VIGIL_RT_PODMAN && !strcmp(k->name, "probe1"));
	k = vigil_container_lookup(c, ino("/libpod_parent/libpod-" PID2));
	CHECK(k && !strcmp(k->name, "db\xc3\xa9"));
	k = vigil_container_lookup(c, ino(K8S_SB));
	CHECK(k && k->sandbox && !strcmp(k->name, "POD") && !strcmp(k->namespace, "shop"));
	k = vigil_container_lookup(c, ino(CRIO_CG));
	CHECK(k && k->runtime == VIGIL_RT_CRIO && !strcmp(k->name, "coredns") && !strcmp(k->namespace, "kube-system"));
	/* a bare id: the runtime is learned from whose state has it */
	k = vigil_container_lookup(c, ino(NERD_CG));
	CHECK(k && k->runtime == VIGIL_RT_CONTAINERD && !strcmp(k->name, "cache"));

	/* --container */
	n = vigil_containers_match(c, "probe1,dprobe", m, 8, err, sizeof(err));
	CHECK(n == 2 && m[0].ctr && !strcmp(m[0].ctr->name, "probe1") && !strcmp(m[1].ctr->name, "dprobe"));
	CHECK(n == 2 && m[0].cgroup_id == ino("/libpod_parent/libpod-" PID1) && m[0].level == 2);
	n = vigil_containers_match(c, "53985946ed86", m, 8, err, sizeof(err));
	CHECK(n == 1 && m[0].ctr->runtime == VIGIL_RT_DOCKER);
	n = vigil_containers_match(c, DID, m, 8, err, sizeof(err));
	CHECK(n == 1);
	n = vigil_containers_match(c, "nope", m, 8, err, sizeof(err));
	CHECK(n == -1 && strstr(err, "unknown container 'nope'") && strstr(err, "probe1 (podman 1b9ff379fae5)") &&
	      strstr(err, "dprobe (docker 53985946ed86)"));
	n = vigil_containers_match(c, "5398", m, 8, err, sizeof(err));	/* too short for an id */
	CHECK(n == -1 && strstr(err, "unknown container '5398'"));
	n = vigil_containers_match(c, "1b9ff379fae5", m, 8, err, sizeof(err));
	CHECK(n == -1 && strstr(err, "ambiguous"));
	n = vigil_containers_match(c, "1b9ff379fae5b", m, 8, err, sizeof(err));
	CHECK(n == 1 && !strcmp(m[0].ctr->name, "probe1"));
	n = vigil_containers_match(c, "probe1,,dprobe", m, 8, err, sizeof(err));
	CHECK(n == -1 && strstr(err, "empty"));
	n = vigil_containers_match(c, "probe1,dprobe", m, 1, err, sizeof(err));
	CHECK(n == -1 && strstr(err, "too many"));

	/* a container whose state is nowhere: tried name_tries times, then NONE, never a placeholder */
	mkdirs("cg/docker/" KID);
	vigil_containers_rescan(c, now);
	k = vigil_container_lookup(c, ino("/docker/" KID));
	CHECK(k && k->name_state == VIGIL_CNAME_PENDING);
	for (int i = 0; i < 10; i++)
		vigil_containers_tick(c, now += 10 * SEC);
	CHECK(k->name_state == VIGIL_CNAME_NONE && !k->name[0]);
	n = 0;
	while (vigil_containers_next_changed(c, &id, &q))
		n += id == ino("/docker/" KID);
	CHECK(n == 1);

	/* removal: the last events of a container that exited still resolve for retain_ns */
	{
		uint64_t gone = ino("/docker/" DID);
		char p[512];

		snprintf(p, sizeof(p), "%s/cg/docker/" DID, tmp);
		CHECK(rmdir(p) == 0);
		vigil_containers_rescan(c, now);
		k = vigil_container_lookup(c, gone);
		CHECK(k && k->exited && k->exited_ns == now && !strcmp(k->name, "dprobe"));
		n = vigil_containers_match(c, "dprobe", m, 8, err, sizeof(err));
		CHECK(n == -1);	/* not running */
		vigil_containers_tick(c, now + 30 * SEC - 1);
		k = vigil_container_lookup(c, gone);
		CHECK(k && k->exited);
		vigil_containers_tick(c, now + 30 * SEC);
		k = vigil_container_lookup(c, gone);
		CHECK(k == NULL);
		vigil_containers_get_stats(c, &st);
		CHECK(st.lookup_miss == 1);
		now += 30 * SEC;
	}

	/* a cgroup made after the scan, fed by the tracepoint hook */
	vigil_containers_get_stats(c, &st);
	{
		uint64_t before = st.lazy_rescan;

		CHECK(vigil_containers_cgroup_added(c, 4242424242ULL, "/system.slice/docker-" KID ".scope") == 0);
		k = vigil_container_lookup(c, 4242424242ULL);
		CHECK(k && !strcmp(k->id, KID) && k->runtime == VIGIL_RT_DOCKER);
		vigil_containers_cgroup_removed(c, 4242424242ULL, now);
		CHECK(k->exited == false);	/* the /docker/KID cgroup of the same id is still there */
		/* one made after the scan, unknown: found by a (rate-limited) rescan */
		mkdirs("cg/libpod_parent/libpod-" SID);
		vigil_containers_tick(c, now += 2 * SEC);
		k = vigil_container_lookup(c, ino("/libpod_parent/libpod-" SID));
		CHECK(k && !strcmp(k->id, SID));
		vigil_containers_get_stats(c, &st);
		CHECK(st.lazy_rescan == before + 1);
		/* an id that exists nowhere, right after: no second rescan */
		CHECK(vigil_container_lookup(c, 777777777ULL) == NULL);
		vigil_containers_get_stats(c, &st);
		CHECK(st.lazy_rescan == before + 1);
	}

	/* iteration sees every container once */
	{
		size_t it = 0;
		int cnt = 0;

		while ((k = vigil_containers_next(c, &it)))
			cnt++;
		vigil_containers_get_stats(c, &st);
		CHECK(cnt == (int)st.containers && cnt >= 7);
	}
	vigil_containers_free(c);

	/* the limits hold: a small cache evicts host cgroups, never more than max */
	c = open_fake(now, 12);
	CHECK(c != NULL);
	if (c) {
		vigil_containers_get_stats(c, &st);
		CHECK(st.cgroups <= 12 && st.evicted > 0);
		/* an evicted host cgroup is found again on demand */
		CHECK(vigil_container_lookup(c, ino("/user.slice/user-0.slice/session-1.scope")) == NULL);
		vigil_containers_get_stats(c, &st);
		CHECK(st.cgroups <= 12 && st.lookup_host == 1);
		vigil_containers_free(c);
	}
	rm_rf(tmp);
}

int main(void)
{
	CHECK(!strcmp(vigil_runtime_name(VIGIL_RT_CRIO), "cri-o"));
	CHECK(vigil_qos_name(VIGIL_QOS_NONE) == NULL);
	test_parse();
	test_json();
	test_readers();
	test_resolver();
	return check_done("test_container");
}
