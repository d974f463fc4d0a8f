// SPDX-License-Identifier: GPL-2.0
/*
 * The log file follower of follow.h.
 *
 * Offsets: read_off is where the next pread() reads, done_off is just
 * after the last line delivered (the position). Outside a long line the
 * buffer holds the bytes between them, buf[start..len), so done_off +
 * (len - start) == read_off. In a long line (skipping) the buffer keeps
 * the line's first SW_FOLLOW_LINE_MAX bytes in buf[0..len) (or nothing,
 * when the line began before we did), and the bytes after them up to its
 * newline are counted and dropped; done_off stays at the line's start
 * until the newline delivers it, so a position saved meanwhile resumes
 * with the whole line, never with its tail as a line of its own.
 *
 * pread() keeps no file offset of ours in the kernel: switching files or
 * starting again at 0 is setting read_off.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>
#include "follow.h"

#define FOLLOW_SCAN_MAX		4096	/* directory entries looked at for a rotated file */
#define FOLLOW_SWITCHES_MAX	8	/* file switches in one read call */
#define FOLLOW_MSG_LEN		(PATH_MAX + 256)

struct sw_follow {
	char path[PATH_MAX];
	char dir[PATH_MAX];
	char base[NAME_MAX + 1];

	int fd;			/* the file being read, -1 when none */
	uint64_t dev, ino;
	uint64_t read_off, done_off;
	uint64_t head_hash;
	uint32_t head_len;
	int next_fd;		/* the new file at the path, read once fd is drained; -1 */
	bool from_end_later;	/* the path existed at open but could not be opened */

	size_t start, len;
	bool skipping;		/* in a line longer than SW_FOLLOW_LINE_MAX */
	uint64_t skipped;	/* of that line, dropped so far */

	enum sw_follow_state state;
	char message[FOLLOW_MSG_LEN];
	uint32_t generation;

	int ifd, wd_dir, wd_file;
	struct sw_follow_stats stats;
	char buf[SW_FOLLOW_BUF + 1];
};

uint64_t sw_follow_hash(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* A new message (and generation) only when the state or the words change. */
static void __attribute__((format(printf, 3, 4)))
set_state(struct sw_follow *f, enum sw_follow_state state, const char *fmt, ...)
{
	char msg[FOLLOW_MSG_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (state == f->state && !strcmp(msg, f->message))
		return;
	f->state = state;
	memcpy(f->message, msg, sizeof(msg));
	f->generation++;
}

static void watch_file(struct sw_follow *f)
{
	char proc[64];

	if (f->ifd < 0)
		return;
	if (f->wd_dir < 0)
		f->wd_dir = inotify_add_watch(f->ifd, f->dir,
					      IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE);
	if (f->wd_file >= 0) {
		inotify_rm_watch(f->ifd, f->wd_file);
		f->wd_file = -1;
	}
	if (f->fd < 0)
		return;
	/* The inode we read, whatever the path names now. */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", f->fd);
	f->wd_file = inotify_add_watch(f->ifd, proc,
				       IN_MODIFY | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF);
}

/* The first bytes of @fd, up to SW_FOLLOW_HEAD_MAX: their count, or -errno. */
static ssize_t read_head(int fd, char *head)
{
	ssize_t n;

	do
		n = pread(fd, head, SW_FOLLOW_HEAD_MAX, 0);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

static bool head_matches(int fd, uint64_t hash, uint32_t len)
{
	char head[SW_FOLLOW_HEAD_MAX];
	ssize_t n;

	if (len > SW_FOLLOW_HEAD_MAX)
		return false;
	n = read_head(fd, head);
	return n >= (ssize_t)len && sw_follow_hash(head, len) == hash;
}

static void reset_reading(struct sw_follow *f, uint64_t off)
{
	f->read_off = f->done_off = off;
	f->start = f->len = 0;
	f->skipping = false;
	f->skipped = 0;
}

static void take_head(struct sw_follow *f)
{
	char head[SW_FOLLOW_HEAD_MAX];
	ssize_t n = read_head(f->fd, head);

	if (n < 0)
		n = 0;
	f->head_len = (uint32_t)n;
	f->head_hash = sw_follow_hash(head, (size_t)n);
}

/* Read @fd (ours from now on) from @off. */
static void adopt(struct sw_follow *f, int fd, uint64_t off)
{
	struct stat st;

	if (f->fd >= 0)
		close(f->fd);
	f->fd = fd;
	f->dev = f->ino = 0;
	if (fstat(fd, &st) == 0) {
		f->dev = (uint64_t)st.st_dev;
		f->ino = (uint64_t)st.st_ino;
	}
	take_head(f);
	reset_reading(f, off);
	watch_file(f);
}

/* Open the path: a regular file's descriptor, or -errno. */
static int open_path(struct sw_follow *f)
{
	struct stat st;
	int fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		int e = S_ISREG(st.st_mode) ? errno : EINVAL;

		close(fd);
		return -e;
	}
	return fd;
}

/* The path cannot be opened (@e > 0): the state that says so, one episode one count. */
static void path_failed(struct sw_follow *f, int e)
{
	enum sw_follow_state state;

	if (e == ENOENT || e == ENOTDIR)
		state = f->fd >= 0 ? SW_FOLLOW_GONE : SW_FOLLOW_WAITING;
	else
		state = SW_FOLLOW_ERROR;
	if (state != f->state && state != SW_FOLLOW_WAITING)
		f->stats.reopen_errors++;
	if (state == SW_FOLLOW_WAITING)
		set_state(f, state, "waiting for %s", f->path);
	else if (state == SW_FOLLOW_GONE)
		set_state(f, state,
			  "%s has disappeared: still reading the file it named, trying the path "
			  "again at each read",
			  f->path);
	else if (e == EINVAL)
		set_state(f, state, "%s: not a regular file", f->path);
	else
		set_state(f, state, "%s: cannot open: %s", f->path, strerror(e));
}

/* Where a start "at the end" begins: after the last LF, so a partial last line is whole. */
static void start_at_end(struct sw_follow *f)
{
	struct stat st;
	uint64_t size, window;
	ssize_t n;
	char *nl;

	if (fstat(f->fd, &st) < 0 || st.st_size <= 0)
		return;
	size = (uint64_t)st.st_size;
	window = size < SW_FOLLOW_LINE_MAX + 1 ? size : SW_FOLLOW_LINE_MAX + 1;
	n = pread(f->fd, f->buf, window, (off_t)(size - window));
	if (n != (ssize_t)window) {
		reset_reading(f, size);
		return;
	}
	nl = memrchr(f->buf, '\n', window);
	if (nl) {
		reset_reading(f, size - window + (uint64_t)(nl - f->buf) + 1);
	} else if (window == size) {
		reset_reading(f, 0);
	} else {
		/* Inside a line longer than we keep: drop it to its LF, deliver nothing of it. */
		reset_reading(f, size);
		f->done_off = size - window;
		f->skipping = true;
		f->skipped = window;
	}
}

static void start_fresh(struct sw_follow *f, enum sw_follow_start start)
{
	int fd = open_path(f);

	if (fd < 0) {
		/* Missing: everything it will hold is new. Unreadable: it may be old. */
		f->from_end_later = fd != -ENOENT && start == SW_FOLLOW_FROM_END;
		path_failed(f, -fd);
		return;
	}
	adopt(f, fd, 0);
	if (start == SW_FOLLOW_FROM_END)
		start_at_end(f);
	set_state(f, SW_FOLLOW_READING, "reading %s from %s", f->path,
		  start == SW_FOLLOW_FROM_END ? "its end" : "its start");
}

static bool compressed(const char *name)
{
	static const char *const suffixes[] = {
		".gz", ".bz2", ".xz", ".zst", ".lz4", ".lzma", ".Z", ".zip",
	};
	size_t len = strlen(name);

	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		size_t s = strlen(suffixes[i]);

		if (len >= s && !strcmp(name + len - s, suffixes[i]))
			return true;
	}
	return false;
}

/* @name in @dfd when it is the file of @pos, still holding what was read: its descriptor, or -1. */
static int try_rotated(int dfd, const char *name, const struct sw_follow_pos *pos)
{
	struct stat st;
	int fd;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_dev != pos->dev || (uint64_t)st.st_ino != pos->ino)
		return -1;
	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_ino != pos->ino ||
	    (uint64_t)st.st_size < pos->offset ||
	    !head_matches(fd, pos->head_hash, pos->head_len)) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The file of @pos among the rotated names of the path (PATH.1 first, then
 * PATH.* and PATH-*, uncompressed): its descriptor, or -1; @name its name.
 */
static int find_rotated(struct sw_follow *f, const struct sw_follow_pos *pos, char *name,
			size_t namelen)
{
	size_t blen = strlen(f->base);
	unsigned seen = 0;
	struct dirent *de;
	DIR *d;
	int dfd, fd = -1;

	dfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -1;
	}
	snprintf(name, namelen, "%s.1", f->base);
	fd = try_rotated(dfd, name, pos);
	while (fd < 0 && seen++ < FOLLOW_SCAN_MAX && (de = readdir(d))) {
		if (strncmp(de->d_name, f->base, blen) ||
		    (de->d_name[blen] != '.' && de->d_name[blen] != '-') || !de->d_name[blen + 1] ||
		    compressed(de->d_name))
			continue;
		snprintf(name, namelen, "%s", de->d_name);
		fd = try_rotated(dfd, name, pos);
	}
	closedir(d);
	return fd;
}

static void resume_from(struct sw_follow *f, const struct sw_follow_pos *pos)
{
	char name[NAME_MAX + 1];
	struct stat st;
	int fd = open_path(f), old;

	if (fd >= 0 && fstat(fd, &st) == 0 && (uint64_t)st.st_dev == pos->dev &&
	    (uint64_t)st.st_ino == pos->ino) {
		if ((uint64_t)st.st_size >= pos->offset &&
		    head_matches(fd, pos->head_hash, pos->head_len)) {
			adopt(f, fd, pos->offset);
			set_state(f, SW_FOLLOW_READING, "reading %s from the saved offset %llu",
				  f->path, (unsigned long long)pos->offset);
			return;
		}
		adopt(f, fd, 0);
		f->stats.truncations++;
		f->stats.resume_lost++;
		set_state(f, SW_FOLLOW_READING,
			  "%s was truncated or rewritten while stopped (saved offset %llu, now "
			  "%lld bytes): reading it from the start, lines may have been lost",
			  f->path, (unsigned long long)pos->offset, (long long)st.st_size);
		return;
	}
	old = find_rotated(f, pos, name, sizeof(name));
	if (old >= 0) {
		/*
		 * The new file is left to path_moved(), as when running: read once
		 * it has data, the writer may not have reopened yet.
		 */
		adopt(f, old, pos->offset);
		f->stats.resumed_rotated++;
		if (fd >= 0) {
			close(fd);
			set_state(f, SW_FOLLOW_READING,
				  "%s was rotated while stopped: reading %s/%s from the saved "
				  "offset %llu, then %s from its start",
				  f->path, f->dir, name, (unsigned long long)pos->offset, f->path);
		} else {
			path_failed(f, -fd);
		}
		return;
	}
	f->stats.resume_lost++;
	if (fd >= 0) {
		adopt(f, fd, 0);
		set_state(f, SW_FOLLOW_READING,
			  "%s was rotated while stopped and its previous file (inode %llu) is not "
			  "among %s.1, %s.* and %s-*: reading the new file from its start, lines "
			  "may have been lost",
			  f->path, (unsigned long long)pos->ino, f->base, f->base, f->base);
	} else if (fd == -ENOENT || fd == -ENOTDIR) {
		set_state(f, SW_FOLLOW_WAITING,
			  "waiting for %s; its previous file (inode %llu) is not among %s.1, %s.* "
			  "and %s-*: lines may have been lost",
			  f->path, (unsigned long long)pos->ino, f->base, f->base, f->base);
	} else {
		path_failed(f, -fd);
	}
}

struct sw_follow *sw_follow_open(const char *path, const struct sw_follow_pos *resume,
				 enum sw_follow_start start, char *err, size_t errlen)
{
	struct sw_follow *f;
	const char *slash;
	size_t plen;

	if (!path || !*path) {
		snprintf(err, errlen, "the log file's path is empty");
		return NULL;
	}
	plen = strlen(path);
	slash = strrchr(path, '/');
	if (plen >= PATH_MAX || strlen(slash ? slash + 1 : path) > NAME_MAX) {
		snprintf(err, errlen, "%.64s...: path too long", path);
		return NULL;
	}
	if (path[plen - 1] == '/') {
		snprintf(err, errlen, "%s: a directory, not a file", path);
		return NULL;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	memcpy(f->path, path, plen + 1);
	if (!slash)
		snprintf(f->dir, sizeof(f->dir), ".");
	else if (slash == path)
		snprintf(f->dir, sizeof(f->dir), "/");
	else
		snprintf(f->dir, sizeof(f->dir), "%.*s", (int)(slash - path), path);
	snprintf(f->base, sizeof(f->base), "%s", slash ? slash + 1 : path);
	f->fd = f->next_fd = f->ifd = f->wd_dir = f->wd_file = -1;
	f->state = (enum sw_follow_state)-1;	/* the first set_state() always says something */

	if (resume && (resume->ino || resume->dev))
		resume_from(f, resume);
	else
		start_fresh(f, start);
	return f;
}

void sw_follow_close(struct sw_follow *f)
{
	if (!f)
		return;
	if (f->fd >= 0)
		close(f->fd);
	if (f->next_fd >= 0)
		close(f->next_fd);
	if (f->ifd >= 0)
		close(f->ifd);
	free(f);
}

static void deliver(struct sw_follow *f, sw_follow_line_fn fn, void *ctx, char *line, size_t len,
		    unsigned flags)
{
	line[len] = 0;
	f->stats.lines++;
	f->stats.bytes += len;
	if (flags & SW_FOLLOW_TRUNCATED)
		f->stats.truncated_lines++;
	fn(ctx, line, len, flags);
}

/*
 * Deliver the lines of the open file until its end or @max. *at_eof: the
 * end was reached (read() gave 0) with room for more lines.
 */
static int drain(struct sw_follow *f, sw_follow_line_fn fn, void *ctx, unsigned max,
		 unsigned *delivered, bool *at_eof)
{
	*at_eof = false;
	while (*delivered < max) {
		ssize_t n;

		if (!f->skipping) {
			char *p = f->buf + f->start;
			size_t avail = f->len - f->start;
			char *nl = memchr(p, '\n', avail);

			if (nl) {
				size_t whole = (size_t)(nl - p), len = whole;
				unsigned flags = 0;

				if (len > SW_FOLLOW_LINE_MAX) {
					f->stats.skipped_bytes += len - SW_FOLLOW_LINE_MAX;
					len = SW_FOLLOW_LINE_MAX;
					flags = SW_FOLLOW_TRUNCATED;
				}
				f->start += whole + 1;
				f->done_off += whole + 1;
				deliver(f, fn, ctx, p, len, flags);
				(*delivered)++;
				continue;
			}
			if (avail > SW_FOLLOW_LINE_MAX) {
				/* Too long: keep its head, drop the rest up to its LF. */
				memmove(f->buf, p, SW_FOLLOW_LINE_MAX);
				f->start = 0;
				f->len = SW_FOLLOW_LINE_MAX;
				f->skipping = true;
				f->skipped = avail - SW_FOLLOW_LINE_MAX;
				continue;
			}
			if (f->start) {
				memmove(f->buf, p, avail);
				f->start = 0;
				f->len = avail;
			}
		}
		do
			n = pread(f->fd, f->buf + f->len, SW_FOLLOW_BUF - f->len,
				  (off_t)f->read_off);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return -errno;
		if (n == 0) {
			*at_eof = true;
			return 0;
		}
		f->read_off += (uint64_t)n;
		if (f->skipping) {
			char *q = f->buf + f->len;
			char *nl = memchr(q, '\n', (size_t)n);
			size_t kept = f->len, rest;

			if (!nl) {
				f->skipped += (uint64_t)n;
				continue;
			}
			f->skipped += (uint64_t)(nl - q);
			f->stats.skipped_bytes += f->skipped;
			f->done_off += kept + f->skipped + 1;
			rest = (size_t)(q + n - (nl + 1));
			f->skipping = false;
			f->skipped = 0;
			if (kept) {
				deliver(f, fn, ctx, f->buf, kept, SW_FOLLOW_TRUNCATED);
				(*delivered)++;
			}
			memmove(f->buf, nl + 1, rest);
			f->start = 0;
			f->len = rest;
		} else {
			f->len += (size_t)n;
		}
	}
	return 0;
}

/* Whether the open file is still the content we read: if not, read it again from 0. */
static void check_content(struct sw_follow *f)
{
	char head[SW_FOLLOW_HEAD_MAX];
	struct stat st;
	ssize_t n;

	if (fstat(f->fd, &st) < 0)
		return;
	n = read_head(f->fd, head);
	if (n < 0)
		return;
	if ((uint64_t)st.st_size >= f->read_off && n >= (ssize_t)f->head_len &&
	    sw_follow_hash(head, f->head_len) == f->head_hash) {
		if ((uint32_t)n > f->head_len) {
			f->head_len = (uint32_t)n;
			f->head_hash = sw_follow_hash(head, (size_t)n);
		}
		return;
	}
	f->stats.truncations++;
	reset_reading(f, 0);
	f->head_len = (uint32_t)n;
	f->head_hash = sw_follow_hash(head, (size_t)n);
}

/*
 * Whether another file with data is at the path (then f->next_fd holds
 * it): the old one is drained once more, then left for it.
 */
static bool path_moved(struct sw_follow *f)
{
	struct stat st;
	int fd;

	if (stat(f->path, &st) < 0) {
		path_failed(f, errno);
		return false;
	}
	if ((uint64_t)st.st_dev == f->dev && (uint64_t)st.st_ino == f->ino) {
		set_state(f, SW_FOLLOW_READING, "reading %s", f->path);
		return false;
	}
	/* A new file still empty: the writer may not have left the old one yet. */
	if (st.st_size == 0)
		return false;
	fd = open_path(f);
	if (fd < 0) {
		path_failed(f, -fd);
		return false;
	}
	if (fstat(fd, &st) < 0 ||
	    ((uint64_t)st.st_dev == f->dev && (uint64_t)st.st_ino == f->ino)) {
		close(fd);
		return false;
	}
	f->next_fd = fd;
	return true;
}

static void switch_to_next(struct sw_follow *f, sw_follow_line_fn fn, void *ctx,
			   unsigned *delivered)
{
	/* What the old file ends with, without a LF, will never be finished. */
	if (f->skipping && f->len) {
		f->stats.skipped_bytes += f->skipped;
		deliver(f, fn, ctx, f->buf, f->len, SW_FOLLOW_TRUNCATED | SW_FOLLOW_UNTERMINATED);
		(*delivered)++;
	} else if (!f->skipping && f->len > f->start) {
		deliver(f, fn, ctx, f->buf + f->start, f->len - f->start, SW_FOLLOW_UNTERMINATED);
		(*delivered)++;
	}
	adopt(f, f->next_fd, 0);
	f->next_fd = -1;
	f->stats.rotations++;
	set_state(f, SW_FOLLOW_READING, "reading %s", f->path);
}

static void drain_inotify(struct sw_follow *f)
{
	char events[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	if (f->ifd < 0)
		return;
	for (int i = 0; i < 16 && read(f->ifd, events, sizeof(events)) > 0; i++)
		;
}

int sw_follow_read(struct sw_follow *f, sw_follow_line_fn fn, void *ctx, unsigned max_lines)
{
	unsigned delivered = 0;
	bool at_eof;
	int r;

	drain_inotify(f);
	if (f->fd < 0) {
		int fd = open_path(f);

		if (fd < 0) {
			path_failed(f, -fd);
			return 0;
		}
		adopt(f, fd, 0);
		if (f->from_end_later)
			start_at_end(f);
		f->from_end_later = false;
		set_state(f, SW_FOLLOW_READING, "reading %s", f->path);
	}
	for (int switches = 0; switches <= FOLLOW_SWITCHES_MAX; switches++) {
		check_content(f);
		r = drain(f, fn, ctx, max_lines, &delivered, &at_eof);
		if (r < 0)
			return r;
		if (!at_eof)
			break;
		if (f->next_fd >= 0) {
			switch_to_next(f, fn, ctx, &delivered);
			continue;
		}
		/* Found: drain the old file again (what came before the stat), then switch. */
		if (!path_moved(f))
			break;
	}
	return (int)delivered;
}

void sw_follow_position(const struct sw_follow *f, struct sw_follow_pos *out)
{
	memset(out, 0, sizeof(*out));
	if (f->fd < 0)
		return;
	out->dev = f->dev;
	out->ino = f->ino;
	out->offset = f->done_off;
	out->head_hash = f->head_hash;
	out->head_len = f->head_len;
}

enum sw_follow_state sw_follow_state(const struct sw_follow *f, const char **message,
				     uint32_t *generation)
{
	if (message)
		*message = f->message;
	if (generation)
		*generation = f->generation;
	return f->state;
}

const struct sw_follow_stats *sw_follow_stats(const struct sw_follow *f)
{
	return &f->stats;
}

int sw_follow_inotify_fd(struct sw_follow *f)
{
	if (f->ifd >= 0)
		return f->ifd;
	f->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (f->ifd < 0)
		return -errno;
	watch_file(f);
	return f->ifd;
}
