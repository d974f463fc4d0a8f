/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The client's side of the SMTP dialogue (XDP): a segment of a session
 * (bpf/session.h) that brings new data is read for what it says: talking
 * before the greeting, the commands it sends (queued until the server
 * answers them, bpf/server.h), or message data (progress, the final dot).
 */
#ifndef SW_BPF_CLIENT_H
#define SW_BPF_CLIENT_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "smtpwall.h"
#include "parse.h"
#include "clock.h"
#include "penalty.h"
#include "session.h"
#include "smtp.h"

/*
 * A command awaits its reply. A full queue takes no more: the replies then
 * answer the oldest commands, and the ones past it count as what they most
 * likely are (see last_cmd_rcpt), rather than overwriting unanswered ones.
 */
static __always_inline void sw_queue_cmd(struct sw_session *sess, __u32 cmd)
{
	if ((__u8)(sess->cmd_head - sess->cmd_tail) >= SW_CMDQ)
		return;
	sess->cmdq[sess->cmd_head & (SW_CMDQ - 1)] = cmd;
	sess->cmd_head++;
}

/* Does line @i end with "LAST" (BDAT n LAST: the message's last chunk)? */
static __always_inline bool sw_line_ends_last(const struct sw_scan_buf *buf, const struct sw_lines *l, __u32 i)
{
	__u32 end = i + 1 < l->count ? l->start[(i + 1) & (SW_SCAN_LINES - 1)] : l->n;

	/* Back over the line break, then four letters. */
	while (end && end <= SW_SCAN_BYTES && (buf->b[(end - 1) & (SW_SCAN_BYTES - 1)] == '\n' ||
					       buf->b[(end - 1) & (SW_SCAN_BYTES - 1)] == '\r'))
		end--;
	if (end < 4 || end > SW_SCAN_BYTES)
		return false;
	return sw_upper(buf->b[(end - 4) & (SW_SCAN_BYTES - 1)]) == 'L' &&
	       sw_upper(buf->b[(end - 3) & (SW_SCAN_BYTES - 1)]) == 'A' &&
	       sw_upper(buf->b[(end - 2) & (SW_SCAN_BYTES - 1)]) == 'S' &&
	       sw_upper(buf->b[(end - 1) & (SW_SCAN_BYTES - 1)]) == 'T';
}

/* Client data: a client that talks before the greeting is noted, and judged. */
static __always_inline void sw_client_pregreet(const struct sw_config *cfg, const struct sw_src_key *key,
					       struct sw_source *src, struct sw_session *sess, __u64 now,
					       struct sw_stats *st)
{
	/* Only where the server's side is seen: else every client would seem to talk first. */
	if ((cfg->flags & SW_CFG_EGRESS) && (sess->flags & SW_SESS_HANDSHAKE) && !sess->greeting_ns &&
	    !(sess->flags & SW_SESS_PREGREET)) {
		sess->flags |= SW_SESS_PREGREET;
		st->pregreet++;
		__sync_fetch_and_add(&src->pregreet, 1);
		sw_health_window(cfg, src, now);
		src->win_pregreet++;
		sw_health_judge(cfg, key, src, now, st);
	}
}

/*
 * The command a client segment of @n bytes begins with (pipelined commands
 * start at its first byte): a segment that begins with none holds none, and
 * needs no copy and no scan. SW_CMD_MAX + 1: not a command and not a whole
 * line either (the middle of a long line, junk), which no reply answers.
 * @word: the scan buffer, for its first four bytes.
 */
#define SW_CMD_PARTIAL 0xff
static __always_inline __u32 sw_first_cmd(struct xdp_md *ctx, const struct sw_packet *p, __u32 n,
					  struct sw_scan_buf *word)
{
	struct sw_lines l = { .n = 4, .count = 1 };
	__u32 cmd;
	__u8 last = 0;

	if (!n)
		return SW_CMD_PARTIAL;
	if (n >= 4 && !bpf_xdp_load_bytes(ctx, p->payload_off, word->b, 4)) {
		cmd = sw_line_cmd(word, &l, 0);
		if (cmd != SW_CMD_OTHER)
			return cmd;
	}
	/* A line that is no command (an AUTH response) gets one reply; a fragment none. */
	if (bpf_xdp_load_bytes(ctx, p->payload_off + n - 1, &last, 1) || last != '\n')
		return SW_CMD_PARTIAL;
	return SW_CMD_OTHER;
}

/* Client data on a plaintext session: the commands in it, queued until the server answers them. */
static __always_inline void sw_client_commands(const struct sw_config *cfg, const struct sw_src_key *key,
					       struct sw_source *src, struct sw_session *sess,
					       const struct sw_scan_buf *buf, __u32 n, __u64 now,
					       struct sw_stats *st)
{
	struct sw_lines l;

	sw_split_lines(buf, n, false, &l);
	for (__u32 i = 0; i < SW_SCAN_LINES; i++) {
		__u32 cmd;

		if (i >= l.count)
			break;
		cmd = sw_line_cmd(buf, &l, i);
		sw_queue_cmd(sess, cmd);
		if (cmd == SW_CMD_AUTH)
			sess->flags |= SW_SESS_AUTH;
		else if (cmd == SW_CMD_BDAT) {
			/* The chunk follows at once, unread; its reply ends it. */
			sess->flags |= SW_SESS_BODY | SW_SESS_BDAT;
			if (sw_line_ends_last(buf, &l, i))
				sess->flags |= SW_SESS_BDAT_LAST;
			break;
		}
	}
}

/*
 * Message data from the client, @n bytes: progress every SW_BODY_PROGRESS
 * bytes, and a segment ending with the final dot leaves the server owing
 * the reply. Nothing else of the message is read.
 */
static __always_inline void sw_client_body(struct xdp_md *ctx, const struct sw_packet *p, __u32 n,
					   struct sw_session *sess, __u64 now)
{
	__u8 tail[5] = {};

	sess->body_unprogressed += n;
	if (sess->body_unprogressed >= SW_BODY_PROGRESS) {
		sess->body_unprogressed = 0;
		sw_progress(sess, now);
	}
	if (sess->flags & SW_SESS_BDAT)
		return;		/* a chunk ends by its size, not by a dot */
	if (n >= 5) {
		if (bpf_xdp_load_bytes(ctx, p->payload_off + n - 5, tail, 5))
			return;
	} else if (n == 3) {
		/* ".\r\n" alone: the line break before it ended the previous segment. */
		if (bpf_xdp_load_bytes(ctx, p->payload_off, tail + 2, 3))
			return;
		tail[0] = '\r';
		tail[1] = '\n';
	} else {
		return;
	}
	if (tail[0] == '\r' && tail[1] == '\n' && tail[2] == '.' && tail[3] == '\r' && tail[4] == '\n')
		sess->flags |= SW_SESS_DOT;
}

/* Copy up to SW_SCAN_BYTES of the @n bytes of payload into @buf: how many, or 0. */
static __always_inline __u32 sw_load_payload_xdp(struct xdp_md *ctx, const struct sw_packet *p, __u32 n,
						 struct sw_scan_buf *buf)
{
	if (!n)
		return 0;
	if (n > SW_SCAN_BYTES)
		n = SW_SCAN_BYTES;
	if (bpf_xdp_load_bytes(ctx, p->payload_off, buf->b, n))
		return 0;
	return n;
}

/*
 * A client's segment of a connection (not a SYN): the session's bookkeeping
 * (sw_segment), then, for new plaintext data, what the client says.
 */
static __always_inline void sw_client_segment(struct xdp_md *ctx, const struct sw_config *cfg,
					      const struct sw_packet *p, const struct sw_src_key *key,
					      struct sw_source *src, __u64 *now, __u64 len, struct sw_stats *st)
{
	struct sw_session *sess = sw_segment(cfg, p, key, src, now, len, st);
	struct sw_scan_buf *buf;
	__u32 zero = 0, n, first;

	if (!sess || !sw_seq_fresh(&sess->client_next_seq, p))
		return;
	sw_client_pregreet(cfg, key, src, sess, sw_clock(now), st);
	buf = bpf_map_lookup_elem(&sw_scan, &zero);
	if (!buf)
		return;
	n = sw_scan_payload_len(buf, p->payload_len);
	if (sess->flags & SW_SESS_BODY) {
		sw_client_body(ctx, p, n, sess, *now);
		return;
	}
	first = sw_first_cmd(ctx, p, n, buf);
	if (first == SW_CMD_OTHER) {
		sw_queue_cmd(sess, SW_CMD_OTHER);
	} else if (first == SW_CMD_PARTIAL) {
		/* nothing a reply answers */
	} else if ((n = sw_load_payload_xdp(ctx, p, n, buf))) {
		sw_client_commands(cfg, key, src, sess, buf, n, *now, st);
	}
}

#endif
