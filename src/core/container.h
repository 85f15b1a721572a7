/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Container identity from a cgroup id, without a runtime socket.
 *
 * Two layers:
 *  - vigil_container_parse_path(): pure, one table of cgroup path layouts ->
 *    runtime, 64-hex id, pod uid, QoS class. Unit-tested on real paths.
 *  - struct vigil_containers: the resolver. cgroup id -> path (a scan of the
 *    cgroup2 tree at start, then cgroups fed in as they appear, or looked up
 *    lazily by id), path -> identity, identity -> name and Kubernetes
 *    metadata read from the runtimes' state on disk. All state is in the
 *    object: the agent has one, shared by every feature.
 *
 * Nothing here blocks on a runtime: what the path gives is known at lookup;
 * names need a file read, done in vigil_containers_tick(), and the cgroups
 * whose container changed are queued for the caller to emit a `container`
 * record (vigil_containers_next_changed()).
 */
#ifndef VIGIL_CONTAINER_H
#define VIGIL_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum vigil_runtime {
	VIGIL_RT_NONE = 0,
	VIGIL_RT_DOCKER,
	VIGIL_RT_PODMAN,
	VIGIL_RT_CONTAINERD,
	VIGIL_RT_CRIO,
	VIGIL_RT_CRI,		/* a Kubernetes container whose path does not name its runtime */
	VIGIL_RT_NSPAWN,	/* systemd-nspawn / machined */
	VIGIL_RT_LXC,
	VIGIL_RT_UNKNOWN,	/* a 64-hex id in a layout no table entry knows */
	VIGIL_RT__COUNT,
};

enum vigil_qos {
	VIGIL_QOS_NONE = 0,	/* not a Kubernetes pod */
	VIGIL_QOS_GUARANTEED,
	VIGIL_QOS_BURSTABLE,
	VIGIL_QOS_BESTEFFORT,
};

const char *vigil_runtime_name(enum vigil_runtime rt);	/* "docker", "podman", ... */
const char *vigil_qos_name(enum vigil_qos q);		/* NULL for VIGIL_QOS_NONE */

#define VIGIL_CID_MAX 65	/* 64 hex + NUL */
#define VIGIL_CNAME_MAX 256	/* a Kubernetes pod name is up to 253 */
#define VIGIL_CNS_MAX 64	/* a Kubernetes namespace is up to 63 */
#define VIGIL_PODUID_MAX 37	/* 8-4-4-4-12 + NUL */

/* ---- path -> identity (pure) ---- */

enum vigil_cparse {
	VIGIL_CP_HOST = 0,	/* no container (pod_uid may still be set: a pod-level cgroup) */
	VIGIL_CP_CONTAINER = 1,
};

struct vigil_container_id {
	enum vigil_runtime runtime;
	/* the 64-hex id; for nspawn and LXC, which have none, the machine/container name */
	char id[VIGIL_CID_MAX];
	char name[VIGIL_CNAME_MAX];	/* only when the path names it (nspawn, LXC) */
	char pod_uid[VIGIL_PODUID_MAX];	/* with dashes, as the API server prints it */
	enum vigil_qos qos;
	bool layout_unknown;		/* found as a bare 64-hex run, no table entry matched */
	/* a container nested in another (docker in a pod): the outer one */
	enum vigil_runtime outer_runtime;
	char outer_id[VIGIL_CID_MAX];
	/* length of the path prefix that is the container's own cgroup; deeper
	 * components are its sub-cgroups ("/container", "init.scope") */
	size_t top_len;
	int top_level;			/* cgroup level of that prefix (root = 0) */
};

/* cgroup_path is relative to the cgroup2 root ("/libpod_parent/libpod-<id>").
 * Innermost container wins; the pod comes from any enclosing pod cgroup. */
enum vigil_cparse vigil_container_parse_path(const char *cgroup_path, struct vigil_container_id *out);

/* ---- the resolved record ---- */

enum vigil_cname_state {
	VIGIL_CNAME_PENDING = 0,	/* a state read is due; comes later as a changed entry */
	VIGIL_CNAME_KNOWN,
	VIGIL_CNAME_NONE,		/* the runtime's state was not found: there is no name to give */
};

struct vigil_container {
	uint64_t cgroup_id;		/* the container's own (top) cgroup */
	int cgroup_level;		/* its level, for bpf_get_current_ancestor_cgroup_id() */
	enum vigil_runtime runtime;
	char id[VIGIL_CID_MAX];
	char name[VIGIL_CNAME_MAX];	/* "" unless name_state is KNOWN */
	char pod[VIGIL_CNAME_MAX];	/* Kubernetes pod name, "" when not a pod or not known */
	char namespace[VIGIL_CNS_MAX];
	char pod_uid[VIGIL_PODUID_MAX];
	enum vigil_qos qos;
	bool sandbox;			/* the pod's sandbox (pause) container */
	bool layout_unknown;
	enum vigil_cname_state name_state;
	bool exited;			/* every cgroup of it is gone; kept until retain_ns after */
	uint64_t exited_ns;
	uint32_t generation;		/* bumped when the metadata changes */
};

/* ---- the resolver ---- */

struct vigil_containers_opts {
	const char *cgroup2;	/* the cgroup2 mount; NULL: from /proc/self/mountinfo */
	const char *root;	/* prefix of the runtimes' state paths; NULL: "/" (tests use fixtures) */
	uint32_t max_cgroups;	/* 0: 16384 */
	uint32_t max_containers; /* 0: 4096 */
	uint64_t max_bytes;	/* memory estimate bound; 0: 16 MiB */
	uint64_t retain_ns;	/* how long a removed cgroup still resolves; 0: 30 s */
	uint64_t rescan_min_ns;	/* lazy rescans of unknown ids no more often; 0: 1 s */
	uint32_t name_tries;	/* state reads before a name is given up (NONE); 0: 5 */
	bool no_scan;		/* skip the start-up scan */
	uint64_t now_ns;	/* the clock at start; 0: CLOCK_MONOTONIC. Every time given
				 * later (tick, rescan, removed) must be on the same clock */
};

struct vigil_containers;

/* NULL with errno set (ENOENT: no cgroup2 mount) */
struct vigil_containers *vigil_containers_new(const struct vigil_containers_opts *o);
void vigil_containers_free(struct vigil_containers *c);
const char *vigil_containers_cgroup2(const struct vigil_containers *c);

/*
 * NULL for a host task (or an id that cannot be resolved), else the
 * container. The pointer stays valid until the next call that takes a
 * non-const resolver. Does no state file read: a name not known yet is
 * PENDING and is read by the next tick.
 */
const struct vigil_container *vigil_container_lookup(struct vigil_containers *c, uint64_t cgroup_id);

/*
 * The periodic work, from the event loop (an interval timer, or after each
 * ring buffer batch): reads pending names (retried up to name_tries times,
 * then NONE), expires cgroups removed more than retain_ns ago. Returns how
 * many entries are waiting on the changed queue.
 */
int vigil_containers_tick(struct vigil_containers *c, uint64_t now_ns);

/* Reads every pending name now, once (start-up, one-shot listings): what
 * is not found then is NONE. */
void vigil_containers_resolve_now(struct vigil_containers *c);

/*
 * Pops one (cgroup id, container) whose container's metadata changed since
 * it was last looked up or popped: emit a `container` record for it. Only
 * cgroups that were looked up are queued. Returns false when empty.
 */
bool vigil_containers_next_changed(struct vigil_containers *c, uint64_t *cgroup_id,
				   const struct vigil_container **ctr);

/* Feeding from the cgroup tracepoints (cgroup:cgroup_mkdir/rmdir) or from a
 * rescan. path is relative to the cgroup2 root. */
int vigil_containers_cgroup_added(struct vigil_containers *c, uint64_t cgroup_id, const char *path);
void vigil_containers_cgroup_removed(struct vigil_containers *c, uint64_t cgroup_id, uint64_t now_ns);
/* Walks the tree again: adds new cgroups, marks vanished ones removed at now_ns. */
int vigil_containers_rescan(struct vigil_containers *c, uint64_t now_ns);

/* Iterates every known container, exited ones included (until they expire):
 * *it = 0 to start. */
const struct vigil_container *vigil_containers_next(struct vigil_containers *c, size_t *it);

/*
 * --container NAME|ID[,NAME|ID...]: fills out[] with the top cgroup of each
 * running container named (by name, full id, or an id prefix of at least 12
 * hex digits). Names still pending are read first. Returns the count, or -1
 * with err saying which item is unknown or ambiguous and listing the
 * running containers. A name may match several containers (the same
 * Kubernetes container name in two pods): all are returned.
 */
struct vigil_container_match {
	uint64_t cgroup_id;
	int level;
	const struct vigil_container *ctr;
};
int vigil_containers_match(struct vigil_containers *c, const char *spec,
			   struct vigil_container_match *out, int max, char *err, size_t errlen);

struct vigil_containers_stats {
	/* lookups by result */
	uint64_t lookup_hit;		/* a container, name known or given up (NONE) */
	uint64_t lookup_pending;	/* a container, name not read yet */
	uint64_t lookup_unknown_layout;	/* a container found only as a bare 64-hex id */
	uint64_t lookup_host;		/* a known cgroup, not a container */
	uint64_t lookup_miss;		/* an id no path was found for */
	/* how unknown ids were found */
	uint64_t lazy_handle;		/* open_by_handle_at */
	uint64_t lazy_rescan;
	uint64_t state_reads, state_missing;
	uint64_t evicted;		/* entries dropped to stay within the limits */
	/* cache sizes */
	uint32_t cgroups, containers;
	uint64_t bytes;			/* memory estimate */
};
void vigil_containers_get_stats(const struct vigil_containers *c, struct vigil_containers_stats *st);

/* ---- the on-disk readers (exposed for the unit tests) ---- */

struct vigil_cmeta {
	char name[VIGIL_CNAME_MAX];
	char pod[VIGIL_CNAME_MAX];
	char namespace[VIGIL_CNS_MAX];
	char pod_uid[VIGIL_PODUID_MAX];
	bool sandbox;
};

/* Each returns 0 when the document gave a name, -1 otherwise. */
/* docker: /var/lib/docker/containers/<id>/config.v2.json */
int vigil_cmeta_docker(const char *json, size_t len, struct vigil_cmeta *m);
/* an OCI runtime spec (config.json) written by containerd's CRI, CRI-O, nerdctl */
int vigil_cmeta_oci(const char *json, size_t len, struct vigil_cmeta *m);
/* containers/storage: <graphroot>/<driver>-containers/containers.json (podman, CRI-O) */
int vigil_cmeta_storage(const char *json, size_t len, const char *id, struct vigil_cmeta *m);

/* A string at a path of object keys, e.g. {"annotations", "io.kubernetes.pod.name"}.
 * 0 and the unescaped value (truncated to n) if found; -1 otherwise. */
int vigil_json_get_str(const char *json, size_t len, const char *const *keys, int nkeys,
		       char *out, size_t n);

#endif
