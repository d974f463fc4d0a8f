// SPDX-License-Identifier: GPL-2.0
/*
 * The value parsers of user/core/parse.c (what an operator types in the
 * config file and on the command line).
 *
 * The input is cut into lines; every line goes to every parser. Whatever a
 * parser accepts must be what it promises (a prefix length within range,
 * host bits clear, a rate's interval never 0 unless off), and whatever has
 * a formatter must come back from it unchanged: the CLI prints these values
 * and operators paste them back in. A refusal must come with a message.
 * The first bytes of the input, read as numbers, also drive the
 * formatters that take numbers rather than text.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "parse.h"

#define MAX_LINES 16
#define LINE_MAX_LEN 512
/* "1,3,5,...,65535": the longest sw_format_ports() output is ~190 KB. */
#define PORTS_TEXT_LEN (256 * 1024)

#define NS_PER_SEC 1000000000ULL
#define NS_PER_H   (3600 * NS_PER_SEC)

/* An invariant broken: print what and where, and crash so that libFuzzer keeps the input. */
#define check(cond, ...)                                                                   \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "fuzz_parse: %s:%d: %s: ", __FILE__, __LINE__, #cond);  \
			fprintf(stderr, __VA_ARGS__);                                      \
			fputc('\n', stderr);                                               \
			abort();                                                           \
		}                                                                          \
	} while (0)

static char ports_text[PORTS_TEXT_LEN];

/* A refusal names its cause: a non-empty, terminated message. */
static void check_refusal(const char *what, const char *in, const char err[SW_ERR_LEN])
{
	check(memchr(err, '\0', SW_ERR_LEN) != NULL, "%s(\"%s\"): message not terminated", what, in);
	check(err[0] != '\0', "%s(\"%s\"): refused without a message", what, in);
}

static unsigned full_prefix(uint8_t family)
{
	return family == SW_AF_INET ? 32 : 128;
}

static void check_cidr_shape(const char *in, const struct sw_cidr *c)
{
	unsigned bytes, i;

	check(c->family == SW_AF_INET || c->family == SW_AF_INET6, "\"%s\": family %u", in,
	      c->family);
	check(c->prefixlen <= full_prefix(c->family), "\"%s\": prefix length %u", in,
	      c->prefixlen);
	bytes = c->family == SW_AF_INET ? 4 : 16;
	for (i = 0; i < 16; i++) {
		unsigned bit0 = i * 8;
		uint8_t host = 0xff;

		if (i >= bytes) {
			check(!c->addr[i], "\"%s\": byte %u beyond an IPv4 address is set", in, i);
			continue;
		}
		if (bit0 + 8 <= c->prefixlen)
			continue;
		if (bit0 < c->prefixlen)
			host = 0xff >> (c->prefixlen - bit0);
		check(!(c->addr[i] & host), "\"%s\": host bits set in byte %u", in, i);
	}
	check(sw_cidr_contains(c, c->family, c->addr), "\"%s\": does not contain its own address",
	      in);
}

static void fuzz_cidr(const char *in)
{
	char err[SW_ERR_LEN] = "", text[INET6_ADDRSTRLEN + 8], err2[SW_ERR_LEN] = "";
	struct sw_cidr c, back;
	int bare;

	memset(&c, 0xa5, sizeof(c));
	if (sw_parse_cidr(in, &c, err)) {
		check_refusal("sw_parse_cidr", in, err);
		return;
	}
	check_cidr_shape(in, &c);
	for (bare = 0; bare <= 1; bare++) {
		sw_format_cidr(&c, bare, text, sizeof(text));
		memset(&back, 0x5a, sizeof(back));
		check(!sw_parse_cidr(text, &back, err2), "\"%s\" printed as \"%s\", refused: %s", in,
		      text, err2);
		check(!memcmp(&back, &c, sizeof(c)), "\"%s\" printed as \"%s\" reads back differently",
		      in, text);
	}
	/* The address alone, when the prefix is the whole address. */
	if (c.prefixlen == full_prefix(c.family)) {
		sw_format_cidr(&c, true, text, sizeof(text));
		check(!sw_parse_addr(text, &back, err2), "\"%s\": address \"%s\" refused: %s", in,
		      text, err2);
		check(!memcmp(&back, &c, sizeof(c)), "\"%s\": address \"%s\" reads back differently",
		      in, text);
	}
}

static void fuzz_addr(const char *in)
{
	char err[SW_ERR_LEN] = "", text[INET6_ADDRSTRLEN + 8], err2[SW_ERR_LEN] = "";
	struct sw_cidr c, back;

	if (sw_parse_addr(in, &c, err)) {
		check_refusal("sw_parse_addr", in, err);
		return;
	}
	check_cidr_shape(in, &c);
	check(c.prefixlen == full_prefix(c.family), "\"%s\": an address of prefix length %u", in,
	      c.prefixlen);
	/* An address is also a CIDR, the same one. */
	check(!sw_parse_cidr(in, &back, err2), "address \"%s\" refused as a CIDR: %s", in, err2);
	check(!memcmp(&back, &c, sizeof(c)), "address \"%s\" reads differently as a CIDR", in);
	sw_format_cidr(&c, false, text, sizeof(text));
	check(!sw_parse_cidr(text, &back, err2) && !memcmp(&back, &c, sizeof(c)),
	      "\"%s\" printed as \"%s\" does not read back", in, text);
}

static void fuzz_duration(const char *in)
{
	char err[SW_ERR_LEN] = "", text[64], err2[SW_ERR_LEN] = "";
	uint64_t ns, back;

	if (sw_parse_duration(in, &ns, err)) {
		check_refusal("sw_parse_duration", in, err);
		return;
	}
	sw_format_duration(ns, text, sizeof(text));
	check(strlen(text) < 40, "%" PRIu64 " ns printed as a %zu-character \"%s\"", ns,
	      strlen(text), text);
	check(!sw_parse_duration(text, &back, err2), "\"%s\" = %" PRIu64 " ns printed as \"%s\", "
	      "refused: %s", in, ns, text, err2);
	check(back == ns, "\"%s\" = %" PRIu64 " ns printed as \"%s\" = %" PRIu64 " ns", in, ns,
	      text, back);
}

static void fuzz_rate(const char *in)
{
	char err[SW_ERR_LEN] = "";
	uint64_t interval;

	if (sw_parse_rate(in, &interval, err)) {
		check_refusal("sw_parse_rate", in, err);
		return;
	}
	/* At most one per nanosecond, at least one an hour; 0 only for "off" and "0". */
	check(interval <= NS_PER_H, "\"%s\": interval %" PRIu64 " ns", in, interval);
	if (!interval) {
		char word[8] = "";

		sscanf(in, " %7s", word);
		check(!strcmp(word, "0") || !strcasecmp(word, "off"),
		      "\"%s\": interval 0 (off) from something other than off or 0", in);
	}
}

static void fuzz_uint(const char *in, uint64_t min, uint64_t max)
{
	char err[SW_ERR_LEN] = "", text[32], err2[SW_ERR_LEN] = "";
	uint64_t v, back;

	if (sw_parse_uint(in, min, max, &v, err)) {
		check_refusal("sw_parse_uint", in, err);
		return;
	}
	check(v >= min && v <= max, "\"%s\": %" PRIu64 " outside %" PRIu64 "-%" PRIu64, in, v, min,
	      max);
	snprintf(text, sizeof(text), "%" PRIu64, v);
	check(!sw_parse_uint(text, min, max, &back, err2) && back == v,
	      "\"%s\" = %" PRIu64 " does not read back: %s", in, v, err2);
}

static void fuzz_bool(const char *in)
{
	char err[SW_ERR_LEN] = "";
	bool b;

	if (sw_parse_bool(in, &b, err))
		check_refusal("sw_parse_bool", in, err);
}

static bool port_bit(const uint64_t bitmap[SW_PORT_WORDS], unsigned port)
{
	return bitmap[port >> 6] >> (port & 63) & 1;
}

static void fuzz_ports(const char *in, size_t small_len)
{
	uint64_t bitmap[SW_PORT_WORDS], back[SW_PORT_WORDS];
	char err[SW_ERR_LEN] = "", err2[SW_ERR_LEN] = "", small[64];
	size_t n;
	unsigned i;
	bool any = false;

	if (sw_parse_ports(in, bitmap, err)) {
		check_refusal("sw_parse_ports", in, err);
		return;
	}
	check(!port_bit(bitmap, 0), "\"%s\": port 0 accepted", in);
	for (i = 0; i < SW_PORT_WORDS; i++)
		any |= bitmap[i] != 0;
	check(any, "\"%s\": accepted without a port", in);

	/* Printed in full, then read back: the same ports. */
	sw_format_ports(bitmap, ports_text, sizeof(ports_text));
	check(strlen(ports_text) < sizeof(ports_text) - 1, "\"%s\": port list filled the buffer", in);
	check(!sw_parse_ports(ports_text, back, err2), "\"%s\" printed as \"%.80s\", refused: %s", in,
	      ports_text, err2);
	check(!memcmp(back, bitmap, sizeof(back)), "\"%s\" printed as \"%.80s\" reads back "
	      "differently", in, ports_text);

	/*
	 * Into a small buffer: terminated, and either the whole list or whole
	 * entries followed by ",..." (or "..." alone, or nothing, when not
	 * even that fits).
	 */
	sw_format_ports(bitmap, small, small_len);
	if (!small_len)
		return;
	n = strnlen(small, small_len);
	check(n < small_len, "\"%s\": not terminated in a %zu-byte buffer", in, small_len);
	if (!strcmp(small, ports_text) || !strcmp(small, "...") || (!n && small_len < 4))
		return;
	check(n > 4 && !strcmp(small + n - 4, ",...") && !strncmp(small, ports_text, n - 4) &&
	      ports_text[n - 4] == ',',
	      "\"%s\": \"%s\" in %zu bytes is not whole entries of \"%.80s\"", in, small, small_len,
	      ports_text);
}

static void fuzz_country(const char *in)
{
	char code[3];
	int id = sw_country_id(in);

	if (id < 0)
		return;
	check(id >= SW_COUNTRY_FIRST && id <= SW_COUNTRY_LAST, "\"%s\": country id %d", in, id);
	sw_country_code(id, code);
	check(sw_country_id(code) == id, "\"%s\" = %d printed as \"%s\"", in, id, code);
	check(code[0] == (in[0] & ~0x20) && code[1] == (in[1] & ~0x20),
	      "\"%s\" printed as \"%s\"", in, code);
}

/* The formatters that take numbers: any value must give a terminated text. */
static void fuzz_numbers(const uint8_t *data, size_t size)
{
	uint8_t raw[24] = { 0 };
	uint32_t detail, v4, v6[4];
	uint64_t limit_ns, ns;
	char text[128], code[3];
	unsigned plen, len, i, ones;

	memcpy(raw, data, size < sizeof(raw) ? size : sizeof(raw));
	memcpy(&detail, raw, 4);
	memcpy(&limit_ns, raw + 4, 8);
	memcpy(&ns, raw + 12, 8);
	plen = raw[20];
	len = raw[21] % sizeof(text);

	sw_probation_text(detail, limit_ns, text, len);
	check(!len || memchr(text, '\0', len), "sw_probation_text: not terminated in %u bytes",
	      len);
	sw_format_duration(ns, text, len);
	check(!len || memchr(text, '\0', len), "sw_format_duration: not terminated in %u bytes",
	      len);
	check(sw_phase_name(raw[22]) != NULL, "no name for phase %u", raw[22]);
	check(sw_reason_name(raw[23]) != NULL, "no name for reason %u", raw[23]);
	sw_country_code(detail & 0xfff, code);
	check(memchr(code, '\0', sizeof(code)), "country %u: code not terminated", detail & 0xfff);

	/* Masks: as many leading ones as the prefix asks for, at most the address. */
	sw_prefix_mask_v4(plen, &v4);
	check((unsigned)__builtin_popcount(v4) == (plen > 32 ? 32 : plen), "v4 mask /%u", plen);
	sw_prefix_mask_v6(plen, v6);
	for (ones = 0, i = 0; i < 4; i++)
		ones += __builtin_popcount(v6[i]);
	check(ones == (plen > 128 ? 128 : plen), "v6 mask /%u has %u bits", plen, ones);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char line[LINE_MAX_LEN];
	size_t pos = 0;
	int lines = 0;

	fuzz_numbers(data, size);
	while (pos <= size && lines++ < MAX_LINES) {
		const uint8_t *nl = memchr(data + pos, '\n', size - pos);
		size_t end = nl ? (size_t)(nl - data) : size;
		size_t n = end - pos;

		if (n >= sizeof(line))
			n = sizeof(line) - 1;
		memcpy(line, data + pos, n);
		line[n] = '\0';

		fuzz_cidr(line);
		fuzz_addr(line);
		fuzz_duration(line);
		fuzz_rate(line);
		fuzz_uint(line, 0, UINT64_MAX);
		fuzz_uint(line, 1, 65535);
		fuzz_bool(line);
		fuzz_ports(line, n % 64);
		fuzz_country(line);
		pos = end + 1;
	}
	return 0;
}
