/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Which packets are ours, and how a verdict on one is counted: guarded
 * ports, ports that are TLS from the first byte, and drops and would-drops
 * (dry-run, monitored countries) by reason, in the totals, the source's
 * counters and its country's.
 */
#ifndef SW_BPF_GUARD_H
#define SW_BPF_GUARD_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "smtpwall.h"
#include "parse.h"

static __always_inline bool sw_port_guarded(const struct sw_config *cfg, __u16 port)
{
	return cfg->port_bitmap[(port >> 6) & (SW_PORT_WORDS - 1)] & (1ULL << (port & 63));
}

/* A port where sessions are TLS from the first byte (465): their dialogue is not read. */
static __always_inline bool sw_port_tls(const struct sw_config *cfg, __u16 port)
{
	for (int i = 0; i < SW_TLS_PORTS; i++)
		if (cfg->tls_ports[i] && cfg->tls_ports[i] == port)
			return true;
	return false;
}

/* A would-drop: counted everywhere it applies, nothing dropped. */
static __always_inline void sw_would(struct sw_stats *st, struct sw_source *src,
				     struct sw_country_stats *cs, __u32 reason)
{
	if (reason >= SW_R_MAX)
		return;
	st->would_drop[reason]++;
	if (src)
		__sync_fetch_and_add(&src->would_drop[reason], 1);
	if (cs)
		cs->would_drop[reason]++;
}

/* Verdict for a decision to drop: counted, and in dry-run only counted. */
static __always_inline int sw_drop(const struct sw_config *cfg, struct sw_stats *st,
				   struct sw_source *src, struct sw_country_stats *cs, __u32 reason)
{
	if (reason >= SW_R_MAX)
		return XDP_PASS;
	if (cfg->flags & SW_CFG_DRY_RUN) {
		sw_would(st, src, cs, reason);
		return XDP_PASS;
	}
	st->dropped[reason]++;
	if (src)
		__sync_fetch_and_add(&src->dropped[reason], 1);
	if (cs)
		cs->dropped[reason]++;
	return XDP_DROP;
}

/*
 * A frame the parser could not make sense of: counted by kind, and dropped
 * (or passed, with [limits] malformed = pass) only if it could be for a
 * guarded port, so that a broken header is never a way past the guard.
 */
static __always_inline int sw_malformed_verdict(const struct sw_config *cfg, struct sw_stats *st,
						const struct sw_packet *p)
{
	if (p->malformed_kind < SW_M_MAX)
		st->malformed[p->malformed_kind]++;
	/* Only a frame that could be for a guarded port is ours to judge. */
	if (p->dport_known && !sw_port_guarded(cfg, p->dport))
		return XDP_PASS;
	if (cfg->flags & SW_CFG_MALFORMED_PASS)
		return XDP_PASS;
	return sw_drop(cfg, st, NULL, NULL, SW_R_MALFORMED);
}

#endif
