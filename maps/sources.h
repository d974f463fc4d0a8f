/* SPDX-License-Identifier: GPL-2.0 */
/* Per-source state. See maps/README.md. */
#ifndef SW_MAPS_SOURCES_H
#define SW_MAPS_SOURCES_H

#include "smtpwall.h"

/*
 * A plain preallocated HASH, not an LRU: a flood of new (spoofed) sources
 * must never evict the state of known sources. When it is full, new sources
 * go untracked; the daemon expires quiet sources. Capacity: [capacity] sources.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SW_DEFAULT_MAX_SOURCES);
	__type(key, struct sw_src_key);
	__type(value, struct sw_source);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sw_sources SEC(".maps");

/*
 * Sessions of a source that the daemon closed (idle expiry, or evicted from
 * sw_sessions), cumulative. Written only by the daemon, so its
 * read-modify-write is safe; live sessions = sessions_open - reaped.
 * Read by BPF only when a source reaches max_sessions.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SW_DEFAULT_MAX_SOURCES);
	__type(key, struct sw_src_key);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sw_reaped SEC(".maps");

/*
 * Where a new source's state is assembled before it is inserted: the value
 * is too large for the 512-byte BPF stack. Per CPU, not pinned, no state.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sw_source);
} sw_scratch SEC(".maps");

#endif
