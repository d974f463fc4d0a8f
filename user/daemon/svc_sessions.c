// SPDX-License-Identifier: GPL-2.0
/*
 * The sessions service, every [general] gc_interval: expire sessions,
 * sources and list entries (gc.c), then judge session health, probation
 * and emergency mode on what the walk found (health.c). The first run is
 * at once, so a restart in the middle of a flood judges it without delay.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/event.h>
#include "bus.h"
#include "clock.h"
#include "gc.h"
#include "health.h"
#include "log.h"
#include "figures.h"
#include "service.h"

struct sessions_svc {
	struct sw_daemon *d;
	struct sw_gc gc;
	struct event *tick;
	uint64_t interval_ns;
	/* the last walk, for the metrics */
	struct sw_fig_gc fig;
};

static void schedule(struct sessions_svc *ss, uint64_t ns)
{
	struct timeval tv = { (time_t)(ns / 1000000000ULL), (suseconds_t)(ns % 1000000000ULL / 1000) };

	evtimer_add(ss->tick, &tv);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct sessions_svc *ss = arg;
	struct sw_daemon *d = ss->d;
	struct sw_gc_result res;
	uint64_t now = sw_mono_ns();
	char err[512];
	int r = sw_gc_run(&ss->gc, &d->l.k, &d->s, now, &res);

	if (r)
		sw_warn("gc: %s", strerror(-r));
	if (res.sessions_expired || res.sessions_evicted || res.sources_expired || res.list_expired)
		sw_debug("gc: %ld sessions (%ld expired, %ld evicted), %ld sources (%ld expired), "
			 "%ld list entries expired",
			 res.sessions_seen, res.sessions_expired, res.sessions_evicted, res.sources_seen,
			 res.sources_expired, res.list_expired);
	if (res.list_expired) {
		struct sw_bus_event ev = { .kind = SW_BUS_LIST, .level = SW_LOG_DEBUG,
					   .count = (uint64_t)res.list_expired };

		snprintf(ev.action, sizeof(ev.action), "expired");
		snprintf(ev.reason, sizeof(ev.reason), "ttl");
		snprintf(ev.text, sizeof(ev.text), "%ld list entries expired", res.list_expired);
		sw_bus_publish(&ev);
		if (sw_store_expire(d->store, time(NULL), err, sizeof(err)))
			sw_warn("state.db: %s", err);
	}
	if (!r) {
		ss->fig.have = true;
		ss->fig.sessions = res.sessions_seen - res.sessions_expired;
		ss->fig.sources = res.sources_seen - res.sources_expired;
		ss->fig.runs++;
		ss->fig.seconds = (double)(sw_mono_ns() - now) / 1e9;
		sw_health_run(&d->health, &d->l, &d->s, d->store, &res, now);
	}
	sw_gc_result_free(&res);
	/* The next run counts from the end of this one: a slow walk never stacks runs. */
	schedule(ss, d->s.gc_interval_ns);
}

static int sessions_start(struct sw_daemon *d, void **state, char *err, size_t errlen)
{
	struct sessions_svc *ss = calloc(1, sizeof(*ss));

	if (!ss) {
		snprintf(err, errlen, "sessions: out of memory");
		return -1;
	}
	ss->d = d;
	if (sw_health_init(&d->health, err, errlen)) {
		sw_warn("%s: idle sessions cannot be torn down and the MTA's sessions are counted from the "
			"session table", err);
		d->health.diag = NULL;
	}
	d->health_ok = true;
	ss->tick = evtimer_new(d->base, on_tick, ss);
	if (!ss->tick) {
		snprintf(err, errlen, "sessions: cannot set up the GC timer");
		sw_health_free(&d->health);
		d->health_ok = false;
		free(ss);
		return -1;
	}
	sw_gc_init(&ss->gc);
	ss->interval_ns = d->s.gc_interval_ns;
	schedule(ss, 0);
	*state = ss;
	return 0;
}

static void sessions_reload(struct sw_daemon *d, void *state)
{
	struct sessions_svc *ss = state;

	/* A shorter interval applies now, not after the old one ran out. */
	if (d->s.gc_interval_ns != ss->interval_ns) {
		ss->interval_ns = d->s.gc_interval_ns;
		evtimer_del(ss->tick);
		schedule(ss, d->s.gc_interval_ns);
	}
}

static void sessions_stop(struct sw_daemon *d, void *state)
{
	struct sessions_svc *ss = state;

	event_free(ss->tick);
	sw_gc_free(&ss->gc);
	sw_health_free(&d->health);
	d->health_ok = false;
	free(ss);
}

static void sessions_figures(struct sw_daemon *d, void *state, struct sw_figures *f)
{
	struct sessions_svc *ss = state;

	f->gc = ss->fig;
}

const struct sw_service sw_svc_sessions = {
	.name = "sessions",
	.start = sessions_start,
	.reload = sessions_reload,
	.stop = sessions_stop,
	.figures = sessions_figures,
	.required = true,
};
