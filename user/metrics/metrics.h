/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A scrape: what the kernel's maps hold and the services' figures,
 * gathered into one snapshot (sw_scrape_collect, off the event loop: it
 * reads every source), then written as Prometheus or OpenMetrics text
 * (sw_scrape_render) and, when asked, the whole source table as JSON.
 * The names and labels of every family are listed in the README
 * (Monitoring).
 */
#ifndef SW_METRICS_H
#define SW_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <smtpwall.h>
#include "expo.h"
#include "figures.h"
#include "kernel.h"

/* The maps with an occupancy: smtpwall_map_entries / smtpwall_map_capacity{map}. */
enum sw_mmap_id { SW_MM_SOURCES = 0, SW_MM_SESSIONS, SW_MM_ALLOW4, SW_MM_ALLOW6, SW_MM_DENY4, SW_MM_DENY6, SW_MM_N };

struct sw_top_source {
	struct sw_src_key key;
	uint64_t recent;		/* connection attempts since the previous scrape */
	uint64_t syn, admitted, dropped, packets;
	uint32_t sessions_open;
	bool penalised;
	char text[48];			/* the source as text (filled for the chosen ones) */
};

/* Remembers each source's attempts between scrapes (the collector's own). */
struct sw_src_memory;
struct sw_src_memory *sw_src_memory_new(void);
void sw_src_memory_free(struct sw_src_memory *m);

struct sw_scrape {
	/* Given by the loop: */
	struct sw_figures fig;
	unsigned top_sources, top_countries;
	bool configured_country[SW_COUNTRY_IDS];	/* home or [country XX]: always listed */
	uint64_t capacity[SW_MM_N];
	bool want_sources_json;
	int64_t started_unix;
	double previous_collect_s;
	double previous_stall_s;		/* the loop's worst lateness during the previous one */

	/* Filled by sw_scrape_collect: */
	uint64_t unix_now, mono_now;
	bool stats_ok, ds_ok, geo_ok, countries_ok, sources_ok;
	struct sw_stats st;
	struct sw_daemon_state ds;
	struct sw_geo_info gi;
	struct sw_country_stats cs[SW_COUNTRY_IDS];
	uint32_t country_sessions[SW_COUNTRY_IDS], country_sources[SW_COUNTRY_IDS];
	long entries[SW_MM_N];			/* < 0: could not be read */
	uint64_t sources, penalised;
	struct sw_top_source *top;		/* the busiest, most first */
	unsigned n_top;
	char *sources_json;			/* when wanted: malloc'd */
	size_t sources_json_len;
	double collect_s;
	char err[256];				/* the first map that could not be read */
};

void sw_scrape_free(struct sw_scrape *sc);

/*
 * Read the kernel's state into @sc: totals, the daemon's record, geo
 * information, per-country counters, map occupancy, and one walk over the
 * sources (batched) for the per-country sessions, the busiest sources and
 * the JSON table. @mem carries the attempts seen at the previous scrape
 * (NULL: ranked by totals). Safe on any thread: it only reads maps.
 */
void sw_scrape_collect(const struct sw_kernel *k, struct sw_src_memory *mem, struct sw_scrape *sc);

/* Write @sc as an exposition. Non-zero if memory ran out. */
int sw_scrape_render(const struct sw_scrape *sc, struct sw_expo *e);

/* A source key as text: "192.0.2.7", "192.0.2.0/24", "2001:db8:1:2::/64". */
void sw_scrape_source_text(const struct sw_kernel *k, const struct sw_src_key *key, char *buf, size_t len);

#endif
