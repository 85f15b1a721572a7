// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include "core/config.h"

#define VCFG_MAX_BYTES (1u << 20)	/* a config larger than this is not a config */
#define VCFG_MAX_DEPTH 16

int vcfg_error(struct vcfg_err *err, const char *file, const struct vcfg_node *at,
	       const char *fmt, ...)
{
	va_list ap;
	int o;

	o = snprintf(err->msg, sizeof(err->msg), "%s:%u:%u: error: ", file, at ? at->line : 0,
		     at ? at->col : 0);
	va_start(ap, fmt);
	if (o >= 0 && (size_t)o < sizeof(err->msg))
		vsnprintf(err->msg + o, sizeof(err->msg) - o, fmt, ap);
	va_end(ap);
	return -1;
}

void vcfg_free(struct vcfg_node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++) {
		vcfg_free(n->kids[i]);
		if (n->keys)
			vcfg_free(n->keys[i]);
	}
	free(n->kids);
	free(n->keys);
	free(n->value);
	free(n);
}

struct vcfg_node *vcfg_get(const struct vcfg_node *map, const char *key)
{
	if (!map || map->kind != VCFG_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++)
		if (!strcmp(map->keys[i]->value, key))
			return map->kids[i];
	return NULL;
}

static struct vcfg_node *node_new(enum vcfg_kind kind, const yaml_mark_t *m)
{
	struct vcfg_node *n = calloc(1, sizeof(*n));

	if (n) {
		n->kind = kind;
		n->line = m->line + 1;
		n->col = m->column + 1;
	}
	return n;
}

static int node_add(struct vcfg_node *p, struct vcfg_node *key, struct vcfg_node *kid)
{
	struct vcfg_node **k = realloc(p->kids, (p->n + 1) * sizeof(*k)), **ks;

	if (!k)
		return -1;
	p->kids = k;
	if (p->kind == VCFG_MAP) {
		ks = realloc(p->keys, (p->n + 1) * sizeof(*ks));
		if (!ks)
			return -1;
		p->keys = ks;
		p->keys[p->n] = key;
	}
	p->kids[p->n++] = kid;
	return 0;
}

struct parser {
	yaml_parser_t y;
	const char *name;
	struct vcfg_err *err;
};

static int next(struct parser *p, yaml_event_t *ev)
{
	if (yaml_parser_parse(&p->y, ev))
		return 0;
	snprintf(p->err->msg, sizeof(p->err->msg), "%s:%zu:%zu: error: %s%s%s", p->name,
		 p->y.problem_mark.line + 1, p->y.problem_mark.column + 1,
		 p->y.problem ? p->y.problem : "invalid YAML", p->y.context ? " " : "",
		 p->y.context ? p->y.context : "");
	return -1;
}

/* the node that starts with ev (already read) */
static struct vcfg_node *parse_node(struct parser *p, yaml_event_t *ev, int depth)
{
	struct vcfg_node *n = NULL, *key = NULL, *kid;
	struct vcfg_err *err = p->err;
	yaml_event_t e;
	bool map;

	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		n = node_new(VCFG_SCALAR, &ev->start_mark);
		if (n)
			n->value = strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
		if (!n || !n->value)
			goto oom;
		return n;
	case YAML_ALIAS_EVENT:
		node_new(VCFG_SCALAR, &ev->start_mark);
		snprintf(err->msg, sizeof(err->msg), "%s:%zu:%zu: error: aliases are not supported",
			 p->name, ev->start_mark.line + 1, ev->start_mark.column + 1);
		return NULL;
	case YAML_MAPPING_START_EVENT:
	case YAML_SEQUENCE_START_EVENT:
		break;
	default:
		snprintf(err->msg, sizeof(err->msg), "%s:%zu:%zu: error: unexpected YAML event",
			 p->name, ev->start_mark.line + 1, ev->start_mark.column + 1);
		return NULL;
	}
	if (depth > VCFG_MAX_DEPTH) {
		snprintf(err->msg, sizeof(err->msg), "%s:%zu:%zu: error: nested deeper than %d levels",
			 p->name, ev->start_mark.line + 1, ev->start_mark.column + 1, VCFG_MAX_DEPTH);
		return NULL;
	}
	map = ev->type == YAML_MAPPING_START_EVENT;
	n = node_new(map ? VCFG_MAP : VCFG_SEQ, &ev->start_mark);
	if (!n)
		goto oom;
	for (;;) {
		if (next(p, &e))
			goto fail;
		if (e.type == YAML_MAPPING_END_EVENT || e.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&e);
			return n;
		}
		kid = parse_node(p, &e, depth + 1);
		yaml_event_delete(&e);
		if (!kid)
			goto fail;
		if (map && !key) {
			if (kid->kind != VCFG_SCALAR) {
				vcfg_error(err, p->name, kid, "a key must be a plain name");
				vcfg_free(kid);
				goto fail;
			}
			if (vcfg_get(n, kid->value)) {
				vcfg_error(err, p->name, kid, "duplicate key '%s'", kid->value);
				vcfg_free(kid);
				goto fail;
			}
			key = kid;
			continue;
		}
		if (node_add(n, key, kid)) {
			vcfg_free(kid);
			goto oom;
		}
		key = NULL;
	}
oom:
	snprintf(err->msg, sizeof(err->msg), "%s: error: %s", p->name, strerror(ENOMEM));
fail:
	vcfg_free(key);
	vcfg_free(n);
	return NULL;
}

struct vcfg_node *vcfg_parse(const char *name, const char *text, size_t len, struct vcfg_err *err)
{
	struct parser p = { .name = name, .err = err };
	struct vcfg_node *root = NULL;
	yaml_event_t ev;

	if (!yaml_parser_initialize(&p.y)) {
		snprintf(err->msg, sizeof(err->msg), "%s: error: %s", name, strerror(ENOMEM));
		return NULL;
	}
	yaml_parser_set_input_string(&p.y, (const unsigned char *)text, len);
	/* stream start, document start, the root node */
	for (;;) {
		if (next(&p, &ev))
			goto out;
		if (ev.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			snprintf(err->msg, sizeof(err->msg), "%s:1:1: error: the file is empty", name);
			goto out;
		}
		if (ev.type != YAML_STREAM_START_EVENT && ev.type != YAML_DOCUMENT_START_EVENT)
			break;
		yaml_event_delete(&ev);
	}
	root = parse_node(&p, &ev, 0);
	yaml_event_delete(&ev);
	if (root && root->kind != VCFG_MAP) {
		vcfg_error(err, name, root, "the top level must be a mapping (outputs:, metrics:, features:)");
		vcfg_free(root);
		root = NULL;
	}
out:
	yaml_parser_delete(&p.y);
	return root;
}

struct vcfg_node *vcfg_load(const char *path, struct vcfg_err *err)
{
	FILE *f = fopen(path, "re");
	struct vcfg_node *n;
	char *buf;
	size_t len;

	if (!f) {
		snprintf(err->msg, sizeof(err->msg), "%s: error: cannot open config file: %s", path,
			 strerror(errno));
		return NULL;
	}
	buf = malloc(VCFG_MAX_BYTES + 1);
	len = buf ? fread(buf, 1, VCFG_MAX_BYTES + 1, f) : 0;
	fclose(f);
	if (!buf || len > VCFG_MAX_BYTES) {
		snprintf(err->msg, sizeof(err->msg), "%s: error: %s", path,
			 buf ? "larger than 1 MiB: not a config file" : strerror(ENOMEM));
		free(buf);
		return NULL;
	}
	n = vcfg_parse(path, buf, len, err);
	free(buf);
	return n;
}
