/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The server's side of the SMTP dialogue (tc egress): its segments of a
 * guarded session, its close, and its replies, each matched in order to
 * the command it answers (queued by bpf/client.h), which moves the phase,
 * counts recipients, rejections, failed logins and messages, and feeds the
 * session-health policies.
 */
#ifndef SW_BPF_SERVER_H
#define SW_BPF_SERVER_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "smtpwall.h"
#include "../maps/config.h"
#include "../maps/sources.h"
#include "../maps/sessions.h"
#include "parse.h"
#include "clock.h"
#include "penalty.h"
#include "session.h"
#include "smtp.h"

/* One final reply line @code of the server, matched to the command it answers. */
static __always_inline void sw_server_reply(const struct sw_config *cfg, const struct sw_src_key *key,
					    struct sw_source *src, bool known, struct sw_session *sess, __u32 code,
					    __u64 now, struct sw_stats *st)
{
	__u32 cls = code / 100, cmd = SW_CMD_OTHER;

	sess->last_reply = code;
	if (code == 421)
		sess->flags |= SW_SESS_SRV_CLOSE;
	if (!sess->greeting_ns) {
		/* The first reply is the greeting; it answers no command. */
		sess->greeting_ns = now;
		sw_progress(sess, now);
		if (code == 220 && sess->phase < SW_PH_GREETED)
			sw_phase_reached(sess, SW_PH_GREETED, now);
		st->greetings++;
		return;
	}
	if (sess->flags & SW_SESS_BODY) {
		/* The answer to the message (after the final dot) or to a BDAT chunk. */
		bool bdat = sess->flags & SW_SESS_BDAT, last = sess->flags & SW_SESS_BDAT_LAST;

		sess->flags &= ~(SW_SESS_BODY | SW_SESS_BDAT | SW_SESS_BDAT_LAST | SW_SESS_DOT);
		if (bdat && sess->cmd_tail != sess->cmd_head)
			sess->cmd_tail++;	/* the BDAT command itself; DATA was answered by 354 */
		/* The client did its part: the answer to its data is a step, whatever it says. */
		sw_progress(sess, now);
		sess->body_unprogressed = 0;
		/* A message is accepted by the reply to its final dot, or to its LAST chunk. */
		if (cls == 2 && (!bdat || last)) {
			if ((sess->flags & SW_SESS_PROBATION) && !sess->messages)
				st->probation_graduated++;
			sess->messages++;
			sess->phase = SW_PH_DELIVERED;
			/* A new transaction: its MAIL is progress again. */
			sess->phase_max = SW_PH_AUTH;
			st->messages++;
			__sync_fetch_and_add(&src->messages, 1);
			src->last_good_ns = now;
		}
		return;
	}
	if (sess->cmd_tail != sess->cmd_head) {
		cmd = sess->cmdq[sess->cmd_tail & (SW_CMDQ - 1)];
		sess->cmd_tail++;
	} else if (sess->last_cmd_rcpt) {
		/* More pipelined RCPTs than were read: the rest answer those. */
		cmd = SW_CMD_RCPT;
	}
	sess->last_cmd_rcpt = cmd == SW_CMD_RCPT;
	/*
	 * These codes say what they answer whatever the queue holds: start
	 * mail input, and closing after QUIT (which may have come after the
	 * final dot, unread, in the same segment).
	 */
	if (code == 354)
		cmd = SW_CMD_DATA;
	else if (code == 221)
		cmd = SW_CMD_QUIT;
	if (sess->flags & SW_SESS_AUTH) {
		/* AUTH and its 334 challenges; the exchange ends with 235 or 5xx. */
		if (code == 235) {
			sess->flags &= ~SW_SESS_AUTH;
			if (sess->phase < SW_PH_AUTH)
				sw_phase_reached(sess, SW_PH_AUTH, now);
		} else if (cls == 5 || cls == 4) {
			sess->flags &= ~SW_SESS_AUTH;
			if (cls == 5) {
				sess->auth_failed++;
				st->auth_failed++;
				__sync_fetch_and_add(&src->auth_failed, 1);
				sw_health_window(cfg, src, now);
				src->win_auth_failed++;
				if (known)
					sw_health_judge(cfg, key, src, now, st);
			}
		}
		return;
	}
	switch (cmd) {
	case SW_CMD_HELO:
		/* A repeated HELO/EHLO leaves the phase, and is no progress. */
		if (cls == 2 && sess->phase < SW_PH_HELO)
			sw_phase_reached(sess, SW_PH_HELO, now);
		break;
	case SW_CMD_STARTTLS:
		if (code == 220) {
			sess->flags |= SW_SESS_TLS;
			sw_phase_reached(sess, SW_PH_TLS, now);
		}
		break;
	case SW_CMD_MAIL:
		/* After RSET, a MAIL again is no progress: the transaction got this far before. */
		if (cls == 2)
			sw_phase_reached(sess, SW_PH_MAIL, now);
		break;
	case SW_CMD_RCPT:
		sess->rcpt++;
		st->rcpt++;
		if (cls == 2) {
			/* Every recipient accepted is a step of the transaction. */
			sw_progress(sess, now);
			if (sess->phase < SW_PH_RCPT)
				sw_phase_reached(sess, SW_PH_RCPT, now);
		}
		if (cls == 5) {
			sess->rcpt_rejected++;
			st->rcpt_rejected++;
		}
		__sync_fetch_and_add(&src->rcpt, 1);
		sw_health_window(cfg, src, now);
		src->win_rcpt++;
		if (cls == 5) {
			__sync_fetch_and_add(&src->rcpt_rejected, 1);
			src->win_rejected++;
			if (known)
				sw_health_judge(cfg, key, src, now, st);
		}
		break;
	case SW_CMD_DATA:
		if (code == 354) {
			sess->flags |= SW_SESS_BODY;
			sess->body_unprogressed = 0;
			sw_phase_reached(sess, SW_PH_DATA, now);
		}
		break;
	case SW_CMD_RSET:
		if (cls == 2 && sess->phase > SW_PH_HELO && sess->phase < SW_PH_QUIT)
			sess->phase = SW_PH_HELO;
		break;
	case SW_CMD_QUIT:
		if (code == 221) {
			sess->flags |= SW_SESS_QUIT;
			/* Only a dialogue that got past HELO ends in the QUIT phase (completed). */
			if (sess->phase >= SW_PH_HELO && sess->phase != SW_PH_TLS)
				sw_phase_reached(sess, SW_PH_QUIT, now);
		}
		break;
	default:
		if (cls == 5)
			sess->errors++;
		break;
	}
}

struct sw_reply_ctx {
	const struct sw_config *cfg;
	const struct sw_src_key *key;
	struct sw_source *src;
	struct sw_session *sess;
	const struct sw_scan_buf *buf;
	const struct sw_lines *l;
	struct sw_stats *st;
	__u64 now;
	__u32 finals;
	bool known;
};

/* bpf_loop body: line @i of the segment; verified once, not once per line. */
static int sw_reply_step(__u32 i, void *data)
{
	struct sw_reply_ctx *c = data;
	__u32 code;

	if (i >= c->l->count || i >= SW_SCAN_LINES)
		return 1;
	code = sw_line_reply(c->buf, c->l, i, false);
	if (!code)
		return 0;
	c->finals++;
	sw_server_reply(c->cfg, c->key, c->src, c->known, c->sess, code, c->now, c->st);
	/* After STARTTLS's 220 the rest is ciphertext. */
	return c->sess->flags & SW_SESS_TLS ? 1 : 0;
}

static __always_inline void sw_server_replies(const struct sw_config *cfg, const struct sw_src_key *key,
					      struct sw_source *src, bool known, struct sw_session *sess,
					      const struct sw_scan_buf *buf, __u32 n, bool truncated, __u64 now,
					      struct sw_stats *st)
{
	struct sw_lines l;
	struct sw_reply_ctx c = { .cfg = cfg, .key = key, .src = src, .sess = sess, .buf = buf,
				  .l = &l, .st = st, .now = now, .known = known };

	sw_split_lines(buf, n, true, &l);
	bpf_loop(SW_SCAN_LINES, sw_reply_step, &c, 0);
	/* A long multi-line reply cut by the buffer: its end is in this segment all the same. */
	if (!c.finals && truncated) {
		__u32 code = sw_line_reply(buf, &l, 0, true);

		if (code)
			sw_server_reply(cfg, key, src, known, sess, code, now, st);
	}
}

/*
 * A server's segment of a session @sess (keyed @sk): counted; the server's
 * RST ends the session, its FIN notes the close; new plaintext data is
 * read for its replies.
 */
static __always_inline void sw_server_segment(struct __sk_buff *skb, const struct sw_config *cfg,
					      const struct sw_packet *p, const struct sw_session_key *sk,
					      struct sw_session *sess, struct sw_stats *st)
{
	struct sw_src_key key = {};
	struct sw_source *src;
	struct sw_scan_buf *buf;
	__u32 zero = 0, n;
	bool known;
	__u64 now;

	st->server_packets++;
	sess->server_packets++;
	sess->server_bytes += p->payload_len;
	sw_source_key_raw(cfg, p->family, p->daddr, &key);
	src = bpf_map_lookup_elem(&sw_sources, &key);
	known = src != NULL;
	/*
	 * A source forgotten while its session lives on (rare): its counts go
	 * to a per-CPU sink, and no policy judges it. One pointer that is
	 * never NULL also keeps the compiler from computing field addresses
	 * before a NULL check, which the verifier refuses.
	 */
	if (!src)
		src = bpf_map_lookup_elem(&sw_scratch, &zero);
	if (!src)
		return;

	if (p->tcp_flags & SW_TCP_RST) {
		/* Reset by the server (or torn down by the daemon): the session is over. */
		struct sw_session ended = *sess;

		if (!bpf_map_delete_elem(&sw_sessions, sk)) {
			st->server_closed++;
			st->sessions_closed++;
			if (src->sessions_open)
				__sync_fetch_and_add(&src->sessions_open, -1);
			sw_session_end(&ended, src, false, sw_now(), st);
		}
		return;
	}
	if ((p->tcp_flags & SW_TCP_FIN) && !(sess->flags & SW_SESS_SRV_CLOSE)) {
		sess->flags |= SW_SESS_SRV_CLOSE;
		st->server_closed++;
	}
	if (!p->has_payload)
		return;
	/* A retransmitted reply is read once, and is not new activity of the server. */
	if (!sw_seq_fresh(&sess->server_next_seq, p))
		return;
	now = sw_now();
	sess->last_server_ns = now;
	if (sess->flags & SW_SESS_TLS) {
		if (!sess->greeting_ns)
			sess->greeting_ns = now;
		return;
	}
	buf = bpf_map_lookup_elem(&sw_scan, &zero);
	if (!buf)
		return;
	n = p->payload_len;
	if (n > SW_SCAN_BYTES)
		n = SW_SCAN_BYTES;
	if (!n || bpf_skb_load_bytes(skb, p->payload_off, buf->b, n))
		return;
	sw_server_replies(cfg, &key, src, known, sess, buf, n, p->payload_len > SW_SCAN_BYTES, now, st);
}

#endif
