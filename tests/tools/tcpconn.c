// SPDX-License-Identifier: GPL-2.0
/*
 * tcpconn: a small TCP client and server for the end-to-end tests.
 *
 *   tcpconn serve   --port P [--bind ADDR] [--greeting TEXT]
 *   tcpconn connect --to ADDR --port P [--from SRC] [--count N]
 *                   [--timeout-ms T] [--hold-ms H] [--interval-ms I]
 *   tcpconn hold    --to ADDR --port P [--from SRC] --count N --signal-file F
 *                   [--timeout-ms T]
 *
 * Every mode also takes --max-seconds S (default 60): the process gives up
 * after S seconds whatever it is doing, so that a test can never hang.
 *
 * The server speaks just enough SMTP for the tests: a "220" greeting on
 * accept, "250 ok" for every line received. A client connection counts as
 * connected only once the greeting has been read.
 *
 * Exit status: 0 done (connect/hold print their counts, whatever they are),
 * 1 a system call failed in a way the test did not ask for, 2 usage error,
 * 3 --max-seconds elapsed.
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_GREETING   "smtpwall-test"
#define DEFAULT_TIMEOUT_MS 1000
#define DEFAULT_MAX_SECS   60
#define MAX_COUNT	   10000
#define MAX_CLIENTS	   4096
#define LINE_MAX_LEN	   1000
#define OUTBUF_LEN	   4096
#define REPLY_OK	   "250 ok\r\n"
#define REPLY_TOO_LONG	   "500 line too long\r\n"

static const char *prog = "tcpconn";
static volatile sig_atomic_t stop_requested;

struct opts {
	const char *to;
	const char *from;
	const char *bind;
	const char *greeting;
	const char *signal_file;
	int port;
	int count;
	int timeout_ms;
	int hold_ms;
	int interval_ms;
	int max_seconds;
	bool count_given;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s serve   --port P [--bind ADDR] [--greeting TEXT]\n"
		"       %s connect --to ADDR --port P [--from SRC] [--count N] [--timeout-ms T]\n"
		"                  [--hold-ms H] [--interval-ms I]\n"
		"       %s hold    --to ADDR --port P [--from SRC] --count N --signal-file F\n"
		"                  [--timeout-ms T]\n"
		"all modes: --max-seconds S (default %d): give up after S seconds (exit 3)\n",
		prog, prog, prog, DEFAULT_MAX_SECS);
}

#include "tool.h"

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Remaining milliseconds until @deadline, never negative, for poll(). */
static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		die("fcntl(O_NONBLOCK): %s", strerror(errno));
}

/* ---------------------------------------------------------------- serve */

struct client {
	int fd;
	size_t inlen;
	size_t outlen;
	bool overlong;		/* discarding the rest of a too long line */
	char in[LINE_MAX_LEN + 1];
	char out[OUTBUF_LEN];
};

static struct client *clients[MAX_CLIENTS];
static int n_clients;

static void client_close(int i)
{
	if (close(clients[i]->fd))
		fprintf(stderr, "%s: close: %s\n", prog, strerror(errno));
	free(clients[i]);
	clients[i] = clients[--n_clients];
	clients[n_clients] = NULL;
}

/* Queue @s for the client; false if its output buffer is full (client not reading). */
static bool client_queue(struct client *c, const char *s)
{
	size_t n = strlen(s);

	if (n > sizeof(c->out) - c->outlen)
		return false;
	memcpy(c->out + c->outlen, s, n);
	c->outlen += n;
	return true;
}

/* Send what is queued. false if the connection is broken. */
static bool client_flush(struct client *c)
{
	while (c->outlen) {
		ssize_t n = send(c->fd, c->out, c->outlen, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return true;
			return false;
		}
		memmove(c->out, c->out + n, c->outlen - n);
		c->outlen -= n;
	}
	return true;
}

/* Read what is there; reply "250 ok" per complete line. false: close it. */
static bool client_read(struct client *c)
{
	char buf[2048];
	ssize_t n;

	for (int rounds = 0; rounds < 64; rounds++) {
		n = recv(c->fd, buf, sizeof(buf), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return true;
			return false;	/* reset by the client, or the like */
		}
		if (n == 0)
			return false;	/* client closed */
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				if (!client_queue(c, c->overlong ? REPLY_TOO_LONG : REPLY_OK))
					return false;
				c->inlen = 0;
				c->overlong = false;
			} else if (c->inlen < LINE_MAX_LEN) {
				c->in[c->inlen++] = buf[i];
			} else {
				c->overlong = true;
			}
		}
	}
	return true;
}

static int open_listener(const struct opts *o)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, zero = 0;
	int fd;

	if (o->bind) {
		len = parse_addr(o->bind, o->port, &ss);
		if (!len)
			usage_error("--bind: '%s' is not an IPv4 or IPv6 address", o->bind);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		memset(&ss, 0, sizeof(ss));
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_any;
		sin6->sin6_port = htons(o->port);
		len = sizeof(*sin6);
	}

	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		die("setsockopt(SO_REUSEADDR): %s", strerror(errno));
	if (ss.ss_family == AF_INET6 && !o->bind &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)))
		die("setsockopt(IPV6_V6ONLY=0): %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&ss, len))
		die("bind to %s port %d: %s", o->bind ? o->bind : "[::]", o->port, strerror(errno));
	if (listen(fd, 1024))
		die("listen: %s", strerror(errno));
	set_nonblock(fd);
	return fd;
}

static void accept_all(int lfd, const char *greeting)
{
	for (int rounds = 0; rounds < 256; rounds++) {
		struct client *c;
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				fprintf(stderr, "%s: accept: %s\n", prog, strerror(errno));
				return;
			}
			die("accept: %s", strerror(errno));
		}
		if (n_clients >= MAX_CLIENTS) {
			fprintf(stderr, "%s: more than %d clients, closing a new one\n", prog,
				MAX_CLIENTS);
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c)
			die("out of memory");
		c->fd = fd;
		clients[n_clients++] = c;
		if (!client_queue(c, "220 ") || !client_queue(c, greeting) ||
		    !client_queue(c, "\r\n") || !client_flush(c))
			client_close(n_clients - 1);
	}
}

static int do_serve(const struct opts *o)
{
	static struct pollfd pfds[MAX_CLIENTS + 1];
	char greeting[512];
	int lfd;

	if (!o->port)
		usage_error("serve needs --port");
	if (o->to || o->from || o->count_given || o->signal_file || o->hold_ms || o->interval_ms)
		usage_error("serve takes only --port, --bind, --greeting and --max-seconds");
	if (strlen(o->greeting) >= sizeof(greeting) || strpbrk(o->greeting, "\r\n"))
		usage_error("--greeting: one line of fewer than %zu characters", sizeof(greeting));
	snprintf(greeting, sizeof(greeting), "%s", o->greeting);

	lfd = open_listener(o);
	printf("ready pid=%d\n", (int)getpid());
	fflush(stdout);

	while (!stop_requested) {
		int n;

		pfds[0].fd = lfd;
		pfds[0].events = POLLIN;
		pfds[0].revents = 0;
		for (int i = 0; i < n_clients; i++) {
			pfds[i + 1].fd = clients[i]->fd;
			pfds[i + 1].events = POLLIN | (clients[i]->outlen ? POLLOUT : 0);
			pfds[i + 1].revents = 0;
		}
		n = poll(pfds, n_clients + 1, 1000);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("poll: %s", strerror(errno));
		}
		if (!n)
			continue;
		/* Walk backwards: client_close() moves the last client into the hole. */
		for (int i = n_clients - 1; i >= 0; i--) {
			struct client *c = clients[i];
			short re = pfds[i + 1].revents;

			if (!re)
				continue;
			if ((re & (POLLIN | POLLHUP | POLLERR)) && !client_read(c)) {
				client_close(i);
				continue;
			}
			if (!client_flush(c))
				client_close(i);
		}
		if (pfds[0].revents & POLLIN)
			accept_all(lfd, greeting);
	}
	while (n_clients)
		client_close(n_clients - 1);
	close(lfd);
	return 0;
}

/* ---------------------------------------------------------------- client */

/*
 * Wait for @fd to become readable and read one line (up to "\n") into @buf.
 * Returns true if a whole line arrived before @deadline.
 */
static bool read_line(int fd, char *buf, size_t len, int64_t deadline)
{
	size_t have = 0;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int r = poll(&pfd, 1, remaining(deadline));
		ssize_t n;

		if (r < 0) {
			if (errno == EINTR)
				continue;
			die("poll: %s", strerror(errno));
		}
		if (r == 0)
			return false;
		/* One byte at a time: never swallow what follows the line. */
		n = recv(fd, buf + have, 1, 0);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			return false;
		}
		if (n == 0)
			return false;
		if (buf[have] == '\n') {
			buf[have] = '\0';
			return true;
		}
		if (have < len - 2)
			have++;
	}
}

/* Send all of @s before @deadline. */
static bool send_all(int fd, const char *s, int64_t deadline)
{
	size_t left = strlen(s);

	while (left) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		ssize_t n;
		int r = poll(&pfd, 1, remaining(deadline));

		if (r < 0) {
			if (errno == EINTR)
				continue;
			die("poll: %s", strerror(errno));
		}
		if (r == 0)
			return false;
		n = send(fd, s, left, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			return false;
		}
		s += n;
		left -= n;
	}
	return true;
}

/*
 * One connection attempt: non-blocking connect, then the 220 greeting,
 * all within @timeout_ms. Returns the connected socket, or -1.
 */
static int attempt(const struct opts *o, const struct sockaddr_storage *dst, socklen_t dlen,
		   const struct sockaddr_storage *src, socklen_t slen)
{
	int64_t deadline = now_ms() + o->timeout_ms;
	char line[LINE_MAX_LEN];
	socklen_t elen = sizeof(int);
	int fd, err = 0;

	fd = socket(dst->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	if (slen && bind(fd, (const struct sockaddr *)src, slen))
		die("bind to --from %s: %s", o->from, strerror(errno));
	if (connect(fd, (const struct sockaddr *)dst, dlen) && errno != EINPROGRESS) {
		if (errno == ENETUNREACH || errno == EHOSTUNREACH || errno == ECONNREFUSED ||
		    errno == EADDRNOTAVAIL || errno == ETIMEDOUT) {
			close(fd);
			return -1;
		}
		die("connect to %s port %d: %s", o->to, o->port, strerror(errno));
	}
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		int r = poll(&pfd, 1, remaining(deadline));

		if (r < 0) {
			if (errno == EINTR)
				continue;
			die("poll: %s", strerror(errno));
		}
		if (r == 0)
			goto fail;	/* SYN unanswered: dropped, or nobody there */
		break;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen))
		die("getsockopt(SO_ERROR): %s", strerror(errno));
	if (err)
		goto fail;
	if (!read_line(fd, line, sizeof(line), deadline) || strncmp(line, "220", 3))
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

/*
 * Close with a FIN: shut our side, then wait (briefly) for the server's FIN
 * so that nothing is left unread, which would turn close() into a RST.
 */
static void close_clean(int fd, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	char buf[256];

	if (shutdown(fd, SHUT_WR) == 0) {
		for (;;) {
			struct pollfd pfd = { .fd = fd, .events = POLLIN };
			int r = poll(&pfd, 1, remaining(deadline));
			ssize_t n;

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			n = recv(fd, buf, sizeof(buf), 0);
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0)
				break;
		}
	}
	if (close(fd))
		fprintf(stderr, "%s: close: %s\n", prog, strerror(errno));
}

/* NOOP on a held connection: true if it answered 250. */
static bool noop_ok(int fd, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	char line[LINE_MAX_LEN];

	if (!send_all(fd, "NOOP\r\n", deadline))
		return false;
	return read_line(fd, line, sizeof(line), deadline) && !strncmp(line, "250", 3);
}

static void client_addrs(const struct opts *o, struct sockaddr_storage *dst, socklen_t *dlen,
			 struct sockaddr_storage *src, socklen_t *slen)
{
	if (!o->to)
		usage_error("--to ADDR is required");
	if (!o->port)
		usage_error("--port P is required");
	*dlen = parse_addr(o->to, o->port, dst);
	if (!*dlen)
		usage_error("--to: '%s' is not an IPv4 or IPv6 address", o->to);
	*slen = 0;
	if (o->from) {
		*slen = parse_addr(o->from, 0, src);
		if (!*slen)
			usage_error("--from: '%s' is not an IPv4 or IPv6 address", o->from);
		if (src->ss_family != dst->ss_family)
			usage_error("--from %s and --to %s are of different address families",
				    o->from, o->to);
	}
	if (o->bind || o->greeting != NULL)
		usage_error("--bind and --greeting are for serve only");
}

static int do_connect(const struct opts *o)
{
	struct sockaddr_storage dst, src;
	socklen_t dlen, slen;
	int *held = NULL;
	int connected = 0, failed = 0, held_ok = 0;

	client_addrs(o, &dst, &dlen, &src, &slen);
	if (o->signal_file)
		usage_error("--signal-file is for hold only");
	if (o->hold_ms) {
		held = calloc(o->count, sizeof(*held));
		if (!held)
			die("out of memory");
	}
	for (int i = 0; i < o->count; i++) {
		int fd;

		if (i && o->interval_ms)
			sleep_ms(o->interval_ms);
		fd = attempt(o, &dst, dlen, &src, slen);
		if (fd < 0) {
			failed++;
			continue;
		}
		connected++;
		if (held)
			held[connected - 1] = fd;
		else
			close_clean(fd, o->timeout_ms);
	}
	if (held) {
		sleep_ms(o->hold_ms);
		for (int i = 0; i < connected; i++) {
			if (noop_ok(held[i], o->timeout_ms))
				held_ok++;
			close_clean(held[i], o->timeout_ms);
		}
		free(held);
	}
	printf("connected=%d failed=%d held_ok=%d\n", connected, failed, held_ok);
	fflush(stdout);
	return 0;
}

static int do_hold(const struct opts *o)
{
	struct sockaddr_storage dst, src;
	socklen_t dlen, slen;
	struct stat sb;
	int connected = 0, failed = 0, alive = 0;
	int *held;

	client_addrs(o, &dst, &dlen, &src, &slen);
	if (!o->count_given)
		usage_error("hold needs --count N");
	if (!o->signal_file)
		usage_error("hold needs --signal-file F");
	if (o->hold_ms || o->interval_ms)
		usage_error("--hold-ms and --interval-ms are for connect only");
	held = calloc(o->count, sizeof(*held));
	if (!held)
		die("out of memory");
	for (int i = 0; i < o->count; i++) {
		int fd = attempt(o, &dst, dlen, &src, slen);

		if (fd < 0) {
			failed++;
			continue;
		}
		held[connected++] = fd;
	}
	printf("connected=%d failed=%d\n", connected, failed);
	fflush(stdout);

	/* Bounded by --max-seconds (SIGALRM). */
	while (stat(o->signal_file, &sb)) {
		if (errno != ENOENT)
			die("stat %s: %s", o->signal_file, strerror(errno));
		if (stop_requested)
			break;
		sleep_ms(50);
	}
	for (int i = 0; i < connected; i++) {
		if (noop_ok(held[i], o->timeout_ms))
			alive++;
		close_clean(held[i], o->timeout_ms);
	}
	free(held);
	printf("alive=%d\n", alive);
	fflush(stdout);
	return 0;
}

/* ---------------------------------------------------------------- main */

enum {
	OPT_PORT = 256, OPT_BIND, OPT_GREETING, OPT_TO, OPT_FROM, OPT_COUNT, OPT_TIMEOUT,
	OPT_HOLD, OPT_INTERVAL, OPT_SIGNAL, OPT_MAXSECS, OPT_HELP,
};

static const struct option longopts[] = {
	{ "port", required_argument, NULL, OPT_PORT },
	{ "bind", required_argument, NULL, OPT_BIND },
	{ "greeting", required_argument, NULL, OPT_GREETING },
	{ "to", required_argument, NULL, OPT_TO },
	{ "from", required_argument, NULL, OPT_FROM },
	{ "count", required_argument, NULL, OPT_COUNT },
	{ "timeout-ms", required_argument, NULL, OPT_TIMEOUT },
	{ "hold-ms", required_argument, NULL, OPT_HOLD },
	{ "interval-ms", required_argument, NULL, OPT_INTERVAL },
	{ "signal-file", required_argument, NULL, OPT_SIGNAL },
	{ "max-seconds", required_argument, NULL, OPT_MAXSECS },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

int main(int argc, char **argv)
{
	struct opts o = {
		.count = 1,
		.timeout_ms = DEFAULT_TIMEOUT_MS,
		.max_seconds = DEFAULT_MAX_SECS,
	};
	struct sigaction sa = { 0 };
	const char *mode;
	int c;

	if (argc < 2)
		usage_error("missing mode: serve, connect or hold");
	mode = argv[1];
	if (!strcmp(mode, "-h") || !strcmp(mode, "--help") || !strcmp(mode, "help")) {
		usage(stdout);
		return 0;
	}
	if (strcmp(mode, "serve") && strcmp(mode, "connect") && strcmp(mode, "hold"))
		usage_error("unknown mode '%s'", mode);

	optind = 2;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_PORT:
			o.port = parse_int("--port", optarg, 1, 65535);
			break;
		case OPT_BIND:
			o.bind = optarg;
			break;
		case OPT_GREETING:
			o.greeting = optarg;
			break;
		case OPT_TO:
			o.to = optarg;
			break;
		case OPT_FROM:
			o.from = optarg;
			break;
		case OPT_COUNT:
			o.count = parse_int("--count", optarg, 1, MAX_COUNT);
			o.count_given = true;
			break;
		case OPT_TIMEOUT:
			o.timeout_ms = parse_int("--timeout-ms", optarg, 1, 600000);
			break;
		case OPT_HOLD:
			o.hold_ms = parse_int("--hold-ms", optarg, 0, 600000);
			break;
		case OPT_INTERVAL:
			o.interval_ms = parse_int("--interval-ms", optarg, 0, 600000);
			break;
		case OPT_SIGNAL:
			o.signal_file = optarg;
			break;
		case OPT_MAXSECS:
			o.max_seconds = parse_int("--max-seconds", optarg, 1, 86400);
			break;
		case OPT_HELP:
			usage(stdout);
			return 0;
		default:
			/* getopt_long() has said what was wrong */
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);

	sa.sa_handler = on_alarm;
	if (sigaction(SIGALRM, &sa, NULL))
		die("sigaction(SIGALRM): %s", strerror(errno));
	/* serve and hold wind down on SIGTERM; connect just dies. */
	sa.sa_handler = on_term;
	if (strcmp(mode, "connect") &&
	    (sigaction(SIGTERM, &sa, NULL) || sigaction(SIGINT, &sa, NULL)))
		die("sigaction(SIGTERM): %s", strerror(errno));
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL))
		die("sigaction(SIGPIPE): %s", strerror(errno));
	alarm(o.max_seconds);

	if (!strcmp(mode, "serve")) {
		if (!o.greeting)
			o.greeting = DEFAULT_GREETING;
		return do_serve(&o);
	}
	if (!strcmp(mode, "connect"))
		return do_connect(&o);
	return do_hold(&o);
}
