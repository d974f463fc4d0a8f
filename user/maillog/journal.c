// SPDX-License-Identifier: GPL-2.0
/*
 * The journal reader of journal.h, over sd-journal. sd-journal's position
 * is the entry last moved to: after sd_journal_next() returns 1 the
 * current entry is the one handled, so its cursor is the one to save.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>
#include "journal.h"

struct sw_journal {
	sd_journal *sd;
	char cursor[SW_JOURNAL_CURSOR_MAX];	/* the last entry read, "" for none */
	bool pending;		/* the current entry is not handled yet (a vacuumed cursor) */
	char message[SW_JOURNAL_CURSOR_MAX + 256];
	struct sw_journal_stats stats;
	int64_t entry_ms;	/* the entry being delivered: its realtime, unix ms; 0 unknown */
	char line[SW_JOURNAL_LINE_MAX + 1];
};

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* FIELD's value in the current entry (not NUL-terminated): its length, or -1 if absent. */
static ssize_t field(sd_journal *sd, const char *name, const char **value)
{
	size_t nlen = strlen(name), len;
	const void *data;

	if (sd_journal_get_data(sd, name, &data, &len) < 0 || len <= nlen ||
	    ((const char *)data)[nlen] != '=')
		return -1;
	*value = (const char *)data + nlen + 1;
	return (ssize_t)(len - nlen - 1);
}

static void remember_cursor(struct sw_journal *j)
{
	char *c = NULL;

	if (sd_journal_get_cursor(j->sd, &c) >= 0 && c && strlen(c) < sizeof(j->cursor))
		snprintf(j->cursor, sizeof(j->cursor), "%s", c);
	free(c);
}

/* Append @len bytes of @s to the line at *pos, LF and NUL as spaces; false when cut. */
static bool append(struct sw_journal *j, size_t *pos, const char *s, size_t len)
{
	size_t room = SW_JOURNAL_LINE_MAX - *pos;
	size_t n = len < room ? len : room;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		j->line[*pos + i] = (c == '\n' || c == '\0') ? ' ' : c;
	}
	*pos += n;
	return n == len;
}

static void position(struct sw_journal *j, const char *cursor)
{
	int r;

	if (cursor && *cursor) {
		r = sd_journal_seek_cursor(j->sd, cursor);
		if (r < 0) {
			j->stats.cursor_lost++;
			snprintf(j->message, sizeof(j->message),
				 "the saved journal cursor is invalid (%s): reading from the tail, "
				 "entries since the last run are not read",
				 strerror(-r));
		} else {
			r = sd_journal_next(j->sd);
			if (r > 0 && sd_journal_test_cursor(j->sd, cursor) > 0) {
				snprintf(j->cursor, sizeof(j->cursor), "%s", cursor);
				snprintf(j->message, sizeof(j->message),
					 "reading the journal after the saved cursor");
				return;
			}
			if (r > 0) {
				/* The cursor's entry is gone: this one, after its place, is new. */
				j->pending = true;
				j->stats.cursor_lost++;
				snprintf(j->message, sizeof(j->message),
					 "the saved cursor's journal entry is gone (vacuumed?): "
					 "reading from the entry after its place, entries may have "
					 "been lost");
				return;
			}
			/* Nothing at or after it yet: what comes next is new. */
			snprintf(j->cursor, sizeof(j->cursor), "%s", cursor);
			snprintf(j->message, sizeof(j->message),
				 "reading the journal after the saved cursor");
			return;
		}
	} else {
		snprintf(j->message, sizeof(j->message), "reading the journal from its tail");
	}
	sd_journal_seek_tail(j->sd);
	if (sd_journal_previous(j->sd) > 0)
		remember_cursor(j);
}

struct sw_journal *sw_journal_open(const char *dir, const char *cursor, char *err, size_t errlen)
{
	struct sw_journal *j;
	int r;

	if (dir && !is_dir(dir)) {
		snprintf(err, errlen, "%s: no such journal directory", dir);
		return NULL;
	}
	if (!dir && !is_dir("/run/log/journal") && !is_dir("/var/log/journal")) {
		snprintf(err, errlen,
			 "no systemd journal on this host (neither /run/log/journal nor "
			 "/var/log/journal): read a log file instead");
		return NULL;
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		snprintf(err, errlen, "journal: out of memory");
		return NULL;
	}
	r = dir ? sd_journal_open_directory(&j->sd, dir, 0)
		: sd_journal_open(&j->sd, SD_JOURNAL_LOCAL_ONLY);
	if (r < 0) {
		snprintf(err, errlen, "%s: cannot open the journal: %s",
			 dir ? dir : "system journal", strerror(-r));
		free(j);
		return NULL;
	}
	/* A MESSAGE longer than a line is cut anyway: do not decompress more of it. */
	sd_journal_set_data_threshold(j->sd, SW_JOURNAL_LINE_MAX + 64);
	position(j, cursor);
	return j;
}

void sw_journal_close(struct sw_journal *j)
{
	if (!j)
		return;
	sd_journal_close(j->sd);
	free(j);
}

/* The current entry: delivered when it is mail. */
static bool handle_entry(struct sw_journal *j, sw_follow_line_fn fn, void *ctx)
{
	const char *fac, *ident = NULL, *pid = NULL, *msg;
	ssize_t flen, ilen, plen, mlen;
	bool whole = true;
	size_t pos = 0;

	j->stats.entries++;
	flen = field(j->sd, "SYSLOG_FACILITY", &fac);
	ilen = field(j->sd, "SYSLOG_IDENTIFIER", &ident);
	if (!(flen == 1 && fac[0] == '0' + SW_JOURNAL_FACILITY_MAIL) &&
	    !(ilen >= (ssize_t)strlen(SW_JOURNAL_IDENT_PREFIX) &&
	      !memcmp(ident, SW_JOURNAL_IDENT_PREFIX, strlen(SW_JOURNAL_IDENT_PREFIX))))
		return false;
	mlen = field(j->sd, "MESSAGE", &msg);
	if (mlen < 0) {
		j->stats.no_message++;
		return false;
	}
	if (ilen < 0)
		ilen = field(j->sd, "_COMM", &ident);
	if (ilen < 0) {
		ident = "unknown";
		ilen = 7;
	}
	plen = field(j->sd, "SYSLOG_PID", &pid);
	if (plen < 0)
		plen = field(j->sd, "_PID", &pid);
	whole &= append(j, &pos, ident, (size_t)ilen);
	if (plen > 0) {
		whole &= append(j, &pos, "[", 1);
		whole &= append(j, &pos, pid, (size_t)plen);
		whole &= append(j, &pos, "]", 1);
	}
	whole &= append(j, &pos, ": ", 2);
	whole &= append(j, &pos, msg, (size_t)mlen);
	j->line[pos] = 0;
	{
		uint64_t usec;

		j->entry_ms = sd_journal_get_realtime_usec(j->sd, &usec) ? 0 : (int64_t)(usec / 1000);
	}
	j->stats.lines++;
	if (!whole)
		j->stats.truncated_lines++;
	fn(ctx, j->line, pos, whole ? 0 : SW_FOLLOW_TRUNCATED);
	return true;
}

int sw_journal_read(struct sw_journal *j, sw_follow_line_fn fn, void *ctx, unsigned max)
{
	int delivered = 0;

	/* Picks up new and rotated journal files once sw_journal_fd() was asked for. */
	sd_journal_process(j->sd);
	for (unsigned looked = 0; looked < max; looked++) {
		if (j->pending) {
			j->pending = false;
		} else {
			int r = sd_journal_next(j->sd);

			if (r < 0)
				return r;
			if (r == 0)
				break;
		}
		if (handle_entry(j, fn, ctx))
			delivered++;
		remember_cursor(j);
	}
	return delivered;
}

int sw_journal_cursor(const struct sw_journal *j, char *buf, size_t len)
{
	size_t n = strlen(j->cursor);

	if (n >= len)
		return -ENOSPC;
	memcpy(buf, j->cursor, n + 1);
	return (int)n;
}

int sw_journal_fd(struct sw_journal *j)
{
	return sd_journal_get_fd(j->sd);
}

const char *sw_journal_message(const struct sw_journal *j)
{
	return j->message;
}

const struct sw_journal_stats *sw_journal_stats(const struct sw_journal *j)
{
	return &j->stats;
}

int64_t sw_journal_entry_ms(const struct sw_journal *j)
{
	return j->entry_ms;
}
