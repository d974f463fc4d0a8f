/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Countries: ids, the geo tables' chunks and entries, what the loaded
 * tables hold, and each country's policy, shared rate and counters
 * (maps/geo.h).
 */
#ifndef SMTPWALL_GEO_H
#define SMTPWALL_GEO_H

#include "smtpwall/common.h"
#include "smtpwall/verdict.h"

/*
 * Countries. An ISO 3166-1 alpha-2 code is its own id, so policies and
 * counters never depend on which database is loaded:
 * id = 1 + (first letter - 'A') * 26 + (second letter - 'A').
 */
#define SW_COUNTRY_UNKNOWN 0	/* not in the database, or its record names no usable country */
#define SW_COUNTRY_FIRST   1	/* "AA" */
#define SW_COUNTRY_LAST	   676	/* "ZZ" */
#define SW_COUNTRY_NONE	   677	/* no geo database loaded: not classified, no country policy */
#define SW_COUNTRY_IDS	   678

/*
 * Geo tables: multibit tries of 256-entry chunks, so a lookup costs a
 * fixed number of array reads whatever the size of the database. Each
 * family lives in an ARRAY map of chunks, swapped as a whole (map-in-map)
 * when the database is reloaded.
 *
 * Chunks 0-255 are the root, indexed by the top 16 bits of the address
 * (chunk = top 8 bits, entry = next 8); each further level takes 8 bits:
 * IPv4 two levels (to /32), IPv6 six (to /64: sources are never finer in
 * practice, and longer database prefixes are folded into their /64, see
 * SW_GEO_FOLDED). An entry with SW_GEO_PTR set points at chunk
 * (entry & ~SW_GEO_PTR); any other entry is a leaf:
 *   bits 0-9   country id (SW_COUNTRY_*)
 *   bits 10-16 prefix length of the database record it came from
 *   bit 17     SW_GEO_FOLDED, bits 18-19 SW_GEO_V4_*
 *   bit 20     SW_GEO_FOUND: a record covers it (0: not in the database)
 * A /16 covered by one record (four in five on a real database) is one
 * root entry: a spoofed flood over the whole address space mostly reads
 * the 256 KiB root, which stays in cache, rather than random memory.
 */
#define SW_GEO_CHUNK	    256
#define SW_GEO_ROOT_CHUNKS  256
#define SW_GEO4_LEVELS	    2
#define SW_GEO6_LEVELS	    6
#define SW_GEO_PTR	    0x80000000U
#define SW_GEO_CC_MASK	    0x3ff
#define SW_GEO_LEN_SHIFT    10
#define SW_GEO_LEN_MASK	    0x7f
#define SW_GEO_FOLDED	    (1U << 17)	/* this /64 held longer prefixes; classified by its first */
/*
 * Leaves of the prefixes a database aliases to its IPv4 subtree, as
 * MaxMind's do: an address there has the country of the IPv4 address it
 * embeds, looked up in the IPv4 table. 6to4 (2002::/16) embeds it in bits
 * 16-47, Teredo (2001::/32) its server's in bits 32-63.
 */
#define SW_GEO_V4_6TO4	    (1U << 18)
#define SW_GEO_V4_TEREDO    (1U << 19)
#define SW_GEO_FOUND	    (1U << 20)
#define SW_GEO_LEAF(cc, len) ((__u32)(cc) | (__u32)(len) << SW_GEO_LEN_SHIFT | SW_GEO_FOUND)
struct sw_geo_chunk {
	__u32 e[SW_GEO_CHUNK];
};

/* What the loaded geo tables hold: one entry in sw_geo_info, written with them. */
#define SW_GEO_SCHEMA_GEOIP2 1	/* country.iso_code, else registered_country.iso_code */
#define SW_GEO_SCHEMA_FLAT   2	/* country_code (DB-IP Lite, ip-location-db) */
struct sw_geo_info {
	__u64 gen;		/* sw_config.geo_gen these tables were installed with; 0 = none */
	__u64 build_epoch;	/* the database's own build time, unix seconds */
	__u64 loaded_at;	/* unix seconds */
	__u64 load_ns;		/* read + build + install */
	__u64 file_size;
	__u64 file_mtime_ns;
	__u64 file_ino;
	__u64 file_dev;
	__u64 v4_prefixes;	/* database records loaded */
	__u64 v6_prefixes;
	__u64 v4_chunks;	/* entries of the inner maps */
	__u64 v6_chunks;
	__u64 no_country;	/* records without a usable country code */
	__u64 folded;		/* IPv6 /64s holding longer prefixes */
	__u64 shared;		/* chunks saved by storing identical ones once */
	__u64 v4_aliases;	/* 6to4 / Teredo prefixes classified through the IPv4 table */
	__u64 kernel_bytes;	/* memory of the inner maps */
	__u32 ip_version;	/* 4 or 6 */
	__u32 node_count;
	__u32 record_size;
	__u32 schemas;		/* SW_GEO_SCHEMA_* seen */
	char path[256];
	char db_type[64];
};

/* sw_country_policy.action */
enum sw_country_action {
	SW_CA_ALLOW = 0,	/* the base [limits]; no country rule */
	SW_CA_MONITOR,		/* the country's limits are evaluated and counted as would-drops only */
	SW_CA_LIMIT,		/* the country's limits are enforced */
	SW_CA_BLOCK,		/* new connections are dropped */
	SW_CA_MAX
};

/*
 * One country's policy (written by the daemon, resolved from home / world /
 * unknown / per-country sections). Per-source values replace [limits] for
 * this country's sources under limit (and are watched under monitor).
 * 0 disables a check, as in sw_config.
 */
struct sw_country_policy {
	__u64 syn_interval_ns;	/* per source */
	__u64 syn_tolerance_ns;
	__u64 agg_interval_ns;	/* the whole country together */
	__u64 agg_tolerance_ns;
	__u32 max_sessions;	/* per source */
	__u8 action;		/* enum sw_country_action */
	__u8 home;		/* a [geo] home country: admitted in emergency with [emergency] admit_home */
	__u8 pad[2];
};

/* The country-wide rate's GCRA word, shared by all CPUs. */
struct sw_country_state {
	__u64 agg_tat_ns;
};

/*
 * Per-country, per-CPU counters: connection attempts and, like sw_stats,
 * dropped packets by reason (a banned or penalised source's every packet).
 * A banned source without state is dropped before it is classified, so
 * its drops count in sw_stats only.
 */
struct sw_country_stats {
	__u64 syn;		/* connection attempts of the country's sources */
	__u64 admitted;
	__u64 dropped[SW_R_MAX];
	__u64 would_drop[SW_R_MAX];	/* dry-run, or the country is monitored */
};

#endif /* SMTPWALL_GEO_H */
