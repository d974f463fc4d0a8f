// SPDX-License-Identifier: GPL-2.0
/*
 * smtpload: a real SMTP client for the lab (scripts/lab.sh), to load a real
 * MTA the way legitimate senders and attackers do.
 *
 *   smtpload legit    --to ADDR [--port P] --from SRC... --duration S
 *                     [--interval-ms I] [--timeout-ms T] [--slow-ms D]
 *                     [--body-kb N [--body-delay-ms D]]
 *   smtpload idle     --to ADDR [--port P] --from-range A-B [--per-source K]
 *                     [--stage greeting|helo|mail] --duration S [--drip-ms D]
 *   smtpload pregreet --to ADDR [--port P] --from SRC [--count N]
 *   smtpload harvest  --to ADDR [--port P] --from SRC --rcpts N [--sessions M]
 *
 * Sources: --from ADDR (repeatable) and --from-range A-B (inclusive): IPv4
 * ("10.77.1.100-10.77.1.159" or "10.77.1.100-159"), or IPv6 with A and B
 * differing in one 16-bit group only, which is enumerated
 * ("fd77:1:100::1-fd77:1:13b::1": fd77:1:100::1, fd77:1:101::1, ..,
 * fd77:1:10a::1, .., fd77:1:13b::1; the group counts in hex, as written).
 * At most 65536 sources in all. Modes that open one connection at a time
 * use the sources in turn. Sources and --to are of one family, IPv4 or
 * IPv6, in every mode.
 *
 * legit: complete transactions (220, EHLO, MAIL, RCPT, DATA, body, ".",
 *   QUIT), one started every --interval-ms (later if the previous one took
 *   longer), each bounded by --timeout-ms as a whole. One line per attempt:
 *   "t=<s since start> ok=<0|1> ms=<duration> err=<reason|-> from=<src>".
 *   --slow-ms D waits D ms before each command: slow, but legitimate.
 *   --body-kb N sends a message of N KiB (headers, then N KiB of 64-byte
 *   lines) instead of the short default, written 1 KiB at a time;
 *   --body-delay-ms D pauses D ms before each of those writes and before
 *   the final ".": a large upload over a slow link. --timeout-ms still
 *   bounds the whole transaction (give it room: N * D ms for the body).
 * idle: "ping-pong-dash". From every source, --per-source sessions that
 *   connect, read the 220, answer up to --stage and go silent, never QUIT.
 *   A session the server closes or resets, or that fails to connect, is
 *   opened again after --reconnect-ms, as attackers do. Every --report-ms:
 *   "t=.. open=N connecting=M closed_by_server=C refused=R ... drips=D
 *   drip_errors=E", and a "summary t=.." line of the same at the end.
 *   --drip-ms D: a session that reached its stage is not silent but sends
 *   a harmless command every D ms, cycling NOOP, RSET, EHLO <helo> (again),
 *   HELP, VRFY postmaster, and reads each (multi-line) reply; it never
 *   QUITs, nor goes past its stage (RSET even drops a --stage mail
 *   transaction). drips counts the replies, drip_errors those of them with
 *   a 4xx or 5xx code (Postfix answers HELP 502, which counts towards its
 *   smtpd_hard_error_limit; an smtpd started at the process limit runs
 *   "stressed", with junk command and hard error limits of 1, and hangs up
 *   on the second drip: see LAB_SMTPD_JUNK_LIMIT in scripts/lab.sh). A drip
 *   unanswered within --reply-timeout-ms, or a session closed, is dealt
 *   with as for a silent session.
 * pregreet: "EHLO x" right after connect, before the greeting: reports
 *   whether the 220 came and what the server answered to the EHLO.
 * harvest: EHLO, MAIL, then --rcpts RCPT TO:<randomN@DOMAIN> (unknown
 *   users); counts 2xx, 4xx and 5xx replies; --sessions times.
 *
 * Every read and connect has a deadline; an error is reported with its
 * cause ("connect_refused", "timeout_at_greeting", "reset_at_EHLO",
 * "reply_550_at_RCPT", ...). The first line of every mode is
 * "start unix_ms=<wall clock> mode=<mode>", so that a script can put the
 * lines of several clients on one time line. Every line is flushed at once.
 *
 * Exit status: 0 it ran (results are in the output), 1 a system call failed
 * in a way no server can cause, 2 usage error, 3 --max-seconds elapsed.
 * SIGTERM and SIGINT end a run early, with its summary.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_PORT		25
#define DEFAULT_TIMEOUT_MS	5000
#define DEFAULT_INTERVAL_MS	500
#define DEFAULT_REPLY_TMO_MS	300000	/* RFC 5321: 5 min for the greeting */
#define DEFAULT_RECONNECT_MS	100
#define DEFAULT_REPORT_MS	1000
#define MAX_SOURCES		65536
#define MAX_SESSIONS		60000
#define REPLY_BUF		4096	/* a whole (multi-line) reply fits */
#define TEXT_LEN		160
#define BODY_CHUNK		1024	/* --body-kb: one write of the body */
#define BODY_LINE		64	/* ... 16 lines of 62 characters and CR LF */
#define MAX_BODY_KB		1048576	/* 1 GiB (Postfix's message_size_limit: 10 MB) */

static const char *prog = "smtpload";
static volatile sig_atomic_t stop_requested;

enum stage { STAGE_GREETING, STAGE_HELO, STAGE_MAIL };

struct opts {
	const char *mode;
	const char *to;
	int port;
	struct sockaddr_storage dst;
	socklen_t dst_len;
	struct sockaddr_storage *src;
	int n_src;
	int duration_s;
	int interval_ms;
	int timeout_ms;
	int reply_timeout_ms;
	int slow_ms;
	int body_kb;
	int body_delay_ms;
	int drip_ms;
	int per_source;
	enum stage stage;
	int count;
	int rcpts;
	int sessions;
	int reconnect_ms;
	int report_ms;
	int max_seconds;
	const char *helo;
	const char *mail_from;
	const char *rcpt;
	const char *domain;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s legit    --to ADDR [--port P] --from SRC... --duration S\n"
		"                   [--interval-ms I] [--timeout-ms T] [--slow-ms D] [--rcpt ADDR]\n"
		"                   [--body-kb N [--body-delay-ms D]]\n"
		"       %s idle     --to ADDR [--port P] --from-range A-B [--per-source K]\n"
		"                   [--stage greeting|helo|mail] --duration S [--timeout-ms T]\n"
		"                   [--reply-timeout-ms T] [--reconnect-ms R] [--report-ms R]\n"
		"                   [--drip-ms D]\n"
		"       %s pregreet --to ADDR [--port P] --from SRC [--count N] [--timeout-ms T]\n"
		"       %s harvest  --to ADDR [--port P] --from SRC --rcpts N [--sessions M]\n"
		"                   [--domain D] [--timeout-ms T]\n"
		"sources: --from ADDR (repeatable), --from-range A-B: IPv4 (10.77.1.100-10.77.1.159,\n"
		"         10.77.1.100-159) or IPv6 differing in one 16-bit group\n"
		"         (fd77:1:100::1-fd77:1:13b::1); IPv4 or IPv6 as --to\n"
		"legit:   --body-kb N: a message of N KiB, written 1 KiB at a time, --body-delay-ms D\n"
		"         before each write; --timeout-ms bounds the whole transaction\n"
		"idle:    --drip-ms D: at its stage, a session sends NOOP, RSET, EHLO, HELP, VRFY\n"
		"         in turn, one every D ms, instead of going silent\n"
		"all modes: --helo NAME, --mail-from ADDR, --max-seconds S (hard limit, exit 3)\n",
		prog, prog, prog, prog);
}

#include "tool.h"

static int64_t clock_ms(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts))
		die("clock_gettime: %s", strerror(errno));
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t t0_ms;

static double since_start(int64_t t)
{
	return (double)(t - t0_ms) / 1000.0;
}

/* Remaining milliseconds until @deadline, never negative, for poll(). */
/* Sleep until @t (monotonic ms), or until a stop is requested. */
static void sleep_until(int64_t t)
{
	int left;

	while (!stop_requested && (left = remaining(t)) > 0) {
		struct timespec ts = { .tv_sec = left / 1000, .tv_nsec = (long)(left % 1000) * 1000000 };

		nanosleep(&ts, NULL);	/* EINTR: the loop looks at the flag again */
	}
}

static const char *errname(int e)
{
	static char buf[16];
	const char *n = strerrorname_np(e);

	if (n)
		return n;
	snprintf(buf, sizeof(buf), "errno%d", e);
	return buf;
}

static socklen_t addr_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static const char *addr_str(const struct sockaddr_storage *ss)
{
	static char buf[INET6_ADDRSTRLEN];
	const void *a = ss->ss_family == AF_INET6 ?
				(const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr :
				(const void *)&((const struct sockaddr_in *)ss)->sin_addr;

	if (!inet_ntop(ss->ss_family, a, buf, sizeof(buf)))
		snprintf(buf, sizeof(buf), "?");
	return buf;
}

static void add_source(struct opts *o, const struct sockaddr_storage *ss)
{
	if (o->n_src >= MAX_SOURCES)
		usage_error("more than %d source addresses", MAX_SOURCES);
	if (!o->src) {
		o->src = calloc(MAX_SOURCES, sizeof(*o->src));
		if (!o->src)
			die("out of memory");
	}
	o->src[o->n_src++] = *ss;
}

/*
 * IPv6 "A-B": A and B differ in one 16-bit group at most, which runs from
 * A's value to B's. @first and @last are the two halves of the argument.
 */
static void add_range6(struct opts *o, const char *first, const char *last)
{
	struct sockaddr_storage a, b;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&a, *b6 = (struct sockaddr_in6 *)&b;
	int g = -1;
	uint16_t lo = 0, hi = 0;

	if (parse_addr(first, 0, &a) != sizeof(struct sockaddr_in6))
		usage_error("--from-range: '%s' is not an IPv6 address", first);
	if (parse_addr(last, 0, &b) != sizeof(struct sockaddr_in6))
		usage_error("--from-range: '%s' is not an IPv6 address (an IPv6 range needs"
			    " two whole addresses)", last);
	for (int i = 0; i < 8; i++) {
		uint16_t x = (uint16_t)(a6->sin6_addr.s6_addr[2 * i] << 8 |
					a6->sin6_addr.s6_addr[2 * i + 1]);
		uint16_t y = (uint16_t)(b6->sin6_addr.s6_addr[2 * i] << 8 |
					b6->sin6_addr.s6_addr[2 * i + 1]);

		if (x == y)
			continue;
		if (g >= 0)
			usage_error("--from-range: %s and %s differ in more than one 16-bit group"
				    " (groups %d and %d)", first, last, g + 1, i + 1);
		g = i;
		lo = x;
		hi = y;
	}
	if (g < 0) {
		add_source(o, &a);
		return;
	}
	if (hi < lo)
		usage_error("--from-range: %s is below %s", last, first);
	for (uint32_t v = lo; v <= hi; v++) {
		a6->sin6_addr.s6_addr[2 * g] = (uint8_t)(v >> 8);
		a6->sin6_addr.s6_addr[2 * g + 1] = (uint8_t)v;
		add_source(o, &a);
	}
}

/*
 * "A-B" with A and B IPv4 addresses, or B the last octet alone; or A and B
 * IPv6 addresses (add_range6).
 */
static void add_range(struct opts *o, const char *arg)
{
	struct sockaddr_storage a, b;
	char first[INET6_ADDRSTRLEN + 2], last[INET6_ADDRSTRLEN + 2];
	const char *dash = strchr(arg, '-');
	uint32_t lo, hi;
	size_t n;

	if (!dash || (n = (size_t)(dash - arg)) >= sizeof(first) || !n || !dash[1] ||
	    strlen(dash + 1) >= sizeof(last) || strchr(dash + 1, '-'))
		usage_error("--from-range: '%s' is not A-B", arg);
	memcpy(first, arg, n);
	first[n] = '\0';
	if (strchr(first, ':')) {
		snprintf(last, sizeof(last), "%s", dash + 1);
		add_range6(o, first, last);
		return;
	}
	if (parse_addr(first, 0, &a) != sizeof(struct sockaddr_in))
		usage_error("--from-range: '%s' is not an IPv4 or IPv6 address", first);
	if (strchr(dash + 1, ':')) {
		usage_error("--from-range: %s is IPv4, %s is not", first, dash + 1);
	} else if (strchr(dash + 1, '.')) {
		snprintf(last, sizeof(last), "%s", dash + 1);
	} else {
		/* The short form: the last octet replaced. */
		char *dot;

		snprintf(last, sizeof(last), "%s", first);
		dot = strrchr(last, '.');
		snprintf(dot + 1, sizeof(last) - (size_t)(dot + 1 - last), "%s", dash + 1);
	}
	if (parse_addr(last, 0, &b) != sizeof(struct sockaddr_in))
		usage_error("--from-range: '%s' is not an IPv4 address", last);
	lo = ntohl(((struct sockaddr_in *)&a)->sin_addr.s_addr);
	hi = ntohl(((struct sockaddr_in *)&b)->sin_addr.s_addr);
	if (hi < lo)
		usage_error("--from-range: %s is below %s", last, first);
	if (hi - lo >= MAX_SOURCES)
		usage_error("--from-range: more than %d addresses", MAX_SOURCES);
	for (uint64_t ip = lo; ip <= hi; ip++) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&a;

		sin->sin_addr.s_addr = htonl((uint32_t)ip);
		add_source(o, &a);
	}
}

/* Printable, one token: what the server said, for the output lines. */
static void sanitize(char *s)
{
	for (; *s; s++)
		if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '_';
}

/* ---------------------------------------------------------------- one connection */

enum io { IO_OK, IO_TIMEOUT, IO_CLOSED, IO_RESET, IO_BAD };

static const char *io_name(enum io r)
{
	switch (r) {
	case IO_OK:
		return "ok";
	case IO_TIMEOUT:
		return "timeout";
	case IO_CLOSED:
		return "closed";
	case IO_RESET:
		return "reset";
	case IO_BAD:
		break;
	}
	return "bad_reply";
}

struct conn {
	int fd;
	size_t len;		/* bytes in buf not yet consumed */
	char buf[REPLY_BUF];
};

static int new_socket(int family)
{
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket: %s", strerror(errno));
	return fd;
}

/*
 * Connect from @src before @deadline. 0, or -1 with the cause in @err:
 * connect_refused (RST to the SYN), connect_timeout (SYN unanswered:
 * dropped, or a full listen queue), bind_<ERRNO> (the source is not ours).
 */
static int conn_open(struct conn *c, const struct opts *o, const struct sockaddr_storage *src,
		     int64_t deadline, char *err, size_t errlen)
{
	socklen_t elen = sizeof(int);
	int e = 0;

	c->len = 0;
	c->fd = new_socket(o->dst.ss_family);
	if (src && bind(c->fd, (const struct sockaddr *)src, addr_len(src))) {
		snprintf(err, errlen, "bind_%s", errname(errno));
		goto fail;
	}
	if (connect(c->fd, (const struct sockaddr *)&o->dst, o->dst_len) && errno != EINPROGRESS) {
		e = errno;
		goto fail_errno;
	}
	for (;;) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };
		int r = poll(&pfd, 1, remaining(deadline));

		if (r < 0 && errno == EINTR) {
			if (stop_requested) {
				snprintf(err, errlen, "stopped");
				goto fail;
			}
			continue;
		}
		if (r < 0)
			die("poll: %s", strerror(errno));
		if (r == 0) {
			snprintf(err, errlen, "connect_timeout");
			goto fail;
		}
		break;
	}
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &elen))
		die("getsockopt(SO_ERROR): %s", strerror(errno));
	if (!e)
		return 0;
fail_errno:
	if (e == ECONNREFUSED)
		snprintf(err, errlen, "connect_refused");
	else if (e == ETIMEDOUT)
		snprintf(err, errlen, "connect_timeout");
	else
		snprintf(err, errlen, "connect_%s", errname(e));
fail:
	close(c->fd);
	c->fd = -1;
	return -1;
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* Take one line (without CR LF) out of the buffer, if a whole one is there. */
static bool take_line(char *buf, size_t *len, char *line, size_t linelen)
{
	char *nl = memchr(buf, '\n', *len);
	size_t n, keep;

	if (!nl)
		return false;
	n = (size_t)(nl - buf);
	keep = n;
	if (keep && buf[keep - 1] == '\r')
		keep--;
	if (keep >= linelen)
		keep = linelen - 1;
	memcpy(line, buf, keep);
	line[keep] = '\0';
	*len -= n + 1;
	memmove(buf, nl + 1, *len);
	return true;
}

/*
 * One reply line out of @buf: IO_OK with *@code set and *@last true on the
 * final line of a reply ("250 ..." rather than "250-..."), IO_BAD if the
 * line is not a reply, IO_TIMEOUT (meaning: not complete yet) otherwise.
 */
static enum io parse_reply_line(char *buf, size_t *len, int *code, bool *last, char *text,
				size_t textlen)
{
	char line[REPLY_BUF];

	if (!take_line(buf, len, line, sizeof(line))) {
		/* A full buffer without a line end is no SMTP reply. */
		return *len >= REPLY_BUF ? IO_BAD : IO_TIMEOUT;
	}
	if (strlen(line) < 3 || line[0] < '1' || line[0] > '5' || line[1] < '0' || line[1] > '9' ||
	    line[2] < '0' || line[2] > '9' || (line[3] && line[3] != ' ' && line[3] != '-'))
		return IO_BAD;
	*code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	*last = line[3] != '-';
	if (text) {
		size_t n = strnlen(line, textlen - 1);

		/* The start of the line is enough to say what the server said. */
		memcpy(text, line, n);
		text[n] = '\0';
		sanitize(text);
	}
	return IO_OK;
}

/* Read a whole reply before @deadline: its code, and its first line in @text. */
static enum io read_reply(struct conn *c, int64_t deadline, int *code, char *text, size_t textlen)
{
	bool first = true;

	for (;;) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		bool last;
		enum io r;
		ssize_t n;
		int p;

		while ((r = parse_reply_line(c->buf, &c->len, code, &last, first ? text : NULL,
					     textlen)) == IO_OK) {
			if (last)
				return IO_OK;
			first = false;
		}
		if (r == IO_BAD)
			return IO_BAD;
		p = poll(&pfd, 1, remaining(deadline));

		if (p < 0 && errno == EINTR) {
			if (stop_requested)
				return IO_TIMEOUT;
			continue;
		}
		if (p < 0)
			die("poll: %s", strerror(errno));
		if (p == 0)
			return IO_TIMEOUT;
		n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			return errno == ECONNRESET ? IO_RESET : IO_CLOSED;
		}
		if (n == 0)
			return IO_CLOSED;
		c->len += (size_t)n;
	}
}

static enum io send_all(struct conn *c, const char *s, int64_t deadline)
{
	size_t left = strlen(s);

	while (left) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };
		int p = poll(&pfd, 1, remaining(deadline));
		ssize_t n;

		if (p < 0 && errno == EINTR) {
			if (stop_requested)
				return IO_TIMEOUT;
			continue;
		}
		if (p < 0)
			die("poll: %s", strerror(errno));
		if (p == 0)
			return IO_TIMEOUT;
		n = send(c->fd, s, left, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			return errno == ECONNRESET ? IO_RESET : IO_CLOSED;
		}
		s += n;
		left -= (size_t)n;
	}
	return IO_OK;
}

/*
 * Send @cmd (NULL: nothing, just read, as for the greeting) and read its
 * reply; true if the reply's code is @want. Otherwise the cause in @err:
 * "<timeout|closed|reset|bad_reply>_at_<what>" or "reply_<code>_at_<what>".
 * With --slow-ms, wait that long before the command, like a slow sender.
 */
static bool step(struct conn *c, const struct opts *o, const char *what, const char *cmd,
		 int want, int64_t deadline, int *code, char *err, size_t errlen)
{
	char text[TEXT_LEN];
	enum io r = IO_OK;
	int got = 0;

	if (cmd && o->slow_ms) {
		int64_t t = now_ms() + o->slow_ms;

		sleep_until(t < deadline ? t : deadline);
	}
	if (cmd)
		r = send_all(c, cmd, deadline);
	if (r == IO_OK)
		r = read_reply(c, deadline, &got, text, sizeof(text));
	if (code)
		*code = got;
	if (r != IO_OK) {
		snprintf(err, errlen, "%s_at_%s", io_name(r), what);
		return false;
	}
	if (got != want) {
		snprintf(err, errlen, "reply_%d_at_%s", got, what);
		return false;
	}
	return true;
}

static void print_start(const struct opts *o)
{
	t0_ms = now_ms();
	printf("start unix_ms=%lld mode=%s to=%s port=%d sources=%d\n",
	       (long long)clock_ms(CLOCK_REALTIME), o->mode, o->to, o->port, o->n_src);
}

/* ---------------------------------------------------------------- legit */

/*
 * --body-kb: the message after the 354, the headers first, then body_kb
 * writes of BODY_CHUNK bytes (lines of BODY_LINE), then the final ".",
 * each write but the headers after --body-delay-ms. Before @deadline; the
 * cause of a failure in @err as "<timeout|closed|reset>_at_body".
 */
static bool send_body(struct conn *c, const struct opts *o, int64_t deadline, char *err,
		      size_t errlen)
{
	static const char head[] = "From: <sender@legit.lab.test>\r\n"
				   "To: <user@lab.test>\r\n"
				   "Subject: smtpload legit transaction, large\r\n"
				   "\r\n";
	char chunk[BODY_CHUNK + 1];
	enum io r;

	/* Lines that never start with a dot: nothing to stuff. */
	for (int i = 0; i < BODY_CHUNK; i++)
		chunk[i] = (char)('a' + i % BODY_LINE % 26);
	for (int i = BODY_LINE; i <= BODY_CHUNK; i += BODY_LINE) {
		chunk[i - 2] = '\r';
		chunk[i - 1] = '\n';
	}
	chunk[BODY_CHUNK] = '\0';
	if (o->slow_ms) {
		int64_t t = now_ms() + o->slow_ms;

		sleep_until(t < deadline ? t : deadline);
	}
	r = send_all(c, head, deadline);
	for (int k = 0; k <= o->body_kb && r == IO_OK; k++) {
		if (o->body_delay_ms) {
			int64_t t = now_ms() + o->body_delay_ms;

			sleep_until(t < deadline ? t : deadline);
		}
		if (stop_requested || now_ms() >= deadline) {
			r = IO_TIMEOUT;
			break;
		}
		r = send_all(c, k < o->body_kb ? chunk : ".\r\n", deadline);
	}
	if (r != IO_OK) {
		snprintf(err, errlen, "%s_at_body", io_name(r));
		return false;
	}
	return true;
}

static bool transaction(const struct opts *o, const struct sockaddr_storage *src, char *err,
			size_t errlen)
{
	int64_t deadline = now_ms() + o->timeout_ms;
	char ehlo[300], mail[300], rcpt[300];
	static const char body[] = "From: <sender@legit.lab.test>\r\n"
				   "To: <user@lab.test>\r\n"
				   "Subject: smtpload legit transaction\r\n"
				   "\r\n"
				   "A legitimate message, sent by the smtpwall lab.\r\n"
				   ".\r\n";
	struct conn c;
	bool ok;

	if (conn_open(&c, o, src, deadline, err, errlen))
		return false;
	snprintf(ehlo, sizeof(ehlo), "EHLO %s\r\n", o->helo);
	snprintf(mail, sizeof(mail), "MAIL FROM:<%s>\r\n", o->mail_from);
	snprintf(rcpt, sizeof(rcpt), "RCPT TO:<%s>\r\n", o->rcpt);
	ok = step(&c, o, "greeting", NULL, 220, deadline, NULL, err, errlen) &&
	     step(&c, o, "EHLO", ehlo, 250, deadline, NULL, err, errlen) &&
	     step(&c, o, "MAIL", mail, 250, deadline, NULL, err, errlen) &&
	     step(&c, o, "RCPT", rcpt, 250, deadline, NULL, err, errlen) &&
	     step(&c, o, "DATA", "DATA\r\n", 354, deadline, NULL, err, errlen) &&
	     (o->body_kb ? send_body(&c, o, deadline, err, errlen) &&
			   step(&c, o, "dot", NULL, 250, deadline, NULL, err, errlen) :
			   step(&c, o, "dot", body, 250, deadline, NULL, err, errlen)) &&
	     step(&c, o, "QUIT", "QUIT\r\n", 221, deadline, NULL, err, errlen);
	conn_close(&c);
	return ok;
}

static int do_legit(const struct opts *o)
{
	int64_t end, next;
	int attempts = 0, ok_count = 0;

	if (!o->n_src)
		usage_error("legit needs --from SRC");
	if (!o->duration_s)
		usage_error("legit needs --duration S");
	print_start(o);
	end = t0_ms + (int64_t)o->duration_s * 1000;
	next = t0_ms;
	while (!stop_requested && now_ms() < end) {
		const struct sockaddr_storage *src = &o->src[attempts % o->n_src];
		char err[TEXT_LEN] = "-";
		int64_t start;
		bool ok;

		sleep_until(next);
		if (stop_requested)
			break;
		start = now_ms();
		ok = transaction(o, src, err, sizeof(err));
		/* Cut short by SIGTERM: no outcome of the server's, not counted. */
		if (!ok && stop_requested)
			break;
		attempts++;
		if (ok)
			ok_count++;
		printf("t=%.3f ok=%d ms=%lld err=%s from=%s\n", since_start(start), ok,
		       (long long)(now_ms() - start), ok ? "-" : err, addr_str(src));
		/* On schedule when the server is quick; back to back when it is not. */
		next = start + o->interval_ms;
	}
	printf("attempts=%d ok=%d fail=%d\n", attempts, ok_count, attempts - ok_count);
	return 0;
}

/* ---------------------------------------------------------------- idle */

enum sess_state { S_WAIT, S_CONNECTING, S_GREETING, S_EHLO, S_MAIL, S_OPEN };

struct session {
	int fd;
	int src;
	enum sess_state state;
	int64_t deadline;	/* of the state; for S_WAIT, when to connect; for
				 * S_OPEN with --drip-ms, of the drip's reply or
				 * when to send the next one */
	int64_t drip_sent;	/* --drip-ms: when the last drip went */
	bool drip_pending;	/* ... and it has not been answered yet */
	unsigned int drip_next;	/* ... the next command of the cycle */
	size_t len;
	char buf[REPLY_BUF];
};

struct idle_stats {
	long connects;		/* connect() calls */
	long greeted;		/* 220 received */
	long reached;		/* sessions that reached the stage (then went silent) */
	long closed_by_server;	/* FIN or RST from the server after the handshake */
	long resets;		/* ... of which RST */
	long refused;		/* RST to the SYN */
	long connect_timeouts;	/* SYN unanswered */
	long reply_timeouts;	/* the server did not answer in --reply-timeout-ms */
	long rejected;		/* a reply other than the one expected (421, 554, ...) */
	long other_errors;
	long drips;		/* --drip-ms: replies to drips */
	long drip_errors;	/* ... of which 4xx or 5xx */
};

static void raise_nofile(int need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		die("getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
	if (rl.rlim_cur >= (rlim_t)need)
		return;
	rl.rlim_cur = (rlim_t)need;
	if (rl.rlim_max < rl.rlim_cur)
		rl.rlim_max = rl.rlim_cur;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		die("setrlimit(RLIMIT_NOFILE, %d): %s", need, strerror(errno));
}

static void sess_reconnect_later(struct session *s, const struct opts *o)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->len = 0;
	s->state = S_WAIT;
	s->deadline = now_ms() + o->reconnect_ms;
}

static void sess_connect(struct session *s, const struct opts *o, struct idle_stats *st)
{
	const struct sockaddr_storage *src = &o->src[s->src];

	st->connects++;
	s->len = 0;
	s->fd = new_socket(o->dst.ss_family);
	if (bind(s->fd, (const struct sockaddr *)src, addr_len(src))) {
		/* The lab lacks the address: that will not get better. */
		die("bind to %s: %s", addr_str(src), strerror(errno));
	}
	if (connect(s->fd, (const struct sockaddr *)&o->dst, o->dst_len) && errno != EINPROGRESS) {
		if (errno == ECONNREFUSED)
			st->refused++;
		else
			st->other_errors++;
		sess_reconnect_later(s, o);
		return;
	}
	s->state = S_CONNECTING;
	s->deadline = now_ms() + o->timeout_ms;
}

static bool sess_send(struct session *s, const char *cmd, struct idle_stats *st)
{
	/* A short command into an empty send buffer: all of it, or trouble. */
	ssize_t n = send(s->fd, cmd, strlen(cmd), MSG_NOSIGNAL);

	if (n == (ssize_t)strlen(cmd))
		return true;
	if (n < 0 && (errno == ECONNRESET || errno == EPIPE)) {
		st->closed_by_server++;
		if (errno == ECONNRESET)
			st->resets++;
	} else {
		st->other_errors++;
	}
	return false;
}

/* The session reached its stage: silent from now on, or dripping. */
static void sess_open(struct session *s, const struct opts *o, struct idle_stats *st)
{
	st->reached++;
	s->state = S_OPEN;
	s->drip_pending = false;
	s->drip_next = 0;
	s->deadline = o->drip_ms ? now_ms() + o->drip_ms : INT64_MAX;
}

/*
 * --drip-ms, the session's deadline passed in S_OPEN: the drip went
 * unanswered (a reply timeout), or the next one is due. false: the session
 * is over.
 */
static bool sess_drip(struct session *s, const struct opts *o, struct idle_stats *st)
{
	char cmd[300];

	if (s->drip_pending) {
		st->reply_timeouts++;
		return false;
	}
	switch (s->drip_next++ % 5) {
	case 0:
		snprintf(cmd, sizeof(cmd), "NOOP\r\n");
		break;
	case 1:
		snprintf(cmd, sizeof(cmd), "RSET\r\n");
		break;
	case 2:
		snprintf(cmd, sizeof(cmd), "EHLO %s\r\n", o->helo);
		break;
	case 3:
		snprintf(cmd, sizeof(cmd), "HELP\r\n");
		break;
	default:
		snprintf(cmd, sizeof(cmd), "VRFY postmaster\r\n");
		break;
	}
	if (!sess_send(s, cmd, st))
		return false;
	s->drip_pending = true;
	s->drip_sent = now_ms();
	s->deadline = s->drip_sent + o->reply_timeout_ms;
	return true;
}

/* A reply arrived in state @s->state; false: the session is over. */
static bool sess_reply(struct session *s, const struct opts *o, int code, struct idle_stats *st)
{
	char cmd[300];

	switch (s->state) {
	case S_GREETING:
		if (code != 220) {
			st->rejected++;
			return false;
		}
		st->greeted++;
		if (o->stage == STAGE_GREETING) {
			sess_open(s, o, st);
			return true;
		}
		snprintf(cmd, sizeof(cmd), "EHLO %s\r\n", o->helo);
		if (!sess_send(s, cmd, st))
			return false;
		s->state = S_EHLO;
		s->deadline = now_ms() + o->reply_timeout_ms;
		return true;
	case S_EHLO:
		if (code != 250) {
			st->rejected++;
			return false;
		}
		if (o->stage == STAGE_HELO) {
			sess_open(s, o, st);
			return true;
		}
		snprintf(cmd, sizeof(cmd), "MAIL FROM:<%s>\r\n", o->mail_from);
		if (!sess_send(s, cmd, st))
			return false;
		s->state = S_MAIL;
		s->deadline = now_ms() + o->reply_timeout_ms;
		return true;
	case S_MAIL:
		if (code != 250) {
			st->rejected++;
			return false;
		}
		sess_open(s, o, st);
		return true;
	default:
		/*
		 * S_OPEN: the reply to a drip; the next one on schedule (at
		 * once if the reply took that long). Anything else the server
		 * says now (a 421 before it closes) changes nothing.
		 */
		if (s->drip_pending) {
			int64_t t = now_ms(), next = s->drip_sent + o->drip_ms;

			st->drips++;
			if (code >= 400)
				st->drip_errors++;
			s->drip_pending = false;
			s->deadline = next > t ? next : t;
		}
		return true;
	}
}

/* Readable: replies, or the server's FIN or RST. false: the session is over. */
static bool sess_read(struct session *s, const struct opts *o, struct idle_stats *st)
{
	for (;;) {
		ssize_t n = recv(s->fd, s->buf + s->len, sizeof(s->buf) - s->len, 0);
		int code;
		bool last;
		enum io r;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return true;
			st->closed_by_server++;
			if (errno == ECONNRESET)
				st->resets++;
			return false;
		}
		if (n == 0) {
			st->closed_by_server++;
			return false;
		}
		s->len += (size_t)n;
		while ((r = parse_reply_line(s->buf, &s->len, &code, &last, NULL, 0)) == IO_OK) {
			if (last && !sess_reply(s, o, code, st))
				return false;
		}
		if (r == IO_BAD) {
			if (s->state == S_OPEN) {
				s->len = 0;	/* not listening any more */
				continue;
			}
			st->rejected++;
			return false;
		}
	}
}

static void idle_report(const struct session *ss, int n, const struct idle_stats *st,
			const char *prefix)
{
	int open = 0, connecting = 0, waiting = 0;

	for (int i = 0; i < n; i++) {
		if (ss[i].state == S_OPEN)
			open++;
		else if (ss[i].state == S_WAIT)
			waiting++;
		else
			connecting++;
	}
	printf("%st=%.3f open=%d connecting=%d closed_by_server=%ld refused=%ld"
	       " connect_timeouts=%ld reply_timeouts=%ld rejected=%ld greeted=%ld reached=%ld"
	       " connects=%ld resets=%ld waiting=%d drips=%ld drip_errors=%ld\n",
	       prefix, since_start(now_ms()), open, connecting, st->closed_by_server, st->refused,
	       st->connect_timeouts, st->reply_timeouts, st->rejected, st->greeted, st->reached,
	       st->connects, st->resets, waiting, st->drips, st->drip_errors);
}

static int do_idle(const struct opts *o)
{
	struct idle_stats st = { 0 };
	struct session *ss;
	struct pollfd *pfds;
	int *pidx;
	int n, np;
	int64_t end, next_report;

	if (!o->n_src)
		usage_error("idle needs --from-range A-B (or --from)");
	if (!o->duration_s)
		usage_error("idle needs --duration S");
	if ((long)o->n_src * o->per_source > MAX_SESSIONS)
		usage_error("%d sources x %d sessions: more than %d sessions", o->n_src,
			    o->per_source, MAX_SESSIONS);
	n = o->n_src * o->per_source;
	raise_nofile(n + 64);
	ss = calloc((size_t)n, sizeof(*ss));
	pfds = calloc((size_t)n, sizeof(*pfds));
	pidx = calloc((size_t)n, sizeof(*pidx));
	if (!ss || !pfds || !pidx)
		die("out of memory");

	print_start(o);
	end = t0_ms + (int64_t)o->duration_s * 1000;
	next_report = t0_ms + o->report_ms;
	/* All at once: the attack arrives as a wave, as the operators report it. */
	for (int i = 0; i < n; i++) {
		ss[i].fd = -1;
		ss[i].src = i % o->n_src;
		sess_connect(&ss[i], o, &st);
	}

	while (!stop_requested) {
		int64_t t = now_ms(), wake = next_report;
		int r;

		if (t >= end)
			break;
		if (t >= next_report) {
			idle_report(ss, n, &st, "");
			next_report += o->report_ms;
			if (next_report <= t)
				next_report = t + o->report_ms;
		}
		np = 0;
		for (int i = 0; i < n; i++) {
			struct session *s = &ss[i];

			if (s->state == S_OPEN && s->deadline <= t) {
				/* Only with --drip-ms: otherwise S_OPEN has no deadline. */
				if (!sess_drip(s, o, &st))
					sess_reconnect_later(s, o);
			} else if (s->state != S_OPEN && s->deadline <= t) {
				switch (s->state) {
				case S_WAIT:
					sess_connect(s, o, &st);
					break;
				case S_CONNECTING:
					st.connect_timeouts++;
					sess_reconnect_later(s, o);
					break;
				default:
					st.reply_timeouts++;
					sess_reconnect_later(s, o);
					break;
				}
			}
			if (s->deadline < wake)
				wake = s->deadline;
			if (s->fd < 0)
				continue;
			pfds[np].fd = s->fd;
			pfds[np].events = s->state == S_CONNECTING ? POLLOUT : POLLIN;
			pfds[np].revents = 0;
			pidx[np++] = i;
		}
		if (end < wake)
			wake = end;
		r = poll(pfds, (nfds_t)np, remaining(wake));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			die("poll: %s", strerror(errno));
		}
		for (int k = 0; k < np; k++) {
			struct session *s = &ss[pidx[k]];
			short re = pfds[k].revents;

			if (!re)
				continue;
			if (s->state == S_CONNECTING) {
				socklen_t elen = sizeof(int);
				int e = 0;

				if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &e, &elen))
					die("getsockopt(SO_ERROR): %s", strerror(errno));
				if (e) {
					if (e == ECONNREFUSED)
						st.refused++;
					else if (e == ETIMEDOUT)
						st.connect_timeouts++;
					else
						st.other_errors++;
					sess_reconnect_later(s, o);
					continue;
				}
				s->state = S_GREETING;
				s->deadline = now_ms() + o->reply_timeout_ms;
				continue;
			}
			if (!sess_read(s, o, &st))
				sess_reconnect_later(s, o);
		}
	}
	idle_report(ss, n, &st, "summary ");
	for (int i = 0; i < n; i++)
		if (ss[i].fd >= 0)
			close(ss[i].fd);
	free(ss);
	free(pfds);
	free(pidx);
	return 0;
}

/* ---------------------------------------------------------------- pregreet */

/* A reply code for the output: "none" when there was none. */
static const char *code_str(int code, char *buf, size_t len)
{
	if (!code)
		return "none";
	snprintf(buf, len, "%d", code);
	return buf;
}

static int do_pregreet(const struct opts *o)
{
	int greeted = 0, answered = 0, attempts = 0;
	char ehlo[300];

	if (!o->n_src)
		usage_error("pregreet needs --from SRC");
	snprintf(ehlo, sizeof(ehlo), "EHLO %s\r\n", o->helo);
	print_start(o);
	for (int i = 0; i < o->count && !stop_requested; i++) {
		const struct sockaddr_storage *src = &o->src[i % o->n_src];
		int64_t start = now_ms(), deadline = start + o->timeout_ms;
		char err[TEXT_LEN] = "-", text[TEXT_LEN] = "", answer_text[TEXT_LEN] = "";
		char gbuf[8], abuf[8];
		int greeting = 0, answer = 0, quit;
		struct conn c;
		enum io r;

		attempts++;
		if (conn_open(&c, o, src, deadline, err, sizeof(err)))
			goto report;
		/* Talk first: a real MTA waits for the 220, a spam engine does not. */
		r = send_all(&c, ehlo, deadline);
		if (r != IO_OK) {
			snprintf(err, sizeof(err), "%s_at_pregreet", io_name(r));
			goto done;
		}
		r = read_reply(&c, deadline, &greeting, text, sizeof(text));
		if (r != IO_OK) {
			greeting = 0;
			snprintf(err, sizeof(err), "%s_at_greeting", io_name(r));
			goto done;
		}
		if (greeting != 220) {
			snprintf(err, sizeof(err), "reply_%d_at_greeting", greeting);
			goto done;
		}
		greeted++;
		r = read_reply(&c, deadline, &answer, answer_text, sizeof(answer_text));
		if (r != IO_OK) {
			answer = 0;
			snprintf(err, sizeof(err), "%s_at_EHLO", io_name(r));
			goto done;
		}
		if (answer == 250)
			answered++;
		else
			snprintf(err, sizeof(err), "reply_%d_at_EHLO", answer);
		/* Best effort: the server may already have hung up. */
		if (send_all(&c, "QUIT\r\n", deadline) == IO_OK)
			read_reply(&c, deadline, &quit, NULL, 0);
done:
		conn_close(&c);
report:
		printf("n=%d greeting=%s answer=%s ms=%lld err=%s from=%s text=\"%s\""
		       " answer_text=\"%s\"\n",
		       i + 1, code_str(greeting, gbuf, sizeof(gbuf)),
		       code_str(answer, abuf, sizeof(abuf)), (long long)(now_ms() - start), err,
		       addr_str(src), text, answer_text);
	}
	printf("attempts=%d greeted=%d answered=%d fail=%d\n", attempts, greeted, answered,
	       attempts - greeted);
	return 0;
}

/* ---------------------------------------------------------------- harvest */

static int do_harvest(const struct opts *o)
{
	long total_rcpts = 0, total_ok = 0, total_5xx = 0, total_4xx = 0, errors = 0;
	char ehlo[300], mail[300], rcpt[300];
	unsigned int seed = (unsigned int)(getpid() ^ clock_ms(CLOCK_REALTIME));

	if (!o->n_src)
		usage_error("harvest needs --from SRC");
	if (!o->rcpts)
		usage_error("harvest needs --rcpts N");
	snprintf(ehlo, sizeof(ehlo), "EHLO %s\r\n", o->helo);
	snprintf(mail, sizeof(mail), "MAIL FROM:<%s>\r\n", o->mail_from);
	print_start(o);
	for (int i = 0; i < o->sessions && !stop_requested; i++) {
		const struct sockaddr_storage *src = &o->src[i % o->n_src];
		int64_t start = now_ms();
		char err[TEXT_LEN] = "-";
		int sent = 0, ok = 0, rej = 0, tmp = 0, code;
		struct conn c;

		if (conn_open(&c, o, src, now_ms() + o->timeout_ms, err, sizeof(err)))
			goto report;
		if (!step(&c, o, "greeting", NULL, 220, now_ms() + o->timeout_ms, NULL, err,
			  sizeof(err)) ||
		    !step(&c, o, "EHLO", ehlo, 250, now_ms() + o->timeout_ms, NULL, err,
			  sizeof(err)) ||
		    !step(&c, o, "MAIL", mail, 250, now_ms() + o->timeout_ms, NULL, err,
			  sizeof(err)))
			goto done;
		for (int k = 0; k < o->rcpts && !stop_requested; k++) {
			char e[TEXT_LEN];

			snprintf(rcpt, sizeof(rcpt), "RCPT TO:<random%u@%s>\r\n",
				 (unsigned int)rand_r(&seed), o->domain);
			sent++;
			if (step(&c, o, "RCPT", rcpt, 250, now_ms() + o->timeout_ms, &code, e,
				 sizeof(e))) {
				ok++;
				continue;
			}
			if (code >= 500 && code < 600) {
				rej++;
			} else if (code >= 400 && code < 500) {
				tmp++;
				/* 421: the server is closing the session ("too many errors"). */
				if (code == 421) {
					snprintf(err, sizeof(err), "%s", e);
					break;
				}
			} else {
				snprintf(err, sizeof(err), "%s", e);
				break;
			}
		}
		if (!strcmp(err, "-"))
			step(&c, o, "QUIT", "QUIT\r\n", 221, now_ms() + o->timeout_ms, NULL, err,
			     sizeof(err));
done:
		conn_close(&c);
report:
		if (strcmp(err, "-"))
			errors++;
		total_rcpts += sent;
		total_ok += ok;
		total_5xx += rej;
		total_4xx += tmp;
		printf("session=%d rcpts=%d accepted=%d rejected=%d tempfail=%d ms=%lld err=%s from=%s\n",
		       i + 1, sent, ok, rej, tmp, (long long)(now_ms() - start), err, addr_str(src));
	}
	printf("sessions=%d rcpts=%ld accepted=%ld rejected=%ld tempfail=%ld errors=%ld\n",
	       o->sessions, total_rcpts, total_ok, total_5xx, total_4xx, errors);
	return 0;
}

/* ---------------------------------------------------------------- main */

enum {
	OPT_BASE = 256,
	OPT_TO = OPT_BASE, OPT_PORT, OPT_FROM, OPT_FROM_RANGE, OPT_DURATION, OPT_INTERVAL,
	OPT_TIMEOUT, OPT_REPLY_TIMEOUT, OPT_SLOW, OPT_PER_SOURCE, OPT_STAGE, OPT_COUNT,
	OPT_RCPTS, OPT_SESSIONS, OPT_RECONNECT, OPT_REPORT, OPT_MAXSECS, OPT_HELO,
	OPT_MAIL_FROM, OPT_RCPT, OPT_DOMAIN, OPT_BODY_KB, OPT_BODY_DELAY, OPT_DRIP, OPT_HELP,
	OPT_END,
};

static const struct option longopts[] = {
	{ "to", required_argument, NULL, OPT_TO },
	{ "port", required_argument, NULL, OPT_PORT },
	{ "from", required_argument, NULL, OPT_FROM },
	{ "from-range", required_argument, NULL, OPT_FROM_RANGE },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "interval-ms", required_argument, NULL, OPT_INTERVAL },
	{ "timeout-ms", required_argument, NULL, OPT_TIMEOUT },
	{ "reply-timeout-ms", required_argument, NULL, OPT_REPLY_TIMEOUT },
	{ "slow-ms", required_argument, NULL, OPT_SLOW },
	{ "per-source", required_argument, NULL, OPT_PER_SOURCE },
	{ "stage", required_argument, NULL, OPT_STAGE },
	{ "count", required_argument, NULL, OPT_COUNT },
	{ "rcpts", required_argument, NULL, OPT_RCPTS },
	{ "sessions", required_argument, NULL, OPT_SESSIONS },
	{ "reconnect-ms", required_argument, NULL, OPT_RECONNECT },
	{ "report-ms", required_argument, NULL, OPT_REPORT },
	{ "max-seconds", required_argument, NULL, OPT_MAXSECS },
	{ "helo", required_argument, NULL, OPT_HELO },
	{ "mail-from", required_argument, NULL, OPT_MAIL_FROM },
	{ "rcpt", required_argument, NULL, OPT_RCPT },
	{ "domain", required_argument, NULL, OPT_DOMAIN },
	{ "body-kb", required_argument, NULL, OPT_BODY_KB },
	{ "body-delay-ms", required_argument, NULL, OPT_BODY_DELAY },
	{ "drip-ms", required_argument, NULL, OPT_DRIP },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

/* What each mode takes besides --to, --port, --from*, --helo, --mail-from and --max-seconds. */
static const struct {
	const char *mode;
	int opts[12];
} mode_opts[] = {
	{ "legit", { OPT_DURATION, OPT_INTERVAL, OPT_TIMEOUT, OPT_SLOW, OPT_RCPT, OPT_BODY_KB,
		     OPT_BODY_DELAY } },
	{ "idle", { OPT_DURATION, OPT_TIMEOUT, OPT_REPLY_TIMEOUT, OPT_PER_SOURCE, OPT_STAGE,
		    OPT_RECONNECT, OPT_REPORT, OPT_DRIP } },
	{ "pregreet", { OPT_COUNT, OPT_TIMEOUT } },
	{ "harvest", { OPT_RCPTS, OPT_SESSIONS, OPT_TIMEOUT, OPT_DOMAIN } },
};

static bool takes(int mode, int opt)
{
	if (opt == OPT_TO || opt == OPT_PORT || opt == OPT_FROM || opt == OPT_FROM_RANGE ||
	    opt == OPT_HELO || opt == OPT_MAIL_FROM || opt == OPT_MAXSECS)
		return true;
	for (int i = 0; i < 12 && mode_opts[mode].opts[i]; i++)
		if (mode_opts[mode].opts[i] == opt)
			return true;
	return false;
}

static const char *opt_name(int opt)
{
	for (const struct option *lo = longopts; lo->name; lo++)
		if (lo->val == opt)
			return lo->name;
	return "?";
}

static enum stage parse_stage(const char *s)
{
	if (!strcmp(s, "greeting"))
		return STAGE_GREETING;
	if (!strcmp(s, "helo") || !strcmp(s, "ehlo"))
		return STAGE_HELO;
	if (!strcmp(s, "mail"))
		return STAGE_MAIL;
	usage_error("--stage: '%s' is not greeting, helo or mail", s);
}

int main(int argc, char **argv)
{
	struct opts o = {
		.port = DEFAULT_PORT,
		.interval_ms = DEFAULT_INTERVAL_MS,
		.timeout_ms = DEFAULT_TIMEOUT_MS,
		.reply_timeout_ms = DEFAULT_REPLY_TMO_MS,
		.per_source = 1,
		.stage = STAGE_HELO,
		.count = 1,
		.sessions = 1,
		.reconnect_ms = DEFAULT_RECONNECT_MS,
		.report_ms = DEFAULT_REPORT_MS,
		.helo = NULL,
		.mail_from = "sender@legit.lab.test",
		.rcpt = "user@lab.test",
		.domain = "lab.test",
	};
	struct sigaction sa = { 0 };
	int mode = -1, c;

	if (argc < 2)
		usage_error("missing mode: legit, idle, pregreet or harvest");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(mode_opts) / sizeof(mode_opts[0]); i++)
		if (!strcmp(argv[1], mode_opts[i].mode))
			mode = (int)i;
	if (mode < 0)
		usage_error("unknown mode '%s'", argv[1]);
	o.mode = mode_opts[mode].mode;

	optind = 2;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		struct sockaddr_storage ss;

		if (c == OPT_HELP) {
			usage(stdout);
			return 0;
		}
		if (c < OPT_BASE || c >= OPT_END) {
			/* getopt_long() has said what was wrong */
			usage(stderr);
			return 2;
		}
		if (!takes(mode, c))
			usage_error("%s does not take --%s", o.mode, opt_name(c));
		switch (c) {
		case OPT_TO:
			o.to = optarg;
			break;
		case OPT_PORT:
			o.port = parse_int("--port", optarg, 1, 65535);
			break;
		case OPT_FROM:
			if (!parse_addr(optarg, 0, &ss))
				usage_error("--from: '%s' is not an IPv4 or IPv6 address", optarg);
			add_source(&o, &ss);
			break;
		case OPT_FROM_RANGE:
			add_range(&o, optarg);
			break;
		case OPT_DURATION:
			o.duration_s = parse_int("--duration", optarg, 1, 86400);
			break;
		case OPT_INTERVAL:
			o.interval_ms = parse_int("--interval-ms", optarg, 0, 3600000);
			break;
		case OPT_TIMEOUT:
			o.timeout_ms = parse_int("--timeout-ms", optarg, 1, 3600000);
			break;
		case OPT_REPLY_TIMEOUT:
			o.reply_timeout_ms = parse_int("--reply-timeout-ms", optarg, 1, 3600000);
			break;
		case OPT_SLOW:
			o.slow_ms = parse_int("--slow-ms", optarg, 0, 3600000);
			break;
		case OPT_PER_SOURCE:
			o.per_source = parse_int("--per-source", optarg, 1, MAX_SESSIONS);
			break;
		case OPT_STAGE:
			o.stage = parse_stage(optarg);
			break;
		case OPT_COUNT:
			o.count = parse_int("--count", optarg, 1, 1000000);
			break;
		case OPT_RCPTS:
			o.rcpts = parse_int("--rcpts", optarg, 1, 1000000);
			break;
		case OPT_SESSIONS:
			o.sessions = parse_int("--sessions", optarg, 1, 1000000);
			break;
		case OPT_RECONNECT:
			o.reconnect_ms = parse_int("--reconnect-ms", optarg, 0, 3600000);
			break;
		case OPT_REPORT:
			o.report_ms = parse_int("--report-ms", optarg, 10, 3600000);
			break;
		case OPT_MAXSECS:
			o.max_seconds = parse_int("--max-seconds", optarg, 1, 86400 * 2);
			break;
		case OPT_HELO:
			o.helo = optarg;
			break;
		case OPT_MAIL_FROM:
			o.mail_from = optarg;
			break;
		case OPT_RCPT:
			o.rcpt = optarg;
			break;
		case OPT_DOMAIN:
			o.domain = optarg;
			break;
		case OPT_BODY_KB:
			o.body_kb = parse_int("--body-kb", optarg, 1, MAX_BODY_KB);
			break;
		case OPT_BODY_DELAY:
			o.body_delay_ms = parse_int("--body-delay-ms", optarg, 0, 3600000);
			break;
		case OPT_DRIP:
			o.drip_ms = parse_int("--drip-ms", optarg, 1, 3600000);
			break;
		}
		if ((c == OPT_HELO || c == OPT_MAIL_FROM || c == OPT_RCPT || c == OPT_DOMAIN) &&
		    (strlen(optarg) > 200 || strpbrk(optarg, "\r\n<> ")))
			usage_error("--%s: '%s' must be one word of at most 200 characters",
				    opt_name(c), optarg);
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (!o.to)
		usage_error("--to ADDR is required");
	o.dst_len = parse_addr(o.to, o.port, &o.dst);
	if (!o.dst_len)
		usage_error("--to: '%s' is not an IPv4 or IPv6 address", o.to);
	for (int i = 0; i < o.n_src; i++)
		if (o.src[i].ss_family != o.dst.ss_family)
			usage_error("source %s and --to %s are of different address families",
				    addr_str(&o.src[i]), o.to);
	if (!o.helo)
		o.helo = mode == 0 ? "legit.lab.test" : "x";
	if (o.body_delay_ms && !o.body_kb)
		usage_error("--body-delay-ms needs --body-kb N");
	if (o.body_kb && (int64_t)(o.body_kb + 1) * o.body_delay_ms >= o.timeout_ms)
		fprintf(stderr, "%s: warning: the body's pauses alone (%lld ms) exceed --timeout-ms %d:"
			" every transaction will time out\n", prog,
			(long long)(o.body_kb + 1) * o.body_delay_ms, o.timeout_ms);

	/* Never hang a test: a hard limit beyond whatever the run asked for. */
	if (!o.max_seconds)
		o.max_seconds = o.duration_s ? o.duration_s + 120 : 3600;
	sa.sa_handler = on_alarm;
	if (sigaction(SIGALRM, &sa, NULL))
		die("sigaction(SIGALRM): %s", strerror(errno));
	sa.sa_handler = on_term;
	if (sigaction(SIGTERM, &sa, NULL) || sigaction(SIGINT, &sa, NULL))
		die("sigaction(SIGTERM): %s", strerror(errno));
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL))
		die("sigaction(SIGPIPE): %s", strerror(errno));
	alarm((unsigned int)o.max_seconds);
	/* One line at a time into a file: a script reads them while we run. */
	setvbuf(stdout, NULL, _IOLBF, 0);

	switch (mode) {
	case 0:
		return do_legit(&o);
	case 1:
		return do_idle(&o);
	case 2:
		return do_pregreet(&o);
	default:
		return do_harvest(&o);
	}
}
