/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The layout version of the pinned state, and the sizes that pin it down:
 * every struct of include/smtpwall/ that is a map key or value, asserted
 * here, in one place.
 */
#ifndef SMTPWALL_ABI_H
#define SMTPWALL_ABI_H

#include "smtpwall/common.h"
#include "smtpwall/config.h"
#include "smtpwall/sources.h"
#include "smtpwall/sessions.h"
#include "smtpwall/lists.h"
#include "smtpwall/geo.h"
#include "smtpwall/stats.h"
#include "smtpwall/events.h"
#include "smtpwall/daemon.h"

/*
 * The layout of the pinned state. Maps outlive the daemon (bpffs pins), so
 * a daemon or CLI built from another layout must not read them as its own:
 * the loader records SW_ABI_VERSION in the sw_abi map when it creates the
 * pins, and refuses to adopt pins of another version (`smtpwall detach`
 * removes them). Bump SW_ABI_VERSION with any change to a struct of the
 * headers included here, to a map's key, value or flags (maps/), or to the
 * set of maps; the assertions below make a size change impossible to miss.
 * struct sw_abi itself never changes.
 */
#define SW_ABI_VERSION 2
#define SW_ABI_MAGIC   0x53574142U	/* "SWAB" */

struct sw_abi {
	__u32 magic;		/* SW_ABI_MAGIC once written */
	__u32 version;		/* SW_ABI_VERSION of the build that created the pins */
	__u32 config_size;	/* sizeof of the main records, as a second check */
	__u32 source_size;
	__u32 session_size;
	__u32 stats_size;
	__u32 global_size;
	__u32 daemon_size;
};

#define SW_ABI_SIZE(t, n) _Static_assert(sizeof(struct t) == (n), \
	"struct " #t " changed size: bump SW_ABI_VERSION and update this assertion")
#define SW_ABI_OFFSET(t, f, n) _Static_assert(__builtin_offsetof(struct t, f) == (n), \
	"struct " #t "." #f " moved: bump SW_ABI_VERSION and update this assertion")
SW_ABI_SIZE(sw_abi, 32);
SW_ABI_SIZE(sw_config, 8368);
SW_ABI_SIZE(sw_daemon_state, 280);
SW_ABI_SIZE(sw_stats, 632);
SW_ABI_SIZE(sw_global, 32);
SW_ABI_SIZE(sw_src_key, 20);
SW_ABI_SIZE(sw_source, 512);
SW_ABI_SIZE(sw_session_key, 40);
SW_ABI_SIZE(sw_session, 128);
SW_ABI_SIZE(sw_list_entry, 16);
SW_ABI_SIZE(sw_geo_chunk, 1024);
SW_ABI_SIZE(sw_geo_info, 472);
SW_ABI_SIZE(sw_country_policy, 40);
SW_ABI_SIZE(sw_country_state, 8);
SW_ABI_SIZE(sw_country_stats, 160);
SW_ABI_SIZE(sw_ctl_penalty, 48);
SW_ABI_SIZE(sw_event, 56);
/* Fields user space writes with atomics while the program runs. */
SW_ABI_OFFSET(sw_config, flags, 8300);
SW_ABI_OFFSET(sw_config, probation_limit, 8352);
SW_ABI_OFFSET(sw_source, last_good_ns, 392);
SW_ABI_OFFSET(sw_session, flags, 64);

#endif /* SMTPWALL_ABI_H */
