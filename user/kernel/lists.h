/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The allow and deny lists: the kernel holds the union of the config file's
 * [allow]/[deny] entries and the state database's CLI entries.
 */
#ifndef SW_LISTS_H
#define SW_LISTS_H

#include "config.h"
#include "kernel.h"
#include "store.h"

/* Make the kernel lists equal to config + store. Returns entries loaded or -errno. */
long sw_lists_sync(const struct sw_kernel *k, const struct sw_settings *s, struct sw_store *store,
		   char *err, size_t errlen);

/*
 * After state.db was set aside (named @aside): the kernel's entries that
 * came from the store (CLI bans and allows still in force) recorded in
 * the fresh @store, so that sw_lists_sync keeps them. Returns how many, or
 * -errno.
 */
long sw_lists_recover(const struct sw_kernel *k, struct sw_store *store, const char *aside, char *err,
		      size_t errlen);
/* Is @c one of the config file's entries of @kind? */
bool sw_lists_in_config(const struct sw_settings *s, enum sw_list_kind kind, const struct sw_cidr *c);

const char *sw_list_kind_name(enum sw_list_kind kind);	/* "allow" / "deny" */

#endif
