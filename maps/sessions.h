/* SPDX-License-Identifier: GPL-2.0 */
/* Per-connection state. See maps/README.md. */
#ifndef SW_MAPS_SESSIONS_H
#define SW_MAPS_SESSIONS_H

#include "smtpwall.h"

/*
 * LRU: live sessions touch their entry with every packet, so a flood of
 * half-open sessions evicts other half-open sessions first. Evictions are
 * found and accounted by the daemon (sw_reaped). Capacity: [capacity] sessions.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SW_DEFAULT_MAX_SESSIONS);
	__type(key, struct sw_session_key);
	__type(value, struct sw_session);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sw_sessions SEC(".maps");

#endif
