/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the daemon's services count, copied for a scrape: each service with
 * figures fills its part on the event loop's thread (the `figures` hook of
 * struct sw_service), and the metrics service renders the copy on its own
 * thread. Plain values only: nothing here points into a service.
 */
#ifndef SW_FIGURES_H
#define SW_FIGURES_H

#include <stdbool.h>
#include <stdint.h>
#include "accounts.h"
#include "policy_proto.h"
#include "postfix_log.h"

/* The policy service's request latency, in seconds: upper bounds of its buckets. */
#define SW_POL_LAT_BUCKETS 10
#define SW_POL_LAT_BOUNDS { 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1 }
#define SW_VERDICT_KINDS 4	/* enum sw_verdict_kind */

struct sw_fig_policy {
	bool up;
	uint64_t requests, refused_full;
	uint64_t decisions[SW_VERDICT_KINDS][SW_POL_N];
	uint64_t malformed[SW_PE_N_KINDS];
	uint64_t latency[SW_POL_LAT_BUCKETS + 1];	/* not cumulative; the last is unbounded */
	double latency_sum;
	unsigned clients;
	unsigned accounts, suspended, flagged;		/* the ledger's census */
};

struct sw_fig_maillog {
	bool up, journal;
	uint64_t kinds[SW_ML_N_KINDS];
	uint64_t truncated, rotations, truncations;
	bool lag_known;
	uint64_t lag_bytes;
	int64_t last_line_ms;				/* the last line's time; 0 none yet */
	uint64_t penalties, vouches, flags, shared_spared, monitored;
};

/* The sessions service's last table walk (gc.c), on the loop every gc_interval. */
struct sw_fig_gc {
	bool have;			/* a walk has run */
	long sessions, sources;		/* entries left after it */
	uint64_t runs;
	double seconds;			/* how long it held the loop */
};

#define SW_FIG_SERVICES 16

struct sw_figures {
	unsigned n_services;
	const char *service[SW_FIG_SERVICES];		/* static names of the table */
	bool service_up[SW_FIG_SERVICES];
	struct sw_fig_gc gc;
	struct sw_fig_policy policy;
	struct sw_fig_maillog maillog;
};

/* Index of the latency bucket of @seconds. */
static inline unsigned sw_pol_lat_bucket(double seconds)
{
	static const double b[SW_POL_LAT_BUCKETS] = SW_POL_LAT_BOUNDS;
	unsigned i = 0;

	while (i < SW_POL_LAT_BUCKETS && seconds > b[i])
		i++;
	return i;
}

#endif
