// SPDX-License-Identifier: GPL-2.0
/* The exposition writer of expo.h. */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "expo.h"

void sw_expo_init(struct sw_expo *e, bool openmetrics)
{
	memset(e, 0, sizeof(*e));
	e->openmetrics = openmetrics;
}

void sw_expo_free(struct sw_expo *e)
{
	free(e->buf);
	memset(e, 0, sizeof(*e));
}

static bool reserve(struct sw_expo *e, size_t more)
{
	size_t cap;
	char *nb;

	if (e->oom)
		return false;
	if (e->len + more + 1 <= e->cap)
		return true;
	cap = e->cap ? e->cap : 16384;
	while (cap < e->len + more + 1)
		cap *= 2;
	nb = realloc(e->buf, cap);
	if (!nb) {
		e->oom = true;
		return false;
	}
	e->buf = nb;
	e->cap = cap;
	return true;
}

static void put(struct sw_expo *e, const char *s, size_t n)
{
	if (!reserve(e, n))
		return;
	memcpy(e->buf + e->len, s, n);
	e->len += n;
	e->buf[e->len] = '\0';
}

static void puts_(struct sw_expo *e, const char *s)
{
	put(e, s, strlen(s));
}

static void __attribute__((format(printf, 2, 3))) putf(struct sw_expo *e, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!reserve(e, 64))
		return;
	va_start(ap, fmt);
	n = vsnprintf(e->buf + e->len, e->cap - e->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= e->cap - e->len) {
		if (!reserve(e, (size_t)n))
			return;
		va_start(ap, fmt);
		vsnprintf(e->buf + e->len, e->cap - e->len, fmt, ap);
		va_end(ap);
	}
	e->len += (size_t)n;
}

/* HELP text: backslash and newline escaped (both formats). */
static void put_help(struct sw_expo *e, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			puts_(e, "\\\\");
		else if (*s == '\n')
			puts_(e, "\\n");
		else
			put(e, s, 1);
	}
}

/* A label value: backslash, double quote and newline escaped. */
static void put_value(struct sw_expo *e, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			puts_(e, "\\\\");
		else if (*s == '"')
			puts_(e, "\\\"");
		else if (*s == '\n')
			puts_(e, "\\n");
		else
			put(e, s, 1);
	}
}

static const char *type_name(enum sw_expo_type t)
{
	return t == SW_EXPO_COUNTER ? "counter" : t == SW_EXPO_GAUGE ? "gauge" : "histogram";
}

void sw_expo_family(struct sw_expo *e, const char *name, enum sw_expo_type type, const char *help)
{
	size_t n = strlen(name);

	e->family = name;
	/* OpenMetrics names a counter's family without the _total of its sample. */
	if (e->openmetrics && type == SW_EXPO_COUNTER && n > 6 && !strcmp(name + n - 6, "_total"))
		n -= 6;
	puts_(e, "# HELP ");
	put(e, name, n);
	puts_(e, " ");
	put_help(e, help);
	puts_(e, "\n# TYPE ");
	put(e, name, n);
	putf(e, " %s\n", type_name(type));
}

static void sample_head(struct sw_expo *e, const char *suffix, const struct sw_lbl *l, unsigned n)
{
	puts_(e, e->family ? e->family : "unnamed");
	puts_(e, suffix ? suffix : "");
	if (n) {
		puts_(e, "{");
		for (unsigned i = 0; i < n; i++) {
			if (i)
				puts_(e, ",");
			puts_(e, l[i].k);
			puts_(e, "=\"");
			put_value(e, l[i].v ? l[i].v : "");
			puts_(e, "\"");
		}
		puts_(e, "}");
	}
}

void sw_expo_u64(struct sw_expo *e, const char *suffix, const struct sw_lbl *l, unsigned n, uint64_t v)
{
	sample_head(e, suffix, l, n);
	putf(e, " %" PRIu64 "\n", v);
}

/* The shortest of %.15g..%.17g that reads back as @v: 0.1, not 0.10000000000000001. */
static void shortest(double v, char *buf, size_t len)
{
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

static void put_double(struct sw_expo *e, double v)
{
	char num[40];

	if (isnan(v))
		puts_(e, "NaN");
	else if (isinf(v))
		puts_(e, v > 0 ? "+Inf" : "-Inf");
	else if (v == (double)(int64_t)v && fabs(v) < 9007199254740992.0)
		putf(e, "%" PRId64, (int64_t)v);
	else {
		shortest(v, num, sizeof(num));
		puts_(e, num);
	}
}

void sw_expo_f64(struct sw_expo *e, const char *suffix, const struct sw_lbl *l, unsigned n, double v)
{
	sample_head(e, suffix, l, n);
	puts_(e, " ");
	put_double(e, v);
	puts_(e, "\n");
}

void sw_expo_one_u64(struct sw_expo *e, const char *name, enum sw_expo_type type, const char *help,
		     uint64_t v)
{
	sw_expo_family(e, name, type, help);
	sw_expo_u64(e, "", NULL, 0, v);
}

void sw_expo_one_f64(struct sw_expo *e, const char *name, enum sw_expo_type type, const char *help,
		     double v)
{
	sw_expo_family(e, name, type, help);
	sw_expo_f64(e, "", NULL, 0, v);
}

#define MAX_HIST_LABELS 8

void sw_expo_histogram(struct sw_expo *e, const struct sw_lbl *l, unsigned n, const double *bounds,
		       unsigned nb, const uint64_t *counts, double sum)
{
	struct sw_lbl ll[MAX_HIST_LABELS + 1];
	char le[64];
	uint64_t cum = 0;

	if (n > MAX_HIST_LABELS)
		n = MAX_HIST_LABELS;
	memcpy(ll, l, n * sizeof(*l));
	ll[n].k = "le";
	ll[n].v = le;
	for (unsigned i = 0; i <= nb; i++) {
		cum += counts[i];
		if (i < nb) {
			/* OpenMetrics wants a canonical float: 1.0, not 1 */
			if (bounds[i] == (double)(int64_t)bounds[i])
				snprintf(le, sizeof(le), "%" PRId64 ".0", (int64_t)bounds[i]);
			else
				shortest(bounds[i], le, sizeof(le));
		} else {
			snprintf(le, sizeof(le), "+Inf");
		}
		sw_expo_u64(e, "_bucket", ll, n + 1, cum);
	}
	sw_expo_f64(e, "_sum", l, n, sum);
	sw_expo_u64(e, "_count", l, n, cum);
}

int sw_expo_finish(struct sw_expo *e)
{
	if (e->openmetrics)
		puts_(e, "# EOF\n");
	if (!e->buf)
		reserve(e, 1);
	return e->oom ? -1 : 0;
}

const char *sw_expo_content_type(bool openmetrics)
{
	return openmetrics ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
			   : "text/plain; version=0.0.4; charset=utf-8";
}

/* The q-value of one media range's parameters ("; version=1.0.0; q=0.5"), 1 if none. */
static double q_of(const char *p, const char *end)
{
	while (p < end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));

		if (!semi)
			break;
		p = semi + 1;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (end - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
			char num[16];
			size_t n = 0;

			p += 2;
			while (p < end && n < sizeof(num) - 1 && (isdigit((unsigned char)*p) || *p == '.'))
				num[n++] = *p++;
			num[n] = '\0';
			return n ? strtod(num, NULL) : 0;
		}
	}
	return 1;
}

bool sw_expo_wants_openmetrics(const char *accept)
{
	double q_om = -1, q_text = -1;
	const char *p = accept;

	if (!accept)
		return false;
	while (*p) {
		const char *end = strchr(p, ',');
		const char *mt_end;
		size_t mt_len;
		double q;

		if (!end)
			end = p + strlen(p);
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		mt_end = memchr(p, ';', (size_t)(end - p));
		if (!mt_end)
			mt_end = end;
		mt_len = (size_t)(mt_end - p);
		while (mt_len && (p[mt_len - 1] == ' ' || p[mt_len - 1] == '\t'))
			mt_len--;
		q = q_of(p, end);
		if (mt_len == 28 && !strncasecmp(p, "application/openmetrics-text", 28)) {
			if (q > q_om)
				q_om = q;
		} else if ((mt_len == 10 && !strncasecmp(p, "text/plain", 10)) ||
			   (mt_len == 3 && !strncmp(p, "*/*", 3)) || (mt_len == 6 && !strncasecmp(p, "text/*", 6))) {
			if (q > q_text)
				q_text = q;
		}
		p = *end ? end + 1 : end;
	}
	return q_om > 0 && q_om >= q_text;
}
