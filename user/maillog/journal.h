/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reading the mail log from the systemd journal (sd-journal), for hosts
 * where Postfix logs to journald and no mail.log is written: the other
 * reading layer of the mail-log follower, beside follow.h.
 *
 * Which entries: SYSLOG_FACILITY=2 (mail) or a SYSLOG_IDENTIFIER that
 * begins with "postfix" (postfix/smtpd, postfix-submission/smtpd: a
 * syslog_facility other than mail, multi-instance names). sd-journal
 * matches are exact and cannot say "begins with", so the filter is in
 * code over every entry: cheap beside the parser, and nothing Postfix
 * logs is missed whatever facility it uses.
 *
 * Each entry is delivered as one line "IDENTIFIER[PID]: MESSAGE" (or
 * "IDENTIFIER: MESSAGE" without a PID), what a syslog line holds after its
 * timestamp and host, so the parser reads both; LFs and NULs in a message
 * become spaces, and a line longer than SW_JOURNAL_LINE_MAX is cut and
 * flagged, as in the file follower.
 *
 * Resuming: sw_journal_cursor() names the last entry read (delivered or
 * filtered out); given at the next open, reading continues with the entry
 * after it, so nothing is delivered twice or skipped while the journal
 * still holds it. Without a cursor reading starts at the tail (what is
 * logged from now); with an invalid one too, and the state's message says
 * so. If the entry a cursor names was vacuumed, reading starts at the
 * first entry after its place, counted in cursor_lost.
 *
 * Bounded: a read call handles at most max entries (delivered or not) and
 * one line buffer of SW_JOURNAL_LINE_MAX; fields bigger than that are
 * not decompressed whole (sd_journal_set_data_threshold).
 */
#ifndef SW_JOURNAL_H
#define SW_JOURNAL_H

#include <stddef.h>
#include <stdint.h>
#include "follow.h"

#define SW_JOURNAL_LINE_MAX	SW_FOLLOW_LINE_MAX
#define SW_JOURNAL_CURSOR_MAX	512	/* bytes of a cursor with its NUL (they are ~130) */
#define SW_JOURNAL_IDENT_PREFIX	"postfix"
#define SW_JOURNAL_FACILITY_MAIL 2

struct sw_journal_stats {
	uint64_t entries;		/* looked at */
	uint64_t lines;			/* delivered */
	uint64_t truncated_lines;	/* delivered with SW_FOLLOW_TRUNCATED */
	uint64_t no_message;		/* mail entries without MESSAGE, not delivered */
	uint64_t cursor_lost;		/* resumes whose cursor's entry was gone or invalid */
};

struct sw_journal;

/*
 * Open the system journal (@dir NULL: the local machine's, system and
 * user) or the journal files in @dir (tests, a journal copied from
 * elsewhere), resuming after @cursor (NULL or "": at the tail). NULL with
 * a message in @err when there is no journal to read (no journald's
 * directory, @dir missing) or sd-journal fails.
 */
struct sw_journal *sw_journal_open(const char *dir, const char *cursor, char *err, size_t errlen);
void sw_journal_close(struct sw_journal *j);

/*
 * Deliver the matching entries that came since the last call, up to @max
 * entries looked at, to @fn (flags: SW_FOLLOW_TRUNCATED). Returns the
 * number of lines delivered, or -errno from sd-journal.
 */
int sw_journal_read(struct sw_journal *j, sw_follow_line_fn fn, void *ctx, unsigned max);

/*
 * The cursor of the last entry read into @buf ("" before any): the caller
 * persists it. Returns its length, or -ENOSPC if @len is too small.
 */
int sw_journal_cursor(const struct sw_journal *j, char *buf, size_t len);

/* sd_journal_get_fd(): poll it for POLLIN, then sw_journal_read(). -errno if none. */
int sw_journal_fd(struct sw_journal *j);

/* What the open did ("reading ... after the saved cursor", "invalid cursor ...: at the tail"). */
const char *sw_journal_message(const struct sw_journal *j);

const struct sw_journal_stats *sw_journal_stats(const struct sw_journal *j);
/* During sw_journal_read's callback: the entry's time (unix ms), 0 if the journal has none. */
int64_t sw_journal_entry_ms(const struct sw_journal *j);

#endif
