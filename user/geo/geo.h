/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Country data: a MaxMind-format (.mmdb) country database read with
 * libmaxminddb, turned into the kernel's direct-indexed tables
 * (include/smtpwall.h: multibit tries, a 16-bit root then 8-bit strides,
 * to /32 for IPv4 and /64 for IPv6), installed by swapping whole inner maps, and read
 * back from the kernel for `geo lookup` and `geo status`.
 */
#ifndef SW_GEO_H
#define SW_GEO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include "parse.h"
#include "smtpwall.h"

struct sw_kernel;


/* Tables built in memory from a database, ready for the kernel. */
struct sw_geo_table {
	uint32_t *v4;		/* v4_chunks * SW_GEO_CHUNK entries: the IPv4 trie */
	uint32_t *v6;		/* v6_chunks * SW_GEO_CHUNK entries; NULL if the database has no IPv6 */
	uint32_t v4_chunks;	/* SW_GEO_ROOT_CHUNKS + trie nodes */
	uint32_t v6_chunks;	/* SW_GEO_ROOT_CHUNKS + trie nodes, or 0 */
	uint64_t v4_prefixes;	/* data records under IPv4, each counted once (aliases skipped) */
	uint64_t v6_prefixes;	/* data records elsewhere */
	uint64_t no_country;	/* records without a usable code: classified SW_COUNTRY_UNKNOWN */
	uint64_t folded;	/* IPv6 /64s that held longer prefixes */
	uint64_t shared;	/* chunks saved by storing identical ones once */
	uint64_t v4_aliases;	/* 6to4 / Teredo prefixes aliased to the IPv4 subtree */
	uint64_t build_epoch;
	uint32_t ip_version;
	uint32_t node_count;
	uint32_t record_size;
	uint32_t schemas;	/* SW_GEO_SCHEMA_* seen */
	char db_type[64];
};

/*
 * Read the whole database at @path (walking the search tree with
 * MMDB_read_node) into @t. On error returns -1 with "<path>: <cause>" in
 * @err and @t left empty; the caller keeps whatever it had.
 */
int sw_geo_build(const char *path, struct sw_geo_table *t, char *err, size_t errlen);
void sw_geo_table_free(struct sw_geo_table *t);
/* The same, telling @each every record: @addr is 4 or 16 bytes, host bits zero. */
typedef void (*sw_geo_prefix_fn)(void *ctx, uint8_t family, const uint8_t *addr, unsigned prefixlen,
				 uint16_t country);
int sw_geo_build_each(const char *path, struct sw_geo_table *t, sw_geo_prefix_fn each, void *ctx,
		      char *err, size_t errlen);

/* A classification, from tables in memory or mapped from the kernel. */
struct sw_geo_result {
	uint16_t country;	/* SW_COUNTRY_* id; SW_COUNTRY_UNKNOWN if not found */
	uint8_t prefixlen;	/* of the database record (IPv6: at most 64) */
	bool found;		/* a database record covers the address */
	bool folded;		/* IPv6: the /64 held longer prefixes */
	bool via_v4;		/* IPv6: 6to4 or Teredo, classified by its embedded IPv4 address */
	uint32_t embedded_v4;	/* that address, network byte order */
	uint32_t raw;		/* the table entry found */
};
/* @addr in network byte order; tables of @chunks chunks (bounds are checked). */
void sw_geo_lookup4(const uint32_t *v4, uint32_t chunks, uint32_t addr, struct sw_geo_result *r);
void sw_geo_lookup6(const uint32_t *v6, uint32_t chunks, const uint8_t addr[16],
		    struct sw_geo_result *r);
/*
 * What the program does: sw_geo_lookup6, and for a 6to4 or Teredo alias the
 * IPv4 lookup of the embedded address (prefixlen then counts from the
 * IPv6 address's first bit).
 */
void sw_geo_lookup6_via4(const uint32_t *v6, uint32_t v6_chunks, const uint32_t *v4, uint32_t v4_chunks,
			 const uint8_t addr[16], struct sw_geo_result *r);

/*
 * Swap @t into the kernel: new inner maps, filled, then each outer slot
 * updated in one step (the kernel waits for running programs before the
 * update returns), then sw_config.geo_gen bumped so that cached countries
 * are re-classified. @st is the file's stat, kept to notice replacements.
 */
int sw_geo_install(const struct sw_kernel *k, const struct sw_geo_table *t, const char *path,
		   const struct stat *st, uint64_t load_ns, char *err, size_t errlen);
/*
 * The swap alone, on any pair of outer maps (the bench's too): new inner
 * maps filled through mmap, then put into slot 0. *memlock: their kernel memory.
 */
int sw_geo_put_tables(int geo4_fd, int geo6_fd, const struct sw_geo_table *t, uint64_t *memlock,
		      char *err, size_t errlen);
/* memlock of a map fd, from /proc/self/fdinfo: what the kernel charges for it; 0 if unknown. */
uint64_t sw_fd_memlock(int fd);
/* Remove the tables (no database configured any more). */
int sw_geo_clear(const struct sw_kernel *k, char *err, size_t errlen);

/* The kernel's tables, mapped read-only. */
struct sw_geo_view {
	const uint32_t *v4;
	const uint32_t *v6;
	uint32_t v4_chunks, v6_chunks;
	size_t v4_len, v6_len;	/* mapping lengths */
	uint64_t memlock;	/* kernel memory of both inner maps, from fdinfo */
	struct sw_geo_info info;
	bool loaded;		/* false: no tables in the kernel */
};
int sw_geo_view_open(const struct sw_kernel *k, struct sw_geo_view *v, char *err, size_t errlen);
void sw_geo_view_close(struct sw_geo_view *v);
/* Classify a source key's address (what the program caches per source). */
void sw_geo_view_lookup(const struct sw_geo_view *v, uint8_t family, const uint32_t addr[4],
			struct sw_geo_result *r);

/* What the daemon remembers between refreshes. */
struct sw_geo_watch {
	bool missing;		/* the file could not be read; reported */
	bool failed;		/* failed_st's version did not load; reported */
	struct stat failed_st;
	char failed_path[256];
};
/*
 * Bring the kernel's tables in line with @path ("" = no database): load it
 * if the file differs from what the kernel holds (or @force: SIGHUP), keep
 * the tables in force on any error, reported once per version of the file.
 * Returns 1 if the tables changed, 0 if nothing was to do, -1 on error.
 */
int sw_geo_refresh(struct sw_geo_watch *w, const struct sw_kernel *k, const char *path, bool force);

#endif
