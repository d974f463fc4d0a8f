/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The penalty box: strikes for exceeded limits, the session-health
 * policies (talking before the greeting, harvesting, failed logins), and
 * the penalty itself, whose time doubles with every offence not yet
 * forgotten; each penalty is an event to the daemon (maps/events.h).
 */
#ifndef SW_BPF_PENALTY_H
#define SW_BPF_PENALTY_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "smtpwall.h"
#include "../maps/events.h"

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
	if (reason < SW_R_ALL)
		st->penalties_by[reason]++;
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

#endif
