/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Sessions (maps/sessions.h): the client's ACK completing a pending
 * handshake creates the record (never the SYN, so half-open floods do not
 * churn the table); later segments count on it; a FIN or RST ends it,
 * completed or abandoned. How far the dialogue went (phase, progress) is
 * written here for both sides.
 */
#ifndef SW_BPF_SESSION_H
#define SW_BPF_SESSION_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "smtpwall.h"
#include "../maps/sessions.h"
#include "parse.h"
#include "clock.h"
#include "guard.h"
#include "handshake.h"
#include "source.h"

/* The session a client's segment @p belongs to. */
static __always_inline void sw_session_key(const struct sw_packet *p, struct sw_session_key *sk)
{
	__builtin_memcpy(sk->saddr, p->saddr, 16);
	__builtin_memcpy(sk->daddr, p->daddr, 16);
	sk->sport = p->sport;
	sk->dport = bpf_htons(p->dport);
	sk->family = p->family;
}

/* The session a server's segment @p belongs to: as the client's side keys it. */
static __always_inline void sw_session_key_reply(const struct sw_packet *p, struct sw_session_key *sk)
{
	__builtin_memcpy(sk->saddr, p->daddr, 16);
	__builtin_memcpy(sk->daddr, p->saddr, 16);
	sk->sport = bpf_htons(p->dport);
	sk->dport = p->sport;
	sk->family = p->family;
}

/*
 * Did the session do what a sender does? Plaintext: a message accepted, or
 * a QUIT after HELO. Encrypted (the dialogue unseen): closed by the
 * client's FIN after both sides sent data past the greeting.
 */
static __always_inline bool sw_session_completed(const struct sw_session *sess, bool client_fin)
{
	if (sess->messages)
		return true;
	if (sess->flags & SW_SESS_QUIT)
		return sess->phase >= SW_PH_HELO && sess->phase != SW_PH_TLS;
	if (sess->flags & SW_SESS_TLS)
		return client_fin && sess->last_client_ns > sess->greeting_ns && sess->server_packets > 2;
	return false;
}

/* A session ended (deleted by the program): completed or abandoned, and how long it lasted. */
static __always_inline void sw_session_end(const struct sw_session *sess, struct sw_source *src,
					   bool client_fin, __u64 now, struct sw_stats *st)
{
	__u64 dur = now > sess->start_ns ? now - sess->start_ns : 0;

	if (sw_session_completed(sess, client_fin)) {
		__sync_fetch_and_add(&src->sessions_completed, 1);
		/*
		 * On probation only a message proves a source (see the reply
		 * to it): a QUIT after EHLO is what any attacker can send.
		 */
		if (!(sess->flags & SW_SESS_PROBATION))
			src->last_good_ns = now;
		st->sessions_completed++;
	} else {
		__sync_fetch_and_add(&src->sessions_abandoned, 1);
		st->sessions_abandoned++;
	}
	__sync_fetch_and_add(&src->session_ns_total, dur);
	st->session_duration[sw_duration_bucket(dur) % SW_DUR_BUCKETS]++;
	st->session_duration_ns += dur;
	if (dur > src->session_ns_max)
		src->session_ns_max = dur;
}

/*
 * The dialogue advanced: what the daemon's idle judgement measures from.
 * Only steps towards a delivered message count (see struct sw_session).
 */
static __always_inline void sw_progress(struct sw_session *sess, __u64 now)
{
	sess->progress_ns = now;
}

/* A phase reached: progress if the transaction never got this far before. */
static __always_inline void sw_phase_reached(struct sw_session *sess, __u8 phase, __u64 now)
{
	sess->phase = phase;
	if (phase > sess->phase_max) {
		sess->phase_max = phase;
		sw_progress(sess, now);
	}
}

/*
 * Is this data new, not a retransmission of what was read? Moves @next past
 * it. Sequence numbers wrap: compared as a signed distance.
 */
static __always_inline bool sw_seq_fresh(__u32 *next, const struct sw_packet *p)
{
	__u32 end = p->seq + p->payload_len;

	if (*next && (__s32)(end - *next) <= 0)
		return false;
	*next = end ? end : 1;	/* 0 means unknown */
	return true;
}

/*
 * A segment of a connection (not a SYN). The client's ACK completing a
 * pending handshake creates the session record; later segments count on
 * it; the client's FIN or RST ends it. Returns the session when the
 * segment carries plaintext dialogue to be read, else NULL.
 */
static __always_inline struct sw_session *sw_segment(const struct sw_config *cfg, const struct sw_packet *p,
						     const struct sw_src_key *key, struct sw_source *src,
						     __u64 *now, __u64 len, struct sw_stats *st)
{
	struct sw_session_key sk = {};
	struct sw_session *sess, fresh = {};
	int slot;

	sw_session_key(p, &sk);
	sess = bpf_map_lookup_elem(&sw_sessions, &sk);
	if (sess) {
		sess->packets++;
		sess->bytes += len;
		if (p->tcp_flags & (SW_TCP_FIN | SW_TCP_RST)) {
			struct sw_session ended = *sess;

			/* Whoever deletes the entry accounts for the close: exactly once. */
			if (!bpf_map_delete_elem(&sw_sessions, &sk)) {
				if (src->sessions_open)	/* never wrap, whatever the daemon did */
					__sync_fetch_and_add(&src->sessions_open, -1);
				st->sessions_closed++;
				sw_session_end(&ended, src, !(p->tcp_flags & SW_TCP_RST), sw_clock(now), st);
			}
			return NULL;
		}
		if (!p->has_payload)
			return NULL;
		sess->last_client_ns = sw_clock(now);
		if (sess->flags & SW_SESS_TLS) {
			/* The dialogue is unseen: new data is all the progress there is to see. */
			sess->progress_ns = *now;
			return NULL;
		}
		return sess;
	}

	/* Is this the completion (or abandon) of a handshake admitted here? */
	slot = sw_pending_find(src, sw_handshake_hash(p), now);
	if (p->tcp_flags & (SW_TCP_FIN | SW_TCP_RST)) {
		/* A handshake abandoned before its ACK (a scan, a timeout): free its slot. */
		if (slot >= 0)
			src->pending_tuple[slot & (SW_PENDING_SLOTS - 1)] = 0;
		return NULL;
	}
	if (!(p->tcp_flags & SW_TCP_ACK) || (slot < 0 && !p->has_payload))
		return NULL;
	if (slot < 0 && cfg->max_sessions && sw_live_sessions(key, src) >= cfg->max_sessions) {
		st->sessions_untracked++;
		return NULL;
	}

	fresh.start_ns = sw_clock(now);
	fresh.progress_ns = fresh.start_ns;
	fresh.packets = 1;
	fresh.bytes = len;
	fresh.flags = slot >= 0 ? SW_SESS_HANDSHAKE : 0;
	if (sw_port_tls(cfg, p->dport)) {
		fresh.flags |= SW_SESS_TLS;
		fresh.phase = fresh.phase_max = SW_PH_TLS;
	}
	if (slot >= 0 && (src->pending_probation & (1U << (slot & (SW_PENDING_SLOTS - 1)))))
		fresh.flags |= SW_SESS_PROBATION;
	if (p->has_payload)
		fresh.last_client_ns = fresh.start_ns;
	if (bpf_map_update_elem(&sw_sessions, &sk, &fresh, BPF_NOEXIST))
		return NULL;	/* another CPU created it */
	if (slot >= 0) {
		src->pending_tuple[slot & (SW_PENDING_SLOTS - 1)] = 0;
	} else if (sw_pending_overflow(src, *now)) {
		/*
		 * Handshakes beyond the slots are not remembered: a data segment
		 * of an unknown connection is most likely one of them.
		 */
		__sync_fetch_and_add(&src->overflow, -1);
	}
	__sync_fetch_and_add(&src->sessions_open, 1);
	__sync_fetch_and_add(&src->sessions_total, 1);
	if (!(src->flags & SW_SRC_PROVEN))
		src->flags |= SW_SRC_PROVEN;
	st->sessions_opened++;
	if (!p->has_payload || (fresh.flags & SW_SESS_TLS))
		return NULL;
	return bpf_map_lookup_elem(&sw_sessions, &sk);
}

#endif
