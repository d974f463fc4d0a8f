/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Which allow/deny entry decides an address's fate, given the entry of
 * each list that matches it (the longest prefix of each LPM trie): the
 * program decides so on the packet path, the CLI's show explains it.
 */
#ifndef SMTPWALL_LIST_VERDICT_H
#define SMTPWALL_LIST_VERDICT_H

#include "smtpwall/common.h"
#include "smtpwall/lists.h"
#include "smtpwall/sources.h"

/*
 * An entry past its expiry no longer counts (the daemon removes it later);
 * it expires at expires_ns exactly, and 0 never does. A caller that reads
 * the clock lazily tests expires_ns first: a permanent entry needs no time.
 */
static SW_INLINE bool sw_list_expired(const struct sw_list_entry *e, __u64 now)
{
	return e->expires_ns && e->expires_ns <= now;
}

/*
 * The verdict (SW_LIST_*) of the entries that match, NULL for a list
 * without a match or whose match expired: the more specific prefix wins;
 * on equal prefixes, the deny entry. *expires: the deciding entry's
 * expiry, 0 for none.
 */
static SW_INLINE __u8 sw_list_pick(const struct sw_list_entry *allow, const struct sw_list_entry *deny,
				   __u64 *expires)
{
	if (deny && (!allow || deny->prefixlen >= allow->prefixlen)) {
		*expires = deny->expires_ns;
		return SW_LIST_DENY;
	}
	if (allow) {
		*expires = allow->expires_ns;
		return SW_LIST_ALLOW;
	}
	*expires = 0;
	return SW_LIST_NONE;
}

#endif /* SMTPWALL_LIST_VERDICT_H */
