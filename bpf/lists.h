/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The allow/deny verdict of a packet's source: looked up in the LPM tries
 * (maps/lists.h) for a source without state, and otherwise cached in the
 * source's state until the lists change or the matched entry expires.
 * Which entry wins is include/smtpwall/list_verdict.h.
 */
#ifndef SW_BPF_LISTS_H
#define SW_BPF_LISTS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "smtpwall.h"
#include "../maps/lists.h"
#include "parse.h"
#include "clock.h"

/*
 * Allow/deny lookup on the full source address. Expired entries are ignored
 * (the daemon removes them); the clock is read only for an entry that can
 * expire. Returns SW_LIST_* and the matched entry's expiry.
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
	if (allow && allow->expires_ns && sw_list_expired(allow, sw_clock(now)))
		allow = NULL;
	if (deny && deny->expires_ns && sw_list_expired(deny, sw_clock(now)))
		deny = NULL;
	return sw_list_pick(allow, deny, expires);
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

#endif
