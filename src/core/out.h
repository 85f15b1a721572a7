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
/* Open a record on vigil.out with the keys every record starts with: type,
 * ts (boot ns) and time (ts as ISO-8601 wall time). Close it with jw_end_obj. */
void jw_record(struct jw *w, const char *type, uint64_t ts);

/* ---- rows ---- */

enum vf_kind { VF_STR, VF_U64, VF_S64, VF_BOOL, VF_DOUBLE, VF_STRLIST };

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
const struct vfield *vrow_get(const struct vrow *r, const char *key);
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
};

/* Built-in column formatters. */
void vcol_time(const struct vrow *r, char *buf, size_t n);	/* HH:MM:SS local */
#define VCOL_TIME { "TIME", 8, NULL, vcol_time, false }

void out_set_columns(const struct vcol *cols);
void out_header(void);
int out_row(const struct vrow *r);	/* <0 when output is gone */
int out_flush(void);			/* checks ferror; <0 on lost output */
/* the event loop flushes after each ring buffer batch instead of per row */
void out_defer_flush(bool on);

/* ---- time ---- */
uint64_t vigil_boot_ns(void);		/* CLOCK_BOOTTIME now */
uint64_t vigil_mono_ns(void);
/* CLOCK_BOOTTIME ns -> ISO-8601 UTC with ns ("2026-11-22T07:40:01.123456789Z") */
void vigil_iso_time(uint64_t boot_ns, char *buf, size_t n);
void vigil_wall_time(uint64_t boot_ns, struct timespec *ts);
/* human durations: "1.25s", "830us" */
void vigil_fmt_duration(uint64_t ns, char *buf, size_t n);

#endif
