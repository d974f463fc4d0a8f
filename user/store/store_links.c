// SPDX-License-Identifier: GPL-2.0
/* state.db's source_links table (store_links.h). */
#include "store_links.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_db.h"

struct sw_link_store {
	sqlite3 *db;
	const char *file;
	sqlite3_stmt *put, *by_addr, *by_name, *each, *expire, *fail_put, *fail_del, *fail_each;
};

#define COLS "addr, name, first_seen, last_seen, logins, failures, last_login, last_failure"

static const char put_sql[] = "INSERT OR REPLACE INTO source_links (" COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
static const char by_addr_sql[] =
	"SELECT " COLS " FROM source_links WHERE addr = ?1 ORDER BY last_seen DESC, name LIMIT ?2";
static const char by_name_sql[] =
	"SELECT " COLS " FROM source_links WHERE name = ?1 ORDER BY last_seen DESC, addr LIMIT ?2";
static const char each_sql[] = "SELECT " COLS " FROM source_links WHERE last_seen >= ?1";
static const char expire_sql[] = "DELETE FROM source_links WHERE last_seen < ?1";
static const char fail_put_sql[] = "INSERT OR REPLACE INTO source_failures (addr, times) VALUES (?1, ?2)";
static const char fail_del_sql[] = "DELETE FROM source_failures WHERE addr = ?1";
static const char fail_each_sql[] = "SELECT addr, times FROM source_failures";

static int fail(struct sw_link_store *ls, char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s: cannot %s: %s", ls->file, what, sqlite3_errmsg(ls->db));
	return -1;
}

struct sw_link_store *sw_link_store_open(struct sw_store *st, char *err, size_t errlen)
{
	struct sw_link_store *ls = calloc(1, sizeof(*ls));
	struct {
		const char *sql;
		sqlite3_stmt **s;
	} stmts[] = {
		{ put_sql, NULL },	{ by_addr_sql, NULL },	{ by_name_sql, NULL },	 { each_sql, NULL },
		{ expire_sql, NULL }, { fail_put_sql, NULL }, { fail_del_sql, NULL }, { fail_each_sql, NULL },
	};

	if (!ls) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ls->db = sw_store_sqlite(st);
	ls->file = sw_store_file(st);
	stmts[0].s = &ls->put;
	stmts[1].s = &ls->by_addr;
	stmts[2].s = &ls->by_name;
	stmts[3].s = &ls->each;
	stmts[4].s = &ls->expire;
	stmts[5].s = &ls->fail_put;
	stmts[6].s = &ls->fail_del;
	stmts[7].s = &ls->fail_each;
	for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++)
		if (sqlite3_prepare_v3(ls->db, stmts[i].sql, -1, SQLITE_PREPARE_PERSISTENT, stmts[i].s, NULL) !=
		    SQLITE_OK) {
			fail(ls, err, errlen, "prepare the source links statements");
			sw_link_store_close(ls);
			return NULL;
		}
	return ls;
}

void sw_link_store_close(struct sw_link_store *ls)
{
	if (!ls)
		return;
	sqlite3_finalize(ls->put);
	sqlite3_finalize(ls->by_addr);
	sqlite3_finalize(ls->by_name);
	sqlite3_finalize(ls->each);
	sqlite3_finalize(ls->expire);
	sqlite3_finalize(ls->fail_put);
	sqlite3_finalize(ls->fail_del);
	sqlite3_finalize(ls->fail_each);
	free(ls);
}

int sw_link_begin(struct sw_link_store *ls, char *err, size_t errlen)
{
	return sqlite3_exec(ls->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK
		       ? 0
		       : fail(ls, err, errlen, "begin writing the source links to");
}

int sw_link_commit(struct sw_link_store *ls, char *err, size_t errlen)
{
	if (sqlite3_exec(ls->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
		return 0;
	fail(ls, err, errlen, "commit the source links to");
	sw_link_rollback(ls);
	return -1;
}

void sw_link_rollback(struct sw_link_store *ls)
{
	sqlite3_exec(ls->db, "ROLLBACK", NULL, NULL, NULL);
}

int sw_link_put(struct sw_link_store *ls, const struct sw_link_row *r, char *err, size_t errlen)
{
	sqlite3_stmt *s = ls->put;
	int rc;

	sqlite3_reset(s);
	sqlite3_bind_text(s, 1, r->addr, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, r->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, r->first_seen);
	sqlite3_bind_int64(s, 4, r->last_seen);
	sqlite3_bind_int64(s, 5, (int64_t)r->logins);
	sqlite3_bind_int64(s, 6, (int64_t)r->failures);
	sqlite3_bind_int64(s, 7, r->last_login);
	sqlite3_bind_int64(s, 8, r->last_failure);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_DONE ? 0 : fail(ls, err, errlen, "save a source link to");
}

static void read_row(sqlite3_stmt *s, struct sw_link_row *r)
{
	const unsigned char *t;

	memset(r, 0, sizeof(*r));
	t = sqlite3_column_text(s, 0);
	snprintf(r->addr, sizeof(r->addr), "%s", t ? (const char *)t : "");
	t = sqlite3_column_text(s, 1);
	snprintf(r->name, sizeof(r->name), "%s", t ? (const char *)t : "");
	r->first_seen = sqlite3_column_int64(s, 2);
	r->last_seen = sqlite3_column_int64(s, 3);
	r->logins = (uint64_t)sqlite3_column_int64(s, 4);
	r->failures = (uint64_t)sqlite3_column_int64(s, 5);
	r->last_login = sqlite3_column_int64(s, 6);
	r->last_failure = sqlite3_column_int64(s, 7);
}

int sw_link_list(struct sw_link_store *ls, const char *key, int by_addr, int max, struct sw_link_row **out,
		 int *n, char *err, size_t errlen)
{
	sqlite3_stmt *s = by_addr ? ls->by_addr : ls->by_name;
	struct sw_link_row *arr = NULL;
	int cap = 0, cnt = 0, rc;

	sqlite3_reset(s);
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, max);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (cnt == cap) {
			int ncap = cap ? cap * 2 : 16;
			void *p = realloc(arr, (size_t)ncap * sizeof(*arr));

			if (!p) {
				rc = SQLITE_NOMEM;
				break;
			}
			arr = p;
			cap = ncap;
		}
		read_row(s, &arr[cnt++]);
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc != SQLITE_DONE) {
		free(arr);
		return fail(ls, err, errlen, "read the source links of");
	}
	*out = arr;
	*n = cnt;
	return 0;
}

long sw_link_each(struct sw_link_store *ls, int64_t since, void (*fn)(void *ctx, const struct sw_link_row *r),
		  void *ctx, char *err, size_t errlen)
{
	sqlite3_stmt *s = ls->each;
	struct sw_link_row r;
	long cnt = 0;
	int rc;

	sqlite3_reset(s);
	sqlite3_bind_int64(s, 1, since);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		read_row(s, &r);
		fn(ctx, &r);
		cnt++;
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_DONE ? cnt : fail(ls, err, errlen, "read the source links of");
}

long sw_link_expire(struct sw_link_store *ls, int64_t before, char *err, size_t errlen)
{
	sqlite3_stmt *s = ls->expire;
	int rc;

	sqlite3_reset(s);
	sqlite3_bind_int64(s, 1, before);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_DONE ? (long)sqlite3_changes(ls->db) : fail(ls, err, errlen, "expire the source links of");
}

int sw_fail_put(struct sw_link_store *ls, const char *addr, const int64_t *times, unsigned n, char *err,
		size_t errlen)
{
	char text[SW_LINK_FAILS_MAX * 21 + 1];
	size_t off = 0;
	sqlite3_stmt *s = n ? ls->fail_put : ls->fail_del;
	int rc;

	text[0] = 0;
	for (unsigned i = 0; i < n && i < SW_LINK_FAILS_MAX; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off, "%s%lld", i ? "," : "", (long long)times[i]);
	sqlite3_reset(s);
	sqlite3_bind_text(s, 1, addr, -1, SQLITE_STATIC);
	if (n)
		sqlite3_bind_text(s, 2, text, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_DONE ? 0 : fail(ls, err, errlen, "save a source's failed logins to");
}

long sw_fail_each(struct sw_link_store *ls,
		  void (*fn)(void *ctx, const char *addr, const int64_t *times, unsigned n), void *ctx, char *err,
		  size_t errlen)
{
	sqlite3_stmt *s = ls->fail_each;
	long cnt = 0;
	int rc;

	sqlite3_reset(s);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *addr = (const char *)sqlite3_column_text(s, 0), *p = (const char *)sqlite3_column_text(s, 1);
		int64_t times[SW_LINK_FAILS_MAX];
		unsigned n = 0;

		while (p && *p && n < SW_LINK_FAILS_MAX) {
			char *end;
			long long v = strtoll(p, &end, 10);

			if (end == p)
				break;	/* not ours: what was read so far counts */
			times[n++] = v;
			p = *end == ',' ? end + 1 : end;
		}
		if (addr)
			fn(ctx, addr, times, n);
		cnt++;
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? cnt : fail(ls, err, errlen, "read the failed logins of");
}
