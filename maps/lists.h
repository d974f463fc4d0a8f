/* SPDX-License-Identifier: GPL-2.0 */
/* Allow and deny lists. See maps/README.md. */
#ifndef SW_MAPS_LISTS_H
#define SW_MAPS_LISTS_H

#include "smtpwall.h"

/*
 * LPM tries, looked up only when a source's cached verdict is stale
 * (sw_config.list_gen changed, or the matched entry expired), and for
 * packets of sources that have no state. Never per packet of a known source.
 */
#define SW_LIST_MAP(name, keytype)				\
	struct {						\
		__uint(type, BPF_MAP_TYPE_LPM_TRIE);		\
		__uint(max_entries, SW_LIST_MAX_ENTRIES);	\
		__uint(map_flags, BPF_F_NO_PREALLOC);		\
		__type(key, keytype);				\
		__type(value, struct sw_list_entry);		\
		__uint(pinning, LIBBPF_PIN_BY_NAME);		\
	} name SEC(".maps")

SW_LIST_MAP(sw_allow_v4, struct sw_lpm_v4);
SW_LIST_MAP(sw_allow_v6, struct sw_lpm_v6);
SW_LIST_MAP(sw_deny_v4, struct sw_lpm_v4);
SW_LIST_MAP(sw_deny_v6, struct sw_lpm_v6);

#endif
