/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SW_CLOCK_H
#define SW_CLOCK_H

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC now in ns: the kernel's bpf_ktime_get_ns. */
static inline uint64_t sw_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
