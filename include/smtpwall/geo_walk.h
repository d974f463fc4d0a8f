/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The walk down a geo table (layout in smtpwall/geo.h): the program
 * classifies sources with it, the daemon and the CLI (geo lookup, show,
 * top, countries) read the same tables with it, from the kernel's mapped
 * inner maps or from a table just built.
 */
#ifndef SMTPWALL_GEO_WALK_H
#define SMTPWALL_GEO_WALK_H

#include "smtpwall/common.h"
#include "smtpwall/geo.h"

/*
 * How each side reads chunk @idx of table @tbl: the program looks it up in
 * the inner map, user space indexes the table in memory, bounds checked.
 * NULL: no such chunk. Always inlined with the walk, so the program makes
 * no call through it.
 */
typedef const struct sw_geo_chunk *(*sw_geo_chunk_fn)(const void *tbl, __u32 idx);

/* An address as the walk reads it: IPv4 @addr (network byte order), left-aligned. */
static SW_INLINE __u64 sw_geo_bits4(__u32 addr)
{
	return (__u64)sw_be32_to_cpu(addr) << 32;
}

/* The first 64 bits of IPv6 @addr (4 words, network byte order): all the table holds. */
static SW_INLINE __u64 sw_geo_bits6(const __u32 addr[4])
{
	return (__u64)sw_be32_to_cpu(addr[0]) << 32 | sw_be32_to_cpu(addr[1]);
}

/*
 * The leaf for @bits in the trie @tbl of @levels levels below the root: the
 * root entry (chunk = top 8 bits, entry = next 8), then 8 bits a level.
 * 0 (not in the database) if a chunk is missing, or if the last level
 * still points further (a table built wrong).
 */
static SW_INLINE __u32 sw_geo_walk(const void *tbl, sw_geo_chunk_fn chunk_at, __u64 bits, int levels)
{
	const struct sw_geo_chunk *c;
	__u32 idx = bits >> 56, e;

	c = chunk_at(tbl, idx);
	if (!c)
		return 0;
	e = c->e[(bits >> 48) & 0xff];
	for (int level = 0; level < levels; level++) {
		if (!(e & SW_GEO_PTR))
			return e;
		idx = e & ~SW_GEO_PTR;
		c = chunk_at(tbl, idx);
		if (!c)
			return 0;
		e = c->e[(bits >> (40 - 8 * level)) & 0xff];
	}
	return e & SW_GEO_PTR ? 0 : e;
}

/* The country id of leaf @e: SW_COUNTRY_UNKNOWN if none, or not a valid id. */
static SW_INLINE __u32 sw_geo_leaf_country(__u32 e)
{
	e &= SW_GEO_CC_MASK;
	return e <= SW_COUNTRY_LAST ? e : SW_COUNTRY_UNKNOWN;
}

/*
 * A 6to4 or Teredo leaf @e of the IPv6 prefix @bits sends the lookup to the
 * IPv4 table: *v4 the embedded address (host byte order; 6to4 bits 16-47,
 * Teredo's server bits 32-63), *skip the IPv6 bits before it. false: @e is
 * no alias.
 */
static SW_INLINE bool sw_geo_v4_alias(__u32 e, __u64 bits, __u32 *v4, __u32 *skip)
{
	if (e & SW_GEO_V4_6TO4) {
		*v4 = (__u32)(bits >> 16);
		*skip = 16;
		return true;
	}
	if (e & SW_GEO_V4_TEREDO) {
		*v4 = (__u32)bits;
		*skip = 32;
		return true;
	}
	return false;
}

#endif /* SMTPWALL_GEO_WALK_H */
