/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The exposition formats of Prometheus: the text format 0.0.4 and
 * OpenMetrics 1.0.0, written into a growing buffer. A family is declared
 * once (HELP and TYPE), then its samples follow. Counter names carry their
 * `_total`; OpenMetrics's TYPE line names the family without it. Label
 * values are escaped here; names are the caller's constants.
 */
#ifndef SW_EXPO_H
#define SW_EXPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sw_expo_type { SW_EXPO_COUNTER = 0, SW_EXPO_GAUGE, SW_EXPO_HISTOGRAM };

struct sw_lbl {
	const char *k, *v;
};

struct sw_expo {
	char *buf;
	size_t len, cap;
	bool oom;		/* an allocation failed: the output is incomplete */
	bool openmetrics;
	const char *family;	/* the family being written */
};

void sw_expo_init(struct sw_expo *e, bool openmetrics);
void sw_expo_free(struct sw_expo *e);
/* Ends the exposition (OpenMetrics's "# EOF"). Non-zero if memory ran out. */
int sw_expo_finish(struct sw_expo *e);

void sw_expo_family(struct sw_expo *e, const char *name, enum sw_expo_type type, const char *help);
/* A sample of the current family: its name plus @suffix ("" or e.g. "_bucket"), @n labels. */
void sw_expo_u64(struct sw_expo *e, const char *suffix, const struct sw_lbl *l, unsigned n, uint64_t v);
void sw_expo_f64(struct sw_expo *e, const char *suffix, const struct sw_lbl *l, unsigned n, double v);
/* A whole family of one unlabelled sample. */
void sw_expo_one_u64(struct sw_expo *e, const char *name, enum sw_expo_type type, const char *help,
		     uint64_t v);
void sw_expo_one_f64(struct sw_expo *e, const char *name, enum sw_expo_type type, const char *help,
		     double v);
/*
 * A histogram's samples (after sw_expo_family(..., SW_EXPO_HISTOGRAM)):
 * @counts[i] the observations in bucket i, not cumulative, for @nb upper
 * bounds and the last, unbounded one (@counts has nb + 1 entries); @sum the
 * observations added up. @l, @n: labels common to the samples.
 */
void sw_expo_histogram(struct sw_expo *e, const struct sw_lbl *l, unsigned n, const double *bounds,
		       unsigned nb, const uint64_t *counts, double sum);

/* The Content-Type of the format. */
const char *sw_expo_content_type(bool openmetrics);
/*
 * Does an Accept header ask for OpenMetrics? True when it names
 * application/openmetrics-text with a q-value not below that of text/plain.
 */
bool sw_expo_wants_openmetrics(const char *accept);

#endif
