/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * vigil file's pure logic, apart so tests/unit/test_file.c checks it without
 * a kernel: op names, open flags as text, lexical path clean-up, and the
 * table of files seen created (for their lifetime at unlink).
 */
#ifndef VIGIL_CMD_FILE_H
#define VIGIL_CMD_FILE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "vigil/events.h"

static const char *const fl_op_names[VIGIL_FOP__COUNT] = {
	"open", "openat", "openat2", "creat", "unlink", "unlinkat", "rename", "renameat",
	"renameat2", "mkdir", "mkdirat", "rmdir", "symlink", "symlinkat", "link", "linkat",
	"truncate", "ftruncate", "chmod", "fchmodat", "fchmod", "chown", "lchown", "fchownat",
	"fchown", "read", "write", "pread64", "pwrite64", "fsync", "fdatasync", "fchmodat2",
	"io_uring_openat", "io_uring_openat2", "io_uring_unlinkat", "io_uring_renameat",
	"io_uring_mkdirat", "io_uring_symlinkat", "io_uring_linkat",
};

static inline const char *fl_op_name(uint32_t op)
{
	return op < VIGIL_FOP__COUNT ? fl_op_names[op] : "unknown";
}

static inline bool fl_op_is_open(uint32_t op)
{
	return op <= VIGIL_FOP_CREAT;
}

/* x86_64/generic open flags, as the kernel's uapi spells them */
static inline void fl_open_flags(uint64_t f, char *buf, size_t n)
{
	static const struct { uint64_t bit; const char *name; } bits[] = {
		{ 0100, "O_CREAT" }, { 0200, "O_EXCL" }, { 0400, "O_NOCTTY" },
		{ 01000, "O_TRUNC" }, { 02000, "O_APPEND" }, { 04000, "O_NONBLOCK" },
		{ 010000, "O_DSYNC" }, { 020000, "O_ASYNC" }, { 040000, "O_DIRECT" },
		{ 0100000, "O_LARGEFILE" }, { 0200000, "O_DIRECTORY" }, { 0400000, "O_NOFOLLOW" },
		{ 01000000, "O_NOATIME" }, { 02000000, "O_CLOEXEC" }, { 04000000, "__O_SYNC" },
		{ 010000000, "O_PATH" }, { 020000000, "__O_TMPFILE" },
	};
	static const char *const acc[] = { "O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE" };
	size_t o = 0;

	if (!n)
		return;
	/* O_SYNC and O_TMPFILE are two bits each: say the names people use */
	if ((f & 04010000) == 04010000) {
		f &= ~(uint64_t)04010000;
		f |= 1ull << 40;
	}
	if ((f & 020200000) == 020200000) {
		f &= ~(uint64_t)020200000;
		f |= 1ull << 41;
	}
	o += snprintf(buf + o, n - o, "%s", acc[f & 3]);
	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]) && o < n; i++)
		if (f & bits[i].bit)
			o += snprintf(buf + o, n - o, "|%s", bits[i].name);
	if (o < n && (f & (1ull << 40)))
		o += snprintf(buf + o, n - o, "|O_SYNC");
	if (o < n && (f & (1ull << 41)))
		o += snprintf(buf + o, n - o, "|O_TMPFILE");
	f &= ~(uint64_t)(3 | (1ull << 40) | (1ull << 41));
	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
		f &= ~bits[i].bit;
	if (f && o < n)
		snprintf(buf + o, n - o, "|0%llo", (unsigned long long)f);
}

/*
 * "/a/./b//c/../d" -> "/a/b/d", lexically, in place: the kernel built the
 * string from a directory's dentries and the argument as passed, and ".."
 * after a symlink may differ from what the kernel resolved (docs/file.md).
 * Relative input (no base was found) is left relative.
 */
static inline void fl_clean_path(char *p)
{
	bool abs = p[0] == '/';
	char *out = p, *seg = p;
	size_t base = abs ? 1 : 0, o = base;

	while (*seg) {
		char *end;
		size_t len;

		while (*seg == '/')
			seg++;
		if (!*seg)
			break;
		end = seg;
		while (*end && *end != '/')
			end++;
		len = (size_t)(end - seg);
		if (len == 1 && seg[0] == '.') {
			/* nothing */
		} else if (abs && len == 2 && seg[0] == '.' && seg[1] == '.') {
			/* above the root is the root */
			while (o > base && out[o - 1] != '/')
				o--;
			if (o > base)
				o--;
		} else {
			if (o > base)
				out[o++] = '/';
			memmove(out + o, seg, len);
			o += len;
		}
		seg = end;
	}
	if (abs)
		out[0] = '/';
	if (!o && !abs)
		out[o++] = '.';
	out[o] = 0;
}

/* files seen created, by path, for their lifetime at unlink; bounded, oldest out first */
#define FL_LIVE_MAX 4096

struct fl_live {
	char *path[FL_LIVE_MAX];
	uint64_t ts[FL_LIVE_MAX];
	uint32_t next;		/* the slot a new file takes (and whose old one it pushes out) */
};

static inline int fl_live_find(const struct fl_live *t, const char *path)
{
	for (int i = 0; i < FL_LIVE_MAX; i++)
		if (t->path[i] && !strcmp(t->path[i], path))
			return i;
	return -1;
}

static inline void fl_live_add(struct fl_live *t, const char *path, uint64_t ts)
{
	int i = fl_live_find(t, path);

	if (i >= 0) {
		t->ts[i] = ts;
		return;
	}
	i = t->next;
	t->next = (t->next + 1) % FL_LIVE_MAX;
	free(t->path[i]);
	t->path[i] = strdup(path);
	t->ts[i] = ts;
}

/* the creation time of path, forgetting it; 0 when it was not seen created */
static inline uint64_t fl_live_take(struct fl_live *t, const char *path)
{
	int i = fl_live_find(t, path);
	uint64_t ts;

	if (i < 0)
		return 0;
	ts = t->ts[i];
	free(t->path[i]);
	t->path[i] = NULL;
	return ts;
}

static inline void fl_live_rename(struct fl_live *t, const char *from, const char *to)
{
	uint64_t ts = fl_live_take(t, from);

	fl_live_take(t, to);	/* whatever was there is replaced */
	if (ts)
		fl_live_add(t, to, ts);
}

static inline void fl_live_free(struct fl_live *t)
{
	for (int i = 0; i < FL_LIVE_MAX; i++) {
		free(t->path[i]);
		t->path[i] = NULL;
	}
}

#endif /* VIGIL_CMD_FILE_H */
