// SPDX-License-Identifier: GPL-2.0
/*
 * The state database against the real libsqlite3, each test in its own
 * fresh directory under /tmp.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store.h"
#include "store_links.h"

struct fixture {
	char dir[64];		/* the mkdtemp directory, removed afterwards */
	char state[96];		/* <dir>/state, the state_dir handed to the store */
	char err[SW_ERR_LEN];
};

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	/* a test may have made a directory read-only; take it back first */
	if (flag == FTW_DP)
		chmod(path, 0700);
	return remove(path);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/test_store.XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->state, sizeof(f->state), "%s/state", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static struct sw_cidr cidr(const char *addr, unsigned prefixlen)
{
	struct sw_cidr c;

	memset(&c, 0, sizeof(c));
	if (strchr(addr, ':')) {
		c.family = SW_AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, addr, c.addr), 1);
	} else {
		c.family = SW_AF_INET;
		assert_int_equal(inet_pton(AF_INET, addr, c.addr), 1);
	}
	c.prefixlen = prefixlen;
	return c;
}

static struct sw_store_entry entry(enum sw_list_kind kind, const char *addr, unsigned prefixlen,
				   int64_t created, int64_t expires, const char *reason)
{
	struct sw_store_entry e;

	memset(&e, 0, sizeof(e));
	e.kind = kind;
	e.cidr = cidr(addr, prefixlen);
	e.created_at = created;
	e.expires_at = expires;
	snprintf(e.reason, sizeof(e.reason), "%s", reason);
	return e;
}

static struct sw_store *open_ok(struct fixture *f)
{
	struct sw_store *st = sw_store_open(f->state, f->err, sizeof(f->err));

	if (!st)
		fail_msg("sw_store_open: %s", f->err);
	return st;
}

static void put_ok(struct fixture *f, struct sw_store *st, const struct sw_store_entry *e)
{
	if (sw_store_put(st, e, f->err, sizeof(f->err)))
		fail_msg("sw_store_put: %s", f->err);
}

static void assert_entry_equal(const struct sw_store_entry *a, const struct sw_store_entry *b)
{
	assert_int_equal(a->kind, b->kind);
	assert_int_equal(a->cidr.family, b->cidr.family);
	assert_int_equal(a->cidr.prefixlen, b->cidr.prefixlen);
	assert_memory_equal(a->cidr.addr, b->cidr.addr, sizeof(a->cidr.addr));
	assert_int_equal(a->created_at, b->created_at);
	assert_int_equal(a->expires_at, b->expires_at);
	assert_string_equal(a->reason, b->reason);
}

/* Run SQL straight against state.db, as an older or newer tool would. */
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

static void test_roundtrip_v4(void **state)
{
	struct fixture *f = *state;
	struct sw_store *st = open_ok(f);
	struct sw_store_entry e = entry(SW_LIST_KIND_DENY, "192.0.2.0", 24, 1700000000, 0, "spam run");
	struct sw_store_entry host = entry(SW_LIST_KIND_DENY, "198.51.100.7", 32, 1700000001, 0, "");
	struct sw_store_entry got;

	put_ok(f, st, &e);
	put_ok(f, st, &host);
	assert_int_equal(sw_store_get(st, SW_LIST_KIND_DENY, &e.cidr, &got, f->err, sizeof(f->err)), 1);
	assert_entry_equal(&got, &e);
	assert_int_equal(sw_store_get(st, SW_LIST_KIND_DENY, &host.cidr, &got, f->err, sizeof(f->err)), 1);
	assert_entry_equal(&got, &host);

	/* the same prefix in the other list, or another length, is another key */
	assert_int_equal(sw_store_get(st, SW_LIST_KIND_ALLOW, &e.cidr, &got, f->err, sizeof(f->err)), 0);
	e.cidr.prefixlen = 23;
	assert_int_equal(sw_store_get(st, SW_LIST_KIND_DENY, &e.cidr, &got, f->err, sizeof(f->err)), 0);
	e.cidr.prefixlen = 24;

	assert_int_equal(sw_store_del(st, SW_LIST_KIND_DENY, &e.cidr, f->err, sizeof(f->err)), 1);
	assert_int_equal(sw_store_del(st, SW_LIST_KIND_DENY, &e.cidr, f->err, sizeof(f->err)), 0);
	assert_int_equal(sw_store_get(st, SW_LIST_KIND_DENY, &e.cidr, &got, f->err, sizeof(f->err)), 0);
	/* the other entry is untouched */
	assert_int_equal(sw_store_get(st, SW_LIST_KIND_DENY, &host.cidr, &got, f->err, sizeof(f->err)), 1);
	sw_store_close(st);
}

static void test_roundtrip_v6(void **state)
{
	struct fixture *f = *state;
	struct sw_store *st = open_ok(f);
	struct sw_store_entry e = entry(SW_LIST_KIND_ALLOW, "2001:db8:1::", 48, 42, 4242, "partner MX");
	struct sw_store_entry host = entry(SW_LIST_KIND_ALLOW, "2001:db8::25", 128, 43, 0, "relay");
	struct sw_store_entry v4 = entry(SW_LIST_KIND_ALLOW, "32.1.13.184", 32, 44, 0, "");
	struct sw_store_entry got;

	put_ok(f, st, &e);
	put_ok(f, st, &host);
	/* 2001:0db8:: shares its first four bytes with 32.1.13.184 */
	assert_int_equal(sw_store_get(st, SW_LIST_KIND_ALLOW, &v4.cidr, &got, f->err, sizeof(f->err)), 0);
	assert_int_equal(sw_store_get(st, SW_LIST_KIND_ALLOW, &e.cidr, &got, f->err, sizeof(f->err)), 1);
	assert_entry_equal(&got, &e);
	assert_int_equal(sw_store_get(st, SW_LIST_KIND_ALLOW, &host.cidr, &got, f->err, sizeof(f->err)), 1);
	assert_entry_equal(&got, &host);
	assert_int_equal(sw_store_del(st, SW_LIST_KIND_ALLOW, &host.cidr, f->err, sizeof(f->err)), 1);
	assert_int_equal(sw_store_get(st, SW_LIST_KIND_ALLOW, &host.cidr, &got, f->err, sizeof(f->err)), 0);
	assert_int_equal(sw_store_get(st, SW_LIST_KIND_ALLOW, &e.cidr, &got, f->err, sizeof(f->err)), 1);
	sw_store_close(st);
}

static void test_replace_same_key(void **state)
{
	struct fixture *f = *state;
	struct sw_store *st = open_ok(f);
	struct sw_store_entry a = entry(SW_LIST_KIND_DENY, "203.0.113.0", 24, 100, 0, "first");
	struct sw_store_entry b = entry(SW_LIST_KIND_DENY, "203.0.113.0", 24, 200, 900, "second");
	struct sw_store_entry got, *all;
	int n;

	put_ok(f, st, &a);
	put_ok(f, st, &b);
	assert_int_equal(sw_store_get(st, SW_LIST_KIND_DENY, &a.cidr, &got, f->err, sizeof(f->err)), 1);
	assert_entry_equal(&got, &b);
	assert_int_equal(sw_store_list(st, 0, 0, &all, &n, f->err, sizeof(f->err)), 0);
	assert_int_equal(n, 1);
	free(all);
	sw_store_close(st);
}

/* Host bits and the unused tail of addr[] are not part of the key. */
static void test_key_canonical(void **state)
{
	struct fixture *f = *state;
	struct sw_store *st = open_ok(f);
	struct sw_store_entry e = entry(SW_LIST_KIND_DENY, "192.0.2.0", 24, 1, 0, "net");
	struct sw_store_entry got;
	struct sw_cidr sloppy = cidr("192.0.2.77", 24);

	memset(sloppy.addr + 4, 0xee, 12);
	put_ok(f, st, &e);
	assert_int_equal(sw_store_get(st, SW_LIST_KIND_DENY, &sloppy, &got, f->err, sizeof(f->err)), 1);
	assert_entry_equal(&got, &e);
	assert_int_equal(sw_store_del(st, SW_LIST_KIND_DENY, &sloppy, f->err, sizeof(f->err)), 1);
	sw_store_close(st);
}

static void test_invalid_arguments(void **state)
{
	struct fixture *f = *state;
	struct sw_store *st = open_ok(f);
	struct sw_store_entry e = entry(SW_LIST_KIND_DENY, "192.0.2.0", 24, 1, 0, "");
	struct sw_store_entry got, *all;
	int n;

	e.cidr.prefixlen = 33;
	assert_int_equal(sw_store_put(st, &e, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "prefix length 33"));
	assert_non_null(strstr(f->err, "state.db"));
	e.cidr.prefixlen = 24;
	e.cidr.family = 7;
	assert_int_equal(sw_store_put(st, &e, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "family"));
	e.cidr.family = SW_AF_INET;
	e.kind = 3;
	assert_int_equal(sw_store_put(st, &e, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "kind"));
	e.kind = SW_LIST_KIND_DENY;
	e.expires_at = -5;
	assert_int_equal(sw_store_put(st, &e, f->err, sizeof(f->err)), -1);
	e.expires_at = 0;
	assert_int_equal(sw_store_get(st, 0, &e.cidr, &got, f->err, sizeof(f->err)), -1);
	assert_int_equal(sw_store_del(st, 9, &e.cidr, f->err, sizeof(f->err)), -1);
	assert_int_equal(sw_store_list(st, 5, 0, &all, &n, f->err, sizeof(f->err)), -1);

	/* nothing was written along the way */
	assert_int_equal(sw_store_list(st, 0, 0, &all, &n, f->err, sizeof(f->err)), 0);
	assert_int_equal(n, 0);
	free(all);
	sw_store_close(st);
}

static void test_list_order_and_filter(void **state)
{
	struct fixture *f = *state;
	struct sw_store *st = open_ok(f);
	/* put in scrambled order; listed in this order */
	static const struct { enum sw_list_kind kind; const char *addr; unsigned len; } want[] = {
		{ SW_LIST_KIND_ALLOW, "9.0.0.0", 8 },
		{ SW_LIST_KIND_ALLOW, "10.0.0.0", 8 },
		{ SW_LIST_KIND_ALLOW, "10.0.0.0", 16 },
		{ SW_LIST_KIND_ALLOW, "10.1.0.0", 16 },
		{ SW_LIST_KIND_ALLOW, "192.0.2.0", 24 },
		{ SW_LIST_KIND_ALLOW, "2001:db8::", 32 },
		{ SW_LIST_KIND_ALLOW, "2001:db8::", 64 },
		{ SW_LIST_KIND_ALLOW, "fe80::", 10 },
		{ SW_LIST_KIND_DENY, "1.2.3.4", 32 },
		{ SW_LIST_KIND_DENY, "255.255.255.255", 32 },
		{ SW_LIST_KIND_DENY, "::1", 128 },
	};
	static const int order[] = { 10, 3, 7, 0, 9, 5, 2, 8, 4, 1, 6 };
	struct sw_store_entry e, *all;
	size_t i;
	int n;

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		e = entry(want[order[i]].kind, want[order[i]].addr, want[order[i]].len, (int64_t)i, 0, "x");
		put_ok(f, st, &e);
	}

	assert_int_equal(sw_store_list(st, 0, 0, &all, &n, f->err, sizeof(f->err)), 0);
	assert_int_equal(n, 11);
	for (i = 0; i < 11; i++) {
		struct sw_cidr c = cidr(want[i].addr, want[i].len);

		assert_int_equal(all[i].kind, want[i].kind);
		assert_int_equal(all[i].cidr.family, c.family);
		assert_int_equal(all[i].cidr.prefixlen, c.prefixlen);
		assert_memory_equal(all[i].cidr.addr, c.addr, sizeof(c.addr));
	}
	free(all);

	assert_int_equal(sw_store_list(st, SW_LIST_KIND_DENY, 0, &all, &n, f->err, sizeof(f->err)), 0);
	assert_int_equal(n, 3);
	for (i = 0; i < 3; i++)
		assert_int_equal(all[i].kind, SW_LIST_KIND_DENY);
	assert_int_equal(all[2].cidr.family, SW_AF_INET6);
	free(all);

	assert_int_equal(sw_store_list(st, SW_LIST_KIND_ALLOW, 0, &all, &n, f->err, sizeof(f->err)), 0);
	assert_int_equal(n, 8);
	for (i = 0; i < 8; i++)
		assert_int_equal(all[i].kind, SW_LIST_KIND_ALLOW);
	free(all);
	sw_store_close(st);
}

/* The cidr column is for people reading the database with sqlite3(1). */
static void test_cidr_text_column(void **state)
{
	struct fixture *f = *state;
	struct sw_store *st = open_ok(f);
	struct sw_store_entry a = entry(SW_LIST_KIND_DENY, "192.0.2.0", 24, 1, 0, "");
	struct sw_store_entry b = entry(SW_LIST_KIND_DENY, "2001:db8::", 32, 1, 0, "");
	char path[PATH_MAX];
	sqlite3_stmt *s;
	sqlite3 *db;

	put_ok(f, st, &a);
	put_ok(f, st, &b);
	snprintf(path, sizeof(path), "%s/state.db", f->state);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT cidr FROM lists ORDER BY family", -1, &s, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(s, 0), "192.0.2.0/24");
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(s, 0), "2001:db8::/32");
	assert_int_equal(sqlite3_step(s), SQLITE_DONE);
	sqlite3_finalize(s);
	sqlite3_close(db);
	sw_store_close(st);
}

static void test_expiry(void **state)
{
	struct fixture *f = *state;
	struct sw_store *st = open_ok(f);
	struct sw_store_entry never = entry(SW_LIST_KIND_DENY, "192.0.2.1", 32, 10, 0, "forever");
	struct sw_store_entry past = entry(SW_LIST_KIND_DENY, "192.0.2.2", 32, 10, 500, "old");
	struct sw_store_entry edge = entry(SW_LIST_KIND_ALLOW, "192.0.2.3", 32, 10, 1000, "ends now");
	struct sw_store_entry future = entry(SW_LIST_KIND_DENY, "2001:db8::1", 128, 10, 1001, "soon");
	struct sw_store_entry got, *all;
	int n;

	put_ok(f, st, &never);
	put_ok(f, st, &past);
	put_ok(f, st, &edge);
	put_ok(f, st, &future);

	/* now = 0: no filtering at all */
	assert_int_equal(sw_store_list(st, 0, 0, &all, &n, f->err, sizeof(f->err)), 0);
	assert_int_equal(n, 4);
	free(all);

	/* an entry expiring at exactly now is gone */
	assert_int_equal(sw_store_list(st, 0, 1000, &all, &n, f->err, sizeof(f->err)), 0);
	assert_int_equal(n, 2);
	assert_entry_equal(&all[0], &never);
	assert_entry_equal(&all[1], &future);
	free(all);

	assert_int_equal(sw_store_list(st, SW_LIST_KIND_ALLOW, 1000, &all, &n, f->err, sizeof(f->err)), 0);
	assert_int_equal(n, 0);
	free(all);
	assert_int_equal(sw_store_list(st, SW_LIST_KIND_ALLOW, 999, &all, &n, f->err, sizeof(f->err)), 0);
	assert_int_equal(n, 1);
	free(all);

	assert_int_equal(sw_store_expire(st, 1000, f->err, sizeof(f->err)), 2);
	assert_int_equal(sw_store_get(st, SW_LIST_KIND_DENY, &past.cidr, &got, f->err, sizeof(f->err)), 0);
	assert_int_equal(sw_store_get(st, SW_LIST_KIND_ALLOW, &edge.cidr, &got, f->err, sizeof(f->err)), 0);
	assert_int_equal(sw_store_expire(st, 1000, f->err, sizeof(f->err)), 0);
	assert_int_equal(sw_store_list(st, 0, 0, &all, &n, f->err, sizeof(f->err)), 0);
	assert_int_equal(n, 2);
	free(all);

	/* entries that never expire survive any clock */
	assert_int_equal(sw_store_expire(st, INT64_MAX, f->err, sizeof(f->err)), 1);
	assert_int_equal(sw_store_get(st, SW_LIST_KIND_DENY, &never.cidr, &got, f->err, sizeof(f->err)), 1);
	sw_store_close(st);
}

static void test_persistence(void **state)
{
	struct fixture *f = *state;
	struct sw_store *st = open_ok(f);
	struct sw_store_entry a = entry(SW_LIST_KIND_DENY, "198.51.100.0", 24, 1234, 5678, "kept");
	struct sw_store_entry b = entry(SW_LIST_KIND_ALLOW, "2001:db8:ffff::", 48, 1, 0, "also kept");
	struct sw_store_entry got, *all;
	int n;

	put_ok(f, st, &a);
	put_ok(f, st, &b);
	sw_store_close(st);

	st = open_ok(f);
	assert_int_equal(sw_store_get(st, SW_LIST_KIND_DENY, &a.cidr, &got, f->err, sizeof(f->err)), 1);
	assert_entry_equal(&got, &a);
	assert_int_equal(sw_store_get(st, SW_LIST_KIND_ALLOW, &b.cidr, &got, f->err, sizeof(f->err)), 1);
	assert_entry_equal(&got, &b);
	assert_int_equal(sw_store_del(st, SW_LIST_KIND_DENY, &a.cidr, f->err, sizeof(f->err)), 1);
	sw_store_close(st);

	st = open_ok(f);
	assert_int_equal(sw_store_list(st, 0, 0, &all, &n, f->err, sizeof(f->err)), 0);
	assert_int_equal(n, 1);
	assert_entry_equal(&all[0], &b);
	free(all);
	sw_store_close(st);
}

static void test_wal_and_schema_version(void **state)
{
	struct fixture *f = *state;
	struct sw_store *st = open_ok(f);
	char path[PATH_MAX];
	sqlite3_stmt *s;
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/state.db", f->state);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(s, 0), 4);
	sqlite3_finalize(s);
	sqlite3_close(db);
	sw_store_close(st);
}

/* The daemon and the CLI each hold a handle and both write. */
static void test_two_handles(void **state)
{
	struct fixture *f = *state;
	struct sw_store *daemon = open_ok(f);
	struct sw_store *cli = open_ok(f);
	struct sw_store_entry a = entry(SW_LIST_KIND_DENY, "192.0.2.10", 32, 1, 0, "from cli");
	struct sw_store_entry b = entry(SW_LIST_KIND_DENY, "192.0.2.11", 32, 2, 0, "from daemon");
	struct sw_store_entry got, *all;
	int n;

	put_ok(f, cli, &a);
	assert_int_equal(sw_store_get(daemon, SW_LIST_KIND_DENY, &a.cidr, &got, f->err, sizeof(f->err)), 1);
	assert_entry_equal(&got, &a);
	put_ok(f, daemon, &b);
	assert_int_equal(sw_store_get(cli, SW_LIST_KIND_DENY, &b.cidr, &got, f->err, sizeof(f->err)), 1);
	assert_int_equal(sw_store_del(daemon, SW_LIST_KIND_DENY, &a.cidr, f->err, sizeof(f->err)), 1);
	assert_int_equal(sw_store_list(cli, 0, 0, &all, &n, f->err, sizeof(f->err)), 0);
	assert_int_equal(n, 1);
	assert_entry_equal(&all[0], &b);
	free(all);
	sw_store_close(cli);
	sw_store_close(daemon);
}

#define WRITES_PER_PROC 300

static int writer(const char *state_dir, int id)
{
	char err[SW_ERR_LEN];
	struct sw_store *st = sw_store_open(state_dir, err, sizeof(err));
	struct sw_store_entry e;
	int i;

	if (!st) {
		fprintf(stderr, "writer %d: %s\n", id, err);
		return 1;
	}
	for (i = 0; i < WRITES_PER_PROC; i++) {
		memset(&e, 0, sizeof(e));
		e.kind = SW_LIST_KIND_DENY;
		e.cidr.family = SW_AF_INET;
		e.cidr.prefixlen = 32;
		e.cidr.addr[0] = 10;
		e.cidr.addr[1] = id;
		e.cidr.addr[2] = i >> 8;
		e.cidr.addr[3] = i & 0xff;
		e.created_at = i;
		if (sw_store_put(st, &e, err, sizeof(err))) {
			fprintf(stderr, "writer %d: %s\n", id, err);
			sw_store_close(st);
			return 1;
		}
	}
	sw_store_close(st);
	return 0;
}

/*
 * Separate processes opening and writing at the same time, on a database
 * that does not exist yet: the busy timeout must absorb every lock conflict,
 * schema creation included.
 */
static void test_concurrent_processes(void **state)
{
	struct fixture *f = *state;
	struct sw_store *st;
	struct sw_store_entry *all;
	pid_t pid[4];
	int i, status, n;

	for (i = 0; i < 4; i++) {
		pid[i] = fork();
		assert_true(pid[i] >= 0);
		if (pid[i] == 0)
			_exit(writer(f->state, i));
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	st = open_ok(f);
	assert_int_equal(sw_store_list(st, 0, 0, &all, &n, f->err, sizeof(f->err)), 0);
	assert_int_equal(n, 4 * WRITES_PER_PROC);
	free(all);
	sw_store_close(st);
}

static void test_state_dir_created(void **state)
{
	struct fixture *f = *state;
	char deep[PATH_MAX], path[PATH_MAX];
	struct sw_store *st;
	struct stat sb;

	/* several missing levels, a doubled and a trailing slash */
	snprintf(deep, sizeof(deep), "%s/a//b/c/", f->dir);
	st = sw_store_open(deep, f->err, sizeof(f->err));
	if (!st)
		fail_msg("sw_store_open: %s", f->err);
	snprintf(path, sizeof(path), "%s/a/b/c", f->dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	/* 0750 less whatever the umask takes away; never more */
	assert_int_equal(sb.st_mode & 0027, 0);
	snprintf(path, sizeof(path), "%s/a/b/c/state.db", f->dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
	sw_store_close(st);

	/* an existing directory is fine too */
	st = sw_store_open(deep, f->err, sizeof(f->err));
	assert_non_null(st);
	sw_store_close(st);
}

static void test_bad_state_dir(void **state)
{
	struct fixture *f = *state;
	char file[PATH_MAX], dir[PATH_MAX + 8];
	int fd;

	snprintf(file, sizeof(file), "%s/plainfile", f->dir);
	fd = open(file, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);

	/* state_dir is a regular file */
	assert_null(sw_store_open(file, f->err, sizeof(f->err)));
	assert_non_null(strstr(f->err, file));
	assert_non_null(strstr(f->err, "not a directory"));

	/* state_dir below a regular file cannot be created */
	snprintf(dir, sizeof(dir), "%s/sub", file);
	assert_null(sw_store_open(dir, f->err, sizeof(f->err)));
	assert_non_null(strstr(f->err, "state_dir"));
	assert_non_null(strstr(f->err, file));
	assert_non_null(strstr(f->err, strerror(ENOTDIR)));

	assert_null(sw_store_open("", f->err, sizeof(f->err)));
	assert_non_null(strstr(f->err, "state_dir"));

	/* state.db itself is a directory */
	assert_int_equal(mkdir(f->state, 0700), 0);
	snprintf(dir, sizeof(dir), "%s/state.db", f->state);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_null(sw_store_open(f->state, f->err, sizeof(f->err)));
	assert_non_null(strstr(f->err, dir));
}

/*
 * The checks of test_unwritable_state_dir, without cmocka: they may run in
 * a forked child. Returns 0 when every open failed as it should.
 */
static int unwritable_checks(const char *ro_db_dir, const char *ro_dir)
{
	char err[SW_ERR_LEN], path[PATH_MAX + 16];
	struct sw_store *st;
	int bad = 0;

	/* state.db exists but may not be written */
	st = sw_store_open(ro_db_dir, err, sizeof(err));
	snprintf(path, sizeof(path), "%s/state.db", ro_db_dir);
	if (st || !strstr(err, path) || !strstr(err, strerror(EACCES))) {
		fprintf(stderr, "read-only state.db: %s\n", st ? "opened" : err);
		bad = 1;
	}
	sw_store_close(st);

	/* state.db and its WAL files cannot be created */
	st = sw_store_open(ro_dir, err, sizeof(err));
	if (st || !strstr(err, "state_dir") || !strstr(err, ro_dir) ||
	    !strstr(err, strerror(EACCES))) {
		fprintf(stderr, "read-only state_dir: %s\n", st ? "opened" : err);
		bad = 1;
	}
	sw_store_close(st);

	/* state_dir cannot be created */
	snprintf(path, sizeof(path), "%s/sub", ro_dir);
	st = sw_store_open(path, err, sizeof(err));
	if (st || !strstr(err, "state_dir") || !strstr(err, path) ||
	    !strstr(err, strerror(EACCES))) {
		fprintf(stderr, "state_dir below a read-only one: %s\n", st ? "opened" : err);
		bad = 1;
	}
	sw_store_close(st);
	return bad;
}

/*
 * Permissions do not stop root, so as root the checks run in a child that
 * has become nobody; as anyone else, the owner's missing write bits do it.
 */
static void test_unwritable_state_dir(void **state)
{
	struct fixture *f = *state;
	char db[PATH_MAX], ro_dir[PATH_MAX];
	struct sw_store *st = open_ok(f);
	int status;
	pid_t pid;

	sw_store_close(st);
	snprintf(db, sizeof(db), "%s/state.db", f->state);
	snprintf(ro_dir, sizeof(ro_dir), "%s/ro", f->dir);
	assert_int_equal(mkdir(ro_dir, 0555), 0);
	assert_int_equal(chmod(ro_dir, 0555), 0);
	/* a writable directory holding a read-only state.db */
	assert_int_equal(chmod(db, 0444), 0);
	assert_int_equal(chmod(f->state, 0777), 0);
	assert_int_equal(chmod(f->dir, 0755), 0);

	if (geteuid() != 0) {
		assert_int_equal(unwritable_checks(f->state, ro_dir), 0);
		return;
	}
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (setgid(65534) || setuid(65534))
			_exit(2);
		_exit(unwritable_checks(f->state, ro_dir));
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_garbage_file(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX], buf[8192], back[8192];
	FILE *fp;
	size_t i;

	assert_int_equal(mkdir(f->state, 0750), 0);
	snprintf(path, sizeof(path), "%s/state.db", f->state);
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = "this is not a database\n"[i % 23];
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(buf, 1, sizeof(buf), fp), sizeof(buf));
	fclose(fp);

	assert_null(sw_store_open(f->state, f->err, sizeof(f->err)));
	assert_non_null(strstr(f->err, path));
	assert_non_null(strstr(f->err, "not a database"));

	/* and the file is left as it was */
	fp = fopen(path, "r");
	assert_non_null(fp);
	assert_int_equal(fread(back, 1, sizeof(back), fp), sizeof(back));
	assert_int_equal(fgetc(fp), EOF);
	fclose(fp);
	assert_memory_equal(buf, back, sizeof(buf));
}

static void test_newer_schema_rejected(void **state)
{
	struct fixture *f = *state;
	struct sw_store *st = open_ok(f);

	sw_store_close(st);
	raw_sql(f, "PRAGMA user_version = 7");
	assert_null(sw_store_open(f->state, f->err, sizeof(f->err)));
	assert_non_null(strstr(f->err, "state.db schema version 7 is newer than this smtpwall (4)"));
	assert_non_null(strstr(f->err, f->state));
}

struct link_seen {
	int n;
	char last[400];
};

static void link_seen(void *ctx, const struct sw_link_row *r)
{
	struct link_seen *s = ctx;

	s->n++;
	snprintf(s->last, sizeof(s->last), "%s %s", r->addr, r->name);
}

/* The source links: by source, by account, each since, expiry; a version 3 database gains the table. */
static void test_source_links(void **state)
{
	struct fixture *f = *state;
	struct sw_store *st = open_ok(f);
	struct sw_link_store *ls = sw_link_store_open(st, f->err, sizeof(f->err));
	struct sw_link_row r = { .first_seen = 100, .last_seen = 200, .logins = 3, .failures = 1, .last_login = 150,
				 .last_failure = 200 };
	struct sw_link_row *rows;
	struct link_seen seen = { 0 };
	int n;

	assert_non_null(ls);
	assert_int_equal(sw_link_begin(ls, f->err, sizeof(f->err)), 0);
	snprintf(r.addr, sizeof(r.addr), "198.51.100.7");
	snprintf(r.name, sizeof(r.name), "alice");
	assert_int_equal(sw_link_put(ls, &r, f->err, sizeof(f->err)), 0);
	snprintf(r.name, sizeof(r.name), "bob");
	r.last_seen = 300;
	assert_int_equal(sw_link_put(ls, &r, f->err, sizeof(f->err)), 0);
	snprintf(r.addr, sizeof(r.addr), "2001:db8:1:2::/64");
	r.name[0] = 0;
	r.last_seen = 50;
	assert_int_equal(sw_link_put(ls, &r, f->err, sizeof(f->err)), 0);
	assert_int_equal(sw_link_commit(ls, f->err, sizeof(f->err)), 0);

	assert_int_equal(sw_link_list(ls, "198.51.100.7", 1, 10, &rows, &n, f->err, sizeof(f->err)), 0);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].name, "bob");	/* most recent first */
	assert_string_equal(rows[1].name, "alice");
	assert_int_equal(rows[1].logins, 3);
	assert_int_equal(rows[1].last_login, 150);
	free(rows);
	assert_int_equal(sw_link_list(ls, "alice", 0, 10, &rows, &n, f->err, sizeof(f->err)), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].addr, "198.51.100.7");
	free(rows);
	assert_int_equal(sw_link_each(ls, 100, link_seen, &seen, f->err, sizeof(f->err)), 2);
	assert_int_equal(sw_link_expire(ls, 100, f->err, sizeof(f->err)), 1);
	assert_int_equal(sw_link_list(ls, "2001:db8:1:2::/64", 1, 10, &rows, &n, f->err, sizeof(f->err)), 0);
	assert_int_equal(n, 0);
	free(rows);
	sw_link_store_close(ls);
	sw_store_close(st);

	/* a version 3 database: the links table is added, nothing else touched */
	raw_sql(f, "DROP TABLE source_links; PRAGMA user_version = 3");
	st = open_ok(f);
	ls = sw_link_store_open(st, f->err, sizeof(f->err));
	assert_non_null(ls);
	assert_int_equal(sw_link_each(ls, 0, link_seen, &seen, f->err, sizeof(f->err)), 0);
	sw_link_store_close(ls);
	sw_store_close(st);
}

/* Settings persist across opens; a version 1 database gains the table, its lists kept. */
static void test_settings_and_migration(void **state)
{
	struct fixture *f = *state;
	struct sw_store *st = open_ok(f);
	struct sw_store_entry e = { .kind = SW_LIST_KIND_DENY, .created_at = 100 };
	char v[32] = "";

	assert_int_equal(sw_store_setting_get(st, "emergency_mode", v, sizeof(v), f->err, sizeof(f->err)), 0);
	assert_int_equal(sw_store_setting_put(st, "emergency_mode", "on", f->err, sizeof(f->err)), 0);
	assert_int_equal(sw_store_setting_put(st, "emergency_mode", "off", f->err, sizeof(f->err)), 0);
	assert_int_equal(sw_store_setting_get(st, "emergency_mode", v, sizeof(v), f->err, sizeof(f->err)), 1);
	assert_string_equal(v, "off");
	assert_int_equal(sw_parse_cidr("192.0.2.0/24", &e.cidr, f->err), 0);
	put_ok(f, st, &e);
	sw_store_close(st);

	/* Back to what version 1 had: the lists table only. */
	raw_sql(f, "DROP TABLE settings; PRAGMA user_version = 1");
	st = open_ok(f);
	assert_int_equal(sw_store_setting_get(st, "emergency_mode", v, sizeof(v), f->err, sizeof(f->err)), 0);
	assert_int_equal(sw_store_setting_put(st, "emergency_mode", "auto", f->err, sizeof(f->err)), 0);
	assert_int_equal(sw_store_get(st, SW_LIST_KIND_DENY, &e.cidr, &e, f->err, sizeof(f->err)), 1);
	sw_store_close(st);
	st = open_ok(f);
	assert_int_equal(sw_store_setting_get(st, "emergency_mode", v, sizeof(v), f->err, sizeof(f->err)), 1);
	assert_string_equal(v, "auto");
	sw_store_close(st);
}

/* A database from before the tables existed (or an empty file) is adopted. */
static void test_empty_file_adopted(void **state)
{
	struct fixture *f = *state;
	struct sw_store_entry e = entry(SW_LIST_KIND_DENY, "192.0.2.0", 24, 1, 0, "");
	char path[PATH_MAX];
	struct sw_store *st;
	int fd;

	assert_int_equal(mkdir(f->state, 0750), 0);
	snprintf(path, sizeof(path), "%s/state.db", f->state);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	st = open_ok(f);
	put_ok(f, st, &e);
	sw_store_close(st);
}

static void test_corrupt_row(void **state)
{
	struct fixture *f = *state;
	struct sw_store *st = open_ok(f);
	struct sw_store_entry got, *all;
	struct sw_cidr c = cidr("192.0.2.0", 24);
	int n;

	raw_sql(f, "INSERT INTO lists VALUES (2, 2, 24, x'C000', '192.0.2.0/24', 0, 0, '')");
	assert_int_equal(sw_store_list(st, 0, 0, &all, &n, f->err, sizeof(f->err)), -1);
	assert_null(all);
	assert_int_equal(n, 0);
	assert_non_null(strstr(f->err, "state.db"));
	assert_int_equal(sw_store_get(st, SW_LIST_KIND_DENY, &c, &got, f->err, sizeof(f->err)), 0);
	sw_store_close(st);
}

static void test_reason_truncation(void **state)
{
	struct fixture *f = *state;
	struct sw_store *st = open_ok(f);
	struct sw_store_entry e = entry(SW_LIST_KIND_DENY, "192.0.2.0", 24, 1, 0, "");
	struct sw_store_entry got;
	char long_reason[1000];
	size_t i, n;
	sqlite3_stmt *s;
	sqlite3 *db;
	char path[PATH_MAX];

	/* a caller's reason filling the whole array, unterminated */
	memset(e.reason, 'r', sizeof(e.reason));
	put_ok(f, st, &e);
	assert_int_equal(sw_store_get(st, SW_LIST_KIND_DENY, &e.cidr, &got, f->err, sizeof(f->err)), 1);
	assert_int_equal(strlen(got.reason), sizeof(got.reason) - 1);
	for (i = 0; i < sizeof(got.reason) - 1; i++)
		assert_int_equal(got.reason[i], 'r');

	/* a longer reason written by another tool; cut inside a 2-byte character */
	memset(long_reason, 'a', sizeof(long_reason));
	for (i = 254; i + 1 < sizeof(long_reason) - 1; i += 2) {
		long_reason[i] = (char)0xc3;	/* U+00E9 */
		long_reason[i + 1] = (char)0xa9;
	}
	long_reason[sizeof(long_reason) - 1] = '\0';
	snprintf(path, sizeof(path), "%s/state.db", f->state);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "UPDATE lists SET reason = ?1", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_bind_text(s, 1, long_reason, -1, SQLITE_STATIC), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_DONE);
	sqlite3_finalize(s);
	sqlite3_close(db);

	assert_int_equal(sw_store_get(st, SW_LIST_KIND_DENY, &e.cidr, &got, f->err, sizeof(f->err)), 1);
	n = strlen(got.reason);
	/* 254 'a' fit, then é would need bytes 254 and 255: dropped whole */
	assert_int_equal(n, 254);
	assert_memory_equal(got.reason, long_reason, n);

	/* shift by one: 'a' x 253 then é fits exactly in 255 bytes */
	memmove(long_reason + 253, long_reason + 254, sizeof(long_reason) - 254);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "UPDATE lists SET reason = ?1", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_bind_text(s, 1, long_reason, -1, SQLITE_STATIC), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_DONE);
	sqlite3_finalize(s);
	sqlite3_close(db);
	assert_int_equal(sw_store_get(st, SW_LIST_KIND_DENY, &e.cidr, &got, f->err, sizeof(f->err)), 1);
	assert_int_equal(strlen(got.reason), 255);
	assert_memory_equal(got.reason, long_reason, 255);
	sw_store_close(st);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest store[] = {
		T(test_roundtrip_v4),
		T(test_roundtrip_v6),
		T(test_replace_same_key),
		T(test_key_canonical),
		T(test_invalid_arguments),
		T(test_list_order_and_filter),
		T(test_cidr_text_column),
		T(test_expiry),
		T(test_persistence),
		T(test_wal_and_schema_version),
		T(test_settings_and_migration),
		T(test_two_handles),
		T(test_concurrent_processes),
		T(test_state_dir_created),
		T(test_bad_state_dir),
		T(test_unwritable_state_dir),
		T(test_garbage_file),
		T(test_newer_schema_rejected),
		T(test_source_links),
		T(test_empty_file_adopted),
		T(test_corrupt_row),
		T(test_reason_truncation),
	};

	return cmocka_run_group_tests(store, NULL, NULL);
}
