/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the BPF programs and user space share: the types of every map key,
 * value and event, their constants, and the pure logic both sides run on
 * them. Include this; the headers below are its parts, one concern each,
 * in the order data flows (packet -> verdict -> state -> counters and
 * events -> the daemon).
 *
 * Types: fixed-width only, explicit padding, no pointers. Every struct is a
 * BPF map key or value and must have the same layout on both sides;
 * changing one changes the pinned maps' layout (smtpwall/abi.h): the
 * daemon then refuses to adopt old pins and asks for `smtpwall detach`.
 *
 * Logic: static inline functions compiled into the BPF program, the daemon,
 * the CLI and the tests alike, free of libc and of BPF helpers, so each
 * rule has one source and one unit test (tests/unit/test_shared_logic.c).
 */
#ifndef SMTPWALL_H
#define SMTPWALL_H

/* Types and constants */
#include "smtpwall/common.h"	/* families, sizes, capacities; SW_INLINE */
#include "smtpwall/verdict.h"	/* drop and penalty reasons, malformed kinds */
#include "smtpwall/config.h"	/* sw_config (what the kernel is told), sw_global */
#include "smtpwall/sources.h"	/* sw_src_key, sw_source */
#include "smtpwall/sessions.h"	/* sw_session_key, sw_session: flags, phases, commands */
#include "smtpwall/lists.h"	/* allow/deny LPM keys and entries */
#include "smtpwall/geo.h"	/* countries, geo tables, country policy and counters */
#include "smtpwall/stats.h"	/* sw_stats: per-CPU totals */
#include "smtpwall/events.h"	/* sw_event (kernel to daemon), sw_ctl_penalty (daemon to kernel) */
#include "smtpwall/daemon.h"	/* sw_daemon_state: the daemon's decisions, pinned */
#include "smtpwall/abi.h"	/* SW_ABI_VERSION and the layout's static assertions */

/* Logic run on both sides */
#include "smtpwall/source_key.h"   /* an address's source key */
#include "smtpwall/list_verdict.h" /* which allow/deny entry decides */
#include "smtpwall/gcra.h"	   /* rate limits */
#include "smtpwall/tuple_hash.h"   /* the keyed hash of a handshake */
#include "smtpwall/pending.h"	   /* pending handshake slots */
#include "smtpwall/source_state.h" /* known good, live sessions */
#include "smtpwall/geo_walk.h"	   /* the geo table walk */

#endif /* SMTPWALL_H */
