/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What bpf/smtp.h and bpf/parse.h take from libbpf's bpf_helpers.h, for a
 * native build (tests/fuzz/fuzz_packet.c): the map and section macros
 * reduced to plain C, and bpf_loop() as the loop the kernel runs. First on
 * that harness's include path only; <bpf/bpf_endian.h> is libbpf's own,
 * which works natively as it is.
 */
#ifndef SW_FUZZ_BPF_HELPERS_H
#define SW_FUZZ_BPF_HELPERS_H

#include <linux/types.h>

#define SEC(name)
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* The kernel's bpf_loop: at most @nr_loops calls, until one returns 1; the calls made. */
static inline long bpf_loop(__u32 nr_loops, int (*callback)(__u32 index, void *ctx), void *ctx,
			    __u64 flags)
{
	__u32 i;

	for (i = 0; i < nr_loops; i++)
		if (callback(i, ctx))
			return i + 1;
	return nr_loops;
}

#endif
