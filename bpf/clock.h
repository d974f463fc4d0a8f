/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The time of a decision: CLOCK_MONOTONIC (bpf_ktime_get_ns), or the clock
 * a test injects.
 *
 * The clock is read lazily (sw_clock): every helper call costs tens of ns
 * on a retpoline kernel, and established traffic needs no time at all.
 */
#ifndef SW_BPF_CLOCK_H
#define SW_BPF_CLOCK_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/*
 * Set by tests before load: take the time from sw_test_now_ns, not the
 * clock. Read-only data: the verifier removes the dead branch from the
 * production program.
 */
const volatile bool sw_test_clock = false;
__u64 sw_test_now_ns = 0;

static __always_inline __u64 sw_now(void)
{
	if (sw_test_clock)
		return sw_test_now_ns;
	return bpf_ktime_get_ns();
}

/* The time, read at most once per packet and only when a decision needs it. */
static __always_inline __u64 sw_clock(__u64 *now)
{
	if (!*now)
		*now = sw_now();
	return *now;
}

#endif
