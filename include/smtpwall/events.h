/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the kernel tells the daemon (sw_events ring buffer, maps/events.h)
 * and what the daemon asks of the kernel (the sw_ctl program's request).
 */
#ifndef SMTPWALL_EVENTS_H
#define SMTPWALL_EVENTS_H

#include "smtpwall/common.h"
#include "smtpwall/sources.h"

/* Ring buffer events */
enum sw_event_type {
	SW_EV_PENALTY = 1,	/* a source entered the penalty box */
};

/*
 * The daemon's request to the sw_ctl program (BPF_PROG_RUN): penalise a
 * source for what only user space can see (idle sessions), with the same
 * escalation as the kernel's own penalties.
 */
struct sw_ctl_penalty {
	struct sw_src_key src;
	__u32 reason;		/* enum sw_reason */
	__u32 detail;		/* e.g. idle sessions held, for the event; SW_PROBATION_* for probation */
	__u64 now_ns;		/* CLOCK_MONOTONIC */
	__s32 result;		/* out: 0 penalised, -ENOENT no state, -EALREADY already */
	__u32 pad;
};

/*
 * sw_ctl_penalty.detail of a probation failure, kept in
 * sw_source.probation_detail for `show`: how long the session went
 * without progress (ms, capped), in which phase, and whether it was its
 * lifetime budget that ran out.
 */
#define SW_PROBATION_MS_MASK	 0x00ffffffU
#define SW_PROBATION_PHASE_SHIFT 24
#define SW_PROBATION_PHASE_MASK	 0xfU
#define SW_PROBATION_LIFETIME	 (1U << 28)

struct sw_event {
	__u64 ts_ns;
	__u64 until_ns;
	struct sw_src_key src;
	__u32 type;		/* enum sw_event_type */
	__u32 reason;		/* enum sw_reason */
	__u32 offences;
	__u32 strikes;
	__u32 pad;
};

#endif /* SMTPWALL_EVENTS_H */
