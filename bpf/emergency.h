/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Emergency mode: new sessions only from sources known to be good (and,
 * with admit_home, from home sources); the others on probation, within a
 * share of the MTA that the daemon sizes (sw_config.probation_limit).
 */
#ifndef SW_BPF_EMERGENCY_H
#define SW_BPF_EMERGENCY_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "smtpwall.h"
#include "../maps/config.h"

/*
 * During an emergency: may this source open a session? Known-good sources
 * and (with admit_home) home sources may; others go on probation.
 */
static __always_inline bool sw_emergency_admits(const struct sw_config *cfg, const struct sw_source *src,
						 const struct sw_country_policy *pol, __u64 now)
{
	return sw_source_known_good(cfg, src, now) || ((cfg->flags & SW_CFG_EMERG_HOME) && pol && pol->home);
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

#endif
