/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The abuse team's commands: account show/list/suspend/resume/set and
 * accounts top. They read and write state.db directly, so they work with
 * the daemon stopped too; a running daemon takes a change within a second.
 */
#ifndef SW_CLI_ACCOUNT_H
#define SW_CLI_ACCOUNT_H

#include <stdbool.h>
#include "config.h"
#include "kernel.h"
#include "store.h"
#include "store_accounts.h"

/* @k: the kernel, for the state of its login sources; NULL when not loaded. */
int sw_cmd_account_show(struct sw_store *st, const struct sw_settings *s, const struct sw_kernel *k,
			const char *name, bool json);
int sw_cmd_account_list(struct sw_store *st, const struct sw_settings *s, enum sw_acct_filter f, bool json);
int sw_cmd_account_suspend(struct sw_store *st, const char *name, const char *reason, const char *dur);
int sw_cmd_account_resume(struct sw_store *st, const char *name, const char *reason);
/* KEY=VALUE settings; @dur bounds an overseas override ("14d"), NULL: no end. */
int sw_cmd_account_set(struct sw_store *st, const char *name, char **kv, int n, const char *dur,
		       const char *reason);
int sw_cmd_accounts_top(struct sw_store *st, const struct sw_settings *s, long limit, bool json);

#endif
