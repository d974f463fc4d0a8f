/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What every other header of include/smtpwall/ builds on: fixed-width
 * types, address families and sizes.
 */
#ifndef SMTPWALL_COMMON_H
#define SMTPWALL_COMMON_H

#include <linux/types.h>

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


#endif /* SMTPWALL_COMMON_H */
