/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Guard policies: the text format (docs/guard.md), its strict parser, the
 * resolution of paths and scopes to what the kernel compares (inodes,
 * cgroup ids), and the compiler to the entries of the BPF maps.
 *
 * The parser and the compiler are pure: unit tests link them directly. The
 * resolver touches the file system through callbacks, so tests can fake it.
 */
#ifndef VIGIL_GUARD_POLICY_H
#define VIGIL_GUARD_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "vigil/events.h"

#define VIGIL_GD_MAX_RULES 100000
#define VIGIL_GD_DIAG_MAX 100
#define VIGIL_GD_ARG_MAX 4096

enum vigil_gd_rkind {
	VIGIL_GD_R_PATH,	/* exec of one file (its inode) */
	VIGIL_GD_R_DIR,		/* exec of anything under a directory: /dir/ ** */
	VIGIL_GD_R_HASH,	/* exec of a file with this sha256 */
	VIGIL_GD_R_CONNECT,	/* connect/sendmsg to a prefix and port range */
};

enum vigil_gd_scope_kind {
	VIGIL_GD_S_HOST,
	VIGIL_GD_S_CGROUP,
	VIGIL_GD_S_CONTAINER,
};

struct vigil_gd_rule {
	uint32_t line, col;		/* of the rule's first word */
	uint32_t arg_col, scope_col;	/* for resolution errors */
	uint8_t action;			/* enum vigil_gd_action */
	uint8_t kind;			/* enum vigil_gd_rkind */
	uint8_t scope_kind;		/* enum vigil_gd_scope_kind */
	uint8_t family;			/* connect: 4 or 6 */
	uint8_t plen;			/* connect: prefix length in its family */
	uint16_t port_lo, port_hi;
	uint8_t addr[16];		/* connect: IPv4 in the first 4 bytes, masked */
	uint8_t sha256[32];
	char *arg;			/* path (a directory without the slash-star-star) */
	char *scope;			/* cgroup path or container name */
	/* filled by vigil_gd_resolve */
	uint32_t dev;			/* kernel encoding */
	uint64_t ino;
	uint64_t scope_id;		/* 0: the host */
	uint32_t scope_level;
};

struct vigil_gd_diag {
	uint32_t line, col;
	bool warning;
	char msg[200];
};

struct vigil_gd_policy {
	const char *name;		/* file name, for messages */
	struct vigil_gd_rule *rules;
	uint32_t n, cap;
	struct vigil_gd_diag *diags;
	uint32_t ndiags, cap_diags;
	uint32_t nerrors, nwarnings;
};

/* text of len bytes; returns the number of errors (non-zero: do not use) */
int vigil_gd_parse(struct vigil_gd_policy *p, const char *name, const char *text, size_t len);
/* read and parse a file; an unreadable file is one error at line 0 */
int vigil_gd_parse_file(struct vigil_gd_policy *p, const char *path);
void vigil_gd_policy_free(struct vigil_gd_policy *p);
/* "file:line:col: error: msg", one per line */
void vigil_gd_print_diags(const struct vigil_gd_policy *p, FILE *f);
/* add a message about a rule (resolution errors) */
void vigil_gd_diag(struct vigil_gd_policy *p, bool warning, uint32_t line, uint32_t col,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* the file system and cgroups, as the resolver sees them */
struct vigil_gd_env {
	/* stat() following symlinks: 0 or -errno; dev in the kernel's encoding */
	int (*stat)(void *ctx, const char *path, uint32_t *dev, uint64_t *ino, bool *is_dir,
		    bool *is_reg);
	/* a cgroup path (relative to the cgroup2 mount, or absolute) or a
	 * container name -> id and level; 0 or -errno with a reason in err */
	int (*scope)(void *ctx, int kind, const char *name, uint64_t *id, uint32_t *level,
		     char *err, size_t errlen);
	void *ctx;
};

/* paths to inodes and scopes to cgroup ids; errors go to p's diagnostics */
int vigil_gd_resolve(struct vigil_gd_policy *p, const struct vigil_gd_env *env);

/* the map entries of one generation */
struct vigil_gd_tables {
	struct vigil_gd_ino_key *fkeys;
	struct vigil_gd_verdict *fvals;
	uint32_t nfiles;
	struct vigil_gd_ino_key *dkeys;
	struct vigil_gd_verdict *dvals;
	uint32_t ndirs;
	struct vigil_gd_hash_key *hkeys;
	struct vigil_gd_verdict *hvals;
	uint32_t nhashes;
	struct vigil_gd_net_key *nkeys;
	struct vigil_gd_net_val *nvals;
	uint32_t nnet;
	struct vigil_gd_gen gen;
};

/*
 * Build the entries for generation gen (0 or 1) from a resolved policy.
 * Two rules with the same match (kind, target, scope) are an error when
 * they disagree and a warning when they repeat. Returns the number of
 * errors (added to p's diagnostics).
 */
int vigil_gd_compile(struct vigil_gd_policy *p, uint32_t gen, bool dry_run,
		     struct vigil_gd_tables *t);
void vigil_gd_tables_free(struct vigil_gd_tables *t);

/* the reference decision for a connect, straight from the rules (tests) */
struct vigil_gd_verdict vigil_gd_eval_connect(const struct vigil_gd_policy *p, int family,
					      const uint8_t addr[16], uint16_t port,
					      const uint64_t *scopes, uint32_t nscopes);
/* the datapath's algorithm over the compiled tables (tests): scopes[] are the
 * task's cgroup ids at gen.levels[], in that order */
struct vigil_gd_verdict vigil_gd_simulate_connect(const struct vigil_gd_tables *t, uint32_t gen,
						  int family, const uint8_t addr[16], uint16_t port,
						  const uint64_t *scope_at_level);

const char *vigil_gd_action_name(uint32_t a);
const char *vigil_gd_how_name(uint32_t how);
/* canonical text of a rule */
void vigil_gd_rule_format(const struct vigil_gd_rule *r, char *buf, size_t n);

/* sha256 of a buffer, and of everything read from fd (0 or -errno) */
void vigil_sha256(const void *data, size_t len, uint8_t out[32]);
int vigil_sha256_fd(int fd, uint8_t out[32]);

#endif
