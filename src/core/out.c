// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include "core/vigil.h"
#include "core/out.h"
#include "core/hist.h"
#include "core/container.h"

/* ---- JSON writer ---- */

/*
 * Records are built in one buffer and written with a single fwrite: a stdio
 * call per token costs more than the rest of an event (each takes the FILE
 * lock). Large documents are written out as they grow.
 */
static char *jbuf;
static size_t jlen, jcap;
static FILE *jfile;

#define JB_SPILL (1u << 20)

static void jb_flush(void)
{
	if (jlen && jfile)
		fwrite(jbuf, 1, jlen, jfile);
	jlen = 0;
}

static bool jb_room(size_t n)
{
	size_t cap;
	char *p;

	if (jlen + n <= jcap)
		return true;
	if (jlen > JB_SPILL)
		jb_flush();
	if (jlen + n <= jcap)
		return true;
	cap = jcap ? jcap : 4096;
	while (cap < jlen + n)
		cap *= 2;
	p = realloc(jbuf, cap);
	if (!p)
		return false;
	jbuf = p;
	jcap = cap;
	return true;
}

static void __attribute__((noinline)) jb_put_slow(const char *s, size_t n)
{
	if (!jb_room(n)) {
		/* out of memory: keep the output right, if slower */
		jb_flush();
		if (jfile)
			fwrite(s, 1, n, jfile);
		return;
	}
	memcpy(jbuf + jlen, s, n);
	jlen += n;
}

/* the hot path of a stream: a few bytes at a time into room that is there */
static inline __attribute__((always_inline)) void jb_put(const char *s, size_t n)
{
	if (__builtin_expect(jlen + n <= jcap, 1)) {
		char *d = jbuf + jlen;

		jlen += n;
		/* most tokens are short: a call to memcpy costs more than the copy,
		 * so two fixed-size copies that overlap in the middle, inside s */
		if (n >= 8 && n <= 16) {
			memcpy(d, s, 8);
			memcpy(d + n - 8, s + n - 8, 8);
		} else if (n >= 4 && n < 8) {
			memcpy(d, s, 4);
			memcpy(d + n - 4, s + n - 4, 4);
		} else if (n < 4) {
			while (n--)
				*d++ = *s++;
		} else {
			memcpy(d, s, n);
		}
		return;
	}
	jb_put_slow(s, n);
}

static inline __attribute__((always_inline)) void jb_putc(char c)
{
	if (__builtin_expect(jlen < jcap, 1))
		jbuf[jlen++] = c;
	else
		jb_put_slow(&c, 1);
}

void jw_init(struct jw *w, FILE *f)
{
	memset(w, 0, sizeof(*w));
	w->f = f;
	w->first[0] = true;
	if (jfile != f)
		jb_flush();
	jfile = f;
}

void jw_record(struct jw *w, struct vigil_sink *k, const char *type, uint64_t ts)
{
	char iso[40];

	vigil_iso_time(ts, iso, sizeof(iso));
	jw_init(w, k->f);
	jw_obj(w, NULL);
	jw_str(w, "type", type);
	if (k->feature)
		jw_str(w, "feature", k->feature);
	jw_u64(w, "ts", ts);
	jw_str(w, "time", iso);
}

size_t vigil_utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len, i;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates and values past U+10FFFF are not UTF-8 */
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* 1: printable ASCII that JSON takes as it is */
static const unsigned char json_plain[256] = {
	[0x20 ... 0x21] = 1, [0x23 ... 0x5b] = 1, [0x5d ... 0x7e] = 1,	/* not " or \\ */
};

static void json_escape(const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0, i = 0;

	while (i < n && s[i]) {
		unsigned char c = s[i];
		char u[6] = { '\\', 'u', '0', '0' };
		size_t l;

		/* plain bytes are copied in runs: this is the hot path of a stream */
		if (json_plain[c]) {
			i++;
			continue;
		}
		if (c >= 0x80 && (l = vigil_utf8_seq((const unsigned char *)s + i, n - i))) {
			i += l;
			continue;
		}
		jb_put(s + run, i - run);
		switch (c) {
		case '"': jb_put("\\\"", 2); break;
		case '\\': jb_put("\\\\", 2); break;
		case '\n': jb_put("\\n", 2); break;
		case '\r': jb_put("\\r", 2); break;
		case '\t': jb_put("\\t", 2); break;
		default:
			if (c >= 0x80) {
				/* not UTF-8: U+DC80..U+DCFF, reversible (surrogateescape) */
				u[2] = 'd';
				u[3] = 'c';
			}
			u[4] = hex[c >> 4];
			u[5] = hex[c & 15];
			jb_put(u, 6);
		}
		run = ++i;
	}
	jb_put(s + run, i - run);
}

static const char digits2[] =
	"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

static inline unsigned dec_len(uint64_t v)
{
	unsigned n = 1;

	for (; v >= 10000; v /= 10000)
		n += 4;
	return n + (v >= 10) + (v >= 100) + (v >= 1000);
}

/* decimal without printf, two digits a step: numbers are most of a stream's bytes */
static void put_u64(uint64_t v)
{
	char buf[24], *p = buf + sizeof(buf);

	/* written in place when there is room: no copy of the digits */
	if (__builtin_expect(jlen + 20 <= jcap, 1)) {
		unsigned len = dec_len(v);

		p = jbuf + jlen + len;
		jlen += len;
		while (v >= 100) {
			p -= 2;
			memcpy(p, digits2 + (v % 100) * 2, 2);
			v /= 100;
		}
		if (v >= 10)
			memcpy(p - 2, digits2 + v * 2, 2);
		else
			p[-1] = '0' + v;
		return;
	}

	while (v >= 100) {
		p -= 2;
		memcpy(p, digits2 + (v % 100) * 2, 2);
		v /= 100;
	}
	if (v >= 10) {
		p -= 2;
		memcpy(p, digits2 + v * 2, 2);
	} else {
		*--p = '0' + v;
	}
	jb_put(p, buf + sizeof(buf) - p);
}

static void jw_key(struct jw *w, const char *key)
{
	if (w->depth > 0) {
		if (!w->first[w->depth])
			jb_putc(',');
		w->first[w->depth] = false;
	}
	if (key) {
		/* keys are vigil's own identifiers: nothing in them to escape */
		jb_putc('"');
		jb_put(key, strlen(key));
		jb_put("\":", 2);
	}
}

static void jw_open(struct jw *w, const char *key, char c)
{
	jw_key(w, key);
	jb_putc(c);
	if (w->depth < JW_MAX_DEPTH - 1)
		w->depth++;
	w->first[w->depth] = true;
}

void jw_obj(struct jw *w, const char *key) { jw_open(w, key, '{'); }
void jw_arr(struct jw *w, const char *key) { jw_open(w, key, '['); }

static void jw_close(struct jw *w, char c)
{
	jb_putc(c);
	if (w->depth > 0)
		w->depth--;
	if (w->depth == 0) {
		jb_putc('\n');
		jb_flush();
	}
}

void jw_end_obj(struct jw *w) { jw_close(w, '}'); }
void jw_end_arr(struct jw *w) { jw_close(w, ']'); }

void jw_strn(struct jw *w, const char *key, const char *s, size_t n)
{
	jw_key(w, key);
	jb_putc('"');
	json_escape(s, n);
	jb_putc('"');
}

void jw_str(struct jw *w, const char *key, const char *s)
{
	if (!s) {
		jw_null(w, key);
		return;
	}
	jw_strn(w, key, s, strlen(s));
}

void jw_u64(struct jw *w, const char *key, uint64_t v)
{
	jw_key(w, key);
	put_u64(v);
}

void jw_s64(struct jw *w, const char *key, int64_t v)
{
	jw_key(w, key);
	if (v < 0)
		jb_putc('-');
	put_u64(v < 0 ? -(uint64_t)v : (uint64_t)v);
}

void jw_double(struct jw *w, const char *key, double v)
{
	char buf[64];
	int n = snprintf(buf, sizeof(buf), "%.3f", v);

	jw_key(w, key);
	jb_put(buf, n > 0 && n < (int)sizeof(buf) ? n : 0);
}

void jw_bool(struct jw *w, const char *key, bool v)
{
	jw_key(w, key);
	if (v)
		jb_put("true", 4);
	else
		jb_put("false", 5);
}

void jw_null(struct jw *w, const char *key)
{
	jw_key(w, key);
	jb_put("null", 4);
}

/* ---- rows ---- */

void vrow_init(struct vrow *r)
{
	r->n = 0;
	r->time[0] = 0;
}

static struct vfield *vrow_add(struct vrow *r, const char *key, enum vf_kind kind)
{
	static struct vfield overflow;

	if (r->n >= VROW_MAX) {
		vigil_bug("row over its limit of %d fields at '%s'", VROW_MAX, key);
		return &overflow;
	}
	r->f[r->n].key = key;
	r->f[r->n].kind = kind;
	return &r->f[r->n++];
}

void vrow_str(struct vrow *r, const char *key, const char *s) { vrow_add(r, key, VF_STR)->s = s; }
void vrow_u64(struct vrow *r, const char *key, uint64_t v) { vrow_add(r, key, VF_U64)->u = v; }
void vrow_s64(struct vrow *r, const char *key, int64_t v) { vrow_add(r, key, VF_S64)->i = v; }
void vrow_bool(struct vrow *r, const char *key, bool v) { vrow_add(r, key, VF_BOOL)->b = v; }
void vrow_double(struct vrow *r, const char *key, double v) { vrow_add(r, key, VF_DOUBLE)->d = v; }

void vrow_strlist(struct vrow *r, const char *key, const char *buf, uint32_t len)
{
	struct vfield *f = vrow_add(r, key, VF_STRLIST);

	f->list.buf = buf;
	f->list.len = len;
}

void vrow_hist(struct vrow *r, const char *key, const uint64_t *slots, const char *unit)
{
	struct vfield *f = vrow_add(r, key, VF_HIST);

	f->hist.slots = slots;
	f->hist.unit = unit;
}

void vrow_counts(struct vrow *r, const char *key, const char *const *names, const uint64_t *vals,
		 uint32_t n)
{
	struct vfield *f = vrow_add(r, key, VF_COUNTS);

	f->counts.names = names;
	f->counts.vals = vals;
	f->counts.n = n;
}

const struct vfield *vrow_get(const struct vrow *r, const char *key)
{
	/* keys are literals, mostly the same one: pointers first, then strings */
	for (int i = 0; i < r->n; i++)
		if (r->f[i].key == key)
			return &r->f[i];
	for (int i = 0; i < r->n; i++)
		if (!strcmp(r->f[i].key, key))
			return &r->f[i];
	return NULL;
}

const struct vfield *vrow_need(const struct vrow *r, const char *key, enum vf_kind kind)
{
	static const uint64_t zero_slots[VIGIL_HIST_SLOTS];
	static struct vfield empty;
	const struct vfield *f = vrow_get(r, key);

	if (f && f->kind == kind)
		return f;
	vigil_bug("row has no %s field '%s'", f ? "such kind of" : "", key);
	memset(&empty, 0, sizeof(empty));
	empty.key = key;
	empty.kind = kind;
	if (kind == VF_STR)
		empty.s = "";
	if (kind == VF_HIST)
		empty.hist.slots = zero_slots;
	return &empty;
}

void vrow_hdr(struct vrow *r, const char *type, const struct vigil_hdr *h)
{
	vigil_iso_time(h->ts, r->time, sizeof(r->time));
	vrow_str(r, "type", type);
	vrow_u64(r, "ts", h->ts);
	vrow_str(r, "time", r->time);
	vrow_u64(r, "pid", h->pid);
	vrow_u64(r, "tid", h->tid);
	vrow_u64(r, "ppid", h->ppid);
	vrow_u64(r, "uid", h->uid);
	vrow_str(r, "comm", h->comm);
	vrow_u64(r, "cgroup_id", h->cgroup_id);
}

/* ---- rendering ---- */

size_t vigil_term_escape(const char *s, size_t len, char *buf, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, i = 0;

	if (!n)
		return 0;
	while (i < len && s[i] && o + 1 < n) {
		unsigned char c = s[i];
		size_t l = 1;

		if (c >= 0x80)
			l = vigil_utf8_seq((const unsigned char *)s + i, len - i);
		/* C1 controls (U+0080..U+009F, CSI among them) reach terminals too */
		if (c >= 0x20 && c != 0x7f && l && !(c == 0xc2 && (unsigned char)s[i + 1] < 0xa0)) {
			if (o + l >= n)
				break;
			memcpy(buf + o, s + i, l);
			o += l;
			i += l;
			continue;
		}
		if (o + 4 >= n)
			break;
		buf[o++] = '\\';
		if (c == '\n' || c == '\t' || c == '\r') {
			buf[o++] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
		} else {
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		}
		i++;
	}
	buf[o] = 0;
	return o;
}

static void field_text(const struct vfield *f, char *buf, size_t n)
{
	if (!f) {
		snprintf(buf, n, "-");
		return;
	}
	switch (f->kind) {
	case VF_STR: snprintf(buf, n, "%s", f->s ? f->s : "-"); break;
	case VF_U64: snprintf(buf, n, "%llu", (unsigned long long)f->u); break;
	case VF_S64: snprintf(buf, n, "%lld", (long long)f->i); break;
	case VF_BOOL: snprintf(buf, n, "%s", f->b ? "yes" : "no"); break;
	case VF_DOUBLE: snprintf(buf, n, "%.3f", f->d); break;
	case VF_STRLIST: {
		size_t o = 0;

		buf[0] = 0;
		for (uint32_t i = 0; i < f->list.len && o + 1 < n; i++) {
			char c = f->list.buf[i];

			if (!c) {
				if (i + 1 == f->list.len)
					break;
				c = ' ';
			}
			buf[o++] = c;
		}
		buf[o] = 0;
		break;
	}
	case VF_COUNTS: {
		size_t o = 0;

		buf[0] = 0;
		for (uint32_t i = 0; i < f->counts.n && o < n; i++)
			o += snprintf(buf + o, n - o, "%s%s:%llu", i ? " " : "", f->counts.names[i],
				      (unsigned long long)f->counts.vals[i]);
		break;
	}
	case VF_HIST: {
		FILE *m = fmemopen(buf, n, "w");

		buf[0] = 0;
		if (m) {
			vhist_print(m, f->hist.slots, f->hist.unit);
			fclose(m);
		}
		break;
	}
	}
}

void out_buffer(FILE *f)
{
	if (!isatty(fileno(f)))
		setvbuf(f, NULL, _IOFBF, 256u << 10);
}

void out_sink_init(struct vigil_sink *k, FILE *f, bool json)
{
	memset(k, 0, sizeof(*k));
	k->f = f;
	k->json = json;
}

void out_schema(struct vigil_sink *k)
{
	if (k->json) {
		struct jw w;

		jw_record(&w, k, "schema", vigil_boot_ns());
		jw_u64(&w, "version", VIGIL_SCHEMA_VERSION);
		jw_str(&w, "vigil", VIGIL_VERSION);
		jw_end_obj(&w);
		out_flush(k);
	}
}

void out_set_columns(struct vigil_sink *k, const struct vcol *cols)
{
	k->cols = cols;
	k->header_done = false;
}

void out_header(struct vigil_sink *k)
{
	if (k->json || !k->cols)
		return;
	if (k->show_containers)
		fprintf(k->f, "%-16s ", "CONTAINER");
	for (const struct vcol *c = k->cols; c->title; c++) {
		if (c->width)
			fprintf(k->f, c->right ? "%*s " : "%-*s ", c->width, c->title);
		else
			fprintf(k->f, "%s", c->title);
	}
	fputc('\n', k->f);
	k->header_done = true;
	out_flush(k);
}

void out_text(struct vigil_sink *k, const char *fmt, ...)
{
	va_list ap;

	if (k->json)
		return;
	va_start(ap, fmt);
	vfprintf(k->f, fmt, ap);
	va_end(ap);
}

static void container_json(struct jw *w, const struct vigil_container *c)
{
	jw_obj(w, "container");
	jw_str(w, "id", c->id);
	jw_str(w, "runtime", vigil_runtime_name(c->runtime));
	if (c->name_state == VIGIL_CNAME_KNOWN) {
		jw_str(w, "name", c->name);
		if (c->pod[0])
			jw_str(w, "pod", c->pod);
		if (c->namespace[0])
			jw_str(w, "namespace", c->namespace);
	} else if (c->name_state == VIGIL_CNAME_PENDING) {
		jw_bool(w, "name_pending", true);
	}
	if (c->pod_uid[0])
		jw_str(w, "pod_uid", c->pod_uid);
	jw_end_obj(w);
}

/* the container of a record's cgroup, NULL for a host task */
static const struct vigil_container *row_container(struct vigil_sink *k, const struct vrow *r)
{
	const struct vfield *f;

	if (!k->containers || !(f = vrow_get(r, "cgroup_id")) || f->kind != VF_U64)
		return NULL;
	return vigil_container_lookup(k->containers, f->u);
}

void out_containers(struct vigil_sink *k)
{
	const struct vigil_container *c;
	uint64_t now = vigil_mono_ns(), id;

	if (!k->containers || now - k->containers_ticked < 100000000ull)
		return;
	k->containers_ticked = now;
	vigil_containers_tick(k->containers, now);
	while (vigil_containers_next_changed(k->containers, &id, &c)) {
		struct jw w;

		if (!k->json)
			continue;
		jw_record(&w, k, "container", vigil_boot_ns());
		jw_u64(&w, "cgroup_id", id);
		container_json(&w, c);
		jw_end_obj(&w);
	}
}

static void row_json(struct vigil_sink *k, const struct vrow *r)
{
	const struct vigil_container *c = row_container(k, r);
	struct jw w;

	jw_init(&w, k->f);
	jw_obj(&w, NULL);
	for (int i = 0; i < r->n; i++) {
		const struct vfield *f = &r->f[i];

		switch (f->kind) {
		case VF_STR:
			jw_str(&w, f->key, f->s);
			if (i == 0 && k->feature)
				jw_str(&w, "feature", k->feature);
			break;
		case VF_U64: jw_u64(&w, f->key, f->u); break;
		case VF_S64: jw_s64(&w, f->key, f->i); break;
		case VF_BOOL: jw_bool(&w, f->key, f->b); break;
		case VF_DOUBLE: jw_double(&w, f->key, f->d); break;
		case VF_HIST: vhist_json(&w, f->key, f->hist.slots); break;
		case VF_COUNTS:
			jw_obj(&w, f->key);
			for (uint32_t i = 0; i < f->counts.n; i++)
				jw_u64(&w, f->counts.names[i], f->counts.vals[i]);
			jw_end_obj(&w);
			break;
		case VF_STRLIST: {
			uint32_t s = 0;

			jw_arr(&w, f->key);
			for (uint32_t i = 0; i < f->list.len; i++) {
				if (f->list.buf[i])
					continue;
				jw_strn(&w, NULL, f->list.buf + s, i - s);
				s = i + 1;
			}
			/* an argument cut by truncation has no NUL */
			if (s < f->list.len)
				jw_strn(&w, NULL, f->list.buf + s, f->list.len - s);
			jw_end_arr(&w);
			break;
		}
		}
	}
	if (c)
		container_json(&w, c);
	jw_end_obj(&w);
}

static void row_table(struct vigil_sink *k, const struct vrow *r)
{
	char buf[8192], esc[8192];
	const struct vfield *f;

	if (k->show_containers) {
		const struct vigil_container *ctr = row_container(k, r);

		snprintf(buf, sizeof(buf), "%s", !ctr ? "-" : ctr->name_state == VIGIL_CNAME_KNOWN ?
			 ctr->name : ctr->id);
		if (ctr && ctr->name_state != VIGIL_CNAME_KNOWN)
			buf[12] = 0;
		vigil_term_escape(buf, sizeof(buf), esc, sizeof(esc));
		fprintf(k->f, "%-16.16s ", esc);
	}
	for (const struct vcol *c = k->cols; c && c->title; c++) {
		f = c->fmt ? NULL : vrow_get(r, c->key);
		if (c->fmt)
			c->fmt(r, buf, sizeof(buf));
		else
			field_text(f, buf, sizeof(buf));
		/* a histogram is a block of lines of vigil's own: printed as is */
		if ((f && f->kind == VF_HIST) || c->raw) {
			fputs(buf, k->f);
			continue;
		}
		/* argv, comm and paths come from other users: they cannot forge rows */
		vigil_term_escape(buf, sizeof(buf), esc, sizeof(esc));
		if (c->width)
			fprintf(k->f, c->right ? "%*s " : "%-*s ", c->width, esc);
		else
			fputs(esc, k->f);
	}
	fputc('\n', k->f);
}

int out_row(struct vigil_sink *k, const struct vrow *r)
{
	k->rows++;
	if (k->json)
		row_json(k, r);
	else
		row_table(k, r);
	/*
	 * Flushed per event, so consumers (tail -f, log shippers) see it now;
	 * or, when the event loop flushes after each ring buffer batch, per
	 * batch: one write() per burst instead of one per event.
	 */
	if (k->defer)
		return ferror(k->f) ? out_flush(k) : 0;
	return out_flush(k);
}

int out_flush(struct vigil_sink *k)
{
	if (k->broken_pipe || k->err)
		return -1;
	if (fflush(k->f) == 0 && !ferror(k->f))
		return 0;
	if (errno == EPIPE) {
		k->broken_pipe = true;
	} else if (errno == EINTR) {
		/* Ctrl-C while the reader is not reading: the run ends, not an error */
		k->broken_pipe = k->interrupted = true;
		clearerr(k->f);
	} else {
		k->err = errno ? errno : EIO;
	}
	return -1;
}

/* ---- time ---- */

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

uint64_t vigil_boot_ns(void) { return clock_ns(CLOCK_BOOTTIME); }
uint64_t vigil_mono_ns(void) { return clock_ns(CLOCK_MONOTONIC); }

void vigil_wall_time(uint64_t boot_ns, struct timespec *ts)
{
	static int64_t offset;	/* realtime - boottime, sampled once */
	uint64_t wall;

	if (!offset)
		offset = (int64_t)(clock_ns(CLOCK_REALTIME) - vigil_boot_ns());
	wall = boot_ns + offset;
	ts->tv_sec = wall / 1000000000ull;
	ts->tv_nsec = wall % 1000000000ull;
}

void vigil_iso_time(uint64_t boot_ns, char *buf, size_t n)
{
	struct timespec ts;
	struct tm tm;
	char base[32];

	static time_t cached_sec = -1;
	static char cached[32];

	vigil_wall_time(boot_ns, &ts);
	/* formatting the date costs more than the rest of an event: once a second */
	if (ts.tv_sec != cached_sec) {
		gmtime_r(&ts.tv_sec, &tm);
		strftime(cached, sizeof(cached), "%Y-%m-%dT%H:%M:%S", &tm);
		cached_sec = ts.tv_sec;
	}
	/* once per record: digits by hand, printf would be most of the cost */
	memcpy(base, cached, 19);
	base[19] = '.';
	for (long v = (long)ts.tv_nsec % 1000000000L, i = 28; i >= 20; i--, v /= 10)
		base[i] = '0' + v % 10;
	base[29] = 'Z';
	base[30] = 0;
	if (n) {
		n = n > 31 ? 31 : n;
		memcpy(buf, base, n - 1);
		buf[n - 1] = 0;
	}
}

void vcol_time(const struct vrow *r, char *buf, size_t n)
{
	const struct vfield *f = vrow_get(r, "ts");
	struct timespec ts;
	struct tm tm;

	if (!f) {
		snprintf(buf, n, "-");
		return;
	}
	vigil_wall_time(f->u, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(buf, n, "%H:%M:%S", &tm);
}

void vigil_fmt_duration(uint64_t ns, char *buf, size_t n)
{
	if (ns >= 1000000000ull)
		snprintf(buf, n, "%.2fs", ns / 1e9);
	else if (ns >= 1000000ull)
		snprintf(buf, n, "%.2fms", ns / 1e6);
	else if (ns >= 1000ull)
		snprintf(buf, n, "%.2fus", ns / 1e3);
	else
		snprintf(buf, n, "%lluns", (unsigned long long)ns);
}

/* ---- messages ---- */

static void vmsg(const char *prefix, const char *fmt, va_list ap)
{
	fprintf(stderr, "vigil: %s", prefix);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static void error_record(const char *kind, const char *msg)
{
	struct jw w;

	if (!vigil.json || !vigil.out)
		return;
	jw_init(&w, vigil.out);
	jw_obj(&w, NULL);
	jw_str(&w, "type", "error");
	jw_str(&w, "kind", kind);
	jw_str(&w, "message", msg);
	jw_end_obj(&w);
	fflush(vigil.out);
}

void vigil_error(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "vigil: %s\n", msg);
	error_record("runtime", msg);
}

void vigil_usage_error(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "vigil %s: %s\n", vigil.cmd ? vigil.cmd : "", msg);
	error_record("usage", msg);
}

int vigil_want_args(int argc, int want, const char *what)
{
	if (argc == want)
		return 0;
	vigil_usage_error("%s", what);
	return VIGIL_EXIT_USAGE;
}

void vigil_bug(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	vigil.bugs++;
	fprintf(stderr, "vigil: internal error: %s\n", msg);
	if (getenv("VIGIL_STRICT"))
		abort();
}

void vigil_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("warning: ", fmt, ap);
	va_end(ap);
}

void vigil_info(const char *fmt, ...)
{
	va_list ap;

	if (vigil.quiet)
		return;
	va_start(ap, fmt);
	vmsg("", fmt, ap);
	va_end(ap);
}

void vigil_debug(const char *fmt, ...)
{
	va_list ap;

	if (!vigil.verbose)
		return;
	va_start(ap, fmt);
	vmsg("", fmt, ap);
	va_end(ap);
}
