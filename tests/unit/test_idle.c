// SPDX-License-Identifier: GPL-2.0
/*
 * The daemon's judgement of a session record: how long it has gone
 * without progress (sw_session_idle_ns), and whether its source is on
 * probation in an emergency (sw_source_on_probation).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include "config.h"
#include "gc.h"

#define SEC 1000000000ULL
#define T   (1000 * SEC)

/* A plaintext session greeted at T, EHLO answered at T + 1 s. */
static struct sw_session helo_session(void)
{
	struct sw_session v;

	memset(&v, 0, sizeof(v));
	v.start_ns = T - SEC;
	v.greeting_ns = T;
	v.phase = v.phase_max = SW_PH_HELO;
	v.last_client_ns = T + SEC;
	v.last_server_ns = T + SEC;
	v.progress_ns = T + SEC;
	return v;
}

static void test_before_greeting(void **state)
{
	struct sw_session v;

	memset(&v, 0, sizeof(v));
	v.start_ns = T;
	v.phase = SW_PH_CONNECTED;
	/* The server's turn: the client owes nothing, however long. */
	assert_int_equal(sw_session_idle_ns(&v, T + 600 * SEC), 0);
}

static void test_idle_since_progress(void **state)
{
	struct sw_session v = helo_session();

	assert_int_equal(sw_session_idle_ns(&v, T + SEC), 0);
	assert_int_equal(sw_session_idle_ns(&v, T + 11 * SEC), 10 * SEC);
	/* Traffic without progress (NOOPs answered) changes nothing. */
	v.last_client_ns = v.last_server_ns = T + 10 * SEC;
	assert_int_equal(sw_session_idle_ns(&v, T + 11 * SEC), 10 * SEC);
	/* Progress resets it. */
	v.progress_ns = T + 10 * SEC;
	assert_int_equal(sw_session_idle_ns(&v, T + 11 * SEC), SEC);
	/* A clock that went backwards is no idleness. */
	assert_int_equal(sw_session_idle_ns(&v, T + 5 * SEC), 0);
}

static void test_greeted_only(void **state)
{
	struct sw_session v;

	memset(&v, 0, sizeof(v));
	v.start_ns = T - SEC;
	v.greeting_ns = T;
	v.phase = SW_PH_GREETED;
	v.progress_ns = T;
	assert_int_equal(sw_session_idle_ns(&v, T + 7 * SEC), 7 * SEC);
	/* Progress before the greeting (the handshake) counts from the greeting. */
	v.progress_ns = T - SEC;
	assert_int_equal(sw_session_idle_ns(&v, T + 7 * SEC), 7 * SEC);
}

static void test_server_owes(void **state)
{
	struct sw_session v = helo_session();

	/* A command sent at T + 5 s, unanswered: the client waits, not idles. */
	v.last_client_ns = T + 5 * SEC;
	v.cmd_head = 1;
	v.cmd_tail = 0;
	assert_int_equal(sw_session_idle_ns(&v, T + 60 * SEC), 0);
	/* ... up to SW_OWED_MAX_NS: a queue that never empties shields nobody for ever. */
	assert_int_equal(sw_session_idle_ns(&v, T + 5 * SEC + SW_OWED_MAX_NS),
			 4 * SEC + SW_OWED_MAX_NS);
	/* The final dot sent: the server owes the reply too (a slow content filter). */
	v.cmd_head = v.cmd_tail = 0;
	v.flags = SW_SESS_BODY | SW_SESS_DOT;
	v.phase = SW_PH_DATA;
	assert_int_equal(sw_session_idle_ns(&v, T + 60 * SEC), 0);
	/* Without the dot, a silent body is the client's: idle. */
	v.flags = SW_SESS_BODY;
	assert_int_equal(sw_session_idle_ns(&v, T + 60 * SEC), 59 * SEC);
}

static void test_closed(void **state)
{
	struct sw_session v = helo_session();

	v.flags = SW_SESS_QUIT;
	assert_int_equal(sw_session_idle_ns(&v, T + 600 * SEC), 0);
	v.flags = SW_SESS_SRV_CLOSE;
	assert_int_equal(sw_session_idle_ns(&v, T + 600 * SEC), 0);
}

/* Encrypted: unreadable, so idle only while silent after the server spoke. */
static void test_tls(void **state)
{
	struct sw_session v = helo_session();

	v.flags = SW_SESS_TLS;
	v.phase = SW_PH_TLS;
	v.progress_ns = T + SEC;
	v.last_server_ns = T + 20 * SEC;
	v.last_client_ns = T + 10 * SEC;
	assert_int_equal(sw_session_idle_ns(&v, T + 30 * SEC), 10 * SEC);
	/* The client spoke last: the server's turn, not idle, whatever progress says. */
	v.last_client_ns = T + 25 * SEC;
	assert_int_equal(sw_session_idle_ns(&v, T + 300 * SEC), 0);
}

static void test_on_probation(void **state)
{
	struct sw_settings s;
	struct sw_config k;
	struct sw_source src;

	sw_settings_defaults(&s);
	sw_settings_to_kernel(&s, &k);
	k.good_ttl_ns = 3600 * SEC;
	memset(&src, 0, sizeof(src));

	/* Never completed anything: unproven. */
	assert_false(sw_source_known_good(&k, &src, T));
	assert_true(sw_source_on_probation(&k, &s, &src, T));
	/* A message within good_ttl: known good. */
	src.last_good_ns = T - 60 * SEC;
	assert_true(sw_source_known_good(&k, &src, T));
	assert_false(sw_source_on_probation(&k, &s, &src, T));
	/* ... which runs out. */
	assert_true(sw_source_on_probation(&k, &s, &src, T + 3600 * SEC));
	/* Allowlisted: never on probation. */
	src.last_good_ns = 0;
	src.list_verdict = SW_LIST_ALLOW;
	assert_false(sw_source_on_probation(&k, &s, &src, T));
	src.list_verdict = 0;
	/* Home, with admit_home: admitted as known good would be. */
	src.country = SW_COUNTRY_FIRST;
	s.geo_home[SW_COUNTRY_FIRST] = true;
	assert_true(sw_source_on_probation(&k, &s, &src, T));	/* admit_home off */
	s.emerg_admit_home = true;
	assert_false(sw_source_on_probation(&k, &s, &src, T));
	sw_settings_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_before_greeting),
		cmocka_unit_test(test_idle_since_progress),
		cmocka_unit_test(test_greeted_only),
		cmocka_unit_test(test_server_owes),
		cmocka_unit_test(test_closed),
		cmocka_unit_test(test_tls),
		cmocka_unit_test(test_on_probation),
	};

	return cmocka_run_group_tests_name("session idleness and probation", tests, NULL, NULL);
}
