/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the kernel is told: the configuration the daemon writes into the
 * sw_config map (maps/config.h), and the state all CPUs share (sw_global).
 */
#ifndef SMTPWALL_CONFIG_H
#define SMTPWALL_CONFIG_H

#include "smtpwall/common.h"

/*
 * sw_config.list_fine: some allow/deny entry of that family is narrower than
 * the source aggregation prefix (say a /128 ban with ipv6_prefix 64), so
 * addresses of one source may differ in verdict: the program then resolves
 * the lists per packet for that family instead of caching per source.
 */
#define SW_LIST_FINE_V4 (1U << 0)
#define SW_LIST_FINE_V6 (1U << 1)

/* sw_config.flags */
#define SW_CFG_ENABLED	      (1U << 0) /* unset: every frame passes (config not yet written) */
#define SW_CFG_DRY_RUN	      (1U << 1) /* count would-drops, drop nothing */
#define SW_CFG_MALFORMED_PASS (1U << 2) /* pass malformed frames instead of dropping them */
#define SW_CFG_FLOOD_DROP     (1U << 3) /* drop SYNs of unknown sources while the new-source gate is shut */
#define SW_CFG_EMERGENCY      (1U << 4) /* emergency mode: new sessions only from known-good sources */
#define SW_CFG_EMERG_HOME     (1U << 5) /* ... and from home-country sources ([emergency] admit_home) */
#define SW_CFG_EGRESS	      (1U << 6) /* the egress program runs on every interface: the server's side
					 * is seen, so a client without a greeting before it talked early */
/* The flags owned at run time (the health controller, the attacher), never by the config file. */
#define SW_CFG_RUNTIME (SW_CFG_EMERGENCY | SW_CFG_EGRESS)

/*
 * The kernel's view of the configuration: one entry in the sw_config array,
 * written by the daemon. All times are nanoseconds of CLOCK_MONOTONIC
 * (bpf_ktime_get_ns). A zero interval or limit disables that check.
 */
struct sw_config {
	__u64 port_bitmap[SW_PORT_WORDS]; /* guarded TCP destination ports */
	__u64 syn_interval_ns;	  /* GCRA emission interval: 1 s / SYN rate; 0 = no rate limit */
	__u64 syn_tolerance_ns;	  /* GCRA burst tolerance: (burst - 1) * interval */
	__u64 penalty_window_ns;  /* strikes count within this window */
	__u64 penalty_base_ns;	  /* first penalty; doubles on each repeat offence */
	__u64 penalty_max_ns;	  /* cap of an escalated penalty */
	__u64 penalty_forget_ns;  /* offences are forgotten after this long without one */
	__u64 new_source_interval_ns;  /* global gate on allocating state for new sources */
	__u64 new_source_tolerance_ns;
	__u64 handshake_timeout_ns; /* an admitted SYN's reserved session slot lapses after this */
	__u64 list_gen;		  /* bumped by every allow/deny list change; invalidates cached verdicts */
	__u32 max_sessions;	  /* concurrent sessions per source; 0 = unlimited */
	__u32 penalty_strikes;	  /* violations within the window that earn a penalty; 0 = never */
	__u32 v4_mask;		  /* source aggregation mask, network byte order */
	__u32 v6_mask[4];	  /* source aggregation mask, network byte order */
	__u32 flags;		  /* SW_CFG_* */
	__u32 list_fine;	  /* SW_LIST_FINE_*: maintained with list_gen by the list writers */
	__u32 geo_gen;		  /* bumped after each geo table swap; invalidates cached countries */
	/* Session health ([sessions]): 0 disables a policy. */
	__u64 health_window_ns;	  /* pregreet, harvest and auth counts are kept over this window */
	__u64 good_ttl_ns;	  /* a source that completed a session is known good this long */
	__u32 pregreet_limit;	  /* sessions talking before the greeting that earn a penalty */
	__u32 harvest_min;	  /* rejected recipients before the ratio is judged */
	__u32 harvest_ratio;	  /* percent of recipients rejected that is a harvest */
	__u32 auth_fail_limit;	  /* failed logins that earn a penalty */
	__u16 tls_ports[SW_TLS_PORTS]; /* TLS from the first byte (465); 0 = unused */
	/*
	 * Probation ([emergency] probation_*): during an emergency, a source
	 * that is not known good may still open probation_per_source sessions
	 * while sw_global.probation_admitted is below probation_limit. The
	 * daemon moves the limit every run: the admissions counted when it
	 * last looked, plus the probation slots then free. 0 per source: no
	 * probation (only known-good sources in an emergency).
	 */
	__u64 probation_limit;
	__u32 probation_per_source;
	__u32 pad_probation;
};

/* Global state shared by all CPUs: one entry in sw_global. */
struct sw_global {
	__u64 new_source_tat_ns; /* GCRA state of the new-source gate */
	__u64 gate_shut_ns;	 /* last time the gate refused a new source */
	__u64 tuple_key;	 /* secret of the pending-handshake hash, drawn once; pinned */
	__u64 probation_admitted; /* SYNs admitted on probation, ever (see sw_config.probation_limit) */
};

#endif /* SMTPWALL_CONFIG_H */
