// SPDX-License-Identifier: GPL-2.0
/*
 * The state database: <state_dir>/state.db, SQLite in WAL mode.
 *
 * The daemon and the CLI each hold their own handle and may write at the
 * same time, so every connection sets a busy timeout and every write is a
 * single autocommit statement (SQLite then retries the write lock through
 * the busy handler instead of failing with SQLITE_BUSY_SNAPSHOT).
 *
 * A CIDR is keyed by (family, prefixlen, addr) where addr is always a
 * 16-byte blob in network byte order with the host bits and the unused
 * tail cleared: one prefix has exactly one key, and ORDER BY addr is
 * numeric order because SQLite compares blobs with memcmp().
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store.h"
#include "store_db.h"

#define SW_STORE_SCHEMA_VERSION 4
#define SW_STORE_BUSY_MS	5000
#define SW_CIDR_TEXT_LEN	(INET6_ADDRSTRLEN + 4)

struct sw_store {
	sqlite3 *db;
	sqlite3_stmt *put;
	sqlite3_stmt *del;
	sqlite3_stmt *get;
	sqlite3_stmt *list;
	sqlite3_stmt *expire;
	char path[PATH_MAX];
};

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS lists ("
	" kind INTEGER NOT NULL,"
	" family INTEGER NOT NULL,"
	" prefixlen INTEGER NOT NULL,"
	" addr BLOB NOT NULL,"
	" cidr TEXT NOT NULL,"
	" created_at INTEGER NOT NULL,"
	" expires_at INTEGER NOT NULL DEFAULT 0,"
	" reason TEXT NOT NULL DEFAULT '',"
	" PRIMARY KEY (kind, family, prefixlen, addr)"
	");"
	/* sw_store_expire() and the expiry filter of sw_store_list() */
	"CREATE INDEX IF NOT EXISTS lists_expires ON lists (expires_at)"
	" WHERE expires_at != 0;";

/* Version 2: operator settings that outlive the daemon (emergency mode). */
static const char settings_sql[] =
	"CREATE TABLE IF NOT EXISTS settings ("
	" key TEXT PRIMARY KEY,"
	" value TEXT NOT NULL,"
	" updated_at INTEGER NOT NULL"
	");";

/* Version 3: the accounts of the policy service (store_accounts.h). */
static const char accounts_sql[] =
	"CREATE TABLE IF NOT EXISTS accounts ("
	" name TEXT PRIMARY KEY,"
	" created_at INTEGER NOT NULL,"
	" suspended_at INTEGER NOT NULL DEFAULT 0,"
	" suspended_until INTEGER NOT NULL DEFAULT 0,"
	" suspend_reason TEXT NOT NULL DEFAULT '',"
	" suspend_by TEXT NOT NULL DEFAULT '',"
	" flagged_at INTEGER NOT NULL DEFAULT 0,"
	" flag_reason TEXT NOT NULL DEFAULT '',"
	" abroad INTEGER NOT NULL DEFAULT -1,"
	" overseas_limit INTEGER NOT NULL DEFAULT -1,"
	" overseas_until INTEGER NOT NULL DEFAULT 0,"
	" msg_minute INTEGER NOT NULL DEFAULT -1,"
	" msg_hour INTEGER NOT NULL DEFAULT -1,"
	" msg_day INTEGER NOT NULL DEFAULT -1,"
	" rcpt_minute INTEGER NOT NULL DEFAULT -1,"
	" rcpt_hour INTEGER NOT NULL DEFAULT -1,"
	" rcpt_day INTEGER NOT NULL DEFAULT -1,"
	" aliases TEXT NOT NULL DEFAULT '',"
	" changed_at INTEGER NOT NULL DEFAULT 0"	/* unix ms of the last write: the daemon's poll */
	");"
	"CREATE INDEX IF NOT EXISTS accounts_changed ON accounts (changed_at);"
	"CREATE TABLE IF NOT EXISTS account_counts ("
	" name TEXT PRIMARY KEY,"
	" first_seen INTEGER NOT NULL,"
	" last_seen INTEGER NOT NULL,"
	" messages INTEGER NOT NULL,"
	" recipients INTEGER NOT NULL,"
	" refused INTEGER NOT NULL,"
	" windows BLOB"
	");"
	"CREATE TABLE IF NOT EXISTS account_addrs ("
	" name TEXT NOT NULL,"
	" addr TEXT NOT NULL,"
	" country TEXT NOT NULL,"
	" first_seen INTEGER NOT NULL,"
	" last_seen INTEGER NOT NULL,"
	" messages INTEGER NOT NULL,"
	" PRIMARY KEY (name, addr)"
	");"
	"CREATE TABLE IF NOT EXISTS account_audit ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" name TEXT NOT NULL,"
	" at INTEGER NOT NULL,"
	" actor TEXT NOT NULL,"
	" action TEXT NOT NULL,"
	" reason TEXT NOT NULL,"
	" detail TEXT NOT NULL DEFAULT ''"
	");"
	"CREATE INDEX IF NOT EXISTS account_audit_name ON account_audit (name, id);";

/*
 * Version 4: the mail-log follower's links between sources and accounts
 * (store_links.h): logins and failed logins of an account from a source
 * key ("203.0.113.5", "2001:db8:1:2::/64"); name "" for failures without
 * a username.
 */
static const char links_sql[] =
	"CREATE TABLE IF NOT EXISTS source_links ("
	" addr TEXT NOT NULL,"
	" name TEXT NOT NULL,"
	" first_seen INTEGER NOT NULL,"
	" last_seen INTEGER NOT NULL,"
	" logins INTEGER NOT NULL,"
	" failures INTEGER NOT NULL,"
	" last_login INTEGER NOT NULL,"
	" last_failure INTEGER NOT NULL,"
	" PRIMARY KEY (addr, name)"
	");"
	"CREATE INDEX IF NOT EXISTS source_links_name ON source_links (name);"
	"CREATE INDEX IF NOT EXISTS source_links_seen ON source_links (last_seen);"
	/* the failed logins a source's next penalty is counting, so a restart keeps counting */
	"CREATE TABLE IF NOT EXISTS source_failures ("
	" addr TEXT PRIMARY KEY,"
	" times TEXT NOT NULL"	/* unix ms, comma separated, oldest first */
	");";

static const char put_sql[] =
	"INSERT OR REPLACE INTO lists"
	" (kind, family, prefixlen, addr, cidr, created_at, expires_at, reason)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
static const char del_sql[] =
	"DELETE FROM lists"
	" WHERE kind = ?1 AND family = ?2 AND prefixlen = ?3 AND addr = ?4";
static const char get_sql[] =
	"SELECT kind, family, prefixlen, addr, created_at, expires_at, reason"
	" FROM lists"
	" WHERE kind = ?1 AND family = ?2 AND prefixlen = ?3 AND addr = ?4";
/* ?1 = 0 selects both kinds; ?2 = 0 disables the expiry filter */
static const char list_sql[] =
	"SELECT kind, family, prefixlen, addr, created_at, expires_at, reason"
	" FROM lists"
	" WHERE (?1 = 0 OR kind = ?1)"
	" AND (?2 <= 0 OR expires_at = 0 OR expires_at > ?2)"
	" ORDER BY kind, family, addr, prefixlen";
static const char expire_sql[] =
	"DELETE FROM lists WHERE expires_at != 0 AND expires_at <= ?1";

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* "cannot <what> <db path>: <sqlite's reason>" */
static int db_fail(struct sw_store *st, char *err, size_t errlen, const char *what)
{
	set_err(err, errlen, "cannot %s %s: %s", what, st->path, sqlite3_errmsg(st->db));
	return -1;
}

/*
 * Copy at most dstlen - 1 bytes of @src and terminate. When that cuts the
 * string, back off to a UTF-8 character boundary so the result never ends
 * in half a character (operators type reasons in any language).
 */
static void copy_text(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	size_t n;

	if (!src)
		srclen = 0;
	srclen = srclen ? strnlen(src, srclen) : 0;
	n = srclen < dstlen - 1 ? srclen : dstlen - 1;
	if (n < srclen)
		while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
			n--;
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

static bool kind_valid(int kind)
{
	return kind == SW_LIST_KIND_ALLOW || kind == SW_LIST_KIND_DENY;
}

static unsigned family_bits(int family)
{
	if (family == SW_AF_INET)
		return 32;
	if (family == SW_AF_INET6)
		return 128;
	return 0;
}

/*
 * The canonical key of @c: address bytes past the family's length and past
 * the prefix are zeroed, so "192.0.2.1/24" and "192.0.2.0/24" are one
 * entry. Also the text form for the cidr column, when @text is given.
 */
static int cidr_key(const struct sw_cidr *c, uint8_t key[16], char *text, size_t textlen,
		    char *err, size_t errlen)
{
	unsigned bits, i;
	char addr[INET6_ADDRSTRLEN];

	if (!c) {
		set_err(err, errlen, "no address prefix given");
		return -1;
	}
	bits = family_bits(c->family);
	if (!bits) {
		set_err(err, errlen, "invalid address family %u", c->family);
		return -1;
	}
	if (c->prefixlen > bits) {
		set_err(err, errlen, "invalid prefix length %u (%s allows 0-%u)",
			c->prefixlen, bits == 32 ? "IPv4" : "IPv6", bits);
		return -1;
	}
	memset(key, 0, 16);
	memcpy(key, c->addr, bits / 8);
	for (i = 0; i < 16; i++) {
		int keep = (int)c->prefixlen - (int)i * 8;

		if (keep <= 0)
			key[i] = 0;
		else if (keep < 8)
			key[i] &= (uint8_t)(0xff << (8 - keep));
	}
	if (text) {
		if (!inet_ntop(c->family == SW_AF_INET ? AF_INET : AF_INET6, key,
			       addr, sizeof(addr)))
			addr[0] = '\0';
		snprintf(text, textlen, "%s/%u", addr, c->prefixlen);
	}
	return 0;
}

static int bind_key(sqlite3_stmt *s, int kind, const struct sw_cidr *c, const uint8_t key[16])
{
	int rc;

	rc = sqlite3_bind_int(s, 1, kind);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(s, 2, c->family);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(s, 3, c->prefixlen);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_blob(s, 4, key, 16, SQLITE_TRANSIENT);
	return rc;
}

/* Statements are reused: leave each one reset and unbound after use. */
static void stmt_done(sqlite3_stmt *s)
{
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

/*
 * Decode a row of get_sql/list_sql. A row that could not have come from
 * sw_store_put() (edited by hand, or a damaged file) is an error rather
 * than something to pass on to the BPF maps.
 */
static int read_row(struct sw_store *st, sqlite3_stmt *s, struct sw_store_entry *e,
		    char *err, size_t errlen)
{
	int kind = sqlite3_column_int(s, 0);
	int family = sqlite3_column_int(s, 1);
	int prefixlen = sqlite3_column_int(s, 2);
	const void *addr = sqlite3_column_blob(s, 3);
	int addrlen = sqlite3_column_bytes(s, 3);
	unsigned bits = family_bits(family);
	const char *reason;

	if (!kind_valid(kind) || !bits || prefixlen < 0 || (unsigned)prefixlen > bits ||
	    !addr || addrlen != 16) {
		set_err(err, errlen,
			"cannot read %s: invalid row in lists (kind %d, family %d, prefixlen %d, %d address bytes)",
			st->path, kind, family, prefixlen, addrlen);
		return -1;
	}
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->cidr.family = family;
	e->cidr.prefixlen = prefixlen;
	memcpy(e->cidr.addr, addr, 16);
	e->created_at = sqlite3_column_int64(s, 4);
	e->expires_at = sqlite3_column_int64(s, 5);
	/* column_text before column_bytes, as SQLite documents */
	reason = (const char *)sqlite3_column_text(s, 6);
	copy_text(e->reason, sizeof(e->reason), reason, sqlite3_column_bytes(s, 6));
	return 0;
}

/* mkdir -p with mode 0750 for every directory it has to create. */
static int make_dirs(const char *dir, char *err, size_t errlen)
{
	char buf[PATH_MAX];
	struct stat sb;
	size_t len = strlen(dir);
	char *p;

	if (len >= sizeof(buf)) {
		set_err(err, errlen, "state_dir %s: path too long", dir);
		return -1;
	}
	memcpy(buf, dir, len + 1);
	for (p = buf + 1; ; p++) {
		char c = *p;

		if (c != '/' && c != '\0')
			continue;
		/* skip runs of slashes: "a//b", "a/" */
		if (p[-1] != '/') {
			*p = '\0';
			if (mkdir(buf, 0750) && errno != EEXIST) {
				set_err(err, errlen, "cannot create state_dir %s: %s",
					buf, strerror(errno));
				return -1;
			}
			*p = c;
		}
		if (c == '\0')
			break;
	}
	if (stat(dir, &sb)) {
		set_err(err, errlen, "cannot access state_dir %s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(sb.st_mode)) {
		set_err(err, errlen, "state_dir %s is not a directory", dir);
		return -1;
	}
	return 0;
}

static int read_user_version(struct sw_store *st, int *version, char *err, size_t errlen)
{
	sqlite3_stmt *s = NULL;
	int rc;

	rc = sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		db_fail(st, err, errlen, "read the schema version of");
		sqlite3_finalize(s);
		return -1;
	}
	*version = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return 0;
}

static int check_version(struct sw_store *st, int version, char *err, size_t errlen)
{
	if (version > SW_STORE_SCHEMA_VERSION) {
		set_err(err, errlen,
			"state.db schema version %d is newer than this smtpwall (%d); refusing to use %s",
			version, SW_STORE_SCHEMA_VERSION, st->path);
		return -1;
	}
	if (version < 0) {
		set_err(err, errlen, "state.db schema version %d is invalid: %s",
			version, st->path);
		return -1;
	}
	return 0;
}

/*
 * Create the tables on a new database. BEGIN IMMEDIATE takes the write lock
 * first, so a daemon and a CLI starting together cannot both decide the
 * database is new; the version is read again under the lock.
 */
static int init_schema(struct sw_store *st, char *err, size_t errlen)
{
	int version;

	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(st, err, errlen, "lock");
	if (read_user_version(st, &version, err, errlen))
		goto rollback;
	if (check_version(st, version, err, errlen))
		goto rollback;
	if (version < 1 && sqlite3_exec(st->db, schema_sql, NULL, NULL, NULL) != SQLITE_OK) {
		db_fail(st, err, errlen, "create the tables in");
		goto rollback;
	}
	if (version < 2 && sqlite3_exec(st->db, settings_sql, NULL, NULL, NULL) != SQLITE_OK) {
		db_fail(st, err, errlen, "add the settings table to");
		goto rollback;
	}
	if (version < 3 && sqlite3_exec(st->db, accounts_sql, NULL, NULL, NULL) != SQLITE_OK) {
		db_fail(st, err, errlen, "add the accounts tables to");
		goto rollback;
	}
	if (version < 4 && sqlite3_exec(st->db, links_sql, NULL, NULL, NULL) != SQLITE_OK) {
		db_fail(st, err, errlen, "add the source links table to");
		goto rollback;
	}
	/* a constant: PRAGMA takes no bound parameters */
	if (version < SW_STORE_SCHEMA_VERSION &&
	    sqlite3_exec(st->db, "PRAGMA user_version = 4", NULL, NULL, NULL) != SQLITE_OK) {
		db_fail(st, err, errlen, "set the schema version of");
		goto rollback;
	}
	if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		db_fail(st, err, errlen, "create the tables in");
		goto rollback;
	}
	return 0;
rollback:
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/*
 * Switching a new database to WAL needs an exclusive lock, and SQLite skips
 * the busy handler when waiting could deadlock (several processes opening
 * a new database at once, each holding a shared lock). Retry with the lock
 * released, within the same time budget as the busy timeout. A database
 * already in WAL mode answers at once.
 */
static int set_wal(struct sw_store *st, char *err, size_t errlen)
{
	int waited = 0, rc;

	for (;;) {
		rc = sqlite3_exec(st->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
		if ((rc & 0xff) != SQLITE_BUSY || waited >= SW_STORE_BUSY_MS)
			break;
		/* a little jitter so that colliding openers drift apart */
		waited += sqlite3_sleep(5 + (getpid() + waited) % 10);
	}
	if (rc != SQLITE_OK)
		return db_fail(st, err, errlen, "enable WAL on");
	return 0;
}

static int prepare(struct sw_store *st, const char *sql, sqlite3_stmt **s, char *err, size_t errlen)
{
	if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, s, NULL) != SQLITE_OK)
		return db_fail(st, err, errlen, "prepare statements for");
	return 0;
}

struct sw_store *sw_store_open(const char *state_dir, char *err, size_t errlen)
{
	struct sw_store *st;
	const char *sep;
	int version, n;

	if (!state_dir || !*state_dir) {
		set_err(err, errlen, "state_dir is empty");
		return NULL;
	}
	if (make_dirs(state_dir, err, errlen))
		return NULL;
	/*
	 * WAL creates state.db-wal and state.db-shm beside the database, so
	 * the directory must be writable even when state.db exists. Checked
	 * here because SQLite's own "unable to open database file" does not
	 * say why.
	 */
	if (faccessat(AT_FDCWD, state_dir, W_OK | X_OK, AT_EACCESS)) {
		set_err(err, errlen, "state_dir %s is not writable: %s", state_dir, strerror(errno));
		return NULL;
	}
	st = calloc(1, sizeof(*st));
	if (!st) {
		set_err(err, errlen, "cannot open state.db in %s: out of memory", state_dir);
		return NULL;
	}
	/*
	 * This SQLite interprets names starting with "file:" as URIs; a
	 * relative state_dir of that shape must still be a plain path.
	 */
	sep = state_dir[strlen(state_dir) - 1] == '/' ? "" : "/";
	n = snprintf(st->path, sizeof(st->path), "%s%s%sstate.db",
		     strncmp(state_dir, "file:", 5) ? "" : "./", state_dir, sep);
	if (n < 0 || (size_t)n >= sizeof(st->path)) {
		set_err(err, errlen, "state_dir %s: path too long", state_dir);
		free(st);
		return NULL;
	}

	if (sqlite3_open_v2(st->path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
			    NULL) != SQLITE_OK) {
		if (!st->db) {
			set_err(err, errlen, "cannot open %s: out of memory", st->path);
			goto fail;
		}
		db_fail(st, err, errlen, "open");
		goto fail;
	}
	/*
	 * SQLite quietly falls back to read-only when the file is not
	 * writable; every user of the store writes, so say so now rather
	 * than at the first ban.
	 */
	if (sqlite3_db_readonly(st->db, "main") == 1) {
		set_err(err, errlen, "cannot open %s for writing: %s", st->path, strerror(EACCES));
		goto fail;
	}
	sqlite3_extended_result_codes(st->db, 1);
	if (sqlite3_busy_timeout(st->db, SW_STORE_BUSY_MS) != SQLITE_OK) {
		db_fail(st, err, errlen, "set the busy timeout on");
		goto fail;
	}

	/*
	 * The first read of the file: a file that is not SQLite fails here
	 * with "file is not a database". Check the version before changing
	 * the journal mode so a newer smtpwall's database is left untouched.
	 */
	if (read_user_version(st, &version, err, errlen) ||
	    check_version(st, version, err, errlen))
		goto fail;

	/*
	 * WAL lets the CLI read while the daemon writes. Should the file
	 * system refuse WAL, SQLite stays in its rollback journal, which is
	 * slower but just as correct with the busy timeout, so that is not
	 * an error.
	 */
	if (set_wal(st, err, errlen))
		goto fail;
	/* in WAL mode NORMAL still never corrupts; it may lose the last commit on power loss */
	if (sqlite3_exec(st->db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) != SQLITE_OK) {
		db_fail(st, err, errlen, "configure");
		goto fail;
	}
	if (init_schema(st, err, errlen))
		goto fail;

	if (prepare(st, put_sql, &st->put, err, errlen) ||
	    prepare(st, del_sql, &st->del, err, errlen) ||
	    prepare(st, get_sql, &st->get, err, errlen) ||
	    prepare(st, list_sql, &st->list, err, errlen) ||
	    prepare(st, expire_sql, &st->expire, err, errlen))
		goto fail;
	return st;
fail:
	sw_store_close(st);
	return NULL;
}

int sw_store_make_dir(const char *state_dir, char *err, size_t errlen)
{
	return make_dirs(state_dir, err, errlen);
}

/* PRAGMA quick_check: 0 if the database reads whole, -1 with what it found. */
static int quick_check(struct sw_store *st, char *err, size_t errlen)
{
	sqlite3_stmt *q;
	int rc, ret = 0;

	if (sqlite3_prepare_v2(st->db, "PRAGMA quick_check(1)", -1, &q, NULL) != SQLITE_OK)
		return db_fail(st, err, errlen, "check");
	rc = sqlite3_step(q);
	if (rc != SQLITE_ROW) {
		ret = db_fail(st, err, errlen, "check");
	} else {
		const char *r = (const char *)sqlite3_column_text(q, 0);

		if (!r || strcmp(r, "ok")) {
			set_err(err, errlen, "%s is damaged: %s", st->path, r ? r : "(no answer)");
			ret = -1;
		}
	}
	sqlite3_finalize(q);
	return ret;
}

/* @path renamed to @path.bad-YYYYmmddTHHMMSSZ (a free name, never one in use); 0, or -errno. */
static int set_aside(const char *path, const char *stamp, int n, char *out, size_t outlen)
{
	char to[PATH_MAX + 64];

	if (n)
		snprintf(to, sizeof(to), "%s.bad-%s.%d", path, stamp, n);
	else
		snprintf(to, sizeof(to), "%s.bad-%s", path, stamp);
	if (renameat2(AT_FDCWD, path, AT_FDCWD, to, RENAME_NOREPLACE))
		return -errno;
	if (out)
		snprintf(out, outlen, "%s", to);
	return 0;
}

struct sw_store *sw_store_open_recover(const char *state_dir, char *aside, size_t asidelen, char *err,
				       size_t errlen)
{
	char why[SW_ERR_LEN] = "", path[PATH_MAX + 16], stamp[32];
	struct sw_store *st;
	struct stat sb;
	struct tm tm;
	time_t now = time(NULL);
	int r = -EEXIST;

	if (aside && asidelen)
		aside[0] = 0;
	st = sw_store_open(state_dir, why, sizeof(why));
	if (st && !quick_check(st, why, sizeof(why)))
		return st;
	sw_store_close(st);
	snprintf(path, sizeof(path), "%s/state.db", state_dir);
	if (stat(path, &sb) || !S_ISREG(sb.st_mode)) {
		/* Nothing to set aside: the fault is the directory's (permissions, space). */
		set_err(err, errlen, "%s", why);
		return NULL;
	}
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	for (int n = 0; n < 100 && r == -EEXIST; n++)
		r = set_aside(path, stamp, n, aside, asidelen);
	if (r) {
		set_err(err, errlen, "%s; and it cannot be set aside: %s", why, strerror(-r));
		return NULL;
	}
	/* Its journal files belong to it: they go with it, or a fresh file would replay them. */
	static const char *const journals[] = { "-wal", "-shm" };

	for (size_t i = 0; i < sizeof(journals) / sizeof(journals[0]); i++) {
		char j[PATH_MAX + 32], jto[PATH_MAX + 96];

		snprintf(j, sizeof(j), "%s%s", path, journals[i]);
		snprintf(jto, sizeof(jto), "%s%s", aside, journals[i]);
		if (rename(j, jto) && errno != ENOENT) {
			set_err(err, errlen, "%s; set aside as %s, but its %s file cannot follow: %s", why,
				aside, journals[i], strerror(errno));
			return NULL;
		}
	}
	st = sw_store_open(state_dir, err, errlen);
	if (!st)
		return NULL;
	/* What went wrong, for the caller to say; the fresh store is open. */
	set_err(err, errlen, "%s", why);
	return st;
}

void sw_store_close(struct sw_store *st)
{
	if (!st)
		return;
	sqlite3_finalize(st->put);
	sqlite3_finalize(st->del);
	sqlite3_finalize(st->get);
	sqlite3_finalize(st->list);
	sqlite3_finalize(st->expire);
	/* close_v2: never leaves the handle open because of a stray statement */
	sqlite3_close_v2(st->db);
	free(st);
}

int sw_store_put(struct sw_store *st, const struct sw_store_entry *e, char *err, size_t errlen)
{
	char text[SW_CIDR_TEXT_LEN];
	char reason[sizeof(e->reason)];
	char msg[SW_ERR_LEN];
	uint8_t key[16];
	sqlite3_stmt *s = st->put;
	int rc;

	if (!kind_valid(e->kind)) {
		set_err(err, errlen, "cannot insert into %s: invalid list kind %d",
			st->path, (int)e->kind);
		return -1;
	}
	if (e->expires_at < 0) {
		set_err(err, errlen, "cannot insert into %s: negative expiry time %lld",
			st->path, (long long)e->expires_at);
		return -1;
	}
	if (cidr_key(&e->cidr, key, text, sizeof(text), msg, sizeof(msg))) {
		set_err(err, errlen, "cannot insert into %s: %s", st->path, msg);
		return -1;
	}
	/* the caller's reason need not be terminated: store what get will return */
	copy_text(reason, sizeof(reason), e->reason, sizeof(e->reason));

	rc = bind_key(s, e->kind, &e->cidr, key);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(s, 5, text, -1, SQLITE_TRANSIENT);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 6, e->created_at);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 7, e->expires_at);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(s, 8, reason, -1, SQLITE_TRANSIENT);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc != SQLITE_DONE) {
		db_fail(st, err, errlen, "insert into");
		stmt_done(s);
		return -1;
	}
	stmt_done(s);
	return 0;
}

int sw_store_del(struct sw_store *st, enum sw_list_kind kind, const struct sw_cidr *cidr,
		 char *err, size_t errlen)
{
	char msg[SW_ERR_LEN];
	uint8_t key[16];
	sqlite3_stmt *s = st->del;
	int rc;

	if (!kind_valid(kind)) {
		set_err(err, errlen, "cannot delete from %s: invalid list kind %d", st->path, (int)kind);
		return -1;
	}
	if (cidr_key(cidr, key, NULL, 0, msg, sizeof(msg))) {
		set_err(err, errlen, "cannot delete from %s: %s", st->path, msg);
		return -1;
	}
	rc = bind_key(s, kind, cidr, key);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc != SQLITE_DONE) {
		db_fail(st, err, errlen, "delete from");
		stmt_done(s);
		return -1;
	}
	/* read before reset: changes() belongs to the last finished statement */
	rc = sqlite3_changes(st->db) > 0;
	stmt_done(s);
	return rc;
}

int sw_store_get(struct sw_store *st, enum sw_list_kind kind, const struct sw_cidr *cidr,
		 struct sw_store_entry *out, char *err, size_t errlen)
{
	char msg[SW_ERR_LEN];
	uint8_t key[16];
	sqlite3_stmt *s = st->get;
	int rc;

	if (!kind_valid(kind)) {
		set_err(err, errlen, "cannot query %s: invalid list kind %d", st->path, (int)kind);
		return -1;
	}
	if (cidr_key(cidr, key, NULL, 0, msg, sizeof(msg))) {
		set_err(err, errlen, "cannot query %s: %s", st->path, msg);
		return -1;
	}
	rc = bind_key(s, kind, cidr, key);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		stmt_done(s);
		return 0;
	}
	if (rc != SQLITE_ROW) {
		db_fail(st, err, errlen, "query");
		stmt_done(s);
		return -1;
	}
	rc = read_row(st, s, out, err, errlen) ? -1 : 1;
	stmt_done(s);
	return rc;
}

int sw_store_list(struct sw_store *st, enum sw_list_kind kind, int64_t now,
		  struct sw_store_entry **out, int *n, char *err, size_t errlen)
{
	struct sw_store_entry *v = NULL, *nv;
	sqlite3_stmt *s = st->list;
	int cnt = 0, cap = 0, rc;

	*out = NULL;
	*n = 0;
	if (kind != 0 && !kind_valid(kind)) {
		set_err(err, errlen, "cannot list %s: invalid list kind %d", st->path, (int)kind);
		return -1;
	}
	rc = sqlite3_bind_int(s, 1, kind);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 2, now);
	if (rc != SQLITE_OK) {
		db_fail(st, err, errlen, "list");
		goto fail;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (cnt == cap) {
			if (cap > INT_MAX / 2) {
				set_err(err, errlen, "cannot list %s: too many entries", st->path);
				goto fail;
			}
			cap = cap ? cap * 2 : 64;
			nv = realloc(v, (size_t)cap * sizeof(*v));
			if (!nv) {
				set_err(err, errlen, "cannot list %s: out of memory", st->path);
				goto fail;
			}
			v = nv;
		}
		if (read_row(st, s, &v[cnt], err, errlen))
			goto fail;
		cnt++;
	}
	if (rc != SQLITE_DONE) {
		db_fail(st, err, errlen, "list");
		goto fail;
	}
	stmt_done(s);
	*out = v;
	*n = cnt;
	return 0;
fail:
	stmt_done(s);
	free(v);
	return -1;
}

int sw_store_expire(struct sw_store *st, int64_t now, char *err, size_t errlen)
{
	sqlite3_stmt *s = st->expire;
	int rc;

	rc = sqlite3_bind_int64(s, 1, now);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc != SQLITE_DONE) {
		db_fail(st, err, errlen, "expire entries in");
		stmt_done(s);
		return -1;
	}
	rc = sqlite3_changes(st->db);
	stmt_done(s);
	return rc;
}

int sw_store_setting_get(struct sw_store *st, const char *key, char *value, size_t len, char *err,
			 size_t errlen)
{
	sqlite3_stmt *s;
	int rc, ret = 0;

	if (sqlite3_prepare_v2(st->db, "SELECT value FROM settings WHERE key = ?1", -1, &s, NULL) != SQLITE_OK)
		return db_fail(st, err, errlen, "read a setting from");
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const unsigned char *v = sqlite3_column_text(s, 0);

		snprintf(value, len, "%s", v ? (const char *)v : "");
		ret = 1;
	} else if (rc != SQLITE_DONE) {
		ret = db_fail(st, err, errlen, "read a setting from");
	}
	sqlite3_finalize(s);
	return ret;
}

int sw_store_setting_put(struct sw_store *st, const char *key, const char *value, char *err, size_t errlen)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(st->db,
			       "INSERT OR REPLACE INTO settings (key, value, updated_at) VALUES (?1, ?2, ?3)",
			       -1, &s, NULL) != SQLITE_OK)
		return db_fail(st, err, errlen, "write a setting to");
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)time(NULL));
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return db_fail(st, err, errlen, "write a setting to");
	return 0;
}

sqlite3 *sw_store_sqlite(struct sw_store *st)
{
	return st->db;
}

const char *sw_store_file(const struct sw_store *st)
{
	return st->path;
}
