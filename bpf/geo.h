/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Country of an address from the geo tries (layout in
 * include/smtpwall/geo.h, the walk in include/smtpwall/geo_walk.h).
 * IPv4 costs one to three array reads, IPv6 one to seven, whatever the
 * size of the database: no LPM trie on the packet path.
 */
#ifndef SW_BPF_GEO_H
#define SW_BPF_GEO_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "smtpwall.h"
#include "../maps/geo.h"

/* A chunk of the inner map @tbl (sw_geo_chunk_fn). */
static __always_inline const struct sw_geo_chunk *sw_geo_map_chunk(const void *tbl, __u32 idx)
{
	return bpf_map_lookup_elem((void *)tbl, &idx);
}

/* @addr in network byte order. SW_COUNTRY_NONE if no table is loaded. */
static __always_inline __u32 sw_geo_country4(__u32 addr)
{
	__u32 zero = 0;
	void *tbl;

	tbl = bpf_map_lookup_elem(&sw_geo4, &zero);
	if (!tbl)
		return SW_COUNTRY_NONE;
	return sw_geo_leaf_country(sw_geo_walk(tbl, sw_geo_map_chunk, sw_geo_bits4(addr), SW_GEO4_LEVELS));
}

/*
 * @addr: 16 bytes in network byte order; only the first 64 bits matter.
 * 6to4 and Teredo addresses of a database that aliases them to IPv4 take
 * the country of the IPv4 address they embed.
 */
static __always_inline __u32 sw_geo_country6(const __u32 addr[4])
{
	__u64 hi = sw_geo_bits6(addr);
	__u32 zero = 0, e, v4, skip;
	void *tbl;

	tbl = bpf_map_lookup_elem(&sw_geo6, &zero);
	if (!tbl) {
		/* An IPv4-only database places no IPv6 address: unknown, not unclassified. */
		return bpf_map_lookup_elem(&sw_geo4, &zero) ? SW_COUNTRY_UNKNOWN : SW_COUNTRY_NONE;
	}
	e = sw_geo_walk(tbl, sw_geo_map_chunk, hi, SW_GEO6_LEVELS);
	if (sw_geo_v4_alias(e, hi, &v4, &skip))
		return sw_geo_country4(bpf_htonl(v4));
	return sw_geo_leaf_country(e);
}

#endif
