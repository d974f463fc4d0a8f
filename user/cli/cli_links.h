/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Both directions of the account-source link the mail-log follower keeps
 * (state.db source_links): the accounts seen from a source, for
 * `show ADDR`, with whether the source counts as shared; the sources of an
 * account, for `account show NAME`, with their kernel state.
 */
#ifndef SW_CLI_LINKS_H
#define SW_CLI_LINKS_H

#include "config.h"
#include "json.h"
#include "kernel.h"
#include "store.h"

/* @key: the source key as text ("203.0.113.5", "2001:db8:1:2::/64"). @j NULL: text. */
void sw_cli_source_accounts(struct sw_store *st, const struct sw_settings *s, const char *key, struct sw_json *j);
/* @k NULL: no kernel state to show (not loaded). */
void sw_cli_account_sources(struct sw_store *st, const struct sw_settings *s, const struct sw_kernel *k,
			    const char *name, struct sw_json *j);

/* How many sources the log linked @name to (0 on error too). */
int sw_cli_account_links(struct sw_store *st, const char *name);

#endif
