/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * A YAML document as a small tree (libyaml does the parsing): mappings,
 * sequences and scalars, each node with its line and column, so every
 * complaint about a config file names file:line:col.
 */
#ifndef VIGIL_CONFIG_H
#define VIGIL_CONFIG_H

#include <stddef.h>
#include <stdint.h>

enum vcfg_kind { VCFG_SCALAR, VCFG_MAP, VCFG_SEQ };

struct vcfg_node {
	enum vcfg_kind kind;
	uint32_t line, col;		/* 1-based */
	char *value;			/* scalars */
	/* maps: keys[i] -> kids[i]; sequences: kids[i] */
	struct vcfg_node **kids;
	struct vcfg_node **keys;
	size_t n;
};

struct vcfg_err {
	char msg[512];			/* "FILE:LINE:COL: error: ..." */
};

/* the first document of the file; NULL with err set */
struct vcfg_node *vcfg_load(const char *path, struct vcfg_err *err);
struct vcfg_node *vcfg_parse(const char *name, const char *text, size_t len, struct vcfg_err *err);
void vcfg_free(struct vcfg_node *n);
/* the value of key in a mapping, or NULL */
struct vcfg_node *vcfg_get(const struct vcfg_node *map, const char *key);
/* "FILE:LINE:COL: error: " + fmt into err; returns -1 */
int vcfg_error(struct vcfg_err *err, const char *file, const struct vcfg_node *at,
	       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
