/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A source's pending handshakes (sw_source.pending_*): each admitted SYN
 * reserves a slot, with the keyed hash of its tuple (0 = free) and its own
 * lapse time, until its handshake completes or handshake_timeout passes;
 * beyond SW_PENDING_SLOTS at once, a count that lapses as a whole. The
 * program counts them against max_sessions (freeing lapsed slots as it
 * goes); the daemon counts them before it forgets a source, and those
 * admitted on probation against the probation share; the CLI shows them.
 */
#ifndef SMTPWALL_PENDING_H
#define SMTPWALL_PENDING_H

#include "smtpwall/common.h"
#include "smtpwall/sources.h"

/* A reservation until @until is live before it, and lapsed from @until on. */
static SW_INLINE bool sw_pending_until_live(__u64 until, __u64 now)
{
	return until > now;
}

/* Does slot @i hold a live handshake at @now? */
static SW_INLINE bool sw_pending_slot_live(const struct sw_source *src, unsigned int i, __u64 now)
{
	return src->pending_tuple[i] && sw_pending_until_live(src->pending_until[i], now);
}

/* The overflow reservations live at @now. */
static SW_INLINE __u32 sw_pending_overflow(const struct sw_source *src, __u64 now)
{
	return src->overflow && sw_pending_until_live(src->overflow_until_ns, now) ? src->overflow : 0;
}

/* Handshakes of a source still pending at @now: live slots and overflow. */
static SW_INLINE __u32 sw_source_pending(const struct sw_source *src, __u64 now)
{
	__u32 n = 0;

	SW_UNROLL
	for (unsigned int i = 0; i < SW_PENDING_SLOTS; i++)
		n += sw_pending_slot_live(src, i, now);
	return n + sw_pending_overflow(src, now);
}

/* ... of which admitted on probation (pending_probation bit set). */
static SW_INLINE __u32 sw_source_pending_probation(const struct sw_source *src, __u64 now)
{
	__u32 n = 0;

	SW_UNROLL
	for (unsigned int i = 0; i < SW_PENDING_SLOTS; i++)
		n += (src->pending_probation >> i & 1) && sw_pending_slot_live(src, i, now);
	return n;
}

/*
 * sw_source_pending, freeing what lapsed: each slot lapses on its own,
 * handshake_timeout after its own SYN, so abandoned handshakes do not
 * linger on a client that keeps connecting. For the program, on the
 * source's entry.
 */
static SW_INLINE __u32 sw_pending_reap(struct sw_source *src, __u64 now)
{
	__u32 n = 0;

	SW_UNROLL
	for (unsigned int i = 0; i < SW_PENDING_SLOTS; i++) {
		if (!src->pending_tuple[i])
			continue;
		if (sw_pending_until_live(src->pending_until[i], now))
			n++;
		else
			src->pending_tuple[i] = 0;
	}
	if (src->overflow) {
		if (sw_pending_until_live(src->overflow_until_ns, now))
			n += src->overflow;
		else
			src->overflow = 0;
	}
	return n;
}

#endif /* SMTPWALL_PENDING_H */
