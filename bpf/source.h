/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A packet's source, from the verdict on it to the limits on its new
 * connections:
 *   no state: the lists, then (on a SYN) an emergency, a blocked or capped
 *     country, then state allocated behind the new-source gate;
 *   state: the cached list verdict, then the penalty box;
 *   a SYN: emergency admission and probation, the country's block, then
 *     concurrency and rate (GCRA), the country's own where it is limited;
 *     an admitted SYN reserves a handshake slot (bpf/handshake.h).
 * Established sessions are never cut by a rate limit; only a ban or a
 * penalty drops packets of a source that is already connected.
 */
#ifndef SW_BPF_SOURCE_H
#define SW_BPF_SOURCE_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "smtpwall.h"
#include "../maps/config.h"
#include "../maps/sources.h"
#include "../maps/geo.h"
#include "parse.h"
#include "clock.h"
#include "guard.h"
#include "lists.h"
#include "penalty.h"
#include "country.h"
#include "handshake.h"
#include "emergency.h"

/* sw_source_verdict: no verdict yet, the packet goes on. */
#define SW_CONTINUE (-1)

/*
 * What the checks found out about a packet's source so far, so that
 * nothing is looked up, classified or counted twice.
 */
struct sw_judgement {
	struct sw_country_stats *cs;	/* the country's counters, once looked up */
	__u64 now;			/* the time (sw_clock): 0 until read */
	__u32 cc;			/* the country: SW_COUNTRY_NONE until classified */
	bool syn;			/* a connection attempt: SYN without ACK */
	bool allowed;			/* allowlisted */
	bool bypass;			/* the limits are not applied: allowlisted, or (dry-run)
					 * a would-drop counted already (penalty box, country) */
	bool counted;			/* the SYN is counted in its country's stats already */
};

/* Live sessions of a source: created minus closed by the client minus reaped by the daemon. */
static __always_inline __u32 sw_live_sessions(const struct sw_src_key *key, const struct sw_source *src)
{
	__u32 open = src->sessions_open;
	__u64 *reaped;

	reaped = bpf_map_lookup_elem(&sw_reaped, key);
	if (!reaped)
		return open;
	return sw_sessions_live(open, *reaped);
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

/*
 * A packet of a source we hold no state for. The lists decide first, so
 * that a banned source spends neither a new-source token nor a table
 * entry; then, on a SYN, an emergency, a blocked or capped country, for
 * the same reason; then state is allocated. Returns the new state, or NULL
 * with the packet's verdict in *verdict.
 */
static __always_inline struct sw_source *sw_unknown_source(const struct sw_config *cfg, struct sw_stats *st,
							   const struct sw_packet *p,
							   const struct sw_src_key *key,
							   struct sw_judgement *v, int *verdict)
{
	const struct sw_country_policy *pol;
	struct sw_source *src;
	__u64 expires;
	__u8 list = sw_list_lookup(p, &v->now, &expires);
	__u32 gen;
	__u8 pre_would = SW_R_MAX; /* a dry-run would-drop counted before the state existed */

	*verdict = XDP_PASS;
	if (list == SW_LIST_DENY) {
		*verdict = sw_drop(cfg, st, NULL, NULL, SW_R_DENY);
		return NULL;
	}
	if (!v->syn)
		return NULL;
	gen = sw_geo_gen(cfg);
	v->cc = sw_key_country(key);
	v->cs = sw_country_stats_of(v->cc);
	pol = bpf_map_lookup_elem(&sw_country_policy, &v->cc);
	if (v->cs)
		v->cs->syn++;
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
		if (sw_drop(cfg, st, NULL, v->cs, SW_R_EMERGENCY) == XDP_DROP) {
			*verdict = XDP_DROP;
			return NULL;
		}
		v->bypass = true;
		pre_would = SW_R_EMERGENCY;
	} else if (pol && pol->action == SW_CA_BLOCK) {
		if (sw_drop(cfg, st, NULL, v->cs, SW_R_COUNTRY) == XDP_DROP) {
			*verdict = XDP_DROP;
			return NULL;
		}
		v->bypass = true;
		pre_would = SW_R_COUNTRY;
	} else if (pol && pol->action == SW_CA_LIMIT) {
		/*
		 * A capped country refuses before allocating; it is
		 * charged in sw_syn. A monitored one is only counted
		 * there, once.
		 */
		if (sw_country_rate(cfg, st, NULL, v->cs, pol, v->cc, sw_clock(&v->now), false,
				    &v->bypass) == XDP_DROP) {
			*verdict = XDP_DROP;
			return NULL;
		}
		if (v->bypass)
			pre_would = SW_R_COUNTRY_RATE;
	}
	src = sw_new_source(cfg, key, list, expires, v->cc, gen, &v->now, st);
	/* The would-drop belongs to the source too, now that it has state. */
	if (src && pre_would == SW_R_COUNTRY)
		__sync_fetch_and_add(&src->would_drop[SW_R_COUNTRY], 1);
	else if (src && pre_would == SW_R_COUNTRY_RATE)
		__sync_fetch_and_add(&src->would_drop[SW_R_COUNTRY_RATE], 1);
	else if (src && pre_would == SW_R_EMERGENCY)
		__sync_fetch_and_add(&src->would_drop[SW_R_EMERGENCY], 1);
	if (!src) {
		if (list != SW_LIST_ALLOW && (cfg->flags & SW_CFG_FLOOD_DROP)) {
			*verdict = sw_drop(cfg, st, NULL, v->cs, SW_R_FLOOD);
			return NULL;
		}
		/* Passed untracked: it still counts against its country's rate. */
		if (pol && !v->bypass && pol->agg_interval_ns && pol->action == SW_CA_LIMIT)
			sw_country_rate(cfg, st, NULL, v->cs, pol, v->cc, sw_clock(&v->now), true,
					&v->bypass);
		return NULL;
	}
	v->counted = true;
	return src;
}

/*
 * The verdict on a source with state: its list verdict (cached), then the
 * penalty box. SW_CONTINUE: none yet, the packet goes on.
 */
static __always_inline int sw_source_verdict(const struct sw_config *cfg, struct sw_stats *st,
					     const struct sw_packet *p, const struct sw_src_key *key,
					     struct sw_source *src, struct sw_judgement *v)
{
	switch (sw_source_list(cfg, p, src, &v->now)) {
	case SW_LIST_DENY:
		v->cs = sw_country_stats_of(sw_source_country(cfg, key, src));
		if (v->syn && v->cs && !v->counted)
			v->cs->syn++;
		return sw_drop(cfg, st, src, v->cs, SW_R_DENY);
	case SW_LIST_ALLOW:
		v->allowed = v->bypass = true;
		break;
	default:
		if (src->penalty_until_ns) {
			if (src->penalty_until_ns > sw_clock(&v->now)) {
				v->cc = sw_source_country(cfg, key, src);
				v->cs = sw_country_stats_of(v->cc);
				if (v->syn && v->cs && !v->counted)
					v->cs->syn++;
				v->counted = true;
				if (sw_drop(cfg, st, src, v->cs, SW_R_PENALTY) == XDP_DROP)
					return XDP_DROP;
				v->bypass = true;	/* dry-run: counted once, not again below */
			} else {
				/* Served: later packets need not read the clock for it. */
				src->penalty_until_ns = 0;
			}
		}
	}
	return SW_CONTINUE;
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
	__u32 h = sw_handshake_hash(p);
	__u32 pending = sw_pending_reap(src, now);
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

/* A SYN of a source with state: its country (classified once), then the limits. */
static __always_inline int sw_source_syn(const struct sw_config *cfg, struct sw_stats *st,
					 const struct sw_packet *p, const struct sw_src_key *key,
					 struct sw_source *src, struct sw_judgement *v)
{
	const struct sw_country_policy *pol = NULL;

	if (!v->counted) {
		v->cc = sw_source_country(cfg, key, src);
		v->cs = sw_country_stats_of(v->cc);
		if (v->cs)
			v->cs->syn++;
	}
	if (!v->allowed)
		pol = bpf_map_lookup_elem(&sw_country_policy, &v->cc);
	return sw_syn(cfg, p, key, src, v->allowed, v->bypass, pol, v->cs, v->cc, sw_clock(&v->now), st);
}

#endif
