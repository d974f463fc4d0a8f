// SPDX-License-Identifier: GPL-2.0
/*
 * The packet parser of the BPF programs, compiled natively: bpf/parse.h
 * (Ethernet, VLAN, IPv4, IPv6 extension headers, TCP) and the SMTP line
 * reader of bpf/smtp.h, with tests/fuzz/shim/bpf/bpf_helpers.h standing in
 * for libbpf's helpers.
 *
 * The input is one frame. It is copied into a buffer of exactly its size,
 * so that AddressSanitizer sees any read past data_end, and parsed as XDP
 * sees it (all of it linear) and as tc sees a socket buffer whose linear
 * part is shorter than the frame. What the parser reports must be there:
 * the TCP header it read (ports, flags, sequence number, header length),
 * the addresses, and a payload inside the frame by the IP header's lengths.
 * Cutting the linear part after the headers changes nothing.
 *
 * The SMTP reader runs on the TCP payload and on the raw input; its lines
 * and the command and reply code of each are compared with a plain
 * byte-by-byte reading of the same bytes.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "parse.h"
#include "smtp.h"

#define check(cond, ...)                                                                   \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "fuzz_packet: %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                                      \
			fputc('\n', stderr);                                               \
			abort();                                                           \
		}                                                                          \
	} while (0)

#define ETH_LEN 14

/* Linear parts shorter than the frame, as tc may see them: the bare headers, and a little more. */
static const size_t linear_cuts[] = { ETH_LEN + 20 + 20, ETH_LEN + 40 + 20, 128 };

/*
 * Two bytes before the frame, as NET_IP_ALIGN: the IP header is then
 * 4-byte aligned, as the headers' types require of a native build (the BPF
 * programs' loads need no alignment on x86).
 */
#define FRAME_ALIGN 2

/* Parse @linear bytes of @frame (copied, so that reading past them is caught) of length @len. */
static int parse_copy(const uint8_t *frame, size_t linear, size_t len, struct sw_packet *p)
{
	uint8_t *copy = malloc(FRAME_ALIGN + linear);
	struct sw_frame f;
	int kind;

	if (!copy)
		abort();
	memcpy(copy + FRAME_ALIGN, frame, linear);
	f = (struct sw_frame){ .data = copy + FRAME_ALIGN, .data_end = copy + FRAME_ALIGN + linear,
			       .len = len };
	memset(p, 0, sizeof(*p));
	kind = sw_parse_frame(&f, p);
	free(copy);
	return kind;
}

static uint16_t be16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

static uint32_t be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* The addresses are those of an IP header after 0, 1 or 2 VLAN tags. */
static bool addresses_found(const uint8_t *frame, size_t linear, const struct sw_packet *p)
{
	for (size_t l3 = ETH_LEN; l3 <= ETH_LEN + 8; l3 += 4) {
		if (p->family == SW_AF_INET && l3 + 20 <= linear && frame[l3] >> 4 == 4 &&
		    !memcmp(frame + l3 + 12, &p->saddr[0], 4) && !memcmp(frame + l3 + 16, &p->daddr[0], 4))
			return true;
		if (p->family == SW_AF_INET6 && l3 + 40 <= linear && frame[l3] >> 4 == 6 &&
		    !memcmp(frame + l3 + 8, p->saddr, 16) && !memcmp(frame + l3 + 24, p->daddr, 16))
			return true;
	}
	return false;
}

/* A TCP header ends where the payload begins, and holds what was reported. */
static bool tcp_header_found(const uint8_t *frame, const struct sw_packet *p)
{
	for (unsigned doff = 5; doff <= 15; doff++) {
		size_t l4 = p->payload_off - doff * 4;

		if (p->payload_off < doff * 4 || l4 < ETH_LEN + 20)
			break;
		if (frame[l4 + 12] >> 4 == doff && !memcmp(frame + l4, &p->sport, 2) &&
		    be16(frame + l4 + 2) == p->dport && frame[l4 + 13] == p->tcp_flags &&
		    be32(frame + l4 + 4) == p->seq)
			return true;
	}
	return false;
}

static void check_packet(const uint8_t *frame, size_t linear, size_t len, int kind,
			 const struct sw_packet *p)
{
	const char *mode = linear == len ? "xdp" : "tc";

	check(kind >= SW_P_OTHER && kind <= SW_P_MALFORMED, "%s: result %d", mode, kind);
	if (kind == SW_P_MALFORMED) {
		check(p->malformed_kind < SW_M_MAX, "%s: malformed kind %u", mode, p->malformed_kind);
		return;
	}
	if (kind == SW_P_OTHER)
		return;
	check(p->family == SW_AF_INET || p->family == SW_AF_INET6, "%s: family %u", mode, p->family);
	check(addresses_found(frame, linear, p), "%s: addresses not those of the IP header", mode);
	if (kind != SW_P_TCP)
		return;
	check(p->payload_off <= linear, "%s: payload at %u, past the %zu linear bytes", mode,
	      p->payload_off, linear);
	/* "lengths are checked against @len": the payload the IP header declares is in the frame. */
	check((uint64_t)p->payload_off + p->payload_len <= len,
	      "%s: payload %u+%u beyond the %zu-byte frame", mode, p->payload_off, p->payload_len,
	      len);
	check(p->has_payload == (p->payload_len > 0), "%s: has_payload %u, length %u", mode,
	      p->has_payload, p->payload_len);
	check(tcp_header_found(frame, p), "%s: no TCP header ends at %u with ports %u>%u", mode,
	      p->payload_off, ntohs(p->sport), p->dport);
}

/* ---- bpf/smtp.h ------------------------------------------------------------ */

static uint32_t ref_cmd(const uint8_t *b, uint32_t n, uint32_t s)
{
	static const struct {
		const char *word;
		uint32_t cmd;
	} cmds[] = {
		{ "HELO", SW_CMD_HELO }, { "EHLO", SW_CMD_HELO }, { "LHLO", SW_CMD_HELO },
		{ "STAR", SW_CMD_STARTTLS }, { "AUTH", SW_CMD_AUTH }, { "MAIL", SW_CMD_MAIL },
		{ "RCPT", SW_CMD_RCPT }, { "DATA", SW_CMD_DATA }, { "BDAT", SW_CMD_BDAT },
		{ "RSET", SW_CMD_RSET }, { "QUIT", SW_CMD_QUIT },
	};

	if (s + 4 > n)
		return SW_CMD_OTHER;
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		int same = 1;

		/* ASCII case only: strncasecmp would follow the locale. */
		for (int j = 0; j < 4; j++) {
			uint8_t c = b[s + j];

			same &= (c >= 'a' && c <= 'z' ? c - 32 : c) == (uint8_t)cmds[i].word[j];
		}
		if (same)
			return cmds[i].cmd;
	}
	return SW_CMD_OTHER;
}

static uint32_t ref_reply(const uint8_t *b, uint32_t n, uint32_t s, bool any)
{
	if (s + 4 > n || b[s] < '2' || b[s] > '5' || b[s + 1] < '0' || b[s + 1] > '9' ||
	    b[s + 2] < '0' || b[s + 2] > '9' || (b[s + 3] == '-' && !any))
		return 0;
	return (b[s] - '0') * 100 + (b[s + 1] - '0') * 10 + (b[s + 2] - '0');
}

/* The first @n (at most SW_SCAN_BYTES) bytes of @bytes, as the programs read a segment. */
static void check_scan(const uint8_t *bytes, uint32_t n)
{
	struct sw_scan_buf buf;

	/* The per-CPU buffer holds an earlier segment beyond n: line breaks, to be ignored. */
	memset(&buf, '\n', sizeof(buf));
	memcpy(buf.b, bytes, n);
	for (int finals = 0; finals <= 1; finals++) {
		uint16_t start[SW_SCAN_LINES] = { 0 };
		uint32_t count = 1;
		struct sw_lines l;

		/* Every line after a '\n' inside the n bytes, the first SW_SCAN_LINES of them. */
		for (uint32_t pos = 1; pos < n && count < SW_SCAN_LINES; pos++) {
			if (buf.b[pos - 1] != '\n')
				continue;
			if (finals && pos + 3 < n && buf.b[pos + 3] == '-')
				continue;
			start[count++] = pos;
		}
		memset(&l, 0xa5, sizeof(l));
		sw_split_lines(&buf, n, finals, &l);
		check(l.n == n, "%u bytes read as %u", n, l.n);
		check(l.count == count, "%u bytes (finals %d): %u lines, want %u", n, finals, l.count,
		      count);
		for (uint32_t i = 0; i < count; i++) {
			check(l.start[i] == start[i], "%u bytes (finals %d): line %u at %u, want %u", n,
			      finals, i, l.start[i], start[i]);
			check(sw_line_cmd(&buf, &l, i) == ref_cmd(buf.b, n, start[i]),
			      "line %u at %u: command %u, want %u", i, start[i],
			      sw_line_cmd(&buf, &l, i), ref_cmd(buf.b, n, start[i]));
			for (int any = 0; any <= 1; any++)
				check(sw_line_reply(&buf, &l, i, any) == ref_reply(buf.b, n, start[i], any),
				      "line %u at %u: reply %u, want %u", i, start[i],
				      sw_line_reply(&buf, &l, i, any), ref_reply(buf.b, n, start[i], any));
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sw_packet xdp, tc;
	int kind, tc_kind;

	if (size > 0xffff)
		return 0;	/* no frame is longer; f->len is 32 bits */
	kind = parse_copy(data, size, size, &xdp);
	check_packet(data, size, size, kind, &xdp);

	/* tc: a linear part shorter than the frame; headers inside it parse the same. */
	for (size_t i = 0; i < sizeof(linear_cuts) / sizeof(linear_cuts[0]); i++) {
		size_t linear = linear_cuts[i];

		if (linear >= size)
			continue;
		tc_kind = parse_copy(data, linear, size, &tc);
		check_packet(data, linear, size, tc_kind, &tc);
		if (kind == SW_P_TCP && xdp.payload_off <= linear)
			check(tc_kind == kind && !memcmp(&tc, &xdp, sizeof(tc)),
			      "headers within %zu linear bytes, and parsed differently", linear);
	}

	if (kind == SW_P_TCP && xdp.payload_off < size) {
		uint32_t n = size - xdp.payload_off;

		if (n > xdp.payload_len)
			n = xdp.payload_len;
		if (n > SW_SCAN_BYTES)
			n = SW_SCAN_BYTES;
		if (n)
			check_scan(data + xdp.payload_off, n);
	}
	if (size)
		check_scan(data, size < SW_SCAN_BYTES ? size : SW_SCAN_BYTES);
	return 0;
}
