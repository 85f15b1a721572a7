/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Output: one record, two renderings.
 *
 * A command turns a BPF record into a struct vrow (named, typed fields) and
 * hands it to out_row(); the row becomes a JSON object with every field, or
 * a table line with the command's columns. Nothing else prints events.
 */
#ifndef VIGIL_OUT_H
#define VIGIL_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- JSON writer (also used for whole documents such as doctor's) ---- */

#define JW_MAX_DEPTH 16

struct jw {
	FILE *f;
	int depth;
	bool first[JW_MAX_DEPTH];
};

void jw_init(struct jw *w, FILE *f);
void jw_obj(struct jw *w, const char *key);	/* key is NULL at top level or in arrays */
void jw_arr(struct jw *w, const char *key);
void jw_end_obj(struct jw *w);
void jw_end_arr(struct jw *w);
void jw_str(struct jw *w, const char *key, const char *s);
void jw_strn(struct jw *w, const char *key, const char *s, size_t n);
void jw_u64(struct jw *w, const char *key, uint64_t v);
void jw_s64(struct jw *w, const char *key, int64_t v);
void jw_double(struct jw *w, const char *key, double v);
void jw_bool(struct jw *w, const char *key, bool v);
void jw_null(struct jw *w, const char *key);
struct vigil_sink;
/* Open a record on the sink with the keys every record starts with: type,
 * ts (boot ns) and time (ts as ISO-8601 wall time). Close it with jw_end_obj. */
void jw_record(struct jw *w, struct vigil_sink *k, const char *type, uint64_t ts);
/*
 * JSON strings are UTF-8: valid sequences pass through unchanged; a byte
 * that is not part of one becomes U+DC00+byte (written \udcXX), Python's
 * "surrogateescape", so the bytes can be recovered exactly
 * (s.encode('utf-8', 'surrogateescape')). docs/events.md documents it.
 */
size_t vigil_utf8_seq(const unsigned char *s, size_t n);	/* length of a valid sequence at s, or 0 */

/* ---- rows ---- */

enum vf_kind { VF_STR, VF_U64, VF_S64, VF_BOOL, VF_DOUBLE, VF_STRLIST, VF_HIST, VF_COUNTS };

struct vfield {
	const char *key;
	enum vf_kind kind;
	union {
		const char *s;
		uint64_t u;
		int64_t i;
		bool b;
		double d;
		struct { const char *buf; uint32_t len; } list;	/* NUL-separated */
		struct { const uint64_t *slots; const char *unit; } hist;	/* log2 buckets */
		/* named counts: a JSON object {"ENOENT": 3}, "ENOENT:3" in a table */
		struct { const char *const *names; const uint64_t *vals; uint32_t n; } counts;
	};
};

#define VROW_MAX 40

struct vrow {
	int n;
	struct vfield f[VROW_MAX];
	char time[40];		/* storage for the ISO-8601 wall time */
};

void vrow_init(struct vrow *r);
void vrow_str(struct vrow *r, const char *key, const char *s);
void vrow_u64(struct vrow *r, const char *key, uint64_t v);
void vrow_s64(struct vrow *r, const char *key, int64_t v);
void vrow_bool(struct vrow *r, const char *key, bool v);
void vrow_double(struct vrow *r, const char *key, double v);
void vrow_strlist(struct vrow *r, const char *key, const char *buf, uint32_t len);
/* a log2 histogram (VIGIL_HIST_SLOTS slots): JSON buckets, or bcc's text block */
void vrow_hist(struct vrow *r, const char *key, const uint64_t *slots, const char *unit);
void vrow_counts(struct vrow *r, const char *key, const char *const *names, const uint64_t *vals,
		 uint32_t n);
/* NULL when the row has no such field (optional keys) */
const struct vfield *vrow_get(const struct vrow *r, const char *key);
/* a field the row must have: a missing one is a bug (vigil_bug), and an
 * empty field of that kind is returned so rendering goes on */
const struct vfield *vrow_need(const struct vrow *r, const char *key, enum vf_kind kind);
#define vrow_s(r, k) (vrow_need((r), (k), VF_STR)->s)
#define vrow_u(r, k) (vrow_need((r), (k), VF_U64)->u)
#define vrow_i(r, k) (vrow_need((r), (k), VF_S64)->i)
#define vrow_b(r, k) (vrow_need((r), (k), VF_BOOL)->b)
/* type, ts, time, pid, tid, ppid, uid, comm, cgroup_id from the wire header */
struct vigil_hdr;
void vrow_hdr(struct vrow *r, const char *type, const struct vigil_hdr *h);

/* ---- table ---- */

struct vcol {
	const char *title;
	int width;		/* 0: last column, unpadded */
	const char *key;	/* field to show, or NULL when fmt is set */
	void (*fmt)(const struct vrow *r, char *buf, size_t n);
	bool right;		/* right-align (numbers) */
	bool raw;		/* vigil's own multi-line block: not escaped (fmt escapes user data) */
};

/* Built-in column formatters. */
void vcol_time(const struct vrow *r, char *buf, size_t n);	/* HH:MM:SS local */
#define VCOL_TIME { "TIME", 8, NULL, vcol_time, false }

/*
 * A sink is where rows go: a table for a person, NDJSON for a program. The
 * CLI has one; the agent has one NDJSON sink shared by its features. A
 * sink remembers why its output failed (a reader that went away is not a
 * failure: `vigil proc | head`).
 */
struct vigil_sink {
	FILE *f;
	bool json;
	bool defer;		/* the loop flushes per batch, not per row */
	bool broken_pipe;
	bool interrupted;	/* a signal cut a write the reader was not taking */
	int err;		/* errno of lost output, else 0 */
	const struct vcol *cols;	/* table columns of the current feature */
	bool header_done;
	uint64_t rows;
	/* container identity of records that carry a cgroup_id (NULL: none) */
	struct vigil_containers *containers;
	bool show_containers;		/* table: a CONTAINER column first */
	uint64_t containers_ticked;
	/* the agent's instance ("syscall/web"): every record names it, after "type" */
	const char *feature;
};

void out_sink_init(struct vigil_sink *k, FILE *f, bool json);
/* a stream to a file or pipe gets a large stdio buffer (the sink flushes per
 * batch anyway): a write() per 4 KiB was half the CPU of a stream to a file */
void out_buffer(FILE *f);
/* a JSON stream starts with the schema record (one-document commands such
 * as doctor and firewall status have none) */
void out_schema(struct vigil_sink *k);
void out_set_columns(struct vigil_sink *k, const struct vcol *cols);
void out_header(struct vigil_sink *k);
int out_row(struct vigil_sink *k, const struct vrow *r);	/* <0 when output is gone */
int out_flush(struct vigil_sink *k);			/* checks ferror; <0 on lost output */
/* resolve pending container names and emit a {"type":"container"} record for
 * each cgroup whose identity became known (at most every 100 ms) */
void out_containers(struct vigil_sink *k);
/* a line for the table only (interval headings); nothing in JSON mode */
void out_text(struct vigil_sink *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* print s for a terminal: control bytes, escapes and invalid UTF-8 as \xNN */
size_t vigil_term_escape(const char *s, size_t len, char *buf, size_t n);

/* ---- time ---- */
uint64_t vigil_boot_ns(void);		/* CLOCK_BOOTTIME now */
uint64_t vigil_mono_ns(void);
/* CLOCK_BOOTTIME ns -> ISO-8601 UTC with ns ("2026-11-22T07:40:01.123456789Z") */
void vigil_iso_time(uint64_t boot_ns, char *buf, size_t n);
void vigil_wall_time(uint64_t boot_ns, struct timespec *ts);
/* human durations: "1.25s", "830us" */
void vigil_fmt_duration(uint64_t ns, char *buf, size_t n);

#endif
