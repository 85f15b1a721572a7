// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* The Prometheus text rendering, the series limit, and the YAML config tree. */
#include <string.h>
#include "check.h"
#include "core/config.h"
#include "core/metrics.h"
#include "vigil/events.h"

static void test_text(void)
{
	struct vigil_metrics m;

	vm_init(&m, 0);
	vm_family(&m, "vigil_x_total", "counter", "things");
	vm_u64(&m, 7, (const char *[]){ "feature", "proc/a\"b\\c\nd", NULL });
	vm_family(&m, "vigil_g", "gauge", "a gauge");
	vm_value(&m, 1.5, NULL);
	CHECK_STR(m.buf, "# HELP vigil_x_total things\n# TYPE vigil_x_total counter\n"
		  "vigil_x_total{feature=\"proc/a\\\"b\\\\c\\nd\"} 7\n"
		  "# HELP vigil_g a gauge\n# TYPE vigil_g gauge\nvigil_g 1.5\n");
	vm_free(&m);
}

static void test_hist(void)
{
	uint64_t slots[VIGIL_HIST_SLOTS] = { 0 };
	struct vigil_metrics m;

	slots[10] = 3;		/* 1024..2047 ns */
	slots[12] = 1;		/* 4096..8191 ns */
	vm_init(&m, 0);
	vm_family(&m, "lat_seconds", "histogram", "latency");
	vm_hist(&m, slots, 1e-9, -1, (const char *[]){ "syscall", "read", NULL });
	CHECK(strstr(m.buf, "lat_seconds_bucket{syscall=\"read\",le=\"1.024e-06\"} 0\n") != NULL);
	CHECK(strstr(m.buf, "lat_seconds_bucket{syscall=\"read\",le=\"2.048e-06\"} 3\n") != NULL);
	CHECK(strstr(m.buf, "lat_seconds_bucket{syscall=\"read\",le=\"8.192e-06\"} 4\n") != NULL);
	CHECK(strstr(m.buf, "lat_seconds_bucket{syscall=\"read\",le=\"+Inf\"} 4\n") != NULL);
	CHECK(strstr(m.buf, "lat_seconds_count{syscall=\"read\"} 4\n") != NULL);
	/* the sum from bucket midpoints: 3 x 1535.5 + 6143.5 = 10750 ns */
	CHECK(strstr(m.buf, "lat_seconds_sum{syscall=\"read\"} 1.075e-05\n") != NULL);
	vm_free(&m);
}

static void test_limit(void)
{
	struct vigil_metrics m;

	vm_init(&m, 3);
	vm_family(&m, "x", "counter", "x");
	for (int i = 0; i < 5; i++)
		vm_u64(&m, i, NULL);
	vm_finish(&m);
	CHECK(m.series == 5);	/* 3 + the two of vm_finish */
	CHECK(strstr(m.buf, "vigil_metrics_series_dropped 2\n") != NULL);
	CHECK(strstr(m.buf, "x 3\n") == NULL);
	vm_free(&m);
}

static const char *cfg_err(const char *text)
{
	static struct vcfg_err err;
	struct vcfg_node *n = vcfg_parse("t.yaml", text, strlen(text), &err);

	if (n) {
		vcfg_free(n);
		return "";
	}
	return err.msg;
}

static void test_config(void)
{
	struct vcfg_err err;
	const char *good = "features:\n  proc:\n    exec-only: true\n  syscall:\n    - name: a\n      syscall: [read, write]\n";
	struct vcfg_node *n = vcfg_parse("t.yaml", good, strlen(good), &err), *f, *s;

	CHECK(n != NULL);
	f = vcfg_get(n, "features");
	CHECK(f && f->kind == VCFG_MAP && f->n == 2);
	CHECK(f && !strcmp(vcfg_get(vcfg_get(f, "proc"), "exec-only")->value, "true"));
	s = f ? vcfg_get(f, "syscall") : NULL;
	CHECK(s && s->kind == VCFG_SEQ && s->n == 1 && s->kids[0]->line == 5 && s->kids[0]->col == 7);
	vcfg_free(n);
	CHECK(!strncmp(cfg_err("a: 1\na: 2\n"), "t.yaml:2:1: error: duplicate key 'a'", 36));
	CHECK(!strncmp(cfg_err("a: [1, 2\n"), "t.yaml:2:1: error:", 18));
	CHECK(!strncmp(cfg_err("- 1\n"), "t.yaml:1:1: error: the top level must be a mapping", 50));
	CHECK(!strncmp(cfg_err(""), "t.yaml:1:1: error: the file is empty", 36));
	CHECK(!strncmp(cfg_err("a: &x 1\nb: *x\n"), "t.yaml:2:4: error: aliases are not supported", 44));
}

int main(void)
{
	test_text();
	test_hist();
	test_limit();
	test_config();
	return check_done("test_metrics");
}
