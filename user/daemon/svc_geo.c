// SPDX-License-Identifier: GPL-2.0
/*
 * The geo service: the kernel's country tables kept in line with [geo]
 * database. At start the tables are brought in line before the loop runs
 * (the same file's tables already in the kernel are adopted at no cost).
 * Afterwards, every [general] gc_interval, and on SIGHUP (a forced reload), the work of
 * reading the database and building the tables - seconds for a full-size
 * database - runs on a worker thread, so the loop keeps serving the ring
 * buffer, GC and emergency mode meanwhile. The worker's log lines and
 * events reach the loop through the bus; the loop's worst stall while a
 * load ran is reported with it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/event.h>
#include "bus.h"
#include "clock.h"
#include "geo.h"
#include "log.h"
#include "service.h"

struct geo_svc {
	struct sw_daemon *d;
	struct sw_geo_watch watch;	/* the worker's while a job runs */
	struct event *check_ev, *done_ev;
	pthread_t worker;
	bool have_worker;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* Guarded by lock: the job asked for, the one running, the result. */
	bool job_wanted, job_force, quit;
	char job_path[SW_PATH_LEN];
	bool running;
	int result;
	uint64_t job_ns;
	/* The loop's: a job was asked for while one ran; forced if any ask was. */
	bool again, again_force;
	uint64_t job_started_ns;
	uint64_t check_ns;
};

static int arm_check(struct geo_svc *g)
{
	uint64_t ns = g->d->s.gc_interval_ns;
	struct timeval tv = { (time_t)(ns / 1000000000ULL), (suseconds_t)(ns % 1000000000ULL / 1000) };

	g->check_ns = ns;
	return event_add(g->check_ev, &tv);
}

static void *worker_main(void *arg)
{
	struct geo_svc *g = arg;

	pthread_mutex_lock(&g->lock);
	for (;;) {
		char path[SW_PATH_LEN];
		bool force;
		uint64_t t0;
		int r;

		while (!g->job_wanted && !g->quit)
			pthread_cond_wait(&g->cond, &g->lock);
		if (g->quit)
			break;
		g->job_wanted = false;
		force = g->job_force;
		snprintf(path, sizeof(path), "%s", g->job_path);
		pthread_mutex_unlock(&g->lock);

		t0 = sw_mono_ns();
		r = sw_geo_refresh(&g->watch, &g->d->l.k, path, force);

		pthread_mutex_lock(&g->lock);
		g->result = r;
		g->job_ns = sw_mono_ns() - t0;
		/* Handed to the loop: event_active is safe from any thread. */
		event_active(g->done_ev, EV_READ, 0);
	}
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

/* Ask the worker for a refresh (the loop's thread); one at a time. */
static void request(struct geo_svc *g, bool force)
{
	pthread_mutex_lock(&g->lock);
	if (g->running) {
		g->again = true;
		g->again_force |= force;
		pthread_mutex_unlock(&g->lock);
		return;
	}
	g->running = true;
	g->job_wanted = true;
	g->job_force = force;
	snprintf(g->job_path, sizeof(g->job_path), "%s", g->d->s.geo_database);
	pthread_cond_signal(&g->cond);
	pthread_mutex_unlock(&g->lock);
	g->job_started_ns = sw_mono_ns();
	sw_daemon_stall_begin(g->d);
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
	struct geo_svc *g = arg;
	uint64_t stall, took;
	int result;
	bool again, force;

	pthread_mutex_lock(&g->lock);
	g->running = false;
	result = g->result;
	took = g->job_ns;
	again = g->again;
	force = g->again_force;
	g->again = g->again_force = false;
	pthread_mutex_unlock(&g->lock);
	/* The worker's events first, so that this one follows the "loaded" line. */
	sw_bus_drain();
	stall = sw_daemon_stall_end(g->d);
	if (result > 0)
		sw_bus_emit(SW_BUS_GEO, SW_LOG_INFO, "loop", "", "stall",
			    "the event loop kept running during the %.2f s load: worst stall %.1f ms", took / 1e9,
			    stall / 1e6);
	if (again)
		request(g, force);
}

static void on_check(evutil_socket_t fd, short what, void *arg)
{
	request(arg, false);
}

static int geo_start(struct sw_daemon *d, void **state, char *err, size_t errlen)
{
	struct geo_svc *g = calloc(1, sizeof(*g));

	if (!g) {
		snprintf(err, errlen, "geo: out of memory");
		return -1;
	}
	g->d = d;
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
	/* Before the loop runs: enforcement starts with the tables in force. */
	sw_geo_refresh(&g->watch, &d->l.k, d->s.geo_database, false);
	sw_bus_drain();
	g->done_ev = event_new(d->base, -1, 0, on_done, g);
	g->check_ev = event_new(d->base, -1, EV_PERSIST, on_check, g);
	if (!g->done_ev || !g->check_ev || arm_check(g) ||
	    pthread_create(&g->worker, NULL, worker_main, g)) {
		snprintf(err, errlen, "geo: cannot start the worker (%s); a replaced database is loaded only "
			 "after a restart", strerror(errno));
		if (g->done_ev)
			event_free(g->done_ev);
		if (g->check_ev)
			event_free(g->check_ev);
		free(g);
		return -1;
	}
	g->have_worker = true;
	*state = g;
	return 0;
}

/* SIGHUP reloads the database too, changed or not. */
static void geo_reload(struct sw_daemon *d, void *state)
{
	struct geo_svc *g = state;

	if (g->check_ns != d->s.gc_interval_ns)
		arm_check(g);
	request(g, true);
}

static void geo_stop(struct sw_daemon *d, void *state)
{
	struct geo_svc *g = state;

	/* A load in progress is finished: the kernel never keeps half a table set. */
	pthread_mutex_lock(&g->lock);
	g->quit = true;
	pthread_cond_signal(&g->cond);
	pthread_mutex_unlock(&g->lock);
	if (g->have_worker)
		pthread_join(g->worker, NULL);
	sw_bus_drain();
	if (g->running)
		sw_daemon_stall_end(d);
	event_free(g->check_ev);
	event_free(g->done_ev);
	pthread_cond_destroy(&g->cond);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

const struct sw_service sw_svc_geo = {
	.name = "geo",
	.start = geo_start,
	.reload = geo_reload,
	.stop = geo_stop,
};
