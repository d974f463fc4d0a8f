/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The totals of what the programs saw and decided (sw_stats,
 * maps/config.h), per CPU.
 */
#ifndef SMTPWALL_STATS_H
#define SMTPWALL_STATS_H

#include "smtpwall/common.h"
#include "smtpwall/verdict.h"

/*
 * Session durations, bucketed in the kernel when a session ends (the
 * client's or the server's FIN/RST): bucket i counts the sessions that
 * lasted at most SW_DUR_BOUND_MS(i) and more than the bound before it; the
 * last bucket has no upper bound. User space makes the cumulative
 * histogram of them (smtpwall_session_duration_seconds).
 */
#define SW_DUR_BUCKETS 13
#define SW_DUR_BOUNDS_MS { 100, 500, 1000, 2000, 5000, 10000, 30000, 60000, 120000, 300000, 600000, 1800000 }

static SW_INLINE __u32 sw_duration_bucket(__u64 ns)
{
	const __u64 ms = 1000000ULL;

	if (ns <= 5000 * ms)
		return ns <= 500 * ms ? (ns <= 100 * ms ? 0 : 1)
				      : ns <= 1000 * ms ? 2 : ns <= 2000 * ms ? 3 : 4;
	if (ns <= 120000 * ms)
		return ns <= 10000 * ms ? 5 : ns <= 30000 * ms ? 6 : ns <= 60000 * ms ? 7 : 8;
	return ns <= 300000 * ms ? 9 : ns <= 600000 * ms ? 10 : ns <= 1800000 * ms ? 11 : 12;
}

/* Per-CPU totals, summed by user space. */
struct sw_stats {
	__u64 packets;		/* every frame the program saw */
	__u64 guarded_packets;	/* frames to a guarded port */
	__u64 guarded_bytes;
	__u64 syn;		/* connection attempts (SYN without ACK) on guarded ports, all verdicts */
	__u64 admitted;		/* SYNs admitted */
	__u64 syn_retransmit;	/* SYNs repeating a pending handshake: not charged again */
	__u64 allowlisted;	/* SYNs admitted past the limits because the source is allowlisted */
	__u64 sessions_opened;	/* session records created: handshake completed */
	__u64 sessions_closed;	/* closed by the client's FIN or RST */
	__u64 sessions_untracked; /* no record: source at max_sessions with no handshake pending */
	__u64 untracked_syn;	/* SYNs of unknown sources while the new-source gate was shut */
	__u64 source_table_full;/* source state could not be allocated: table full */
	__u64 fragments;	/* non-first fragments of guarded traffic */
	__u64 penalties;	/* times a source was sent to the penalty box */
	__u64 events_lost;	/* ring buffer full: event not delivered */
	__u64 server_packets;	/* egress: segments of guarded sessions from the server */
	__u64 greetings;	/* server greetings seen */
	__u64 pregreet;		/* sessions where the client talked before the greeting */
	__u64 rcpt;		/* RCPT commands answered */
	__u64 rcpt_rejected;	/* ... with 5xx */
	__u64 auth_failed;	/* failed logins (535 / 5xx to AUTH) */
	__u64 messages;		/* messages accepted (2xx after the data) */
	__u64 sessions_completed; /* closed after a message or a QUIT */
	__u64 sessions_abandoned; /* closed without either */
	__u64 server_closed;	/* sessions reset or closed by the server */
	__u64 probation_admitted; /* SYNs of unproven sources admitted on probation in an emergency */
	__u64 probation_full;	/* ... refused: every probation slot taken */
	__u64 probation_busy;	/* ... refused: the source holds its probation_per_source already */
	__u64 probation_graduated; /* probation sessions that delivered a message: the source is known good */
	__u64 dropped[SW_R_MAX];
	__u64 would_drop[SW_R_MAX];	/* dry-run */
	__u64 malformed[SW_M_MAX];	/* seen, whatever the verdict */
	__u64 penalties_by[SW_R_ALL];	/* penalties (above) by enum sw_reason */
	__u64 session_duration[SW_DUR_BUCKETS];	/* sessions ended, by duration (sw_duration_bucket) */
	__u64 session_duration_ns;	/* ... their durations added up */
};

#endif /* SMTPWALL_STATS_H */
