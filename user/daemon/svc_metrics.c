// SPDX-License-Identifier: GPL-2.0
/*
 * The metrics service: Prometheus's /metrics (text 0.0.4, or OpenMetrics
 * when the scraper asks), the whole source table as JSON (/sources), on
 * [metrics] listen (loopback by default), served by libevent's evhttp on
 * the daemon's loop.
 *
 * A scrape reads every source, which at 100,000 of them is tens of
 * milliseconds: that part runs on the service's own thread, never on the
 * loop. The loop copies the services' figures (quick), hands the job over,
 * and answers when the thread hands the result back. Scrapes that arrive
 * while a collection runs wait for the next one, which serves them all;
 * beyond MAX_WAITING waiting requests the answer is 503.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <event2/keyvalq_struct.h>
#include "bus.h"
#include "clock.h"
#include "figures.h"
#include "log.h"
#include "metrics.h"
#include "service.h"

#define MAX_WAITING  64
#define HTTP_TIMEOUT 30	/* seconds: a client that sends nothing is closed */

enum want { W_TEXT = 1, W_OPENMETRICS = 2, W_SOURCES = 4 };

struct mreq {
	struct metrics_svc *m;
	struct evhttp_request *req;	/* NULL: the client went away */
	struct evhttp_connection *conn;
	unsigned want;
	bool head;
	struct mreq *next;
};

struct job {
	struct sw_scrape sc;
	unsigned want;
	struct sw_expo text, om;
	int rc_text, rc_om;
};

struct metrics_svc {
	struct sw_daemon *d;
	struct evhttp *http;
	char cur_listen[64];
	int64_t started_unix;

	pthread_t worker;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool have_worker, quit;
	struct job *todo, *done;	/* under lock */
	struct event *done_ev;
	struct sw_src_memory *mem;	/* the worker's own */

	bool running;			/* a job is with the worker (loop only) */
	struct mreq *serving, *waiting;	/* the running job's requests; the next job's */
	unsigned n_waiting;
	uint64_t scrapes, refused, slowest_us, failed;
	uint64_t last_stall_ns, worst_stall_ns;	/* the loop's lateness while a collection ran */
	double last_collect_s;
	int64_t error_noted;
};

/* ---- the worker ------------------------------------------------------------------ */

static void job_free(struct job *j)
{
	if (!j)
		return;
	sw_scrape_free(&j->sc);
	sw_expo_free(&j->text);
	sw_expo_free(&j->om);
	free(j);
}

static void *worker_main(void *arg)
{
	struct metrics_svc *m = arg;

	pthread_mutex_lock(&m->lock);
	for (;;) {
		struct job *j;

		while (!m->todo && !m->quit)
			pthread_cond_wait(&m->cond, &m->lock);
		if (m->quit)
			break;
		j = m->todo;
		m->todo = NULL;
		pthread_mutex_unlock(&m->lock);

		sw_scrape_collect(&m->d->l.k, m->mem, &j->sc);
		if (j->want & W_TEXT) {
			sw_expo_init(&j->text, false);
			j->rc_text = sw_scrape_render(&j->sc, &j->text);
		}
		if (j->want & W_OPENMETRICS) {
			sw_expo_init(&j->om, true);
			j->rc_om = sw_scrape_render(&j->sc, &j->om);
		}

		pthread_mutex_lock(&m->lock);
		m->done = j;
		/* Handed to the loop: event_active is safe from any thread. */
		event_active(m->done_ev, EV_READ, 0);
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

/* ---- requests ---------------------------------------------------------------------- */

static void on_conn_close(struct evhttp_connection *conn, void *arg)
{
	struct mreq *r = arg;

	r->req = NULL;	/* evhttp frees it: answer nobody */
}

static void mreq_free(struct mreq *r)
{
	if (r->req && r->conn)
		evhttp_connection_set_closecb(r->conn, NULL, NULL);
	free(r);
}

static void reply_text(struct evhttp_request *req, int code, const char *reason, const char *body)
{
	struct evbuffer *b = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain; charset=utf-8");
	if (b)
		evbuffer_add(b, body, strlen(body));
	evhttp_send_reply(req, code, reason, b);
	if (b)
		evbuffer_free(b);
}

static void answer(struct metrics_svc *m, struct mreq *r, const struct job *j)
{
	struct evhttp_request *req = r->req;
	struct evkeyvalq *h;
	struct evbuffer *b;
	const char *body = NULL, *type = NULL;
	size_t len = 0;

	if (!req)
		return;
	h = evhttp_request_get_output_headers(req);
	if (r->want & W_SOURCES) {
		if (!j->sc.sources_json) {
			reply_text(req, 503, "Service Unavailable",
				   j->sc.err[0] ? j->sc.err : "the source table could not be read\n");
			return;
		}
		body = j->sc.sources_json;
		len = j->sc.sources_json_len;
		type = "application/json";
	} else {
		const struct sw_expo *e = (r->want & W_OPENMETRICS) ? &j->om : &j->text;
		int rc = (r->want & W_OPENMETRICS) ? j->rc_om : j->rc_text;

		if (rc || !e->buf) {
			reply_text(req, 500, "Internal Server Error", "out of memory while writing the metrics\n");
			return;
		}
		body = e->buf;
		len = e->len;
		type = sw_expo_content_type(r->want & W_OPENMETRICS);
	}
	evhttp_add_header(h, "Content-Type", type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	b = evbuffer_new();
	if (!b) {
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	if (!r->head)
		evbuffer_add(b, body, len);
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

static void start_job(struct metrics_svc *m)
{
	struct sw_daemon *d = m->d;
	const struct sw_settings *s = &d->s;
	struct job *j;
	unsigned want = 0;

	if (m->running || !m->waiting)
		return;
	j = calloc(1, sizeof(*j));
	if (!j) {
		while (m->waiting) {
			struct mreq *r = m->waiting;

			m->waiting = r->next;
			if (r->req)
				evhttp_send_error(r->req, 503, "out of memory");
			mreq_free(r);
		}
		m->n_waiting = 0;
		return;
	}
	for (struct mreq *r = m->waiting; r; r = r->next)
		want |= r->want;
	j->want = want;
	j->sc.want_sources_json = want & W_SOURCES;
	j->sc.top_sources = s->metrics_top_sources;
	j->sc.top_countries = s->metrics_top_countries;
	for (unsigned id = 0; id < SW_COUNTRY_IDS; id++)
		j->sc.configured_country[id] = s->geo_home[id] || s->country[id].has_action;
	j->sc.capacity[SW_MM_SOURCES] = s->max_sources;
	j->sc.capacity[SW_MM_SESSIONS] = s->max_session_entries;
	for (int i = SW_MM_ALLOW4; i <= SW_MM_DENY6; i++)
		j->sc.capacity[i] = SW_LIST_MAX_ENTRIES;
	j->sc.started_unix = m->started_unix;
	j->sc.previous_collect_s = m->last_collect_s;
	j->sc.previous_stall_s = (double)m->last_stall_ns / 1e9;
	d->figures(d, &j->sc.fig);

	m->serving = m->waiting;
	m->waiting = NULL;
	m->n_waiting = 0;
	m->running = true;
	sw_daemon_stall_begin(d);	/* the proof that the loop keeps turning meanwhile */
	pthread_mutex_lock(&m->lock);
	m->todo = j;
	pthread_cond_signal(&m->cond);
	pthread_mutex_unlock(&m->lock);
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
	struct metrics_svc *m = arg;
	struct job *j;
	uint64_t us;

	pthread_mutex_lock(&m->lock);
	j = m->done;
	m->done = NULL;
	pthread_mutex_unlock(&m->lock);
	if (!j)
		return;
	m->running = false;
	m->last_stall_ns = sw_daemon_stall_end(m->d);
	if (m->last_stall_ns > m->worst_stall_ns)
		m->worst_stall_ns = m->last_stall_ns;
	m->scrapes++;
	m->last_collect_s = j->sc.collect_s;
	us = (uint64_t)(j->sc.collect_s * 1e6);
	if (us > m->slowest_us)
		m->slowest_us = us;
	if (j->sc.err[0]) {
		int64_t now = (int64_t)time(NULL);

		m->failed++;
		if (now - m->error_noted >= 60) {
			m->error_noted = now;
			sw_bus_emit(SW_BUS_DAEMON, SW_LOG_WARN, "metrics", "", "kernel",
				    "metrics: %s; its families are left out of the scrape (%" PRIu64 " such scrapes)",
				    j->sc.err, m->failed);
		}
	}
	while (m->serving) {
		struct mreq *r = m->serving;

		m->serving = r->next;
		answer(m, r, j);
		mreq_free(r);
	}
	job_free(j);
	start_job(m);	/* the scrapes that came meanwhile */
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct metrics_svc *m = arg;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const char *uri = evhttp_request_get_uri(req);
	struct evhttp_uri *u = evhttp_uri_parse(uri ? uri : "/");
	const char *path = u ? evhttp_uri_get_path(u) : NULL;
	unsigned want = 0;
	struct mreq *r;

	if (!path || !*path)
		path = "/";
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
		reply_text(req, 405, "Method Not Allowed", "GET or HEAD only\n");
		goto out;
	}
	if (!strcmp(path, "/metrics")) {
		const char *accept = evhttp_find_header(evhttp_request_get_input_headers(req), "Accept");

		want = sw_expo_wants_openmetrics(accept) ? W_OPENMETRICS : W_TEXT;
	} else if (!strcmp(path, "/sources")) {
		want = W_SOURCES;
	} else if (!strcmp(path, "/")) {
		reply_text(req, 200, "OK",
			   "smtpwall\n"
			   "/metrics  Prometheus text format (OpenMetrics when asked for in Accept)\n"
			   "/sources  every source in the kernel table, JSON\n");
		goto out;
	} else {
		reply_text(req, 404, "Not Found", "not found: /metrics or /sources\n");
		goto out;
	}
	if (m->n_waiting >= MAX_WAITING || !(r = calloc(1, sizeof(*r)))) {
		m->refused++;
		reply_text(req, 503, "Service Unavailable", "too many scrapes waiting\n");
		goto out;
	}
	r->m = m;
	r->req = req;
	r->conn = evhttp_request_get_connection(req);
	r->want = want;
	r->head = cmd == EVHTTP_REQ_HEAD;
	if (r->conn)
		evhttp_connection_set_closecb(r->conn, on_conn_close, r);
	r->next = m->waiting;
	m->waiting = r;
	m->n_waiting++;
	start_job(m);
out:
	if (u)
		evhttp_uri_free(u);
}

/* ---- the listener ------------------------------------------------------------------- */

static int open_http(struct metrics_svc *m, const char *listen, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	int sl = sizeof(ss);
	struct evconnlistener *l;
	struct evhttp *http;

	if (evutil_parse_sockaddr_port(listen, (struct sockaddr *)&ss, &sl)) {
		snprintf(err, errlen, "metrics: bad listen address %s", listen);
		return -1;
	}
	http = evhttp_new(m->d->base);
	if (!http) {
		snprintf(err, errlen, "metrics: cannot set up HTTP");
		return -1;
	}
	evhttp_set_timeout(http, HTTP_TIMEOUT);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
					 EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS);
	evhttp_set_max_headers_size(http, 16384);
	evhttp_set_max_body_size(http, 4096);
	evhttp_set_gencb(http, on_request, m);
	/* As the policy service listens: evhttp frees the listener with itself. */
	l = evconnlistener_new_bind(m->d->base, NULL, NULL,
				    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE, 128,
				    (struct sockaddr *)&ss, sl);
	if (!l || !evhttp_bind_listener(http, l)) {
		snprintf(err, errlen, "metrics: cannot listen on %s: %s; no /metrics until [metrics] listen is fixed "
			 "(SIGHUP)", listen, strerror(errno));
		if (l)
			evconnlistener_free(l);
		evhttp_free(http);
		return -1;
	}
	m->http = http;
	snprintf(m->cur_listen, sizeof(m->cur_listen), "%s", listen);
	return 0;
}

static void drop_requests(struct mreq **list)
{
	while (*list) {
		struct mreq *r = *list;

		*list = r->next;
		mreq_free(r);
	}
}

static void close_http(struct metrics_svc *m)
{
	/* evhttp_free frees the pending requests and their connections: forget ours first. */
	drop_requests(&m->waiting);
	m->n_waiting = 0;
	for (struct mreq *r = m->serving; r; r = r->next) {
		if (r->req && r->conn)
			evhttp_connection_set_closecb(r->conn, NULL, NULL);
		r->req = NULL;
	}
	if (m->http)
		evhttp_free(m->http);
	m->http = NULL;
	m->cur_listen[0] = 0;
}

/* ---- the service ---------------------------------------------------------------------- */

static int metrics_start(struct sw_daemon *d, void **state, char *err, size_t errlen)
{
	struct metrics_svc *m = calloc(1, sizeof(*m));

	if (!m) {
		snprintf(err, errlen, "metrics: out of memory");
		return -1;
	}
	m->d = d;
	m->started_unix = (int64_t)time(NULL) - (int64_t)((sw_mono_ns() - d->started_ns) / 1000000000ULL);
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->cond, NULL);
	m->mem = sw_src_memory_new();
	m->done_ev = event_new(d->base, -1, 0, on_done, m);
	if (!m->mem || !m->done_ev || pthread_create(&m->worker, NULL, worker_main, m)) {
		snprintf(err, errlen, "metrics: cannot start the collector (%s); no /metrics", strerror(errno));
		goto fail;
	}
	m->have_worker = true;
	if (d->s.metrics_listen[0]) {
		if (open_http(m, d->s.metrics_listen, err, errlen))
			sw_warn("%s", err);	/* the service runs on: a reload may fix the address */
		else
			sw_info("metrics: serving /metrics and /sources on http://%s", m->cur_listen);
	}
	*state = m;
	return 0;
fail:
	if (m->done_ev)
		event_free(m->done_ev);
	sw_src_memory_free(m->mem);
	pthread_cond_destroy(&m->cond);
	pthread_mutex_destroy(&m->lock);
	free(m);
	return -1;
}

static void metrics_reload(struct sw_daemon *d, void *state)
{
	struct metrics_svc *m = state;
	char err[512];

	if (!strcmp(d->s.metrics_listen, m->cur_listen) && (m->http || !d->s.metrics_listen[0]))
		return;
	close_http(m);
	if (!d->s.metrics_listen[0]) {
		sw_info("metrics: endpoint off ([metrics] listen = off)");
		return;
	}
	if (open_http(m, d->s.metrics_listen, err, sizeof(err)))
		sw_warn("%s", err);
	else
		sw_info("metrics: serving /metrics and /sources on http://%s", m->cur_listen);
}

static void metrics_stop(struct sw_daemon *d, void *state)
{
	struct metrics_svc *m = state;

	close_http(m);
	pthread_mutex_lock(&m->lock);
	m->quit = true;
	pthread_cond_signal(&m->cond);
	pthread_mutex_unlock(&m->lock);
	if (m->have_worker)
		pthread_join(m->worker, NULL);
	job_free(m->todo);
	job_free(m->done);
	if (m->running)
		sw_daemon_stall_end(d);
	drop_requests(&m->serving);
	if (m->scrapes)
		sw_info("metrics: %" PRIu64 " scrapes served, the slowest collected in %.1f ms, the event loop's "
			"worst stall meanwhile %.1f ms; %" PRIu64 " refused (too many waiting)",
			m->scrapes, m->slowest_us / 1000.0, m->worst_stall_ns / 1e6, m->refused);
	event_free(m->done_ev);
	sw_src_memory_free(m->mem);
	pthread_cond_destroy(&m->cond);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

const struct sw_service sw_svc_metrics = {
	.name = "metrics",
	.start = metrics_start,
	.reload = metrics_reload,
	.stop = metrics_stop,
};
