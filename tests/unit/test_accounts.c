// SPDX-License-Identifier: GPL-2.0
/*
 * The accounts ledger (user/accounts/accounts.c) over a real state.db in
 * a fresh directory per test: requests as the policy service builds them,
 * origins as it classifies them, and an injected clock. Each test asserts
 * what Postfix would be told, and what state.db (read through a second
 * connection, as the CLI reads it) holds.
 */
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "accounts.h"
#include "acct_writer.h"
#include "bus.h"
#include "config.h"
#include "parse.h"
#include "policy_proto.h"
#include "store.h"
#include "store_accounts.h"

#define SEC_MS	1000LL
#define MIN_MS	(60 * SEC_MS)
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS	(24 * HOUR_MS)
#define NS_S	1000000000ULL

/* 2023-11-14 22:13:20 UTC: on the edge of a minute window's 5 s bucket. */
#define T0 1700000000000LL

#define MAX_EVENTS 64

struct fixture {
	char dir[64];
	char state[96];
	char err[SW_ERR_LEN];
	struct sw_settings s;
	struct sw_store *st, *st2;
	struct sw_acct_store *as, *as2;	/* as2: a second connection, the CLI's view */
	struct sw_accounts *A;
	unsigned instance;
	/* sw_accounts_on_flag */
	int flags;
	char flag_account[SW_ACCOUNT_NAME_LEN], flag_reason[SW_ACCOUNT_REASON_LEN];
	/* account events on the bus */
	int n_events;
	struct sw_bus_event events[MAX_EVENTS];
};

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void on_flag(void *ctx, const char *account, const char *reason)
{
	struct fixture *f = ctx;

	f->flags++;
	snprintf(f->flag_account, sizeof(f->flag_account), "%s", account);
	snprintf(f->flag_reason, sizeof(f->flag_reason), "%s", reason);
}

static void on_event(void *ctx, const struct sw_bus_event *ev)
{
	struct fixture *f = ctx;

	if (ev->kind == SW_BUS_ACCOUNT && f->n_events < MAX_EVENTS)
		f->events[f->n_events++] = *ev;
}

static void open_ledger(struct fixture *f)
{
	f->st = sw_store_open(f->state, f->err, sizeof(f->err));
	if (!f->st)
		fail_msg("sw_store_open: %s", f->err);
	f->as = sw_acct_store_open(f->st, f->err, sizeof(f->err));
	if (!f->as)
		fail_msg("sw_acct_store_open: %s", f->err);
	f->A = sw_accounts_new(f->as, &f->s, f->err, sizeof(f->err));
	if (!f->A)
		fail_msg("sw_accounts_new: %s", f->err);
	sw_accounts_on_flag(f->A, on_flag, f);
}

static void close_ledger(struct fixture *f)
{
	sw_accounts_free(f->A);
	sw_acct_store_close(f->as);
	sw_store_close(f->st);
	f->A = NULL;
	f->as = NULL;
	f->st = NULL;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/test_accounts.XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->state, sizeof(f->state), "%s/state", f->dir);
	sw_settings_defaults(&f->s);
	*state = f;
	open_ledger(f);
	if (sw_bus_subscribe(on_event, f))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	sw_bus_unsubscribe(on_event, f);
	close_ledger(f);
	sw_acct_store_close(f->as2);
	sw_store_close(f->st2);
	sw_settings_free(&f->s);
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* The CLI's connection to the same state.db. */
static struct sw_acct_store *second(struct fixture *f)
{
	if (!f->as2) {
		f->st2 = sw_store_open(f->state, f->err, sizeof(f->err));
		if (!f->st2)
			fail_msg("second sw_store_open: %s", f->err);
		f->as2 = sw_acct_store_open(f->st2, f->err, sizeof(f->err));
		if (!f->as2)
			fail_msg("second sw_acct_store_open: %s", f->err);
	}
	return f->as2;
}

/* ---- requests and origins ---- */

static struct sw_policy_req request(enum sw_policy_state st, const char *user, const char *sender,
				    const char *instance)
{
	struct sw_policy_req r;

	sw_policy_req_reset(&r);
	r.have_request = true;
	r.state = st;
	snprintf(r.protocol_state, sizeof(r.protocol_state), "%s", sw_policy_state_name(st));
	snprintf(r.client_address, sizeof(r.client_address), "192.0.2.10");
	snprintf(r.sasl_username, sizeof(r.sasl_username), "%s", user);
	if (*user)
		snprintf(r.sasl_method, sizeof(r.sasl_method), "PLAIN");
	snprintf(r.sender, sizeof(r.sender), "%s", sender);
	snprintf(r.recipient, sizeof(r.recipient), "rcpt@example.com");
	snprintf(r.instance, sizeof(r.instance), "%s", instance);
	return r;
}

static uint16_t country(const char *cc)
{
	int id = sw_country_id(cc);

	if (id < 0)
		fail_msg("sw_country_id(\"%s\") = %d", cc, id);
	return (uint16_t)id;
}

static struct sw_origin origin(const char *key, const char *cc, bool abroad)
{
	struct sw_origin o;

	memset(&o, 0, sizeof(o));
	snprintf(o.key, sizeof(o.key), "%s", key);
	o.country = cc ? country(cc) : SW_COUNTRY_NONE;
	o.abroad = abroad;
	return o;
}

/* Home is Germany; abroad is Japan. */
static struct sw_origin home(void)
{
	return origin("192.0.2.10", "de", false);
}

static struct sw_origin abroad(void)
{
	return origin("198.51.100.7", "jp", true);
}

static struct sw_verdict decide(struct fixture *f, const struct sw_policy_req *r, const struct sw_origin *o,
				int64_t now)
{
	struct sw_verdict v;

	memset(&v, 0x5a, sizeof(v));
	sw_accounts_decide(f->A, r, o, now, &v);
	assert_non_null(memchr(v.action, 0, sizeof(v.action)));
	return v;
}

static const char *next_instance(struct fixture *f)
{
	static char buf[32];

	snprintf(buf, sizeof(buf), "%04X.65b1c2d3.%u.0", f->instance, f->instance);
	f->instance++;
	return buf;
}

/* A new message of one recipient: its RCPT request. */
static struct sw_verdict msg_from(struct fixture *f, const char *user, const char *sender,
				  const struct sw_origin *o, int64_t now)
{
	struct sw_policy_req r = request(SW_PS_RCPT, user, sender, next_instance(f));

	return decide(f, &r, o, now);
}

static struct sw_verdict msg(struct fixture *f, const char *user, const struct sw_origin *o, int64_t now)
{
	char sender[SW_POLICY_ADDR_LEN];

	snprintf(sender, sizeof(sender), "%s@example.org", user);
	return msg_from(f, user, sender, o, now);
}

static struct sw_verdict in_state(struct fixture *f, enum sw_policy_state st, const char *user, int64_t now)
{
	struct sw_policy_req r = request(st, user, "", next_instance(f));
	struct sw_origin o = home();

	return decide(f, &r, &o, now);
}

static const char *kind_name(enum sw_verdict_kind k)
{
	static const char *const names[] = { "DUNNO", "REFUSE", "WARN", "FILTER" };

	return (unsigned)k < 4 ? names[k] : "?";
}

/* The verdict's kind and policy, and its action: equal to @action, or starting with it if it ends in "...". */
#define expect(v, kind, pol, action) expect_at(__LINE__, v, kind, pol, action)
static void expect_at(int line, struct sw_verdict v, enum sw_verdict_kind kind, enum sw_policy_id pol,
		      const char *action)
{
	size_t al = strlen(action);
	bool prefix = al >= 3 && !strcmp(action + al - 3, "...");
	bool same = prefix ? !strncmp(v.action, action, al - 3) : !strcmp(v.action, action);

	if (v.kind != kind || v.policy != pol || !same)
		fail_msg("line %d: got %s/%s \"%s\", expected %s/%s \"%s\"", line, kind_name(v.kind),
			 sw_policy_name(v.policy), v.action, kind_name(kind), sw_policy_name(pol), action);
}

#define expect_dunno(v) expect(v, SW_V_DUNNO, SW_POL_NONE, "DUNNO")

/* ---- what state.db holds ---- */

/* The account as the CLI reads it: 1 with a row, 0 without. */
static int db_policy(struct fixture *f, const char *name, struct sw_acct_policy *p)
{
	int rc = sw_acct_policy_get(second(f), name, p, f->err, sizeof(f->err));

	if (rc < 0)
		fail_msg("sw_acct_policy_get(%s): %s", name, f->err);
	return rc;
}

/* Write policy fields as the CLI does, through the second connection. */
static void cli_put(struct fixture *f, const struct sw_acct_policy *p, unsigned fields)
{
	struct sw_acct_audit au = { .at = 0 };

	snprintf(au.actor, sizeof(au.actor), "cli");
	snprintf(au.action, sizeof(au.action), "set");
	snprintf(au.reason, sizeof(au.reason), "test");
	if (sw_acct_policy_put(second(f), p, fields, &au, f->err, sizeof(f->err)))
		fail_msg("sw_acct_policy_put(%s): %s", p->name, f->err);
}

/* The last audit record of @name with @action, or fail. */
static struct sw_acct_audit audit_of(struct fixture *f, const char *name, const char *action)
{
	struct sw_acct_audit *list = NULL, found;
	int n = 0, i;

	if (sw_acct_audit_list(second(f), name, 100, &list, &n, f->err, sizeof(f->err)))
		fail_msg("sw_acct_audit_list: %s", f->err);
	for (i = n - 1; i >= 0; i--)
		if (!strcmp(list[i].action, action))
			break;
	if (i < 0) {
		free(list);
		fail_msg("no \"%s\" audit record for %s among %d", action, name, n);
	}
	found = list[i];
	free(list);
	return found;
}

static int audit_count(struct fixture *f, const char *name)
{
	struct sw_acct_audit *list = NULL;
	int n = 0;

	if (sw_acct_audit_list(second(f), name, 1000, &list, &n, f->err, sizeof(f->err)))
		fail_msg("sw_acct_audit_list: %s", f->err);
	free(list);
	return n;
}

static void flush(struct fixture *f, int64_t now)
{
	if (sw_accounts_flush(f->A, now, f->err, sizeof(f->err)))
		fail_msg("sw_accounts_flush: %s", f->err);
}

/* The account's windows at @now, after a flush, as the CLI reads them. 0 if it has no counts row. */
static int figures(struct fixture *f, const char *name, int64_t now, struct sw_acct_figures *fig)
{
	uint8_t blob[1024];
	struct sw_acct_counts c;
	int rc;

	flush(f, now);
	memset(fig, 0, sizeof(*fig));
	rc = sw_acct_counts_get(second(f), name, &c, blob, sizeof(blob), f->err, sizeof(f->err));
	if (rc < 0)
		fail_msg("sw_acct_counts_get: %s", f->err);
	if (rc == 1 && sw_accounts_figures(c.windows, c.windows_len, now, fig))
		fail_msg("%s: the windows blob (%zu bytes) does not read", name, c.windows_len);
	return rc;
}

static bool db_suspended(struct fixture *f, const char *name)
{
	struct sw_acct_policy p;

	return db_policy(f, name, &p) == 1 && p.suspended_until != 0;
}

static const struct sw_bus_event *last_event(struct fixture *f, const char *account, const char *action)
{
	for (int i = f->n_events - 1; i >= 0; i--)
		if (!strcmp(f->events[i].account, account) && !strcmp(f->events[i].action, action))
			return &f->events[i];
	return NULL;
}

/* ---- send limits ---- */

#define LIMIT_4_OF_3 "message limit: 4 messages in the last minute (limit 3)"

/*
 * messages_per_minute = 3: the fourth message suspends the account (450),
 * and every later request of it is refused as suspended; other accounts
 * are untouched.
 */
static void test_limit_suspends_at_the_fourth_message(void **state)
{
	struct fixture *f = *state;
	struct sw_origin o = home();

	f->s.limits[SW_LIM_MSG_MINUTE] = 3;
	for (int i = 0; i < 3; i++)
		expect_dunno(msg(f, "alice", &o, T0 + i * SEC_MS));
	expect(msg(f, "alice", &o, T0 + 3 * SEC_MS), SW_V_REFUSE, SW_POL_LIMITS,
	       "450 4.7.1 Sending suspended for this account: " LIMIT_4_OF_3);
	expect(msg(f, "alice", &o, T0 + 4 * SEC_MS), SW_V_REFUSE, SW_POL_SUSPENDED,
	       "450 4.7.1 Sending suspended for this account: " LIMIT_4_OF_3);
	expect(in_state(f, SW_PS_MAIL, "alice", T0 + 5 * SEC_MS), SW_V_REFUSE, SW_POL_SUSPENDED, "450 4.7.1 ...");
	expect(in_state(f, SW_PS_DATA, "alice", T0 + 5 * SEC_MS), SW_V_REFUSE, SW_POL_SUSPENDED, "450 4.7.1 ...");
	/* another account sends on */
	for (int i = 0; i < 3; i++)
		expect_dunno(msg(f, "bob", &o, T0 + 5 * SEC_MS));
	/* the minute is long over, the suspension (24 h) is not */
	expect(msg(f, "alice", &o, T0 + 2 * HOUR_MS), SW_V_REFUSE, SW_POL_SUSPENDED, "450 4.7.1 ...");
	assert_true(db_suspended(f, "alice"));
	assert_false(db_suspended(f, "bob"));
}

static void test_suspend_code_5xx(void **state)
{
	struct fixture *f = *state;
	struct sw_origin o = home();

	f->s.limits[SW_LIM_MSG_MINUTE] = 1;
	f->s.suspend_code = 550;
	expect_dunno(msg(f, "alice", &o, T0));
	expect(msg(f, "alice", &o, T0 + SEC_MS), SW_V_REFUSE, SW_POL_LIMITS,
	       "550 5.7.1 Sending suspended for this account: message limit: 2 messages in the last minute (limit 1)");
	expect(msg(f, "alice", &o, T0 + 2 * SEC_MS), SW_V_REFUSE, SW_POL_SUSPENDED, "550 5.7.1 ...");
}

/*
 * The suspension, its reason and figures, and its audit record are in
 * state.db when the refusal is returned (a kill -9 after the answer keeps
 * it); the counts come with the next flush.
 */
static void test_suspension_committed_before_the_reply(void **state)
{
	struct fixture *f = *state;
	struct sw_origin o = home();
	struct sw_acct_policy p;
	struct sw_acct_audit au;
	struct sw_acct_counts c;
	char dur[32];
	const struct sw_bus_event *ev;

	f->s.limits[SW_LIM_MSG_MINUTE] = 3;
	for (int i = 0; i < 3; i++)
		expect_dunno(msg(f, "alice", &o, T0 + i * SEC_MS));
	expect(msg(f, "alice", &o, T0 + 3 * SEC_MS), SW_V_REFUSE, SW_POL_LIMITS, "450 4.7.1 ...");

	assert_int_equal(db_policy(f, "alice", &p), 1);
	assert_int_equal(p.suspended_at, T0 / 1000 + 3);
	assert_int_equal(p.suspended_until, T0 / 1000 + 3 + 86400);
	assert_string_equal(p.suspend_reason, LIMIT_4_OF_3);
	assert_string_equal(p.suspend_by, "policy");
	assert_int_equal(p.flagged_at, 0);

	au = audit_of(f, "alice", "suspended");
	assert_string_equal(au.actor, "policy");
	assert_string_equal(au.reason, LIMIT_4_OF_3);
	sw_format_duration(24 * 3600 * NS_S, dur, sizeof(dur));
	assert_string_equal(au.detail, dur);
	assert_int_equal(audit_count(f, "alice"), 1);

	/* counts are written once a second, not before the answer */
	assert_int_equal(sw_acct_counts_get(second(f), "alice", &c, NULL, 0, f->err, sizeof(f->err)), 0);

	ev = last_event(f, "alice", "suspended");
	assert_non_null(ev);
	assert_string_equal(ev->source, "192.0.2.10");
	assert_non_null(strstr(ev->text, LIMIT_4_OF_3));
}

/* The RCPTs of one message (one instance) are one message and as many recipients. */
static void test_one_message_many_recipients(void **state)
{
	struct fixture *f = *state;
	struct sw_origin o = home();
	struct sw_acct_figures fig;
	struct sw_policy_req r = request(SW_PS_RCPT, "alice", "alice@example.org", "m1.0");

	f->s.limits[SW_LIM_MSG_MINUTE] = 3;
	f->s.limits[SW_LIM_RCPT_MINUTE] = 5;
	for (int i = 0; i < 5; i++)
		expect_dunno(decide(f, &r, &o, T0 + i * SEC_MS));
	assert_int_equal(figures(f, "alice", T0 + 5 * SEC_MS, &fig), 1);
	assert_int_equal(fig.messages[SW_W_MINUTE], 1);
	assert_int_equal(fig.recipients[SW_W_MINUTE], 5);
	assert_int_equal(fig.messages[SW_W_DAY], 1);
	assert_int_equal(fig.recipients[SW_W_DAY], 5);
	/* a second message, its first recipient the sixth of the minute */
	expect(msg(f, "alice", &o, T0 + 6 * SEC_MS), SW_V_REFUSE, SW_POL_LIMITS,
	       "450 4.7.1 Sending suspended for this account: recipient limit: 6 recipients in the last minute (limit 5)");
	assert_true(db_suspended(f, "alice"));
}

/* The hour and day windows limit as the minute does; an account's own limits override the config's. */
static void test_hour_day_and_account_limits(void **state)
{
	struct fixture *f = *state;
	struct sw_origin o = home();
	struct sw_acct_policy p;

	f->s.limits[SW_LIM_MSG_MINUTE] = 0;	/* off */
	f->s.limits[SW_LIM_MSG_HOUR] = 4;
	for (int i = 0; i < 4; i++)
		expect_dunno(msg(f, "alice", &o, T0 + i * 10 * MIN_MS));
	expect(msg(f, "alice", &o, T0 + 40 * MIN_MS), SW_V_REFUSE, SW_POL_LIMITS,
	       "450 4.7.1 Sending suspended for this account: message limit: 5 messages in the last hour (limit 4)");

	f->s.limits[SW_LIM_MSG_HOUR] = 0;
	f->s.limits[SW_LIM_MSG_DAY] = 2;
	expect_dunno(msg(f, "bob", &o, T0));
	expect_dunno(msg(f, "bob", &o, T0 + 5 * HOUR_MS));
	expect(msg(f, "bob", &o, T0 + 10 * HOUR_MS), SW_V_REFUSE, SW_POL_LIMITS,
	       "450 4.7.1 Sending suspended for this account: message limit: 3 messages in the last day (limit 2)");

	/* carol's own minute limit of 1, dave's 0 (off), under a config of 3 */
	f->s.limits[SW_LIM_MSG_DAY] = 0;
	f->s.limits[SW_LIM_MSG_MINUTE] = 3;
	sw_acct_policy_defaults(&p, "carol");
	p.limits[SW_LIM_MSG_MINUTE] = 1;
	cli_put(f, &p, SW_AP_LIMITS);
	sw_acct_policy_defaults(&p, "dave");
	p.limits[SW_LIM_MSG_MINUTE] = 0;
	cli_put(f, &p, SW_AP_LIMITS);
	expect_dunno(msg(f, "carol", &o, T0));
	expect(msg(f, "carol", &o, T0 + SEC_MS), SW_V_REFUSE, SW_POL_LIMITS,
	       "450 4.7.1 Sending suspended for this account: message limit: 2 messages in the last minute (limit 1)");
	for (int i = 0; i < 10; i++)
		expect_dunno(msg(f, "dave", &o, T0 + i * SEC_MS));
}

/*
 * The minute window slides: three messages late in a 5 s bucket are all
 * gone 61 s later, and the account may send three again; but crossing
 * a clock minute does not empty it.
 */
static void test_window_slides(void **state)
{
	struct fixture *f = *state;
	struct sw_origin o = home();
	struct sw_acct_figures fig;
	int64_t t = T0 + 4 * SEC_MS;

	f->s.limits[SW_LIM_MSG_MINUTE] = 3;
	for (int i = 0; i < 3; i++)
		expect_dunno(msg(f, "alice", &o, t));
	assert_int_equal(figures(f, "alice", t + 30 * SEC_MS, &fig), 1);
	assert_int_equal(fig.messages[SW_W_MINUTE], 3);
	assert_int_equal(figures(f, "alice", t + 61 * SEC_MS, &fig), 1);
	assert_int_equal(fig.messages[SW_W_MINUTE], 0);
	assert_int_equal(fig.recipients[SW_W_MINUTE], 0);
	assert_int_equal(fig.messages[SW_W_HOUR], 3);
	assert_int_equal(fig.messages[SW_W_DAY], 3);
	for (int i = 0; i < 3; i++)
		expect_dunno(msg(f, "alice", &o, t + 61 * SEC_MS));
	expect(msg(f, "alice", &o, t + 62 * SEC_MS), SW_V_REFUSE, SW_POL_LIMITS, "450 4.7.1 ...");

	/*
	 * carol: three at the very start of a bucket. 61 s later a fifth of
	 * that bucket is out of the window, and it counts for the four fifths
	 * still inside (accounts.h: the bucket sliding out, in proportion).
	 */
	for (int i = 0; i < 3; i++)
		expect_dunno(msg(f, "carol", &o, T0));
	assert_int_equal(figures(f, "carol", T0 + 61 * SEC_MS, &fig), 1);
	assert_int_equal(fig.messages[SW_W_MINUTE], 2);	/* 3 * 4/5, rounded down */
	assert_int_equal(figures(f, "carol", T0 + 64 * SEC_MS, &fig), 1);
	assert_int_equal(fig.messages[SW_W_MINUTE], 0);	/* 3 * 1/5 */
	assert_int_equal(figures(f, "carol", T0 + 65 * SEC_MS, &fig), 1);
	assert_int_equal(fig.messages[SW_W_MINUTE], 0);

	/* bob: three at 22:13:55, the fourth at 22:14:05 is within the last minute all the same */
	for (int i = 0; i < 3; i++)
		expect_dunno(msg(f, "bob", &o, T0 + 35 * SEC_MS));
	expect(msg(f, "bob", &o, T0 + 45 * SEC_MS), SW_V_REFUSE, SW_POL_LIMITS, "450 4.7.1 ...");
}

/* suspend_for: refused up to the last second, resumed (and recorded) at the first request after. */
static void test_suspension_expires(void **state)
{
	struct fixture *f = *state;
	struct sw_origin o = home();
	struct sw_acct_policy p;
	struct sw_acct_audit au;
	int64_t until;

	f->s.limits[SW_LIM_MSG_MINUTE] = 1;
	f->s.suspend_ns = 3600 * NS_S;
	expect_dunno(msg(f, "alice", &o, T0));
	expect(msg(f, "alice", &o, T0 + SEC_MS), SW_V_REFUSE, SW_POL_LIMITS, "450 4.7.1 ...");
	assert_int_equal(db_policy(f, "alice", &p), 1);
	until = T0 / 1000 + 1 + 3600;
	assert_int_equal(p.suspended_until, until);
	assert_string_equal(audit_of(f, "alice", "suspended").detail, "1h");

	expect(msg(f, "alice", &o, (until - 1) * 1000 + 999), SW_V_REFUSE, SW_POL_SUSPENDED, "450 4.7.1 ...");
	assert_true(db_suspended(f, "alice"));
	expect_dunno(msg(f, "alice", &o, until * 1000));
	assert_int_equal(db_policy(f, "alice", &p), 1);
	assert_int_equal(p.suspended_until, 0);
	assert_int_equal(p.suspended_at, 0);
	assert_string_equal(p.suspend_reason, "");
	au = audit_of(f, "alice", "resumed");
	assert_string_equal(au.actor, "policy");
	assert_string_equal(au.reason, "the suspension ran out");
	assert_non_null(last_event(f, "alice", "resumed"));
}

/* suspend_for = 0: suspended until someone resumes it (the CLI, read at the next flush). */
static void test_suspend_until_resumed(void **state)
{
	struct fixture *f = *state;
	struct sw_origin o = home();
	struct sw_acct_policy p;

	f->s.limits[SW_LIM_MSG_MINUTE] = 1;
	f->s.suspend_ns = 0;
	expect_dunno(msg(f, "alice", &o, T0));
	expect(msg(f, "alice", &o, T0 + SEC_MS), SW_V_REFUSE, SW_POL_LIMITS, "450 4.7.1 ...");
	assert_int_equal(db_policy(f, "alice", &p), 1);
	assert_true(p.suspended_until == SW_SUSPENDED_UNTIL_RESUMED);
	assert_string_equal(audit_of(f, "alice", "suspended").detail, "until resumed");
	expect(msg(f, "alice", &o, T0 + 365 * DAY_MS), SW_V_REFUSE, SW_POL_SUSPENDED, "450 4.7.1 ...");

	/* smtpwall account resume alice */
	p.suspended_at = p.suspended_until = 0;
	p.suspend_reason[0] = p.suspend_by[0] = 0;
	cli_put(f, &p, SW_AP_SUSPEND);
	expect(msg(f, "alice", &o, T0 + 365 * DAY_MS + SEC_MS), SW_V_REFUSE, SW_POL_SUSPENDED, "450 4.7.1 ...");
	flush(f, T0 + 365 * DAY_MS + 2 * SEC_MS);
	expect_dunno(msg(f, "alice", &o, T0 + 365 * DAY_MS + 3 * SEC_MS));
}

/*
 * Only suspend_for = 0 means until resumed; the config accepts any
 * duration from 0 ("500ms" too), and a short one is still a short one.
 */
static void test_subsecond_suspend_is_not_permanent(void **state)
{
	struct fixture *f = *state;
	struct sw_origin o = home();
	struct sw_acct_policy p;

	f->s.limits[SW_LIM_MSG_MINUTE] = 1;
	f->s.suspend_ns = NS_S / 2;
	expect_dunno(msg(f, "alice", &o, T0));
	expect(msg(f, "alice", &o, T0 + SEC_MS), SW_V_REFUSE, SW_POL_LIMITS, "450 4.7.1 ...");
	assert_int_equal(db_policy(f, "alice", &p), 1);
	if (p.suspended_until == SW_SUSPENDED_UNTIL_RESUMED)
		fail_msg("suspend_for = 500ms suspended alice until resumed");
	expect_dunno(msg(f, "alice", &o, T0 + 2 * MIN_MS));
}

/* ---- abroad ---- */

static void test_overseas_cap(void **state)
{
	struct fixture *f = *state;
	struct sw_origin away = abroad(), o = home();
	struct sw_acct_figures fig;

	f->s.overseas_limit = 2;
	expect_dunno(msg(f, "alice", &away, T0));
	expect_dunno(msg(f, "alice", &away, T0 + MIN_MS));
	expect(msg(f, "alice", &away, T0 + 2 * MIN_MS), SW_V_REFUSE, SW_POL_OVERSEAS,
	       "450 4.7.1 overseas sending limit reached: 2 messages per 1d from abroad");
	/* from home the account sends on: the cap is not a suspension */
	for (int i = 0; i < 5; i++)
		expect_dunno(msg(f, "alice", &o, T0 + 3 * MIN_MS));
	assert_false(db_suspended(f, "alice"));
	expect(msg(f, "alice", &away, T0 + 4 * MIN_MS), SW_V_REFUSE, SW_POL_OVERSEAS, "450 4.7.1 overseas ...");
	/* another account has its own cap */
	expect_dunno(msg(f, "bob", &away, T0 + 4 * MIN_MS));
	assert_int_equal(figures(f, "alice", T0 + 5 * MIN_MS, &fig), 1);
	assert_int_equal(fig.overseas, 2);
	assert_int_equal(fig.overseas_window_ms, DAY_MS);
	assert_int_equal(fig.messages[SW_W_DAY], 7);
	/* a day (and the 2 h bucket it started in) later the window has room again */
	expect_dunno(msg(f, "alice", &away, T0 + DAY_MS + 3 * HOUR_MS));
}

/*
 * A traveller's override (overseas_limit 10 for 14 days) lets more
 * through, up to its last second; then the default applies again by
 * itself, recorded as override-expired.
 */
static void test_overseas_override_expires(void **state)
{
	struct fixture *f = *state;
	struct sw_origin away = abroad();
	struct sw_acct_policy p;
	int64_t until = T0 / 1000 + 14 * 86400;

	f->s.overseas_limit = 2;
	sw_acct_policy_defaults(&p, "alice");
	p.overseas_limit = 10;
	p.overseas_until = until;
	cli_put(f, &p, SW_AP_OVERSEAS);

	for (int i = 0; i < 10; i++)
		expect_dunno(msg(f, "alice", &away, T0 + i * MIN_MS));
	expect(msg(f, "alice", &away, T0 + 10 * MIN_MS), SW_V_REFUSE, SW_POL_OVERSEAS,
	       "450 4.7.1 overseas sending limit reached: 10 messages per 1d from abroad");
	/* the override's last second: three more than the default allows */
	for (int i = 0; i < 3; i++)
		expect_dunno(msg(f, "alice", &away, (until - 1) * 1000));
	assert_int_equal(db_policy(f, "alice", &p), 1);
	assert_int_equal(p.overseas_limit, 10);
	/* its end: the default cap, and the three of a second ago count against it */
	expect(msg(f, "alice", &away, until * 1000), SW_V_REFUSE, SW_POL_OVERSEAS,
	       "450 4.7.1 overseas sending limit reached: 2 messages per 1d from abroad");
	assert_int_equal(db_policy(f, "alice", &p), 1);
	assert_int_equal(p.overseas_limit, -1);
	assert_int_equal(p.overseas_until, 0);
	assert_string_equal(audit_of(f, "alice", "override-expired").actor, "policy");
	assert_non_null(last_event(f, "alice", "override-expired"));
}

/* A change through another connection (the CLI) is taken at the ledger's next flush, and not before. */
static void test_cli_change_taken_at_flush(void **state)
{
	struct fixture *f = *state;
	struct sw_origin away = abroad(), o = home();
	struct sw_acct_policy p;

	f->s.overseas_limit = 2;
	expect_dunno(msg(f, "alice", &away, T0));
	expect_dunno(msg(f, "alice", &away, T0 + SEC_MS));
	expect(msg(f, "alice", &away, T0 + 2 * SEC_MS), SW_V_REFUSE, SW_POL_OVERSEAS, "450 4.7.1 ...");
	expect_dunno(msg(f, "bob", &o, T0 + 2 * SEC_MS));

	/* smtpwall account set alice overseas=10; smtpwall account suspend bob */
	db_policy(f, "alice", &p);
	p.overseas_limit = 10;
	p.overseas_until = 0;
	cli_put(f, &p, SW_AP_OVERSEAS);
	db_policy(f, "bob", &p);
	p.suspended_at = T0 / 1000;
	p.suspended_until = SW_SUSPENDED_UNTIL_RESUMED;
	snprintf(p.suspend_reason, sizeof(p.suspend_reason), "password phished");
	snprintf(p.suspend_by, sizeof(p.suspend_by), "cli");
	cli_put(f, &p, SW_AP_SUSPEND);

	expect(msg(f, "alice", &away, T0 + 3 * SEC_MS), SW_V_REFUSE, SW_POL_OVERSEAS, "450 4.7.1 ...");
	expect_dunno(msg(f, "bob", &o, T0 + 3 * SEC_MS));
	flush(f, T0 + 4 * SEC_MS);
	expect_dunno(msg(f, "alice", &away, T0 + 5 * SEC_MS));
	expect(msg(f, "bob", &o, T0 + 5 * SEC_MS), SW_V_REFUSE, SW_POL_SUSPENDED,
	       "450 4.7.1 Sending suspended for this account: password phished");
	/* a flush with nothing new changes nothing */
	flush(f, T0 + 6 * SEC_MS);
	expect_dunno(msg(f, "alice", &away, T0 + 7 * SEC_MS));
}

static void test_abroad_deny(void **state)
{
	struct fixture *f = *state;
	struct sw_origin away = abroad(), o = home();
	struct sw_acct_policy p;

	f->s.abroad_deny = true;
	f->s.overseas_limit = 0;
	expect(msg(f, "alice", &away, T0), SW_V_REFUSE, SW_POL_ABROAD,
	       "550 5.7.1 sending from abroad (JP) is disabled for this account");
	expect_dunno(msg(f, "alice", &o, T0 + SEC_MS));
	assert_false(db_suspended(f, "alice"));
	/* carol is allowed abroad by her own policy */
	sw_acct_policy_defaults(&p, "carol");
	p.abroad = 0;
	cli_put(f, &p, SW_AP_ABROAD);
	expect_dunno(msg(f, "carol", &away, T0 + 2 * SEC_MS));

	/* config allows; dave's own policy refuses */
	f->s.abroad_deny = false;
	sw_acct_policy_defaults(&p, "dave");
	p.abroad = 1;
	cli_put(f, &p, SW_AP_ABROAD);
	expect(msg(f, "dave", &away, T0 + 3 * SEC_MS), SW_V_REFUSE, SW_POL_ABROAD, "550 5.7.1 ...");
	expect_dunno(msg(f, "dave", &o, T0 + 3 * SEC_MS));
	expect_dunno(msg(f, "erin", &away, T0 + 3 * SEC_MS));
}

/* A sender address not the login's own is refused from abroad only. */
static void test_sender_mismatch(void **state)
{
	struct fixture *f = *state;
	struct sw_origin away = abroad(), o = home();
	struct sw_acct_policy p;
	int64_t t = T0;

	f->s.overseas_limit = 0;
	expect(msg_from(f, "alice", "bob@x.example", &away, t), SW_V_REFUSE, SW_POL_MISMATCH,
	       "550 5.7.1 sender <bob@x.example> is not this account's own address (from abroad, JP)");
	expect_dunno(msg_from(f, "alice", "bob@x.example", &o, t));
	expect_dunno(msg_from(f, "alice", "alice@anything.example", &away, t));
	expect_dunno(msg_from(f, "alice", "ALICE@Anything.Example", &away, t));
	expect_dunno(msg_from(f, "alice", "", &away, t));	/* a bounce */
	expect(msg_from(f, "alice", "alicex@x.example", &away, t), SW_V_REFUSE, SW_POL_MISMATCH, "550 5.7.1 ...");

	snprintf(f->s.sender_domains, sizeof(f->s.sender_domains), "example.org");
	expect_dunno(msg_from(f, "alice", "alice@example.org", &away, t));
	expect_dunno(msg_from(f, "alice", "alice@EXAMPLE.ORG", &away, t));
	expect(msg_from(f, "alice", "alice@other.org", &away, t), SW_V_REFUSE, SW_POL_MISMATCH,
	       "550 5.7.1 sender <alice@other.org> is not this account's own address (from abroad, JP)");
	expect_dunno(msg_from(f, "alice", "alice@other.org", &o, t));

	/* aliases, set through the CLI while alice is in memory */
	db_policy(f, "alice", &p);
	snprintf(p.aliases, sizeof(p.aliases), "Alice.Smith@example.net, boss@corp.example");
	cli_put(f, &p, SW_AP_ALIASES);
	flush(f, t + SEC_MS);
	t += 2 * SEC_MS;
	expect_dunno(msg_from(f, "alice", "alice.smith@EXAMPLE.net", &away, t));
	expect_dunno(msg_from(f, "alice", "boss@corp.example", &away, t));
	expect(msg_from(f, "alice", "boss@corp.example.evil", &away, t), SW_V_REFUSE, SW_POL_MISMATCH, "550 5.7.1 ...");
	expect(msg_from(f, "alice", "boss@corp", &away, t), SW_V_REFUSE, SW_POL_MISMATCH, "550 5.7.1 ...");
	/* a login that is an address */
	expect_dunno(msg_from(f, "carol@example.org", "Carol@Example.org", &away, t));
	expect(msg_from(f, "carol@example.org", "carol@other.org", &away, t), SW_V_REFUSE, SW_POL_MISMATCH,
	       "550 5.7.1 ...");
	assert_false(db_suspended(f, "alice"));
}

static void test_sender_own(void **state)
{
	static const struct {
		const char *login, *sender, *domains, *aliases;
		bool own;
	} cases[] = {
		{ "alice", "alice@x.example", "", "", true },
		{ "alice", "ALICE@X.EXAMPLE", "", "", true },
		{ "alice", "", "", "", true },			/* the null sender */
		{ "alice", "alice", "", "", true },		/* the login itself */
		{ "alice", "bob@x.example", "", "", false },
		{ "al", "alice@x.example", "", "", false },	/* a login that is a prefix */
		{ "alice", "al@x.example", "", "", false },
		{ "alice", "alice@", "", "", false },		/* no domain */
		{ "alice", "alicealice@x", "", "", false },
		{ "alice", "alice@example.org", "example.org", "", true },
		{ "alice", "alice@EXAMPLE.org", "example.org", "", true },
		{ "alice", "alice@example.org.evil", "example.org", "", false },
		{ "alice", "alice@sub.example.org", "example.org", "", false },
		{ "alice", "alice@org", "example.org", "", false },
		{ "alice", "alice@example.or", "example.org", "", false },
		{ "alice", "alice@example.net", "example.org, example.net", "", true },
		{ "alice", "alice@example.net", "example.org,example.net", "", true },
		{ "alice", "alice@example.net", "\texample.org \t example.net ", "", true },
		{ "alice", "alice@example.com", "example.org, example.net", "", false },
		{ "alice", "alice@example.com", " , ", "", true },	/* only separators: none configured */
		{ "alice@example.org", "alice@example.org", "", "", true },
		{ "alice@example.org", "Alice@Example.ORG", "example.org", "", true },
		{ "alice@example.org", "alice@other.org", "", "", false },	/* login@ any domain is for bare logins */
		{ "alice@example.org", "alice@example.org@example.org", "example.org", "", false },
		{ "alice@example.org", "alice", "", "", false },
		{ "alice", "boss@corp.example", "", "boss@corp.example", true },
		{ "alice", "BOSS@corp.example", "example.org", "x@y, boss@corp.example", true },
		{ "alice", "boss@corp.exampl", "", "boss@corp.example", false },
		{ "alice", "boss@corp.example.x", "", "boss@corp.example", false },
		{ "alice", "boss", "", "boss@corp.example", false },
		{ "alice", "x@y", "", " ,x@y,\t", true },
		{ "alice", "bob@x.example", "", " , ", false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool own = sw_accounts_sender_own(cases[i].login, cases[i].sender, cases[i].domains,
						  cases[i].aliases);

		if (own != cases[i].own)
			fail_msg("login \"%s\", sender \"%s\", sender_domains \"%s\", aliases \"%s\": %s, expected %s",
				 cases[i].login, cases[i].sender, cases[i].domains, cases[i].aliases,
				 own ? "own" : "foreign", cases[i].own ? "own" : "foreign");
	}
}

/* ---- origins ---- */

static void test_origins_three_countries_flag(void **state)
{
	struct fixture *f = *state;
	struct sw_origin jp = origin("203.0.113.1", "jp", false), us = origin("198.51.100.2", "us", false),
			 de = origin("192.0.2.3", "de", false), fr = origin("192.0.2.99", "fr", false);
	struct sw_acct_policy p;
	const char *why = "used from 3 countries (JP US DE) within 1h (limit 3)";

	f->s.origins_addresses = 0;
	expect_dunno(msg(f, "alice", &jp, T0));
	expect_dunno(msg(f, "alice", &us, T0 + MIN_MS));
	assert_int_equal(f->flags, 0);
	assert_int_equal(db_policy(f, "alice", &p), 0);
	expect_dunno(msg(f, "alice", &de, T0 + 2 * MIN_MS));
	assert_int_equal(f->flags, 1);
	assert_string_equal(f->flag_account, "alice");
	assert_string_equal(f->flag_reason, why);
	assert_int_equal(db_policy(f, "alice", &p), 1);
	assert_int_equal(p.flagged_at, (T0 + 2 * MIN_MS) / 1000);
	assert_string_equal(p.flag_reason, why);
	assert_int_equal(p.suspended_until, 0);
	assert_string_equal(audit_of(f, "alice", "flagged").reason, why);
	/* the addresses as the CLI lists them: country, uses, last use */
	{
		struct sw_acct_addr *addrs = NULL;
		int n = 0;

		flush(f, T0 + 2 * MIN_MS + SEC_MS);
		assert_int_equal(sw_acct_addrs(second(f), "alice", 10, &addrs, &n, f->err, sizeof(f->err)), 0);
		assert_int_equal(n, 3);
		assert_string_equal(addrs[0].addr, "192.0.2.3");	/* most recent first */
		assert_string_equal(addrs[0].country, "DE");
		assert_int_equal(addrs[0].messages, 1);
		assert_int_equal(addrs[0].last_seen, (T0 + 2 * MIN_MS) / 1000);
		assert_string_equal(addrs[2].addr, "203.0.113.1");
		assert_string_equal(addrs[2].country, "JP");
		assert_int_equal(addrs[2].first_seen, T0 / 1000);
		free(addrs);
	}
	/* flagged once: more countries, more requests, no second call */
	expect_dunno(msg(f, "alice", &fr, T0 + 3 * MIN_MS));
	expect_dunno(msg(f, "alice", &jp, T0 + 4 * MIN_MS));
	expect_dunno(in_state(f, SW_PS_MAIL, "alice", T0 + 5 * MIN_MS));
	assert_int_equal(f->flags, 1);

	/* unknown and unclassified origins are addresses, not countries */
	{
		struct sw_origin unk = origin("203.0.113.50", NULL, false), none = origin("203.0.113.51", NULL, false);

		unk.country = SW_COUNTRY_UNKNOWN;
		expect_dunno(msg(f, "bob", &jp, T0));
		expect_dunno(msg(f, "bob", &unk, T0 + SEC_MS));
		expect_dunno(msg(f, "bob", &none, T0 + 2 * SEC_MS));
		expect_dunno(msg(f, "bob", &us, T0 + 3 * SEC_MS));
		assert_int_equal(f->flags, 1);
		assert_int_equal(db_policy(f, "bob", &p), 0);
	}
}

/* origins_suspend: the flag suspends too, with the flag's reason. */
static void test_origins_suspend(void **state)
{
	struct fixture *f = *state;
	struct sw_origin jp = origin("203.0.113.1", "jp", false), us = origin("198.51.100.2", "us", false),
			 de = origin("192.0.2.3", "de", false);
	struct sw_acct_policy p;
	const struct sw_bus_event *ev;

	f->s.origins_suspend = true;
	expect_dunno(msg(f, "alice", &jp, T0));
	expect_dunno(msg(f, "alice", &us, T0 + MIN_MS));
	expect(msg(f, "alice", &de, T0 + 2 * MIN_MS), SW_V_REFUSE, SW_POL_SUSPENDED,
	       "450 4.7.1 Sending suspended for this account: used from 3 countries (JP US DE) within 1h (limit 3)");
	assert_int_equal(f->flags, 1);
	assert_int_equal(db_policy(f, "alice", &p), 1);
	assert_true(p.flagged_at != 0);
	assert_int_equal(p.suspended_until, (T0 + 2 * MIN_MS) / 1000 + 86400);
	assert_string_equal(p.suspend_reason, p.flag_reason);
	expect(msg(f, "alice", &jp, T0 + 3 * MIN_MS), SW_V_REFUSE, SW_POL_SUSPENDED, "450 4.7.1 ...");
	assert_int_equal(f->flags, 1);
	/* the event names its cause: the origins, not a send limit */
	ev = last_event(f, "alice", "suspended");
	assert_non_null(ev);
	if (strcmp(ev->reason, "origins"))
		fail_msg("a suspension by the origins flag is published with reason \"%s\", expected \"origins\"",
			 ev->reason);
}

static void test_origins_addresses(void **state)
{
	struct fixture *f = *state;
	struct sw_origin a1 = origin("203.0.113.1", "jp", false), a2 = origin("203.0.113.2", "jp", false),
			 a3 = origin("2001:db8:1:2::", "jp", false);
	struct sw_acct_policy p;

	f->s.origins_countries = 0;
	f->s.origins_addresses = 3;
	expect_dunno(msg(f, "alice", &a1, T0));
	expect_dunno(msg(f, "alice", &a2, T0 + SEC_MS));
	expect_dunno(msg(f, "alice", &a1, T0 + 2 * SEC_MS));
	assert_int_equal(f->flags, 0);
	expect_dunno(msg(f, "alice", &a3, T0 + 3 * SEC_MS));
	assert_int_equal(f->flags, 1);
	assert_string_equal(f->flag_reason, "used from 3 addresses within 1h (limit 3)");
	assert_int_equal(db_policy(f, "alice", &p), 1);
	assert_string_equal(p.flag_reason, "used from 3 addresses within 1h (limit 3)");
}

/* Only uses within origins_window count. */
static void test_origins_window(void **state)
{
	struct fixture *f = *state;
	struct sw_origin jp = origin("203.0.113.1", "jp", false), us = origin("198.51.100.2", "us", false),
			 de = origin("192.0.2.3", "de", false), fr = origin("192.0.2.99", "fr", false);

	f->s.origins_addresses = 0;
	expect_dunno(msg(f, "alice", &jp, T0));
	expect_dunno(msg(f, "alice", &us, T0 + 30 * MIN_MS));
	expect_dunno(msg(f, "alice", &de, T0 + 2 * HOUR_MS));	/* jp is out of the hour */
	expect_dunno(msg(f, "alice", &fr, T0 + 2 * HOUR_MS + MIN_MS));	/* and us now */
	assert_int_equal(f->flags, 0);
	expect_dunno(msg(f, "alice", &jp, T0 + 2 * HOUR_MS + 2 * MIN_MS));	/* jp again: 3 */
	assert_int_equal(f->flags, 1);
	assert_non_null(strstr(f->flag_reason, "used from 3 countries ("));
	assert_null(strstr(f->flag_reason, "US"));
}

/* A flagged account's mail is routed apart: FILTER at RCPT and END-OF-MESSAGE. */
static void test_flagged_filter(void **state)
{
	struct fixture *f = *state;
	struct sw_origin o = home();
	struct sw_acct_policy p;
	struct sw_policy_req eom = request(SW_PS_END_OF_MESSAGE, "alice", "alice@example.org", "eom.1");

	snprintf(f->s.flagged_filter, sizeof(f->s.flagged_filter), "smtp-flagged:[192.0.2.25]:25");
	sw_acct_policy_defaults(&p, "alice");
	p.flagged_at = T0 / 1000 - 60;
	snprintf(p.flag_reason, sizeof(p.flag_reason), "flagged by the operator");
	cli_put(f, &p, SW_AP_FLAG);

	expect(msg(f, "alice", &o, T0), SW_V_FILTER, SW_POL_FILTER, "FILTER smtp-flagged:[192.0.2.25]:25");
	expect(decide(f, &eom, &o, T0 + SEC_MS), SW_V_FILTER, SW_POL_FILTER, "FILTER smtp-flagged:[192.0.2.25]:25");
	expect_dunno(in_state(f, SW_PS_MAIL, "alice", T0 + SEC_MS));
	expect_dunno(in_state(f, SW_PS_DATA, "alice", T0 + SEC_MS));
	expect_dunno(msg(f, "bob", &o, T0 + SEC_MS));
	/* no filter configured: flagged mail goes on as any */
	f->s.flagged_filter[0] = 0;
	expect_dunno(msg(f, "alice", &o, T0 + 2 * SEC_MS));

	/* the request that flags an account is already filtered */
	snprintf(f->s.flagged_filter, sizeof(f->s.flagged_filter), "smtp-flagged:[192.0.2.25]:25");
	f->s.origins_countries = 2;
	{
		struct sw_origin jp = origin("203.0.113.1", "jp", false), us = origin("198.51.100.2", "us", false);

		expect_dunno(msg(f, "carol", &jp, T0));
		expect(msg(f, "carol", &us, T0 + SEC_MS), SW_V_FILTER, SW_POL_FILTER, "FILTER smtp-flagged:...");
	}
}

/* ---- rollout modes ---- */

static void test_monitor_limits(void **state)
{
	struct fixture *f = *state;
	struct sw_origin o = home();
	struct sw_acct_figures fig;
	struct sw_acct_policy p;

	f->s.limits_mode = SW_AM_MONITOR;
	f->s.limits[SW_LIM_MSG_MINUTE] = 3;
	for (int i = 0; i < 3; i++)
		expect_dunno(msg(f, "alice", &o, T0 + i * SEC_MS));
	expect(msg(f, "alice", &o, T0 + 3 * SEC_MS), SW_V_WARN, SW_POL_LIMITS,
	       "WARN smtpwall monitor: " LIMIT_4_OF_3);
	expect(msg(f, "alice", &o, T0 + 4 * SEC_MS), SW_V_WARN, SW_POL_LIMITS,
	       "WARN smtpwall monitor: message limit: 5 messages in the last minute (limit 3)");
	assert_int_equal(db_policy(f, "alice", &p), 0);
	assert_int_equal(audit_count(f, "alice"), 0);
	assert_int_equal(figures(f, "alice", T0 + 5 * SEC_MS, &fig), 1);
	assert_int_equal(fig.messages[SW_W_MINUTE], 5);
	assert_non_null(last_event(f, "alice", "would-refuse"));
	assert_null(last_event(f, "alice", "suspended"));
}

static void test_monitor_other_policies(void **state)
{
	struct fixture *f = *state;
	struct sw_origin away = abroad();
	struct sw_acct_figures fig;
	struct sw_acct_policy p;

	f->s.overseas_mode = SW_AM_MONITOR;
	f->s.overseas_limit = 1;
	expect_dunno(msg(f, "alice", &away, T0));
	expect(msg(f, "alice", &away, T0 + SEC_MS), SW_V_WARN, SW_POL_OVERSEAS,
	       "WARN smtpwall monitor: overseas sending limit reached: 1 messages per 1d from abroad");
	expect(msg(f, "alice", &away, T0 + 2 * SEC_MS), SW_V_WARN, SW_POL_OVERSEAS, "WARN smtpwall monitor: ...");
	assert_int_equal(figures(f, "alice", T0 + 3 * SEC_MS, &fig), 1);
	assert_int_equal(fig.overseas, 3);
	f->s.overseas_limit = 0;

	f->s.abroad_mode = SW_AM_MONITOR;
	f->s.abroad_deny = true;
	expect(msg(f, "bob", &away, T0), SW_V_WARN, SW_POL_ABROAD,
	       "WARN smtpwall monitor: sending from abroad (JP) is disabled for this account");
	f->s.abroad_deny = false;

	f->s.mismatch_mode = SW_AM_MONITOR;
	expect(msg_from(f, "carol", "mallory@x.example", &away, T0), SW_V_WARN, SW_POL_MISMATCH,
	       "WARN smtpwall monitor: sender <mallory@x.example> is not this account's own address (from abroad, JP)");

	f->s.origins_mode = SW_AM_MONITOR;
	{
		struct sw_origin jp = origin("203.0.113.1", "jp", false), us = origin("198.51.100.2", "us", false),
				 de = origin("192.0.2.3", "de", false);

		expect_dunno(msg(f, "dave", &jp, T0));
		expect_dunno(msg(f, "dave", &us, T0 + SEC_MS));
		expect(msg(f, "dave", &de, T0 + 2 * SEC_MS), SW_V_WARN, SW_POL_ORIGINS,
		       "WARN smtpwall monitor: used from 3 countries (JP US DE) within 1h (limit 3)");
	}
	assert_int_equal(f->flags, 0);
	assert_int_equal(db_policy(f, "dave", &p), 0);
	for (const char *const *n = (const char *const[]){ "alice", "bob", "carol", "dave", NULL }; *n; n++) {
		assert_false(db_suspended(f, *n));
		assert_int_equal(audit_count(f, *n), 0);
	}
}

/* Every policy off: nothing refused, warned, flagged or written about the account. */
static void test_off_mode(void **state)
{
	struct fixture *f = *state;
	struct sw_origin o[] = { origin("203.0.113.1", "jp", true), origin("198.51.100.2", "us", true),
				 origin("192.0.2.3", "cn", true), origin("192.0.2.4", "br", true) };
	struct sw_acct_policy p;

	f->s.limits_mode = f->s.overseas_mode = f->s.abroad_mode = f->s.mismatch_mode = f->s.origins_mode =
		SW_AM_OFF;
	f->s.limits[SW_LIM_MSG_MINUTE] = 1;
	f->s.limits[SW_LIM_RCPT_MINUTE] = 1;
	f->s.overseas_limit = 1;
	f->s.abroad_deny = true;
	f->s.origins_countries = 2;
	f->s.origins_addresses = 2;
	for (int i = 0; i < 8; i++)
		expect_dunno(msg_from(f, "alice", "mallory@x.example", &o[i % 4], T0 + i * SEC_MS));
	assert_int_equal(f->flags, 0);
	assert_int_equal(db_policy(f, "alice", &p), 0);
	assert_int_equal(audit_count(f, "alice"), 0);
	assert_null(last_event(f, "alice", "would-refuse"));
	assert_null(last_event(f, "alice", "refused"));
}

/* ---- relay networks ---- */

static void test_relay_networks(void **state)
{
	struct fixture *f = *state;
	static const char *const nets[] = { "10.0.0.0/8", "172.16.0.0/12", "2001:db8:100::/40" };
	struct sw_acct_counts c;
	struct sw_acct_policy p;

	for (int i = 0; i < 3; i++)
		if (sw_parse_cidr(nets[i], &f->s.relay_networks[i], f->err))
			fail_msg("%s: %s", nets[i], f->err);
	f->s.n_relay_networks = 3;
	f->s.limits[SW_LIM_MSG_MINUTE] = 3;

	{
		struct sw_policy_req r;
		struct sw_origin o = origin("10.1.2.3", NULL, false);

		for (int i = 0; i < 4; i++) {
			r = request(SW_PS_RCPT, "", "www-data@host.example", next_instance(f));
			snprintf(r.client_address, sizeof(r.client_address), "10.1.2.3");
			if (i < 3)
				expect_dunno(decide(f, &r, &o, T0 + i * SEC_MS));
			else
				expect(decide(f, &r, &o, T0 + i * SEC_MS), SW_V_REFUSE, SW_POL_LIMITS,
				       "450 4.7.1 Sending suspended for this account: " LIMIT_4_OF_3);
		}
		assert_int_equal(db_policy(f, "client:10.1.2.3", &p), 1);
		assert_true(p.suspended_until != 0);
		/* the same login-less mail from a neighbour is its own account */
		r = request(SW_PS_RCPT, "", "www-data@host.example", next_instance(f));
		snprintf(r.client_address, sizeof(r.client_address), "10.9.9.9");
		expect_dunno(decide(f, &r, &o, T0 + 5 * SEC_MS));
		/* a login from a relay address is the login's account */
		r = request(SW_PS_RCPT, "alice", "alice@example.org", next_instance(f));
		snprintf(r.client_address, sizeof(r.client_address), "10.1.2.3");
		expect_dunno(decide(f, &r, &o, T0 + 5 * SEC_MS));
	}

	/* inside and outside the partial-byte and IPv6 prefixes; a garbage address */
	{
		static const struct {
			const char *addr;
			bool relay;
		} cases[] = {
			{ "172.31.255.255", true }, { "172.16.0.1", true }, { "172.32.0.1", false },
			{ "172.15.255.255", false }, { "2001:db8:1ff::1", true }, { "2001:db8:200::1", false },
			{ "192.0.2.9", false }, { "::ffff:10.1.2.3", false }, { "garbage", false }, { "", false },
		};
		char name[128];

		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			struct sw_policy_req r = request(SW_PS_RCPT, "", "x@host.example", next_instance(f));
			struct sw_origin o = origin(cases[i].addr, NULL, false);

			snprintf(r.client_address, sizeof(r.client_address), "%s", cases[i].addr);
			expect_dunno(decide(f, &r, &o, T0 + 10 * SEC_MS));
		}
		flush(f, T0 + 11 * SEC_MS);
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			snprintf(name, sizeof(name), "client:%s", cases[i].addr);
			if (sw_acct_counts_get(second(f), name, &c, NULL, 0, f->err, sizeof(f->err)) != cases[i].relay)
				fail_msg("%s: %s, expected %s", cases[i].addr,
					 cases[i].relay ? "not counted" : "counted", cases[i].relay ? "counted" : "not");
			if (cases[i].relay)
				assert_int_equal(c.messages, 1);
		}
	}
}

/* ---- the protocol states ---- */

static void test_end_of_message_and_states(void **state)
{
	struct fixture *f = *state;
	struct sw_origin o = home();
	struct sw_acct_figures fig;
	struct sw_policy_req r;

	f->s.limits[SW_LIM_MSG_MINUTE] = 4;
	/* a message only the end-of-message hook sees: one message, recipient_count recipients */
	r = request(SW_PS_END_OF_MESSAGE, "alice", "alice@example.org", "e.1");
	r.recipient_count = 4;
	expect_dunno(decide(f, &r, &o, T0));
	assert_int_equal(figures(f, "alice", T0 + SEC_MS, &fig), 1);
	assert_int_equal(fig.messages[SW_W_MINUTE], 1);
	assert_int_equal(fig.recipients[SW_W_MINUTE], 4);

	/* counted at RCPT: its end of message adds nothing */
	r = request(SW_PS_RCPT, "alice", "alice@example.org", "e.2");
	expect_dunno(decide(f, &r, &o, T0 + 2 * SEC_MS));
	r = request(SW_PS_END_OF_MESSAGE, "alice", "alice@example.org", "e.2");
	r.recipient_count = 1;
	expect_dunno(decide(f, &r, &o, T0 + 3 * SEC_MS));
	assert_int_equal(figures(f, "alice", T0 + 4 * SEC_MS, &fig), 1);
	assert_int_equal(fig.messages[SW_W_MINUTE], 2);
	assert_int_equal(fig.recipients[SW_W_MINUTE], 5);

	/* no recipient_count: one recipient */
	r = request(SW_PS_END_OF_MESSAGE, "alice", "alice@example.org", "e.3");
	expect_dunno(decide(f, &r, &o, T0 + 5 * SEC_MS));
	/* nothing before MAIL counts or refuses, nor MAIL, DATA, VRFY, ETRN */
	for (enum sw_policy_state st = SW_PS_UNKNOWN; st <= SW_PS_ETRN; st++)
		if (st != SW_PS_RCPT && st != SW_PS_END_OF_MESSAGE)
			expect_dunno(in_state(f, st, "alice", T0 + 6 * SEC_MS));
	assert_int_equal(figures(f, "alice", T0 + 7 * SEC_MS, &fig), 1);
	assert_int_equal(fig.messages[SW_W_MINUTE], 3);
	assert_int_equal(fig.recipients[SW_W_MINUTE], 6);

	/* the fifth message, at its end: suspended */
	r = request(SW_PS_RCPT, "alice", "alice@example.org", "e.4");
	expect_dunno(decide(f, &r, &o, T0 + 8 * SEC_MS));
	r = request(SW_PS_END_OF_MESSAGE, "alice", "alice@example.org", "e.5");
	r.recipient_count = 2;
	expect(decide(f, &r, &o, T0 + 9 * SEC_MS), SW_V_REFUSE, SW_POL_LIMITS,
	       "450 4.7.1 Sending suspended for this account: message limit: 5 messages in the last minute (limit 4)");
	expect(in_state(f, SW_PS_MAIL, "alice", T0 + 10 * SEC_MS), SW_V_REFUSE, SW_POL_SUSPENDED, "450 4.7.1 ...");
	expect(in_state(f, SW_PS_DATA, "alice", T0 + 10 * SEC_MS), SW_V_REFUSE, SW_POL_SUSPENDED, "450 4.7.1 ...");
	expect(in_state(f, SW_PS_END_OF_MESSAGE, "alice", T0 + 10 * SEC_MS), SW_V_REFUSE, SW_POL_SUSPENDED,
	       "450 4.7.1 ...");
	/* a suspension stops sending, not logging in */
	expect_dunno(in_state(f, SW_PS_CONNECT, "alice", T0 + 10 * SEC_MS));
	expect_dunno(in_state(f, SW_PS_EHLO, "alice", T0 + 10 * SEC_MS));
	expect_dunno(in_state(f, SW_PS_HELO, "alice", T0 + 10 * SEC_MS));
	expect_dunno(in_state(f, SW_PS_VRFY, "alice", T0 + 10 * SEC_MS));
}

/* ---- persistence ---- */

/* What was flushed comes back after a restart: the limit still counts the earlier messages. */
static void test_restart_keeps_flushed_counts(void **state)
{
	struct fixture *f = *state;
	struct sw_origin o = home(), jp = origin("203.0.113.1", "jp", false), us = origin("198.51.100.2", "us", false),
			 de = origin("192.0.2.3", "de", false), away = abroad();
	struct sw_acct_counts c;

	f->s.limits[SW_LIM_MSG_MINUTE] = 3;
	f->s.origins_addresses = 0;
	f->s.overseas_limit = 2;
	for (int i = 0; i < 3; i++)
		expect_dunno(msg(f, "alice", &o, T0 + i * SEC_MS));
	expect_dunno(msg(f, "bob", &jp, T0));
	expect_dunno(msg(f, "bob", &us, T0 + SEC_MS));
	expect_dunno(msg(f, "carol", &away, T0));
	expect_dunno(msg(f, "carol", &away, T0 + SEC_MS));
	flush(f, T0 + 3 * SEC_MS);

	/* a new ledger over the same store */
	sw_accounts_free(f->A);
	f->A = sw_accounts_new(f->as, &f->s, f->err, sizeof(f->err));
	assert_non_null(f->A);
	sw_accounts_on_flag(f->A, on_flag, f);
	expect(msg(f, "alice", &o, T0 + 10 * SEC_MS), SW_V_REFUSE, SW_POL_LIMITS,
	       "450 4.7.1 Sending suspended for this account: " LIMIT_4_OF_3);

	/* a new process: store, statements and ledger */
	close_ledger(f);
	open_ledger(f);
	expect(msg(f, "alice", &o, T0 + 11 * SEC_MS), SW_V_REFUSE, SW_POL_SUSPENDED, "450 4.7.1 ...");
	assert_int_equal(sw_acct_counts_get(f->as, "alice", &c, NULL, 0, f->err, sizeof(f->err)), 1);
	assert_int_equal(c.messages, 3);
	assert_int_equal(c.recipients, 3);
	assert_int_equal(c.first_seen, T0 / 1000);
	/* the addresses and their countries came back too: a third country flags */
	expect_dunno(msg(f, "bob", &de, T0 + 12 * SEC_MS));
	assert_int_equal(f->flags, 1);
	assert_non_null(strstr(f->flag_reason, "used from 3 countries ("));
	assert_non_null(strstr(f->flag_reason, "JP"));
	assert_non_null(strstr(f->flag_reason, "US"));
	assert_non_null(strstr(f->flag_reason, "DE"));
	/* and the overseas window: carol's cap is used up */
	expect(msg(f, "carol", &away, T0 + 12 * SEC_MS), SW_V_REFUSE, SW_POL_OVERSEAS, "450 4.7.1 overseas ...");
}

static void raw_sql(struct fixture *f, const char *sql)
{
	char path[PATH_MAX];
	sqlite3 *db = NULL;

	snprintf(path, sizeof(path), "%s/state.db", f->state);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	sqlite3_close(db);
}

static int user_version(struct fixture *f)
{
	char path[PATH_MAX];
	sqlite3 *db = NULL;
	sqlite3_stmt *s;
	int v = -1;

	snprintf(path, sizeof(path), "%s/state.db", f->state);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

/* A state.db of schema 2 (before accounts) opens, keeps its lists and settings, and gains the accounts tables. */
static void test_store_upgrade_from_v2(void **state)
{
	struct fixture *f = *state;
	struct sw_store_entry e = { .kind = SW_LIST_KIND_DENY, .created_at = 100 }, got;
	struct sw_origin o = home();
	struct sw_acct_policy p;
	char v[16];

	assert_int_equal(sw_parse_cidr("192.0.2.0/24", &e.cidr, f->err), 0);
	assert_int_equal(sw_store_put(f->st, &e, f->err, sizeof(f->err)), 0);
	assert_int_equal(sw_store_setting_put(f->st, "emergency_mode", "off", f->err, sizeof(f->err)), 0);
	close_ledger(f);
	raw_sql(f, "DROP TABLE accounts; DROP TABLE account_counts; DROP TABLE account_addrs;"
		   " DROP TABLE account_audit; PRAGMA user_version = 2");
	assert_int_equal(user_version(f), 2);

	open_ledger(f);
	assert_int_equal(user_version(f), 4);
	assert_int_equal(sw_store_get(f->st, SW_LIST_KIND_DENY, &e.cidr, &got, f->err, sizeof(f->err)), 1);
	assert_int_equal(sw_store_setting_get(f->st, "emergency_mode", v, sizeof(v), f->err, sizeof(f->err)), 1);
	assert_string_equal(v, "off");
	f->s.limits[SW_LIM_MSG_MINUTE] = 1;
	expect_dunno(msg(f, "alice", &o, T0));
	expect(msg(f, "alice", &o, T0 + SEC_MS), SW_V_REFUSE, SW_POL_LIMITS, "450 4.7.1 ...");
	assert_int_equal(db_policy(f, "alice", &p), 1);
	assert_true(p.suspended_until != 0);
	assert_int_equal(audit_count(f, "alice"), 1);
	flush(f, T0 + 2 * SEC_MS);
}

/* ---- a refused message stays refused ---- */

/*
 * Each RCPT of a message from abroad is a recipient Postfix delivers to
 * unless refused. The policies from abroad (cap, no sending, foreign
 * sender) must refuse every RCPT of a message they refused, not only its
 * first: otherwise "RCPT TO:<throwaway>" (refused) then "RCPT TO:<target>"
 * sends the message anyway.
 */
static void test_overseas_cap_refuses_every_rcpt(void **state)
{
	struct fixture *f = *state;
	struct sw_origin away = abroad();
	struct sw_policy_req r = request(SW_PS_RCPT, "alice", "alice@example.org", "capped.1");

	f->s.overseas_limit = 1;
	expect_dunno(msg(f, "alice", &away, T0));
	expect(decide(f, &r, &away, T0 + SEC_MS), SW_V_REFUSE, SW_POL_OVERSEAS, "450 4.7.1 overseas ...");
	snprintf(r.recipient, sizeof(r.recipient), "second@example.com");
	expect(decide(f, &r, &away, T0 + 2 * SEC_MS), SW_V_REFUSE, SW_POL_OVERSEAS, "450 4.7.1 overseas ...");
}

static void test_abroad_deny_refuses_every_rcpt(void **state)
{
	struct fixture *f = *state;
	struct sw_origin away = abroad();
	struct sw_policy_req r = request(SW_PS_RCPT, "alice", "alice@example.org", "denied.1");

	f->s.abroad_deny = true;
	expect(decide(f, &r, &away, T0), SW_V_REFUSE, SW_POL_ABROAD, "550 5.7.1 ...");
	snprintf(r.recipient, sizeof(r.recipient), "second@example.com");
	expect(decide(f, &r, &away, T0 + SEC_MS), SW_V_REFUSE, SW_POL_ABROAD, "550 5.7.1 ...");
}

static void test_mismatch_refuses_every_rcpt(void **state)
{
	struct fixture *f = *state;
	struct sw_origin away = abroad();
	struct sw_policy_req r = request(SW_PS_RCPT, "alice", "ceo@bank.example", "forged.1");

	expect(decide(f, &r, &away, T0), SW_V_REFUSE, SW_POL_MISMATCH, "550 5.7.1 ...");
	snprintf(r.recipient, sizeof(r.recipient), "second@example.com");
	expect(decide(f, &r, &away, T0 + SEC_MS), SW_V_REFUSE, SW_POL_MISMATCH, "550 5.7.1 ...");
}

static uint64_t stored_messages(struct fixture *f, const char *name)
{
	struct sw_acct_counts c;
	int rc = sw_acct_counts_get(second(f), name, &c, NULL, 0, f->err, sizeof(f->err));

	if (rc < 0)
		fail_msg("sw_acct_counts_get: %s", f->err);
	return rc ? c.messages : 0;
}

static int stored_addrs(struct fixture *f, const char *name)
{
	struct sw_acct_addr *list = NULL;
	int n = 0;

	if (sw_acct_addrs(second(f), name, 100, &list, &n, f->err, sizeof(f->err)))
		fail_msg("sw_acct_addrs: %s", f->err);
	free(list);
	return n;
}

/* The writer thread writes what the loop hands it, and its stop drains the batch in flight. */
static void test_writer_thread_writes_counts(void **state)
{
	struct fixture *f = *state;
	struct sw_origin o = home(), jp = origin("203.0.113.1", "jp", false);
	struct sw_acct_writer *w = sw_acct_writer_start(f->state, f->err, sizeof(f->err));

	assert_non_null(w);
	expect_dunno(msg(f, "alice", &o, T0));
	expect_dunno(msg(f, "alice", &jp, T0 + SEC_MS));
	expect_dunno(msg(f, "bob", &o, T0));
	assert_int_equal(sw_acct_writer_tick(w, f->A, f->err, sizeof(f->err)), 0);
	sw_acct_writer_stop(w, f->A);
	assert_int_equal(stored_messages(f, "alice"), 2);
	assert_int_equal(stored_messages(f, "bob"), 1);
	assert_int_equal(stored_addrs(f, "alice"), 2);
	/* they were marked saved: a synchronous flush has nothing of theirs to write */
	raw_sql(f, "DELETE FROM account_counts");
	flush(f, T0 + 2 * SEC_MS);
	assert_int_equal(stored_messages(f, "alice"), 0);
}

/* While the writer is still busy, new counts wait in the ledger and go out later, none lost. */
static void test_writer_busy_keeps_changes_for_next(void **state)
{
	struct fixture *f = *state;
	struct sw_origin o = home();
	struct sw_acct_writer *w = sw_acct_writer_start(f->state, f->err, sizeof(f->err));
	struct sw_acct_store *cli = second(f);
	uint64_t written, failed, slowest_us;

	assert_non_null(w);
	expect_dunno(msg(f, "alice", &o, T0));
	/* another connection holds the write lock: the writer waits in SQLite's busy handler */
	assert_int_equal(sw_acct_begin(cli, f->err, sizeof(f->err)), 0);
	assert_int_equal(sw_acct_writer_tick(w, f->A, f->err, sizeof(f->err)), 0);
	expect_dunno(msg(f, "alice", &o, T0 + SEC_MS));
	expect_dunno(msg(f, "carol", &o, T0 + SEC_MS));
	/* not idle: nothing is taken, alice's second message and carol stay marked */
	assert_int_equal(sw_acct_writer_tick(w, f->A, f->err, sizeof(f->err)), 0);
	usleep(50 * 1000);
	assert_int_equal(sw_acct_commit(cli, f->err, sizeof(f->err)), 0);
	sw_acct_writer_stop(w, f->A);
	assert_int_equal(stored_messages(f, "alice"), 1);
	assert_int_equal(stored_messages(f, "carol"), 0);
	flush(f, T0 + 2 * SEC_MS);
	assert_int_equal(stored_messages(f, "alice"), 2);
	assert_int_equal(stored_messages(f, "carol"), 1);

	/* its figures: one batch, written after waiting for the lock */
	w = sw_acct_writer_start(f->state, f->err, sizeof(f->err));
	assert_non_null(w);
	expect_dunno(msg(f, "dave", &o, T0 + 3 * SEC_MS));
	assert_int_equal(sw_acct_writer_tick(w, f->A, f->err, sizeof(f->err)), 0);
	for (int i = 0; i < 500; i++) {
		sw_acct_writer_stats(w, &written, &failed, &slowest_us);
		if (written)
			break;
		usleep(10 * 1000);
	}
	assert_int_equal(written, 1);
	assert_int_equal(failed, 0);
	sw_acct_writer_stop(w, f->A);
}

/* Second after second: the written batch is filled again, and nothing is lost or written twice. */
static void test_writer_reuses_its_batch(void **state)
{
	struct fixture *f = *state;
	struct sw_origin o = home();
	struct sw_acct_writer *w = sw_acct_writer_start(f->state, f->err, sizeof(f->err));
	uint64_t written = 0, failed, slowest_us;

	assert_non_null(w);
	for (int second = 0; second < 4; second++) {
		expect_dunno(msg(f, second % 2 ? "bob" : "alice", &o, T0 + second * SEC_MS));
		assert_int_equal(sw_acct_writer_tick(w, f->A, f->err, sizeof(f->err)), 0);
		for (int i = 0; i < 500; i++) {
			sw_acct_writer_stats(w, &written, &failed, &slowest_us);
			if (written == (uint64_t)second + 1)
				break;
			usleep(10 * 1000);
		}
		assert_int_equal(written, second + 1);
		/* a second with nothing new hands nothing */
		assert_int_equal(sw_acct_writer_tick(w, f->A, f->err, sizeof(f->err)), 0);
	}
	sw_acct_writer_stop(w, f->A);
	assert_int_equal(written, 4);
	assert_int_equal(stored_messages(f, "alice"), 2);
	assert_int_equal(stored_messages(f, "bob"), 2);
}

/* A batch state.db refuses is handed back, marked unsaved, and written once it can be. */
static void test_writer_failure_is_retried(void **state)
{
	struct fixture *f = *state;
	struct sw_origin o = home(), jp = origin("203.0.113.1", "jp", false);
	struct sw_acct_writer *w = sw_acct_writer_start(f->state, f->err, sizeof(f->err));
	uint64_t written = 0, failed = 0, slowest_us;
	int rc = 0;

	assert_non_null(w);
	raw_sql(f, "CREATE TRIGGER no_counts BEFORE INSERT ON account_counts "
		   "BEGIN SELECT RAISE(ABORT, 'disk says no'); END");
	expect_dunno(msg(f, "alice", &o, T0));
	expect_dunno(msg(f, "alice", &jp, T0 + SEC_MS));
	assert_int_equal(sw_acct_writer_tick(w, f->A, f->err, sizeof(f->err)), 0);
	for (int i = 0; i < 500 && !failed; i++) {
		usleep(10 * 1000);
		sw_acct_writer_stats(w, &written, &failed, &slowest_us);
	}
	assert_int_equal(failed, 1);
	assert_int_equal(written, 0);
	/* the next tick takes it back, says why, and hands it again */
	f->err[0] = 0;
	rc = sw_acct_writer_tick(w, f->A, f->err, sizeof(f->err));
	assert_int_equal(rc, -1);
	assert_non_null(strstr(f->err, "disk says no"));
	/* which fails again, so it is taken back again, until state.db takes it */
	for (int i = 0; i < 500; i++) {
		sw_acct_writer_stats(w, &written, &failed, &slowest_us);
		if (failed >= 2)
			break;
		usleep(10 * 1000);
	}
	assert_int_equal(failed, 2);
	raw_sql(f, "DROP TRIGGER no_counts");
	assert_int_equal(sw_acct_writer_tick(w, f->A, f->err, sizeof(f->err)), -1);
	expect_dunno(msg(f, "alice", &o, T0 + 2 * SEC_MS));
	sw_acct_writer_stop(w, f->A);
	/* the batch handed again was written by the stop; the third message waits for the flush */
	assert_int_equal(stored_messages(f, "alice"), 2);
	flush(f, T0 + 3 * SEC_MS);
	assert_int_equal(stored_messages(f, "alice"), 3);
	assert_int_equal(stored_addrs(f, "alice"), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_limit_suspends_at_the_fourth_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_suspend_code_5xx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_suspension_committed_before_the_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_message_many_recipients, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hour_day_and_account_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_window_slides, setup, teardown),
		cmocka_unit_test_setup_teardown(test_suspension_expires, setup, teardown),
		cmocka_unit_test_setup_teardown(test_suspend_until_resumed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_subsecond_suspend_is_not_permanent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overseas_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overseas_override_expires, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cli_change_taken_at_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abroad_deny, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sender_mismatch, setup, teardown),
		cmocka_unit_test(test_sender_own),
		cmocka_unit_test_setup_teardown(test_origins_three_countries_flag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_origins_suspend, setup, teardown),
		cmocka_unit_test_setup_teardown(test_origins_addresses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_origins_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flagged_filter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_monitor_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_monitor_other_policies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_off_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_networks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_end_of_message_and_states, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_keeps_flushed_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_upgrade_from_v2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overseas_cap_refuses_every_rcpt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abroad_deny_refuses_every_rcpt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mismatch_refuses_every_rcpt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer_thread_writes_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer_busy_keeps_changes_for_next, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer_failure_is_retried, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer_reuses_its_batch, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
