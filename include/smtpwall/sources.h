/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A source (an address masked to the aggregation prefix) and its state in
 * sw_sources (maps/sources.h): limits, penalties, list and country caches,
 * pending handshakes, counters and session health.
 */
#ifndef SMTPWALL_SOURCES_H
#define SMTPWALL_SOURCES_H

#include "smtpwall/common.h"
#include "smtpwall/verdict.h"

/*
 * A source: an IPv4 address masked to ipv4_prefix, or an IPv6 address
 * masked to ipv6_prefix. IPv4 uses addr[0] only; all in network byte order.
 */
struct sw_src_key {
	__u32 addr[4];
	__u8 family;		/* SW_AF_INET or SW_AF_INET6 */
	__u8 pad[3];
};

/* sw_source.list_verdict */
#define SW_LIST_NONE  0
#define SW_LIST_ALLOW 1
#define SW_LIST_DENY  2

/* sw_source.flags */
#define SW_SRC_PROVEN (1U << 0)	/* completed a TCP handshake: not a spoofed address */

/* Handshakes remembered per source to recognise a retransmitted SYN. */
#define SW_PENDING_SLOTS 8

struct sw_source {
	__u64 first_seen_ns;
	__u64 last_syn_ns;	/* last connection attempt */
	__u64 syn_tat_ns;	/* GCRA theoretical arrival time of the SYN rate limit */
	__u64 watch_tat_ns;	/* GCRA state of a monitored country's per-source rate (counted only) */
	__u64 penalty_until_ns;	/* 0 or a time: dropped until then */
	__u64 strike_window_ns;	/* start of the current strike window */
	__u64 last_offence_ns;	/* last time a penalty was given */
	__u64 list_gen;		/* sw_config.list_gen when list_verdict was computed */
	__u64 list_expires_ns;	/* expiry of the list entry behind list_verdict; 0 = none */
	__u64 pending_until[SW_PENDING_SLOTS]; /* each remembered handshake's slot lapses then */
	__u64 overflow_until_ns; /* the overflow reservations lapse then */
	__u64 syn;
	__u64 admitted;
	__u64 packets;
	__u64 bytes;
	__u64 sessions_total;
	__u64 dropped[SW_R_MAX];
	__u64 would_drop[SW_R_MAX];
	__u32 sessions_open;	/* records created minus closed by the client; see sw_reaped */
	/*
	 * Admitted SYNs whose handshake has not completed (pending): one slot
	 * each, with the keyed hash of its tuple (0 = free) and its own lapse
	 * time; beyond SW_PENDING_SLOTS at once, a count that lapses as a whole.
	 */
	__u32 pending_tuple[SW_PENDING_SLOTS];
	__u32 overflow;
	__u32 strikes;		/* violations in the current window */
	__u32 offences;		/* penalties served, for escalation */
	__u8 list_verdict;	/* SW_LIST_* */
	__u8 penalty_reason;	/* enum sw_reason of the last penalty */
	__u16 flags;		/* SW_SRC_* */
	__u32 geo_gen;		/* sw_config.geo_gen when `country` was classified */
	__u16 country;		/* SW_COUNTRY_* id of the source key's address; valid while geo_gen matches */
	__u8 pending_probation;	/* bit i: pending slot i was admitted on probation (while its tuple is set) */
	__u8 pad8;
	__u16 pad[2];
	/* Session health: totals, and counts within the health window. */
	__u64 last_good_ns;	/* last session completed (a message, or a QUIT after HELO) */
	__u64 health_window_ns;	/* start of the current health window */
	__u64 sessions_completed;
	__u64 sessions_abandoned;
	__u64 session_ns_total;	/* durations of the sessions ended, added up */
	__u64 session_ns_max;
	__u64 messages;
	__u64 rcpt;
	__u64 rcpt_rejected;
	__u64 auth_failed;
	__u64 pregreet;
	__u32 win_rcpt;		/* within the health window */
	__u32 win_rejected;
	__u32 win_auth_failed;
	__u32 win_pregreet;
	/* Probation (emergency mode): sessions admitted on it, and failed (the daemon's penalties). */
	__u32 probation_admitted;
	__u32 probation_failed;
	__u32 probation_detail;	/* the last failure: SW_PROBATION_* of sw_ctl_penalty.detail */
	__u32 pad_probation;
};

#endif /* SMTPWALL_SOURCES_H */
