/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Allow and deny list entries (maps/lists.h): the LPM keys and values.
 */
#ifndef SMTPWALL_LISTS_H
#define SMTPWALL_LISTS_H

#include "smtpwall/common.h"

/* Allow/deny list LPM keys. */
struct sw_lpm_v4 {
	__u32 prefixlen;
	__u32 addr;		/* network byte order */
};

struct sw_lpm_v6 {
	__u32 prefixlen;
	__u32 addr[4];		/* network byte order */
};

/* sw_list_entry.origin */
#define SW_ORIGIN_CONFIG 1	/* [allow]/[deny] in the config file */
#define SW_ORIGIN_STORE	 2	/* CLI ban/allow, kept in the state database */

struct sw_list_entry {
	__u64 expires_ns;	/* CLOCK_MONOTONIC; 0 = never */
	__u32 prefixlen;	/* copy of the key's, so the more specific of allow/deny can win */
	__u32 origin;		/* SW_ORIGIN_* */
};

#endif /* SMTPWALL_LISTS_H */
