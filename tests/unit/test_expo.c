// SPDX-License-Identifier: GPL-2.0
/*
 * The exposition writer (user/metrics/expo.c) and a scrape's rendering
 * (sw_scrape_render, user/metrics/metrics.c) on a snapshot made here: the
 * exact bytes of families, labels, escapes and histograms in both formats,
 * the Accept header's choice, and the bounds that keep the label sets
 * finite (countries: configured + busiest + other; sources: the busiest).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "expo.h"
#include "metrics.h"
#include "parse.h"

static void test_counter_text_and_openmetrics(void **state)
{
	struct sw_expo e;
	struct sw_lbl l = { "reason", "rate" };

	(void)state;
	sw_expo_init(&e, false);
	sw_expo_family(&e, "smtpwall_x_total", SW_EXPO_COUNTER, "Things.");
	sw_expo_u64(&e, "", &l, 1, 18446744073709551615ULL);
	assert_int_equal(sw_expo_finish(&e), 0);
	assert_string_equal(e.buf, "# HELP smtpwall_x_total Things.\n# TYPE smtpwall_x_total counter\n"
				   "smtpwall_x_total{reason=\"rate\"} 18446744073709551615\n");
	sw_expo_free(&e);

	sw_expo_init(&e, true);
	sw_expo_family(&e, "smtpwall_x_total", SW_EXPO_COUNTER, "Things.");
	sw_expo_u64(&e, "", NULL, 0, 3);
	sw_expo_one_f64(&e, "smtpwall_g", SW_EXPO_GAUGE, "A gauge.", 0.25);
	assert_int_equal(sw_expo_finish(&e), 0);
	/* OpenMetrics names the counter's family without _total; the sample keeps it; # EOF ends. */
	assert_string_equal(e.buf, "# HELP smtpwall_x Things.\n# TYPE smtpwall_x counter\nsmtpwall_x_total 3\n"
				   "# HELP smtpwall_g A gauge.\n# TYPE smtpwall_g gauge\nsmtpwall_g 0.25\n# EOF\n");
	sw_expo_free(&e);
}

static void test_escapes(void **state)
{
	struct sw_expo e;
	struct sw_lbl l[2] = { { "a", "q\"uote\\back\nline" }, { "b", "" } };

	(void)state;
	sw_expo_init(&e, false);
	sw_expo_family(&e, "m", SW_EXPO_GAUGE, "Help with \\ and\nnewline \"quoted\".");
	sw_expo_u64(&e, "", l, 2, 1);
	sw_expo_finish(&e);
	assert_string_equal(e.buf, "# HELP m Help with \\\\ and\\nnewline \"quoted\".\n# TYPE m gauge\n"
				   "m{a=\"q\\\"uote\\\\back\\nline\",b=\"\"} 1\n");
	sw_expo_free(&e);
}

static void test_histogram(void **state)
{
	struct sw_expo e;
	const double b[3] = { 0.1, 1, 2.5 };
	const uint64_t c[4] = { 1, 0, 2, 5 };

	(void)state;
	sw_expo_init(&e, false);
	sw_expo_family(&e, "h_seconds", SW_EXPO_HISTOGRAM, "H.");
	sw_expo_histogram(&e, NULL, 0, b, 3, c, 12.5);
	sw_expo_finish(&e);
	assert_string_equal(e.buf, "# HELP h_seconds H.\n# TYPE h_seconds histogram\n"
				   "h_seconds_bucket{le=\"0.1\"} 1\n"
				   "h_seconds_bucket{le=\"1.0\"} 1\nh_seconds_bucket{le=\"2.5\"} 3\n"
				   "h_seconds_bucket{le=\"+Inf\"} 8\nh_seconds_sum 12.5\nh_seconds_count 8\n");
	sw_expo_free(&e);
}

static void test_values(void **state)
{
	struct sw_expo e;

	(void)state;
	sw_expo_init(&e, false);
	sw_expo_family(&e, "v", SW_EXPO_GAUGE, "V.");
	sw_expo_f64(&e, "", NULL, 0, 1e300);
	sw_expo_f64(&e, "", NULL, 0, -2);
	sw_expo_f64(&e, "", NULL, 0, 1.0 / 0.0);
	sw_expo_f64(&e, "", NULL, 0, 0.0 / 0.0);
	sw_expo_finish(&e);
	assert_non_null(strstr(e.buf, "v 1e+300\nv -2\nv +Inf\nv NaN\n"));
	sw_expo_free(&e);
}

static void test_accept(void **state)
{
	(void)state;
	/* Prometheus 2.x's own header. */
	assert_true(sw_expo_wants_openmetrics("application/openmetrics-text;version=1.0.0,application/"
					      "openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;"
					      "q=0.5,*/*;q=0.1"));
	assert_true(sw_expo_wants_openmetrics("application/openmetrics-text"));
	assert_true(sw_expo_wants_openmetrics(" Application/OpenMetrics-Text ; version=1.0.0 "));
	assert_false(sw_expo_wants_openmetrics(NULL));
	assert_false(sw_expo_wants_openmetrics(""));
	assert_false(sw_expo_wants_openmetrics("*/*"));
	assert_false(sw_expo_wants_openmetrics("text/plain;version=0.0.4"));
	assert_false(sw_expo_wants_openmetrics("text/plain;q=1,application/openmetrics-text;q=0.5"));
	assert_false(sw_expo_wants_openmetrics("application/openmetrics-text;q=0"));
	assert_false(sw_expo_wants_openmetrics("application/openmetrics-textual"));
	assert_false(sw_expo_wants_openmetrics(";;;,,,=q;q=;"));
}

/* ---- rendering a snapshot ---- */

static char *render(const struct sw_scrape *sc, bool om)
{
	struct sw_expo e;
	char *s;

	sw_expo_init(&e, om);
	assert_int_equal(sw_scrape_render(sc, &e), 0);
	s = strdup(e.buf);
	sw_expo_free(&e);
	return s;
}

static unsigned count_lines(const char *text, const char *prefix)
{
	unsigned n = 0;
	size_t pl = strlen(prefix);

	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, prefix, pl))
			n++;
	return n;
}

static struct sw_scrape *snapshot(void)
{
	struct sw_scrape *sc = calloc(1, sizeof(*sc));

	sc->stats_ok = sc->ds_ok = sc->geo_ok = sc->countries_ok = sc->sources_ok = true;
	sc->top_countries = 2;
	sc->st.dropped[SW_R_RATE] = 7;
	sc->st.penalties_by[SW_R_AUTH] = 2;
	sc->st.session_duration[0] = 3;
	sc->st.session_duration[SW_DUR_BUCKETS - 1] = 1;
	sc->st.session_duration_ns = 4000000000ULL;
	sc->mono_now = 100ULL * 1000000000ULL;
	sc->ds.emergency_since_ns = 90ULL * 1000000000ULL;
	sc->ds.emergency_ns_total = 5ULL * 1000000000ULL;
	sc->ds.emergency_entered = 2;
	sc->ds.emergency_left = 1;
	return sc;
}

static void test_render_kernel(void **state)
{
	struct sw_scrape *sc = snapshot();
	char *t;

	(void)state;
	t = render(sc, false);
	assert_non_null(strstr(t, "\nsmtpwall_dropped_packets_total{reason=\"rate\"} 7\n"));
	assert_non_null(strstr(t, "\nsmtpwall_dropped_packets_total{reason=\"emergency\"} 0\n"));
	/* penalties have the session reasons too; drops do not */
	assert_non_null(strstr(t, "\nsmtpwall_penalties_total{reason=\"auth\"} 2\n"));
	assert_null(strstr(t, "smtpwall_dropped_packets_total{reason=\"auth\"}"));
	assert_non_null(strstr(t, "\nsmtpwall_session_duration_seconds_bucket{le=\"0.1\"} 3\n"));
	assert_non_null(strstr(t, "\nsmtpwall_session_duration_seconds_bucket{le=\"1800.0\"} 3\n"));
	assert_non_null(strstr(t, "\nsmtpwall_session_duration_seconds_bucket{le=\"+Inf\"} 4\n"));
	assert_non_null(strstr(t, "\nsmtpwall_session_duration_seconds_sum 4\n"));
	/* in emergency for 10 s now, after 5 s in earlier ones */
	assert_non_null(strstr(t, "\nsmtpwall_emergency_active 1\n"));
	assert_non_null(strstr(t, "\nsmtpwall_emergency_seconds_total 15\n"));
	assert_non_null(strstr(t, "\nsmtpwall_emergency_transitions_total{direction=\"entered\"} 2\n"));
	/* a part that could not be read is left out, the rest stays */
	free(t);
	sc->stats_ok = false;
	t = render(sc, false);
	assert_null(strstr(t, "smtpwall_dropped_packets_total"));
	assert_non_null(strstr(t, "smtpwall_emergency_active 1"));
	free(t);
	free(sc);
}

static void test_render_countries_bounded(void **state)
{
	struct sw_scrape *sc = snapshot();
	int jp = sw_country_id("JP"), us = sw_country_id("US"), cn = sw_country_id("CN"), br = sw_country_id("BR"),
	    de = sw_country_id("DE");
	char *t;

	(void)state;
	sc->configured_country[jp] = true;	/* home: listed even when quiet */
	sc->cs[us].syn = 50;
	sc->cs[cn].syn = 40;
	sc->cs[br].syn = 30;
	sc->cs[de].syn = 20;
	sc->cs[de].dropped[SW_R_COUNTRY] = 4;
	sc->cs[SW_COUNTRY_UNKNOWN].syn = 5;
	sc->country_sessions[br] = 6;
	t = render(sc, false);
	assert_int_equal(count_lines(t, "smtpwall_country_connection_attempts_total{"), 4);	/* JP US CN other */
	assert_non_null(strstr(t, "smtpwall_country_connection_attempts_total{country=\"JP\"} 0\n"));
	assert_non_null(strstr(t, "smtpwall_country_connection_attempts_total{country=\"US\"} 50\n"));
	assert_non_null(strstr(t, "smtpwall_country_connection_attempts_total{country=\"CN\"} 40\n"));
	/* BR, DE and unknown are summed in other */
	assert_non_null(strstr(t, "smtpwall_country_connection_attempts_total{country=\"other\"} 55\n"));
	assert_non_null(strstr(t, "smtpwall_country_dropped_packets_total{country=\"other\"} 4\n"));
	assert_non_null(strstr(t, "smtpwall_country_sessions{country=\"other\"} 6\n"));
	assert_null(strstr(t, "country=\"BR\""));
	free(t);
	free(sc);
}

static void test_render_sources_and_decisions(void **state)
{
	struct sw_scrape *sc = snapshot();
	struct sw_top_source top[2] = { 0 };
	char *t;

	(void)state;
	snprintf(top[0].text, sizeof(top[0].text), "192.0.2.7");
	top[0].syn = 9;
	top[0].penalised = true;
	snprintf(top[1].text, sizeof(top[1].text), "2001:db8:1:2::/64");
	top[1].syn = 4;
	sc->top = top;
	sc->n_top = 2;
	sc->fig.policy.decisions[SW_V_REFUSE][SW_POL_LIMITS] = 3;
	sc->fig.policy.decisions[SW_V_DUNNO][SW_POL_NONE] = 10;
	sc->fig.policy.latency[0] = 10;
	sc->fig.policy.latency[SW_POL_LAT_BUCKETS] = 3;
	t = render(sc, true);
	assert_non_null(strstr(t, "smtpwall_source_connection_attempts_total{source=\"192.0.2.7\"} 9\n"));
	assert_non_null(strstr(t, "smtpwall_source_penalised{source=\"192.0.2.7\"} 1\n"));
	assert_non_null(strstr(t, "smtpwall_source_connection_attempts_total{source=\"2001:db8:1:2::/64\"} 4\n"));
	assert_non_null(strstr(t, "smtpwall_policy_decisions_total{action=\"refuse\",policy=\"limits\"} 3\n"));
	assert_non_null(strstr(t, "smtpwall_policy_decisions_total{action=\"dunno\",policy=\"none\"} 10\n"));
	/* impossible pairs are not series */
	assert_null(strstr(t, "action=\"dunno\",policy=\"limits\""));
	assert_null(strstr(t, "action=\"refuse\",policy=\"none\""));
	assert_non_null(strstr(t, "smtpwall_policy_request_duration_seconds_count 13\n"));
	assert_non_null(strstr(t, "# TYPE smtpwall_policy_decisions counter\n"));
	assert_int_equal(strcmp(t + strlen(t) - 6, "# EOF\n"), 0);
	free(t);
	sc->top = NULL;
	free(sc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counter_text_and_openmetrics),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_accept),
		cmocka_unit_test(test_render_kernel),
		cmocka_unit_test(test_render_countries_bounded),
		cmocka_unit_test(test_render_sources_and_decisions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
