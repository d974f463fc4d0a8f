// SPDX-License-Identifier: GPL-2.0
/*
 * The journal reader (user/maillog/journal.c) on real journal files:
 * systemd-journal-remote writes them from the export format into a
 * temporary directory, while the reader has them open or between two
 * opens. Which entries are mail, the line each becomes, the bound, the
 * tail start, resuming from a cursor with nothing read twice or skipped,
 * an invalid cursor, and no journal at all.
 */
#include <errno.h>
#include <ftw.h>
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

#include "journal.h"

#define JOURNAL_REMOTE	"/lib/systemd/systemd-journal-remote"
#define LINES_MAX	256

struct fixture {
	char dir[64];
	uint64_t clock;		/* the entries' timestamps, increasing across batches */
	char *lines[LINES_MAX];
	size_t lens[LINES_MAX];
	unsigned flags[LINES_MAX];
	unsigned n;
};

static int rm_entry(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
	return remove(p);
}

static void forget(struct fixture *f)
{
	for (unsigned i = 0; i < f->n; i++)
		free(f->lines[i]);
	f->n = 0;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/test_journal.XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	f->clock = 1765000000000000ull;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	forget(f);
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void on_line(void *ctx, const char *line, size_t len, unsigned flags)
{
	struct fixture *f = ctx;

	assert_true(f->n < LINES_MAX);
	assert_int_equal(strlen(line), len);
	f->lines[f->n] = strndup(line, len);
	f->lens[f->n] = len;
	f->flags[f->n] = flags;
	f->n++;
}

static void expect_lines(struct fixture *f, ...)
{
	va_list ap;
	unsigned i = 0;
	const char *want;

	va_start(ap, f);
	while ((want = va_arg(ap, const char *))) {
		assert_true(i < f->n);
		assert_string_equal(f->lines[i], want);
		i++;
	}
	va_end(ap);
	assert_int_equal(f->n, i);
	forget(f);
}

/* One journal writer run: entries go to DIR/x.journal (appended) when it is closed. */
static FILE *writer(struct fixture *f)
{
	char cmd[256];
	FILE *w;

	if (access(JOURNAL_REMOTE, X_OK))
		skip();
	snprintf(cmd, sizeof(cmd), "%s --output=%s/x.journal - 2>/dev/null", JOURNAL_REMOTE,
		 f->dir);
	w = popen(cmd, "w");
	assert_non_null(w);
	return w;
}

static void done(FILE *w)
{
	assert_int_equal(pclose(w), 0);
}

/* An entry: "FIELD=value" strings, NULL-terminated, after the timestamps every entry has. */
static void entry(struct fixture *f, FILE *w, ...)
{
	const char *field;
	va_list ap;

	f->clock += 1000;
	fprintf(w, "__REALTIME_TIMESTAMP=%llu\n__MONOTONIC_TIMESTAMP=%llu\n"
		   "_BOOT_ID=0123456789abcdef0123456789abcdef\n",
		(unsigned long long)f->clock, (unsigned long long)(f->clock - 1765000000000000ull));
	va_start(ap, w);
	while ((field = va_arg(ap, const char *)))
		fprintf(w, "%s\n", field);
	va_end(ap);
	fputc('\n', w);
}

/* A mail entry "postfix/smtpd[100+i]: n=<i>". */
static void mail(struct fixture *f, FILE *w, unsigned i)
{
	char pid[32], msg[32];

	snprintf(pid, sizeof(pid), "SYSLOG_PID=%u", 100 + i);
	snprintf(msg, sizeof(msg), "MESSAGE=n=%u", i);
	entry(f, w, "SYSLOG_FACILITY=2", "SYSLOG_IDENTIFIER=postfix/smtpd", pid, msg, NULL);
}

static void not_mail(struct fixture *f, FILE *w)
{
	entry(f, w, "SYSLOG_FACILITY=9", "SYSLOG_IDENTIFIER=CRON", "_PID=7", "MESSAGE=not mail",
	      NULL);
}

/* A MESSAGE in the export format's binary form: its length, then its bytes. */
static void binary_message(struct fixture *f, FILE *w, const char *ident, const char *msg,
			   size_t len)
{
	uint64_t le = htole64(len);

	f->clock += 1000;
	fprintf(w, "__REALTIME_TIMESTAMP=%llu\n__MONOTONIC_TIMESTAMP=%llu\n"
		   "_BOOT_ID=0123456789abcdef0123456789abcdef\n"
		   "SYSLOG_FACILITY=2\nSYSLOG_IDENTIFIER=%s\n",
		(unsigned long long)f->clock, (unsigned long long)(f->clock - 1765000000000000ull),
		ident);
	fputs("MESSAGE\n", w);
	fwrite(&le, sizeof(le), 1, w);
	fwrite(msg, 1, len, w);
	fputs("\n\n", w);
}

static struct sw_journal *open_at(struct fixture *f, const char *cursor)
{
	char err[256] = "";
	struct sw_journal *j = sw_journal_open(f->dir, cursor, err, sizeof(err));

	if (!j)
		fail_msg("sw_journal_open: %s", err);
	return j;
}

static int rd(struct sw_journal *j, struct fixture *f, unsigned max)
{
	return sw_journal_read(j, on_line, f, max);
}

/* The mail entries (facility mail, or an identifier postfix*) and the line each is. */
static void test_filter_and_format(void **state)
{
	struct fixture *f = *state;
	struct sw_journal *j;
	FILE *w;

	w = writer(f);
	not_mail(f, w);
	done(w);
	j = open_at(f, NULL);
	assert_true(sw_journal_fd(j) >= 0);
	assert_int_equal(rd(j, f, 100), 0);	/* the tail: nothing before the open */

	w = writer(f);
	entry(f, w, "SYSLOG_FACILITY=2", "SYSLOG_IDENTIFIER=postfix/smtpd", "SYSLOG_PID=42",
	      "_PID=43", "MESSAGE=connect from mx.example.net[192.0.2.1]", NULL);
	not_mail(f, w);
	entry(f, w, "SYSLOG_FACILITY=16", "SYSLOG_IDENTIFIER=postfix-out/smtp", "_PID=7",
	      "MESSAGE=4Tq2X: to=<b@example.com>, status=sent", NULL);
	entry(f, w, "SYSLOG_FACILITY=2", "SYSLOG_IDENTIFIER=dovecot", "_PID=99",
	      "MESSAGE=imap-login: Login", NULL);
	entry(f, w, "SYSLOG_FACILITY=2", "SYSLOG_IDENTIFIER=postfix/qmgr", "MESSAGE=4Tq2X: removed",
	      NULL);
	entry(f, w, "SYSLOG_FACILITY=2", "SYSLOG_IDENTIFIER=postfix/cleanup", "_PID=5", NULL);
	entry(f, w, "SYSLOG_FACILITY=3", "SYSLOG_IDENTIFIER=postfi", "MESSAGE=not postfix", NULL);
	entry(f, w, "SYSLOG_FACILITY=2", "_COMM=sendmail", "_PID=8", "MESSAGE=no identifier", NULL);
	binary_message(f, w, "postfix/smtpd", "two\nlines\0nul", 13);
	done(w);

	assert_int_equal(rd(j, f, 100), 6);
	expect_lines(f, "postfix/smtpd[42]: connect from mx.example.net[192.0.2.1]",
		     "postfix-out/smtp[7]: 4Tq2X: to=<b@example.com>, status=sent",
		     "dovecot[99]: imap-login: Login",
		     "postfix/qmgr: 4Tq2X: removed",
		     "sendmail[8]: no identifier",
		     "postfix/smtpd: two lines nul", NULL);
	assert_int_equal(sw_journal_stats(j)->no_message, 1);
	assert_int_equal(sw_journal_stats(j)->entries, 9);
	assert_int_equal(sw_journal_stats(j)->lines, 6);
	assert_int_equal(rd(j, f, 100), 0);
	sw_journal_close(j);
}

/*
 * Read some, save the cursor, stop; more is written; start from the
 * cursor: the rest, none twice, none skipped. Also without a stop: what
 * is appended while open is read by the next call.
 */
static void test_cursor_resume(void **state)
{
	struct fixture *f = *state;
	char cursor[SW_JOURNAL_CURSOR_MAX], cursor2[SW_JOURNAL_CURSOR_MAX];
	struct sw_journal *j;
	char want[32];
	FILE *w;

	w = writer(f);
	not_mail(f, w);
	done(w);
	j = open_at(f, "");
	assert_true(sw_journal_cursor(j, cursor, sizeof(cursor)) > 0);	/* the tail's entry */

	w = writer(f);
	for (unsigned i = 0; i < 10; i++) {
		mail(f, w, i);
		if (i % 3 == 0)
			not_mail(f, w);
	}
	done(w);
	assert_int_equal(rd(j, f, 5), 4);	/* 5 entries looked at, one not mail */
	expect_lines(f, "postfix/smtpd[100]: n=0", "postfix/smtpd[101]: n=1",
		     "postfix/smtpd[102]: n=2", "postfix/smtpd[103]: n=3", NULL);
	assert_true(sw_journal_cursor(j, cursor, sizeof(cursor)) > 0);
	assert_int_equal(sw_journal_cursor(j, cursor2, 8), -ENOSPC);
	sw_journal_close(j);

	w = writer(f);
	for (unsigned i = 10; i < 15; i++)
		mail(f, w, i);
	done(w);
	j = open_at(f, cursor);
	assert_non_null(strstr(sw_journal_message(j), "after the saved cursor"));
	assert_int_equal(rd(j, f, 3), 2);	/* the entry after n=3 is not mail */
	assert_int_equal(rd(j, f, 100), 9);
	assert_int_equal(f->n, 11);
	for (unsigned i = 0; i < 11; i++) {
		snprintf(want, sizeof(want), "postfix/smtpd[%u]: n=%u", 104 + i, 4 + i);
		assert_string_equal(f->lines[i], want);
	}
	forget(f);
	assert_int_equal(sw_journal_stats(j)->cursor_lost, 0);

	/* Appended while open, read without reopening. */
	assert_true(sw_journal_fd(j) >= 0);
	w = writer(f);
	mail(f, w, 15);
	not_mail(f, w);
	done(w);
	assert_int_equal(rd(j, f, 100), 1);
	expect_lines(f, "postfix/smtpd[115]: n=15", NULL);
	assert_true(sw_journal_cursor(j, cursor, sizeof(cursor)) > 0);
	sw_journal_close(j);

	/* From the last cursor (the entry filtered out): nothing again, not even looked at. */
	j = open_at(f, cursor);
	assert_int_equal(rd(j, f, 100), 0);
	assert_int_equal(sw_journal_stats(j)->entries, 0);
	w = writer(f);
	mail(f, w, 16);
	done(w);
	assert_int_equal(rd(j, f, 100), 1);
	expect_lines(f, "postfix/smtpd[116]: n=16", NULL);
	sw_journal_close(j);
}

/* No cursor: the tail, entries written before the open are not read. */
static void test_tail_without_cursor(void **state)
{
	struct fixture *f = *state;
	struct sw_journal *j;
	FILE *w;

	w = writer(f);
	mail(f, w, 1);
	mail(f, w, 2);
	done(w);
	j = open_at(f, NULL);
	assert_non_null(strstr(sw_journal_message(j), "tail"));
	assert_int_equal(rd(j, f, 100), 0);
	w = writer(f);
	mail(f, w, 3);
	done(w);
	assert_int_equal(rd(j, f, 100), 1);
	expect_lines(f, "postfix/smtpd[103]: n=3", NULL);
	sw_journal_close(j);
}

/* An invalid cursor: the tail, and said. */
static void test_invalid_cursor(void **state)
{
	struct fixture *f = *state;
	struct sw_journal *j;
	FILE *w;

	w = writer(f);
	mail(f, w, 1);
	done(w);
	j = open_at(f, "this is no cursor");
	assert_non_null(strstr(sw_journal_message(j), "invalid"));
	assert_int_equal(sw_journal_stats(j)->cursor_lost, 1);
	assert_int_equal(rd(j, f, 100), 0);
	w = writer(f);
	mail(f, w, 2);
	done(w);
	assert_int_equal(rd(j, f, 100), 1);
	expect_lines(f, "postfix/smtpd[102]: n=2", NULL);
	sw_journal_close(j);
}

/* A message longer than a line: cut at SW_JOURNAL_LINE_MAX and flagged, once. */
static void test_long_message_truncated(void **state)
{
	struct fixture *f = *state;
	struct sw_journal *j;
	char *msg = malloc(8000);
	FILE *w;

	assert_non_null(msg);
	memset(msg, 'm', 8000);
	w = writer(f);
	not_mail(f, w);
	done(w);
	j = open_at(f, NULL);
	w = writer(f);
	binary_message(f, w, "postfix/smtpd", msg, 8000);
	mail(f, w, 1);
	done(w);
	assert_int_equal(rd(j, f, 100), 2);
	assert_int_equal(f->lens[0], SW_JOURNAL_LINE_MAX);
	assert_int_equal(f->flags[0], SW_FOLLOW_TRUNCATED);
	assert_memory_equal(f->lines[0], "postfix/smtpd: mmm", 18);
	assert_string_equal(f->lines[1], "postfix/smtpd[101]: n=1");
	assert_int_equal(f->flags[1], 0);
	forget(f);
	assert_int_equal(sw_journal_stats(j)->truncated_lines, 1);
	sw_journal_close(j);
	free(msg);
}

/* The cursor's entry is gone (the journal vacuumed): the entries after its place, said. */
static void test_cursor_entry_gone(void **state)
{
	struct fixture *f = *state;
	char cursor[SW_JOURNAL_CURSOR_MAX], path[128];
	struct sw_journal *j;
	FILE *w;

	w = writer(f);
	mail(f, w, 1);
	done(w);
	j = open_at(f, NULL);
	assert_true(sw_journal_cursor(j, cursor, sizeof(cursor)) > 0);
	sw_journal_close(j);
	snprintf(path, sizeof(path), "%s/x.journal", f->dir);
	assert_int_equal(unlink(path), 0);
	w = writer(f);
	mail(f, w, 2);
	mail(f, w, 3);
	done(w);
	j = open_at(f, cursor);
	assert_int_equal(sw_journal_stats(j)->cursor_lost, 1);
	assert_non_null(strstr(sw_journal_message(j), "gone"));
	assert_int_equal(rd(j, f, 100), 2);
	expect_lines(f, "postfix/smtpd[102]: n=2", "postfix/smtpd[103]: n=3", NULL);
	sw_journal_close(j);
}

/* No journal: a clear error, not a crash; an empty directory reads nothing. */
static void test_no_journal(void **state)
{
	struct fixture *f = *state;
	char err[256] = "", missing[128];
	struct sw_journal *j;

	snprintf(missing, sizeof(missing), "%s/none", f->dir);
	assert_null(sw_journal_open(missing, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "no such journal directory"));
	j = open_at(f, NULL);
	assert_int_equal(rd(j, f, 100), 0);
	sw_journal_close(j);

	/* The system journal: open, or a reason (no journald here), never a crash. */
	err[0] = 0;
	j = sw_journal_open(NULL, NULL, err, sizeof(err));
	if (j) {
		assert_true(rd(j, f, 10) >= 0);
		forget(f);
		sw_journal_close(j);
	} else {
		assert_non_null(strstr(err, "journal"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_filter_and_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cursor_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tail_without_cursor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_cursor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cursor_entry_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_message_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_journal, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
