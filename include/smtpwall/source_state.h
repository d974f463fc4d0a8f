/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Judgements on a source's state that the program, the daemon and the CLI
 * all make: is it known good, how many of its sessions are alive.
 */
#ifndef SMTPWALL_SOURCE_STATE_H
#define SMTPWALL_SOURCE_STATE_H

#include "smtpwall/common.h"
#include "smtpwall/config.h"
#include "smtpwall/sources.h"

/*
 * A session completed at @last_good_ns (0: none since the source's last
 * penalty) is good evidence for less than @good_ttl_ns. A clock behind
 * @last_good_ns proves nothing either.
 */
static SW_INLINE bool sw_known_good(__u64 last_good_ns, __u64 good_ttl_ns, __u64 now)
{
	return last_good_ns && now - last_good_ns < good_ttl_ns;
}

/*
 * Is the source known good: a session completed within good_ttl? Emergency
 * mode admits such sources; the daemon keeps them; show tells them.
 */
static SW_INLINE bool sw_source_known_good(const struct sw_config *cfg, const struct sw_source *src,
					   __u64 now)
{
	return sw_known_good(src->last_good_ns, cfg->good_ttl_ns, now);
}

/*
 * Live sessions of a source: the records it created minus those its
 * client closed (sessions_open), minus those the daemon reaped (sw_reaped,
 * @reaped); never below 0, whatever the daemon did.
 */
static SW_INLINE __u32 sw_sessions_live(__u32 open, __u64 reaped)
{
	return reaped >= open ? 0 : open - (__u32)reaped;
}

#endif /* SMTPWALL_SOURCE_STATE_H */
