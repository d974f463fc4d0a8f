/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Handshake slots: an admitted SYN reserves one in its source, under the
 * keyed hash of its tuple (include/smtpwall/tuple_hash.h), until the ACK
 * that completes the handshake creates the session record, or the slot
 * lapses (include/smtpwall/pending.h). A SYN repeating a pending tuple is
 * a retransmission, not a new connection.
 */
#ifndef SW_BPF_HANDSHAKE_H
#define SW_BPF_HANDSHAKE_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "smtpwall.h"
#include "../maps/config.h"
#include "parse.h"
#include "clock.h"

/*
 * The hash a pending slot holds for the handshake of packet @p, under the
 * secret in sw_global (drawn by the first packet that needs it, and kept:
 * the map is pinned).
 */
static __always_inline __u32 sw_handshake_hash(const struct sw_packet *p)
{
	struct sw_global *g;
	__u32 zero = 0;
	__u64 key;

	g = bpf_map_lookup_elem(&sw_global, &zero);
	if (!g)
		return 1;
	key = g->tuple_key;
	if (!key) {
		key = ((__u64)bpf_get_prandom_u32() << 32 | bpf_get_prandom_u32()) | 1;
		__sync_val_compare_and_swap(&g->tuple_key, 0, key);
		key = g->tuple_key;	/* whichever CPU was first */
	}
	return sw_tuple_hash(key, p->sport, p->dport, p->saddr, p->daddr);
}

/* The slot holding live handshake @h, or -1. */
static __always_inline int sw_pending_find(const struct sw_source *src, __u32 h, __u64 *now)
{
	int found = -1;

#pragma unroll
	for (int i = 0; i < SW_PENDING_SLOTS; i++)
		if (src->pending_tuple[i] == h)
			found = i;
	if (found >= 0 &&
	    !sw_pending_until_live(src->pending_until[found & (SW_PENDING_SLOTS - 1)], sw_clock(now)))
		found = -1;
	return found;
}

/*
 * Reserve a slot for handshake @h until @until (free slots were freed by
 * sw_pending_reap); @probation: admitted on probation, which its session
 * will carry.
 */
static __always_inline void sw_pending_add(struct sw_source *src, __u32 h, __u64 until, bool probation)
{
	int free_slot = -1;

#pragma unroll
	for (int i = SW_PENDING_SLOTS - 1; i >= 0; i--)
		if (!src->pending_tuple[i])
			free_slot = i;
	if (free_slot >= 0) {
		__u8 bit = 1U << (free_slot & (SW_PENDING_SLOTS - 1));

		src->pending_tuple[free_slot & (SW_PENDING_SLOTS - 1)] = h;
		src->pending_until[free_slot & (SW_PENDING_SLOTS - 1)] = until;
		if (probation)
			src->pending_probation |= bit;
		else if (src->pending_probation & bit)
			src->pending_probation &= ~bit;
		return;
	}
	/* More handshakes at once than slots: counted, not remembered. */
	__sync_fetch_and_add(&src->overflow, 1);
	src->overflow_until_ns = until;
}

#endif
