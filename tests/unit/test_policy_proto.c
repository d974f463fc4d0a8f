// SPDX-License-Identifier: GPL-2.0
/*
 * The Postfix policy protocol reader (user/accounts/policy_proto.c): what
 * smtpd 3.7 sends reads into the fields, each kind of malformed request
 * is named for what is wrong with it and still ends at its empty line,
 * and every bound holds at its exact edge.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy_proto.h"

/* What Postfix 3.7 smtpd sends at RCPT TO (SMTPD_POLICY_README), most of it ignored by us. */
static const char rcpt_request[] =
	"request=smtpd_access_policy\n"
	"protocol_state=RCPT\n"
	"protocol_name=ESMTP\n"
	"client_address=192.0.2.10\n"
	"client_name=laptop.example.net\n"
	"client_port=52344\n"
	"reverse_client_name=laptop.example.net\n"
	"server_address=198.51.100.1\n"
	"server_port=587\n"
	"helo_name=[192.168.1.20]\n"
	"sender=alice@example.org\n"
	"recipient=bob@example.com\n"
	"recipient_count=0\n"
	"queue_id=\n"
	"instance=1b2e.65b1c2d3.4e5f6.0\n"
	"size=0\n"
	"etrn_domain=\n"
	"stress=\n"
	"sasl_method=PLAIN\n"
	"sasl_username=alice\n"
	"sasl_sender=\n"
	"ccert_subject=\n"
	"ccert_issuer=\n"
	"ccert_fingerprint=\n"
	"ccert_pubkey_fingerprint=\n"
	"encryption_protocol=TLSv1.3\n"
	"encryption_cipher=TLS_AES_256_GCM_SHA384\n"
	"encryption_keysize=256\n"
	"policy_context=\n"
	"server_name=mx.example.org\n"
	"compatibility_level=3.6\n"
	"mail_version=3.7.11\n"
	"\n";
#define RCPT_REQUEST_ATTRS 32

/* A well-formed request to read after a bad one: nothing of the bad one may show through. */
static const char eom_request[] =
	"request=smtpd_access_policy\n"
	"protocol_state=END-OF-MESSAGE\n"
	"client_address=2001:db8::25\n"
	"sender=\n"
	"recipient=\n"
	"recipient_count=3\n"
	"queue_id=4Tq2Xy0ZkPz9sQ\n"
	"instance=1b2e.65b1c2d3.4e5f6.1\n"
	"size=123456\n"
	"\n";

/*
 * Feed @len bytes to @r line by line, as the policy service does. Every
 * line but the last must answer SW_PL_MORE and the last (the empty line)
 * SW_PL_END: the reading ends at the empty line, never before.
 */
static void feed(struct sw_policy_req *r, const char *buf, size_t len)
{
	size_t pos = 0;

	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t llen;
		enum sw_policy_line_result res;

		assert_non_null(nl);
		llen = (size_t)(nl - (buf + pos));
		res = sw_policy_req_line(r, buf + pos, llen);
		pos += llen + 1;
		if (pos < len && res == SW_PL_END)
			fail_msg("the request ended before its empty line, %zu bytes early", len - pos);
		if (pos == len && res != SW_PL_END)
			fail_msg("the empty line did not end the request");
	}
}

static void feed_str(struct sw_policy_req *r, const char *text)
{
	feed(r, text, strlen(text));
}

/* A fresh reader over @text. */
static void read_fresh(struct sw_policy_req *r, const char *text)
{
	memset(r, 0x5a, sizeof(*r));	/* reset must not rely on a zeroed struct */
	sw_policy_req_reset(r);
	feed_str(r, text);
}

static void assert_eom_fields(const struct sw_policy_req *r)
{
	assert_int_equal(r->error, SW_PE_NONE);
	assert_true(r->have_request);
	assert_int_equal(r->state, SW_PS_END_OF_MESSAGE);
	assert_string_equal(r->protocol_state, "END-OF-MESSAGE");
	assert_string_equal(r->client_address, "2001:db8::25");
	assert_string_equal(r->sasl_username, "");
	assert_string_equal(r->sasl_method, "");
	assert_string_equal(r->sender, "");
	assert_string_equal(r->recipient, "");
	assert_int_equal(r->recipient_count, 3);
	assert_string_equal(r->queue_id, "4Tq2Xy0ZkPz9sQ");
	assert_string_equal(r->instance, "1b2e.65b1c2d3.4e5f6.1");
	assert_int_equal(r->size, 123456);
	assert_int_equal(r->attrs, 9);
}

/* A request of @n lines "name=value" where every line is @line_len bytes (lines after request=). */
static char *padded_request(unsigned n_pad_lines, size_t line_len, size_t *out_len)
{
	size_t cap = 64 + (size_t)n_pad_lines * (line_len + 1) + 2;
	char *buf = malloc(cap);
	size_t off = 0;

	assert_non_null(buf);
	off += (size_t)sprintf(buf, "request=smtpd_access_policy\n");
	for (unsigned i = 0; i < n_pad_lines; i++) {
		int k = sprintf(buf + off, "x%u=", i);

		assert_true((size_t)k < line_len);
		memset(buf + off + k, 'v', line_len - (size_t)k);
		off += line_len;
		buf[off++] = '\n';
	}
	buf[off++] = '\n';
	buf[off] = 0;
	*out_len = off;
	return buf;
}

/* ---- well-formed requests ---- */

static void test_rcpt_request_reads_into_fields(void **state)
{
	struct sw_policy_req r;

	(void)state;
	read_fresh(&r, rcpt_request);
	assert_int_equal(r.error, SW_PE_NONE);
	assert_true(r.have_request);
	assert_int_equal(r.state, SW_PS_RCPT);
	assert_string_equal(r.protocol_state, "RCPT");
	assert_string_equal(r.client_address, "192.0.2.10");
	assert_string_equal(r.sasl_username, "alice");
	assert_string_equal(r.sasl_method, "PLAIN");
	assert_string_equal(r.sender, "alice@example.org");
	assert_string_equal(r.recipient, "bob@example.com");
	assert_string_equal(r.instance, "1b2e.65b1c2d3.4e5f6.0");
	assert_string_equal(r.queue_id, "");
	assert_int_equal(r.recipient_count, 0);
	assert_int_equal(r.size, 0);
	assert_int_equal(r.attrs, RCPT_REQUEST_ATTRS);
}

static void test_end_of_message_request(void **state)
{
	struct sw_policy_req r;

	(void)state;
	read_fresh(&r, eom_request);
	assert_eom_fields(&r);
}

/* Every state Postfix names reads as itself; anything else (even in lower case) is unknown. */
static void test_protocol_states(void **state)
{
	static const struct {
		const char *name;
		enum sw_policy_state state;
	} cases[] = {
		{ "CONNECT", SW_PS_CONNECT }, { "EHLO", SW_PS_EHLO }, { "HELO", SW_PS_HELO },
		{ "MAIL", SW_PS_MAIL }, { "RCPT", SW_PS_RCPT }, { "DATA", SW_PS_DATA },
		{ "END-OF-MESSAGE", SW_PS_END_OF_MESSAGE }, { "VRFY", SW_PS_VRFY }, { "ETRN", SW_PS_ETRN },
		{ "rcpt", SW_PS_UNKNOWN }, { "RCPT ", SW_PS_UNKNOWN }, { "", SW_PS_UNKNOWN },
		{ "BDAT", SW_PS_UNKNOWN },
	};
	char text[256];
	struct sw_policy_req r;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "request=smtpd_access_policy\nprotocol_state=%s\n\n", cases[i].name);
		read_fresh(&r, text);
		assert_int_equal(r.error, SW_PE_NONE);
		if (r.state != cases[i].state)
			fail_msg("protocol_state=%s read as %d, expected %d", cases[i].name, r.state, cases[i].state);
		assert_string_equal(r.protocol_state, cases[i].name);
		if (cases[i].state != SW_PS_UNKNOWN)
			assert_string_equal(sw_policy_state_name(cases[i].state), cases[i].name);
	}
	assert_string_equal(sw_policy_state_name(SW_PS_UNKNOWN), "");
	assert_string_equal(sw_policy_state_name((enum sw_policy_state)1000), "");
}

/* CRLF line ends read exactly as LF ones: no '\r' left in any value, the empty line still ends it. */
static void test_crlf_line_ends(void **state)
{
	struct sw_policy_req lf, crlf;
	char text[sizeof(rcpt_request) * 2];
	size_t off = 0;

	(void)state;
	for (const char *p = rcpt_request; *p; p++) {
		if (*p == '\n')
			text[off++] = '\r';
		text[off++] = *p;
	}
	text[off] = 0;
	read_fresh(&lf, rcpt_request);
	read_fresh(&crlf, text);
	assert_int_equal(crlf.error, SW_PE_NONE);
	assert_int_equal(crlf.state, SW_PS_RCPT);
	assert_string_equal(crlf.protocol_state, lf.protocol_state);
	assert_string_equal(crlf.client_address, lf.client_address);
	assert_string_equal(crlf.sasl_username, lf.sasl_username);
	assert_string_equal(crlf.sasl_method, lf.sasl_method);
	assert_string_equal(crlf.sender, lf.sender);
	assert_string_equal(crlf.recipient, lf.recipient);
	assert_string_equal(crlf.instance, lf.instance);
	assert_string_equal(crlf.queue_id, lf.queue_id);
	assert_int_equal(crlf.attrs, lf.attrs);
	/* the CR is not part of the request's size either */
	assert_int_equal(crlf.bytes, lf.bytes);
	/* a numeric value before a CR is still a number */
	read_fresh(&crlf, "request=smtpd_access_policy\r\nrecipient_count=7\r\nsize=99\r\n\r\n");
	assert_int_equal(crlf.error, SW_PE_NONE);
	assert_int_equal(crlf.recipient_count, 7);
	assert_int_equal(crlf.size, 99);
}

/* A value is everything after the first '=': more '=' and spaces are part of it. */
static void test_values_with_equals_and_spaces(void **state)
{
	struct sw_policy_req r;

	(void)state;
	read_fresh(&r, "request=smtpd_access_policy\n"
		       "protocol_state=RCPT\n"
		       "sender=a=b@example.org\n"
		       "recipient= two  spaces =\n"
		       "sasl_username=alice smith\n"
		       "instance==\n"
		       "ccert_subject=CN=mail.example.org, O=Example, C=DE\n"
		       "\n");
	assert_int_equal(r.error, SW_PE_NONE);
	assert_string_equal(r.sender, "a=b@example.org");
	assert_string_equal(r.recipient, " two  spaces =");
	assert_string_equal(r.sasl_username, "alice smith");
	assert_string_equal(r.instance, "=");
}

/*
 * Attributes we do not read are skipped, whatever they hold, even given
 * twice; a name that only begins or ends like one of ours is not ours.
 */
static void test_unknown_attributes_ignored(void **state)
{
	struct sw_policy_req r;

	(void)state;
	read_fresh(&r, "request=smtpd_access_policy\n"
		       "protocol_state=RCPT\n"
		       "sender=alice@example.org\n"
		       "senders=mallory@example.net\n"
		       "sende=mallory@example.net\n"
		       "xsender=mallory@example.net\n"
		       "Sender=mallory@example.net\n"
		       "sasl_username_extra=mallory\n"
		       "recipient_count_new=abc\n"
		       "future_attribute_of_postfix_4=whatever it is\n"
		       "ccert_subject=one\n"
		       "ccert_subject=two\n"
		       "\n");
	assert_int_equal(r.error, SW_PE_NONE);
	assert_string_equal(r.sender, "alice@example.org");
	assert_string_equal(r.sasl_username, "");
	assert_int_equal(r.recipient_count, 0);
	assert_int_equal(r.attrs, 12);
}

/* recipient_count and size may come empty (outside DATA/END-OF-MESSAGE): 0, not an error. */
static void test_empty_counts_are_zero(void **state)
{
	struct sw_policy_req r;

	(void)state;
	read_fresh(&r, "request=smtpd_access_policy\nrecipient_count=\nsize=\n\n");
	assert_int_equal(r.error, SW_PE_NONE);
	assert_int_equal(r.recipient_count, 0);
	assert_int_equal(r.size, 0);
	/* the largest values still fit */
	read_fresh(&r, "request=smtpd_access_policy\nrecipient_count=4294967295\nsize=18446744073709551615\n\n");
	assert_int_equal(r.error, SW_PE_NONE);
	assert_int_equal(r.recipient_count, UINT32_MAX);
	assert_true(r.size == UINT64_MAX);
}

/* ---- malformed requests ---- */

/*
 * @len bytes (a whole request, empty line included) read as malformed by
 * @expect, ending at the empty line; then the same reader, reset, reads
 * a good request with nothing of the bad one left.
 */
static void expect_error_n(const char *buf, size_t len, enum sw_policy_error expect)
{
	struct sw_policy_req r;

	memset(&r, 0x5a, sizeof(r));
	sw_policy_req_reset(&r);
	feed(&r, buf, len);
	if (r.error != expect)
		fail_msg("read as %s, expected %s", sw_policy_error_name(r.error), sw_policy_error_name(expect));
	sw_policy_req_reset(&r);
	feed_str(&r, eom_request);
	assert_eom_fields(&r);
}

static void expect_error(const char *text, enum sw_policy_error expect)
{
	expect_error_n(text, strlen(text), expect);
}

static void test_error_no_equals(void **state)
{
	(void)state;
	expect_error("request=smtpd_access_policy\nprotocol_state=RCPT\njust some words\nsender=a@b\n\n",
		     SW_PE_NO_EQUALS);
	expect_error("request=smtpd_access_policy\nsender\n\n", SW_PE_NO_EQUALS);
}

static void test_error_empty_name(void **state)
{
	(void)state;
	expect_error("request=smtpd_access_policy\n=alice\n\n", SW_PE_EMPTY_NAME);
	expect_error("=\nrequest=smtpd_access_policy\n\n", SW_PE_EMPTY_NAME);
}

static void test_error_duplicate(void **state)
{
	struct sw_policy_req r;

	(void)state;
	/* a second sender could change whose message this is */
	expect_error("request=smtpd_access_policy\nsender=alice@example.org\nsender=bob@example.org\n\n",
		     SW_PE_DUPLICATE);
	expect_error("request=smtpd_access_policy\nsasl_username=alice\nsasl_username=alice\n\n", SW_PE_DUPLICATE);
	expect_error("request=smtpd_access_policy\nrequest=smtpd_access_policy\n\n", SW_PE_DUPLICATE);
	expect_error("request=smtpd_access_policy\nrecipient_count=1\nrecipient_count=2\n\n", SW_PE_DUPLICATE);
	/* the first value stays */
	read_fresh(&r, "request=smtpd_access_policy\nsender=alice@example.org\nsender=bob@example.org\n\n");
	assert_string_equal(r.sender, "alice@example.org");
}

/* The first fault is the one named; reading goes on to the empty line regardless. */
static void test_first_fault_named(void **state)
{
	(void)state;
	expect_error("request=smtpd_access_policy\nno equals here\n=x\nsender=a\nsender=b\n\n", SW_PE_NO_EQUALS);
	expect_error("request=smtpd_access_policy\nsender=a\nsender=b\nno equals here\n\n", SW_PE_DUPLICATE);
	expect_error("request=nope\nsender=a\nsender=b\n\n", SW_PE_NOT_POLICY);
}

static void test_error_too_many_attributes(void **state)
{
	size_t len;
	char *buf = padded_request(SW_POLICY_ATTRS_MAX, 8, &len);	/* request= and 128 more */

	(void)state;
	expect_error_n(buf, len, SW_PE_TOO_MANY);
	free(buf);
}

static void test_error_request_too_big(void **state)
{
	/* 17 lines of 4000 bytes: 68 kB, under the line and attribute limits */
	size_t len;
	char *buf = padded_request(17, 4000, &len);

	(void)state;
	expect_error_n(buf, len, SW_PE_TOO_BIG);
	free(buf);
}

static void test_error_value_too_long(void **state)
{
	static const struct {
		const char *name;
		size_t field;
	} fields[] = {
		{ "protocol_state", SW_POLICY_SHORT_LEN }, { "client_address", SW_POLICY_SHORT_LEN },
		{ "sasl_username", SW_POLICY_NAME_LEN },   { "sasl_method", SW_POLICY_SHORT_LEN },
		{ "sender", SW_POLICY_ADDR_LEN },	   { "recipient", SW_POLICY_ADDR_LEN },
		{ "instance", SW_POLICY_SHORT_LEN },	   { "queue_id", SW_POLICY_SHORT_LEN },
	};
	char text[1024], value[SW_POLICY_ADDR_LEN + 1];
	struct sw_policy_req r;

	(void)state;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		size_t fit = fields[i].field - 1;	/* the longest value its field holds, with its NUL */

		memset(value, 'a', fit + 1);
		value[fit + 1] = 0;
		snprintf(text, sizeof(text), "request=smtpd_access_policy\n%s=%s\n\n", fields[i].name, value);
		expect_error(text, SW_PE_VALUE_TOO_LONG);
		value[fit] = 0;
		snprintf(text, sizeof(text), "request=smtpd_access_policy\n%s=%s\n\n", fields[i].name, value);
		read_fresh(&r, text);
		if (r.error != SW_PE_NONE)
			fail_msg("%s of %zu bytes (its field holds %zu): %s", fields[i].name, fit, fields[i].field,
				 sw_policy_error_name(r.error));
	}
	/* a value too long is not kept, not even cut */
	memset(value, 'a', SW_POLICY_ADDR_LEN);
	value[SW_POLICY_ADDR_LEN] = 0;
	snprintf(text, sizeof(text), "request=smtpd_access_policy\nsender=%s\n\n", value);
	read_fresh(&r, text);
	assert_int_equal(r.error, SW_PE_VALUE_TOO_LONG);
	assert_string_equal(r.sender, "");
}

static void test_error_bad_count(void **state)
{
	static const char *const bad[] = {
		"recipient_count=abc", "recipient_count=-1", "recipient_count=+1", "recipient_count= 3",
		"recipient_count=3 ", "recipient_count=0x10", "recipient_count=4294967296",
		"recipient_count=99999999999999999999999", "size=12k", "size=1.5",
		"size=18446744073709551616", "size=-0",
	};
	char text[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "request=smtpd_access_policy\n%s\n\n", bad[i]);
		expect_error(text, SW_PE_BAD_VALUE);
	}
}

static void test_error_nul_byte(void **state)
{
	static const char in_known[] = "request=smtpd_access_policy\nsender=alice\0@example.org\n\n";
	static const char in_unknown[] = "request=smtpd_access_policy\nhelo_name=a\0b\n\n";
	static const char in_name[] = "request=smtpd_access_policy\nsen\0der=x\n\n";

	(void)state;
	expect_error_n(in_known, sizeof(in_known) - 1, SW_PE_BAD_VALUE);
	expect_error_n(in_unknown, sizeof(in_unknown) - 1, SW_PE_BAD_VALUE);
	expect_error_n(in_name, sizeof(in_name) - 1, SW_PE_BAD_VALUE);
}

static void test_error_not_policy(void **state)
{
	(void)state;
	/* missing: known only at the empty line */
	expect_error("protocol_state=RCPT\nsasl_username=alice\n\n", SW_PE_NOT_POLICY);
	expect_error("\n", SW_PE_NOT_POLICY);
	expect_error("request=junk\nprotocol_state=RCPT\n\n", SW_PE_NOT_POLICY);
	expect_error("request=smtpd_access_policyX\n\n", SW_PE_NOT_POLICY);
	expect_error("request=smtpd_access_polic\n\n", SW_PE_NOT_POLICY);
	expect_error("request=SMTPD_ACCESS_POLICY\n\n", SW_PE_NOT_POLICY);
	expect_error("request=\n\n", SW_PE_NOT_POLICY);
}

/* A line over the limit handed to the line reader: the request is malformed, still ends at its empty line. */
static void test_error_line_too_long(void **state)
{
	size_t len;
	char *buf = padded_request(1, SW_POLICY_LINE_MAX + 1, &len);

	(void)state;
	expect_error_n(buf, len, SW_PE_LINE_TOO_LONG);
	free(buf);
}

static void test_error_names(void **state)
{
	(void)state;
	for (int i = 0; i < SW_PE_N_KINDS; i++) {
		const char *n = sw_policy_error_name((enum sw_policy_error)i);

		assert_non_null(n);
		assert_true(n[0]);
		assert_string_not_equal(n, "unknown");
		for (int j = 0; j < i; j++)
			assert_string_not_equal(n, sw_policy_error_name((enum sw_policy_error)j));
	}
	assert_string_equal(sw_policy_error_name(SW_PE_N_KINDS), "unknown");
	assert_string_equal(sw_policy_error_name((enum sw_policy_error)-1), "unknown");
}

/* After a malformed request the reader, reset, keeps nothing: fields, duplicates, counts, bytes. */
static void test_reset_after_malformed(void **state)
{
	size_t len;
	char *big = padded_request(SW_POLICY_ATTRS_MAX - 1, 500, &len);	/* 128 lines (the limit), 63 kB */
	struct sw_policy_req r;

	(void)state;
	read_fresh(&r, "request=smtpd_access_policy\n"
		       "protocol_state=RCPT\n"
		       "sasl_username=mallory\n"
		       "sasl_method=LOGIN\n"
		       "client_address=203.0.113.9\n"
		       "sender=mallory@example.net\n"
		       "recipient=victim@example.com\n"
		       "instance=bad.1\n"
		       "queue_id=QQQ\n"
		       "recipient_count=5\n"
		       "size=777\n"
		       "no equals\n"
		       "\n");
	assert_int_equal(r.error, SW_PE_NO_EQUALS);
	sw_policy_req_reset(&r);
	feed_str(&r, eom_request);
	assert_eom_fields(&r);

	/* a request at the attribute limit after one at it: the counts started again */
	sw_policy_req_reset(&r);
	feed(&r, big, len);
	assert_int_equal(r.error, SW_PE_NONE);
	sw_policy_req_reset(&r);
	feed(&r, big, len);
	assert_int_equal(r.error, SW_PE_NONE);
	free(big);
}

/* ---- boundaries ---- */

static void test_line_max_boundary(void **state)
{
	size_t len;
	char *buf;
	struct sw_policy_req r;

	(void)state;
	buf = padded_request(1, SW_POLICY_LINE_MAX, &len);
	sw_policy_req_reset(&r);
	feed(&r, buf, len);
	assert_int_equal(r.error, SW_PE_NONE);
	free(buf);

	buf = padded_request(1, SW_POLICY_LINE_MAX + 1, &len);
	sw_policy_req_reset(&r);
	feed(&r, buf, len);
	assert_int_equal(r.error, SW_PE_LINE_TOO_LONG);
	free(buf);

	/* the CR is not counted: SW_POLICY_LINE_MAX bytes and a CR are fine */
	{
		char line[SW_POLICY_LINE_MAX + 1];

		memcpy(line, "x=", 2);
		memset(line + 2, 'v', SW_POLICY_LINE_MAX - 2);
		line[SW_POLICY_LINE_MAX] = '\r';
		sw_policy_req_reset(&r);
		assert_int_equal(sw_policy_req_line(&r, "request=smtpd_access_policy", 27), SW_PL_MORE);
		assert_int_equal(sw_policy_req_line(&r, line, sizeof(line)), SW_PL_MORE);
		assert_int_equal(sw_policy_req_line(&r, "\r", 1), SW_PL_END);
		assert_int_equal(r.error, SW_PE_NONE);
	}
}

static void test_attrs_max_boundary(void **state)
{
	size_t len;
	char *buf;
	struct sw_policy_req r;

	(void)state;
	buf = padded_request(SW_POLICY_ATTRS_MAX - 1, 8, &len);	/* request= + 127 = 128 */
	sw_policy_req_reset(&r);
	feed(&r, buf, len);
	assert_int_equal(r.error, SW_PE_NONE);
	assert_int_equal(r.attrs, SW_POLICY_ATTRS_MAX);
	free(buf);

	buf = padded_request(SW_POLICY_ATTRS_MAX, 8, &len);
	sw_policy_req_reset(&r);
	feed(&r, buf, len);
	assert_int_equal(r.error, SW_PE_TOO_MANY);
	free(buf);
}

/* The request's size counts each line and its LF: exactly SW_POLICY_REQUEST_MAX is fine. */
static void test_request_max_boundary(void **state)
{
	char *buf = malloc(SW_POLICY_REQUEST_MAX + 64);
	size_t off, want = SW_POLICY_REQUEST_MAX, line = 4000;
	struct sw_policy_req r;
	unsigned i = 0;

	(void)state;
	assert_non_null(buf);
	for (int extra = 0; extra <= 1; extra++) {
		off = (size_t)sprintf(buf, "request=smtpd_access_policy\n");
		while (off < want + (size_t)extra) {
			/* lines of 4000 bytes, the last one what is left (at least 16 bytes, at most 4016) */
			size_t left = want + (size_t)extra - off, l = left > line + 1 + 16 ? line : left - 1;
			int k = sprintf(buf + off, "x%u=", i++);

			assert_true((size_t)k <= l);
			memset(buf + off + k, 'v', l - (size_t)k);
			off += l;
			buf[off++] = '\n';
		}
		assert_int_equal(off, want + (size_t)extra);
		buf[off++] = '\n';
		sw_policy_req_reset(&r);
		feed(&r, buf, off);
		assert_int_equal(r.bytes, want + (size_t)extra);
		assert_int_equal(r.error, extra ? SW_PE_TOO_BIG : SW_PE_NONE);
	}
	free(buf);
}

/* ---- the stream ---- */

#define MAX_GOT 8
struct got {
	int n;
	struct sw_policy_req r[MAX_GOT];
};

static void collect(void *ctx, const struct sw_policy_req *r)
{
	struct got *g = ctx;

	assert_true(g->n < MAX_GOT);
	g->r[g->n++] = *r;
}

static void test_stream_splits_requests(void **state)
{
	char stream[4096];
	struct got g = { 0 };
	int n;

	(void)state;
	snprintf(stream, sizeof(stream),
		 "%s"
		 "request=smtpd_access_policy\r\nprotocol_state=RCPT\r\nsasl_username=bob\r\n"
		 "recipient=carol@example.com\r\ninstance=x.2\r\n\r\n"
		 "%s"
		 "request=smtpd_access_policy\nprotocol_state=RCPT\nsasl_username=dave\n",	/* incomplete */
		 rcpt_request, eom_request);
	n = sw_policy_parse_stream(stream, strlen(stream), collect, &g);
	assert_int_equal(n, 3);
	assert_int_equal(g.n, 3);
	assert_int_equal(g.r[0].error, SW_PE_NONE);
	assert_string_equal(g.r[0].sasl_username, "alice");
	assert_string_equal(g.r[0].recipient, "bob@example.com");
	assert_int_equal(g.r[1].error, SW_PE_NONE);
	assert_string_equal(g.r[1].sasl_username, "bob");
	assert_string_equal(g.r[1].recipient, "carol@example.com");
	assert_string_equal(g.r[1].instance, "x.2");
	assert_eom_fields(&g.r[2]);

	/* a trailing line without its LF gives nothing either */
	memset(&g, 0, sizeof(g));
	n = sw_policy_parse_stream(eom_request, strlen(eom_request) - 1, collect, &g);
	assert_int_equal(n, 0);
	assert_int_equal(g.n, 0);
	n = sw_policy_parse_stream("request=smtpd_access_policy", 27, collect, &g);
	assert_int_equal(n, 0);
	assert_int_equal(g.n, 0);
	assert_int_equal(sw_policy_parse_stream("", 0, collect, &g), 0);
	/* no callback: still counted */
	assert_int_equal(sw_policy_parse_stream(stream, strlen(stream), NULL, NULL), 3);
}

/* A malformed request in a stream is given as such; the next one reads as if it were the first. */
static void test_stream_malformed_then_good(void **state)
{
	char stream[2048];
	struct got g = { 0 };

	(void)state;
	snprintf(stream, sizeof(stream),
		 "request=smtpd_access_policy\nsasl_username=mallory\nrecipient_count=9\nsender=a\nsender=b\n\n%s",
		 eom_request);
	assert_int_equal(sw_policy_parse_stream(stream, strlen(stream), collect, &g), 2);
	assert_int_equal(g.r[0].error, SW_PE_DUPLICATE);
	assert_eom_fields(&g.r[1]);
}

/* A line that cannot be a request line, even with its CR: -1, the requests before it still given. */
static void test_stream_line_too_long(void **state)
{
	size_t cap = sizeof(rcpt_request) + SW_POLICY_LINE_MAX + 64 + sizeof(eom_request);
	char *stream = malloc(cap);
	struct got g = { 0 };
	size_t off;

	(void)state;
	assert_non_null(stream);
	/* SW_POLICY_LINE_MAX + 2 bytes before the LF, then a good request that must not be read */
	off = (size_t)sprintf(stream, "%s", rcpt_request);
	memset(stream + off, 'v', SW_POLICY_LINE_MAX + 2);
	off += SW_POLICY_LINE_MAX + 2;
	off += (size_t)sprintf(stream + off, "\n%s", eom_request);
	assert_int_equal(sw_policy_parse_stream(stream, off, collect, &g), -1);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.r[0].sasl_username, "alice");

	/* the same without an LF at all (a client that never ends its line) */
	memset(&g, 0, sizeof(g));
	off = (size_t)sprintf(stream, "%s", rcpt_request);
	memset(stream + off, 'v', SW_POLICY_LINE_MAX + 2);
	off += SW_POLICY_LINE_MAX + 2;
	assert_int_equal(sw_policy_parse_stream(stream, off, collect, &g), -1);
	assert_int_equal(g.n, 1);

	/* but an incomplete line within the limit is only waiting for more */
	memset(&g, 0, sizeof(g));
	off = (size_t)sprintf(stream, "%s", rcpt_request);
	memset(stream + off, 'v', SW_POLICY_LINE_MAX + 1);
	off += SW_POLICY_LINE_MAX + 1;
	assert_int_equal(sw_policy_parse_stream(stream, off, collect, &g), 1);
	free(stream);
}

/*
 * The stream's edge: a line of SW_POLICY_LINE_MAX bytes is read (with or
 * without a CR); one byte more and a CR is lost (-1). One byte more
 * without a CR still has its LF within reach: the stream is kept and that
 * request alone is malformed (line_too_long), as in the policy service.
 */
static void test_stream_line_max_boundary(void **state)
{
	size_t cap = 64 + SW_POLICY_LINE_MAX + 8 + sizeof(eom_request);
	char *stream = malloc(cap);
	struct got g;
	size_t off;

	(void)state;
	assert_non_null(stream);
	for (int variant = 0; variant < 4; variant++) {
		/* 0: MAX; 1: MAX + CR; 2: MAX + 1; 3: MAX + 1 + CR */
		size_t llen = SW_POLICY_LINE_MAX + (variant >= 2);
		bool cr = variant & 1;
		int n;

		off = (size_t)sprintf(stream, "request=smtpd_access_policy\n");
		off += (size_t)sprintf(stream + off, "x=");
		memset(stream + off, 'v', llen - 2);
		off += llen - 2;
		if (cr)
			stream[off++] = '\r';
		off += (size_t)sprintf(stream + off, "\n\n%s", eom_request);
		memset(&g, 0, sizeof(g));
		n = sw_policy_parse_stream(stream, off, collect, &g);
		switch (variant) {
		case 0:
		case 1:
			assert_int_equal(n, 2);
			assert_int_equal(g.r[0].error, SW_PE_NONE);
			assert_eom_fields(&g.r[1]);
			break;
		case 2:
			assert_int_equal(n, 2);
			assert_int_equal(g.r[0].error, SW_PE_LINE_TOO_LONG);
			assert_eom_fields(&g.r[1]);
			break;
		case 3:
			assert_int_equal(n, -1);
			assert_int_equal(g.n, 0);
			break;
		}
	}
	free(stream);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rcpt_request_reads_into_fields),
		cmocka_unit_test(test_end_of_message_request),
		cmocka_unit_test(test_protocol_states),
		cmocka_unit_test(test_crlf_line_ends),
		cmocka_unit_test(test_values_with_equals_and_spaces),
		cmocka_unit_test(test_unknown_attributes_ignored),
		cmocka_unit_test(test_empty_counts_are_zero),
		cmocka_unit_test(test_error_no_equals),
		cmocka_unit_test(test_error_empty_name),
		cmocka_unit_test(test_error_duplicate),
		cmocka_unit_test(test_first_fault_named),
		cmocka_unit_test(test_error_too_many_attributes),
		cmocka_unit_test(test_error_request_too_big),
		cmocka_unit_test(test_error_value_too_long),
		cmocka_unit_test(test_error_bad_count),
		cmocka_unit_test(test_error_nul_byte),
		cmocka_unit_test(test_error_not_policy),
		cmocka_unit_test(test_error_line_too_long),
		cmocka_unit_test(test_error_names),
		cmocka_unit_test(test_reset_after_malformed),
		cmocka_unit_test(test_line_max_boundary),
		cmocka_unit_test(test_attrs_max_boundary),
		cmocka_unit_test(test_request_max_boundary),
		cmocka_unit_test(test_stream_splits_requests),
		cmocka_unit_test(test_stream_malformed_then_good),
		cmocka_unit_test(test_stream_line_too_long),
		cmocka_unit_test(test_stream_line_max_boundary),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
