/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Following a mail log file (Postfix's maillog_file, or syslog's
 * /var/log/mail.log) across rotations, truncations and restarts: the
 * reading layer of the mail-log follower. It hands complete lines to a
 * callback; what a line means is the parser's business.
 *
 * What it guarantees:
 * - Only complete lines are delivered, without their LF. A partial last
 *   line waits for its newline. A line longer than SW_FOLLOW_LINE_MAX is
 *   delivered once, cut to SW_FOLLOW_LINE_MAX bytes with
 *   SW_FOLLOW_TRUNCATED, when its newline comes; the rest is skipped and
 *   counted.
 * - sw_follow_position() is the position just after the last line
 *   delivered. A caller that persists it after handling the lines, and
 *   passes it to sw_follow_open() at its next start, reads every line once:
 *   none twice, none skipped, even if the file was rotated while it was
 *   stopped, provided the previous file is still there (see the limits).
 * - Rotation by rename (logrotate's default, "create"): once the path
 *   names another file and that file has data, the old file is read to
 *   its end (its descriptor stays open: lines written to it after the
 *   rename are not lost), then the new one from its first byte. Waiting
 *   for the new file to have data lets a writer that reopens late (on
 *   SIGHUP, "postfix logrotate") finish with the old file first.
 * - Copy-truncate: a file shorter than what was read, or whose first bytes
 *   (up to SW_FOLLOW_HEAD_MAX, hashed) changed, is read again from 0 and
 *   counted as a truncation; the head hash catches a file truncated and
 *   grown again past the old offset between two reads.
 * - A path missing at open is not an error: the state is
 *   SW_FOLLOW_WAITING ("waiting for PATH") and the file is read from 0
 *   when it appears. A path that disappears (SW_FOLLOW_GONE) keeps the old
 *   descriptor, which is still read, and the path is tried at each read.
 *   Each change of state bumps a generation with a message, so the service
 *   logs it once, not at every poll.
 *
 * Its limits:
 * - Resuming after a rotation while stopped finds the previous file by its
 *   inode among PATH.1, PATH.N and PATH-* in the same directory (never a
 *   compressed one: compressing makes a new inode anyway); a file rotated
 *   more than once while stopped is found as long as it is still there
 *   under such a name, but only that file and the current one are read:
 *   the files between them are not, and lines may be lost (counted in
 *   resume_lost and said in the state's message). The same when the
 *   previous file is gone or was compressed.
 * - Copy-truncate loses what was written between the last read and the
 *   truncation (it is in the copy, which is not read), as with any reader.
 * - A file replaced by one whose first SW_FOLLOW_HEAD_MAX bytes are
 *   identical, and which is at least as long, is taken for the same file.
 * - Two rotations between two reads (or two restarts) skip the file in
 *   the middle: the follower knows only the file it reads and the path.
 * - One writer is assumed for the rotation wait: lines written to the old
 *   file after the new one got data, and after the follower left the old
 *   one, are not read.
 *
 * Bounded: one allocation at open (the struct with its read buffer of
 * SW_FOLLOW_BUF bytes); a read call delivers at most max_lines lines;
 * nothing is retried in a loop. Not thread-safe: one thread per follower.
 */
#ifndef SW_FOLLOW_H
#define SW_FOLLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SW_FOLLOW_LINE_MAX	4096	/* bytes of a delivered line, without its LF */
#define SW_FOLLOW_HEAD_MAX	256	/* bytes of a file's head hashed to know it again */
#define SW_FOLLOW_BUF		65536	/* the read buffer (> SW_FOLLOW_LINE_MAX) */

/* Where to start without a saved position. */
enum sw_follow_start {
	SW_FOLLOW_FROM_END = 0,	/* only lines written from now (a partial last line whole) */
	SW_FOLLOW_FROM_START,	/* at the first byte */
};

/* A resumable position; the caller persists it as it is. dev == ino == 0: none. */
struct sw_follow_pos {
	uint64_t dev, ino;	/* the file the offset is in */
	uint64_t offset;	/* just after the last line delivered */
	uint64_t head_hash;	/* FNV-1a of the file's first head_len bytes */
	uint32_t head_len;	/* 0 .. SW_FOLLOW_HEAD_MAX */
};

/* Flags of a delivered line. */
#define SW_FOLLOW_TRUNCATED	0x1u	/* longer than SW_FOLLOW_LINE_MAX: cut, the rest skipped */
#define SW_FOLLOW_UNTERMINATED	0x2u	/* the end of a rotated file, without its LF */

/*
 * One line: @line is @len bytes, NUL-terminated, valid only during the
 * call. The follower must not be used from inside the callback.
 */
typedef void (*sw_follow_line_fn)(void *ctx, const char *line, size_t len, unsigned flags);

enum sw_follow_state {
	SW_FOLLOW_READING = 0,	/* the path is open and is the file being read */
	SW_FOLLOW_WAITING,	/* the path does not exist (yet): nothing open */
	SW_FOLLOW_GONE,		/* the path vanished: the old file still read, the path retried */
	SW_FOLLOW_ERROR,	/* the path cannot be opened or read (permissions, I/O) */
};

struct sw_follow_stats {
	uint64_t lines;			/* delivered */
	uint64_t bytes;			/* delivered, without LFs */
	uint64_t truncated_lines;	/* delivered with SW_FOLLOW_TRUNCATED */
	uint64_t skipped_bytes;		/* the parts of those lines not delivered */
	uint64_t rotations;		/* switches to a new file at the path */
	uint64_t truncations;		/* a file read again from 0 (copy-truncate, new content) */
	uint64_t reopen_errors;		/* times the path became unopenable (once per episode) */
	uint64_t resumed_rotated;	/* resumes that found the previous file, rotated */
	uint64_t resume_lost;		/* resumes that may have lost lines (said) */
};

struct sw_follow;

/*
 * Follow @path. With @resume (and resume->ino != 0), continue from it as
 * described above; otherwise start per @start. NULL with a message in @err
 * only for what cannot get better by waiting (an empty or overlong path,
 * no memory); a missing or unreadable path gives a follower in state
 * SW_FOLLOW_WAITING or SW_FOLLOW_ERROR.
 */
struct sw_follow *sw_follow_open(const char *path, const struct sw_follow_pos *resume,
				 enum sw_follow_start start, char *err, size_t errlen);
void sw_follow_close(struct sw_follow *f);

/*
 * Deliver up to @max_lines complete lines to @fn: what the file holds now,
 * following rotations and truncations. Returns the number delivered (0:
 * nothing new), or -errno when reading the open file failed (its lines up
 * to the failure were delivered; the next call tries again).
 */
int sw_follow_read(struct sw_follow *f, sw_follow_line_fn fn, void *ctx, unsigned max_lines);

/* The position just after the last line delivered (all zero before any file was open). */
void sw_follow_position(const struct sw_follow *f, struct sw_follow_pos *out);

/*
 * The state, its message ("waiting for /var/log/mail.log", "... rotated
 * while stopped; its previous file was not found, lines may have been
 * lost") and a generation that changes with every new message: the
 * service logs when the generation differs from the one it logged.
 */
enum sw_follow_state sw_follow_state(const struct sw_follow *f, const char **message,
				     uint32_t *generation);

const struct sw_follow_stats *sw_follow_stats(const struct sw_follow *f);

/*
 * An inotify descriptor (non-blocking, close-on-exec, owned by the
 * follower) watching the directory of the path and the file being read;
 * readable when there may be something new. sw_follow_read() empties it.
 * Optional: the service polls every 250 ms anyway, as inotify misses what
 * happens on network file systems. -errno if inotify is not available.
 */
int sw_follow_inotify_fd(struct sw_follow *f);

/* FNV-1a 64 of @len bytes: the head hash of struct sw_follow_pos. */
uint64_t sw_follow_hash(const void *buf, size_t len);

#endif
