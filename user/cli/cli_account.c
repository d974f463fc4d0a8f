// SPDX-License-Identifier: GPL-2.0
/* The account commands of cli_account.h. */
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "accounts.h"
#include "cli_account.h"
#include "cli_links.h"
#include "cli_util.h"
#include "json.h"
#include "parse.h"

static const char *const limit_keys[SW_LIM_N] = {
	"messages_per_minute", "messages_per_hour", "messages_per_day",
	"recipients_per_minute", "recipients_per_hour", "recipients_per_day",
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct sw_acct_store *open_as(struct sw_store *st)
{
	char err[512];
	struct sw_acct_store *as = sw_acct_store_open(st, err, sizeof(err));

	if (!as)
		fprintf(stderr, "smtpwall: %s\n", err);
	return as;
}

/* An account name as Postfix passes sasl_username: not empty, bounded, no control characters. */
static int check_name(const char *name)
{
	size_t len = strlen(name);

	if (!len || len >= SW_ACCOUNT_NAME_LEN) {
		fprintf(stderr, "smtpwall: account: the name must have 1 to %d bytes\n", SW_ACCOUNT_NAME_LEN - 1);
		return 2;
	}
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] < ' ' || name[i] == 0x7f) {
			fprintf(stderr, "smtpwall: account: the name holds a control character\n");
			return 2;
		}
	return 0;
}

/* Who is acting: "cli:<login>" (the sudo user if any). */
static void actor(char *buf, size_t len)
{
	const char *who = getenv("SUDO_USER");
	struct passwd *pw;

	if (!who || !*who) {
		pw = getpwuid(getuid());
		who = pw ? pw->pw_name : "?";
	}
	snprintf(buf, len, "cli:%.50s", who);
}

static void fmt_time(int64_t t, char *buf, size_t len)
{
	if (t == SW_SUSPENDED_UNTIL_RESUMED)
		snprintf(buf, len, "until resumed");
	else
		sw_cli_format_utc(t > 0 ? (uint64_t)t : 0, buf, len);
}

static bool is_suspended(const struct sw_acct_policy *p, int64_t now_s)
{
	return p->suspended_until &&
	       (p->suspended_until == SW_SUSPENDED_UNTIL_RESUMED || p->suspended_until > now_s);
}

static int64_t effective_limit(const struct sw_settings *s, const struct sw_acct_policy *p, int i)
{
	return p->limits[i] >= 0 ? p->limits[i] : (int64_t)s->limits[i];
}

static int64_t effective_overseas(const struct sw_settings *s, const struct sw_acct_policy *p, int64_t now_s)
{
	if (p->overseas_limit >= 0 && (!p->overseas_until || p->overseas_until > now_s))
		return p->overseas_limit;
	return s->overseas_limit;
}

static bool effective_abroad_deny(const struct sw_settings *s, const struct sw_acct_policy *p)
{
	return p->abroad >= 0 ? p->abroad == 1 : s->abroad_deny;
}

/* ---- show ---- */

struct country_sum {
	char code[3];
	uint64_t messages;
	int addrs;
};

static int sum_countries(const struct sw_acct_addr *a, int n, struct country_sum *out, int max)
{
	int k = 0;

	for (int i = 0; i < n; i++) {
		int j;

		for (j = 0; j < k; j++)
			if (!strcmp(out[j].code, a[i].country))
				break;
		if (j == k) {
			if (k == max)
				continue;
			snprintf(out[k].code, sizeof(out[k].code), "%s", a[i].country);
			out[k].messages = 0;
			out[k].addrs = 0;
			k++;
		}
		out[j].messages += a[i].messages;
		out[j].addrs++;
	}
	return k;
}

static void upper2(const char *c, char *out)
{
	if (!c[0]) {
		snprintf(out, 3, "--");
		return;
	}
	out[0] = c[0] & ~0x20;
	out[1] = c[1] & ~0x20;
	out[2] = 0;
}

int sw_cmd_account_show(struct sw_store *st, const struct sw_settings *s, const struct sw_kernel *k,
			const char *name, bool json)
{
	struct sw_acct_store *as;
	struct sw_acct_policy p;
	struct sw_acct_counts c;
	struct sw_acct_figures f;
	struct sw_acct_addr *addrs = NULL;
	struct sw_acct_audit *audit = NULL;
	struct country_sum cs[64];
	uint8_t blob[1024];
	char err[512], t1[40], t2[40], over[32];
	int64_t now = now_ms(), now_s = now / 1000;
	int n_addrs = 0, n_audit = 0, n_cs, has_p, has_c, ret = 1;

	if (check_name(name))
		return 2;
	as = open_as(st);
	if (!as)
		return 1;
	has_p = sw_acct_policy_get(as, name, &p, err, sizeof(err));
	has_c = has_p < 0 ? -1 : sw_acct_counts_get(as, name, &c, blob, sizeof(blob), err, sizeof(err));
	if (has_c < 0 || sw_acct_addrs(as, name, 1000, &addrs, &n_addrs, err, sizeof(err)) ||
	    sw_acct_audit_list(as, name, 50, &audit, &n_audit, err, sizeof(err))) {
		fprintf(stderr, "smtpwall: %s\n", err);
		goto out;
	}
	if (!has_p && !has_c && !n_addrs && !n_audit && !sw_cli_account_links(st, name)) {
		fprintf(stderr, "smtpwall: account %s: never seen (no policy request or log line named it)\n", name);
		goto out;
	}
	if (!has_c || sw_accounts_figures(c.windows, c.windows_len, now, &f))
		memset(&f, 0, sizeof(f));
	if (!f.overseas_window_ms)
		f.overseas_window_ms = s->overseas_window_ns / 1000000;
	sw_format_duration(f.overseas_window_ms * 1000000ULL, over, sizeof(over));
	n_cs = sum_countries(addrs, n_addrs, cs, 64);
	if (json) {
		struct sw_json j;

		sw_json_init(&j, stdout);
		sw_json_obj_begin(&j, NULL);
		sw_json_str(&j, "account", name);
		sw_json_bool(&j, "suspended", is_suspended(&p, now_s));
		if (p.suspended_until) {
			sw_json_obj_begin(&j, "suspension");
			sw_json_i64(&j, "since", p.suspended_at);
			if (p.suspended_until == SW_SUSPENDED_UNTIL_RESUMED)
				sw_json_null(&j, "until");
			else
				sw_json_i64(&j, "until", p.suspended_until);
			sw_json_str(&j, "by", p.suspend_by);
			sw_json_str(&j, "reason", p.suspend_reason);
			sw_json_obj_end(&j);
		}
		sw_json_bool(&j, "flagged", p.flagged_at != 0);
		if (p.flagged_at) {
			sw_json_i64(&j, "flagged_at", p.flagged_at);
			sw_json_str(&j, "flag_reason", p.flag_reason);
		}
		sw_json_obj_begin(&j, "policy");
		sw_json_str(&j, "abroad", effective_abroad_deny(s, &p) ? "deny" : "allow");
		sw_json_bool(&j, "abroad_override", p.abroad >= 0);
		sw_json_i64(&j, "overseas_messages", effective_overseas(s, &p, now_s));
		sw_json_str(&j, "overseas_window", over);
		if (p.overseas_limit >= 0 && (!p.overseas_until || p.overseas_until > now_s)) {
			sw_json_i64(&j, "overseas_override", p.overseas_limit);
			if (p.overseas_until)
				sw_json_i64(&j, "overseas_override_until", p.overseas_until);
			else
				sw_json_null(&j, "overseas_override_until");
		}
		for (int i = 0; i < SW_LIM_N; i++)
			sw_json_i64(&j, limit_keys[i], effective_limit(s, &p, i));
		sw_json_str(&j, "aliases", p.aliases);
		sw_json_obj_end(&j);
		sw_json_obj_begin(&j, "windows");
		for (int w = 0; w < SW_W_N; w++) {
			sw_json_obj_begin(&j, sw_acct_window_name(w));
			sw_json_u64(&j, "messages", f.messages[w]);
			sw_json_u64(&j, "recipients", f.recipients[w]);
			sw_json_obj_end(&j);
		}
		sw_json_u64(&j, "overseas", f.overseas);
		sw_json_obj_end(&j);
		sw_json_obj_begin(&j, "totals");
		sw_json_u64(&j, "messages", has_c ? c.messages : 0);
		sw_json_u64(&j, "recipients", has_c ? c.recipients : 0);
		sw_json_u64(&j, "refused", has_c ? c.refused : 0);
		sw_json_i64(&j, "first_seen", has_c ? c.first_seen : 0);
		sw_json_i64(&j, "last_seen", has_c ? c.last_seen : 0);
		sw_json_obj_end(&j);
		sw_json_arr_begin(&j, "countries");
		for (int i = 0; i < n_cs; i++) {
			char up[3];

			upper2(cs[i].code, up);
			sw_json_obj_begin(&j, NULL);
			sw_json_str(&j, "country", cs[i].code[0] ? up : NULL);
			sw_json_u64(&j, "messages", cs[i].messages);
			sw_json_i64(&j, "addresses", cs[i].addrs);
			sw_json_obj_end(&j);
		}
		sw_json_arr_end(&j);
		sw_json_arr_begin(&j, "addresses");
		for (int i = 0; i < n_addrs; i++) {
			char up[3];

			upper2(addrs[i].country, up);
			sw_json_obj_begin(&j, NULL);
			sw_json_str(&j, "address", addrs[i].addr);
			sw_json_str(&j, "country", addrs[i].country[0] ? up : NULL);
			sw_json_u64(&j, "messages", addrs[i].messages);
			sw_json_i64(&j, "first_seen", addrs[i].first_seen);
			sw_json_i64(&j, "last_seen", addrs[i].last_seen);
			sw_json_obj_end(&j);
		}
		sw_json_arr_end(&j);
		sw_cli_account_sources(st, s, k, name, &j);
		sw_json_arr_begin(&j, "history");
		for (int i = 0; i < n_audit; i++) {
			sw_json_obj_begin(&j, NULL);
			sw_json_i64(&j, "at", audit[i].at);
			sw_json_str(&j, "by", audit[i].actor);
			sw_json_str(&j, "action", audit[i].action);
			sw_json_str(&j, "reason", audit[i].reason);
			sw_json_str(&j, "detail", audit[i].detail);
			sw_json_obj_end(&j);
		}
		sw_json_arr_end(&j);
		sw_json_obj_end(&j);
		sw_json_finish(&j);
		ret = 0;
		goto out;
	}
	printf("account %s\n", name);
	if (is_suspended(&p, now_s)) {
		fmt_time(p.suspended_at, t1, sizeof(t1));
		fmt_time(p.suspended_until, t2, sizeof(t2));
		printf("  sending:     SUSPENDED since %s, %s%s, by %s\n  reason:      %s\n", t1,
		       p.suspended_until == SW_SUSPENDED_UNTIL_RESUMED ? "" : "until ", t2, p.suspend_by,
		       p.suspend_reason);
	} else {
		printf("  sending:     allowed\n");
	}
	if (p.flagged_at) {
		fmt_time(p.flagged_at, t1, sizeof(t1));
		printf("  flagged:     since %s: %s\n", t1, p.flag_reason);
	}
	printf("  abroad:      %s%s\n", effective_abroad_deny(s, &p) ? "deny" : "allow",
	       p.abroad >= 0 ? " (this account)" : " (default)");
	if (p.overseas_limit >= 0 && (!p.overseas_until || p.overseas_until > now_s)) {
		fmt_time(p.overseas_until, t1, sizeof(t1));
		printf("  overseas:    %" PRId64 " messages per %s (this account%s%s)\n", p.overseas_limit, over,
		       p.overseas_until ? ", until " : "", p.overseas_until ? t1 : "");
	} else {
		printf("  overseas:    %u messages per %s (default)%s\n", s->overseas_limit, over,
		       s->n_home ? "" : "; no [geo] home: nothing counts as abroad");
	}
	if (p.aliases[0])
		printf("  own senders: %s\n", p.aliases);
	printf("  %-9s %10s %8s %11s %8s\n", "window", "messages", "limit", "recipients", "limit");
	for (int w = 0; w < SW_W_N; w++) {
		char lm[24], lr[24];
		int64_t a = effective_limit(s, &p, w), b = effective_limit(s, &p, SW_W_N + w);

		snprintf(lm, sizeof(lm), a > 0 ? "%" PRId64 : "off", a);
		snprintf(lr, sizeof(lr), b > 0 ? "%" PRId64 : "off", b);
		printf("  %-9s %10" PRIu64 " %8s %11" PRIu64 " %8s%s\n", sw_acct_window_name(w), f.messages[w], lm,
		       f.recipients[w], lr, p.limits[w] >= 0 || p.limits[SW_W_N + w] >= 0 ? "  (this account)" : "");
	}
	printf("  %-9s %10" PRIu64 " %8" PRId64 "  (from abroad, per %s)\n", "overseas", f.overseas,
	       effective_overseas(s, &p, now_s), over);
	if (has_c) {
		fmt_time(c.first_seen, t1, sizeof(t1));
		fmt_time(c.last_seen, t2, sizeof(t2));
		printf("  totals:      %" PRIu64 " messages, %" PRIu64 " recipients, %" PRIu64
		       " refused; first seen %s, last seen %s\n",
		       c.messages, c.recipients, c.refused, t1, t2);
	}
	if (n_cs) {
		printf("  countries:  ");
		for (int i = 0; i < n_cs; i++) {
			char up[3];

			upper2(cs[i].code, up);
			printf(" %s %" PRIu64 " msg/%d addr%s", up, cs[i].messages, cs[i].addrs, i + 1 < n_cs ? "," : "");
		}
		printf("\n");
	}
	if (n_addrs) {
		printf("  %-40s %-7s %9s  %-20s  %s\n", "address", "country", "messages", "first seen", "last seen");
		for (int i = 0; i < n_addrs && i < 50; i++) {
			char up[3];

			upper2(addrs[i].country, up);
			fmt_time(addrs[i].first_seen, t1, sizeof(t1));
			fmt_time(addrs[i].last_seen, t2, sizeof(t2));
			printf("  %-40s %-7s %9" PRIu64 "  %-20s  %s\n", addrs[i].addr, up, addrs[i].messages, t1, t2);
		}
		if (n_addrs > 50)
			printf("  ... and %d more (--json lists them all)\n", n_addrs - 50);
	}
	sw_cli_account_sources(st, s, k, name, NULL);
	if (n_audit) {
		printf("  history:\n");
		for (int i = 0; i < n_audit; i++) {
			fmt_time(audit[i].at, t1, sizeof(t1));
			printf("    %s  %-16s %-14s %s%s%s%s\n", t1, audit[i].action, audit[i].actor, audit[i].reason,
			       audit[i].detail[0] ? " (" : "", audit[i].detail, audit[i].detail[0] ? ")" : "");
		}
	}
	ret = 0;
out:
	free(addrs);
	free(audit);
	sw_acct_store_close(as);
	return ret;
}

/* ---- list and top ---- */

static void row_json(struct sw_json *j, const struct sw_settings *s, const struct sw_acct_row *r, int64_t now)
{
	struct sw_acct_figures f;

	if (sw_accounts_figures(r->c.windows ? r->blob : NULL, r->c.windows_len, now, &f))
		memset(&f, 0, sizeof(f));
	sw_json_obj_begin(j, NULL);
	sw_json_str(j, "account", r->p.name);
	sw_json_bool(j, "suspended", is_suspended(&r->p, now / 1000));
	sw_json_str(j, "suspend_reason", is_suspended(&r->p, now / 1000) ? r->p.suspend_reason : NULL);
	sw_json_bool(j, "flagged", r->p.flagged_at != 0);
	sw_json_str(j, "flag_reason", r->p.flagged_at ? r->p.flag_reason : NULL);
	sw_json_u64(j, "messages_minute", f.messages[SW_W_MINUTE]);
	sw_json_u64(j, "messages_hour", f.messages[SW_W_HOUR]);
	sw_json_u64(j, "messages_day", f.messages[SW_W_DAY]);
	sw_json_u64(j, "overseas", f.overseas);
	sw_json_u64(j, "refused", r->c.refused);
	sw_json_i64(j, "last_seen", r->c.last_seen);
	sw_json_obj_end(j);
}

static void row_text(const struct sw_acct_row *r, int64_t now)
{
	struct sw_acct_figures f;
	char t[40], state[24];

	if (sw_accounts_figures(r->c.windows ? r->blob : NULL, r->c.windows_len, now, &f))
		memset(&f, 0, sizeof(f));
	fmt_time(r->c.last_seen, t, sizeof(t));
	snprintf(state, sizeof(state), "%s%s%s", is_suspended(&r->p, now / 1000) ? "suspended" : "",
		 is_suspended(&r->p, now / 1000) && r->p.flagged_at ? "," : "", r->p.flagged_at ? "flagged" : "");
	printf("%-32s %-17s %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %8" PRIu64 "  %s\n", r->p.name,
	       state[0] ? state : "-", f.messages[SW_W_MINUTE], f.messages[SW_W_HOUR], f.messages[SW_W_DAY],
	       f.overseas, r->c.refused, t);
}

static void header(void)
{
	printf("%-32s %-17s %8s %8s %8s %8s %8s  %s\n", "account", "state", "msg/min", "msg/hour", "msg/day",
	       "overseas", "refused", "last seen");
}

int sw_cmd_account_list(struct sw_store *st, const struct sw_settings *s, enum sw_acct_filter f, bool json)
{
	struct sw_acct_store *as = open_as(st);
	struct sw_acct_row *rows = NULL;
	int64_t now = now_ms();
	char err[512];
	int n = 0;

	if (!as)
		return 1;
	if (sw_acct_list(as, f, now / 1000, &rows, &n, err, sizeof(err))) {
		fprintf(stderr, "smtpwall: %s\n", err);
		sw_acct_store_close(as);
		return 1;
	}
	if (json) {
		struct sw_json j;

		sw_json_init(&j, stdout);
		sw_json_arr_begin(&j, NULL);
		for (int i = 0; i < n; i++)
			row_json(&j, s, &rows[i], now);
		sw_json_arr_end(&j);
		sw_json_finish(&j);
	} else if (!n) {
		printf("no %saccounts\n", f == SW_AF_SUSPENDED ? "suspended " : f == SW_AF_FLAGGED ? "flagged " : "");
	} else {
		header();
		for (int i = 0; i < n; i++)
			row_text(&rows[i], now);
	}
	free(rows);
	sw_acct_store_close(as);
	return 0;
}

static int64_t sort_now;

static int by_hour(const void *a, const void *b)
{
	const struct sw_acct_row *x = a, *y = b;
	struct sw_acct_figures fx, fy;

	if (sw_accounts_figures(x->c.windows ? x->blob : NULL, x->c.windows_len, sort_now, &fx))
		memset(&fx, 0, sizeof(fx));
	if (sw_accounts_figures(y->c.windows ? y->blob : NULL, y->c.windows_len, sort_now, &fy))
		memset(&fy, 0, sizeof(fy));
	if (fx.messages[SW_W_HOUR] != fy.messages[SW_W_HOUR])
		return fx.messages[SW_W_HOUR] < fy.messages[SW_W_HOUR] ? 1 : -1;
	if (fx.messages[SW_W_DAY] != fy.messages[SW_W_DAY])
		return fx.messages[SW_W_DAY] < fy.messages[SW_W_DAY] ? 1 : -1;
	return strcmp(x->p.name, y->p.name);
}

int sw_cmd_accounts_top(struct sw_store *st, const struct sw_settings *s, long limit, bool json)
{
	struct sw_acct_store *as = open_as(st);
	struct sw_acct_row *rows = NULL;
	int64_t now = now_ms();
	char err[512];
	int n = 0;

	if (!as)
		return 1;
	if (sw_acct_list(as, SW_AF_ALL, now / 1000, &rows, &n, err, sizeof(err))) {
		fprintf(stderr, "smtpwall: %s\n", err);
		sw_acct_store_close(as);
		return 1;
	}
	sort_now = now;
	qsort(rows, (size_t)n, sizeof(*rows), by_hour);
	if (n > limit)
		n = (int)limit;
	if (json) {
		struct sw_json j;

		sw_json_init(&j, stdout);
		sw_json_arr_begin(&j, NULL);
		for (int i = 0; i < n; i++)
			row_json(&j, s, &rows[i], now);
		sw_json_arr_end(&j);
		sw_json_finish(&j);
	} else if (!n) {
		printf("no accounts yet\n");
	} else {
		header();
		for (int i = 0; i < n; i++)
			row_text(&rows[i], now);
	}
	free(rows);
	sw_acct_store_close(as);
	return 0;
}

/* ---- changes ---- */

static int put(struct sw_store *st, struct sw_acct_policy *p, unsigned fields, const char *action,
	       const char *reason, const char *detail)
{
	struct sw_acct_store *as = open_as(st);
	struct sw_acct_audit au = { .at = 0 };
	char err[512];
	int ret = 0;

	if (!as)
		return 1;
	actor(au.actor, sizeof(au.actor));
	snprintf(au.action, sizeof(au.action), "%s", action);
	snprintf(au.reason, sizeof(au.reason), "%s", reason ? reason : "");
	snprintf(au.detail, sizeof(au.detail), "%s", detail ? detail : "");
	if (sw_acct_policy_put(as, p, fields, &au, err, sizeof(err))) {
		fprintf(stderr, "smtpwall: %s\n", err);
		ret = 1;
	}
	sw_acct_store_close(as);
	return ret;
}

static int load(struct sw_store *st, const char *name, struct sw_acct_policy *p)
{
	struct sw_acct_store *as = open_as(st);
	char err[512];
	int r;

	if (!as)
		return -1;
	r = sw_acct_policy_get(as, name, p, err, sizeof(err));
	if (r < 0)
		fprintf(stderr, "smtpwall: %s\n", err);
	sw_acct_store_close(as);
	return r;
}

int sw_cmd_account_suspend(struct sw_store *st, const char *name, const char *reason, const char *dur)
{
	struct sw_acct_policy p;
	char detail[64] = "until resumed", err[SW_ERR_LEN];
	uint64_t ns = 0;
	int64_t now = (int64_t)time(NULL);

	if (check_name(name))
		return 2;
	if (!reason || !*reason) {
		fprintf(stderr, "smtpwall: account suspend: --reason TEXT is required (it is shown to the "
				"abuse team and in the audit trail)\n");
		return 2;
	}
	if (dur && (sw_parse_duration(dur, &ns, err) || !ns)) {
		fprintf(stderr, "smtpwall: --for: %s\n", ns || !dur ? err : "must be longer than 0");
		return 2;
	}
	if (load(st, name, &p) < 0)
		return 1;
	p.suspended_at = now;
	p.suspended_until = ns ? now + (int64_t)(ns / 1000000000ULL) : SW_SUSPENDED_UNTIL_RESUMED;
	snprintf(p.suspend_reason, sizeof(p.suspend_reason), "%s", reason);
	actor(p.suspend_by, sizeof(p.suspend_by));
	if (ns)
		sw_format_duration(ns, detail, sizeof(detail));
	if (put(st, &p, SW_AP_SUSPEND, "suspended", reason, detail))
		return 1;
	printf("account %s: sending suspended %s%s (the daemon applies it within a second)\n", name,
	       ns ? "for " : "", detail);
	return 0;
}

int sw_cmd_account_resume(struct sw_store *st, const char *name, const char *reason)
{
	struct sw_acct_policy p;
	bool was;
	int r;

	if (check_name(name))
		return 2;
	r = load(st, name, &p);
	if (r < 0)
		return 1;
	was = is_suspended(&p, (int64_t)time(NULL)) || p.flagged_at;
	p.suspended_at = p.suspended_until = 0;
	p.suspend_reason[0] = p.suspend_by[0] = 0;
	p.flagged_at = 0;
	p.flag_reason[0] = 0;
	if (!r) {
		fprintf(stderr, "smtpwall: account %s: never seen, nothing to resume\n", name);
		return 1;
	}
	if (put(st, &p, SW_AP_SUSPEND | SW_AP_FLAG, "resumed", reason ? reason : "by the operator", NULL))
		return 1;
	printf("account %s: %s\n", name, was ? "sending resumed, flag cleared" : "was neither suspended nor flagged");
	return 0;
}

/* "N" or "default" (-1). */
static int parse_count(const char *key, const char *v, int64_t *out)
{
	char err[SW_ERR_LEN];
	uint64_t u;

	if (!strcmp(v, "default")) {
		*out = -1;
		return 0;
	}
	if (sw_parse_uint(v, 0, 100000000, &u, err)) {
		fprintf(stderr, "smtpwall: account set: %s: %s (or \"default\")\n", key, err);
		return -1;
	}
	*out = (int64_t)u;
	return 0;
}

int sw_cmd_account_set(struct sw_store *st, const char *name, char **kv, int n, const char *dur,
		       const char *reason)
{
	struct sw_acct_policy p;
	char detail[SW_ACCOUNT_REASON_LEN] = "", err[SW_ERR_LEN];
	unsigned fields = 0;
	uint64_t ns = 0;
	size_t off = 0;
	bool overseas_given = false;

	if (check_name(name))
		return 2;
	if (!n) {
		fprintf(stderr, "smtpwall: account set: give at least one KEY=VALUE (abroad, overseas, aliases, "
				"messages_per_minute|hour|day, recipients_per_minute|hour|day)\n");
		return 2;
	}
	if (dur && (sw_parse_duration(dur, &ns, err) || !ns)) {
		fprintf(stderr, "smtpwall: --for: %s\n", ns || !dur ? err : "must be longer than 0");
		return 2;
	}
	if (load(st, name, &p) < 0)
		return 1;
	for (int i = 0; i < n; i++) {
		char *eq = strchr(kv[i], '=');
		const char *v;
		size_t klen;
		bool known = false;

		if (!eq || eq == kv[i]) {
			fprintf(stderr, "smtpwall: account set: \"%s\" is not KEY=VALUE\n", kv[i]);
			return 2;
		}
		klen = (size_t)(eq - kv[i]);
		v = eq + 1;
		if (klen == 6 && !strncmp(kv[i], "abroad", 6)) {
			if (!strcmp(v, "allow"))
				p.abroad = 0;
			else if (!strcmp(v, "deny"))
				p.abroad = 1;
			else if (!strcmp(v, "default"))
				p.abroad = -1;
			else {
				fprintf(stderr, "smtpwall: account set: abroad: expected allow, deny or default\n");
				return 2;
			}
			fields |= SW_AP_ABROAD;
			known = true;
		} else if (klen == 8 && !strncmp(kv[i], "overseas", 8)) {
			if (parse_count("overseas", v, &p.overseas_limit))
				return 2;
			fields |= SW_AP_OVERSEAS;
			overseas_given = known = true;
		} else if (klen == 7 && !strncmp(kv[i], "aliases", 7)) {
			if (strlen(v) >= sizeof(p.aliases)) {
				fprintf(stderr, "smtpwall: account set: aliases: longer than %zu bytes\n",
					sizeof(p.aliases) - 1);
				return 2;
			}
			snprintf(p.aliases, sizeof(p.aliases), "%s", v);
			fields |= SW_AP_ALIASES;
			known = true;
		} else {
			for (int l = 0; l < SW_LIM_N; l++)
				if (strlen(limit_keys[l]) == klen && !strncmp(kv[i], limit_keys[l], klen)) {
					if (parse_count(limit_keys[l], v, &p.limits[l]))
						return 2;
					fields |= SW_AP_LIMITS;
					known = true;
				}
		}
		if (!known) {
			fprintf(stderr, "smtpwall: account set: unknown key \"%.*s\" (abroad, overseas, aliases, "
					"messages_per_minute|hour|day, recipients_per_minute|hour|day)\n",
				(int)klen, kv[i]);
			return 2;
		}
		off += (size_t)snprintf(detail + off, off < sizeof(detail) ? sizeof(detail) - off : 0, "%s%s",
					off ? " " : "", kv[i]);
		if (off >= sizeof(detail))
			off = sizeof(detail) - 1;
	}
	if (dur && !overseas_given) {
		fprintf(stderr, "smtpwall: account set: --for bounds an overseas=N override; give overseas=N\n");
		return 2;
	}
	if (overseas_given) {
		p.overseas_until = ns && p.overseas_limit >= 0 ? (int64_t)time(NULL) + (int64_t)(ns / 1000000000ULL) : 0;
		if (ns) {
			char d[32];

			sw_format_duration(ns, d, sizeof(d));
			snprintf(detail + off, sizeof(detail) - off, " for %s", d);
		}
	}
	if (put(st, &p, fields, "set", reason ? reason : "by the operator", detail))
		return 1;
	printf("account %s: %s (the daemon applies it within a second)\n", name, detail);
	return 0;
}
