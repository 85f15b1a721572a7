// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Container identity from cgroup ids: the layout table, the resolver, and
 * the readers of the runtimes' state on disk. docs/containers.md describes
 * the layouts and where each field comes from.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include "core/container.h"
#include "core/env.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

static const char *const rt_names[VIGIL_RT__COUNT] = {
	[VIGIL_RT_NONE] = "none",
	[VIGIL_RT_DOCKER] = "docker",
	[VIGIL_RT_PODMAN] = "podman",
	[VIGIL_RT_CONTAINERD] = "containerd",
	[VIGIL_RT_CRIO] = "cri-o",
	[VIGIL_RT_CRI] = "cri",
	[VIGIL_RT_NSPAWN] = "systemd-nspawn",
	[VIGIL_RT_LXC] = "lxc",
	[VIGIL_RT_UNKNOWN] = "unknown",
};

const char *vigil_runtime_name(enum vigil_runtime rt)
{
	return rt < VIGIL_RT__COUNT ? rt_names[rt] : "unknown";
}

const char *vigil_qos_name(enum vigil_qos q)
{
	switch (q) {
	case VIGIL_QOS_GUARANTEED: return "guaranteed";
	case VIGIL_QOS_BURSTABLE: return "burstable";
	case VIGIL_QOS_BESTEFFORT: return "besteffort";
	default: return NULL;
	}
}

/* ---- the layout table ---- */

enum lrole {
	L_K8S,		/* the kubelet's root: everything below may be a pod */
	L_QOS,		/* a QoS level under it */
	L_POD,		/* pod<uid>: the variable part is the pod uid */
	L_HEX,		/* a container: the variable part is its 64-hex id */
	L_NAME,		/* a container with no hex id: the variable part is its name */
	L_MONITOR,	/* a runtime's host-side helper (conmon, lxc monitor): not a container */
	L_GROUP,	/* a runtime's grouping of containers with a hex id (podman pods): not one */
};

/* where a component may appear */
static const char p_k8s[] = "@k8s", p_pod[] = "@pod";
#define P_ANY NULL
#define P_K8S p_k8s	/* anywhere below a L_K8S component */
#define P_POD p_pod	/* right below a L_POD component */

struct layout {
	enum vigil_runtime rt;
	enum lrole role;
	const char *parent;	/* P_ANY, P_K8S, P_POD, or the previous component's exact name */
	const char *prefix;	/* the component is prefix + variable + suffix */
	const char *suffix;
	enum vigil_qos qos;	/* what an L_QOS or L_POD entry implies */
	bool exact;		/* the component is exactly prefix (no variable part) */
};

/*
 * Every layout, first match wins per path component. The sources (each
 * runtime's documentation or code) are cited in docs/containers.md; the
 * unit tests hold one real path per line.
 */
static const struct layout layouts[] = {
	/* Kubernetes, kubelet cgroupfs driver: /kubepods/<qos>/pod<uid>/<id> */
	{ VIGIL_RT_NONE, L_K8S, P_ANY, "kubepods", "", 0, true },
	{ VIGIL_RT_NONE, L_QOS, P_K8S, "burstable", "", VIGIL_QOS_BURSTABLE, true },
	{ VIGIL_RT_NONE, L_QOS, P_K8S, "besteffort", "", VIGIL_QOS_BESTEFFORT, true },
	{ VIGIL_RT_NONE, L_POD, P_K8S, "pod", "", VIGIL_QOS_NONE },
	/* Kubernetes, systemd driver: kubepods.slice/kubepods-<qos>.slice/kubepods-<qos>-pod<uid_>.slice */
	{ VIGIL_RT_NONE, L_K8S, P_ANY, "kubepods.slice", "", 0, true },
	{ VIGIL_RT_NONE, L_POD, P_K8S, "kubepods-burstable-pod", ".slice", VIGIL_QOS_BURSTABLE },
	{ VIGIL_RT_NONE, L_POD, P_K8S, "kubepods-besteffort-pod", ".slice", VIGIL_QOS_BESTEFFORT },
	{ VIGIL_RT_NONE, L_POD, P_K8S, "kubepods-pod", ".slice", VIGIL_QOS_GUARANTEED },
	{ VIGIL_RT_NONE, L_QOS, P_K8S, "kubepods-burstable.slice", "", VIGIL_QOS_BURSTABLE, true },
	{ VIGIL_RT_NONE, L_QOS, P_K8S, "kubepods-besteffort.slice", "", VIGIL_QOS_BESTEFFORT, true },
	/* the same under --cgroup-root=/kubelet (kind, minikube): kubelet-kubepods-... */
	{ VIGIL_RT_NONE, L_K8S, P_ANY, "kubelet-kubepods.slice", "", 0, true },
	{ VIGIL_RT_NONE, L_POD, P_K8S, "kubelet-kubepods-burstable-pod", ".slice", VIGIL_QOS_BURSTABLE },
	{ VIGIL_RT_NONE, L_POD, P_K8S, "kubelet-kubepods-besteffort-pod", ".slice", VIGIL_QOS_BESTEFFORT },
	{ VIGIL_RT_NONE, L_POD, P_K8S, "kubelet-kubepods-pod", ".slice", VIGIL_QOS_GUARANTEED },
	{ VIGIL_RT_NONE, L_QOS, P_K8S, "kubelet-kubepods-burstable.slice", "", VIGIL_QOS_BURSTABLE, true },
	{ VIGIL_RT_NONE, L_QOS, P_K8S, "kubelet-kubepods-besteffort.slice", "", VIGIL_QOS_BESTEFFORT, true },

	/* docker: systemd driver docker-<id>.scope, cgroupfs driver /docker/<id> */
	{ VIGIL_RT_DOCKER, L_HEX, P_ANY, "docker-", ".scope" },
	{ VIGIL_RT_DOCKER, L_HEX, "docker", "", "" },
	/* podman: systemd libpod-<id>.scope, cgroupfs /libpod_parent/libpod-<id>; conmon beside */
	{ VIGIL_RT_PODMAN, L_MONITOR, P_ANY, "libpod-conmon-", ".scope" },
	{ VIGIL_RT_PODMAN, L_HEX, P_ANY, "libpod-", ".scope" },
	{ VIGIL_RT_PODMAN, L_HEX, P_ANY, "libpod-", "" },
	{ VIGIL_RT_PODMAN, L_MONITOR, "libpod_parent", "conmon", "", 0, true },
	/* podman pods: machine-libpod_pod_<id>.slice (systemd), /libpod_parent/<id> (cgroupfs) */
	{ VIGIL_RT_PODMAN, L_GROUP, P_ANY, "machine-libpod_pod_", ".slice" },
	{ VIGIL_RT_PODMAN, L_GROUP, "libpod_parent", "", "" },
	/* containerd's CRI plugin with the systemd driver; nerdctl */
	{ VIGIL_RT_CONTAINERD, L_HEX, P_ANY, "cri-containerd-", ".scope" },
	{ VIGIL_RT_CONTAINERD, L_HEX, P_ANY, "nerdctl-", ".scope" },
	/* CRI-O: crio-<id>.scope (systemd), crio-<id> (cgroupfs); conmon beside */
	{ VIGIL_RT_CRIO, L_MONITOR, P_ANY, "crio-conmon-", ".scope" },
	{ VIGIL_RT_CRIO, L_MONITOR, P_ANY, "crio-conmon-", "" },
	{ VIGIL_RT_CRIO, L_HEX, P_ANY, "crio-", ".scope" },
	{ VIGIL_RT_CRIO, L_HEX, P_ANY, "crio-", "" },
	/* a bare id in a pod: containerd (k3s, kubeadm with cgroupfs) or cri-dockerd */
	{ VIGIL_RT_CRI, L_HEX, P_POD, "", "" },
	/* machined registers VMs in machine.slice too (libvirt): not containers */
	{ VIGIL_RT_NSPAWN, L_MONITOR, P_ANY, "machine-qemu\\x2d", ".scope" },
	{ VIGIL_RT_NSPAWN, L_NAME, P_ANY, "machine-", ".scope" },
	/* LXC 4+: lxc.payload.<name> and lxc.monitor.<name>; older: /lxc/<name> */
	{ VIGIL_RT_LXC, L_MONITOR, P_ANY, "lxc.monitor.", "" },
	{ VIGIL_RT_LXC, L_NAME, P_ANY, "lxc.payload.", "" },
	{ VIGIL_RT_LXC, L_NAME, "lxc", "", "" },
	/* a bare id anywhere else: ctr's /<namespace>/<id>, runc run --cgroup... */
	{ VIGIL_RT_UNKNOWN, L_HEX, P_ANY, "", "" },
};

/* strings into fixed fields: truncated, always terminated */
static void scpy(char *dst, size_t n, const char *src)
{
	size_t l = strnlen(src, n - 1);

	memcpy(dst, src, l);
	dst[l] = 0;
}

static bool is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* a run of exactly 64 hex digits somewhere in the component */
static const char *find_hex64(const char *s, size_t n)
{
	size_t run = 0;

	for (size_t i = 0; i < n; i++) {
		bool h = is_hex(s + i, 1);

		run = h ? run + 1 : 0;
		if (run == 64 && (i + 1 == n || !is_hex(s + i + 1, 1)))
			return s + i + 1 - 64;
	}
	return NULL;
}

/* pod uids are 8-4-4-4-12 (dashes, or underscores under systemd); static
 * pods have a bare 32-hex hash */
static bool pod_uid(const char *s, size_t n, char *out)
{
	size_t hex = 0;

	if (n != 32 && n != 36)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '-' || s[i] == '_') {
			if (n != 36 || (i != 8 && i != 13 && i != 18 && i != 23))
				return false;
			out[i] = '-';
		} else if (is_hex(s + i, 1)) {
			out[i] = s[i];
			hex++;
		} else {
			return false;
		}
	}
	out[n] = 0;
	return hex == 32;
}

/* systemd unit names escape '-' and other bytes as \xNN */
static void unit_unescape(const char *s, size_t n, char *out, size_t outn)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 1 < outn; i++) {
		unsigned int v;

		if (s[i] == '\\' && i + 3 < n && s[i + 1] == 'x' && sscanf(s + i + 2, "%2x", &v) == 1) {
			out[o++] = (char)v;
			i += 3;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = 0;
}

static bool comp_is(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && !memcmp(s, lit, n);
}

enum vigil_cparse vigil_container_parse_path(const char *path, struct vigil_container_id *out)
{
	enum vigil_qos qos = VIGIL_QOS_NONE;
	char uid[VIGIL_PODUID_MAX] = "";
	bool in_k8s = false, found = false;
	const char *prev = NULL;
	size_t prev_len = 0;
	int prev_role = -1, level = 0;
	const char *p = path;

	memset(out, 0, sizeof(*out));
	while (*p) {
		const char *s, *var = NULL;
		const struct layout *l = NULL;
		size_t n, vn = 0;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		s = p;
		while (*p && *p != '/')
			p++;
		n = p - s;
		level++;

		for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
			const struct layout *t = &layouts[i];
			size_t pl = strlen(t->prefix), sl = strlen(t->suffix);

			if (t->parent == P_K8S ? !in_k8s :
			    t->parent == P_POD ? prev_role != L_POD :
			    t->parent && !(prev && comp_is(prev, prev_len, t->parent)))
				continue;
			if (t->exact) {
				if (!comp_is(s, n, t->prefix))
					continue;
			} else if (n <= pl + sl || memcmp(s, t->prefix, pl) ||
				   memcmp(s + n - sl, t->suffix, sl)) {
				continue;
			}
			var = s + pl;
			vn = t->exact ? 0 : n - pl - sl;
			if ((t->role == L_HEX || t->role == L_GROUP) && !(vn == 64 && is_hex(var, 64)))
				continue;
			if (t->role == L_POD) {
				char u[VIGIL_PODUID_MAX];

				if (!pod_uid(var, vn, u))
					continue;
				memcpy(uid, u, sizeof(u));
			}
			l = t;
			break;
		}

		if (!l) {
			const char *h = find_hex64(s, n);

			/* a 64-hex id in a name no entry knows: still the best identity there is */
			if (h) {
				static const struct layout unknown = { VIGIL_RT_UNKNOWN, L_HEX, P_ANY, "", "" };

				l = &unknown;
				var = h;
				vn = 64;
				out->layout_unknown = true;
			} else {
				prev = s;
				prev_len = n;
				prev_role = -1;
				continue;
			}
		} else if (l->role == L_HEX || l->role == L_NAME) {
			out->layout_unknown = false;
		}

		switch (l->role) {
		case L_GROUP:
			break;
		case L_K8S:
			in_k8s = true;
			break;
		case L_QOS:
			qos = l->qos;
			break;
		case L_POD:
			/* cgroupfs pods name no QoS: directly under kubepods is guaranteed */
			qos = l->qos ? l->qos : qos ? qos : VIGIL_QOS_GUARANTEED;
			break;
		case L_HEX:
		case L_NAME:
			if (found) {
				out->outer_runtime = out->runtime;
				memcpy(out->outer_id, out->id, sizeof(out->id));
			}
			found = true;
			out->runtime = l->rt;
			out->name[0] = 0;
			if (l->role == L_HEX) {
				memcpy(out->id, var, 64);
				out->id[64] = 0;
			} else {
				unit_unescape(var, vn, out->name, sizeof(out->name));
				scpy(out->id, sizeof(out->id), out->name);
			}
			/* the pod is the one enclosing this container, if any */
			memcpy(out->pod_uid, uid, sizeof(uid));
			out->qos = uid[0] ? qos : VIGIL_QOS_NONE;
			out->top_len = p - path;
			out->top_level = level;
			break;
		case L_MONITOR:
			/* a runtime helper: neither it nor anything below is a container */
			goto done;
		}
		prev = s;
		prev_len = n;
		prev_role = l->role;
	}
done:
	if (!found) {
		memcpy(out->pod_uid, uid, sizeof(uid));
		out->qos = uid[0] ? qos : VIGIL_QOS_NONE;
		return VIGIL_CP_HOST;
	}
	if (out->runtime != VIGIL_RT_UNKNOWN)
		out->layout_unknown = false;
	return VIGIL_CP_CONTAINER;
}

/* ---- a small JSON reader: just enough to pull strings out of state files ---- */

struct jc {
	const char *p, *end;
};

static void j_ws(struct jc *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

static size_t utf8_put(char *o, unsigned int cp)
{
	if (cp < 0x80) {
		o[0] = cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = 0xc0 | (cp >> 6);
		o[1] = 0x80 | (cp & 0x3f);
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = 0xe0 | (cp >> 12);
		o[1] = 0x80 | ((cp >> 6) & 0x3f);
		o[2] = 0x80 | (cp & 0x3f);
		return 3;
	}
	o[0] = 0xf0 | (cp >> 18);
	o[1] = 0x80 | ((cp >> 12) & 0x3f);
	o[2] = 0x80 | ((cp >> 6) & 0x3f);
	o[3] = 0x80 | (cp & 0x3f);
	return 4;
}

static bool hex4(const char *p, const char *end, unsigned int *v)
{
	*v = 0;
	if (end - p < 4)
		return false;
	for (int i = 0; i < 4; i++) {
		char ch = p[i];
		int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 :
			ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;

		if (d < 0)
			return false;
		*v = *v << 4 | d;
	}
	return true;
}

/*
 * A string at c->p; unescaped into out (truncated to n, NUL-terminated) when
 * out is set. Returns false on malformed input.
 */
static bool j_str(struct jc *c, char *out, size_t n)
{
	size_t o = 0;

	if (c->p >= c->end || *c->p != '"')
		return false;
	c->p++;
	while (c->p < c->end && *c->p != '"') {
		char tmp[4];
		size_t tn = 1;
		unsigned char ch = *c->p++;

		tmp[0] = ch;
		if (ch == '\\') {
			if (c->p >= c->end)
				return false;
			ch = *c->p++;
			switch (ch) {
			case 'n': tmp[0] = '\n'; break;
			case 't': tmp[0] = '\t'; break;
			case 'r': tmp[0] = '\r'; break;
			case 'b': tmp[0] = '\b'; break;
			case 'f': tmp[0] = '\f'; break;
			case '"': case '\\': case '/': tmp[0] = ch; break;
			case 'u': {
				unsigned int cp, lo;

				if (!hex4(c->p, c->end, &cp))
					return false;
				c->p += 4;
				if (cp >= 0xd800 && cp < 0xdc00 && c->end - c->p >= 6 && c->p[0] == '\\' &&
				    c->p[1] == 'u' && hex4(c->p + 2, c->end, &lo) && lo >= 0xdc00 && lo < 0xe000) {
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
					c->p += 6;
				} else if (cp >= 0xd800 && cp < 0xe000) {
					cp = '?';
				}
				tn = utf8_put(tmp, cp);
				break;
			}
			default:
				return false;
			}
		}
		if (out && o + tn < n) {
			memcpy(out + o, tmp, tn);
			o += tn;
		}
	}
	if (c->p >= c->end)
		return false;
	c->p++;
	if (out && n)
		out[o] = 0;
	return true;
}

/* skips one value of any kind; iterative, so deep nesting cannot overflow */
static bool j_skip(struct jc *c)
{
	int depth = 0;

	j_ws(c);
	do {
		if (c->p >= c->end)
			return false;
		switch (*c->p) {
		case '"':
			if (!j_str(c, NULL, 0))
				return false;
			break;
		case '{': case '[':
			depth++;
			c->p++;
			break;
		case '}': case ']':
			if (--depth < 0)
				return false;
			c->p++;
			break;
		case ',': case ':':
			if (!depth)
				return false;
			c->p++;
			break;
		default:
			/* numbers, true, false, null */
			if (!((*c->p >= '0' && *c->p <= '9') || *c->p == '-' || (*c->p >= 'a' && *c->p <= 'z')))
				return false;
			while (c->p < c->end && ((*c->p >= '0' && *c->p <= '9') || *c->p == '-' ||
						 *c->p == '+' || *c->p == '.' || (*c->p >= 'a' && *c->p <= 'z') ||
						 (*c->p >= 'A' && *c->p <= 'Z')))
				c->p++;
		}
		j_ws(c);
	} while (depth > 0);
	return true;
}

/* c at an object: moves to the value of key (top level of that object only) */
static bool j_find(struct jc *c, const char *key)
{
	char k[256];

	j_ws(c);
	if (c->p >= c->end || *c->p != '{')
		return false;
	c->p++;
	for (;;) {
		j_ws(c);
		if (c->p < c->end && *c->p == '}')
			return false;
		if (!j_str(c, k, sizeof(k)))
			return false;
		j_ws(c);
		if (c->p >= c->end || *c->p != ':')
			return false;
		c->p++;
		j_ws(c);
		if (!strcmp(k, key))
			return true;
		if (!j_skip(c))
			return false;
		if (c->p < c->end && *c->p == ',')
			c->p++;
		else
			return false;
	}
}

int vigil_json_get_str(const char *json, size_t len, const char *const *keys, int nkeys,
		       char *out, size_t n)
{
	struct jc c = { json, json + len };

	for (int i = 0; i < nkeys; i++)
		if (!j_find(&c, keys[i]))
			return -1;
	j_ws(&c);
	return j_str(&c, out, n) ? 0 : -1;
}

static void get2(const char *js, size_t len, const char *a, const char *b, char *out, size_t n)
{
	const char *keys[] = { a, b };

	if (!out[0] && vigil_json_get_str(js, len, keys, b ? 2 : 1, out, n))
		out[0] = 0;
}

int vigil_cmeta_docker(const char *js, size_t len, struct vigil_cmeta *m)
{
	char type[32] = "";

	memset(m, 0, sizeof(*m));
	/* pods run by dockershim / cri-dockerd carry the kubelet's labels */
	{
		const char *k[] = { "Config", "Labels", "io.kubernetes.container.name" };
		const char *pn[] = { "Config", "Labels", "io.kubernetes.pod.name" };
		const char *ns[] = { "Config", "Labels", "io.kubernetes.pod.namespace" };
		const char *uid[] = { "Config", "Labels", "io.kubernetes.pod.uid" };
		const char *ty[] = { "Config", "Labels", "io.kubernetes.docker.type" };

		vigil_json_get_str(js, len, k, 3, m->name, sizeof(m->name));
		vigil_json_get_str(js, len, pn, 3, m->pod, sizeof(m->pod));
		vigil_json_get_str(js, len, ns, 3, m->namespace, sizeof(m->namespace));
		vigil_json_get_str(js, len, uid, 3, m->pod_uid, sizeof(m->pod_uid));
		vigil_json_get_str(js, len, ty, 3, type, sizeof(type));
	}
	if (!strcmp(type, "podsandbox")) {
		m->sandbox = true;
		snprintf(m->name, sizeof(m->name), "POD");
	}
	if (!m->name[0]) {
		char name[VIGIL_CNAME_MAX] = "";

		get2(js, len, "Name", NULL, name, sizeof(name) - 1);
		/* docker keeps the name with a leading slash */
		snprintf(m->name, sizeof(m->name), "%s", name[0] == '/' ? name + 1 : name);
	}
	return m->name[0] ? 0 : -1;
}

int vigil_cmeta_oci(const char *js, size_t len, struct vigil_cmeta *m)
{
	char type[32] = "";

	memset(m, 0, sizeof(*m));
	/* containerd's CRI plugin */
	get2(js, len, "annotations", "io.kubernetes.cri.container-name", m->name, sizeof(m->name));
	get2(js, len, "annotations", "io.kubernetes.cri.sandbox-name", m->pod, sizeof(m->pod));
	get2(js, len, "annotations", "io.kubernetes.cri.sandbox-namespace", m->namespace, sizeof(m->namespace));
	get2(js, len, "annotations", "io.kubernetes.cri.sandbox-uid", m->pod_uid, sizeof(m->pod_uid));
	get2(js, len, "annotations", "io.kubernetes.cri.container-type", type, sizeof(type));
	/* CRI-O: the kubelet's own keys */
	get2(js, len, "annotations", "io.kubernetes.container.name", m->name, sizeof(m->name));
	get2(js, len, "annotations", "io.kubernetes.pod.name", m->pod, sizeof(m->pod));
	get2(js, len, "annotations", "io.kubernetes.pod.namespace", m->namespace, sizeof(m->namespace));
	get2(js, len, "annotations", "io.kubernetes.pod.uid", m->pod_uid, sizeof(m->pod_uid));
	get2(js, len, "annotations", "io.kubernetes.cri-o.ContainerType", type, sizeof(type));
	/* nerdctl (containerd without Kubernetes) */
	get2(js, len, "annotations", "nerdctl/name", m->name, sizeof(m->name));
	if (!strcmp(type, "sandbox")) {
		m->sandbox = true;
		if (!m->name[0])
			snprintf(m->name, sizeof(m->name), "POD");
	}
	return m->name[0] ? 0 : -1;
}

int vigil_cmeta_storage(const char *js, size_t len, const char *id, struct vigil_cmeta *m)
{
	struct jc c = { js, js + len };

	memset(m, 0, sizeof(*m));
	j_ws(&c);
	if (c.p >= c.end || *c.p != '[')
		return -1;
	c.p++;
	for (;;) {
		struct jc e;
		char eid[VIGIL_CID_MAX + 1];

		j_ws(&c);
		if (c.p >= c.end || *c.p == ']')
			return -1;
		e = c;
		if (j_find(&e, "id") && j_str(&e, eid, sizeof(eid)) && !strcmp(eid, id)) {
			e = c;
			if (!j_find(&e, "names"))
				return -1;
			j_ws(&e);
			if (e.p >= e.end || *e.p != '[')
				return -1;
			e.p++;
			j_ws(&e);
			if (!j_str(&e, m->name, sizeof(m->name)))
				return -1;
			return m->name[0] ? 0 : -1;
		}
		if (!j_skip(&c))
			return -1;
		if (c.p < c.end && *c.p == ',')
			c.p++;
	}
}

/* ---- the resolver ---- */

struct ctr;

struct cg {
	struct cg *hnext;	/* hash chain */
	struct cg *cnext;	/* next cgroup of the same container */
	struct cg *qnext;	/* changed queue */
	uint64_t id;
	uint64_t removed_ns;	/* 0: present */
	uint32_t seen;		/* scan generation */
	uint32_t popped_gen;	/* container generation last delivered for this cgroup */
	bool looked_up, queued, miss;
	struct ctr *ctr;	/* NULL: a host cgroup */
	char *path;		/* container cgroups only */
};

struct ctr {
	struct ctr *next;
	struct cg *cgroups;
	int ncg, ngone;
	uint32_t tries;
	uint64_t next_try_ns;
	enum vigil_runtime outer_rt;
	char outer_id[VIGIL_CID_MAX];
	struct vigil_container pub;
};

struct vigil_containers {
	char cgroup2[PATH_MAX];
	char root[PATH_MAX];
	int mount_fd;
	int handle_type;	/* -1: lookups by handle do not work here */
	struct vigil_containers_opts o;
	struct cg **tab;
	uint32_t nbuckets;
	struct ctr *ctrs;
	struct cg *qhead, **qtail;
	uint32_t gen;
	uint64_t last_rescan_ns;
	bool rescanned;
	/* the caller's clock, as last given (tick, rescan, removed); one clock for all times */
	uint64_t now;
	struct vigil_containers_stats st;
	/* containers.json is read once per change, not once per container */
	char *store_buf;
	size_t store_len;
	char store_path[PATH_MAX];
	struct timespec store_mtime;
	off_t store_size;
};

#define CG_BYTES(path) (sizeof(struct cg) + ((path) ? strlen(path) + 1 : 0))

static uint32_t hash64(uint64_t v)
{
	v ^= v >> 33;
	v *= 0xff51afd7ed558ccdULL;
	v ^= v >> 33;
	return (uint32_t)v;
}

static struct cg *cg_find(struct vigil_containers *c, uint64_t id)
{
	for (struct cg *g = c->tab[hash64(id) & (c->nbuckets - 1)]; g; g = g->hnext)
		if (g->id == id)
			return g;
	return NULL;
}

static void q_push(struct vigil_containers *c, struct cg *g)
{
	if (g->queued)
		return;
	g->queued = true;
	g->qnext = NULL;
	*c->qtail = g;
	c->qtail = &g->qnext;
}

static void q_unlink(struct vigil_containers *c, struct cg *g)
{
	struct cg **pp;

	if (!g->queued)
		return;
	for (pp = &c->qhead; *pp; pp = &(*pp)->qnext) {
		if (*pp == g) {
			*pp = g->qnext;
			break;
		}
	}
	c->qtail = &c->qhead;
	while (*c->qtail)
		c->qtail = &(*c->qtail)->qnext;
	g->queued = false;
}

static void ctr_free(struct vigil_containers *c, struct ctr *t)
{
	for (struct ctr **pp = &c->ctrs; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	c->st.containers--;
	c->st.bytes -= sizeof(*t);
	free(t);
}

static void cg_free(struct vigil_containers *c, struct cg *g)
{
	struct cg **pp = &c->tab[hash64(g->id) & (c->nbuckets - 1)];

	while (*pp && *pp != g)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = g->hnext;
	q_unlink(c, g);
	if (g->ctr) {
		struct ctr *t = g->ctr;

		for (struct cg **cp = &t->cgroups; *cp; cp = &(*cp)->cnext) {
			if (*cp == g) {
				*cp = g->cnext;
				break;
			}
		}
		t->ncg--;
		if (g->removed_ns)
			t->ngone--;
		if (!t->ncg)
			ctr_free(c, t);
	}
	c->st.cgroups--;
	c->st.bytes -= CG_BYTES(g->path);
	free(g->path);
	free(g);
}

static bool over_limits(const struct vigil_containers *c, size_t more)
{
	return c->st.cgroups >= c->o.max_cgroups || c->st.bytes + more > c->o.max_bytes;
}

/* frees removed cgroups first, then host ones (a lazy lookup finds them again) */
static void evict(struct vigil_containers *c, size_t more)
{
	for (int pass = 0; pass < 2 && over_limits(c, more); pass++) {
		for (uint32_t b = 0; b < c->nbuckets && over_limits(c, more); b++) {
			struct cg *g = c->tab[b], *next;

			for (; g && over_limits(c, more); g = next) {
				next = g->hnext;
				if (pass == 0 ? g->removed_ns != 0 : !g->ctr) {
					cg_free(c, g);
					c->st.evicted++;
				}
			}
		}
	}
}

static struct ctr *ctr_find(struct vigil_containers *c, const char *id)
{
	for (struct ctr *t = c->ctrs; t; t = t->next)
		if (!strcmp(t->pub.id, id))
			return t;
	return NULL;
}

static uint64_t path_ino(const struct vigil_containers *c, const char *rel, size_t n)
{
	char full[PATH_MAX];
	struct stat st;

	if (snprintf(full, sizeof(full), "%s%.*s", c->cgroup2, (int)n, rel) >= (int)sizeof(full))
		return 0;
	return stat(full, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

static void fill_pub(struct vigil_container *p, const struct vigil_container_id *id)
{
	memset(p, 0, sizeof(*p));
	p->runtime = id->runtime;
	memcpy(p->id, id->id, sizeof(p->id));
	memcpy(p->pod_uid, id->pod_uid, sizeof(p->pod_uid));
	p->qos = id->qos;
	p->layout_unknown = id->layout_unknown;
	p->cgroup_level = id->top_level;
	if (id->name[0]) {
		/* nspawn and LXC: the path is the name */
		memcpy(p->name, id->name, sizeof(p->name));
		p->name_state = VIGIL_CNAME_KNOWN;
	}
}

/* adds (or updates) one cgroup; returns it, or NULL when the limits forbid */
static struct cg *cg_add(struct vigil_containers *c, uint64_t id, const char *path)
{
	struct vigil_container_id cid;
	bool is_ctr = vigil_container_parse_path(path, &cid) == VIGIL_CP_CONTAINER;
	size_t need = sizeof(struct cg) + (is_ctr ? strlen(path) + 1 + sizeof(struct ctr) : 0);
	struct cg *g = cg_find(c, id);
	struct ctr *t = NULL;

	if (g) {
		g->seen = c->gen;
		if (g->miss || (g->removed_ns && !g->ctr)) {
			/* was unknown or gone: learn it again */
			cg_free(c, g);
		} else {
			return g;
		}
	}
	if (over_limits(c, need))
		evict(c, need);
	if (over_limits(c, need))
		return NULL;
	if (is_ctr) {
		t = ctr_find(c, cid.id);
		if (!t) {
			if (c->st.containers >= c->o.max_containers)
				return NULL;
			t = calloc(1, sizeof(*t));
			if (!t)
				return NULL;
			fill_pub(&t->pub, &cid);
			t->pub.cgroup_id = cid.top_len == strlen(path) ? id : path_ino(c, path, cid.top_len);
			if (!t->pub.cgroup_id)
				t->pub.cgroup_id = id;
			t->outer_rt = cid.outer_runtime;
			memcpy(t->outer_id, cid.outer_id, sizeof(t->outer_id));
			t->next = c->ctrs;
			c->ctrs = t;
			c->st.containers++;
			c->st.bytes += sizeof(*t);
		}
	}
	g = calloc(1, sizeof(*g));
	if (!g || (t && !(g->path = strdup(path)))) {
		free(g);
		if (t && !t->ncg)
			ctr_free(c, t);
		return NULL;
	}
	g->id = id;
	g->seen = c->gen;
	g->ctr = t;
	if (t) {
		g->cnext = t->cgroups;
		t->cgroups = g;
		t->ncg++;
		if (t->pub.exited) {
			/* a cgroup of it came back (restart with the same id) */
			t->pub.exited = false;
			t->pub.exited_ns = 0;
		}
	}
	g->hnext = c->tab[hash64(id) & (c->nbuckets - 1)];
	c->tab[hash64(id) & (c->nbuckets - 1)] = g;
	c->st.cgroups++;
	c->st.bytes += CG_BYTES(g->path);
	return g;
}

int vigil_containers_cgroup_added(struct vigil_containers *c, uint64_t id, const char *path)
{
	return cg_add(c, id, path) ? 0 : -ENOSPC;
}

static void mark_removed(struct vigil_containers *c, struct cg *g, uint64_t now_ns)
{
	if (g->removed_ns)
		return;
	g->removed_ns = now_ns ? now_ns : 1;
	if (g->ctr && ++g->ctr->ngone == g->ctr->ncg) {
		g->ctr->pub.exited = true;
		g->ctr->pub.exited_ns = now_ns;
	}
}

void vigil_containers_cgroup_removed(struct vigil_containers *c, uint64_t id, uint64_t now_ns)
{
	struct cg *g = cg_find(c, id);

	c->now = now_ns;
	if (g)
		mark_removed(c, g, now_ns);
}

static void walk(struct vigil_containers *c, char *rel, size_t len, int depth)
{
	char full[PATH_MAX];
	struct stat st;
	DIR *d;
	struct dirent *e;

	snprintf(full, sizeof(full), "%s%s", c->cgroup2, rel);
	if (stat(full, &st))
		return;
	cg_add(c, st.st_ino, len ? rel : "/");
	if (depth > 64 || !(d = opendir(full)))
		return;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);

		if (e->d_type != DT_DIR || e->d_name[0] == '.' || len + 1 + n >= PATH_MAX)
			continue;
		rel[len] = '/';
		memcpy(rel + len + 1, e->d_name, n + 1);
		walk(c, rel, len + 1 + n, depth + 1);
		rel[len] = 0;
	}
	closedir(d);
}

int vigil_containers_rescan(struct vigil_containers *c, uint64_t now_ns)
{
	char rel[PATH_MAX] = "";

	c->now = now_ns;
	c->gen++;
	walk(c, rel, 0, 0);
	for (uint32_t b = 0; b < c->nbuckets; b++)
		for (struct cg *g = c->tab[b]; g; g = g->hnext)
			if (g->seen != c->gen && !g->miss)
				mark_removed(c, g, now_ns);
	c->last_rescan_ns = now_ns;
	c->rescanned = true;
	return 0;
}

/* the path of a cgroup by its id: the id is the kernfs file handle */
static int path_by_handle(struct vigil_containers *c, uint64_t id, char *rel, size_t n)
{
	struct {
		struct file_handle fh;
		uint64_t id;
	} h;
	char link[64], full[PATH_MAX];
	size_t ml = strlen(c->cgroup2);
	ssize_t len;
	int fd;

	if (c->handle_type < 0)
		return -1;
	h.fh.handle_bytes = sizeof(uint64_t);
	h.fh.handle_type = c->handle_type;
	memcpy(h.fh.f_handle, &id, sizeof(id));
	fd = open_by_handle_at(c->mount_fd, &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	len = readlink(link, full, sizeof(full) - 1);
	close(fd);
	if (len < 0 || (size_t)len < ml || memcmp(full, c->cgroup2, ml))
		return -1;
	full[len] = 0;
	snprintf(rel, n, "%s", full[ml] ? full + ml : "/");
	return 0;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static uint64_t clock_now(const struct vigil_containers *c)
{
	return c->now ? c->now : mono_ns();
}

static struct cg *lazy(struct vigil_containers *c, uint64_t id)
{
	char rel[PATH_MAX];
	struct cg *g;
	uint64_t now;

	if (path_by_handle(c, id, rel, sizeof(rel)) == 0) {
		c->st.lazy_handle++;
		return cg_add(c, id, rel);
	}
	now = clock_now(c);
	if (!c->rescanned || now - c->last_rescan_ns >= c->o.rescan_min_ns) {
		c->st.lazy_rescan++;
		vigil_containers_rescan(c, now);
		g = cg_find(c, id);
		if (g)
			return g;
	}
	/* remember the miss for a while, so a stream of events does not repeat it */
	if (over_limits(c, sizeof(*g)))
		evict(c, sizeof(*g));
	if (over_limits(c, sizeof(*g)) || !(g = calloc(1, sizeof(*g))))
		return NULL;
	g->id = id;
	g->miss = true;
	g->removed_ns = now;
	g->seen = c->gen;
	g->hnext = c->tab[hash64(id) & (c->nbuckets - 1)];
	c->tab[hash64(id) & (c->nbuckets - 1)] = g;
	c->st.cgroups++;
	c->st.bytes += sizeof(*g);
	return g;
}

const struct vigil_container *vigil_container_lookup(struct vigil_containers *c, uint64_t id)
{
	struct cg *g = cg_find(c, id);

	/* a miss is retried once a rescan would be allowed again */
	if (g && g->miss && clock_now(c) - g->removed_ns >= c->o.rescan_min_ns) {
		cg_free(c, g);
		g = NULL;
	}
	if (!g)
		g = lazy(c, id);
	if (!g || g->miss) {
		c->st.lookup_miss++;
		return NULL;
	}
	if (!g->ctr) {
		c->st.lookup_host++;
		return NULL;
	}
	g->looked_up = true;
	g->popped_gen = g->ctr->pub.generation;
	if (g->ctr->pub.layout_unknown)
		c->st.lookup_unknown_layout++;
	else if (g->ctr->pub.name_state == VIGIL_CNAME_PENDING)
		c->st.lookup_pending++;
	else
		c->st.lookup_hit++;
	return &g->ctr->pub;
}

/* ---- reading the runtimes' state ---- */

/* reads a whole (bounded) file; the caller frees */
static char *slurp(const char *path, size_t max, size_t *len, struct stat *stp)
{
	struct stat st;
	char *buf;
	ssize_t n;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (size_t)st.st_size > max ||
	    !(buf = malloc(st.st_size + 1))) {
		close(fd);
		return NULL;
	}
	while (got < (size_t)st.st_size && (n = read(fd, buf + got, st.st_size - got)) > 0)
		got += n;
	close(fd);
	buf[got] = 0;
	*len = got;
	if (stp)
		*stp = st;
	return buf;
}

static int read_meta(struct vigil_containers *c, const char *path, int (*parse)(const char *, size_t,
			     struct vigil_cmeta *), struct vigil_cmeta *m)
{
	size_t len;
	char *buf = slurp(path, 4 << 20, &len, NULL);
	int err;

	if (!buf)
		return -2;	/* no such state: another runtime's, or not written yet */
	c->st.state_reads++;
	err = parse(buf, len, m);
	free(buf);
	return err;
}

static int meta_docker(struct vigil_containers *c, const char *id, struct vigil_cmeta *m)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/var/lib/docker/containers/%s/config.v2.json",
		     c->root, id) >= (int)sizeof(path))
		return -2;
	return read_meta(c, path, vigil_cmeta_docker, m);
}

/* containerd keeps each task's OCI bundle under <state>/<namespace>/<id> */
static int meta_containerd(struct vigil_containers *c, const char *id, struct vigil_cmeta *m)
{
	static const char *const states[] = {
		"/run/containerd/io.containerd.runtime.v2.task",
		"/run/k3s/containerd/io.containerd.runtime.v2.task",
		"/run/containerd/io.containerd.runtime.v1.linux",
	};

	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		char dir[PATH_MAX], path[PATH_MAX * 2];
		struct dirent *e;
		DIR *d;
		int err = -1;
		bool found = false;

		snprintf(dir, sizeof(dir), "%s%s", c->root, states[i]);
		if (!(d = opendir(dir)))
			continue;
		while (!found && (e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s/%s/config.json", dir, e->d_name, id);
			if (access(path, F_OK))
				continue;
			found = true;
			err = read_meta(c, path, vigil_cmeta_oci, m);
			/* a bundle without Kubernetes or nerdctl annotations: there is no name */
		}
		closedir(d);
		if (found)
			return err;
	}
	return -2;
}

static const char *const storage_roots[] = {
	"/run/containers/storage",	/* runroot: CRI-O's userdata */
	"/var/lib/containers/storage",	/* graphroot: podman's userdata, containers.json */
};

/* containers/storage: <root>/<driver>-containers/<id>/userdata/config.json */
static int meta_userdata(struct vigil_containers *c, const char *id, struct vigil_cmeta *m)
{
	int ret = -2;

	for (size_t i = 0; i < 2 && ret; i++) {
		char dir[PATH_MAX], path[PATH_MAX * 2];
		struct dirent *e;
		DIR *d;

		snprintf(dir, sizeof(dir), "%s%s", c->root, storage_roots[i]);
		if (!(d = opendir(dir)))
			continue;
		while (ret && (e = readdir(d))) {
			size_t n = strlen(e->d_name);

			if (n < 12 || strcmp(e->d_name + n - 11, "-containers"))
				continue;
			snprintf(path, sizeof(path), "%s/%s/%s/userdata/config.json", dir, e->d_name, id);
			if (access(path, F_OK))
				continue;
			ret = read_meta(c, path, vigil_cmeta_oci, m) ? -1 : 0;
		}
		closedir(d);
	}
	return ret;
}

static int meta_storage(struct vigil_containers *c, const char *id, struct vigil_cmeta *m)
{
	char dir[PATH_MAX], path[PATH_MAX * 2];
	struct dirent *e;
	DIR *d;
	int ret = -2;

	if (snprintf(dir, sizeof(dir), "%s%s", c->root, storage_roots[1]) >= (int)sizeof(dir) ||
	    !(d = opendir(dir)))
		return -2;
	while (ret && (e = readdir(d))) {
		size_t n = strlen(e->d_name);
		struct stat st;

		if (n < 12 || strcmp(e->d_name + n - 11, "-containers"))
			continue;
		snprintf(path, sizeof(path), "%s/%s/containers.json", dir, e->d_name);
		if (stat(path, &st))
			continue;
		if (!c->store_buf || strcmp(path, c->store_path) || st.st_size != c->store_size ||
		    st.st_mtim.tv_sec != c->store_mtime.tv_sec ||
		    st.st_mtim.tv_nsec != c->store_mtime.tv_nsec) {
			size_t len;
			char *buf = slurp(path, 64 << 20, &len, &st);

			if (!buf)
				continue;
			c->st.bytes -= c->store_len;
			free(c->store_buf);
			c->store_buf = buf;
			c->store_len = len;
			c->st.bytes += len;
			c->st.state_reads++;
			scpy(c->store_path, sizeof(c->store_path), path);
			c->store_mtime = st.st_mtim;
			c->store_size = st.st_size;
		}
		ret = vigil_cmeta_storage(c->store_buf, c->store_len, id, m) ? -1 : 0;
	}
	closedir(d);
	return ret;
}

/* what the runtime's state says about id; may refine *rt when the path did not tell */
static int meta_for(struct vigil_containers *c, enum vigil_runtime *rt, const char *id,
		    struct vigil_cmeta *m)
{
	switch (*rt) {
	case VIGIL_RT_DOCKER:
		return meta_docker(c, id, m);
	case VIGIL_RT_PODMAN:
		return meta_storage(c, id, m);
	case VIGIL_RT_CONTAINERD:
		return meta_containerd(c, id, m);
	case VIGIL_RT_CRIO:
		return meta_userdata(c, id, m) == 0 ? 0 : meta_storage(c, id, m);
	case VIGIL_RT_CRI:
	case VIGIL_RT_UNKNOWN: {
		/* the path does not say: the runtime whose state has the id is the one */
		/* docker first: its file exists only for its own containers, while
		 * docker's containers also have a (nameless) containerd bundle */
		static const enum vigil_runtime order[] = {
			VIGIL_RT_DOCKER, VIGIL_RT_CONTAINERD, VIGIL_RT_CRIO, VIGIL_RT_PODMAN,
		};

		for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
			int (*fn)(struct vigil_containers *, const char *, struct vigil_cmeta *) =
				order[i] == VIGIL_RT_CONTAINERD ? meta_containerd :
				order[i] == VIGIL_RT_CRIO ? meta_userdata :
				order[i] == VIGIL_RT_DOCKER ? meta_docker : meta_storage;
			int err = fn(c, id, m);

			/* podman and CRI-O share containers/storage: libpod's userdata has no
			 * Kubernetes keys, so an unnamed userdata hit falls through */
			if (err == 0 || (err == -1 && order[i] != VIGIL_RT_CRIO)) {
				*rt = order[i];
				return err;
			}
		}
		return -2;
	}
	default:
		return -2;
	}
}

static void resolve(struct vigil_containers *c, struct ctr *t, uint64_t now_ns)
{
	struct vigil_container *p = &t->pub;
	enum vigil_runtime rt = p->runtime;
	struct vigil_cmeta m;
	bool changed = false;
	int err = meta_for(c, &rt, p->id, &m);

	if (err == -2)
		c->st.state_missing++;
	if (rt != p->runtime) {
		p->runtime = rt;
		changed = true;
	}
	if (err == 0) {
		snprintf(p->name, sizeof(p->name), "%s", m.name);
		p->name_state = VIGIL_CNAME_KNOWN;
		changed = true;
	}
	if (err != -2) {
		if (m.pod[0] && strcmp(p->pod, m.pod)) {
			snprintf(p->pod, sizeof(p->pod), "%s", m.pod);
			changed = true;
		}
		if (m.namespace[0] && strcmp(p->namespace, m.namespace)) {
			snprintf(p->namespace, sizeof(p->namespace), "%s", m.namespace);
			changed = true;
		}
		if (!p->pod_uid[0] && m.pod_uid[0]) {
			snprintf(p->pod_uid, sizeof(p->pod_uid), "%s", m.pod_uid);
			changed = true;
		}
		p->sandbox = m.sandbox;
	}
	/* docker in a pod: the pod's name is in the outer container's state */
	if (t->outer_id[0] && !p->pod[0]) {
		enum vigil_runtime ort = t->outer_rt;
		struct vigil_cmeta om;

		if (meta_for(c, &ort, t->outer_id, &om) != -2 && om.pod[0]) {
			snprintf(p->pod, sizeof(p->pod), "%s", om.pod);
			snprintf(p->namespace, sizeof(p->namespace), "%s", om.namespace);
			changed = true;
		}
	}
	if (p->name_state == VIGIL_CNAME_PENDING) {
		/* the runtime may not have written its state yet: try again later */
		if (++t->tries >= c->o.name_tries) {
			p->name_state = VIGIL_CNAME_NONE;
			changed = true;
		} else {
			t->next_try_ns = now_ns + (100000000ULL << t->tries);
		}
	}
	if (changed) {
		p->generation++;
		for (struct cg *g = t->cgroups; g; g = g->cnext)
			if (g->looked_up && g->popped_gen != p->generation)
				q_push(c, g);
	}
}

int vigil_containers_tick(struct vigil_containers *c, uint64_t now_ns)
{
	int n = 0;

	c->now = now_ns;
	for (struct ctr *t = c->ctrs; t; t = t->next)
		if (t->pub.name_state == VIGIL_CNAME_PENDING && now_ns >= t->next_try_ns)
			resolve(c, t, now_ns);
	for (uint32_t b = 0; b < c->nbuckets; b++) {
		struct cg *g = c->tab[b], *next;

		for (; g; g = next) {
			next = g->hnext;
			if (g->removed_ns && now_ns >= g->removed_ns + c->o.retain_ns)
				cg_free(c, g);
		}
	}
	for (struct cg *g = c->qhead; g; g = g->qnext)
		n++;
	return n;
}

void vigil_containers_resolve_now(struct vigil_containers *c)
{
	for (struct ctr *t = c->ctrs; t; t = t->next) {
		if (t->pub.name_state != VIGIL_CNAME_PENDING)
			continue;
		t->tries = c->o.name_tries - 1;	/* this read is the last */
		resolve(c, t, clock_now(c));
	}
}

bool vigil_containers_next_changed(struct vigil_containers *c, uint64_t *cgroup_id,
				   const struct vigil_container **ctr)
{
	struct cg *g = c->qhead;

	if (!g)
		return false;
	c->qhead = g->qnext;
	if (!c->qhead)
		c->qtail = &c->qhead;
	g->queued = false;
	g->popped_gen = g->ctr->pub.generation;
	*cgroup_id = g->id;
	*ctr = &g->ctr->pub;
	return true;
}

const struct vigil_container *vigil_containers_next(struct vigil_containers *c, size_t *it)
{
	struct ctr *t = c->ctrs;

	for (size_t i = 0; t && i < *it; i++)
		t = t->next;
	if (!t)
		return NULL;
	(*it)++;
	return &t->pub;
}

static bool id_prefix(const char *s, size_t n)
{
	return n >= 12 && n <= 64 && is_hex(s, n);
}

static void list_running(struct vigil_containers *c, char *err, size_t errlen, size_t o)
{
	int k = 0;

	for (struct ctr *t = c->ctrs; t && o + 1 < errlen; t = t->next) {
		if (t->pub.exited)
			continue;
		o += snprintf(err + o, errlen - o, "%s%s (%s %.12s)", k++ ? ", " : "; running: ",
			      t->pub.name[0] ? t->pub.name : "-", vigil_runtime_name(t->pub.runtime), t->pub.id);
	}
	if (!k && o + 1 < errlen)
		snprintf(err + o, errlen - o, "; no containers are running");
}

int vigil_containers_match(struct vigil_containers *c, const char *spec,
			   struct vigil_container_match *out, int max, char *err, size_t errlen)
{
	const char *p = spec;
	int n = 0;

	/* names are needed now */
	vigil_containers_resolve_now(c);
	while (*p) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		int hits = 0, idhits = 0;
		struct ctr *idhit = NULL;

		if (!len) {
			snprintf(err, errlen, "empty container name in '%s'", spec);
			return -1;
		}
		for (struct ctr *t = c->ctrs; t; t = t->next) {
			if (t->pub.exited)
				continue;
			if (strlen(t->pub.name) == len && !memcmp(t->pub.name, p, len)) {
				if (n >= max) {
					snprintf(err, errlen, "too many containers in '%s' (at most %d)", spec, max);
					return -1;
				}
				out[n++] = (struct vigil_container_match){ t->pub.cgroup_id, t->pub.cgroup_level, &t->pub };
				hits++;
			} else if (id_prefix(p, len) && !strncmp(t->pub.id, p, len)) {
				idhit = t;
				idhits++;
			}
		}
		if (!hits && idhits > 1) {
			snprintf(err, errlen, "container id prefix '%.*s' is ambiguous", (int)len, p);
			list_running(c, err, errlen, strlen(err));
			return -1;
		}
		if (!hits && idhits == 1) {
			if (n >= max) {
				snprintf(err, errlen, "too many containers in '%s' (at most %d)", spec, max);
				return -1;
			}
			out[n++] = (struct vigil_container_match){ idhit->pub.cgroup_id, idhit->pub.cgroup_level,
								   &idhit->pub };
			hits++;
		}
		if (!hits) {
			snprintf(err, errlen, "unknown container '%.*s'", (int)len, p);
			list_running(c, err, errlen, strlen(err));
			return -1;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	if (!n)
		snprintf(err, errlen, "no container named in '%s'", spec);
	return n ? n : -1;
}

void vigil_containers_get_stats(const struct vigil_containers *c, struct vigil_containers_stats *st)
{
	*st = c->st;
}

const char *vigil_containers_cgroup2(const struct vigil_containers *c)
{
	return c->cgroup2;
}

struct vigil_containers *vigil_containers_new(const struct vigil_containers_opts *o)
{
	struct vigil_containers *c = calloc(1, sizeof(*c));
	struct {
		struct file_handle fh;
		unsigned char buf[64];
	} h;
	struct statfs sf;
	int mnt;

	if (!c)
		return NULL;
	if (o)
		c->o = *o;
	if (!c->o.max_cgroups)
		c->o.max_cgroups = 16384;
	if (!c->o.max_containers)
		c->o.max_containers = 4096;
	if (!c->o.max_bytes)
		c->o.max_bytes = 16 << 20;
	if (!c->o.retain_ns)
		c->o.retain_ns = 30000000000ULL;
	if (!c->o.rescan_min_ns)
		c->o.rescan_min_ns = 1000000000ULL;
	if (!c->o.name_tries)
		c->o.name_tries = 5;
	if (c->o.cgroup2) {
		snprintf(c->cgroup2, sizeof(c->cgroup2), "%s", c->o.cgroup2);
	} else if (vigil_find_mount("cgroup2", c->cgroup2, sizeof(c->cgroup2))) {
		free(c);
		errno = ENOENT;
		return NULL;
	}
	/* "/" would make every path start with "//" */
	if (!strcmp(c->cgroup2, "/"))
		c->cgroup2[0] = 0;
	snprintf(c->root, sizeof(c->root), "%s", c->o.root && strcmp(c->o.root, "/") ? c->o.root : "");
	c->o.cgroup2 = c->o.root = NULL;
	for (c->nbuckets = 64; c->nbuckets < c->o.max_cgroups / 2; c->nbuckets <<= 1)
		;
	c->tab = calloc(c->nbuckets, sizeof(*c->tab));
	if (!c->tab) {
		free(c);
		return NULL;
	}
	c->qtail = &c->qhead;
	c->st.bytes = sizeof(*c) + c->nbuckets * sizeof(*c->tab);
	c->mount_fd = -1;
	c->handle_type = -1;
	/* cgroup2 (kernfs) file handles are the 64-bit cgroup id itself */
	mnt = open(c->cgroup2[0] ? c->cgroup2 : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mnt >= 0 && fstatfs(mnt, &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC) {
		int mount_id;

		h.fh.handle_bytes = sizeof(h.buf);
		if (name_to_handle_at(mnt, "", &h.fh, &mount_id, AT_EMPTY_PATH) == 0 &&
		    h.fh.handle_bytes == sizeof(uint64_t))
			c->handle_type = h.fh.handle_type;
	}
	c->mount_fd = mnt;
	if (!c->o.no_scan)
		vigil_containers_rescan(c, c->o.now_ns ? c->o.now_ns : mono_ns());
	return c;
}

void vigil_containers_free(struct vigil_containers *c)
{
	if (!c)
		return;
	for (uint32_t b = 0; b < c->nbuckets; b++) {
		while (c->tab[b])
			cg_free(c, c->tab[b]);
	}
	free(c->tab);
	free(c->store_buf);
	if (c->mount_fd >= 0)
		close(c->mount_fd);
	free(c);
}
