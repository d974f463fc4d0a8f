// SPDX-License-Identifier: GPL-2.0
/*
 * The Postfix log-line reader (user/maillog/postfix_log.c): whatever a
 * line of the mail log holds, up to SW_MLOG_LINE_MAX bytes (the follower
 * cuts longer ones).
 *
 * Each input is read in a buffer of exactly its size (ASan sees a read
 * past the end). The kind is one of the enum; a line that is not an
 * smtpd's leaves every field empty; a kind with a client has an address
 * that inet_pton reads back to the same bytes; every string is
 * terminated within its field; a username is the line's own text (the
 * rest of the line after the key, cut or holding a NUL only when marked unusable); reading again
 * gives the same record.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "postfix_log.h"

#define check(cond, ...)                                                                   \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "fuzz_maillog: %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                                      \
			fputc('\n', stderr);                                               \
			abort();                                                           \
		}                                                                          \
	} while (0)

#define terminated(field) check(memchr((field), 0, sizeof(field)) != NULL, "%s not terminated", #field)

static bool has_client(enum sw_mlog_kind k)
{
	return k >= SW_ML_CONNECT && k < SW_ML_N_KINDS;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sw_mlog m, again, zero;
	enum sw_mlog_kind k;
	char *line;

	if (size > SW_MLOG_LINE_MAX)
		return 0;
	line = malloc(size ? size : 1);
	if (!line)
		return 0;
	memcpy(line, data, size);
	k = sw_mlog_parse(line, size, &m);
	check((unsigned)k < SW_ML_N_KINDS, "kind %d", k);
	check(m.kind == k, "record kind %d, returned %d", m.kind, k);
	terminated(m.service);
	terminated(m.addr_text);
	terminated(m.method);
	terminated(m.username);
	terminated(m.queue_id);
	terminated(m.command);
	terminated(m.status);

	memset(&zero, 0, sizeof(zero));
	if (k == SW_ML_NOT_SMTPD)
		check(!memcmp(&m, &zero, sizeof(m)), "a line not of smtpd left fields set");
	if (has_client(k)) {
		uint8_t back[16] = { 0 };

		check(m.family == AF_INET || m.family == AF_INET6, "family %u", m.family);
		check(inet_pton(m.family, m.addr_text, back) == 1, "address text \"%s\" does not read", m.addr_text);
		check(!memcmp(back, m.addr, m.family == AF_INET ? 4 : 16), "address bytes differ from \"%s\"",
		      m.addr_text);
		check(m.service[0], "an smtpd line without its service");
	} else {
		check(m.family == 0 && !m.addr_text[0], "kind %s with an address", sw_mlog_kind_name(k));
		check(!m.has_username, "kind %s with a username", sw_mlog_kind_name(k));
	}
	if (m.has_username) {
		size_t un = strlen(m.username);

		check(k == SW_ML_AUTH_FAILED || k == SW_ML_LOGIN, "username on kind %s", sw_mlog_kind_name(k));
		check(un < SW_MLOG_USER_LEN, "username of %zu bytes", un);
		check(memmem(line, size, m.username, un) != NULL || memchr(m.username, 0, un),
		      "username \"%s\" is not the line's text", m.username);
		if (k == SW_ML_AUTH_FAILED && !m.username_cut && !memchr(line, 0, size))
			check(size >= un && !memcmp(line + size - un, m.username, un),
			      "a failed login's username is not the rest of the line");
	} else {
		check(!m.username_cut && !m.username[0], "username without has_username");
	}
	if (k == SW_ML_DISCONNECT) {
		check(m.auth_ok <= m.auth_total, "auth %d/%d", m.auth_ok, m.auth_total);
		check(m.commands_ok <= m.commands_total, "commands %d/%d", m.commands_ok, m.commands_total);
	}
	if (k == SW_ML_REJECT)
		check(m.code >= 400 && m.code <= 599, "reject code %u", m.code);

	/* the line's time: a stamp that read is a real calendar time, and placing it never fails */
	check(m.stamp.kind <= SW_MLOG_STAMP_SYSLOG, "stamp kind %d", m.stamp.kind);
	if (m.stamp.kind) {
		check(m.stamp.month >= 1 && m.stamp.month <= 12 && m.stamp.mday >= 1 && m.stamp.mday <= 31 &&
			      m.stamp.hour < 24 && m.stamp.min < 60 && m.stamp.sec <= 60,
		      "stamp %u-%u %u:%u:%u", m.stamp.month, m.stamp.mday, m.stamp.hour, m.stamp.min, m.stamp.sec);
		check(m.stamp.kind != SW_MLOG_STAMP_UNIX || m.stamp.unix_ms >= -86400000LL * 2,
		      "stamp before 1970: %lld", (long long)m.stamp.unix_ms);
		(void)sw_mlog_time_ms(&m.stamp, 1796551200000LL);
	}
	check(sw_mlog_parse(line, size, &again) == k, "a second reading differs");
	check(!memcmp(&m, &again, sizeof(m)), "a second reading gives another record");
	free(line);
	return 0;
}
