/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SW_DAEMON_H
#define SW_DAEMON_H

#include "config.h"

struct sw_run_opts {
	const char *config_path;	/* NULL: built-in defaults */
	char interfaces[SW_MAX_IFACES][SW_IFNAME_LEN];	/* -i, replaces [general] interfaces */
	int n_interfaces;
	bool dry_run;
};

int sw_daemon_run(const struct sw_run_opts *o);

/* pid of the daemon holding @state_dir's lock; 0 none; -1 running, pid unknown. */
int sw_daemon_pid(const char *state_dir);

/* "rate", "concurrency", ... for enum sw_reason. */

#endif
