// SPDX-License-Identifier: GPL-2.0
/*
 * The hints engine (user/maillog/hints.c) on real log lines: failed
 * logins penalise a source at the threshold and not before, an IPv6 /64
 * is one source, a login forgives earlier failures and vouches for the
 * source, a shared address is never penalised for one account, a
 * distributed guess flags the account once, a suspended account's use
 * penalises its source, monitor mode gives nothing, the kernel's answers
 * are counted, links survive a restart with their shared status, and the
 * tables stay bounded.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "hints.h"
#include "parse.h"
#include "smtpwall/verdict.h"

#define MIN_MS 60000LL
#define T0     1700000000000LL
#define DAY_FUTURE (24 * 60 * MIN_MS)

struct rec {
	int penalties, vouches, flags, notes;
	struct sw_src_key last_key;
	uint32_t last_reason, last_detail;
	char last_flag[SW_MLOG_USER_LEN], last_flag_why[256];
	char last_action[32], last_text[320];
	int penalize_result;	/* what the "kernel" answers */
};

static int rec_penalize(void *ctx, const struct sw_src_key *key, uint32_t reason, uint32_t detail)
{
	struct rec *r = ctx;

	if (r->penalize_result)
		return r->penalize_result;
	r->penalties++;
	r->last_key = *key;
	r->last_reason = reason;
	r->last_detail = detail;
	return 0;
}

static int rec_vouch(void *ctx, const struct sw_src_key *key, const char *account)
{
	if (!strcmp(account, "suspended-one"))
		return -EACCES;
	((struct rec *)ctx)->vouches++;
	return 0;
}

static void rec_flag(void *ctx, const char *account, const char *why)
{
	struct rec *r = ctx;

	r->flags++;
	snprintf(r->last_flag, sizeof(r->last_flag), "%s", account);
	snprintf(r->last_flag_why, sizeof(r->last_flag_why), "%s", why);
}

static void rec_note(void *ctx, const char *action, const struct sw_src_key *key, const char *account,
		     uint64_t count, const char *text)
{
	struct rec *r = ctx;

	r->notes++;
	snprintf(r->last_action, sizeof(r->last_action), "%s", action);
	snprintf(r->last_text, sizeof(r->last_text), "%s", text);
}

struct fix {
	struct rec rec;
	struct sw_hints_conf conf;
	struct sw_config masks;
	struct sw_hints *h;
};

static struct sw_hints_conf defaults(void)
{
	return (struct sw_hints_conf){
		.auth_failures = 5,
		.auth_window_ms = 10 * MIN_MS,
		.guess_sources = 10,
		.guess_window_ms = 60 * MIN_MS,
		.shared_accounts = 5,
		.shared_window_ms = 24 * 60 * MIN_MS,
		.suspended_uses = 3,
		.suspended_window_ms = 10 * MIN_MS,
		.vouch = true,
	};
}

static void start(struct fix *f)
{
	struct sw_hints_ops ops = { rec_penalize, rec_vouch, rec_flag, rec_note, &f->rec };

	f->h = sw_hints_new(&f->conf, &f->masks, &ops);
	assert_non_null(f->h);
}

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	f->conf = defaults();
	sw_prefix_mask_v4(32, &f->masks.v4_mask);
	sw_prefix_mask_v6(64, f->masks.v6_mask);
	start(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	sw_hints_free(f->h);
	free(f);
	return 0;
}

static void line(struct fix *f, int64_t now_ms, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void line(struct fix *f, int64_t now_ms, const char *fmt, ...)
{
	char buf[1024];
	struct sw_mlog m;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (sw_mlog_parse(buf, strlen(buf), &m) <= SW_ML_MALFORMED)
		fail_msg("the test's line does not read: %s", buf);
	sw_hints_line(f->h, &m, now_ms);
}

static void fail_from(struct fix *f, const char *addr, const char *user, int64_t now_ms)
{
	if (user)
		line(f, now_ms,
		     "Dec  6 12:00:01 mx1 postfix/submission/smtpd[1]: warning: unknown[%s]: SASL LOGIN authentication "
		     "failed: authentication failure, sasl_username=%s",
		     addr, user);
	else
		line(f, now_ms,
		     "Dec  6 12:00:01 mx1 postfix/submission/smtpd[1]: warning: unknown[%s]: SASL LOGIN authentication "
		     "failed: authentication failure",
		     addr);
}

static void login_from(struct fix *f, const char *addr, const char *user, int64_t now_ms)
{
	line(f, now_ms,
	     "Dec  6 12:00:02 mx1 postfix/submission/smtpd[1]: 4ZQ1yX2k3Bz9abc: client=unknown[%s], sasl_method=PLAIN, "
	     "sasl_username=%s",
	     addr, user);
}

static struct sw_src_key key_of(struct fix *f, const char *addr)
{
	uint8_t a[16] = { 0 };
	struct sw_src_key k;
	uint8_t fam = strchr(addr, ':') ? 10 : 2;

	assert_int_equal(inet_pton(fam == 2 ? AF_INET : AF_INET6, addr, a), 1);
	sw_hints_key(f->h, fam, a, &k);
	return k;
}

static void test_threshold(void **state)
{
	struct fix *f = *state;
	struct sw_src_key k = key_of(f, "203.0.113.5");

	for (int i = 0; i < 4; i++)
		fail_from(f, "203.0.113.5", "alice", T0 + i * 1000);
	assert_int_equal(f->rec.penalties, 0);
	assert_int_equal(sw_hints_failures(f->h, &k, T0 + 4000), 4);
	fail_from(f, "203.0.113.5", "bob", T0 + 5000);
	assert_int_equal(f->rec.penalties, 1);
	assert_int_equal(f->rec.last_reason, SW_R_AUTH);
	assert_int_equal(f->rec.last_detail, 5);
	assert_memory_equal(&f->rec.last_key, &k, sizeof(k));
	assert_string_equal(f->rec.last_action, "penalised");
	assert_string_equal(f->rec.last_text, "5 failed logins within 10m");
	/* the next penalty needs five new failures */
	for (int i = 0; i < 4; i++)
		fail_from(f, "203.0.113.5", "alice", T0 + 6000 + i * 1000);
	assert_int_equal(f->rec.penalties, 1);
	fail_from(f, "203.0.113.5", "alice", T0 + 11000);
	assert_int_equal(f->rec.penalties, 2);
	assert_int_equal(sw_hints_stats(f->h)->penalties, 2);
	assert_int_equal(sw_hints_stats(f->h)->failures, 10);
}

/* Failures further apart than the window never add up; another source is another count. */
static void test_window_and_sources(void **state)
{
	struct fix *f = *state;

	for (int i = 0; i < 20; i++)
		fail_from(f, "203.0.113.5", NULL, T0 + i * 3 * MIN_MS);	/* 3-4 in any 10 min */
	assert_int_equal(f->rec.penalties, 0);
	for (int i = 0; i < 4; i++) {
		fail_from(f, "198.51.100.1", NULL, T0 + i);
		fail_from(f, "198.51.100.2", NULL, T0 + i);
	}
	assert_int_equal(f->rec.penalties, 0);
}

/* Guessing spread over a /64 is one source; another /64 is not. */
static void test_ipv6_prefix(void **state)
{
	struct fix *f = *state;
	char addr[64];

	for (int i = 1; i <= 4; i++) {
		snprintf(addr, sizeof(addr), "2001:db8:5:6::%x", i * 0x1111);
		fail_from(f, addr, "alice", T0 + i);
	}
	fail_from(f, "2001:db8:5:7::1", "alice", T0 + 10);
	assert_int_equal(f->rec.penalties, 0);
	fail_from(f, "2001:db8:5:6:ffff:ffff:ffff:ffff", "alice", T0 + 20);
	assert_int_equal(f->rec.penalties, 1);
	{
		struct sw_src_key k = key_of(f, "2001:db8:5:6::");

		assert_memory_equal(&f->rec.last_key, &k, sizeof(k));
	}
}

/* A login of the source forgives its earlier failures (a mistyped password) and vouches for it. */
static void test_login_forgives_and_vouches(void **state)
{
	struct fix *f = *state;

	for (int i = 0; i < 4; i++)
		fail_from(f, "192.0.2.10", "carol", T0 + i);
	login_from(f, "192.0.2.10", "carol", T0 + 10);
	assert_int_equal(f->rec.vouches, 1);
	for (int i = 0; i < 4; i++)
		fail_from(f, "192.0.2.10", "carol", T0 + 20 + i);
	assert_int_equal(f->rec.penalties, 0);
	/* vouched at most once a minute */
	login_from(f, "192.0.2.10", "carol", T0 + 30);
	assert_int_equal(f->rec.vouches, 1);
	login_from(f, "192.0.2.10", "carol", T0 + 2 * MIN_MS);
	assert_int_equal(f->rec.vouches, 2);
	/* a login without mail (auth=1 at disconnect) forgives failures but vouches for nothing */
	for (int i = 0; i < 4; i++)
		fail_from(f, "192.0.2.11", "erin", T0 + 3 * MIN_MS + i);
	line(f, T0 + 3 * MIN_MS + 10, "Dec  6 12:00:05 mx1 postfix/submission/smtpd[1]: disconnect from unknown[192.0.2.11] "
				      "ehlo=1 auth=1 quit=1 commands=3");
	fail_from(f, "192.0.2.11", "erin", T0 + 3 * MIN_MS + 20);
	assert_int_equal(f->rec.penalties, 0);
	assert_int_equal(f->rec.vouches, 2);
	/* a suspended or flagged account's login vouches for nothing */
	login_from(f, "192.0.2.12", "suspended-one", T0 + 4 * MIN_MS);
	assert_int_equal(f->rec.vouches, 2);
	assert_int_equal(sw_hints_stats(f->h)->vouch_refused, 1);
	/* a disconnect with only failed AUTH vouches for nothing */
	line(f, T0 + 2 * MIN_MS, "Dec  6 12:00:05 mx1 postfix/submission/smtpd[1]: disconnect from unknown[192.0.2.99] "
				 "ehlo=1 auth=0/1 quit=1 commands=2/3");
	assert_int_equal(f->rec.vouches, 2);
	assert_int_equal(sw_hints_stats(f->h)->vouches, 2);
}

/* Five accounts log in from one address (a NAT): one account's guessing never drops it. */
static void test_shared_address(void **state)
{
	struct fix *f = *state;
	const char *users[] = { "u1", "u2", "u3", "u4", "u5" };
	struct sw_src_key k = key_of(f, "198.51.100.77");
	unsigned n;

	for (int i = 0; i < 4; i++)
		login_from(f, "198.51.100.77", users[i], T0 + i);
	assert_false(sw_hints_shared(f->h, &k, T0 + 10, &n));
	assert_int_equal(n, 4);
	login_from(f, "198.51.100.77", users[4], T0 + 10);
	assert_true(sw_hints_shared(f->h, &k, T0 + 20, &n));
	assert_int_equal(n, 5);
	f->rec.notes = 0;
	for (int i = 0; i < 100; i++)
		fail_from(f, "198.51.100.77", "u1", T0 + 100 + i);
	assert_int_equal(f->rec.penalties, 0);
	assert_int_equal(sw_hints_stats(f->h)->shared_spared, 96);
	assert_int_equal(f->rec.notes, 1);	/* told once a window */
	assert_string_equal(f->rec.last_action, "spared");
	/* the same account logging in again is not a sixth account */
	login_from(f, "198.51.100.77", "u1", T0 + 300);
	assert_true(sw_hints_shared(f->h, &k, T0 + 301, &n));
	assert_int_equal(n, 5);
	/* a day without those logins: no longer shared, and guessing is penalised */
	assert_false(sw_hints_shared(f->h, &k, T0 + 24 * 60 * MIN_MS + 400, &n));
	for (int i = 0; i < 5; i++)
		fail_from(f, "198.51.100.77", "u1", T0 + 24 * 60 * MIN_MS + 500 + i);
	assert_int_equal(f->rec.penalties, 1);
}

/* One account's failures from ten different sources within an hour: flagged, once. */
static void test_distributed_guess(void **state)
{
	struct fix *f = *state;
	char addr[32];

	for (int i = 0; i < 9; i++) {
		snprintf(addr, sizeof(addr), "203.0.113.%d", 10 + i);
		fail_from(f, addr, "victim@example.org", T0 + i * MIN_MS);
	}
	assert_int_equal(f->rec.flags, 0);
	/* the same source again is not a new one */
	fail_from(f, "203.0.113.10", "victim@example.org", T0 + 10 * MIN_MS);
	assert_int_equal(f->rec.flags, 0);
	fail_from(f, "203.0.113.99", "victim@example.org", T0 + 11 * MIN_MS);
	assert_int_equal(f->rec.flags, 1);
	assert_string_equal(f->rec.last_flag, "victim@example.org");
	assert_string_equal(f->rec.last_flag_why,
			    "failed logins from 10 sources within 1h (limit 10): a distributed guess");
	fail_from(f, "203.0.113.100", "victim@example.org", T0 + 12 * MIN_MS);
	assert_int_equal(f->rec.flags, 1);
	/* no single source was over its own threshold */
	assert_int_equal(f->rec.penalties, 0);
}

/* Failures spread over more than the window, and failures without a username, flag nobody. */
static void test_guess_window(void **state)
{
	struct fix *f = *state;
	char addr[32];

	for (int i = 0; i < 30; i++) {
		snprintf(addr, sizeof(addr), "203.0.113.%d", 10 + i);
		fail_from(f, addr, "slow@example.org", T0 + i * 10 * MIN_MS);	/* 6 an hour */
		fail_from(f, addr, NULL, T0 + i * 10 * MIN_MS);
	}
	assert_int_equal(f->rec.flags, 0);
}

/* A username too long to be an account counts for the address, never for an account. */
static void test_cut_username(void **state)
{
	struct fix *f = *state;
	char user[400], addr[32];

	memset(user, 'x', sizeof(user) - 1);
	user[sizeof(user) - 1] = 0;
	for (int i = 0; i < 12; i++) {
		snprintf(addr, sizeof(addr), "203.0.113.%d", 10 + i);
		fail_from(f, addr, user, T0 + i);
	}
	assert_int_equal(f->rec.flags, 0);
	for (int i = 0; i < 4; i++)
		fail_from(f, "203.0.113.10", user, T0 + 100 + i);
	assert_int_equal(f->rec.penalties, 1);
}

/* A source that keeps presenting a suspended account's credentials. */
static void test_suspended_use(void **state)
{
	struct fix *f = *state;
	uint8_t a[16] = { 203, 0, 113, 50 }, shared[16] = { 198, 51, 100, 77 };
	const char *users[] = { "u1", "u2", "u3", "u4", "u5" };

	sw_hints_suspended_use(f->h, 2, a, "stolen", T0);
	sw_hints_suspended_use(f->h, 2, a, "stolen", T0 + 1000);
	assert_int_equal(f->rec.penalties, 0);
	sw_hints_suspended_use(f->h, 2, a, "stolen", T0 + 2000);
	assert_int_equal(f->rec.penalties, 1);
	assert_int_equal(f->rec.last_detail, SW_HINT_DETAIL_SUSPENDED | 3);
	assert_string_equal(f->rec.last_text, "3 uses of a suspended account within 10m");
	assert_int_equal(sw_hints_stats(f->h)->penalties_suspended, 1);

	for (int i = 0; i < 5; i++)
		login_from(f, "198.51.100.77", users[i], T0 + i);
	for (int i = 0; i < 10; i++)
		sw_hints_suspended_use(f->h, 2, shared, "u1", T0 + 100 + i);
	assert_int_equal(f->rec.penalties, 1);
}

static void test_monitor(void **state)
{
	struct fix *f = *state;

	f->conf.monitor = true;
	sw_hints_configure(f->h, &f->conf);
	for (int i = 0; i < 5; i++)
		fail_from(f, "203.0.113.5", "alice", T0 + i);
	assert_int_equal(f->rec.penalties, 0);
	assert_int_equal(sw_hints_stats(f->h)->monitored, 1);
	assert_string_equal(f->rec.last_action, "would-penalise");
}

/* What the kernel answers: already penalised, no state, an error — counted, told. */
static void test_kernel_answers(void **state)
{
	struct fix *f = *state;

	f->rec.penalize_result = -EALREADY;
	for (int i = 0; i < 5; i++)
		fail_from(f, "203.0.113.5", NULL, T0 + i);
	assert_int_equal(sw_hints_stats(f->h)->already, 1);
	f->rec.penalize_result = -ENOENT;
	for (int i = 0; i < 5; i++)
		fail_from(f, "203.0.113.6", NULL, T0 + i);
	assert_int_equal(sw_hints_stats(f->h)->no_state, 1);
	assert_string_equal(f->rec.last_action, "no-state");
	f->rec.penalize_result = -EPERM;
	for (int i = 0; i < 5; i++)
		fail_from(f, "203.0.113.7", NULL, T0 + i);
	assert_int_equal(sw_hints_stats(f->h)->penalty_errors, 1);
	assert_string_equal(f->rec.last_action, "failed");
}

struct collect {
	struct sw_hints_link links[64];
	int n;
};

static void collect(void *ctx, const struct sw_hints_link *l)
{
	struct collect *c = ctx;

	if (c->n < 64)
		c->links[c->n++] = *l;
}

/* The links the store keeps: changed ones only, and a restart keeps an address shared. */
static void test_links_and_restart(void **state)
{
	struct fix *f = *state;
	const char *users[] = { "u1", "u2", "u3", "u4", "u5" };
	struct sw_src_key k = key_of(f, "198.51.100.77");
	struct collect c = { .n = 0 };
	unsigned n;

	for (int i = 0; i < 5; i++)
		login_from(f, "198.51.100.77", users[i], T0 + i);
	fail_from(f, "198.51.100.77", "u1", T0 + 10);
	fail_from(f, "198.51.100.77", NULL, T0 + 11);
	sw_hints_each_link(f->h, false, collect, &c);
	assert_int_equal(c.n, 6);	/* u1..u5 and the failure without a username */
	for (int i = 0; i < c.n; i++)
		if (!strcmp(c.links[i].account, "u1")) {
			assert_int_equal(c.links[i].logins, 1);
			assert_int_equal(c.links[i].failures, 1);
			assert_int_equal(c.links[i].last_login, T0 / 1000);
		}
	{
		struct collect again = { .n = 0 };

		sw_hints_each_link(f->h, false, collect, &again);
		assert_int_equal(again.n, 0);
		sw_hints_each_link(f->h, true, collect, &again);
		assert_int_equal(again.n, 6);
	}

	/* the restart */
	sw_hints_free(f->h);
	memset(&f->rec, 0, sizeof(f->rec));
	start(f);
	for (int i = 0; i < c.n; i++)
		sw_hints_load_link(f->h, &c.links[i]);
	assert_true(sw_hints_shared(f->h, &k, T0 + 1000, &n));
	for (int i = 0; i < 10; i++)
		fail_from(f, "198.51.100.77", "u2", T0 + 2000 + i);
	assert_int_equal(f->rec.penalties, 0);
}

struct fails_out {
	struct sw_src_key key[8];
	int64_t t[8][SW_HINTS_FAILS];
	unsigned n[8];
	int count;
};

static void fails_out(void *ctx, const struct sw_src_key *key, const int64_t *times, unsigned n)
{
	struct fails_out *o = ctx;

	if (o->count >= 8)
		return;
	o->key[o->count] = *key;
	memcpy(o->t[o->count], times, n * sizeof(*times));
	o->n[o->count++] = n;
}

/* Failures not yet judged survive a restart through the store: the fifth after it penalises. */
static void test_failures_survive_restart(void **state)
{
	struct fix *f = *state;
	struct fails_out o = { .count = 0 };

	for (int i = 0; i < 4; i++)
		fail_from(f, "203.0.113.5", "alice", T0 + i * 1000);
	fail_from(f, "203.0.113.6", NULL, T0 - 11 * MIN_MS);	/* out of the window by now */
	sw_hints_each_failures(f->h, false, T0 + 5000, fails_out, &o);
	assert_int_equal(o.count, 2);
	for (int i = 0; i < o.count; i++) {
		struct sw_src_key k5 = key_of(f, "203.0.113.5");

		if (!memcmp(&o.key[i], &k5, sizeof(k5))) {
			assert_int_equal(o.n[i], 4);
			assert_true(o.t[i][0] == T0 && o.t[i][3] == T0 + 3000);	/* oldest first */
		} else {
			assert_int_equal(o.n[i], 0);	/* nothing left to count: the store deletes it */
		}
	}
	{
		struct fails_out again = { .count = 0 };

		sw_hints_each_failures(f->h, false, T0 + 5000, fails_out, &again);
		assert_int_equal(again.count, 0);	/* only the changed ones */
	}
	sw_hints_free(f->h);
	memset(&f->rec, 0, sizeof(f->rec));
	start(f);
	for (int i = 0; i < o.count; i++)
		sw_hints_load_failures(f->h, &o.key[i], o.t[i], o.n[i], T0 + 6000);
	fail_from(f, "203.0.113.5", "alice", T0 + 7000);
	assert_int_equal(f->rec.penalties, 1);
	assert_int_equal(f->rec.last_detail, 5);
	/* a time from the future is not evidence */
	{
		struct sw_src_key k = key_of(f, "203.0.113.9");
		int64_t future[4] = { T0 + DAY_FUTURE, T0 + DAY_FUTURE, T0 + DAY_FUTURE, T0 + DAY_FUTURE };

		sw_hints_load_failures(f->h, &k, future, 4, T0 + 8000);
		fail_from(f, "203.0.113.9", NULL, T0 + 9000);
		assert_int_equal(f->rec.penalties, 1);
	}
}

/* More sources than the table holds: bounded, the oldest reused, new evidence still judged. */
static void test_bounded(void **state)
{
	struct fix *f = *state;
	char addr[32];

	for (int i = 0; i < SW_HINTS_SOURCES + 5000; i++) {
		snprintf(addr, sizeof(addr), "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
		fail_from(f, addr, NULL, T0 + i);
	}
	assert_int_equal(f->rec.penalties, 0);
	for (int i = 0; i < 5; i++)
		fail_from(f, "203.0.113.5", NULL, T0 + SW_HINTS_SOURCES + 6000 + i);
	assert_int_equal(f->rec.penalties, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_threshold, setup, teardown),
		cmocka_unit_test_setup_teardown(test_window_and_sources, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipv6_prefix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_login_forgives_and_vouches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_address, setup, teardown),
		cmocka_unit_test_setup_teardown(test_distributed_guess, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guess_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cut_username, setup, teardown),
		cmocka_unit_test_setup_teardown(test_suspended_use, setup, teardown),
		cmocka_unit_test_setup_teardown(test_monitor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kernel_answers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_links_and_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failures_survive_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounded, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
