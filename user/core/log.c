// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "log.h"

static volatile enum sw_log_level current_level = SW_LOG_INFO;
static volatile enum sw_log_format current_format = SW_LOG_TEXT;

static const char *const level_names[] = {
	[SW_LOG_ERROR] = "error",
	[SW_LOG_WARN] = "warn",
	[SW_LOG_INFO] = "info",
	[SW_LOG_DEBUG] = "debug",
};

void sw_log_set_level(enum sw_log_level level)
{
	current_level = level;
}

void sw_log_set_format(enum sw_log_format format)
{
	current_format = format;
}

enum sw_log_format sw_log_get_format(void)
{
	return current_format;
}

int sw_log_enabled(enum sw_log_level level)
{
	return level <= current_level;
}

const char *sw_log_level_name(enum sw_log_level level)
{
	return (unsigned)level <= SW_LOG_DEBUG ? level_names[level] : "info";
}

int sw_json_quote(const char *s, char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;

	if (len < 3)
		return -1;
	buf[o++] = '"';
	for (; *p; p++) {
		char esc[8];
		const char *e = NULL;
		size_t n;

		switch (*p) {
		case '"': e = "\\\""; break;
		case '\\': e = "\\\\"; break;
		case '\n': e = "\\n"; break;
		case '\r': e = "\\r"; break;
		case '\t': e = "\\t"; break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				snprintf(esc, sizeof(esc), "\\u%04x", *p);
				e = esc;
			}
		}
		n = e ? strlen(e) : 1;
		if (o + n + 2 > len)
			return -1;
		if (e)
			memcpy(buf + o, e, n);
		else
			buf[o] = (char)*p;
		o += n;
	}
	buf[o++] = '"';
	buf[o] = 0;
	return (int)o;
}

/* The whole line at once: a write of one buffer is not interleaved with another thread's. */
static void put_line(const char *line, size_t len)
{
	while (len) {
		ssize_t n = write(STDERR_FILENO, line, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		line += n;
		len -= (size_t)n;
	}
}

void sw_log_line(enum sw_log_level level, const char *msg, const char *fields)
{
	char stamp[32], line[SW_LOG_LINE_MAX];
	struct timespec ts;
	struct tm tm;
	int n;

	if (!sw_log_enabled(level))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	if (current_format == SW_LOG_JSON) {
		char q[SW_LOG_LINE_MAX / 2];

		if (sw_json_quote(msg, q, sizeof(q)) < 0)
			snprintf(q, sizeof(q), "\"(message too long for one line)\"");
		n = snprintf(line, sizeof(line), "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"msg\":%s%s%s}\n",
			     stamp, ts.tv_nsec / 1000000, sw_log_level_name(level), q,
			     fields && *fields ? "," : "", fields ? fields : "");
		if (n >= (int)sizeof(line)) {
			/* Never half an object: the message alone. */
			n = snprintf(line, sizeof(line), "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"msg\":%s}\n",
				     stamp, ts.tv_nsec / 1000000, sw_log_level_name(level), q);
		}
	} else {
		n = snprintf(line, sizeof(line), "%s.%03ldZ smtpwall %s: %s\n", stamp, ts.tv_nsec / 1000000,
			     sw_log_level_name(level), msg);
		if (n >= (int)sizeof(line)) {
			line[sizeof(line) - 2] = '\n';
			n = sizeof(line) - 1;
		}
	}
	if (n > 0)
		put_line(line, n >= (int)sizeof(line) ? sizeof(line) - 1 : (size_t)n);
}

void sw_log(enum sw_log_level level, const char *fmt, ...)
{
	char msg[SW_LOG_LINE_MAX / 2];
	va_list ap;

	if (!sw_log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sw_log_line(level, msg, NULL);
}
