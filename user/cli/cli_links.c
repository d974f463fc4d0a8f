// SPDX-License-Identifier: GPL-2.0
/* The account-source links in `show` and `account show` (cli_links.h). */
#include "cli_links.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>

#include "clock.h"
#include "parse.h"
#include "smtpwall/source_state.h"
#include "store_links.h"

#define MAX_ROWS 200

static void fmt_time(int64_t t, char *buf, size_t len)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (!t) {
		snprintf(buf, len, "-");
		return;
	}
	gmtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%SZ", &tm);
}

static struct sw_link_row *rows_of(struct sw_store *st, const char *key, int by_addr, int *n)
{
	struct sw_link_store *ls;
	struct sw_link_row *rows = NULL;
	char err[512];

	*n = 0;
	ls = sw_link_store_open(st, err, sizeof(err));
	if (!ls) {
		fprintf(stderr, "smtpwall: %s\n", err);
		return NULL;
	}
	if (sw_link_list(ls, key, by_addr, MAX_ROWS, &rows, n, err, sizeof(err))) {
		fprintf(stderr, "smtpwall: %s\n", err);
		rows = NULL;
		*n = 0;
	}
	sw_link_store_close(ls);
	return rows;
}

void sw_cli_source_accounts(struct sw_store *st, const struct sw_settings *s, const char *key, struct sw_json *j)
{
	int n;
	struct sw_link_row *rows = rows_of(st, key, 1, &n);
	int64_t now = (int64_t)time(NULL);
	unsigned logged_in = 0;
	bool shared;

	for (int i = 0; i < n; i++)
		if (rows[i].name[0] && rows[i].last_login &&
		    now - rows[i].last_login < (int64_t)(s->shared_window_ns / 1000000000ULL))
			logged_in++;
	shared = s->shared_accounts && logged_in >= s->shared_accounts;
	if (j) {
		sw_json_obj_begin(j, "maillog");
		sw_json_bool(j, "shared", shared);
		sw_json_u64(j, "accounts_logged_in", logged_in);
		sw_json_u64(j, "shared_accounts", s->shared_accounts);
		sw_json_arr_begin(j, "accounts");
		for (int i = 0; i < n; i++) {
			sw_json_obj_begin(j, NULL);
			sw_json_str(j, "account", rows[i].name[0] ? rows[i].name : NULL);
			sw_json_u64(j, "logins", rows[i].logins);
			sw_json_u64(j, "failures", rows[i].failures);
			sw_json_i64(j, "first_seen", rows[i].first_seen);
			sw_json_i64(j, "last_seen", rows[i].last_seen);
			sw_json_i64(j, "last_login", rows[i].last_login);
			sw_json_i64(j, "last_failure", rows[i].last_failure);
			sw_json_obj_end(j);
		}
		sw_json_arr_end(j);
		sw_json_obj_end(j);
		free(rows);
		return;
	}
	if (n) {
		char t1[40];
		char win[32];

		sw_format_duration(s->shared_window_ns, win, sizeof(win));
		if (shared)
			printf("  shared:    yes: %u accounts logged in from it within %s (shared_accounts = %u); "
			       "never penalised for one account's failed logins\n",
			       logged_in, win, s->shared_accounts);
		printf("  accounts:  %-32s %7s %8s  %s\n", "(from the mail log)", "logins", "failures", "last seen");
		for (int i = 0; i < n; i++) {
			fmt_time(rows[i].last_seen, t1, sizeof(t1));
			printf("             %-32s %7" PRIu64 " %8" PRIu64 "  %s\n",
			       rows[i].name[0] ? rows[i].name : "(no username logged)", rows[i].logins, rows[i].failures,
			       t1);
		}
	}
	free(rows);
}

/* The kernel's word on a source key given as text. */
static const char *kernel_state(const struct sw_kernel *k, const char *text, char *buf, size_t len)
{
	struct sw_cidr c;
	struct sw_src_key key;
	struct sw_source src;
	char err[SW_ERR_LEN];
	uint64_t now = sw_mono_ns();

	if (!k)
		return "unknown (not loaded)";
	if (sw_parse_cidr(text, &c, err))
		return "?";
	sw_source_key(k->config, &c, &key);
	if (bpf_map_lookup_elem(k->sources_fd, &key, &src))
		return "no state";
	if (src.penalty_until_ns > now) {
		snprintf(buf, len, "penalised (%s, %" PRIu64 "s left)", sw_reason_name(src.penalty_reason),
			 (uint64_t)((src.penalty_until_ns - now) / 1000000000ULL));
		return buf;
	}
	return sw_source_known_good(k->config, &src, now) ? "known good" : "tracked";
}

void sw_cli_account_sources(struct sw_store *st, const struct sw_settings *s, const struct sw_kernel *k,
			    const char *name, struct sw_json *j)
{
	int n;
	struct sw_link_row *rows = rows_of(st, name, 0, &n);
	char buf[96], t1[40];

	(void)s;
	if (j) {
		sw_json_arr_begin(j, "login_sources");
		for (int i = 0; i < n; i++) {
			sw_json_obj_begin(j, NULL);
			sw_json_str(j, "source", rows[i].addr);
			sw_json_u64(j, "logins", rows[i].logins);
			sw_json_u64(j, "failures", rows[i].failures);
			sw_json_i64(j, "last_seen", rows[i].last_seen);
			sw_json_str(j, "kernel", kernel_state(k, rows[i].addr, buf, sizeof(buf)));
			sw_json_obj_end(j);
		}
		sw_json_arr_end(j);
		free(rows);
		return;
	}
	if (n) {
		printf("  %-40s %7s %8s  %-20s  %s\n", "login source (mail log)", "logins", "failures", "last seen",
		       "kernel");
		for (int i = 0; i < n; i++) {
			fmt_time(rows[i].last_seen, t1, sizeof(t1));
			printf("  %-40s %7" PRIu64 " %8" PRIu64 "  %-20s  %s\n", rows[i].addr, rows[i].logins,
			       rows[i].failures, t1, kernel_state(k, rows[i].addr, buf, sizeof(buf)));
		}
	}
	free(rows);
}

int sw_cli_account_links(struct sw_store *st, const char *name)
{
	int n;

	free(rows_of(st, name, 0, &n));
	return n;
}
