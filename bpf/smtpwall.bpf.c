// SPDX-License-Identifier: GPL-2.0
/*
 * smtpwall XDP enforcer: per-source SMTP connection limits.
 *
 * For each frame to a guarded TCP port:
 *   parse -> source state (allocated on SYN, behind the new-source gate)
 *   -> allow/deny verdict (cached per source) -> penalty box
 *   -> SYN: country policy (country cached per source) -> concurrency and
 *      rate limits (GCRA), the country's own where it is limited -> reserve
 *      a session slot (pending handshake)
 *   -> other: the ACK completing a handshake creates the session record;
 *      later segments count on it; the client's FIN/RST closes it.
 * Established sessions are never cut by a rate limit; only a ban or a
 * penalty drops packets of a source that is already connected.
 *
 * The clock is read lazily (sw_clock): every helper call costs tens of ns
 * on a retpoline kernel, and established traffic needs no time at all.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <linux/pkt_cls.h>
#include "parse.h"
#include "../maps/config.h"
#include "../maps/sources.h"
#include "../maps/sessions.h"
#include "../maps/lists.h"
#include "../maps/events.h"
#include "../maps/geo.h"
#include "geo.h"
#include "smtp.h"

/* Set by tests before load: take the time from sw_test_now_ns, not the clock. */
const volatile bool sw_test_clock = false;
__u64 sw_test_now_ns = 0;

/*
 * Set by the benchmark before load: vary the source port of every packet so
 * that each ACK completes a different handshake. Both knobs are read-only
 * data: the verifier removes the dead branches from the production program.
 */
const volatile bool sw_bench_vary_sport = false;
__u32 sw_bench_seq = 0;
/* Set by the geo benchmark: a different IPv4 source per packet, as a spoofed flood sends. */
const volatile bool sw_bench_vary_saddr = false;
/* Set by the benchmark: every repetition of a frame is new data (advance the sequence). */
const volatile bool sw_bench_vary_seq = false;
__u32 sw_bench_seq_step = 0;

static __always_inline __u64 sw_now(void)
{
	if (sw_test_clock)
		return sw_test_now_ns;
	return bpf_ktime_get_ns();
}

/* The time, read at most once per packet and only when a decision needs it. */
static __always_inline __u64 sw_clock(__u64 *now)
{
	if (!*now)
		*now = sw_now();
	return *now;
}

static __always_inline bool sw_port_guarded(const struct sw_config *cfg, __u16 port)
{
	return cfg->port_bitmap[(port >> 6) & (SW_PORT_WORDS - 1)] & (1ULL << (port & 63));
}

/* A port where sessions are TLS from the first byte (465): their dialogue is not read. */
static __always_inline bool sw_port_tls(const struct sw_config *cfg, __u16 port)
{
	for (int i = 0; i < SW_TLS_PORTS; i++)
		if (cfg->tls_ports[i] && cfg->tls_ports[i] == port)
			return true;
	return false;
}

/* The source key of client address @addr (the sender: saddr on ingress, daddr on egress). */
static __always_inline void sw_addr_src_key(const struct sw_config *cfg, const __u32 addr[4], __u8 family,
					    struct sw_src_key *key)
{
	if (family == SW_AF_INET) {
		key->addr[0] = addr[0] & cfg->v4_mask;
	} else {
		key->addr[0] = addr[0] & cfg->v6_mask[0];
		key->addr[1] = addr[1] & cfg->v6_mask[1];
		key->addr[2] = addr[2] & cfg->v6_mask[2];
		key->addr[3] = addr[3] & cfg->v6_mask[3];
	}
	key->family = family;
}

static __always_inline void sw_make_src_key(const struct sw_config *cfg, const struct sw_packet *p,
					    struct sw_src_key *key)
{
	sw_addr_src_key(cfg, p->saddr, p->family, key);
}

/*
 * Allow/deny lookup on the full source address. The more specific prefix
 * wins; on equal prefixes the deny entry wins. Expired entries are ignored
 * (the daemon removes them). Returns SW_LIST_* and the matched entry's expiry.
 */
static __always_inline __u8 sw_list_lookup(const struct sw_packet *p, __u64 *now, __u64 *expires)
{
	struct sw_list_entry *allow, *deny;

	if (p->family == SW_AF_INET) {
		struct sw_lpm_v4 k = { .prefixlen = 32, .addr = p->saddr[0] };

		allow = bpf_map_lookup_elem(&sw_allow_v4, &k);
		deny = bpf_map_lookup_elem(&sw_deny_v4, &k);
	} else {
		struct sw_lpm_v6 k = { .prefixlen = 128 };

		__builtin_memcpy(k.addr, p->saddr, 16);
		allow = bpf_map_lookup_elem(&sw_allow_v6, &k);
		deny = bpf_map_lookup_elem(&sw_deny_v6, &k);
	}
	if (allow && allow->expires_ns && allow->expires_ns <= sw_clock(now))
		allow = NULL;
	if (deny && deny->expires_ns && deny->expires_ns <= sw_clock(now))
		deny = NULL;
	if (deny && (!allow || deny->prefixlen >= allow->prefixlen)) {
		*expires = deny->expires_ns;
		return SW_LIST_DENY;
	}
	if (allow) {
		*expires = allow->expires_ns;
		return SW_LIST_ALLOW;
	}
	*expires = 0;
	return SW_LIST_NONE;
}

/*
 * The source's cached list verdict, refreshed when lists changed or the entry
 * expired; resolved per packet while entries finer than a source exist.
 */
static __always_inline __u8 sw_source_list(const struct sw_config *cfg, const struct sw_packet *p,
					   struct sw_source *src, __u64 *now)
{
	__u32 fine = p->family == SW_AF_INET ? SW_LIST_FINE_V4 : SW_LIST_FINE_V6;
	__u64 expires;

	if (cfg->list_fine & fine)
		return sw_list_lookup(p, now, &expires);
	if (src->list_gen != cfg->list_gen ||
	    (src->list_expires_ns && src->list_expires_ns <= sw_clock(now))) {
		src->list_verdict = sw_list_lookup(p, now, &expires);
		src->list_expires_ns = expires;
		src->list_gen = cfg->list_gen;
	}
	return src->list_verdict;
}

/*
 * Generic cell rate algorithm on one 64-bit state word: admit if the
 * theoretical arrival time is not more than @tolerance ahead of now.
 * Lock-free: if another CPU updates the word first, this packet is admitted
 * without charging it (a bounded over-admission, never a false drop).
 */
static __always_inline bool sw_gcra_admit(__u64 *tat, __u64 now, __u64 interval, __u64 tolerance)
{
	__u64 old = *tat, base = old > now ? old : now;

	if (base - now > tolerance)
		return false;
	__sync_val_compare_and_swap(tat, old, base + interval);
	return true;
}

/* The check half of sw_gcra_admit: would a cell conform now? Charges nothing. */
static __always_inline bool sw_gcra_conforms(const __u64 *tat, __u64 now, __u64 tolerance)
{
	__u64 old = *tat;

	return old <= now || old - now <= tolerance;
}

static __always_inline void sw_emit_penalty(const struct sw_src_key *key, const struct sw_source *src,
					    __u32 reason, __u32 strikes, __u64 now, struct sw_stats *st)
{
	struct sw_event ev = {
		.ts_ns = now,
		.until_ns = src->penalty_until_ns,
		.src = *key,
		.type = SW_EV_PENALTY,
		.reason = reason,
		.offences = src->offences,
		.strikes = strikes,
	};

	if (bpf_ringbuf_output(&sw_events, &ev, sizeof(ev), 0))
		st->events_lost++;
}

/*
 * Send a source to the penalty box for a time that doubles with every
 * offence not yet forgotten. @detail: the strikes, or the evidence of a
 * session-health policy, for the event.
 */
static __always_inline void sw_penalize(const struct sw_config *cfg, const struct sw_src_key *key,
					struct sw_source *src, __u32 reason, __u32 detail, __u64 now,
					struct sw_stats *st)
{
	__u64 penalty;
	__u32 shift;

	if (src->last_offence_ns && now - src->last_offence_ns > cfg->penalty_forget_ns)
		src->offences = 0;
	shift = src->offences < 32 ? src->offences : 32;
	penalty = cfg->penalty_base_ns;
	if (shift >= 32 || penalty > (cfg->penalty_max_ns >> shift))
		penalty = cfg->penalty_max_ns;
	else
		penalty <<= shift;
	src->penalty_until_ns = now + penalty;
	src->penalty_reason = reason;
	src->offences++;
	src->last_offence_ns = now;
	src->strikes = 0;
	/* Whatever it did before, a penalised source has to prove itself again. */
	src->last_good_ns = 0;
	st->penalties++;
	sw_emit_penalty(key, src, reason, detail, now, st);
}

/*
 * A limit was exceeded: count it, add a strike, and at penalty_strikes
 * strikes within the window send the source to the penalty box for a time
 * that doubles with every offence not yet forgotten.
 */
static __always_inline void sw_strike(const struct sw_config *cfg, const struct sw_src_key *key,
				      struct sw_source *src, __u32 reason, __u64 now, struct sw_stats *st)
{
	__u32 strikes;

	if (!cfg->penalty_strikes)
		return;
	if (now - src->strike_window_ns > cfg->penalty_window_ns) {
		src->strike_window_ns = now;
		src->strikes = 0;
	}
	strikes = __sync_add_and_fetch(&src->strikes, 1);
	if (strikes < cfg->penalty_strikes)
		return;
	sw_penalize(cfg, key, src, reason, strikes, now, st);
}

/* A would-drop: counted everywhere it applies, nothing dropped. */
static __always_inline void sw_would(struct sw_stats *st, struct sw_source *src,
				     struct sw_country_stats *cs, __u32 reason)
{
	if (reason >= SW_R_MAX)
		return;
	st->would_drop[reason]++;
	if (src)
		__sync_fetch_and_add(&src->would_drop[reason], 1);
	if (cs)
		cs->would_drop[reason]++;
}

/* Verdict for a decision to drop: counted, and in dry-run only counted. */
static __always_inline int sw_drop(const struct sw_config *cfg, struct sw_stats *st,
				   struct sw_source *src, struct sw_country_stats *cs, __u32 reason)
{
	if (reason >= SW_R_MAX)
		return XDP_PASS;
	if (cfg->flags & SW_CFG_DRY_RUN) {
		sw_would(st, src, cs, reason);
		return XDP_PASS;
	}
	st->dropped[reason]++;
	if (src)
		__sync_fetch_and_add(&src->dropped[reason], 1);
	if (cs)
		cs->dropped[reason]++;
	return XDP_DROP;
}

/* ---- countries ---- */

/*
 * The generation first, the tables after: the daemon swaps the tables and
 * only then bumps geo_gen, so whoever reads the new generation classifies
 * with the new tables.
 */
static __always_inline __u32 sw_geo_gen(const struct sw_config *cfg)
{
	return *(volatile const __u32 *)&cfg->geo_gen;
}

/* Country of a source key's address (what a source is classified by). */
static __always_inline __u32 sw_key_country(const struct sw_src_key *key)
{
	if (key->family == SW_AF_INET)
		return sw_geo_country4(key->addr[0]);
	return sw_geo_country6(key->addr);
}

/* The source's country, classified again only after the tables changed. */
static __always_inline __u32 sw_source_country(const struct sw_config *cfg,
					       const struct sw_src_key *key, struct sw_source *src)
{
	__u32 gen = sw_geo_gen(cfg);

	if (src->geo_gen != gen) {
		src->country = sw_key_country(key);
		src->geo_gen = gen;
	}
	return src->country < SW_COUNTRY_IDS ? src->country : SW_COUNTRY_UNKNOWN;
}

static __always_inline struct sw_country_stats *sw_country_stats_of(__u32 cc)
{
	return bpf_map_lookup_elem(&sw_country_stats, &cc);
}

/*
 * A limited country's own rate, over all its sources together. Monitored:
 * only counted. Returns XDP_DROP if the SYN is to be dropped; *judged is
 * set when a would-drop was counted in its stead (dry-run).
 */
static __always_inline int sw_country_rate(const struct sw_config *cfg, struct sw_stats *st,
					   struct sw_source *src, struct sw_country_stats *cs,
					   const struct sw_country_policy *pol, __u32 cc,
					   __u64 now, bool charge, bool *judged)
{
	struct sw_country_state *state;
	bool ok;

	if (!pol->agg_interval_ns || (pol->action != SW_CA_LIMIT && pol->action != SW_CA_MONITOR))
		return XDP_PASS;
	state = bpf_map_lookup_elem(&sw_country_state, &cc);
	if (!state)
		return XDP_PASS;
	if (charge)
		ok = sw_gcra_admit(&state->agg_tat_ns, now, pol->agg_interval_ns, pol->agg_tolerance_ns);
	else
		ok = sw_gcra_conforms(&state->agg_tat_ns, now, pol->agg_tolerance_ns);
	if (ok)
		return XDP_PASS;
	if (pol->action == SW_CA_MONITOR) {
		sw_would(st, src, cs, SW_R_COUNTRY_RATE);
		return XDP_PASS;
	}
	*judged = true;
	return sw_drop(cfg, st, src, cs, SW_R_COUNTRY_RATE);
}

/* ---- session health ---- */

/* Start a new health window when the current one is over. */
static __always_inline void sw_health_window(const struct sw_config *cfg, struct sw_source *src, __u64 now)
{
	if (now - src->health_window_ns > cfg->health_window_ns) {
		src->health_window_ns = now;
		src->win_rcpt = 0;
		src->win_rejected = 0;
		src->win_auth_failed = 0;
		src->win_pregreet = 0;
	}
}

/*
 * The health policies, judged on the counts of the current window; a
 * penalty starts the evidence afresh. A source already in the penalty box
 * is not penalised again for the same sessions.
 */
static __always_inline void sw_health_judge(const struct sw_config *cfg, const struct sw_src_key *key,
					    struct sw_source *src, __u64 now, struct sw_stats *st)
{
	__u32 reason = SW_R_ALL, detail = 0;

	if (src->penalty_until_ns > now)
		return;
	if (cfg->pregreet_limit && src->win_pregreet >= cfg->pregreet_limit) {
		reason = SW_R_PREGREET;
		detail = src->win_pregreet;
	} else if (cfg->harvest_min && src->win_rejected >= cfg->harvest_min &&
		   (__u64)src->win_rejected * 100 >= (__u64)cfg->harvest_ratio * src->win_rcpt) {
		reason = SW_R_HARVEST;
		detail = src->win_rejected;
	} else if (cfg->auth_fail_limit && src->win_auth_failed >= cfg->auth_fail_limit) {
		reason = SW_R_AUTH;
		detail = src->win_auth_failed;
	}
	if (reason == SW_R_ALL)
		return;
	sw_penalize(cfg, key, src, reason, detail, now, st);
	src->health_window_ns = now;
	src->win_rcpt = 0;
	src->win_rejected = 0;
	src->win_auth_failed = 0;
	src->win_pregreet = 0;
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
	if (dur > src->session_ns_max)
		src->session_ns_max = dur;
}

/* Is the source known good: a session completed within good_ttl? */
static __always_inline bool sw_source_good(const struct sw_config *cfg, const struct sw_source *src, __u64 now)
{
	return src && src->last_good_ns && now - src->last_good_ns < cfg->good_ttl_ns;
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
 * During an emergency: may this source open a session? Known-good sources
 * and (with admit_home) home sources may; others go on probation.
 */
static __always_inline bool sw_emergency_admits(const struct sw_config *cfg, const struct sw_source *src,
						 const struct sw_country_policy *pol, __u64 now)
{
	return sw_source_good(cfg, src, now) || ((cfg->flags & SW_CFG_EMERG_HOME) && pol && pol->home);
}

/*
 * Take one probation slot: at most probation_limit admissions in all
 * (the daemon moves the limit as slots free). Lock-free: the counter is
 * added to first and given back when it went past the limit.
 */
static __always_inline bool sw_probation_take(const struct sw_config *cfg)
{
	struct sw_global *g;
	__u32 zero = 0;
	__u64 n;

	g = bpf_map_lookup_elem(&sw_global, &zero);
	if (!g)
		return false;
	n = __sync_fetch_and_add(&g->probation_admitted, 1);
	if (n < *(volatile const __u64 *)&cfg->probation_limit)
		return true;
	__sync_fetch_and_add(&g->probation_admitted, -1);
	return false;
}

/* Is a probation slot free now? Takes none. */
static __always_inline bool sw_probation_free(const struct sw_config *cfg)
{
	struct sw_global *g;
	__u32 zero = 0;

	if (!cfg->probation_per_source)
		return false;
	g = bpf_map_lookup_elem(&sw_global, &zero);
	return g && g->probation_admitted < *(volatile const __u64 *)&cfg->probation_limit;
}

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
 * The command a client segment begins with (pipelined commands start at
 * its first byte): a segment that begins with none holds none, and needs
 * no copy and no scan. SW_CMD_MAX + 1: not a command and not a whole line
 * either (the middle of a long line, junk), which no reply answers.
 */
#define SW_CMD_PARTIAL 0xff
static __always_inline __u32 sw_first_cmd(struct xdp_md *ctx, const struct sw_packet *p)
{
	struct sw_scan_buf *word;
	struct sw_lines l = { .n = 4, .count = 1 };
	__u32 zero = 0, cmd;
	__u8 last = 0;

	word = bpf_map_lookup_elem(&sw_scan, &zero);
	if (!word || !p->payload_len)
		return SW_CMD_PARTIAL;
	if (p->payload_len >= 4 && !bpf_xdp_load_bytes(ctx, p->payload_off, word->b, 4)) {
		cmd = sw_line_cmd(word, &l, 0);
		if (cmd != SW_CMD_OTHER)
			return cmd;
	}
	/* A line that is no command (an AUTH response) gets one reply; a fragment none. */
	if (bpf_xdp_load_bytes(ctx, p->payload_off + p->payload_len - 1, &last, 1) || last != '\n')
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

/* Live sessions of a source: created minus closed by the client minus reaped by the daemon. */
static __always_inline __u32 sw_live_sessions(const struct sw_src_key *key, const struct sw_source *src)
{
	__u32 open = src->sessions_open;
	__u64 *reaped;

	reaped = bpf_map_lookup_elem(&sw_reaped, key);
	if (!reaped)
		return open;
	return *reaped >= open ? 0 : open - (__u32)*reaped;
}

/*
 * A source we hold no state for, on a SYN, not denied: allocate state if the
 * new-source gate is open and the table has room. @list/@expires: its list
 * verdict, already looked up.
 */
static __always_inline struct sw_source *sw_new_source(const struct sw_config *cfg,
						       const struct sw_src_key *key, __u8 list,
						       __u64 expires, __u32 cc, __u32 geo_gen,
						       __u64 *now, struct sw_stats *st)
{
	struct sw_source *fresh;
	struct sw_global *g;
	__u32 zero = 0;
	long err;

	g = bpf_map_lookup_elem(&sw_global, &zero);
	fresh = bpf_map_lookup_elem(&sw_scratch, &zero);
	if (!g || !fresh)
		return NULL;
	if (cfg->new_source_interval_ns &&
	    !sw_gcra_admit(&g->new_source_tat_ns, sw_clock(now), cfg->new_source_interval_ns,
			   cfg->new_source_tolerance_ns)) {
		/* One write per millisecond at most: all CPUs share this line. */
		if (*now - g->gate_shut_ns > 1000000)
			g->gate_shut_ns = *now;
		st->untracked_syn++;
		return NULL;
	}
	__builtin_memset(fresh, 0, sizeof(*fresh));
	fresh->first_seen_ns = sw_clock(now);
	fresh->strike_window_ns = *now;
	fresh->list_gen = cfg->list_gen;
	fresh->list_verdict = list;
	fresh->list_expires_ns = expires;
	fresh->country = cc;
	fresh->geo_gen = geo_gen;
	err = bpf_map_update_elem(&sw_sources, key, fresh, BPF_NOEXIST);
	if (err && err != -17 /* EEXIST: another CPU was first */) {
		st->source_table_full++;
		st->untracked_syn++;
		return NULL;
	}
	return bpf_map_lookup_elem(&sw_sources, key);
}

static __always_inline void sw_session_key(const struct sw_packet *p, struct sw_session_key *sk)
{
	__builtin_memcpy(sk->saddr, p->saddr, 16);
	__builtin_memcpy(sk->daddr, p->daddr, 16);
	sk->sport = p->sport;
	sk->dport = bpf_htons(p->dport);
	sk->family = p->family;
}

static __always_inline __u32 sw_rol32(__u32 x, int n)
{
	return x << n | x >> (32 - n);
}

/* One HalfSipHash round on the state @v. */
static __always_inline void sw_hsip_round(__u32 v[4])
{
	v[0] += v[1];
	v[1] = sw_rol32(v[1], 5) ^ v[0];
	v[0] = sw_rol32(v[0], 16);
	v[2] += v[3];
	v[3] = sw_rol32(v[3], 8) ^ v[2];
	v[0] += v[3];
	v[3] = sw_rol32(v[3], 7) ^ v[0];
	v[2] += v[1];
	v[1] = sw_rol32(v[1], 13) ^ v[2];
	v[2] = sw_rol32(v[2], 16);
}

/*
 * What identifies a handshake of this source: the client's address and port,
 * the server's address and port. The client address matters because a
 * source is a whole prefix (a /64 by default): without it, every host of the
 * prefix could pass SYNs as "retransmissions" of one admitted handshake. And
 * the hash is keyed (HalfSipHash-1-3), because whoever holds a /64 chooses
 * 64 bits of the input: with a plain mix they could compute tuples that
 * collide with an admitted one, and open connections uncharged past every
 * limit. The secret is drawn once and kept in the pinned sw_global, so a
 * restarted daemon's program still recognises pending handshakes.
 */
static __always_inline __u32 sw_tuple_hash(const struct sw_packet *p)
{
	__u32 m[9] = {
		(__u32)p->sport << 16 | p->dport,
		p->daddr[0], p->daddr[1], p->daddr[2], p->daddr[3],
		p->saddr[0], p->saddr[1], p->saddr[2], p->saddr[3],
	};
	struct sw_global *g;
	__u32 zero = 0, v[4], h;
	__u64 key;

	g = bpf_map_lookup_elem(&sw_global, &zero);
	if (!g)
		return 1;
	key = g->tuple_key;
	if (!key) {
		key = ((__u64)bpf_get_prandom_u32() << 32 | bpf_get_prandom_u32()) | 1;
		__sync_val_compare_and_swap(&g->tuple_key, 0, key);
		key = g->tuple_key;	/* whichever CPU was first */
	}
	v[0] = (__u32)key;
	v[1] = (__u32)(key >> 32);
	v[2] = 0x6c796765 ^ (__u32)key;
	v[3] = 0x74656462 ^ (__u32)(key >> 32);
#pragma unroll
	for (int i = 0; i < 9; i++) {
		v[3] ^= m[i];
		sw_hsip_round(v);
		v[0] ^= m[i];
	}
	v[3] ^= (__u32)sizeof(m) << 24;
	sw_hsip_round(v);
	v[0] ^= (__u32)sizeof(m) << 24;
	v[2] ^= 0xff;
	sw_hsip_round(v);
	sw_hsip_round(v);
	sw_hsip_round(v);
	h = v[1] ^ v[3];
	return h ? h : 1;	/* 0 marks a free slot */
}

/*
 * Live reservations of pending handshakes at @now. Slots lapse one by one,
 * handshake_timeout after their own SYN, so abandoned handshakes do not
 * linger on a client that keeps connecting. Lapsed slots are freed here.
 */
static __always_inline __u32 sw_pending_live(struct sw_source *src, __u64 now)
{
	__u32 n = 0;

#pragma unroll
	for (int i = 0; i < SW_PENDING_SLOTS; i++) {
		if (!src->pending_tuple[i])
			continue;
		if (src->pending_until[i] > now)
			n++;
		else
			src->pending_tuple[i] = 0;
	}
	if (src->overflow) {
		if (src->overflow_until_ns > now)
			n += src->overflow;
		else
			src->overflow = 0;
	}
	return n;
}

/* The slot holding live handshake @h, or -1. */
static __always_inline int sw_pending_find(const struct sw_source *src, __u32 h, __u64 *now)
{
	int found = -1;

#pragma unroll
	for (int i = 0; i < SW_PENDING_SLOTS; i++)
		if (src->pending_tuple[i] == h)
			found = i;
	if (found >= 0 && src->pending_until[found & (SW_PENDING_SLOTS - 1)] <= sw_clock(now))
		found = -1;
	return found;
}

/*
 * Reserve a slot for handshake @h until @until (free slots were freed by
 * sw_pending_live); @probation: admitted on probation, which its session
 * will carry.
 */
static __always_inline void sw_pending_add(struct sw_source *src, __u32 h, __u64 until, bool probation)
{
	int free_slot = -1;

#pragma unroll
	for (int i = SW_PENDING_SLOTS - 1; i >= 0; i--)
		if (!src->pending_tuple[i])
			free_slot = i;
	if (free_slot >= 0) {
		__u8 bit = 1U << (free_slot & (SW_PENDING_SLOTS - 1));

		src->pending_tuple[free_slot & (SW_PENDING_SLOTS - 1)] = h;
		src->pending_until[free_slot & (SW_PENDING_SLOTS - 1)] = until;
		if (probation)
			src->pending_probation |= bit;
		else if (src->pending_probation & bit)
			src->pending_probation &= ~bit;
		return;
	}
	/* More handshakes at once than slots: counted, not remembered. */
	__sync_fetch_and_add(&src->overflow, 1);
	src->overflow_until_ns = until;
}

/*
 * A SYN. @bypass: the source is allowlisted, or (dry-run) already counted as
 * a would-drop (penalty box, country): the limits are not applied again.
 * @pol/@cs: the source's country policy and counters (NULL: none).
 * Every limit is checked before any is charged, so a SYN refused by one
 * does not spend a token of another. An admitted SYN reserves a session
 * slot (pending) until its handshake completes or handshake_timeout passes;
 * no session record yet, so a SYN costs no insert into the session table.
 */
static __always_inline int sw_syn(const struct sw_config *cfg, const struct sw_packet *p,
				  const struct sw_src_key *key, struct sw_source *src, bool allowed,
				  bool bypass, const struct sw_country_policy *pol,
				  struct sw_country_stats *cs, __u32 cc, __u64 now, struct sw_stats *st)
{
	__u32 h = sw_tuple_hash(p);
	__u32 pending = sw_pending_live(src, now);
	__u64 interval = cfg->syn_interval_ns, tolerance = cfg->syn_tolerance_ns;
	__u32 max_sessions = cfg->max_sessions;
	__u8 action = pol ? pol->action : SW_CA_ALLOW;
	bool judged = false, probation = false;
	int slot;

	src->last_syn_ns = now;
	if (pending && (slot = sw_pending_find(src, h, &now)) >= 0) {
		/* The client retransmits a SYN admitted before: not a new connection. */
		src->pending_until[slot & (SW_PENDING_SLOTS - 1)] = now + cfg->handshake_timeout_ns;
		st->syn_retransmit++;
		return XDP_PASS;
	}

	if (allowed) {
		st->allowlisted++;
		goto admit;
	}
	if (bypass)
		goto admit;
	/*
	 * Emergency: sources known to be good (or home, if so configured)
	 * start sessions; the others only on probation, probation_per_source
	 * sessions each, in the share of the MTA reserved for them.
	 */
	if ((cfg->flags & SW_CFG_EMERGENCY) && !sw_emergency_admits(cfg, src, pol, now)) {
		if (!cfg->probation_per_source ||
		    (src->sessions_open + pending >= cfg->probation_per_source &&
		     sw_live_sessions(key, src) + pending >= cfg->probation_per_source)) {
			if (cfg->probation_per_source)
				st->probation_busy++;
			if (sw_drop(cfg, st, src, cs, SW_R_EMERGENCY) == XDP_DROP)
				return XDP_DROP;
			goto admit;
		}
		probation = true;
	}
	if (action == SW_CA_BLOCK) {
		/* A policy, not an offence of the source: no strike. */
		if (sw_drop(cfg, st, src, cs, SW_R_COUNTRY) == XDP_DROP)
			return XDP_DROP;
		goto admit;
	}
	if (action == SW_CA_LIMIT && pol) {
		interval = pol->syn_interval_ns;
		tolerance = pol->syn_tolerance_ns;
		max_sessions = pol->max_sessions;
	}
	/* Concurrency before rate: a SYN refused for one must not spend a token of the other. */
	if (max_sessions && src->sessions_open + pending >= max_sessions &&
	    sw_live_sessions(key, src) + pending >= max_sessions) {
		sw_strike(cfg, key, src, SW_R_CONCURRENCY, now, st);
		if (sw_drop(cfg, st, src, cs, SW_R_CONCURRENCY) == XDP_DROP)
			return XDP_DROP;
		goto admit;
	}
	if (interval && !sw_gcra_conforms(&src->syn_tat_ns, now, tolerance)) {
		sw_strike(cfg, key, src, SW_R_RATE, now, st);
		if (sw_drop(cfg, st, src, cs, SW_R_RATE) == XDP_DROP)
			return XDP_DROP;
		goto admit;
	}
	if (pol) {
		if (sw_country_rate(cfg, st, src, cs, pol, cc, now, true, &judged) == XDP_DROP)
			return XDP_DROP;
		if (judged)
			goto admit;
		if (action == SW_CA_MONITOR) {
			/* What the country's per-source limits would do: counted, not enforced. */
			if (pol->max_sessions && sw_live_sessions(key, src) + pending >= pol->max_sessions)
				sw_would(st, src, cs, SW_R_CONCURRENCY);
			else if (pol->syn_interval_ns &&
				 !sw_gcra_admit(&src->watch_tat_ns, now, pol->syn_interval_ns,
						pol->syn_tolerance_ns))
				sw_would(st, src, cs, SW_R_RATE);
		}
	}
	/* Last, so that a SYN another limit refuses takes no probation slot. */
	if (probation) {
		if (!sw_probation_take(cfg)) {
			st->probation_full++;
			if (sw_drop(cfg, st, src, cs, SW_R_EMERGENCY) == XDP_DROP)
				return XDP_DROP;
			goto admit;
		}
		st->probation_admitted++;
		__sync_fetch_and_add(&src->probation_admitted, 1);
	}
	if (interval)
		sw_gcra_admit(&src->syn_tat_ns, now, interval, (__u64)-1);

admit:
	sw_pending_add(src, h, now + cfg->handshake_timeout_ns, probation);
	__sync_fetch_and_add(&src->admitted, 1);
	st->admitted++;
	if (cs)
		cs->admitted++;
	return XDP_PASS;
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
	slot = sw_pending_find(src, sw_tuple_hash(p), now);
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
	} else if (src->overflow && src->overflow_until_ns > *now) {
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
 * Message data from the client: progress every SW_BODY_PROGRESS bytes, and
 * a segment ending with the final dot leaves the server owing the reply.
 * Nothing else of the message is read.
 */
static __always_inline void sw_client_body(struct xdp_md *ctx, const struct sw_packet *p,
					   struct sw_session *sess, __u64 now)
{
	__u8 tail[5] = {};
	__u32 n = p->payload_len;

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

/* Copy up to SW_SCAN_BYTES of the payload into the per-CPU buffer: its length, or 0. */
static __always_inline __u32 sw_load_payload_xdp(struct xdp_md *ctx, const struct sw_packet *p,
						 struct sw_scan_buf **out)
{
	__u32 zero = 0, n = p->payload_len;
	struct sw_scan_buf *buf = bpf_map_lookup_elem(&sw_scan, &zero);

	if (!buf || !n)
		return 0;
	if (n > SW_SCAN_BYTES)
		n = SW_SCAN_BYTES;
	if (bpf_xdp_load_bytes(ctx, p->payload_off, buf->b, n))
		return 0;
	*out = buf;
	return n;
}

SEC("xdp")
int smtpwall_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct sw_packet p = {};
	struct sw_src_key key = {};
	struct sw_config *cfg;
	struct sw_source *src;
	struct sw_stats *st;
	__u32 zero = 0;
	struct sw_country_stats *cs = NULL;
	const struct sw_country_policy *pol = NULL;
	__u32 cc = SW_COUNTRY_NONE;
	__u64 now = 0, len;
	int kind;
	bool syn, allowed = false, bypass = false, counted = false;

	cfg = bpf_map_lookup_elem(&sw_config, &zero);
	st = bpf_map_lookup_elem(&sw_stats, &zero);
	if (!cfg || !st)
		return XDP_PASS;
	st->packets++;
	if (!(cfg->flags & SW_CFG_ENABLED))
		return XDP_PASS;

	kind = sw_parse(data, data_end, &p);
	if (kind == SW_P_OTHER)
		return XDP_PASS;
	if (kind == SW_P_MALFORMED) {
		if (p.malformed_kind < SW_M_MAX)
			st->malformed[p.malformed_kind]++;
		/* Only a frame that could be for a guarded port is ours to judge. */
		if (p.dport_known && !sw_port_guarded(cfg, p.dport))
			return XDP_PASS;
		if (cfg->flags & SW_CFG_MALFORMED_PASS)
			return XDP_PASS;
		return sw_drop(cfg, st, NULL, NULL, SW_R_MALFORMED);
	}
	if (kind == SW_P_TCP && !sw_port_guarded(cfg, p.dport))
		return XDP_PASS;

	if (sw_bench_vary_sport)
		p.sport ^= (__u16)sw_bench_seq++;
	if (sw_bench_vary_seq)
		p.seq += sw_bench_seq_step++ * 4096;
	if (sw_bench_vary_saddr && p.family == SW_AF_INET)
		p.saddr[0] ^= bpf_htonl(sw_bench_seq++ * 2654435761U);

	len = data_end - data;
	st->guarded_packets++;
	st->guarded_bytes += len;
	sw_make_src_key(cfg, &p, &key);
	syn = kind == SW_P_TCP && (p.tcp_flags & (SW_TCP_SYN | SW_TCP_ACK)) == SW_TCP_SYN;
	if (syn)
		st->syn++;
	if (kind == SW_P_FRAGMENT)
		st->fragments++;

	src = bpf_map_lookup_elem(&sw_sources, &key);
	if (!src) {
		/*
		 * No state: the lists decide first, so that a banned source
		 * spends neither a new-source token nor a table entry; then a
		 * blocked or capped country, for the same reason.
		 */
		__u64 expires;
		__u8 list = sw_list_lookup(&p, &now, &expires);
		__u32 gen;
		__u8 pre_would = SW_R_MAX; /* a dry-run would-drop counted before the state existed */

		if (list == SW_LIST_DENY)
			return sw_drop(cfg, st, NULL, NULL, SW_R_DENY);
		if (!syn)
			return XDP_PASS;
		gen = sw_geo_gen(cfg);
		cc = sw_key_country(&key);
		cs = sw_country_stats_of(cc);
		pol = bpf_map_lookup_elem(&sw_country_policy, &cc);
		if (cs)
			cs->syn++;
		if (list == SW_LIST_ALLOW) {
			pol = NULL;
		} else if ((cfg->flags & SW_CFG_EMERGENCY) &&
			   !((cfg->flags & SW_CFG_EMERG_HOME) && pol && pol->home) && !sw_probation_free(cfg)) {
			/*
			 * A source never seen is not known good: without a free
			 * probation slot it is refused before any state. With
			 * one, sw_syn takes the slot once the state exists.
			 */
			if (cfg->probation_per_source)
				st->probation_full++;
			if (sw_drop(cfg, st, NULL, cs, SW_R_EMERGENCY) == XDP_DROP)
				return XDP_DROP;
			bypass = true;
			pre_would = SW_R_EMERGENCY;
		} else if (pol && pol->action == SW_CA_BLOCK) {
			if (sw_drop(cfg, st, NULL, cs, SW_R_COUNTRY) == XDP_DROP)
				return XDP_DROP;
			bypass = true;
			pre_would = SW_R_COUNTRY;
		} else if (pol && pol->action == SW_CA_LIMIT) {
			/*
			 * A capped country refuses before allocating; it is
			 * charged in sw_syn. A monitored one is only counted
			 * there, once.
			 */
			if (sw_country_rate(cfg, st, NULL, cs, pol, cc, sw_clock(&now), false,
					    &bypass) == XDP_DROP)
				return XDP_DROP;
			if (bypass)
				pre_would = SW_R_COUNTRY_RATE;
		}
		src = sw_new_source(cfg, &key, list, expires, cc, gen, &now, st);
		/* The would-drop belongs to the source too, now that it has state. */
		if (src && pre_would == SW_R_COUNTRY)
			__sync_fetch_and_add(&src->would_drop[SW_R_COUNTRY], 1);
		else if (src && pre_would == SW_R_COUNTRY_RATE)
			__sync_fetch_and_add(&src->would_drop[SW_R_COUNTRY_RATE], 1);
		else if (src && pre_would == SW_R_EMERGENCY)
			__sync_fetch_and_add(&src->would_drop[SW_R_EMERGENCY], 1);
		if (!src) {
			if (list != SW_LIST_ALLOW && (cfg->flags & SW_CFG_FLOOD_DROP))
				return sw_drop(cfg, st, NULL, cs, SW_R_FLOOD);
			/* Passed untracked: it still counts against its country's rate. */
			if (pol && !bypass && pol->agg_interval_ns && pol->action == SW_CA_LIMIT)
				sw_country_rate(cfg, st, NULL, cs, pol, cc, sw_clock(&now), true, &bypass);
			return XDP_PASS;
		}
		counted = true;
	}

	__sync_fetch_and_add(&src->packets, 1);
	__sync_fetch_and_add(&src->bytes, len);
	if (syn)
		__sync_fetch_and_add(&src->syn, 1);

	switch (sw_source_list(cfg, &p, src, &now)) {
	case SW_LIST_DENY:
		cs = sw_country_stats_of(sw_source_country(cfg, &key, src));
		if (syn && cs && !counted)
			cs->syn++;
		return sw_drop(cfg, st, src, cs, SW_R_DENY);
	case SW_LIST_ALLOW:
		allowed = bypass = true;
		break;
	default:
		if (src->penalty_until_ns) {
			if (src->penalty_until_ns > sw_clock(&now)) {
				cc = sw_source_country(cfg, &key, src);
				cs = sw_country_stats_of(cc);
				if (syn && cs && !counted)
					cs->syn++;
				counted = true;
				if (sw_drop(cfg, st, src, cs, SW_R_PENALTY) == XDP_DROP)
					return XDP_DROP;
				bypass = true;	/* dry-run: counted once, not again below */
			} else {
				/* Served: later packets need not read the clock for it. */
				src->penalty_until_ns = 0;
			}
		}
	}

	if (syn) {
		if (!counted) {
			cc = sw_source_country(cfg, &key, src);
			cs = sw_country_stats_of(cc);
			if (cs)
				cs->syn++;
		}
		if (!allowed)
			pol = bpf_map_lookup_elem(&sw_country_policy, &cc);
		return sw_syn(cfg, &p, &key, src, allowed, bypass, allowed ? NULL : pol, cs, cc,
			      sw_clock(&now), st);
	}
	if (kind == SW_P_TCP) {
		struct sw_session *sess = sw_segment(cfg, &p, &key, src, &now, len, st);
		struct sw_scan_buf *buf = NULL;
		__u32 n;

		if (sess && sw_seq_fresh(&sess->client_next_seq, &p)) {
			sw_client_pregreet(cfg, &key, src, sess, sw_clock(&now), st);
			__u32 first;

			if (sess->flags & SW_SESS_BODY) {
				sw_client_body(ctx, &p, sess, now);
				return XDP_PASS;
			}
			first = sw_first_cmd(ctx, &p);
			if (first == SW_CMD_OTHER) {
				sw_queue_cmd(sess, SW_CMD_OTHER);
			} else if (first == SW_CMD_PARTIAL) {
				/* nothing a reply answers */
			} else if ((n = sw_load_payload_xdp(ctx, &p, &buf)) && buf) {
				sw_client_commands(cfg, &key, src, sess, buf, n, now, st);
			}
		}
	}
	return XDP_PASS;
}


/* ---- the server's side: tc egress ---- */

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

SEC("tc")
int smtpwall_tc_egress(struct __sk_buff *skb)
{
	struct sw_packet p = {};
	struct sw_session_key sk = {};
	struct sw_src_key key = {};
	struct sw_frame f;
	struct sw_config *cfg;
	struct sw_stats *st;
	struct sw_session *sess;
	struct sw_source *src;
	struct sw_scan_buf *buf;
	__u32 zero = 0, n;
	bool known;
	__u64 now;

	cfg = bpf_map_lookup_elem(&sw_config, &zero);
	st = bpf_map_lookup_elem(&sw_stats, &zero);
	if (!cfg || !st || !(cfg->flags & SW_CFG_ENABLED))
		return TC_ACT_OK;
	/* Headers into the linear part; the payload is copied out below. */
	bpf_skb_pull_data(skb, skb->len < SW_SCAN_BYTES ? skb->len : SW_SCAN_BYTES);
	f.data = (void *)(long)skb->data;
	f.data_end = (void *)(long)skb->data_end;
	f.len = skb->len;
	if (sw_parse_frame(&f, &p) != SW_P_TCP || !sw_port_guarded(cfg, bpf_ntohs(p.sport)))
		return TC_ACT_OK;
	if (sw_bench_vary_seq)
		p.seq += sw_bench_seq_step++ * 4096;

	/* The session as the client's side keys it. */
	__builtin_memcpy(sk.saddr, p.daddr, 16);
	__builtin_memcpy(sk.daddr, p.saddr, 16);
	sk.sport = bpf_htons(p.dport);
	sk.dport = p.sport;
	sk.family = p.family;
	sess = bpf_map_lookup_elem(&sw_sessions, &sk);
	if (!sess)
		return TC_ACT_OK;
	st->server_packets++;
	sess->server_packets++;
	sess->server_bytes += p.payload_len;
	sw_addr_src_key(cfg, p.daddr, p.family, &key);
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
		return TC_ACT_OK;

	if (p.tcp_flags & SW_TCP_RST) {
		/* Reset by the server (or torn down by the daemon): the session is over. */
		struct sw_session ended = *sess;

		if (!bpf_map_delete_elem(&sw_sessions, &sk)) {
			st->server_closed++;
			st->sessions_closed++;
			if (src->sessions_open)
				__sync_fetch_and_add(&src->sessions_open, -1);
			sw_session_end(&ended, src, false, sw_now(), st);
		}
		return TC_ACT_OK;
	}
	if ((p.tcp_flags & SW_TCP_FIN) && !(sess->flags & SW_SESS_SRV_CLOSE)) {
		sess->flags |= SW_SESS_SRV_CLOSE;
		st->server_closed++;
	}
	if (!p.has_payload)
		return TC_ACT_OK;
	/* A retransmitted reply is read once, and is not new activity of the server. */
	if (!sw_seq_fresh(&sess->server_next_seq, &p))
		return TC_ACT_OK;
	now = sw_now();
	sess->last_server_ns = now;
	if (sess->flags & SW_SESS_TLS) {
		if (!sess->greeting_ns)
			sess->greeting_ns = now;
		return TC_ACT_OK;
	}
	buf = bpf_map_lookup_elem(&sw_scan, &zero);
	if (!buf)
		return TC_ACT_OK;
	n = p.payload_len;
	if (n > SW_SCAN_BYTES)
		n = SW_SCAN_BYTES;
	if (!n || bpf_skb_load_bytes(skb, p.payload_off, buf->b, n))
		return TC_ACT_OK;
	sw_server_replies(cfg, &key, src, known, sess, buf, n, p.payload_len > SW_SCAN_BYTES, now, st);
	return TC_ACT_OK;
}

/* ---- the daemon's requests ---- */

/*
 * Penalise a source for what only the daemon sees (idle sessions), through
 * the same escalation as the program's own penalties. Run by the daemon
 * with BPF_PROG_RUN; never attached.
 */
SEC("syscall")
int smtpwall_ctl_penalize(struct sw_ctl_penalty *req)
{
	struct sw_ctl_penalty r;
	struct sw_config *cfg;
	struct sw_stats *st;
	struct sw_source *src;
	__u32 zero = 0;
	__u64 now;
	int result = 0;

	/* One copy of the request: context fields are read at fixed offsets only. */
	__builtin_memcpy(&r, req, sizeof(r));
	now = sw_test_clock ? sw_test_now_ns : r.now_ns;
	cfg = bpf_map_lookup_elem(&sw_config, &zero);
	st = bpf_map_lookup_elem(&sw_stats, &zero);
	src = bpf_map_lookup_elem(&sw_sources, &r.src);
	if (!cfg || !st)
		result = -22;	/* EINVAL */
	else if (!src)
		result = -2;	/* ENOENT */
	else if (src->penalty_until_ns > now)
		result = -114;	/* EALREADY */
	else
		sw_penalize(cfg, &r.src, src, r.reason, r.detail, now, st);
	if (src && r.reason == SW_R_PROBATION && (result == 0 || result == -114)) {
		/* Counted even when already penalised: show tells each failure. */
		__sync_fetch_and_add(&src->probation_failed, 1);
		src->probation_detail = r.detail;
	}
	req->result = result;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
