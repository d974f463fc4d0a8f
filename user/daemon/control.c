// SPDX-License-Identifier: GPL-2.0
/* The control socket's names and its request reader (control.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include "control.h"

int sw_control_path(const char *state_dir, char *buf, size_t len)
{
	size_t max = sizeof(((struct sockaddr_un *)0)->sun_path);
	int n = snprintf(buf, len, "%s/%s", state_dir, SW_CONTROL_SOCK);

	return n < 0 || (size_t)n >= len || (size_t)n >= max ? -1 : 0;
}

/* At most 40 bytes of what the client sent, printable, for an error line. */
static void quote(const char *s, size_t n, char *buf, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < n && i < 40 && o + 2 < len; i++)
		buf[o++] = (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"') ? s[i] : '?';
	buf[o] = 0;
}

int sw_control_parse(const char *line, struct sw_control_req *r, char *err, size_t errlen)
{
	const char *p = line;
	char word[48];
	bool first = true;

	memset(r, 0, sizeof(*r));
	if (strlen(line) > SW_CONTROL_LINE_MAX) {
		snprintf(err, errlen, "error: request longer than %d bytes\n", SW_CONTROL_LINE_MAX);
		return -1;
	}
	for (;;) {
		size_t n;

		p += strspn(p, " \t");
		if (!*p)
			break;
		n = strcspn(p, " \t");
		quote(p, n, word, sizeof(word));
		if (first) {
			if (n != 6 || strncmp(p, "events", 6)) {
				snprintf(err, errlen, "error: unknown request \"%s\"; this daemon answers: events\n", word);
				return -1;
			}
			first = false;
		} else if (n == 4 && !strncmp(p, "json", 4)) {
			r->json = true;
		} else if (n == 6 && !strncmp(p, "follow", 6)) {
			r->follow = true;
		} else if (n > 5 && n <= 12 && !strncmp(p, "last=", 5)) {
			char num[8], *end;
			long v;

			memcpy(num, p + 5, n - 5);
			num[n - 5] = 0;
			errno = 0;
			v = strtol(num, &end, 10);
			if (errno || *end || num[0] < '0' || num[0] > '9' || v > 1000000) {
				snprintf(err, errlen, "error: %s: not a count of events (0 to 1000000)\n", word);
				return -1;
			}
			r->last = v ? v : -1;
		} else {
			snprintf(err, errlen, "error: events: unknown option \"%s\" (json, follow, last=N)\n", word);
			return -1;
		}
		p += n;
	}
	if (first) {
		snprintf(err, errlen, "error: empty request; this daemon answers: events\n");
		return -1;
	}
	return 0;
}
