// SPDX-License-Identifier: GPL-2.0
/*
 * The log file follower (user/maillog/follow.c) on real files in a
 * temporary directory: lines whole however the writes split them, the
 * line bound, rotation by rename with lines still written to the old
 * file, copy-truncate and a truncated file grown past the offset, resuming
 * at the exact line (also after a rotation while stopped, and reporting
 * when the rotated file is gone), a path that is missing, disappears and
 * comes back; and a thousand lines through random rotations, reads and
 * restarts against what was written.
 */
#include <errno.h>
#include <fcntl.h>
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

#include "follow.h"

#define LINES_MAX 4096

struct fixture {
	char dir[64];
	char path[128];
	char rotated[160];	/* PATH.1 */
	/* what the follower delivered */
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
	strcpy(f->dir, "/tmp/test_follow.XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/mail.log", f->dir);
	snprintf(f->rotated, sizeof(f->rotated), "%s.1", f->path);
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
	assert_int_equal(strlen(line), len);	/* NUL-terminated, no NUL inside */
	f->lines[f->n] = strndup(line, len);
	f->lens[f->n] = len;
	f->flags[f->n] = flags;
	f->n++;
}

/* Append @s to @path as a writer does (O_APPEND, created if missing). */
static void append(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
	close(fd);
}

static void write_fd(int fd, const char *s)
{
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

static int writer_open(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	return fd;
}

static int rd(struct sw_follow *w, struct fixture *f, unsigned max)
{
	return sw_follow_read(w, on_line, f, max);
}

/* The delivered lines are exactly @... (NULL-terminated), then forgotten. */
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

static struct sw_follow *open_follow(struct fixture *f, const struct sw_follow_pos *pos,
				     enum sw_follow_start start)
{
	char err[256] = "";
	struct sw_follow *w = sw_follow_open(f->path, pos, start, err, sizeof(err));

	assert_non_null(w);
	return w;
}

/* Whole lines however the writes split them; the partial one waits. */
static void test_lines_split_across_reads(void **state)
{
	struct fixture *f = *state;
	struct sw_follow_pos pos;
	struct sw_follow *w;

	append(f->path, "");
	w = open_follow(f, NULL, SW_FOLLOW_FROM_START);
	append(f->path, "one\ntw");
	assert_int_equal(rd(w, f, 100), 1);
	expect_lines(f, "one", NULL);
	sw_follow_position(w, &pos);
	assert_int_equal(pos.offset, 4);

	append(f->path, "o\nthr");
	assert_int_equal(rd(w, f, 100), 1);
	append(f->path, "e");
	assert_int_equal(rd(w, f, 100), 0);
	append(f->path, "e\n\nfour\n");
	assert_int_equal(rd(w, f, 100), 3);
	expect_lines(f, "two", "three", "", "four", NULL);

	/* One byte at a time. */
	for (const char *p = "byte by byte\n"; *p; p++) {
		char one[2] = { *p, 0 };

		append(f->path, one);
		assert_int_equal(rd(w, f, 100), p[1] ? 0 : 1);
	}
	expect_lines(f, "byte by byte", NULL);
	sw_follow_position(w, &pos);
	assert_int_equal(pos.offset, 4 + 4 + 6 + 1 + 5 + 13);
	assert_int_equal(sw_follow_stats(w)->lines, 6);
	assert_int_equal(sw_follow_stats(w)->bytes, 3 + 3 + 5 + 0 + 4 + 12);
	sw_follow_close(w);
}

/* A partial last line waits for its LF; the position stays before it; max_lines holds. */
static void test_partial_line_waits(void **state)
{
	struct fixture *f = *state;
	struct sw_follow_pos pos;
	struct sw_follow *w;

	append(f->path, "a\nb\nc\nhalf");
	w = open_follow(f, NULL, SW_FOLLOW_FROM_START);
	assert_int_equal(rd(w, f, 2), 2);
	expect_lines(f, "a", "b", NULL);
	sw_follow_position(w, &pos);
	assert_int_equal(pos.offset, 4);
	assert_int_equal(rd(w, f, 100), 1);
	expect_lines(f, "c", NULL);
	assert_int_equal(rd(w, f, 100), 0);
	assert_int_equal(f->n, 0);
	sw_follow_position(w, &pos);
	assert_int_equal(pos.offset, 6);
	append(f->path, " done\n");
	assert_int_equal(rd(w, f, 100), 1);
	expect_lines(f, "half done", NULL);
	sw_follow_position(w, &pos);
	assert_int_equal(pos.offset, 16);
	sw_follow_close(w);
}

/* FROM_END: only what comes, but a partial last line is read whole. */
static void test_from_end(void **state)
{
	struct fixture *f = *state;
	struct sw_follow *w;

	append(f->path, "old 1\nold 2\nnew be");
	w = open_follow(f, NULL, SW_FOLLOW_FROM_END);
	assert_int_equal(rd(w, f, 100), 0);
	append(f->path, "gun\nnew 2\n");
	assert_int_equal(rd(w, f, 100), 2);
	expect_lines(f, "new begun", "new 2", NULL);
	sw_follow_close(w);
}

/* FROM_END inside a partial line longer than the bound: it is dropped, not cut into a line. */
static void test_from_end_inside_long_line(void **state)
{
	struct fixture *f = *state;
	char *x = malloc(6001);
	struct sw_follow_pos pos;
	struct sw_follow *w;

	assert_non_null(x);
	memset(x, 'x', 6000);
	x[6000] = 0;
	append(f->path, "old\n");
	append(f->path, x);
	w = open_follow(f, NULL, SW_FOLLOW_FROM_END);
	assert_int_equal(rd(w, f, 100), 0);
	append(f->path, "yyy\nnext\n");
	assert_int_equal(rd(w, f, 100), 1);
	expect_lines(f, "next", NULL);
	assert_int_equal(sw_follow_stats(w)->skipped_bytes, SW_FOLLOW_LINE_MAX + 1 + 3);
	sw_follow_position(w, &pos);
	assert_int_equal(pos.offset, 4 + 6000 + 4 + 5);
	sw_follow_close(w);
	free(x);
}

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, c, n);
	s[n] = 0;
	return s;
}

/* Longer than SW_FOLLOW_LINE_MAX: delivered once, cut and flagged, the rest skipped and counted. */
static void test_overlong_line_truncated_once(void **state)
{
	struct fixture *f = *state;
	char *exact = repeat('e', SW_FOLLOW_LINE_MAX), *x = repeat('x', 5000);
	struct sw_follow_pos pos;
	struct sw_follow *w;

	append(f->path, "before\n");
	append(f->path, exact);
	append(f->path, "\n");
	w = open_follow(f, NULL, SW_FOLLOW_FROM_START);
	/* Split over reads: the first half alone delivers nothing, not even the head. */
	append(f->path, x);
	assert_int_equal(rd(w, f, 100), 2);
	assert_int_equal(f->lens[1], SW_FOLLOW_LINE_MAX);
	assert_int_equal(f->flags[1], 0);	/* exactly the bound: whole */
	forget(f);
	sw_follow_position(w, &pos);
	assert_int_equal(pos.offset, 7 + SW_FOLLOW_LINE_MAX + 1); /* at the long line's start */
	assert_int_equal(rd(w, f, 100), 0);
	append(f->path, x);
	assert_int_equal(rd(w, f, 100), 0);
	append(f->path, "\nafter\n");
	assert_int_equal(rd(w, f, 100), 2);
	assert_int_equal(f->n, 2);
	assert_int_equal(f->lens[0], SW_FOLLOW_LINE_MAX);
	assert_int_equal(f->flags[0], SW_FOLLOW_TRUNCATED);
	assert_memory_equal(f->lines[0], x, SW_FOLLOW_LINE_MAX);
	assert_string_equal(f->lines[1], "after");
	assert_int_equal(f->flags[1], 0);
	forget(f);
	assert_int_equal(sw_follow_stats(w)->truncated_lines, 1);
	assert_int_equal(sw_follow_stats(w)->skipped_bytes, 10000 - SW_FOLLOW_LINE_MAX);
	sw_follow_position(w, &pos);
	assert_int_equal(pos.offset, 7 + SW_FOLLOW_LINE_MAX + 1 + 10000 + 1 + 6);

	/* All in one read, the LF already there. */
	append(f->path, x);
	append(f->path, "\nlast\n");
	assert_int_equal(rd(w, f, 100), 2);
	assert_int_equal(f->flags[0], SW_FOLLOW_TRUNCATED);
	assert_int_equal(f->lens[0], SW_FOLLOW_LINE_MAX);
	assert_string_equal(f->lines[1], "last");
	forget(f);
	assert_int_equal(sw_follow_stats(w)->truncated_lines, 2);
	sw_follow_close(w);
	free(exact);
	free(x);
}

/*
 * logrotate's rename: the writer goes on writing to the old file after the
 * rename (until it reopens); the follower, not yet aware, reads those
 * lines before the new file's.
 */
static void test_rename_rotation_mid_traffic(void **state)
{
	struct fixture *f = *state;
	int writer = writer_open(f->path);
	struct sw_follow_pos pos;
	struct sw_follow *w;
	struct stat st;

	write_fd(writer, "1\n2\n");
	w = open_follow(f, NULL, SW_FOLLOW_FROM_START);
	assert_int_equal(rd(w, f, 100), 2);
	expect_lines(f, "1", "2", NULL);

	assert_int_equal(rename(f->path, f->rotated), 0);
	write_fd(writer, "3\n");
	append(f->path, "");		/* logrotate's create: an empty new file */
	assert_int_equal(rd(w, f, 100), 1);
	expect_lines(f, "3", NULL);
	write_fd(writer, "4\npart");	/* still the old one: the new is empty */
	assert_int_equal(rd(w, f, 100), 1);
	expect_lines(f, "4", NULL);
	assert_int_equal(sw_follow_stats(w)->rotations, 0);

	/* The writer finishes its line, reopens and writes the new file. */
	write_fd(writer, "ial 5\n");
	close(writer);
	writer = writer_open(f->path);
	write_fd(writer, "6\n7\n");
	assert_int_equal(rd(w, f, 100), 3);
	expect_lines(f, "partial 5", "6", "7", NULL);
	assert_int_equal(sw_follow_stats(w)->rotations, 1);
	sw_follow_position(w, &pos);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(pos.ino, st.st_ino);
	assert_int_equal(pos.offset, 4);

	/* An old file that ends without its LF: its end is delivered, flagged, at the switch. */
	assert_int_equal(rename(f->path, f->rotated), 0);
	write_fd(writer, "8 cut sho");
	close(writer);
	append(f->path, "9\n");
	assert_int_equal(rd(w, f, 100), 2);
	assert_int_equal(f->flags[0], SW_FOLLOW_UNTERMINATED);
	assert_int_equal(f->flags[1], 0);
	expect_lines(f, "8 cut sho", "9", NULL);
	sw_follow_close(w);
}

/*
 * The race the second drain closes: the writer's last lines go to the
 * old file after the follower read it to its end but before it looked at
 * the path (where the writer has already written). stat() below is the
 * library's own: it lets the test act at that exact moment.
 */
static struct {
	const char *path;
	int *writer;
	bool armed;
} at_stat;

int stat(const char *restrict path, struct stat *restrict st)
{
	if (at_stat.armed && !strcmp(path, at_stat.path)) {
		at_stat.armed = false;
		write_fd(*at_stat.writer, "late\n");
		close(*at_stat.writer);
		*at_stat.writer = writer_open(at_stat.path);
		write_fd(*at_stat.writer, "new\n");
	}
	return fstatat(AT_FDCWD, path, st, 0);
}

static void test_rotation_race_lines_after_the_end(void **state)
{
	struct fixture *f = *state;
	int writer = writer_open(f->path);
	struct sw_follow *w;

	write_fd(writer, "old\n");
	w = open_follow(f, NULL, SW_FOLLOW_FROM_START);
	assert_int_equal(rename(f->path, f->rotated), 0);
	append(f->path, "");
	at_stat.path = f->path;
	at_stat.writer = &writer;
	at_stat.armed = true;
	assert_int_equal(rd(w, f, 100), 3);
	assert_false(at_stat.armed);
	expect_lines(f, "old", "late", "new", NULL);
	close(writer);
	sw_follow_close(w);
}

/* copytruncate: the same file from 0, counted; nothing of it delivered twice. */
static void test_copy_truncate(void **state)
{
	struct fixture *f = *state;
	struct sw_follow *w;

	append(f->path, "line 1\nline 2\nline 3\n");
	w = open_follow(f, NULL, SW_FOLLOW_FROM_START);
	assert_int_equal(rd(w, f, 100), 3);
	forget(f);
	assert_int_equal(truncate(f->path, 0), 0);
	assert_int_equal(rd(w, f, 100), 0);
	assert_int_equal(sw_follow_stats(w)->truncations, 1);
	append(f->path, "line 4\n");
	assert_int_equal(rd(w, f, 100), 1);
	expect_lines(f, "line 4", NULL);
	assert_int_equal(sw_follow_stats(w)->truncations, 1);
	assert_int_equal(sw_follow_stats(w)->rotations, 0);
	sw_follow_close(w);
}

/* Truncated and grown past the offset between two reads: only the head hash tells. */
static void test_truncate_and_grow_past_offset(void **state)
{
	struct fixture *f = *state;
	struct sw_follow *w;

	append(f->path, "Dec  6 12:00:01 mx postfix/smtpd[1]: connect\n");
	w = open_follow(f, NULL, SW_FOLLOW_FROM_START);
	assert_int_equal(rd(w, f, 100), 1);
	forget(f);
	assert_int_equal(truncate(f->path, 0), 0);
	append(f->path, "Dec  6 12:05:00 mx postfix/qmgr[2]: 4Tq2: removed\n"
			"Dec  6 12:05:01 mx postfix/smtpd[3]: disconnect\n");
	assert_int_equal(rd(w, f, 100), 2);
	expect_lines(f, "Dec  6 12:05:00 mx postfix/qmgr[2]: 4Tq2: removed",
		     "Dec  6 12:05:01 mx postfix/smtpd[3]: disconnect", NULL);
	assert_int_equal(sw_follow_stats(w)->truncations, 1);
	sw_follow_close(w);
}

/*
 * Truncated, then the same first bytes written again (a banner), shorter
 * than what was read: the head matches, the size tells.
 */
static void test_truncate_same_head_shorter(void **state)
{
	struct fixture *f = *state;
	struct sw_follow *w;
	char banner[512] = "";

	for (int i = 0; i < 8; i++)
		strcat(banner, "# the same banner line at the top of the log\n");
	append(f->path, banner);
	append(f->path, "old 1\nold 2\nold 3\nold 4\n");
	w = open_follow(f, NULL, SW_FOLLOW_FROM_START);
	assert_int_equal(rd(w, f, 100), 12);
	forget(f);
	assert_int_equal(truncate(f->path, 0), 0);
	append(f->path, banner);
	append(f->path, "new 1\n");
	assert_int_equal(rd(w, f, 100), 9);
	assert_string_equal(f->lines[8], "new 1");
	forget(f);
	assert_int_equal(sw_follow_stats(w)->truncations, 1);
	sw_follow_close(w);
}

/* Save the position after some lines, stop, write, start: the next line exactly. */
static void test_resume_exact_line(void **state)
{
	struct fixture *f = *state;
	struct sw_follow_pos pos;
	struct sw_follow *w;

	append(f->path, "1\n2\n3\n4\n5\npart");
	w = open_follow(f, NULL, SW_FOLLOW_FROM_START);
	assert_int_equal(rd(w, f, 3), 3);
	expect_lines(f, "1", "2", "3", NULL);
	sw_follow_position(w, &pos);
	sw_follow_close(w);

	append(f->path, "ial\n6\n");
	w = open_follow(f, &pos, SW_FOLLOW_FROM_END);	/* the position wins over FROM_END */
	assert_int_equal(rd(w, f, 100), 4);
	expect_lines(f, "4", "5", "partial", "6", NULL);
	assert_int_equal(sw_follow_stats(w)->resume_lost, 0);
	sw_follow_position(w, &pos);
	sw_follow_close(w);

	/* Saved at the very end: nothing again. */
	w = open_follow(f, &pos, SW_FOLLOW_FROM_START);
	assert_int_equal(rd(w, f, 100), 0);
	append(f->path, "7\n");
	assert_int_equal(rd(w, f, 100), 1);
	expect_lines(f, "7", NULL);
	sw_follow_close(w);
}

/* Rotated while stopped: the rest of PATH.1 (found by inode), then the new file. */
static void test_resume_rotated_while_stopped(void **state)
{
	struct fixture *f = *state;
	struct sw_follow_pos pos;
	struct sw_follow *w;
	char decoy[200];
	const char *msg;

	append(f->path, "a1\na2\na3\n");
	w = open_follow(f, NULL, SW_FOLLOW_FROM_START);
	assert_int_equal(rd(w, f, 2), 2);
	forget(f);
	sw_follow_position(w, &pos);
	sw_follow_close(w);

	append(f->path, "a4\n");
	/* An older generation, compressed, and another file beside: never read. */
	snprintf(decoy, sizeof(decoy), "%s.2.gz", f->path);
	append(decoy, "zz\n");
	assert_int_equal(rename(f->path, f->rotated), 0);
	append(f->path, "b1\nb2\n");

	w = open_follow(f, &pos, SW_FOLLOW_FROM_START);
	sw_follow_state(w, &msg, NULL);
	assert_non_null(strstr(msg, "rotated while stopped"));
	assert_int_equal(rd(w, f, 100), 4);
	expect_lines(f, "a3", "a4", "b1", "b2", NULL);
	assert_int_equal(sw_follow_stats(w)->resumed_rotated, 1);
	assert_int_equal(sw_follow_stats(w)->resume_lost, 0);
	assert_int_equal(sw_follow_stats(w)->rotations, 1);
	sw_follow_close(w);
}

/* The same with a dated name (logrotate's dateext), among other names. */
static void test_resume_rotated_dateext(void **state)
{
	struct fixture *f = *state;
	struct sw_follow_pos pos;
	struct sw_follow *w;
	char dated[200], other[200];

	append(f->path, "a1\na2\n");
	w = open_follow(f, NULL, SW_FOLLOW_FROM_START);
	assert_int_equal(rd(w, f, 1), 1);
	forget(f);
	sw_follow_position(w, &pos);
	sw_follow_close(w);

	snprintf(dated, sizeof(dated), "%s-20261206", f->path);
	snprintf(other, sizeof(other), "%s-20261205", f->path);
	append(other, "older\n");
	assert_int_equal(rename(f->path, dated), 0);
	append(f->path, "b1\n");
	w = open_follow(f, &pos, SW_FOLLOW_FROM_START);
	assert_int_equal(rd(w, f, 100), 2);
	expect_lines(f, "a2", "b1", NULL);
	assert_int_equal(sw_follow_stats(w)->resumed_rotated, 1);
	sw_follow_close(w);
}

/* Rotated while stopped and the old file gone: the new one from 0, and said. */
static void test_resume_rotated_gone_is_reported(void **state)
{
	struct fixture *f = *state;
	struct sw_follow_pos pos;
	struct sw_follow *w;
	uint32_t gen;
	const char *msg;
	char gz[200];

	append(f->path, "a1\na2\n");
	w = open_follow(f, NULL, SW_FOLLOW_FROM_START);
	assert_int_equal(rd(w, f, 1), 1);
	forget(f);
	sw_follow_position(w, &pos);
	sw_follow_close(w);

	/* Compressed: a new inode, and a name never opened. */
	snprintf(gz, sizeof(gz), "%s.1.gz", f->path);
	assert_int_equal(rename(f->path, gz), 0);
	append(f->path, "b1\n");
	w = open_follow(f, &pos, SW_FOLLOW_FROM_START);
	assert_int_equal(sw_follow_state(w, &msg, &gen), SW_FOLLOW_READING);
	assert_non_null(strstr(msg, "lines may have been lost"));
	assert_int_equal(sw_follow_stats(w)->resume_lost, 1);
	assert_int_equal(sw_follow_stats(w)->resumed_rotated, 0);
	assert_int_equal(rd(w, f, 100), 1);
	expect_lines(f, "b1", NULL);
	sw_follow_close(w);

	/* A new file at the same inode number would be caught by its head. */
	assert_int_equal(unlink(gz), 0);
}

/* Truncated while stopped: from 0, and said. */
static void test_resume_truncated_while_stopped(void **state)
{
	struct fixture *f = *state;
	struct sw_follow_pos pos;
	struct sw_follow *w;

	append(f->path, "first 1\nfirst 2\n");
	w = open_follow(f, NULL, SW_FOLLOW_FROM_START);
	assert_int_equal(rd(w, f, 100), 2);
	forget(f);
	sw_follow_position(w, &pos);
	sw_follow_close(w);
	assert_int_equal(truncate(f->path, 0), 0);
	append(f->path, "second 1\nsecond 2\nsecond 3\n");	/* longer than before */
	w = open_follow(f, &pos, SW_FOLLOW_FROM_START);
	assert_int_equal(rd(w, f, 100), 3);
	expect_lines(f, "second 1", "second 2", "second 3", NULL);
	assert_int_equal(sw_follow_stats(w)->resume_lost, 1);
	assert_int_equal(sw_follow_stats(w)->truncations, 1);
	sw_follow_close(w);
}

/* Missing at open: waiting, said once; read from 0 when it appears. */
static void test_missing_then_appearing(void **state)
{
	struct fixture *f = *state;
	struct sw_follow *w;
	uint32_t gen, gen2;
	const char *msg;
	struct sw_follow_pos pos;

	w = open_follow(f, NULL, SW_FOLLOW_FROM_END);
	assert_int_equal(sw_follow_state(w, &msg, &gen), SW_FOLLOW_WAITING);
	assert_non_null(strstr(msg, "waiting for"));
	assert_non_null(strstr(msg, f->path));
	for (int i = 0; i < 5; i++)
		assert_int_equal(rd(w, f, 100), 0);
	sw_follow_state(w, NULL, &gen2);
	assert_int_equal(gen, gen2);		/* not said again at each poll */
	assert_int_equal(sw_follow_stats(w)->reopen_errors, 0);
	sw_follow_position(w, &pos);
	assert_int_equal(pos.ino, 0);

	append(f->path, "first\nsecond\n");
	assert_int_equal(rd(w, f, 100), 2);
	expect_lines(f, "first", "second", NULL);
	assert_int_equal(sw_follow_state(w, &msg, &gen2), SW_FOLLOW_READING);
	assert_int_equal(gen2, gen + 1);
	sw_follow_close(w);
}

/* Disappears: the old file still read, the state said once, the path's return followed. */
static void test_disappears_and_returns(void **state)
{
	struct fixture *f = *state;
	int writer = writer_open(f->path);
	struct sw_follow *w;
	uint32_t gen, gen2;
	const char *msg;

	write_fd(writer, "1\n");
	w = open_follow(f, NULL, SW_FOLLOW_FROM_START);
	assert_int_equal(rd(w, f, 100), 1);
	forget(f);
	assert_int_equal(unlink(f->path), 0);
	write_fd(writer, "2\n");
	assert_int_equal(rd(w, f, 100), 1);
	expect_lines(f, "2", NULL);
	assert_int_equal(sw_follow_state(w, &msg, &gen), SW_FOLLOW_GONE);
	assert_non_null(strstr(msg, "disappeared"));
	for (int i = 0; i < 5; i++)
		assert_int_equal(rd(w, f, 100), 0);
	sw_follow_state(w, NULL, &gen2);
	assert_int_equal(gen, gen2);
	assert_int_equal(sw_follow_stats(w)->reopen_errors, 1);

	write_fd(writer, "3\n");
	close(writer);
	append(f->path, "4\n");
	assert_int_equal(rd(w, f, 100), 2);
	expect_lines(f, "3", "4", NULL);
	assert_int_equal(sw_follow_state(w, NULL, NULL), SW_FOLLOW_READING);
	assert_int_equal(sw_follow_stats(w)->rotations, 1);
	sw_follow_close(w);
}

/* The inotify descriptor: readable after a write, emptied by a read. */
static void test_inotify_fd(void **state)
{
	struct fixture *f = *state;
	struct sw_follow *w;
	char buf[64];
	int ifd;

	append(f->path, "");
	w = open_follow(f, NULL, SW_FOLLOW_FROM_START);
	ifd = sw_follow_inotify_fd(w);
	assert_true(ifd >= 0);
	assert_int_equal(sw_follow_inotify_fd(w), ifd);
	assert_true(read(ifd, buf, sizeof(buf)) < 0 && errno == EAGAIN);
	append(f->path, "x\n");
	assert_int_equal(rd(w, f, 100), 1);
	forget(f);
	assert_true(read(ifd, buf, sizeof(buf)) < 0 && errno == EAGAIN);
	/* After a rotation the new file is watched. */
	assert_int_equal(rename(f->path, f->rotated), 0);
	append(f->path, "y\n");
	assert_int_equal(rd(w, f, 100), 1);
	forget(f);
	append(f->path, "z\n");
	assert_true(read(ifd, buf, sizeof(buf)) > 0);
	sw_follow_close(w);
}

/* Bad paths: an error at open only for what waiting cannot fix. */
static void test_bad_paths(void **state)
{
	struct fixture *f = *state;
	char err[256], dirpath[160];
	struct sw_follow *w;

	assert_null(sw_follow_open("", NULL, SW_FOLLOW_FROM_END, err, sizeof(err)));
	assert_non_null(strstr(err, "empty"));
	snprintf(dirpath, sizeof(dirpath), "%s/", f->dir);
	assert_null(sw_follow_open(dirpath, NULL, SW_FOLLOW_FROM_END, err, sizeof(err)));
	/* A directory at the path: an error state, said, not a crash. */
	w = sw_follow_open(f->dir, NULL, SW_FOLLOW_FROM_END, err, sizeof(err));
	assert_non_null(w);
	assert_int_equal(sw_follow_state(w, NULL, NULL), SW_FOLLOW_ERROR);
	assert_int_equal(rd(w, f, 100), 0);
	sw_follow_close(w);
}

/*
 * A thousand numbered lines through a writer that splits its writes, and
 * a follower that reads at random with random bounds, rotated by rename
 * at random points (the writer staying on the old file a while), and
 * restarted at random from its saved position, sometimes across a
 * rotation: every line once, in order.
 */
static void check_delivered(struct fixture *f, unsigned *next)
{
	for (; *next < f->n; (*next)++) {
		char want[32];

		snprintf(want, sizeof(want), "line %u ", *next);
		if (*next >= 1000 || strncmp(f->lines[*next], want, strlen(want)))
			fail_msg("delivered #%u is \"%s\", expected \"%s...\"", *next,
				 f->lines[*next], want);
		assert_int_equal(f->flags[*next], 0);
	}
}

static uint64_t ino_of(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

static void test_thousand_lines_random_rotations(void **state)
{
	struct fixture *f = *state;
	struct sw_follow_pos pos;
	struct sw_follow *w;
	unsigned written = 0, next = 0, rotations = 0, restarts = 0, resumed_rotated = 0;
	bool renamed = false;	/* the writer is on the old file after a rename */
	bool stopped = false;
	int writer = writer_open(f->path);
	char line[128];

	srandom(20261206);
	w = open_follow(f, NULL, SW_FOLLOW_FROM_START);
	while (written < 1000) {
		long r = random() % 100;

		if (r < 55) {
			int len = snprintf(line, sizeof(line), "line %u %.*s\n", written,
					   (int)(random() % 40),
					   "padding padding padding padding padding ");
			size_t cut = (size_t)random() % (size_t)len;

			/* Sometimes in two writes: the follower may read between them. */
			assert_int_equal(write(writer, line, cut), (ssize_t)cut);
			if (!stopped && random() % 4 == 0)
				assert_true(rd(w, f, 1000) >= 0);
			assert_int_equal(write(writer, line + cut, len - cut),
					 (ssize_t)(len - cut));
			written++;
		} else if (r < 80) {
			if (!stopped)
				assert_true(rd(w, f, 1 + (unsigned)(random() % 20)) >= 0);
		} else if (r < 85) {
			/*
			 * logrotate: rename, create. Only once the follower (or its
			 * saved position) is on the file at the path: two renames
			 * in between lose the middle file (follow.h).
			 */
			if (!stopped)
				sw_follow_position(w, &pos);
			if (renamed || pos.ino != ino_of(f->path))
				continue;
			unlink(f->rotated);
			assert_int_equal(rename(f->path, f->rotated), 0);
			append(f->path, "");
			renamed = true;
			rotations++;
		} else if (r < 92) {
			/* The writer reopens (SIGHUP). */
			if (!renamed)
				continue;
			close(writer);
			writer = writer_open(f->path);
			renamed = false;
		} else if (r < 96) {
			if (stopped)
				continue;
			sw_follow_position(w, &pos);
			sw_follow_close(w);
			stopped = true;
			restarts++;
		} else if (stopped) {
			w = open_follow(f, &pos, SW_FOLLOW_FROM_END);
			assert_int_equal(sw_follow_stats(w)->resume_lost, 0);
			resumed_rotated += (unsigned)sw_follow_stats(w)->resumed_rotated;
			stopped = false;
		}
		check_delivered(f, &next);
	}
	if (renamed) {
		close(writer);
		writer = writer_open(f->path);
	}
	if (stopped)
		w = open_follow(f, &pos, SW_FOLLOW_FROM_END);
	while (rd(w, f, 7) > 0)
		;
	check_delivered(f, &next);
	assert_int_equal(next, 1000);
	assert_int_equal(f->n, 1000);
	/* The run went through what it is meant to. */
	assert_true(rotations >= 10);
	assert_true(restarts >= 10);
	assert_true(resumed_rotated >= 1);
	print_message("# %u rotations, %u restarts (%u across a rotation)\n", rotations, restarts,
		      resumed_rotated);
	close(writer);
	sw_follow_close(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lines_split_across_reads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_line_waits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_from_end, setup, teardown),
		cmocka_unit_test_setup_teardown(test_from_end_inside_long_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlong_line_truncated_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename_rotation_mid_traffic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation_race_lines_after_the_end, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_truncate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncate_and_grow_past_offset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncate_same_head_shorter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resume_exact_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resume_rotated_while_stopped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resume_rotated_dateext, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resume_rotated_gone_is_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resume_truncated_while_stopped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_then_appearing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disappears_and_returns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inotify_fd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thousand_lines_random_rotations, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
