/* SPDX-License-Identifier: GPL-2.0 */
/* Geo tables, country policy and per-country counters. See maps/README.md. */
#ifndef SW_MAPS_GEO_H
#define SW_MAPS_GEO_H

#include "smtpwall.h"

/*
 * The tables themselves are inner maps: ARRAYs of 256-entry chunks sized
 * to the database, filled through mmap by the daemon and then swapped into
 * the outer map in one update. A packet looks the outer map up once, so it
 * sees either the old tables or the new ones, never half of each. The
 * templates below only fix the inner maps' shape (BPF_F_INNER_MAP lets
 * their sizes differ); sizes are set in bytes because clang emits only a
 * forward declaration for a value type reached through the template.
 */
struct sw_geo4_table {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_INNER_MAP | BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct sw_geo_chunk));
};

struct sw_geo6_table {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_INNER_MAP | BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct sw_geo_chunk));
};

/* Slot 0: the IPv4 table in force; empty = no geo data (no country policy). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct sw_geo4_table);	/* last: a flexible array member */
} sw_geo4 SEC(".maps");

/* Slot 0: the IPv6 table in force; empty for an IPv4-only database. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct sw_geo6_table);	/* last: a flexible array member */
} sw_geo6 SEC(".maps");

/* Which file the tables came from, when, and how big: for `geo status` and restarts. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sw_geo_info);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sw_geo_info SEC(".maps");

/* Indexed by country id; written by the daemon from the config. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SW_COUNTRY_IDS);
	__type(key, __u32);
	__type(value, struct sw_country_policy);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sw_country_policy SEC(".maps");

/* Country-wide rate state, shared by all CPUs (cmpxchg). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SW_COUNTRY_IDS);
	__type(key, __u32);
	__type(value, struct sw_country_state);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sw_country_state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SW_COUNTRY_IDS);
	__type(key, __u32);
	__type(value, struct sw_country_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sw_country_stats SEC(".maps");

#endif
