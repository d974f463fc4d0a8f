/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the XDP program can decide about a packet, and why: the reasons of
 * drops (and of penalties), and the kinds of frames it cannot parse. The
 * counters of struct sw_stats, sw_source and sw_country_stats are indexed
 * by them.
 */
#ifndef SMTPWALL_VERDICT_H
#define SMTPWALL_VERDICT_H

#include "smtpwall/common.h"

/* Why a packet was, or in dry-run would have been, dropped. */
enum sw_reason {
	SW_R_RATE = 0,	   /* new-connection (SYN) rate limit of the source */
	SW_R_CONCURRENCY,  /* source already holds max_sessions sessions */
	SW_R_PENALTY,	   /* source is in the penalty box */
	SW_R_DENY,	   /* source matches the deny list (a ban) */
	SW_R_MALFORMED,	   /* frame that may be for a guarded port but cannot be parsed */
	SW_R_FLOOD,	   /* new-source flood, SYN from an unknown source, [flood] action=drop */
	SW_R_COUNTRY,	   /* the source's country is blocked ([country] action = block) */
	SW_R_COUNTRY_RATE, /* the country's own new-connection rate ([country] country_rate) */
	SW_R_EMERGENCY,	   /* emergency mode: new sessions only from sources known to be good */
	SW_R_MAX,	   /* drop reasons end here; the rest are reasons of penalties only */
	SW_R_IDLE = SW_R_MAX, /* the source held too many idle sessions ([sessions] max_idle) */
	SW_R_PREGREET,	   /* the client talked before the server's greeting */
	SW_R_HARVEST,	   /* too many rejected recipients (directory harvest) */
	SW_R_AUTH,	   /* too many failed logins */
	SW_R_PROBATION,	   /* an unproven source's session made no progress during an emergency */
	SW_R_ALL
};

/* Kinds of frames the parser could not make sense of. */
enum sw_malformed {
	SW_M_L2 = 0,	/* truncated Ethernet / VLAN header, or more than two VLAN tags */
	SW_M_IPV4,	/* truncated IPv4 header, version != 4, ihl < 5, bad total length */
	SW_M_IPV6,	/* truncated IPv6 header or extension header, chain too long */
	SW_M_TCP,	/* truncated TCP header, doff < 5, or doff beyond the packet */
	SW_M_MAX
};

#endif /* SMTPWALL_VERDICT_H */
