/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Postfix's smtpd log lines, the reading side of the mail-log follower.
 * Pure (no I/O, no allocation): one line in, one record out.
 *
 * A line is a syslog line ("Mmm dd hh:mm:ss HOST TAG[PID]: TEXT" or the
 * RFC 3339 form "YYYY-MM-DDThh:mm:ss[.f]±hh:mm HOST TAG[PID]: TEXT"),
 * Postfix's own maillog_file (the same forms), or a journal entry given
 * as "TAG[PID]: TEXT". TAG is an smtpd's syslog name: "postfix/smtpd",
 * with a master.cf service ("postfix/submission/smtpd", "postfix/smtps/
 * smtpd") or an instance name ("postfix-out/smtpd"). Other programs'
 * lines are SW_ML_NOT_SMTPD, smtpd lines of no interest SW_ML_OTHER.
 *
 * What is read (Postfix 3.5 to 3.10; a client is NAME[ADDR], or
 * NAME[ADDR]:PORT with smtpd_client_port_logging = yes):
 *   connect from CLIENT
 *   warning: CLIENT: SASL METHOD authentication failed: REASON
 *       [, sasl_username=USER]                    (the username: 3.9 on)
 *   QUEUEID: client=CLIENT, sasl_method=METHOD, sasl_username=USER
 *       [, sasl_sender=...]
 *   disconnect from CLIENT ehlo=1 auth=0/1 ... commands=1/2
 *   NOQUEUE: reject: CMD from CLIENT: CODE X.Y.Z TEXT; from=<> to=<> ...
 *   lost connection after CMD from CLIENT, timeout after CMD from CLIENT
 *
 * Hostile input: NAME must be a host name Postfix would log (letters,
 * digits, '-', '.', '_') or "unknown", ADDR an address inet_pton reads;
 * anything else is SW_ML_MALFORMED. A failed login's username is what the
 * client typed: it is the rest of the line after the first
 * ", sasl_username=" (Postfix writes it last), whatever it contains, so a
 * username such as "x, sasl_username=y" or "a]: b[192.0.2.1" is one
 * username and never moves the address. A username longer than the field,
 * or holding a NUL, is marked unusable (username_cut): the failure still
 * counts for the address, never for an account it would read as.
 */
#ifndef SW_POSTFIX_LOG_H
#define SW_POSTFIX_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SW_MLOG_LINE_MAX	4096	/* longer lines are cut by the reader */
#define SW_MLOG_USER_LEN	256	/* sasl_username, as SW_ACCOUNT_NAME_LEN */

enum sw_mlog_kind {
	SW_ML_NOT_SMTPD = 0,	/* not an smtpd line (another program, not syslog) */
	SW_ML_OTHER,		/* an smtpd line of no interest */
	SW_ML_MALFORMED,	/* began like a line below and did not read as one */
	SW_ML_CONNECT,
	SW_ML_AUTH_FAILED,
	SW_ML_LOGIN,		/* a queue id's client= line with a sasl_username */
	SW_ML_CLIENT,		/* a client= line without a login */
	SW_ML_DISCONNECT,
	SW_ML_REJECT,		/* NOQUEUE: reject: */
	SW_ML_LOST,		/* lost connection / timeout after CMD */
	SW_ML_N_KINDS
};

const char *sw_mlog_kind_name(enum sw_mlog_kind k);

/*
 * A line's own time. RFC 3339 carries a date and an offset: unix ms.
 * Syslog's "Mmm dd hh:mm:ss" has neither year nor zone: the fields, for
 * sw_mlog_time_ms to place in local time. A time that does not read (a
 * 31st of February, 25:00) leaves SW_MLOG_STAMP_NONE; the line still reads.
 */
enum sw_mlog_stamp_kind { SW_MLOG_STAMP_NONE = 0, SW_MLOG_STAMP_UNIX, SW_MLOG_STAMP_SYSLOG };
struct sw_mlog_stamp {
	uint8_t kind;
	uint8_t month, mday, hour, min, sec;
	int64_t unix_ms;	/* SW_MLOG_STAMP_UNIX */
};

/*
 * The stamp as unix ms, 0 if it has none. A syslog stamp is local time in
 * @now_ms's year, or the year before if that is over a day ahead of @now_ms.
 */
int64_t sw_mlog_time_ms(const struct sw_mlog_stamp *st, int64_t now_ms);

struct sw_mlog {
	enum sw_mlog_kind kind;
	struct sw_mlog_stamp stamp;	/* the line's own time, if it has one */
	char service[32];	/* "smtpd", or the master.cf service: "submission", "smtps" */
	uint32_t pid;
	/* the client */
	uint8_t family;		/* AF_INET, AF_INET6; 0 when the kind has none */
	uint8_t addr[16];	/* network order; IPv4 in the first 4 bytes */
	char addr_text[48];
	uint16_t port;		/* 0: not logged */
	/* AUTH_FAILED, LOGIN */
	char method[24];
	char username[SW_MLOG_USER_LEN];
	bool has_username;
	bool username_cut;	/* longer than the field: not usable as an account */
	/* LOGIN, CLIENT */
	char queue_id[24];
	/* DISCONNECT: the counts, -1 where the line has none */
	int auth_ok, auth_total, commands_ok, commands_total;
	/* REJECT */
	char command[16];	/* RCPT, MAIL, ...; LOST: the command it was lost after */
	unsigned code;		/* 550 */
	char status[12];	/* "5.1.1", "" if none */
	bool timeout;		/* LOST: "timeout after", not "lost connection after" */
};

/*
 * Read one line of @len bytes (no newline; NULs are not expected and end
 * nothing: they make the line malformed where they fall inside a field).
 * Fills @out and returns its kind.
 */
enum sw_mlog_kind sw_mlog_parse(const char *line, size_t len, struct sw_mlog *out);

#endif /* SW_POSTFIX_LOG_H */
