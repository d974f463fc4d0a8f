/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The daemon is an event loop (libevent) and a table of services. Each
 * service registers its own descriptors, timers and signals on the loop
 * when it starts, follows the new settings on reload (SIGHUP), and lets go
 * of everything when it stops. Adding a service is one file defining a
 * struct sw_service and one line in the table of services.c.
 *
 * Start order is the table's order; stop order is the reverse. Reload runs
 * in the table's order after the kernel has the new configuration and
 * d->s holds the new settings. Everything runs on the loop's thread; slow
 * work goes to a thread of its own and hands its outcome back to the loop
 * (see svc_geo.c), and decisions are published on the event bus (bus.h),
 * which takes them from any thread. One service answers on a loop of its
 * own: the policy service (svc_policy.c), whose answers Postfix's smtpd
 * waits for, so that no work of the main loop delays them.
 */
#ifndef SW_SERVICE_H
#define SW_SERVICE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "daemon.h"
#include "health.h"
#include "loader.h"
#include "store.h"

struct event_base;
struct sw_accounts;
struct sw_hints;
struct sw_figures;

struct sw_daemon {
	struct event_base *base;
	const struct sw_run_opts *opts;
	struct sw_settings s;		/* in force; replaced by a reload */
	struct sw_loader l;
	bool loaded;			/* l is loaded (and is closed at the end) */
	struct sw_store *store;
	struct sw_health health;	/* the sessions service's; the events service reports to it */
	bool health_ok;
	char state_aside[SW_PATH_LEN + 64];	/* a damaged state.db set aside at start, "" if none */
	uint64_t started_ns;
	/* The loop's lateness, measured while a slow job runs (sw_daemon_stall_*). */
	struct event *stall_ev;
	uint64_t stall_expect_ns, stall_worst_ns;
	int stall_users;
	/* Shared between services, NULL while the owner is not running. */
	struct sw_accounts *accounts;	/* the policy service's ledger, on its thread: */
	pthread_mutex_t *accounts_lock;	/* held around every use of it from the loop */
	struct sw_hints *hints;		/* the mail-log service's hints engine */
	/* The table's running services (daemon.c), for figures(). */
	void *const *svc_state;
	const bool *svc_up;
	const int *svc_n;
	/* Every running service's figures and which services run, on the loop's thread (daemon.c). */
	void (*figures)(struct sw_daemon *d, struct sw_figures *f);
};

struct sw_service {
	const char *name;
	/*
	 * Set up; *state is the service's own. Non-zero with @err: a required
	 * service stops the daemon, any other is reported and left out.
	 */
	int (*start)(struct sw_daemon *d, void **state, char *err, size_t errlen);
	void (*reload)(struct sw_daemon *d, void *state);	/* NULL: nothing to do */
	void (*stop)(struct sw_daemon *d, void *state);	/* NULL: nothing to free */
	/*
	 * Copy what the service counts into its part of @f, on the loop's
	 * thread, for a scrape (metrics.h); NULL: nothing to report. Quick:
	 * no I/O beyond a stat.
	 */
	void (*figures)(struct sw_daemon *d, void *state, struct sw_figures *f);
	bool required;
};

/* The table, in start order, NULL-terminated (services.c). */
extern const struct sw_service *const sw_services[];

extern const struct sw_service sw_svc_lists, sw_svc_geo, sw_svc_links, sw_svc_events, sw_svc_sessions,
	sw_svc_policy, sw_svc_maillog, sw_svc_metrics, sw_svc_control;

/*
 * The loop's worst stall: from sw_daemon_stall_begin() a 10 ms timer
 * measures how late the loop wakes; sw_daemon_stall_end() returns the
 * worst lateness in ns since the matching begin (nested begins share it).
 */
void sw_daemon_stall_begin(struct sw_daemon *d);
uint64_t sw_daemon_stall_end(struct sw_daemon *d);

/* Attach to every configured interface and detach from the ones no longer configured. */
int sw_daemon_attach_all(struct sw_daemon *d, char *err, size_t errlen);

#endif
