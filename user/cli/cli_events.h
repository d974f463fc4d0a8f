/* SPDX-License-Identifier: GPL-2.0 */
/* `smtpwall events`: the daemon's decisions, from its control socket. */
#ifndef SW_CLI_EVENTS_H
#define SW_CLI_EVENTS_H

#include <stdbool.h>

/* @last < 0: every event the daemon kept; 0: none of them (with @follow: only new ones). */
int sw_cmd_events(const char *state_dir, long last, bool json, bool follow);

#endif
