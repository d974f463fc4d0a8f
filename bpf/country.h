/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A source's country (classified once, cached in its state until the geo
 * tables change), its policy and counters, and a limited country's own
 * rate over all its sources together.
 */
#ifndef SW_BPF_COUNTRY_H
#define SW_BPF_COUNTRY_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "smtpwall.h"
#include "../maps/geo.h"
#include "guard.h"
#include "geo.h"

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

#endif
