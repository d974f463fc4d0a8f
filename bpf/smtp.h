/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reading the SMTP dialogue: the client's commands (XDP) and the server's
 * replies (tc egress), while the session is plaintext.
 *
 * A segment's first SW_SCAN_BYTES bytes are copied into a per-CPU buffer
 * (the payload may lie outside the linear part of a socket buffer) and cut
 * into at most SW_SCAN_LINES lines, so that pipelined commands (MAIL,
 * RCPT, RCPT, DATA in one segment) and the replies that answer them are
 * each seen. A command or a reply split across two segments is not; the
 * counts are then short by one, never wrong in kind. Message data is not
 * read at all (SW_SESS_BODY).
 */
#ifndef SW_BPF_SMTP_H
#define SW_BPF_SMTP_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "smtpwall.h"

#define SW_SCAN_BYTES 256
#define SW_SCAN_LINES 16

struct sw_scan_buf {
	__u8 b[SW_SCAN_BYTES];
	__u32 len;		/* see sw_scan_payload_len */
};

/* Not pinned: scratch space only. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sw_scan_buf);
} sw_scan SEC(".maps");

struct sw_lines {
	__u32 n;			/* bytes in the buffer */
	__u32 count;			/* lines found */
	__u16 start[SW_SCAN_LINES];	/* where each begins */
};

struct sw_split_ctx {
	const struct sw_scan_buf *buf;
	struct sw_lines *l;
	__u32 n;
	bool finals;
};

/* Record a line that starts at @pos (the byte after a newline). 1: no room for more. */
static __always_inline int sw_line_at(struct sw_split_ctx *c, __u32 pos)
{
	struct sw_lines *l = c->l;
	const struct sw_scan_buf *buf = c->buf;

	if (pos >= c->n)
		return 0;
	if (c->finals && pos + 3 < c->n && pos + 3 < SW_SCAN_BYTES &&
	    buf->b[(pos + 3) & (SW_SCAN_BYTES - 1)] == '-')
		return 0;
	if (l->count >= SW_SCAN_LINES)
		return 1;
	l->start[l->count & (SW_SCAN_LINES - 1)] = pos;
	l->count++;
	return 0;
}

/*
 * bpf_loop body: the 8 bytes of word @i. Most words hold no newline, and
 * one test of the whole word says so (the "has a zero byte" trick on the
 * word XOR '\n' in every byte); only a word with one is looked at byte by
 * byte. A segment of 256 bytes without a line break costs 32 steps.
 */
static int sw_split_step(__u32 i, void *data)
{
	struct sw_split_ctx *c = data;
	const struct sw_scan_buf *buf = c->buf;
	__u32 base = (i * 8) & (SW_SCAN_BYTES - 8);
	__u64 w, x;

	if (i * 8 >= c->n || i >= SW_SCAN_BYTES / 8)
		return 1;
	w = *(const __u64 *)&buf->b[base];
	x = w ^ 0x0a0a0a0a0a0a0a0aULL;
	if (!((x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL))
		return 0;
#pragma unroll
	for (int j = 0; j < 8; j++) {
		if (buf->b[(base + j) & (SW_SCAN_BYTES - 1)] != '\n')
			continue;
		if (sw_line_at(c, base + j + 1))
			return 1;
	}
	return 0;
}

/*
 * Cut the first @n bytes of @buf into lines (the first begins at 0). With
 * @finals, only lines that can end a reply are kept after the first: a
 * multi-line reply ("250-PIPELINING") is one reply, and an EHLO answer
 * must not use up the lines. bpf_loop: the verifier checks the body once,
 * not once per byte.
 */
static __always_inline void sw_split_lines(const struct sw_scan_buf *buf, __u32 n, bool finals,
					   struct sw_lines *l)
{
	struct sw_split_ctx c = { .buf = buf, .l = l, .n = n, .finals = finals };

	l->n = n;
	l->count = 1;
	l->start[0] = 0;
	bpf_loop(SW_SCAN_BYTES / 8, sw_split_step, &c, 0);
}

/*
 * The payload length of a client segment, as the verifier sees a number
 * read from memory: any value. The parser derives it differently for each
 * VLAN depth and IPv6 extension-header chain; taken straight from the
 * packet, its exact range would follow into the reading of the dialogue
 * (whose bpf_loop callbacks are checked against exact states), and all of
 * that would be verified once per chain: near a million instructions, the
 * verifier's limit. One store and one load in the per-CPU buffer the
 * reading uses anyway.
 */
static __always_inline __u32 sw_scan_payload_len(struct sw_scan_buf *buf, __u32 len)
{
	buf->len = len;
	/* For the compiler: read it back from memory, not from the register. */
	asm volatile("" ::: "memory");
	return buf->len;
}

static __always_inline __u32 sw_upper(__u8 c)
{
	return c >= 'a' && c <= 'z' ? c - ('a' - 'A') : c;
}

#define SW_WORD(a, b, c, d) ((__u32)(a) << 24 | (__u32)(b) << 16 | (__u32)(c) << 8 | (__u32)(d))

/* The command that line @i begins with (SW_CMD_OTHER if it is too short or unknown). */
static __always_inline __u32 sw_line_cmd(const struct sw_scan_buf *buf, const struct sw_lines *l, __u32 i)
{
	__u32 s = l->start[i & (SW_SCAN_LINES - 1)], w;

	if (s + 4 > l->n || s > SW_SCAN_BYTES - 4)
		return SW_CMD_OTHER;
	w = SW_WORD(sw_upper(buf->b[s & (SW_SCAN_BYTES - 1)]), sw_upper(buf->b[(s + 1) & (SW_SCAN_BYTES - 1)]),
		    sw_upper(buf->b[(s + 2) & (SW_SCAN_BYTES - 1)]),
		    sw_upper(buf->b[(s + 3) & (SW_SCAN_BYTES - 1)]));
	switch (w) {
	case SW_WORD('H', 'E', 'L', 'O'):
	case SW_WORD('E', 'H', 'L', 'O'):
	case SW_WORD('L', 'H', 'L', 'O'):
		return SW_CMD_HELO;
	case SW_WORD('S', 'T', 'A', 'R'):
		return SW_CMD_STARTTLS;
	case SW_WORD('A', 'U', 'T', 'H'):
		return SW_CMD_AUTH;
	case SW_WORD('M', 'A', 'I', 'L'):
		return SW_CMD_MAIL;
	case SW_WORD('R', 'C', 'P', 'T'):
		return SW_CMD_RCPT;
	case SW_WORD('D', 'A', 'T', 'A'):
		return SW_CMD_DATA;
	case SW_WORD('B', 'D', 'A', 'T'):
		return SW_CMD_BDAT;
	case SW_WORD('R', 'S', 'E', 'T'):
		return SW_CMD_RSET;
	case SW_WORD('Q', 'U', 'I', 'T'):
		return SW_CMD_QUIT;
	}
	return SW_CMD_OTHER;
}

/*
 * The reply code of line @i if it is the last line of a reply ("250 ok",
 * not "250-PIPELINING"), else 0. With @any, a continuation line's code too.
 */
static __always_inline __u32 sw_line_reply(const struct sw_scan_buf *buf, const struct sw_lines *l, __u32 i,
					   bool any)
{
	__u32 s = l->start[i & (SW_SCAN_LINES - 1)], d0, d1, d2, sep;

	if (s + 4 > l->n || s > SW_SCAN_BYTES - 4)
		return 0;
	d0 = buf->b[s & (SW_SCAN_BYTES - 1)];
	d1 = buf->b[(s + 1) & (SW_SCAN_BYTES - 1)];
	d2 = buf->b[(s + 2) & (SW_SCAN_BYTES - 1)];
	sep = buf->b[(s + 3) & (SW_SCAN_BYTES - 1)];
	if (d0 < '2' || d0 > '5' || d1 < '0' || d1 > '9' || d2 < '0' || d2 > '9' || (sep == '-' && !any))
		return 0;
	return (d0 - '0') * 100 + (d1 - '0') * 10 + (d2 - '0');
}

#endif
