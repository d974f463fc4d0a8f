// SPDX-License-Identifier: GPL-2.0
/*
 * The policy protocol reader of policy_proto.h. A value is taken as the
 * bytes after the first '=' up to the end of the line: Postfix does not
 * quote or escape, so '=' and spaces may occur in values (a sender such
 * as "a=b@example.org" is legal).
 */
#include <stdlib.h>
#include <string.h>
#include "policy_proto.h"

static const char *const error_names[SW_PE_N_KINDS] = {
	[SW_PE_NONE] = "none",
	[SW_PE_NO_EQUALS] = "no_equals",
	[SW_PE_EMPTY_NAME] = "empty_name",
	[SW_PE_DUPLICATE] = "duplicate",
	[SW_PE_TOO_MANY] = "too_many_attributes",
	[SW_PE_TOO_BIG] = "request_too_big",
	[SW_PE_VALUE_TOO_LONG] = "value_too_long",
	[SW_PE_BAD_VALUE] = "bad_value",
	[SW_PE_NOT_POLICY] = "not_a_policy_request",
	[SW_PE_LINE_TOO_LONG] = "line_too_long",
};

const char *sw_policy_error_name(enum sw_policy_error e)
{
	return (unsigned)e < SW_PE_N_KINDS ? error_names[e] : "unknown";
}

static const char *const state_names[] = {
	[SW_PS_UNKNOWN] = "",	      [SW_PS_CONNECT] = "CONNECT", [SW_PS_EHLO] = "EHLO",
	[SW_PS_HELO] = "HELO",	      [SW_PS_MAIL] = "MAIL",	   [SW_PS_RCPT] = "RCPT",
	[SW_PS_DATA] = "DATA",	      [SW_PS_END_OF_MESSAGE] = "END-OF-MESSAGE",
	[SW_PS_VRFY] = "VRFY",	      [SW_PS_ETRN] = "ETRN",
};

const char *sw_policy_state_name(enum sw_policy_state s)
{
	return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "";
}

void sw_policy_req_reset(struct sw_policy_req *r)
{
	/* Only the first byte of each text field: the request is reused at 20k/s. */
	r->state = SW_PS_UNKNOWN;
	r->protocol_state[0] = r->client_address[0] = r->sasl_username[0] = r->sasl_method[0] = 0;
	r->sender[0] = r->recipient[0] = r->instance[0] = r->queue_id[0] = 0;
	r->recipient_count = 0;
	r->size = 0;
	r->have_request = false;
	r->attrs = 0;
	r->bytes = 0;
	r->seen = 0;
	r->error = SW_PE_NONE;
}

static void fault(struct sw_policy_req *r, enum sw_policy_error e)
{
	if (r->error == SW_PE_NONE)
		r->error = e;
}

enum attr_id {
	A_REQUEST, A_STATE, A_CLIENT, A_SASL_USER, A_SASL_METHOD, A_SENDER, A_RECIPIENT,
	A_INSTANCE, A_QUEUE_ID, A_RCPT_COUNT, A_SIZE,
};

static const struct {
	const char *name;
	size_t name_len;
	enum attr_id id;
} attrs[] = {
#define ATTR(n, id) { n, sizeof(n) - 1, id }
	ATTR("request", A_REQUEST),
	ATTR("protocol_state", A_STATE),
	ATTR("client_address", A_CLIENT),
	ATTR("sasl_username", A_SASL_USER),
	ATTR("sasl_method", A_SASL_METHOD),
	ATTR("sender", A_SENDER),
	ATTR("recipient", A_RECIPIENT),
	ATTR("instance", A_INSTANCE),
	ATTR("queue_id", A_QUEUE_ID),
	ATTR("recipient_count", A_RCPT_COUNT),
	ATTR("size", A_SIZE),
#undef ATTR
};

static void copy_value(struct sw_policy_req *r, char *dst, size_t dstlen, const char *v, size_t vlen)
{
	if (vlen >= dstlen) {
		fault(r, SW_PE_VALUE_TOO_LONG);
		vlen = 0;
	}
	memcpy(dst, v, vlen);
	dst[vlen] = 0;
}

/* A decimal count; anything else (sign, space, overflow) is a bad value. */
static bool parse_count(const char *v, size_t vlen, uint64_t max, uint64_t *out)
{
	uint64_t n = 0;

	if (!vlen || vlen > 20)
		return false;
	for (size_t i = 0; i < vlen; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		if (n > (max - (uint64_t)(v[i] - '0')) / 10)
			return false;
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	*out = n;
	return true;
}

static enum sw_policy_state state_of(const char *v)
{
	for (unsigned s = SW_PS_CONNECT; s < sizeof(state_names) / sizeof(state_names[0]); s++)
		if (!strcmp(v, state_names[s]))
			return (enum sw_policy_state)s;
	return SW_PS_UNKNOWN;
}

static void take(struct sw_policy_req *r, enum attr_id id, const char *v, size_t vlen)
{
	uint64_t n;

	if (r->seen & (1u << id)) {
		fault(r, SW_PE_DUPLICATE);
		return;
	}
	r->seen |= 1u << id;
	switch (id) {
	case A_REQUEST:
		if (vlen == 19 && !memcmp(v, "smtpd_access_policy", 19))
			r->have_request = true;
		else
			fault(r, SW_PE_NOT_POLICY);
		break;
	case A_STATE:
		copy_value(r, r->protocol_state, sizeof(r->protocol_state), v, vlen);
		r->state = state_of(r->protocol_state);
		break;
	case A_CLIENT:
		copy_value(r, r->client_address, sizeof(r->client_address), v, vlen);
		break;
	case A_SASL_USER:
		copy_value(r, r->sasl_username, sizeof(r->sasl_username), v, vlen);
		break;
	case A_SASL_METHOD:
		copy_value(r, r->sasl_method, sizeof(r->sasl_method), v, vlen);
		break;
	case A_SENDER:
		copy_value(r, r->sender, sizeof(r->sender), v, vlen);
		break;
	case A_RECIPIENT:
		copy_value(r, r->recipient, sizeof(r->recipient), v, vlen);
		break;
	case A_INSTANCE:
		copy_value(r, r->instance, sizeof(r->instance), v, vlen);
		break;
	case A_QUEUE_ID:
		copy_value(r, r->queue_id, sizeof(r->queue_id), v, vlen);
		break;
	case A_RCPT_COUNT:
		/* Postfix sends it empty outside DATA and END-OF-MESSAGE in some versions. */
		if (vlen && !parse_count(v, vlen, UINT32_MAX, &n))
			fault(r, SW_PE_BAD_VALUE);
		else
			r->recipient_count = vlen ? (uint32_t)n : 0;
		break;
	case A_SIZE:
		if (vlen && !parse_count(v, vlen, UINT64_MAX, &n))
			fault(r, SW_PE_BAD_VALUE);
		else
			r->size = vlen ? n : 0;
		break;
	}
}

enum sw_policy_line_result sw_policy_req_line(struct sw_policy_req *r, const char *line, size_t len)
{
	const char *eq;
	size_t nlen;

	if (len && line[len - 1] == '\r')
		len--;
	if (!len) {
		if (r->error == SW_PE_NONE && !r->have_request)
			r->error = SW_PE_NOT_POLICY;
		return SW_PL_END;
	}
	r->bytes += len + 1;
	if (r->bytes > SW_POLICY_REQUEST_MAX) {
		fault(r, SW_PE_TOO_BIG);
		return SW_PL_MORE;
	}
	if (++r->attrs > SW_POLICY_ATTRS_MAX) {
		fault(r, SW_PE_TOO_MANY);
		return SW_PL_MORE;
	}
	if (len > SW_POLICY_LINE_MAX) {
		fault(r, SW_PE_LINE_TOO_LONG);
		return SW_PL_MORE;
	}
	if (memchr(line, 0, len)) {
		fault(r, SW_PE_BAD_VALUE);
		return SW_PL_MORE;
	}
	eq = memchr(line, '=', len);
	if (!eq) {
		fault(r, SW_PE_NO_EQUALS);
		return SW_PL_MORE;
	}
	nlen = (size_t)(eq - line);
	if (!nlen) {
		fault(r, SW_PE_EMPTY_NAME);
		return SW_PL_MORE;
	}
	for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
		if (attrs[i].name_len == nlen && !memcmp(attrs[i].name, line, nlen)) {
			take(r, attrs[i].id, eq + 1, len - nlen - 1);
			break;
		}
	return SW_PL_MORE;
}

int sw_policy_parse_stream(const char *buf, size_t len,
			   void (*each)(void *ctx, const struct sw_policy_req *r), void *ctx)
{
	struct sw_policy_req *r = malloc(sizeof(*r));
	size_t pos = 0;
	int n = 0;

	if (!r)
		return -1;
	sw_policy_req_reset(r);
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t llen = nl ? (size_t)(nl - (buf + pos)) : len - pos;

		if (llen > SW_POLICY_LINE_MAX + 1) {	/* + 1: a CR before the LF */
			n = -1;
			break;
		}
		if (!nl)
			break;	/* an incomplete line: wait for more */
		if (sw_policy_req_line(r, buf + pos, llen) == SW_PL_END) {
			if (each)
				each(ctx, r);
			n++;
			sw_policy_req_reset(r);
		}
		pos += llen + 1;
	}
	free(r);
	return n;
}
