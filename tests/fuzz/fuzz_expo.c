// SPDX-License-Identifier: GPL-2.0
/*
 * The metrics endpoint's own readers and writers (user/metrics/expo.c):
 * the Accept header's choice of format, and the escaping of HELP texts
 * and label values. The input's first line is an Accept header; the rest
 * is a label value and a HELP text.
 *
 * The choice is the same twice, and OpenMetrics is chosen only when the
 * header names it. Whatever the value, the written family is exactly
 * three lines (HELP, TYPE, the sample): no byte of the value starts a line
 * of its own; and the sample's label value reads back to the value (up to
 * a NUL, where a C string ends).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "expo.h"

static void fail(const char *what, const char *text)
{
	fprintf(stderr, "fuzz_expo: %s\n--- output:\n%s\n", what, text ? text : "(none)");
	abort();
}

static bool names_openmetrics(const char *s)
{
	for (; *s; s++)
		if (!strncasecmp(s, "application/openmetrics-text", 28))
			return true;
	return false;
}

/* Read back a label value written by put_value: from after `="` to the closing quote. */
static char *unescape(const char *p, const char **end)
{
	char *out = malloc(strlen(p) + 1), *o = out;

	for (; *p && *p != '"'; p++) {
		if (*p == '\\') {
			p++;
			if (*p == 'n')
				*o++ = '\n';
			else if (*p == '\\' || *p == '"')
				*o++ = *p;
			else
				fail("a backslash escapes something else", NULL);
		} else {
			*o++ = *p;
		}
	}
	*o = 0;
	*end = p;
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size + 1), *nl, *value;
	struct sw_expo e;
	struct sw_lbl l;
	const char *p, *end;
	char *back;
	unsigned lines = 0;
	bool om;

	memcpy(in, data, size);
	in[size] = 0;
	nl = strchr(in, '\n');
	value = nl ? nl + 1 : in + strlen(in);
	if (nl)
		*nl = 0;

	om = sw_expo_wants_openmetrics(in);
	if (om != sw_expo_wants_openmetrics(in))
		fail("the choice changed", in);
	if (om && !names_openmetrics(in))
		fail("OpenMetrics chosen by a header that does not name it", in);

	sw_expo_init(&e, om);
	l.k = "v";
	l.v = value;
	sw_expo_family(&e, "smtpwall_fuzz_total", SW_EXPO_COUNTER, value);
	sw_expo_u64(&e, "", &l, 1, 1);
	if (sw_expo_finish(&e))
		fail("out of memory", NULL);
	for (p = e.buf; *p; p++)
		lines += *p == '\n';
	if (lines != 3 + (om ? 1 : 0))
		fail("the family is not exactly its lines", e.buf);
	p = strstr(e.buf, "\nsmtpwall_fuzz_total{v=\"");
	if (!p)
		fail("no sample", e.buf);
	back = unescape(p + strlen("\nsmtpwall_fuzz_total{v=\""), &end);
	if (strcmp(back, value))
		fail("the label value does not read back", e.buf);
	if (strncmp(end, "\"} 1\n", 5))
		fail("the sample does not end as written", e.buf);
	free(back);
	sw_expo_free(&e);
	free(in);
	return 0;
}
