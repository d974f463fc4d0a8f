/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The Postfix policy delegation protocol (SMTPD_POLICY_README), the
 * reading side: a request is "name=value" lines ended by an empty line;
 * the answer is "action=..." and an empty line; the connection carries
 * request after request. This reader is pure (no I/O, no allocation): the
 * policy service feeds it one line at a time, the fuzz harness a stream.
 *
 * Every input is bounded: a line, the attributes of a request and the
 * request's total size. Unknown attributes are ignored (Postfix adds new
 * ones in new versions); a line without '=' or an attribute given twice
 * marks the request malformed, which is answered DUNNO when its empty
 * line comes and affects nothing else. A line longer than the limit
 * cannot be resynchronised with: the caller answers and closes.
 */
#ifndef SW_POLICY_PROTO_H
#define SW_POLICY_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SW_POLICY_LINE_MAX	4096	/* bytes of one attribute line, without its LF */
#define SW_POLICY_ATTRS_MAX	128	/* attribute lines in one request */
#define SW_POLICY_REQUEST_MAX	65536	/* bytes of one request */

#define SW_POLICY_NAME_LEN	256	/* sasl_username */
#define SW_POLICY_ADDR_LEN	320	/* sender, recipient (RFC 5321: 256 + quoting) */
#define SW_POLICY_SHORT_LEN	64	/* request, protocol_state, client_address, instance ... */

/* protocol_state, as Postfix names it. */
enum sw_policy_state {
	SW_PS_UNKNOWN = 0,
	SW_PS_CONNECT,
	SW_PS_EHLO,
	SW_PS_HELO,
	SW_PS_MAIL,
	SW_PS_RCPT,
	SW_PS_DATA,
	SW_PS_END_OF_MESSAGE,
	SW_PS_VRFY,
	SW_PS_ETRN,
};

/* Why a request is malformed (counted by kind). */
enum sw_policy_error {
	SW_PE_NONE = 0,
	SW_PE_NO_EQUALS,	/* a line without '=' */
	SW_PE_EMPTY_NAME,	/* "=value" */
	SW_PE_DUPLICATE,	/* an attribute we read, given twice */
	SW_PE_TOO_MANY,		/* more than SW_POLICY_ATTRS_MAX lines */
	SW_PE_TOO_BIG,		/* more than SW_POLICY_REQUEST_MAX bytes */
	SW_PE_VALUE_TOO_LONG,	/* an attribute we read exceeds its field */
	SW_PE_BAD_VALUE,	/* a NUL byte, a count that is not a number */
	SW_PE_NOT_POLICY,	/* request= is not smtpd_access_policy, or missing */
	SW_PE_LINE_TOO_LONG,	/* no end of line within SW_POLICY_LINE_MAX: the stream is lost */
	SW_PE_N_KINDS
};

const char *sw_policy_error_name(enum sw_policy_error e);
const char *sw_policy_state_name(enum sw_policy_state s);

/* The attributes smtpwall reads; every other one is skipped. */
struct sw_policy_req {
	enum sw_policy_state state;
	char protocol_state[SW_POLICY_SHORT_LEN];	/* as sent, for messages */
	char client_address[SW_POLICY_SHORT_LEN];
	char sasl_username[SW_POLICY_NAME_LEN];
	char sasl_method[SW_POLICY_SHORT_LEN];
	char sender[SW_POLICY_ADDR_LEN];
	char recipient[SW_POLICY_ADDR_LEN];
	char instance[SW_POLICY_SHORT_LEN];
	char queue_id[SW_POLICY_SHORT_LEN];
	uint32_t recipient_count;
	uint64_t size;
	bool have_request;		/* request=smtpd_access_policy seen */
	/* reading state */
	unsigned attrs;
	size_t bytes;
	uint32_t seen;			/* bit per attribute above: duplicates */
	enum sw_policy_error error;	/* the first fault, SW_PE_NONE if well formed */
};

void sw_policy_req_reset(struct sw_policy_req *r);

enum sw_policy_line_result {
	SW_PL_MORE = 0,		/* an attribute line: read the next */
	SW_PL_END = 1,		/* the empty line: the request is complete (check r->error) */
};

/*
 * One line of @len bytes, without its LF (a trailing CR is dropped too).
 * Faults are recorded in r->error (the first one) and reading goes on to
 * the empty line.
 */
enum sw_policy_line_result sw_policy_req_line(struct sw_policy_req *r, const char *line, size_t len);

/*
 * Split a byte stream into requests, calling @each for every complete one
 * (nothing for a trailing incomplete request). Returns the number of
 * complete requests, or -1 when a line exceeds SW_POLICY_LINE_MAX (the
 * requests before it were still given to @each).
 */
int sw_policy_parse_stream(const char *buf, size_t len,
			   void (*each)(void *ctx, const struct sw_policy_req *r), void *ctx);

#endif
