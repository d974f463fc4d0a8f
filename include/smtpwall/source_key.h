/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The source an address belongs to: the address masked to the aggregation
 * prefix (sw_config.v4_mask, v6_mask; ipv4_prefix = 32 and ipv6_prefix = 64
 * by default), the key of sw_sources and sw_reaped. The program keys every
 * packet so; the daemon and the CLI key session records, list entries and
 * addresses typed by the operator the same way.
 */
#ifndef SMTPWALL_SOURCE_KEY_H
#define SMTPWALL_SOURCE_KEY_H

#include "smtpwall/common.h"
#include "smtpwall/config.h"
#include "smtpwall/sources.h"

/*
 * The key of address @addr (4 words, network byte order; IPv4 in the first)
 * of @family under @cfg's masks. Every byte of @key is written: a hash map
 * key must have its padding zeroed.
 */
static SW_INLINE void sw_source_key_raw(const struct sw_config *cfg, __u8 family, const __u32 addr[4],
					struct sw_src_key *key)
{
	if (family == SW_AF_INET) {
		key->addr[0] = addr[0] & cfg->v4_mask;
		key->addr[1] = 0;
		key->addr[2] = 0;
		key->addr[3] = 0;
	} else {
		key->addr[0] = addr[0] & cfg->v6_mask[0];
		key->addr[1] = addr[1] & cfg->v6_mask[1];
		key->addr[2] = addr[2] & cfg->v6_mask[2];
		key->addr[3] = addr[3] & cfg->v6_mask[3];
	}
	key->family = family;
	key->pad[0] = 0;
	key->pad[1] = 0;
	key->pad[2] = 0;
}

#endif /* SMTPWALL_SOURCE_KEY_H */
