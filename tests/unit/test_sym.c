// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* The symbolizer's pure parts, the flame graph tree, and a live lookup in this process. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <unistd.h>
#include "check.h"
#include "core/flame.h"
#include "core/ksyms.h"
#include "core/perf.h"
#include "core/sym.h"

__attribute__((noinline)) int sym_test_target(int x)
{
	return x * 3 + 1;
}

static void test_maps(void)
{
	char line[] = "7f12a0000000-7f12a0021000 r-xp 00002000 08:01 1234567    /usr/lib/x86_64-linux-gnu/libc.so.6\n";
	char anon[] = "7ffd1000-7ffd3000 rw-p 00000000 00:00 0 \n";
	char bad[] = "zzz r-xp\n";
	struct vigil_map_line m;

	CHECK(vigil_maps_parse(line, &m) == 0);
	CHECK(m.start == 0x7f12a0000000ull && m.end == 0x7f12a0021000ull);
	CHECK(m.pgoff == 0x2000 && m.inode == 1234567 && m.dev_major == 8 && m.dev_minor == 1);
	CHECK(m.exec);
	CHECK_STR(m.path, "/usr/lib/x86_64-linux-gnu/libc.so.6");
	CHECK(vigil_maps_parse(anon, &m) == 0);
	CHECK(!m.exec);
	CHECK_STR(m.path, "");
	CHECK(vigil_maps_parse(bad, &m) == -1);
}

static void test_segs(void)
{
	/* a PIE's text segment: file offset 0x1000 at vaddr 0x1000, data at 0x2df0 -> 0x3df0 */
	struct vigil_seg s[] = { { 0, 0, 0x6c8 }, { 0x1000, 0x1000, 0x815 }, { 0x2df0, 0x3df0, 0x230 } };
	uint64_t v;

	CHECK(vigil_seg_vaddr(s, 3, 0x1460, &v) == 0 && v == 0x1460);
	CHECK(vigil_seg_vaddr(s, 3, 0x2e00, &v) == 0 && v == 0x3e00);
	CHECK(vigil_seg_vaddr(s, 3, 0x1815, &v) == -1);	/* past the segment */
	CHECK(vigil_seg_vaddr(s, 0, 0x10, &v) == -1);
}

static void test_symtab(void)
{
	struct vigil_symtab t = { 0 };
	const struct vigil_symtab_ent *e;

	vigil_symtab_add(&t, 0x2000, 0x100, "second");
	vigil_symtab_add(&t, 0x1000, 0x10, "first");
	vigil_symtab_add(&t, 0x1000, 0, "first_alias");
	vigil_symtab_add(&t, 0x3000, 0, "asm_routine");
	vigil_symtab_finish(&t);
	CHECK(t.n == 3);	/* the alias of size 0 at 0x1000 is dropped for the sized one */
	e = vigil_symtab_find(&t, 0x1008);
	CHECK(e && !strcmp(e->name, "first"));
	CHECK(vigil_symtab_find(&t, 0x1010) == NULL);	/* in the gap after first's 16 bytes */
	CHECK(vigil_symtab_find(&t, 0xfff) == NULL);
	e = vigil_symtab_find(&t, 0x20ff);
	CHECK(e && !strcmp(e->name, "second"));
	e = vigil_symtab_find(&t, 0x3400);	/* size 0: reaches on */
	CHECK(e && !strcmp(e->name, "asm_routine"));
	CHECK(vigil_symtab_find(&t, 0x3000 + 65536) == NULL);
	vigil_symtab_free(&t);
	CHECK(t.n == 0 && !t.e);
}

static void test_perfmap(void)
{
	char text[] = "7f0010000000 40 LazyCompile:~hot /app.js:3\n"
		      "0x7f0010000100 0x20 Builtin:Add\nbogus\n7f0010000200 10\n";
	FILE *f = fmemopen(text, strlen(text), "r");
	struct vigil_symtab t = { 0 };
	const struct vigil_symtab_ent *e;

	CHECK(vigil_perfmap_parse(f, &t) == 2);
	fclose(f);
	e = vigil_symtab_find(&t, 0x7f001000003full);
	CHECK(e && !strcmp(e->name, "LazyCompile:~hot /app.js:3"));
	CHECK(vigil_symtab_find(&t, 0x7f0010000040ull) == NULL);
	e = vigil_symtab_find(&t, 0x7f0010000110ull);
	CHECK(e && !strcmp(e->name, "Builtin:Add"));
	vigil_symtab_free(&t);
}

static void test_format(void)
{
	struct vigil_sym s = { "a;b\nc", "libx.so", 0, false };
	char buf[64];

	vigil_sym_format(&s, buf, sizeof(buf));
	CHECK_STR(buf, "a_b_c");
	s.name = NULL;
	vigil_sym_format(&s, buf, sizeof(buf));
	CHECK_STR(buf, "[libx.so]");
	s.module = NULL;
	vigil_sym_format(&s, buf, sizeof(buf));
	CHECK_STR(buf, "[unknown]");
	s = (struct vigil_sym){ "ext4_file_read_iter", "ext4", 0, true };
	vigil_sym_format(&s, buf, sizeof(buf));
	CHECK_STR(buf, "ext4_file_read_iter [ext4]");
	s.module = "vmlinux";
	vigil_sym_format(&s, buf, sizeof(buf));
	CHECK_STR(buf, "ext4_file_read_iter");
}

static void test_kallsyms(void)
{
	char text[] = "ffffffff81000000 T _stext\n"
		      "ffffffff81000100 t helper\n"
		      "ffffffff82000000 D some_data\n"
		      "ffffffffc0001000 t ext4_thing\t[ext4]\n"
		      "0000000000000000 T hidden\n";
	FILE *f = fmemopen(text, strlen(text), "r");
	struct vigil_kallsyms *ks = vigil_kallsyms_parse(f);
	const char *mod = NULL;
	uint64_t off = 0;

	fclose(f);
	CHECK(ks && vigil_kallsyms_count(ks) == 3);	/* text only, hidden addresses dropped */
	CHECK_STR(vigil_kallsyms_find(ks, 0xffffffff81000150ull, &off, &mod), "helper");
	CHECK(off == 0x50 && mod && !strcmp(mod, ""));
	CHECK_STR(vigil_kallsyms_find(ks, 0xffffffffc0001004ull, &off, &mod), "ext4_thing");
	CHECK(mod && !strcmp(mod, "ext4"));
	CHECK(vigil_kallsyms_find(ks, 0xffffffff80000000ull, &off, &mod) == NULL);
	vigil_kallsyms_free(ks);
}

static void test_cpulist(void)
{
	bool set[8];

	CHECK(vigil_parse_cpulist("0,2-3", set, 8) == 0);
	CHECK(set[0] && !set[1] && set[2] && set[3] && !set[4]);
	CHECK(vigil_parse_cpulist("0-7\n", set, 8) == 0 && set[7]);
	CHECK(vigil_parse_cpulist("8", set, 8) == -1);
	CHECK(vigil_parse_cpulist("3-1", set, 8) == -1);
	CHECK(vigil_parse_cpulist("1,", set, 8) == -1);
	CHECK(vigil_parse_cpulist("", set, 8) == -1);
	CHECK(vigil_parse_cpulist("a", set, 8) == -1);
}

static void test_flame(void)
{
	struct vigil_flame *fl = vigil_flame_new();
	const char *a[] = { "app", "main", "parent", "hot" };
	const char *b[] = { "app", "main", "other" };
	const char *c[] = { "app", "main", "rec", "rec", "rec" };
	bool kb[] = { false, false, true };
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	CHECK(vigil_flame_add(fl, a, NULL, 4, 75) == 0);
	CHECK(vigil_flame_add(fl, b, kb, 3, 20) == 0);
	CHECK(vigil_flame_add(fl, c, NULL, 5, 5) == 0);
	CHECK(vigil_flame_total(fl) == 100);
	CHECK(vigil_flame_frame_total(fl, "main") == 100);
	CHECK(vigil_flame_frame_total(fl, "hot") == 75);
	CHECK(vigil_flame_frame_total(fl, "rec") == 5);	/* recursion counted once */
	f = open_memstream(&buf, &len);
	CHECK(vigil_flame_svg(fl, f, "t <&>", "samples") == 0);
	fclose(f);
	CHECK(strstr(buf, "<title>hot (75 samples, 75.00%)</title>") != NULL);
	CHECK(strstr(buf, "<title>other (20 samples, 20.00%)</title>") != NULL);
	CHECK(strstr(buf, "t &lt;&amp;&gt;") != NULL);
	CHECK(strstr(buf, "http://") == strstr(buf, "http://www.w3.org/2000/svg"));	/* no fetches */
	free(buf);
	vigil_flame_free(fl);
}

/* this process: its PIE text and libc, through /proc/self/maps */
static void test_live(void)
{
	struct vigil_symbolizer *sy = vigil_sym_new();
	struct vigil_sym s;
	uintptr_t fn = (uintptr_t)sym_test_target;

	CHECK(vigil_sym_proc_seen(sy, getpid()) == 0);
	CHECK(vigil_sym_user(sy, getpid(), fn + 2, &s) == 0);
	CHECK(s.name && !strcmp(s.name, "sym_test_target") && s.off == 2);
	CHECK(s.module && !strcmp(s.module, "test_sym"));
	CHECK(vigil_sym_user(sy, getpid(), (uintptr_t)abs, &s) == 0);
	CHECK(s.name && !strcmp(s.name, "abs"));
	CHECK(s.module && !strcmp(s.module, "libc.so.6"));
	CHECK(vigil_sym_user(sy, getpid(), 16, &s) == -1);
	vigil_sym_free(sy);
}

int main(void)
{
	test_maps();
	test_segs();
	test_symtab();
	test_perfmap();
	test_format();
	test_kallsyms();
	test_cpulist();
	test_flame();
	test_live();
	return check_done("test_sym");
}
