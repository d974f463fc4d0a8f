/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Session health, judged by the daemon after each GC run:
 *  - idle policy: a source holding more than [sessions] max_idle sessions
 *    idle beyond their phase's threshold goes to the penalty box (reason
 *    idle, the kernel's escalation), and its sessions are torn down;
 *  - sources the kernel penalised for their sessions (pregreet, harvest,
 *    auth) have their sessions torn down too ([sessions] teardown);
 *  - emergency mode: entered when the MTA's sessions reach the high-water
 *    mark or new sessions come too fast, left below the low-water mark
 *    after the hold time; while on, only known-good sources may start
 *    sessions (the XDP program) and idle sessions are torn down, the most
 *    idle of the worst sources first.
 * Teardown is SOCK_DESTROY through netlink sock_diag: the MTA's process is
 * free at once instead of after smtpd_timeout. Every transition and every
 * teardown is logged with its reason and counted in sw_daemon.
 */
#ifndef SW_HEALTH_H
#define SW_HEALTH_H

#include <stdbool.h>
#include <stdint.h>
#include "config.h"
#include "gc.h"
#include "loader.h"
#include "sockdiag.h"
#include "store.h"

struct sw_health {
	struct sw_sockdiag *diag;	/* NULL: no sock_diag, nothing can be torn down */
	uint64_t last_opened;		/* sw_stats.sessions_opened at the last run */
	uint64_t last_run_ns;
	uint64_t last_refused;		/* SYNs refused by emergency mode, at the last run */
	uint64_t pressure_ns;		/* last run in which new sessions were still being refused */
	struct sw_src_key *doomed;	/* sources whose sessions are to be torn down */
	long n_doomed, cap_doomed;
	bool warned_count;
};

int sw_health_init(struct sw_health *h, char *err, size_t errlen);
void sw_health_free(struct sw_health *h);

/* A penalty event: the source's sessions are torn down at the next run if [sessions] teardown says so. */
void sw_health_penalised(struct sw_health *h, const struct sw_settings *s, const struct sw_src_key *key,
			 uint32_t reason);

/* The emergency mode in force: state.db's (set by `smtpwall emergency`), else the config's. */
enum sw_emergency_mode sw_health_mode(struct sw_store *store, const struct sw_settings *s);
const char *sw_emergency_mode_name(unsigned mode);
const char *sw_emergency_reason_name(unsigned reason);

/* One run, after sw_gc_run() with its result. */
void sw_health_run(struct sw_health *h, struct sw_loader *l, const struct sw_settings *s,
		   struct sw_store *store, const struct sw_gc_result *gc, uint64_t now);

#endif
