// SPDX-License-Identifier: GPL-2.0
/*
 * `smtpwall events [-n N] [--json] [--follow]`: one request on the
 * daemon's control socket (control.h), its answer copied to stdout line by
 * line as it arrives. An "error: " line from the daemon goes to stderr and
 * fails the command.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "cli_events.h"
#include "control.h"
#include "daemon.h"

int sw_cmd_events(const char *state_dir, long last, bool json, bool follow)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char req[SW_CONTROL_LINE_MAX], line[8192];
	size_t have = 0;
	int fd, n, ret = 0;

	if (sw_control_path(state_dir, sun.sun_path, sizeof(sun.sun_path))) {
		fprintf(stderr, "smtpwall: events: %s/%s is too long for a unix socket\n", state_dir,
			SW_CONTROL_SOCK);
		return 1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "smtpwall: events: socket: %s\n", strerror(errno));
		return 1;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		int e = errno;

		if (e == ENOENT || e == ECONNREFUSED)
			fprintf(stderr, "smtpwall: events: the daemon is not running (%s: %s); start it with "
				"`smtpwall run`\n", sun.sun_path, sw_daemon_pid(state_dir) > 0 ?
				"a daemon holds the lock but does not answer" : strerror(e));
		else
			fprintf(stderr, "smtpwall: events: cannot connect to %s: %s\n", sun.sun_path, strerror(e));
		close(fd);
		return 1;
	}
	n = snprintf(req, sizeof(req), "events%s%s", json ? " json" : "", follow ? " follow" : "");
	if (last >= 0)
		n += snprintf(req + n, sizeof(req) - n, " last=%ld", last);
	n += snprintf(req + n, sizeof(req) - n, "\n");
	if (write(fd, req, n) != n) {
		fprintf(stderr, "smtpwall: events: cannot send the request: %s\n", strerror(errno));
		close(fd);
		return 1;
	}
	/* A reader that went away (`| head`) ends us quietly. */
	signal(SIGPIPE, SIG_DFL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (;;) {
		ssize_t r = read(fd, line + have, sizeof(line) - 1 - have);
		char *p, *nl;

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fprintf(stderr, "smtpwall: events: %s\n", strerror(errno));
			ret = 1;
			break;
		}
		if (r == 0)
			break;
		have += (size_t)r;
		line[have] = 0;
		for (p = line; (nl = memchr(p, '\n', line + have - p)); p = nl + 1) {
			*nl = 0;
			if (!strncmp(p, "error: ", 7)) {
				fprintf(stderr, "smtpwall: events: %s\n", p + 7);
				ret = 1;
			} else {
				puts(p);
			}
		}
		have = (size_t)(line + have - p);
		memmove(line, p, have);
		if (have == sizeof(line) - 1) {
			/* Longer than any event the daemon writes: pass it on as it is. */
			fwrite(line, 1, have, stdout);
			have = 0;
		}
	}
	if (have)
		fwrite(line, 1, have, stdout);
	if (follow && !ret)
		fprintf(stderr, "smtpwall: events: the daemon closed the stream (it stopped)\n");
	close(fd);
	return ret;
}
