/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Metrics in the Prometheus text format (0.0.4), written at scrape time
 * from what the features count: each family once (HELP, TYPE), series with
 * bounded labels, log2 histograms as native Prometheus histograms. The
 * number of series is capped; what is over the cap is counted, not written.
 */
#ifndef VIGIL_METRICS_H
#define VIGIL_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vigil_metrics {
	char *buf;
	size_t len, cap;
	uint32_t series, limit;		/* written, and the cap */
	uint64_t dropped;		/* series over the cap in this scrape */
	bool oom;
	const char *family;		/* the family being written */
};

void vm_init(struct vigil_metrics *m, uint32_t limit);
void vm_free(struct vigil_metrics *m);
/* start a family: type is "counter", "gauge" or "histogram" */
void vm_family(struct vigil_metrics *m, const char *name, const char *type, const char *help);
/*
 * One series of the current family: labels is "k1", "v1", "k2", "v2", ...,
 * NULL-terminated (values are escaped here).
 */
void vm_value(struct vigil_metrics *m, double v, const char *const *labels);
void vm_u64(struct vigil_metrics *m, uint64_t v, const char *const *labels);
/* labels rendered once ({k="v",...}, escaped; malloc'd, NULL on ENOMEM), for series that
 * repeat them in several families: thousands of firewall rules in three */
char *vm_labels_render(const char *const *labels);
void vm_u64_pre(struct vigil_metrics *m, uint64_t v, const char *rendered);
/* a log2 histogram (VIGIL_HIST_SLOTS slots of [2^k, 2^(k+1)) in unit_ns ns each
 * value; bounds in seconds), sum estimated from the buckets unless sum_s >= 0 */
void vm_hist(struct vigil_metrics *m, const uint64_t *slots, double scale, double sum,
	     const char *const *labels);
/* the closing self-series: written, dropped */
void vm_finish(struct vigil_metrics *m);

#endif
