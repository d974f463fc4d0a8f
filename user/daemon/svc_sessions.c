// SPDX-License-Identifier: GPL-2.0
/*
 * The sessions service, every [general] gc_interval: expire sessions,
 * sources and list entries (gc.c), then judge session health, probation
 * and emergency mode on what the walk found (health.c). The first run is
 * at once, so a restart in the middle of a flood judges it without delay.
 *
 * The walk of the session and source tables runs on a worker thread of
 * its own (a fifth of a second at 100,000 sources on 2 vCPUs), with a copy
 * of the settings taken when it starts, and hands its findings back to the
 * loop, which expires the lists and judges; meanwhile the loop goes on
 * serving the kernel's events, the mail log and the control socket. The
 * next run is timed from the end of the judgement: runs never overlap.
 * Without a worker (it could not be started) the walk runs on the loop.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
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
	struct sw_gc gc;		/* the worker's during a walk */
	struct event *tick, *done_ev;
	uint64_t interval_ns;
	/* the last walk, for the metrics */
	struct sw_fig_gc fig;
	/* The worker; under lock: */
	pthread_t worker;
	bool have_worker;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool want, quit, walking;
	/* The walk's own, the worker's from want until done_ev runs: */
	struct sw_settings snap;	/* d->s when it started, without the allow/deny entries */
	uint64_t walk_now, walk_ns;
	int walk_rc;
	struct sw_gc_result res;
};

static void schedule(struct sessions_svc *ss, uint64_t ns)
{
	struct timeval tv = { (time_t)(ns / 1000000000ULL), (suseconds_t)(ns % 1000000000ULL / 1000) };

	evtimer_add(ss->tick, &tv);
}

static void walk(struct sessions_svc *ss)
{
	ss->walk_rc = sw_gc_walk(&ss->gc, &ss->d->l.k, &ss->snap, ss->walk_now, &ss->res);
	ss->walk_ns = sw_mono_ns() - ss->walk_now;
}

static void *worker_main(void *arg)
{
	struct sessions_svc *ss = arg;

	pthread_mutex_lock(&ss->lock);
	for (;;) {
		while (!ss->want && !ss->quit)
			pthread_cond_wait(&ss->cond, &ss->lock);
		if (ss->quit)
			break;
		ss->want = false;
		pthread_mutex_unlock(&ss->lock);
		walk(ss);
		pthread_mutex_lock(&ss->lock);
		/* Handed to the loop: event_active is safe from any thread. */
		event_active(ss->done_ev, EV_READ, 0);
	}
	pthread_mutex_unlock(&ss->lock);
	return NULL;
}

/* On the loop, with the walk's findings: the lists, the judgement, the next run. */
static void on_done(evutil_socket_t fd, short what, void *arg)
{
	struct sessions_svc *ss = arg;
	struct sw_daemon *d = ss->d;
	struct sw_gc_result *res = &ss->res;
	uint64_t now = ss->walk_now;
	char err[512];
	int r = ss->walk_rc, rl;

	pthread_mutex_lock(&ss->lock);
	ss->walking = false;
	pthread_mutex_unlock(&ss->lock);
	rl = sw_gc_expire_lists(&d->l.k, &d->s, now, res);
	if (!r)
		r = rl;
	if (r)
		sw_warn("gc: %s", strerror(-r));
	if (res->sessions_expired || res->sessions_evicted || res->sources_expired || res->list_expired)
		sw_debug("gc: %ld sessions (%ld expired, %ld evicted), %ld sources (%ld expired), "
			 "%ld list entries expired",
			 res->sessions_seen, res->sessions_expired, res->sessions_evicted, res->sources_seen,
			 res->sources_expired, res->list_expired);
	if (res->list_expired) {
		struct sw_bus_event ev = { .kind = SW_BUS_LIST, .level = SW_LOG_DEBUG,
					   .count = (uint64_t)res->list_expired };

		snprintf(ev.action, sizeof(ev.action), "expired");
		snprintf(ev.reason, sizeof(ev.reason), "ttl");
		snprintf(ev.text, sizeof(ev.text), "%ld list entries expired", res->list_expired);
		sw_bus_publish(&ev);
		if (sw_store_expire(d->store, time(NULL), err, sizeof(err)))
			sw_warn("state.db: %s", err);
	}
	if (!ss->walk_rc) {
		ss->fig.have = true;
		ss->fig.sessions = res->sessions_seen - res->sessions_expired;
		ss->fig.sources = res->sources_seen - res->sources_expired;
		ss->fig.runs++;
		ss->fig.seconds = (double)ss->walk_ns / 1e9;
		sw_health_run(&d->health, &d->l, &d->s, d->store, res, now);
	}
	sw_gc_result_free(res);
	/* The next run counts from the end of this one: a slow walk never stacks runs. */
	schedule(ss, d->s.gc_interval_ns);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct sessions_svc *ss = arg;
	struct sw_daemon *d = ss->d;

	pthread_mutex_lock(&ss->lock);
	if (ss->walking) {	/* on_done schedules the next */
		pthread_mutex_unlock(&ss->lock);
		return;
	}
	memcpy(&ss->snap, &d->s, sizeof(ss->snap));
	ss->snap.allow = ss->snap.deny = NULL;	/* d->s's, freed at a reload */
	ss->snap.n_allow = ss->snap.n_deny = 0;
	ss->walk_now = sw_mono_ns();
	ss->walking = true;
	if (ss->have_worker) {
		ss->want = true;
		pthread_cond_signal(&ss->cond);
		pthread_mutex_unlock(&ss->lock);
		return;
	}
	pthread_mutex_unlock(&ss->lock);
	walk(ss);
	on_done(-1, 0, ss);
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
	pthread_mutex_init(&ss->lock, NULL);
	pthread_cond_init(&ss->cond, NULL);
	ss->done_ev = event_new(d->base, -1, 0, on_done, ss);
	if (ss->done_ev) {
		sigset_t all, old;
		int rc;

		/* The signals stay the loop's. */
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		rc = pthread_create(&ss->worker, NULL, worker_main, ss);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (!rc) {
			pthread_setname_np(ss->worker, "sw-gc");
			ss->have_worker = true;
		}
	}
	if (!ss->have_worker)
		sw_warn("sessions: no worker thread for the walk of the session and source tables; it runs "
			"on the event loop, which waits for it");
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

	/* A walk in progress is finished; its findings are not judged any more. */
	if (ss->have_worker) {
		pthread_mutex_lock(&ss->lock);
		ss->quit = true;
		pthread_cond_signal(&ss->cond);
		pthread_mutex_unlock(&ss->lock);
		pthread_join(ss->worker, NULL);
	}
	if (ss->walking)
		sw_gc_result_free(&ss->res);
	if (ss->done_ev)
		event_free(ss->done_ev);
	pthread_cond_destroy(&ss->cond);
	pthread_mutex_destroy(&ss->lock);
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
