// SPDX-License-Identifier: GPL-2.0
/*
 * policyreq: one Postfix policy client connection for tests. Sends what
 * it reads on stdin (requests: name=value lines, each ended by an empty
 * line) over one connection, reads one answer per request, and prints
 * each answer's action value on a line of its own. Like smtpd, it sends
 * a request only after the previous one was answered.
 *
 *   policyreq --unix PATH | --tcp HOST:PORT [--timeout SEC] [--raw]
 *
 * --raw sends stdin as it is, all at once (malformed streams), then
 * prints whatever comes back until the server closes or the timeout.
 * Exit 0; 1 if the server closed or timed out before all answers came.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static const char *prog = "policyreq";

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void __attribute__((noreturn)) usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: %s --unix PATH | --tcp HOST:PORT [--timeout SEC] [--raw] < requests\n", prog);
	exit(2);
}

static int timeout_ms = 5000;

/* Read until "\n\n" ends one answer; print action=VALUE's value. 0, or -1 on EOF/timeout. */
static int read_answer(int fd)
{
	char buf[8192];
	size_t n = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (n >= 2 && buf[n - 1] == '\n' && buf[n - 2] == '\n')
			break;
		if (n == sizeof(buf) - 1)
			return -1;
		if (poll(&p, 1, timeout_ms) <= 0)
			return -1;
		r = read(fd, buf + n, 1);	/* byte by byte: never read into the next answer */
		if (r <= 0)
			return -1;
		n++;
	}
	buf[n - 2] = 0;
	printf("%s\n", strncmp(buf, "action=", 7) ? buf : buf + 7);
	fflush(stdout);
	return 0;
}

static int connect_to(const char *unix_path, const char *tcp)
{
	int fd;

	if (unix_path) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };

		if (strlen(unix_path) >= sizeof(sun.sun_path))
			die("%s: path too long", unix_path);
		strcpy(sun.sun_path, unix_path);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)))
			die("connect %s: %s", unix_path, strerror(errno));
	} else {
		char host[128];
		const char *colon = strrchr(tcp, ':');
		struct sockaddr_in sin = { .sin_family = AF_INET };

		if (!colon || (size_t)(colon - tcp) >= sizeof(host))
			usage_error("--tcp expects HOST:PORT");
		memcpy(host, tcp, (size_t)(colon - tcp));
		host[colon - tcp] = 0;
		if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
			usage_error("--tcp: %s is not an IPv4 address", host);
		sin.sin_port = htons((uint16_t)atoi(colon + 1));
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)))
			die("connect %s: %s", tcp, strerror(errno));
	}
	return fd;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w <= 0)
			die("write: %s", strerror(errno));
		p += w;
		n -= (size_t)w;
	}
}

int main(int argc, char **argv)
{
	const char *unix_path = NULL, *tcp = NULL;
	char *line = NULL, *req = NULL;
	size_t cap = 0, rlen = 0, rcap = 0;
	bool raw = false;
	ssize_t len;
	int fd, missing = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--unix") && i + 1 < argc)
			unix_path = argv[++i];
		else if (!strcmp(argv[i], "--tcp") && i + 1 < argc)
			tcp = argv[++i];
		else if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
			timeout_ms = atoi(argv[++i]) * 1000;
		else if (!strcmp(argv[i], "--raw"))
			raw = true;
		else
			usage_error("unknown argument %s", argv[i]);
	}
	if (!unix_path == !tcp)
		usage_error("give one of --unix or --tcp");
	signal(SIGPIPE, SIG_IGN);
	fd = connect_to(unix_path, tcp);
	if (raw) {
		char buf[65536];
		size_t n;

		while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0)
			write_all(fd, buf, n);
		while (read_answer(fd) == 0)
			;
		return 0;
	}
	while ((len = getline(&line, &cap, stdin)) >= 0) {
		if (rlen + (size_t)len + 1 > rcap) {
			rcap = (rlen + (size_t)len + 1) * 2;
			req = realloc(req, rcap);
			if (!req)
				die("out of memory");
		}
		memcpy(req + rlen, line, (size_t)len);
		rlen += (size_t)len;
		if (len == 1 && line[0] == '\n') {
			write_all(fd, req, rlen);
			rlen = 0;
			if (read_answer(fd)) {
				missing++;
				break;
			}
		}
	}
	free(line);
	free(req);
	close(fd);
	return missing ? 1 : 0;
}
