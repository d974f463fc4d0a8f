/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The keyed hash of a handshake's tuple, which a source's pending slot
 * holds (sw_source.pending_tuple): the program hashes each SYN and ACK,
 * the tests recompute it to find a slot.
 *
 * What identifies a handshake of a source: the client's address and port,
 * the server's address and port. The client address matters because a
 * source is a whole prefix (a /64 by default): without it, every host of the
 * prefix could pass SYNs as "retransmissions" of one admitted handshake. And
 * the hash is keyed (HalfSipHash-1-3), because whoever holds a /64 chooses
 * 64 bits of the input: with a plain mix they could compute tuples that
 * collide with an admitted one, and open connections uncharged past every
 * limit. The secret is drawn once and kept in the pinned sw_global, so a
 * restarted daemon's program still recognises pending handshakes.
 */
#ifndef SMTPWALL_TUPLE_HASH_H
#define SMTPWALL_TUPLE_HASH_H

#include "smtpwall/common.h"

/* Words of the tuple: the ports, then the server's address, then the client's. */
#define SW_TUPLE_WORDS 9

static SW_INLINE __u32 sw_rol32(__u32 x, int n)
{
	return x << n | x >> (32 - n);
}

/* One HalfSipHash round on the state @v. */
static SW_INLINE void sw_hsip_round(__u32 v[4])
{
	v[0] += v[1];
	v[1] = sw_rol32(v[1], 5) ^ v[0];
	v[0] = sw_rol32(v[0], 16);
	v[2] += v[3];
	v[3] = sw_rol32(v[3], 8) ^ v[2];
	v[0] += v[3];
	v[3] = sw_rol32(v[3], 7) ^ v[0];
	v[2] += v[1];
	v[1] = sw_rol32(v[1], 13) ^ v[2];
	v[2] = sw_rol32(v[2], 16);
}

/*
 * HalfSipHash-1-3 with a 32-bit result of the @n words @m (a message of
 * 4 * @n bytes, each word as it lies in memory on a little-endian host),
 * under the 64-bit @key (its low half is the key's first four bytes).
 * @n must be a constant for the program: the loop is unrolled.
 */
static SW_INLINE __u32 sw_hsiphash13(__u64 key, const __u32 *m, const unsigned int n)
{
	__u32 v[4];

	v[0] = (__u32)key;
	v[1] = (__u32)(key >> 32);
	v[2] = 0x6c796765 ^ (__u32)key;
	v[3] = 0x74656462 ^ (__u32)(key >> 32);
	SW_UNROLL
	for (unsigned int i = 0; i < n; i++) {
		v[3] ^= m[i];
		sw_hsip_round(v);
		v[0] ^= m[i];
	}
	v[3] ^= (__u32)(n * 4) << 24;
	sw_hsip_round(v);
	v[0] ^= (__u32)(n * 4) << 24;
	v[2] ^= 0xff;
	sw_hsip_round(v);
	sw_hsip_round(v);
	sw_hsip_round(v);
	return v[1] ^ v[3];
}

/*
 * The hash of the handshake from @saddr:@sport to @daddr:@dport under the
 * secret @key; never 0, which marks a free slot. Addresses are 4 words in
 * network byte order (IPv4 in the first, the rest 0), @sport in network
 * byte order and @dport in host order, as struct sw_packet holds them.
 */
static SW_INLINE __u32 sw_tuple_hash(__u64 key, __u16 sport, __u16 dport, const __u32 saddr[4],
				     const __u32 daddr[4])
{
	__u32 m[SW_TUPLE_WORDS] = {
		(__u32)sport << 16 | dport,
		daddr[0], daddr[1], daddr[2], daddr[3],
		saddr[0], saddr[1], saddr[2], saddr[3],
	};
	__u32 h = sw_hsiphash13(key, m, SW_TUPLE_WORDS);

	return h ? h : 1;
}

#endif /* SMTPWALL_TUPLE_HASH_H */
