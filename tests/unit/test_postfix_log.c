// SPDX-License-Identifier: GPL-2.0
/*
 * Postfix smtpd log lines (user/maillog/postfix_log.c): each kind the
 * follower reads, in the syslog, RFC 3339 and journal forms, with the
 * service names and port logging; lines of other programs and of no
 * interest; and hostile lines (crafted names, spoofed usernames, cut
 * lines) that must not move an address or an account.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "postfix_log.h"

static enum sw_mlog_kind parse(const char *line, struct sw_mlog *m)
{
	return sw_mlog_parse(line, strlen(line), m);
}

static void expect_kind(const char *line, enum sw_mlog_kind want)
{
	struct sw_mlog m;
	enum sw_mlog_kind got = parse(line, &m);

	if (got != want)
		fail_msg("\"%s\": read as %s, expected %s", line, sw_mlog_kind_name(got), sw_mlog_kind_name(want));
}

static void test_auth_failed_forms(void **state)
{
	struct sw_mlog m;

	/* 3.5-3.8: no username */
	assert_int_equal(parse("Dec  6 12:00:01 mx1 postfix/submission/smtpd[4242]: warning: unknown[203.0.113.5]: "
			       "SASL LOGIN authentication failed: authentication failure", &m),
			 SW_ML_AUTH_FAILED);
	assert_string_equal(m.service, "submission");
	assert_int_equal(m.pid, 4242);
	assert_int_equal(m.family, AF_INET);
	assert_string_equal(m.addr_text, "203.0.113.5");
	assert_memory_equal(m.addr, "\xcb\x00\x71\x05", 4);
	assert_string_equal(m.method, "LOGIN");
	assert_false(m.has_username);

	/* 3.9 on: the username last; RFC 3339 time, IPv6, a reverse name */
	assert_int_equal(parse("2026-12-06T12:00:02.123456+09:00 mx1 postfix/smtps/smtpd[77]: warning: "
			       "host.example.net[2001:db8:1:2::33]: SASL PLAIN authentication failed: "
			       "UGFzc3dvcmQ6, sasl_username=alice@example.org", &m),
			 SW_ML_AUTH_FAILED);
	assert_string_equal(m.service, "smtps");
	assert_int_equal(m.family, AF_INET6);
	assert_memory_equal(m.addr, "\x20\x01\x0d\xb8\x00\x01\x00\x02\0\0\0\0\0\0\x00\x33", 16);
	assert_string_equal(m.method, "PLAIN");
	assert_true(m.has_username);
	assert_false(m.username_cut);
	assert_string_equal(m.username, "alice@example.org");

	/* the journal form, port logging on, plain smtpd */
	assert_int_equal(parse("postfix/smtpd[9]: warning: unknown[198.51.100.7]:52211: SASL CRAM-MD5 "
			       "authentication failed: authentication failure, sasl_username=bob", &m),
			 SW_ML_AUTH_FAILED);
	assert_string_equal(m.service, "smtpd");
	assert_int_equal(m.port, 52211);
	assert_string_equal(m.method, "CRAM-MD5");
	assert_string_equal(m.username, "bob");

	/* an instance's syslog name */
	expect_kind("Jan 31 23:59:59 mx2 postfix-out/smtpd[1]: warning: unknown[192.0.2.1]: SASL LOGIN "
		    "authentication failed: authentication failure",
		    SW_ML_AUTH_FAILED);
}

static void test_login_and_client(void **state)
{
	struct sw_mlog m;

	assert_int_equal(parse("Dec  6 12:00:03 mx1 postfix/submission/smtpd[4243]: 4ZQ1yX2k3Bz9abc: "
			       "client=laptop.example.net[192.0.2.10], sasl_method=PLAIN, "
			       "sasl_username=alice@example.org", &m),
			 SW_ML_LOGIN);
	assert_string_equal(m.queue_id, "4ZQ1yX2k3Bz9abc");
	assert_string_equal(m.addr_text, "192.0.2.10");
	assert_string_equal(m.method, "PLAIN");
	assert_string_equal(m.username, "alice@example.org");

	/* sasl_sender after the username */
	assert_int_equal(parse("Dec  6 12:00:03 mx1 postfix/smtpd[4243]: 3A1B2C3D4E: client=unknown[192.0.2.11]:40000, "
			       "sasl_method=LOGIN, sasl_username=carol, sasl_sender=boss@example.org", &m),
			 SW_ML_LOGIN);
	assert_string_equal(m.username, "carol");
	assert_int_equal(m.port, 40000);

	/* no login: relayed by address */
	assert_int_equal(parse("Dec  6 12:00:03 mx1 postfix/smtpd[4243]: 3A1B2C3D4E: client=relay.example.net[192.0.2.12]",
			       &m),
			 SW_ML_CLIENT);
	assert_false(m.has_username);
	assert_string_equal(m.addr_text, "192.0.2.12");
}

static void test_connect_disconnect(void **state)
{
	struct sw_mlog m;

	assert_int_equal(parse("Dec  6 12:00:00 mx1 postfix/submission/smtpd[4242]: connect from unknown[203.0.113.5]", &m),
			 SW_ML_CONNECT);
	assert_string_equal(m.addr_text, "203.0.113.5");

	assert_int_equal(parse("Dec  6 12:00:05 mx1 postfix/submission/smtpd[4242]: disconnect from unknown[203.0.113.5] "
			       "ehlo=1 auth=0/1 rset=1 quit=1 commands=3/4", &m),
			 SW_ML_DISCONNECT);
	assert_int_equal(m.auth_ok, 0);
	assert_int_equal(m.auth_total, 1);
	assert_int_equal(m.commands_ok, 3);
	assert_int_equal(m.commands_total, 4);

	assert_int_equal(parse("Dec  6 12:00:05 mx1 postfix/smtpd[1]: disconnect from a.example[192.0.2.1] ehlo=1 "
			       "starttls=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=7", &m),
			 SW_ML_DISCONNECT);
	assert_int_equal(m.auth_ok, 1);
	assert_int_equal(m.auth_total, 1);
	assert_int_equal(m.commands_ok, 7);
	assert_int_equal(m.commands_total, 7);

	/* no auth command at all */
	assert_int_equal(parse("Dec  6 12:00:05 mx1 postfix/smtpd[1]: disconnect from a.example[192.0.2.1] ehlo=1 quit=1 "
			       "commands=2", &m),
			 SW_ML_DISCONNECT);
	assert_int_equal(m.auth_total, -1);

	/* counts that cannot be */
	expect_kind("Dec  6 12:00:05 mx1 postfix/smtpd[1]: disconnect from a[192.0.2.1] auth=2/1 commands=3", SW_ML_MALFORMED);
	expect_kind("Dec  6 12:00:05 mx1 postfix/smtpd[1]: disconnect from a[192.0.2.1] auth=x", SW_ML_MALFORMED);
}

static void test_reject_and_lost(void **state)
{
	struct sw_mlog m;

	assert_int_equal(parse("Dec  6 12:00:04 mx1 postfix/smtpd[4300]: NOQUEUE: reject: RCPT from unknown[203.0.113.9]: "
			       "550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in local "
			       "recipient table; from=<x@spam.example> to=<nobody@example.org> proto=ESMTP helo=<x>",
			       &m),
			 SW_ML_REJECT);
	assert_string_equal(m.command, "RCPT");
	assert_int_equal(m.code, 550);
	assert_string_equal(m.status, "5.1.1");
	assert_string_equal(m.addr_text, "203.0.113.9");

	assert_int_equal(parse("Dec  6 12:00:04 mx1 postfix/submission/smtpd[4300]: NOQUEUE: reject: RCPT from "
			       "unknown[203.0.113.9]: 450 4.7.1 <b@example.com>: Recipient address rejected: Sending "
			       "suspended for this account; from=<a@example.org> to=<b@example.com> proto=ESMTP helo=<x>",
			       &m),
			 SW_ML_REJECT);
	assert_int_equal(m.code, 450);
	assert_string_equal(m.status, "4.7.1");

	assert_int_equal(parse("Dec  6 12:00:06 mx1 postfix/submission/smtpd[4242]: lost connection after AUTH from "
			       "unknown[203.0.113.5]", &m),
			 SW_ML_LOST);
	assert_string_equal(m.command, "AUTH");
	assert_false(m.timeout);

	assert_int_equal(parse("Dec  6 12:00:06 mx1 postfix/smtpd[4242]: timeout after END-OF-MESSAGE from "
			       "unknown[2001:db8::5]", &m),
			 SW_ML_LOST);
	assert_true(m.timeout);
	assert_string_equal(m.command, "END-OF-MESSAGE");

	assert_int_equal(parse("Dec  6 12:00:06 mx1 postfix/smtpd[4242]: lost connection after DATA (0 bytes) from "
			       "unknown[192.0.2.3]", &m),
			 SW_ML_LOST);
	assert_string_equal(m.command, "DATA");
}

static void test_not_ours(void **state)
{
	/* other programs */
	expect_kind("Dec  6 12:00:00 mx1 postfix/qmgr[100]: 3A1B2C3D4E: from=<a@example.org>, size=300, nrcpt=1 (queue active)",
		    SW_ML_NOT_SMTPD);
	expect_kind("Dec  6 12:00:00 mx1 postfix/smtp[101]: 3A1B2C3D4E: to=<b@example.com>, relay=none, status=sent",
		    SW_ML_NOT_SMTPD);
	expect_kind("Dec  6 12:00:00 mx1 dovecot: auth: passwd-file(alice,192.0.2.1): unknown user", SW_ML_NOT_SMTPD);
	expect_kind("Dec  6 12:00:00 mx1 sshd[5]: warning: unknown[192.0.2.1]: SASL LOGIN authentication failed: x",
		    SW_ML_NOT_SMTPD);
	/* a program whose name merely ends in smtpd */
	expect_kind("Dec  6 12:00:00 mx1 evil/smtpd[5]: warning: unknown[192.0.2.1]: SASL LOGIN authentication failed: x",
		    SW_ML_NOT_SMTPD);
	expect_kind("Dec  6 12:00:00 mx1 postfix/xsmtpd[5]: connect from unknown[192.0.2.1]", SW_ML_NOT_SMTPD);
	expect_kind("", SW_ML_NOT_SMTPD);
	expect_kind("garbage", SW_ML_NOT_SMTPD);
	expect_kind("Dec  6 12:00:00", SW_ML_NOT_SMTPD);
	expect_kind("Dec  6 12:00:00 mx1", SW_ML_NOT_SMTPD);
	expect_kind("Dec  6 12:00:00 mx1 postfix/smtpd[12x]: connect from unknown[192.0.2.1]", SW_ML_NOT_SMTPD);
	expect_kind("Foo  6 12:00:00 mx1 postfix/smtpd[12]: connect from unknown[192.0.2.1]", SW_ML_NOT_SMTPD);
	/* smtpd lines of no interest */
	expect_kind("Dec  6 12:00:00 mx1 postfix/smtpd[12]: Anonymous TLS connection established from unknown[192.0.2.1]: "
		    "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)",
		    SW_ML_OTHER);
	expect_kind("Dec  6 12:00:00 mx1 postfix/smtpd[12]: warning: hostname x.example does not resolve to address 192.0.2.1",
		    SW_ML_OTHER);
	expect_kind("Dec  6 12:00:00 mx1 postfix/smtpd[12]: warning: SASL authentication failure: Password verification failed",
		    SW_ML_OTHER);
	expect_kind("Dec  6 12:00:00 mx1 postfix/smtpd[12]: 3A1B2C3D4E: reject: RCPT from x[192.0.2.1]: 554", SW_ML_OTHER);
}

/*
 * Hostile lines. A reverse name is checked by Postfix but we do not rely
 * on it; a username is the client's own text.
 */
static void test_hostile(void **state)
{
	struct sw_mlog m;

	/* a username that imitates the line's own syntax stays one username */
	assert_int_equal(parse("Dec  6 12:00:01 mx1 postfix/smtpd[1]: warning: unknown[203.0.113.5]: SASL LOGIN "
			       "authentication failed: authentication failure, sasl_username=x, sasl_username=victim",
			       &m),
			 SW_ML_AUTH_FAILED);
	assert_string_equal(m.addr_text, "203.0.113.5");
	assert_string_equal(m.username, "x, sasl_username=victim");

	assert_int_equal(parse("Dec  6 12:00:01 mx1 postfix/smtpd[1]: warning: unknown[203.0.113.5]: SASL LOGIN "
			       "authentication failed: authentication failure, sasl_username=a]: b[192.0.2.1", &m),
			 SW_ML_AUTH_FAILED);
	assert_string_equal(m.addr_text, "203.0.113.5");

	/* a name with brackets or spaces is not a name Postfix logs: nothing is read */
	assert_int_equal(parse("Dec  6 12:00:01 mx1 postfix/smtpd[1]: connect from evil[192.0.2.1]x[198.51.100.1]", &m),
			 SW_ML_MALFORMED);
	assert_int_equal(m.family, 0);
	expect_kind("Dec  6 12:00:01 mx1 postfix/smtpd[1]: connect from a b[192.0.2.1]", SW_ML_MALFORMED);
	expect_kind("Dec  6 12:00:01 mx1 postfix/smtpd[1]: connect from [192.0.2.1]", SW_ML_MALFORMED);
	/* addresses that are not addresses */
	expect_kind("Dec  6 12:00:01 mx1 postfix/smtpd[1]: connect from unknown[192.0.2.256]", SW_ML_MALFORMED);
	expect_kind("Dec  6 12:00:01 mx1 postfix/smtpd[1]: connect from unknown[]", SW_ML_MALFORMED);
	expect_kind("Dec  6 12:00:01 mx1 postfix/smtpd[1]: connect from unknown[192.0.2.1", SW_ML_MALFORMED);
	expect_kind("Dec  6 12:00:01 mx1 postfix/smtpd[1]: connect from unknown[1:2:3:4:5:6:7:8:9]", SW_ML_MALFORMED);
	expect_kind("Dec  6 12:00:01 mx1 postfix/smtpd[1]: connect from unknown[192.0.2.1]:99999", SW_ML_MALFORMED);
	/* a failed login without its client, or cut before the method */
	expect_kind("Dec  6 12:00:01 mx1 postfix/smtpd[1]: warning: unknown[192.0.2.1]: SASL ", SW_ML_MALFORMED);
	expect_kind("Dec  6 12:00:01 mx1 postfix/smtpd[1]: warning: unknown[192.0.2.1]: SASL LOGIN", SW_ML_MALFORMED);
	/* a login line whose username is empty */
	expect_kind("Dec  6 12:00:01 mx1 postfix/smtpd[1]: 3A1B2C3D4E: client=u[192.0.2.1], sasl_method=PLAIN, "
		    "sasl_username=",
		    SW_ML_MALFORMED);

	/* a NUL inside the line ends nothing early and reads no further */
	{
		static const char nul[] = "Dec  6 12:00:01 mx1 postfix/smtpd[1]: connect from unknown[192.0.2.1\0]";

		assert_int_equal(sw_mlog_parse(nul, sizeof(nul) - 1, &m), SW_ML_MALFORMED);
	}
	/* the length is the line: a prefix of a line reads as that prefix only */
	{
		static const char line[] = "Dec  6 12:00:01 mx1 postfix/smtpd[1]: connect from unknown[192.0.2.1]";

		assert_int_equal(sw_mlog_parse(line, sizeof(line) - 2, &m), SW_ML_MALFORMED);
	}
}

/* A username longer than the field is cut and marked, never overflows. */
static void test_long_username(void **state)
{
	char line[SW_MLOG_LINE_MAX + 1];
	struct sw_mlog m;
	int n;

	n = snprintf(line, sizeof(line),
		     "Dec  6 12:00:01 mx1 postfix/smtpd[1]: warning: unknown[192.0.2.1]: SASL LOGIN authentication "
		     "failed: authentication failure, sasl_username=");
	memset(line + n, 'u', sizeof(line) - 1 - (size_t)n);
	line[sizeof(line) - 1] = 0;
	assert_int_equal(parse(line, &m), SW_ML_AUTH_FAILED);
	assert_true(m.username_cut);
	assert_int_equal(strlen(m.username), SW_MLOG_USER_LEN - 1);

	/* exactly the field's size less its NUL still fits */
	n = snprintf(line, sizeof(line),
		     "postfix/smtpd[1]: warning: unknown[192.0.2.1]: SASL LOGIN authentication failed: x, sasl_username=");
	memset(line + n, 'v', SW_MLOG_USER_LEN - 1);
	line[n + SW_MLOG_USER_LEN - 1] = 0;
	assert_int_equal(parse(line, &m), SW_ML_AUTH_FAILED);
	assert_false(m.username_cut);
	assert_int_equal(strlen(m.username), SW_MLOG_USER_LEN - 1);
}

/* Every field is zeroed for a line of no interest: no stale address from an earlier line. */
static void test_no_stale_fields(void **state)
{
	struct sw_mlog m;

	assert_int_equal(parse("postfix/smtpd[1]: connect from unknown[192.0.2.1]", &m), SW_ML_CONNECT);
	assert_int_equal(parse("postfix/smtpd[1]: connect from unknown[192.0.2.1]x", &m), SW_ML_MALFORMED);
	assert_int_equal(m.family, 0);
	assert_string_equal(m.addr_text, "");
	assert_int_equal(parse("postfix/qmgr[1]: 3A1B2C3D4E: removed", &m), SW_ML_NOT_SMTPD);
	assert_int_equal(m.pid, 0);
	assert_string_equal(m.service, "");
	assert_string_equal(sw_mlog_kind_name(SW_ML_N_KINDS), "unknown");
	assert_string_equal(sw_mlog_kind_name(SW_ML_AUTH_FAILED), "auth_failed");
}

#define FAILED_TAIL " mx postfix/submission/smtpd[7]: warning: unknown[192.0.2.7]: SASL LOGIN authentication failed: x"

/* The line's own time: RFC 3339 with its offset, syslog's stamp in local time, bad stamps ignored. */
static void test_stamps(void **state)
{
	struct sw_mlog m;
	/* 2026-12-06T10:00:00Z */
	const int64_t t0 = 1796551200000LL;

	(void)state;
	assert_int_equal(parse("2026-12-06T10:00:00.250+00:00" FAILED_TAIL, &m), SW_ML_AUTH_FAILED);
	assert_int_equal(m.stamp.kind, SW_MLOG_STAMP_UNIX);
	assert_int_equal(sw_mlog_time_ms(&m.stamp, t0), t0 + 250);
	parse("2026-12-06T19:00:00.123456+09:00" FAILED_TAIL, &m);
	assert_int_equal(sw_mlog_time_ms(&m.stamp, t0), t0 + 123);
	parse("2026-12-06T05:30:00-04:30" FAILED_TAIL, &m);
	assert_int_equal(sw_mlog_time_ms(&m.stamp, t0), t0);
	parse("2026-12-06T10:00:00Z" FAILED_TAIL, &m);
	assert_int_equal(sw_mlog_time_ms(&m.stamp, t0), t0);
	parse("2028-02-29T00:00:00Z" FAILED_TAIL, &m);
	assert_int_equal(m.stamp.kind, SW_MLOG_STAMP_UNIX);
	assert_int_equal(sw_mlog_time_ms(&m.stamp, t0), 1835395200000LL);
	/* times that are not: the line reads, without a time */
	static const char *const bad[] = {
		"2026-02-30T10:00:00Z", "2026-12-06T24:00:00Z", "2026-12-06T10:60:00Z", "2026-13-06T10:00:00Z",
		"2026-12-06T10:00:00", "2026-12-06T10:00:00+0900", "2026-12-06T10:00:00+25:00", "1969-12-31T23:59:59Z",
		"2026-12-06T10:00:00.5+00:00x",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char line[512];

		snprintf(line, sizeof(line), "%s%s", bad[i], FAILED_TAIL);
		assert_int_equal(parse(line, &m), SW_ML_AUTH_FAILED);
		assert_int_equal(m.stamp.kind, SW_MLOG_STAMP_NONE);
		assert_int_equal(sw_mlog_time_ms(&m.stamp, t0), 0);
	}
	/* a journal entry has none of its own */
	parse("postfix/smtpd[7]: warning: unknown[192.0.2.7]: SASL LOGIN authentication failed: x", &m);
	assert_int_equal(m.stamp.kind, SW_MLOG_STAMP_NONE);

	/* syslog: local time, this year; last year for a December line read in January */
	setenv("TZ", "JST-9", 1);	/* POSIX form: no tzdata needed */
	tzset();
	parse("Dec  6 19:00:00" FAILED_TAIL, &m);
	assert_int_equal(m.stamp.kind, SW_MLOG_STAMP_SYSLOG);
	assert_int_equal(sw_mlog_time_ms(&m.stamp, t0 + 5000), t0);
	parse("Dec 31 23:59:59" FAILED_TAIL, &m);
	/* read on 2027-01-01T00:00:10+09:00: the line is of 2026 */
	assert_int_equal(sw_mlog_time_ms(&m.stamp, 1798729210000LL), 1798729199000LL);
	parse("Dec  7 09:00:00" FAILED_TAIL, &m);	/* 14 h ahead: still this year (within a day) */
	assert_int_equal(sw_mlog_time_ms(&m.stamp, t0), t0 + 14 * 3600000LL);
	parse("Feb 30 10:00:00" FAILED_TAIL, &m);
	assert_int_equal(m.stamp.kind, SW_MLOG_STAMP_NONE);
	parse("Dec  6 25:00:00" FAILED_TAIL, &m);
	assert_int_equal(m.stamp.kind, SW_MLOG_STAMP_NONE);
	unsetenv("TZ");
	tzset();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_auth_failed_forms), cmocka_unit_test(test_login_and_client),
		cmocka_unit_test(test_connect_disconnect), cmocka_unit_test(test_reject_and_lost),
		cmocka_unit_test(test_not_ours),	  cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_long_username),	  cmocka_unit_test(test_no_stale_fields),
		cmocka_unit_test(test_stamps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
