/* SPDX-License-Identifier: GPL-2.0 */
/* Configuration, global gate state and per-CPU totals. See maps/README.md. */
#ifndef SW_MAPS_CONFIG_H
#define SW_MAPS_CONFIG_H

#include "smtpwall.h"

/* Written by the daemon (mmap), read per packet. Zeroed = disabled, all pass. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct sw_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sw_config SEC(".maps");

/* The new-source gate: shared by all CPUs on purpose, updated with cmpxchg. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sw_global);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sw_global SEC(".maps");

/* Totals; per-CPU so that counting costs no shared cache line. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sw_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sw_stats SEC(".maps");

/* The daemon's own decisions and counts (emergency mode, teardowns): kept across restarts. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sw_daemon_state);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sw_daemon SEC(".maps");

/*
 * The layout version of the pinned state (struct sw_abi), written by the
 * loader that creates the pins and checked by every later one. Never read
 * by the programs.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sw_abi);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sw_abi SEC(".maps");

#endif
