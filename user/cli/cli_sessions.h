/* SPDX-License-Identifier: GPL-2.0 */
/* Session health and emergency mode on the command line: `emergency`, and their part of `status`. */
#ifndef SW_CLI_SESSIONS_H
#define SW_CLI_SESSIONS_H

#include <stdbool.h>
#include "config.h"
#include "kernel.h"
#include "store.h"

struct sw_json;

/* `smtpwall emergency [on|off|auto]`: set the mode (kept in state.db) or show it. */
int sw_cmd_emergency(const struct sw_kernel *k, bool loaded, const struct sw_settings *s,
		     struct sw_store *store, const char *arg, bool json);
/* The "emergency" and "health" objects of `status --json`; their lines of `status`. */
void sw_cli_status_health_json(struct sw_json *j, const struct sw_kernel *k, const struct sw_stats *st,
			       struct sw_store *store, const struct sw_settings *s);
void sw_cli_status_health_text(const struct sw_kernel *k, const struct sw_stats *st, struct sw_store *store,
			       const struct sw_settings *s);

/* A source's session health in `show`: counts, known good, sessions idle now. */
void sw_cli_show_health_json(struct sw_json *j, const struct sw_kernel *k, const struct sw_settings *s,
			     const struct sw_src_key *key, const struct sw_source *src, bool known, uint64_t now);
void sw_cli_show_health_text(const struct sw_kernel *k, const struct sw_settings *s, const struct sw_src_key *key,
			     const struct sw_source *src, uint64_t now);

#endif
