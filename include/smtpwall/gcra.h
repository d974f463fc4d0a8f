/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The generic cell rate algorithm on one 64-bit state word (the theoretical
 * arrival time, TAT): the per-source SYN limit, the shadow limit of a
 * monitored country, a country's shared rate and the new-source gate.
 *
 * A cell conforms when the TAT is not more than @tolerance ahead of @now;
 * admitting it moves the TAT one @interval past max(TAT, now). With
 * tolerance = (burst - 1) * interval, a source idle long enough may send
 * burst cells at once, then one per interval.
 *
 * Time is CLOCK_MONOTONIC in ns. A clock behind the TAT (one that went
 * backwards, or wrapped past 2^64, which takes 584 years of uptime) makes
 * the TAT look further ahead: cells are refused, as for any TAT in the
 * future, until the clock catches up. A TAT that wrapped while the clock
 * did not looks behind the clock: the next cell conforms and the word
 * starts afresh (an over-admission, never a false drop).
 */
#ifndef SMTPWALL_GCRA_H
#define SMTPWALL_GCRA_H

#include "smtpwall/common.h"

/*
 * Admit (and charge) a cell at @now, or refuse it and charge nothing.
 * Lock-free: if another CPU updates the word first, this cell is admitted
 * without charging it (a bounded over-admission, never a false drop).
 */
static SW_INLINE bool sw_gcra_admit(__u64 *tat, __u64 now, __u64 interval, __u64 tolerance)
{
	__u64 old = *tat, base = old > now ? old : now;

	if (base - now > tolerance)
		return false;
	__sync_val_compare_and_swap(tat, old, base + interval);
	return true;
}

/* The check half of sw_gcra_admit: would a cell conform now? Charges nothing. */
static SW_INLINE bool sw_gcra_conforms(const __u64 *tat, __u64 now, __u64 tolerance)
{
	__u64 old = *tat;

	return old <= now || old - now <= tolerance;
}

#endif /* SMTPWALL_GCRA_H */
