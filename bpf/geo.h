/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Country of an address from the geo tries (layout in include/smtpwall.h).
 * IPv4 costs one to three array reads, IPv6 one to seven, whatever the
 * size of the database: no LPM trie on the packet path.
 * The maps must be declared before this header (maps/geo.h).
 */
#ifndef SW_BPF_GEO_H
#define SW_BPF_GEO_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "smtpwall.h"

static __always_inline __u32 sw_geo_leaf_country(__u32 e)
{
	e &= SW_GEO_CC_MASK;
	return e <= SW_COUNTRY_LAST ? e : SW_COUNTRY_UNKNOWN;
}

/*
 * The leaf for @bits (the address, left-aligned) in trie @tbl of @levels
 * levels below the root; 0 (not in the database) if a chunk is missing.
 */
static __always_inline __u32 sw_geo_walk(void *tbl, __u64 bits, int levels)
{
	__u32 idx = bits >> 56, e;
	struct sw_geo_chunk *c;

	c = bpf_map_lookup_elem(tbl, &idx);
	if (!c)
		return 0;
	e = c->e[(bits >> 48) & 0xff];
	for (int level = 0; level < levels; level++) {
		if (!(e & SW_GEO_PTR))
			return e;
		idx = e & ~SW_GEO_PTR;
		c = bpf_map_lookup_elem(tbl, &idx);
		if (!c)
			return 0;
		e = c->e[(bits >> (40 - 8 * level)) & 0xff];
	}
	return e & SW_GEO_PTR ? 0 : e;
}

/* @addr in network byte order. SW_COUNTRY_NONE if no table is loaded. */
static __always_inline __u32 sw_geo_country4(__u32 addr)
{
	__u32 zero = 0;
	void *tbl;

	tbl = bpf_map_lookup_elem(&sw_geo4, &zero);
	if (!tbl)
		return SW_COUNTRY_NONE;
	return sw_geo_leaf_country(sw_geo_walk(tbl, (__u64)bpf_ntohl(addr) << 32, SW_GEO4_LEVELS));
}

/*
 * @addr: 16 bytes in network byte order; only the first 64 bits matter.
 * 6to4 and Teredo addresses of a database that aliases them to IPv4 take
 * the country of the IPv4 address they embed.
 */
static __always_inline __u32 sw_geo_country6(const __u32 addr[4])
{
	__u64 hi = (__u64)bpf_ntohl(addr[0]) << 32 | bpf_ntohl(addr[1]);
	__u32 zero = 0, e;
	void *tbl;

	tbl = bpf_map_lookup_elem(&sw_geo6, &zero);
	if (!tbl) {
		/* An IPv4-only database places no IPv6 address: unknown, not unclassified. */
		return bpf_map_lookup_elem(&sw_geo4, &zero) ? SW_COUNTRY_UNKNOWN : SW_COUNTRY_NONE;
	}
	e = sw_geo_walk(tbl, hi, SW_GEO6_LEVELS);
	if (e & SW_GEO_V4_6TO4)
		return sw_geo_country4(bpf_htonl((__u32)(hi >> 16)));
	if (e & SW_GEO_V4_TEREDO)
		return sw_geo_country4(bpf_htonl((__u32)hi));
	return sw_geo_leaf_country(e);
}

#endif
