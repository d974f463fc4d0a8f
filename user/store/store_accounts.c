// SPDX-License-Identifier: GPL-2.0
/* The accounts' tables of store_accounts.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "store_accounts.h"
#include "store_db.h"

struct sw_acct_store {
	struct sw_store *st;
	sqlite3 *db;
	sqlite3_stmt *policy_get, *counts_get, *counts_put, *addr_put, *addrs, *audit_add, *audit_list;
};

static const char *const limit_cols[SW_LIM_N] = {
	"msg_minute", "msg_hour", "msg_day", "rcpt_minute", "rcpt_hour", "rcpt_day",
};

#define POLICY_COLS                                                                                \
	"name, created_at, suspended_at, suspended_until, suspend_reason, suspend_by, flagged_at,"  \
	" flag_reason, abroad, overseas_limit, overseas_until, msg_minute, msg_hour, msg_day,"     \
	" rcpt_minute, rcpt_hour, rcpt_day, aliases"

static const char policy_get_sql[] = "SELECT " POLICY_COLS " FROM accounts WHERE name = ?1";
static const char counts_get_sql[] =
	"SELECT first_seen, last_seen, messages, recipients, refused, windows FROM account_counts WHERE name = ?1";
static const char counts_put_sql[] =
	"INSERT OR REPLACE INTO account_counts (name, first_seen, last_seen, messages, recipients, refused, windows)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
static const char addr_put_sql[] =
	"INSERT OR REPLACE INTO account_addrs (name, addr, country, first_seen, last_seen, messages)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
static const char addrs_sql[] =
	"SELECT addr, country, first_seen, last_seen, messages FROM account_addrs WHERE name = ?1"
	" ORDER BY last_seen DESC, addr LIMIT ?2";
static const char audit_add_sql[] =
	"INSERT INTO account_audit (name, at, actor, action, reason, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
static const char audit_list_sql[] =
	"SELECT id, at, actor, action, reason, detail FROM"
	" (SELECT * FROM account_audit WHERE name = ?1 ORDER BY id DESC LIMIT ?2) ORDER BY id";

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int fail(struct sw_acct_store *as, char *err, size_t errlen, const char *what)
{
	set_err(err, errlen, "cannot %s in %s: %s", what, sw_store_file(as->st), sqlite3_errmsg(as->db));
	return -1;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void copy_col(sqlite3_stmt *s, int col, char *dst, size_t len)
{
	const unsigned char *t = sqlite3_column_text(s, col);

	snprintf(dst, len, "%s", t ? (const char *)t : "");
}

struct sw_acct_store *sw_acct_store_open(struct sw_store *st, char *err, size_t errlen)
{
	struct sw_acct_store *as = calloc(1, sizeof(*as));
	struct {
		const char *sql;
		sqlite3_stmt **s;
	} stmts[] = {
		{ policy_get_sql, NULL }, { counts_get_sql, NULL }, { counts_put_sql, NULL }, { addr_put_sql, NULL },
		{ addrs_sql, NULL },	  { audit_add_sql, NULL },  { audit_list_sql, NULL },
	};

	if (!as) {
		set_err(err, errlen, "out of memory");
		return NULL;
	}
	as->st = st;
	as->db = sw_store_sqlite(st);
	stmts[0].s = &as->policy_get;
	stmts[1].s = &as->counts_get;
	stmts[2].s = &as->counts_put;
	stmts[3].s = &as->addr_put;
	stmts[4].s = &as->addrs;
	stmts[5].s = &as->audit_add;
	stmts[6].s = &as->audit_list;
	for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++)
		if (sqlite3_prepare_v3(as->db, stmts[i].sql, -1, SQLITE_PREPARE_PERSISTENT, stmts[i].s, NULL) !=
		    SQLITE_OK) {
			fail(as, err, errlen, "prepare the accounts statements");
			sw_acct_store_close(as);
			return NULL;
		}
	return as;
}

void sw_acct_store_close(struct sw_acct_store *as)
{
	if (!as)
		return;
	sqlite3_finalize(as->policy_get);
	sqlite3_finalize(as->counts_get);
	sqlite3_finalize(as->counts_put);
	sqlite3_finalize(as->addr_put);
	sqlite3_finalize(as->addrs);
	sqlite3_finalize(as->audit_add);
	sqlite3_finalize(as->audit_list);
	free(as);
}

void sw_acct_policy_defaults(struct sw_acct_policy *p, const char *name)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->abroad = -1;
	p->overseas_limit = -1;
	for (int i = 0; i < SW_LIM_N; i++)
		p->limits[i] = -1;
}

static void read_policy(sqlite3_stmt *s, int c, struct sw_acct_policy *p)
{
	copy_col(s, c + 0, p->name, sizeof(p->name));
	p->created_at = sqlite3_column_int64(s, c + 1);
	p->suspended_at = sqlite3_column_int64(s, c + 2);
	p->suspended_until = sqlite3_column_int64(s, c + 3);
	copy_col(s, c + 4, p->suspend_reason, sizeof(p->suspend_reason));
	copy_col(s, c + 5, p->suspend_by, sizeof(p->suspend_by));
	p->flagged_at = sqlite3_column_int64(s, c + 6);
	copy_col(s, c + 7, p->flag_reason, sizeof(p->flag_reason));
	p->abroad = sqlite3_column_int(s, c + 8);
	p->overseas_limit = sqlite3_column_int64(s, c + 9);
	p->overseas_until = sqlite3_column_int64(s, c + 10);
	for (int i = 0; i < SW_LIM_N; i++)
		p->limits[i] = sqlite3_column_int64(s, c + 11 + i);
	copy_col(s, c + 17, p->aliases, sizeof(p->aliases));
}

int sw_acct_policy_get(struct sw_acct_store *as, const char *name, struct sw_acct_policy *p, char *err,
		       size_t errlen)
{
	sqlite3_stmt *s = as->policy_get;
	int rc, ret;

	sw_acct_policy_defaults(p, name);
	sqlite3_reset(s);
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		read_policy(s, 0, p);
		ret = 1;
	} else if (rc == SQLITE_DONE) {
		ret = 0;
	} else {
		ret = fail(as, err, errlen, "read an account");
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return ret;
}

static int exec(struct sw_acct_store *as, const char *sql, char *err, size_t errlen)
{
	if (sqlite3_exec(as->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return fail(as, err, errlen, sql);
	return 0;
}

int sw_acct_begin(struct sw_acct_store *as, char *err, size_t errlen)
{
	return exec(as, "BEGIN IMMEDIATE", err, errlen);
}

int sw_acct_commit(struct sw_acct_store *as, char *err, size_t errlen)
{
	if (exec(as, "COMMIT", err, errlen)) {
		sw_acct_rollback(as);
		return -1;
	}
	return 0;
}

void sw_acct_rollback(struct sw_acct_store *as)
{
	sqlite3_exec(as->db, "ROLLBACK", NULL, NULL, NULL);
}

/* One UPDATE of the chosen columns; the row exists (INSERT OR IGNORE first). */
static int update_fields(struct sw_acct_store *as, const struct sw_acct_policy *p, unsigned fields, char *err,
			 size_t errlen)
{
	char sql[1024];
	sqlite3_stmt *s;
	size_t n;
	int rc, b = 1;

	n = (size_t)snprintf(sql, sizeof(sql), "UPDATE accounts SET changed_at = ?");
	if (fields & SW_AP_SUSPEND)
		n += (size_t)snprintf(sql + n, sizeof(sql) - n,
				      ", suspended_at = ?, suspended_until = ?, suspend_reason = ?, suspend_by = ?");
	if (fields & SW_AP_FLAG)
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, ", flagged_at = ?, flag_reason = ?");
	if (fields & SW_AP_ABROAD)
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, ", abroad = ?");
	if (fields & SW_AP_OVERSEAS)
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, ", overseas_limit = ?, overseas_until = ?");
	if (fields & SW_AP_LIMITS)
		for (int i = 0; i < SW_LIM_N; i++)
			n += (size_t)snprintf(sql + n, sizeof(sql) - n, ", %s = ?", limit_cols[i]);
	if (fields & SW_AP_ALIASES)
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, ", aliases = ?");
	snprintf(sql + n, sizeof(sql) - n, " WHERE name = ?");
	if (sqlite3_prepare_v2(as->db, sql, -1, &s, NULL) != SQLITE_OK)
		return fail(as, err, errlen, "prepare an account update");
	sqlite3_bind_int64(s, b++, now_ms());
	if (fields & SW_AP_SUSPEND) {
		sqlite3_bind_int64(s, b++, p->suspended_at);
		sqlite3_bind_int64(s, b++, p->suspended_until);
		sqlite3_bind_text(s, b++, p->suspend_reason, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, b++, p->suspend_by, -1, SQLITE_STATIC);
	}
	if (fields & SW_AP_FLAG) {
		sqlite3_bind_int64(s, b++, p->flagged_at);
		sqlite3_bind_text(s, b++, p->flag_reason, -1, SQLITE_STATIC);
	}
	if (fields & SW_AP_ABROAD)
		sqlite3_bind_int(s, b++, p->abroad);
	if (fields & SW_AP_OVERSEAS) {
		sqlite3_bind_int64(s, b++, p->overseas_limit);
		sqlite3_bind_int64(s, b++, p->overseas_until);
	}
	if (fields & SW_AP_LIMITS)
		for (int i = 0; i < SW_LIM_N; i++)
			sqlite3_bind_int64(s, b++, p->limits[i]);
	if (fields & SW_AP_ALIASES)
		sqlite3_bind_text(s, b++, p->aliases, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, b, p->name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return fail(as, err, errlen, "update an account");
	return 0;
}

int sw_acct_policy_put(struct sw_acct_store *as, const struct sw_acct_policy *p, unsigned fields,
		       const struct sw_acct_audit *audit, char *err, size_t errlen)
{
	sqlite3_stmt *s;
	int rc;

	if (sw_acct_begin(as, err, errlen))
		return -1;
	if (sqlite3_prepare_v2(as->db, "INSERT OR IGNORE INTO accounts (name, created_at) VALUES (?1, ?2)", -1, &s,
			       NULL) != SQLITE_OK) {
		fail(as, err, errlen, "prepare an account insert");
		goto rollback;
	}
	sqlite3_bind_text(s, 1, p->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, p->created_at ? p->created_at : (int64_t)time(NULL));
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		fail(as, err, errlen, "add an account");
		goto rollback;
	}
	if (update_fields(as, p, fields, err, errlen))
		goto rollback;
	if (audit) {
		s = as->audit_add;
		sqlite3_reset(s);
		sqlite3_bind_text(s, 1, p->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, audit->at ? audit->at : (int64_t)time(NULL));
		sqlite3_bind_text(s, 3, audit->actor, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 4, audit->action, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 5, audit->reason, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 6, audit->detail, -1, SQLITE_STATIC);
		rc = sqlite3_step(s);
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
		if (rc != SQLITE_DONE) {
			fail(as, err, errlen, "record an account action");
			goto rollback;
		}
	}
	return sw_acct_commit(as, err, errlen);
rollback:
	sw_acct_rollback(as);
	return -1;
}

static void read_counts(sqlite3_stmt *s, int c, struct sw_acct_counts *out, void *blob, size_t bloblen)
{
	const void *w;
	int wlen;

	out->first_seen = sqlite3_column_int64(s, c + 0);
	out->last_seen = sqlite3_column_int64(s, c + 1);
	out->messages = (uint64_t)sqlite3_column_int64(s, c + 2);
	out->recipients = (uint64_t)sqlite3_column_int64(s, c + 3);
	out->refused = (uint64_t)sqlite3_column_int64(s, c + 4);
	w = sqlite3_column_blob(s, c + 5);
	wlen = sqlite3_column_bytes(s, c + 5);
	out->windows = NULL;
	out->windows_len = 0;
	if (w && wlen > 0 && (size_t)wlen <= bloblen) {
		memcpy(blob, w, (size_t)wlen);
		out->windows = blob;
		out->windows_len = (size_t)wlen;
	}
}

int sw_acct_counts_get(struct sw_acct_store *as, const char *name, struct sw_acct_counts *c, void *blob,
		       size_t bloblen, char *err, size_t errlen)
{
	sqlite3_stmt *s = as->counts_get;
	int rc, ret;

	memset(c, 0, sizeof(*c));
	sqlite3_reset(s);
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		read_counts(s, 0, c, blob, bloblen);
		ret = 1;
	} else if (rc == SQLITE_DONE) {
		ret = 0;
	} else {
		ret = fail(as, err, errlen, "read an account's counts");
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return ret;
}

int sw_acct_counts_put(struct sw_acct_store *as, const char *name, const struct sw_acct_counts *c, char *err,
		       size_t errlen)
{
	sqlite3_stmt *s = as->counts_put;
	int rc;

	sqlite3_reset(s);
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, c->first_seen);
	sqlite3_bind_int64(s, 3, c->last_seen);
	sqlite3_bind_int64(s, 4, (int64_t)c->messages);
	sqlite3_bind_int64(s, 5, (int64_t)c->recipients);
	sqlite3_bind_int64(s, 6, (int64_t)c->refused);
	sqlite3_bind_blob(s, 7, c->windows, (int)c->windows_len, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_DONE ? 0 : fail(as, err, errlen, "save an account's counts");
}

int sw_acct_addr_put(struct sw_acct_store *as, const char *name, const struct sw_acct_addr *a, char *err,
		     size_t errlen)
{
	sqlite3_stmt *s = as->addr_put;
	int rc;

	sqlite3_reset(s);
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, a->addr, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, a->country, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, a->first_seen);
	sqlite3_bind_int64(s, 5, a->last_seen);
	sqlite3_bind_int64(s, 6, (int64_t)a->messages);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_DONE ? 0 : fail(as, err, errlen, "save an account's address");
}

/* Grow *arr by one element of @size; NULL when out of memory. */
static void *grow(void **arr, int n, int *cap, size_t size)
{
	if (n >= *cap) {
		int ncap = *cap ? *cap * 2 : 16;
		void *p = realloc(*arr, (size_t)ncap * size);

		if (!p)
			return NULL;
		*arr = p;
		*cap = ncap;
	}
	return (char *)*arr + (size_t)n * size;
}

int sw_acct_addrs(struct sw_acct_store *as, const char *name, int max, struct sw_acct_addr **out, int *n,
		  char *err, size_t errlen)
{
	sqlite3_stmt *s = as->addrs;
	struct sw_acct_addr *arr = NULL, *a;
	int cap = 0, rc, cnt = 0;

	sqlite3_reset(s);
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, max);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		a = grow((void **)&arr, cnt, &cap, sizeof(*arr));
		if (!a) {
			rc = SQLITE_NOMEM;
			break;
		}
		memset(a, 0, sizeof(*a));
		copy_col(s, 0, a->addr, sizeof(a->addr));
		copy_col(s, 1, a->country, sizeof(a->country));
		a->first_seen = sqlite3_column_int64(s, 2);
		a->last_seen = sqlite3_column_int64(s, 3);
		a->messages = (uint64_t)sqlite3_column_int64(s, 4);
		cnt++;
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc != SQLITE_DONE) {
		free(arr);
		return fail(as, err, errlen, "read an account's addresses");
	}
	*out = arr;
	*n = cnt;
	return 0;
}

int sw_acct_audit_list(struct sw_acct_store *as, const char *name, int max, struct sw_acct_audit **out,
		       int *n, char *err, size_t errlen)
{
	sqlite3_stmt *s = as->audit_list;
	struct sw_acct_audit *arr = NULL, *a;
	int cap = 0, rc, cnt = 0;

	sqlite3_reset(s);
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, max);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		a = grow((void **)&arr, cnt, &cap, sizeof(*arr));
		if (!a) {
			rc = SQLITE_NOMEM;
			break;
		}
		a->id = sqlite3_column_int64(s, 0);
		a->at = sqlite3_column_int64(s, 1);
		copy_col(s, 2, a->actor, sizeof(a->actor));
		copy_col(s, 3, a->action, sizeof(a->action));
		copy_col(s, 4, a->reason, sizeof(a->reason));
		copy_col(s, 5, a->detail, sizeof(a->detail));
		cnt++;
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc != SQLITE_DONE) {
		free(arr);
		return fail(as, err, errlen, "read an account's history");
	}
	*out = arr;
	*n = cnt;
	return 0;
}

int sw_acct_list(struct sw_acct_store *as, enum sw_acct_filter f, int64_t now, struct sw_acct_row **out,
		 int *n, char *err, size_t errlen)
{
	/* Every account with a row in either table: policy state, counts, or both. */
	static const char sql[] =
		"SELECT n.name, a.created_at, a.suspended_at, a.suspended_until, a.suspend_reason, a.suspend_by,"
		" a.flagged_at, a.flag_reason, a.abroad, a.overseas_limit, a.overseas_until, a.msg_minute,"
		" a.msg_hour, a.msg_day, a.rcpt_minute, a.rcpt_hour, a.rcpt_day, a.aliases,"
		" c.first_seen, c.last_seen, c.messages, c.recipients, c.refused, c.windows, a.name IS NOT NULL,"
		" c.name IS NOT NULL"
		" FROM (SELECT name FROM accounts UNION SELECT name FROM account_counts) n"
		" LEFT JOIN accounts a ON a.name = n.name LEFT JOIN account_counts c ON c.name = n.name"
		" WHERE ?1 = 0 OR (?1 = 1 AND a.suspended_until != 0 AND a.suspended_until > ?2)"
		" OR (?1 = 2 AND a.flagged_at != 0) ORDER BY n.name";
	struct sw_acct_row *arr = NULL, *r;
	sqlite3_stmt *s;
	int cap = 0, rc, cnt = 0;

	if (sqlite3_prepare_v2(as->db, sql, -1, &s, NULL) != SQLITE_OK)
		return fail(as, err, errlen, "list the accounts");
	sqlite3_bind_int(s, 1, (int)f);
	sqlite3_bind_int64(s, 2, now);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		char name[SW_ACCOUNT_NAME_LEN];

		r = grow((void **)&arr, cnt, &cap, sizeof(*arr));
		if (!r) {
			rc = SQLITE_NOMEM;
			break;
		}
		copy_col(s, 0, name, sizeof(name));
		sw_acct_policy_defaults(&r->p, name);
		if (sqlite3_column_int(s, 24))
			read_policy(s, 0, &r->p);
		memset(&r->c, 0, sizeof(r->c));
		r->has_counts = sqlite3_column_int(s, 25);
		if (r->has_counts)
			read_counts(s, 18, &r->c, r->blob, sizeof(r->blob));
		cnt++;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		free(arr);
		return fail(as, err, errlen, "list the accounts");
	}
	/* The rows moved as the array grew: point the windows at each row's own copy. */
	for (int i = 0; i < cnt; i++)
		if (arr[i].c.windows)
			arr[i].c.windows = arr[i].blob;
	*out = arr;
	*n = cnt;
	return 0;
}

int sw_acct_changed_since(struct sw_acct_store *as, int64_t since_ms, int64_t *newest_ms,
			  void (*each)(void *ctx, const struct sw_acct_policy *p), void *ctx, char *err,
			  size_t errlen)
{
	static const char sql[] = "SELECT " POLICY_COLS ", changed_at FROM accounts WHERE changed_at > ?1";
	sqlite3_stmt *s;
	int rc, n = 0;

	if (sqlite3_prepare_v2(as->db, sql, -1, &s, NULL) != SQLITE_OK)
		return fail(as, err, errlen, "read changed accounts");
	sqlite3_bind_int64(s, 1, since_ms);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct sw_acct_policy p;
		int64_t at = sqlite3_column_int64(s, 18);

		sw_acct_policy_defaults(&p, "");
		read_policy(s, 0, &p);
		if (at > *newest_ms)
			*newest_ms = at;
		each(ctx, &p);
		n++;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? n : fail(as, err, errlen, "read changed accounts");
}

int64_t sw_acct_data_version(struct sw_acct_store *as)
{
	sqlite3_stmt *s;
	int64_t v = -1;

	if (sqlite3_prepare_v2(as->db, "PRAGMA data_version", -1, &s, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}
