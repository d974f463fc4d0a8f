/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What every other header of include/smtpwall/ builds on: fixed-width
 * types, address families and sizes, and the few compiler words the
 * shared logic needs to compile alike into BPF (clang -target bpf, no libc)
 * and user space (gcc or clang, with libc).
 */
#ifndef SMTPWALL_COMMON_H
#define SMTPWALL_COMMON_H

#include <linux/types.h>
#include <stdbool.h>

#define SW_AF_INET  2	/* AF_INET, without pulling libc into BPF */
#define SW_AF_INET6 10	/* AF_INET6 */

/* Ports whose sessions are TLS from the start, at most. */
#define SW_TLS_PORTS 4

/* Guarded ports are a bitmap indexed by TCP destination port. */
#define SW_PORT_WORDS (65536 / 64)

/* Default map capacities; `[capacity]` in the config overrides them. */
#define SW_DEFAULT_MAX_SOURCES	131072
#define SW_DEFAULT_MAX_SESSIONS 262144
#define SW_LIST_MAX_ENTRIES	65536
#define SW_EVENTS_BYTES		(256 * 1024)

/*
 * Shared logic is static inline and always inlined: the BPF program must
 * not pay a call for it, and both sides compile the same source.
 */
#define SW_INLINE inline __attribute__((__always_inline__))

/* A loop over a constant count, unrolled on both sides (the verifier walks it once). */
#ifdef __clang__
#define SW_UNROLL _Pragma("unroll")
#else
#define SW_UNROLL _Pragma("GCC unroll 16")
#endif

/* Network to host byte order without libc (ntohl), as bpf_ntohl computes it. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define sw_be32_to_cpu(x) __builtin_bswap32(x)
#else
#define sw_be32_to_cpu(x) ((__u32)(x))
#endif

#endif /* SMTPWALL_COMMON_H */
