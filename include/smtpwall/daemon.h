/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the daemon decides and counts, kept in the pinned sw_daemon map
 * (maps/config.h) so that a restart keeps it and the CLI can show it.
 */
#ifndef SMTPWALL_DAEMON_H
#define SMTPWALL_DAEMON_H

#include "smtpwall/common.h"

/* sw_daemon_state.reason: why emergency mode was last entered or left. */
enum sw_emergency_reason {
	SW_ER_NONE = 0,
	SW_ER_SESSIONS,		/* sessions reached the high-water mark */
	SW_ER_RATE,		/* new sessions came faster than [emergency] rate */
	SW_ER_MANUAL,		/* `smtpwall emergency on` / `off` */
	SW_ER_CALM,		/* below the low-water mark for the hold time */
};

/*
 * What the daemon decides and counts (emergency mode, teardowns), in a
 * pinned map so that a restart keeps it and the CLI can show it. Written
 * by the daemon only.
 */
struct sw_daemon_state {
	__u64 emergency_since_ns;	/* CLOCK_MONOTONIC of the last entry; 0 = not in emergency */
	__u64 emergency_since_unix;
	__u64 emergency_entered;	/* transitions into emergency mode */
	__u64 emergency_left;
	__u64 teardowns;		/* sessions torn down with SOCK_DESTROY */
	__u64 teardowns_emergency;	/* ... because idle during an emergency */
	__u64 teardowns_penalised;	/* ... because their source was penalised for its sessions */
	__u64 teardown_failed;
	__u64 idle_penalties;		/* penalties for holding too many idle sessions */
	__u64 sessions_now;		/* the MTA's connections on the guarded ports, last run */
	__u64 idle_now;			/* idle sessions, last run */
	__u64 new_session_rate;		/* sessions opened per second, last run */
	__u64 last_run_unix;
	__u64 probation_failed;		/* sources penalised for a failed probation */
	__u64 probation_slots;		/* probation sessions allowed at once */
	__u64 probation_used;		/* ... in use at the last run */
	__u64 emergency_ns_total;	/* time in emergency mode, the periods that ended */
	__u32 mode;			/* enum sw_emergency_mode in force */
	__u32 reason;			/* enum sw_emergency_reason of the last transition */
	__u32 high, low;		/* the marks in force, in sessions */
	char detail[128];		/* the last transition, as logged */
};

#endif /* SMTPWALL_DAEMON_H */
