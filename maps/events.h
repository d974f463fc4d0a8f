/* SPDX-License-Identifier: GPL-2.0 */
/* Events to the daemon. See maps/README.md. */
#ifndef SW_MAPS_EVENTS_H
#define SW_MAPS_EVENTS_H

#include "smtpwall.h"

/* Rare events only (penalties), never one per packet. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, SW_EVENTS_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sw_events SEC(".maps");

#endif
