// SPDX-License-Identifier: GPL-2.0
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include "bus.h"

static const char *const kind_names[SW_BUS_N_KINDS] = {
	[SW_BUS_DAEMON] = "daemon",	    [SW_BUS_PENALTY] = "penalty",
	[SW_BUS_TEARDOWN] = "teardown",	    [SW_BUS_IDLE] = "idle",
	[SW_BUS_PROBATION] = "probation",   [SW_BUS_EMERGENCY] = "emergency",
	[SW_BUS_LIST] = "lists",	    [SW_BUS_GEO] = "geo",
	[SW_BUS_LINK] = "link",
	[SW_BUS_ACCOUNT] = "account",
	[SW_BUS_POLICY] = "policy",
	[SW_BUS_MAILLOG] = "maillog",
};

struct sub {
	sw_bus_fn fn;
	void *ctx;
};

static struct {
	struct sub subs[SW_BUS_MAX_SUBS];
	int n_subs;
	uint64_t seq;
	/* The backlog: a ring of the last SW_BUS_BACKLOG events. */
	struct sw_bus_event ring[SW_BUS_BACKLOG];
	uint64_t ring_n;	/* events ever kept; the newest is ring[(ring_n - 1) % SW_BUS_BACKLOG] */
	/* Hand-off from other threads. */
	pthread_mutex_t lock;
	bool has_owner;
	pthread_t owner;
	void (*wake)(void *ctx);
	void *wake_ctx;
	struct sw_bus_event queue[SW_BUS_BACKLOG];
	unsigned q_head, q_len;
	uint64_t dropped;
} bus = { .lock = PTHREAD_MUTEX_INITIALIZER };

const char *sw_bus_kind_name(enum sw_bus_kind kind)
{
	return (unsigned)kind < SW_BUS_N_KINDS ? kind_names[kind] : "unknown";
}

int sw_bus_subscribe(sw_bus_fn fn, void *ctx)
{
	if (bus.n_subs >= SW_BUS_MAX_SUBS)
		return -1;
	bus.subs[bus.n_subs++] = (struct sub){ fn, ctx };
	return 0;
}

void sw_bus_unsubscribe(sw_bus_fn fn, void *ctx)
{
	for (int i = 0; i < bus.n_subs; i++) {
		if (bus.subs[i].fn == fn && bus.subs[i].ctx == ctx) {
			memmove(&bus.subs[i], &bus.subs[i + 1], (bus.n_subs - i - 1) * sizeof(bus.subs[0]));
			bus.n_subs--;
			return;
		}
	}
}

/* On the owner's thread (or with no owner): number, keep, deliver. */
static void deliver(struct sw_bus_event *ev)
{
	struct sub subs[SW_BUS_MAX_SUBS];
	int n = bus.n_subs;

	ev->seq = ++bus.seq;
	bus.ring[bus.ring_n++ % SW_BUS_BACKLOG] = *ev;
	/* A subscriber may unsubscribe itself (a stream that closed) while we walk. */
	memcpy(subs, bus.subs, sizeof(subs));
	for (int i = 0; i < n; i++)
		subs[i].fn(subs[i].ctx, ev);
}

void sw_bus_publish(struct sw_bus_event *ev)
{
	struct timespec ts;
	bool queued = false;
	void (*wake)(void *) = NULL;
	void *wake_ctx = NULL;

	clock_gettime(CLOCK_REALTIME, &ts);
	ev->ts_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	if ((unsigned)ev->kind >= SW_BUS_N_KINDS)
		ev->kind = SW_BUS_DAEMON;
	ev->action[sizeof(ev->action) - 1] = 0;
	ev->source[sizeof(ev->source) - 1] = 0;
	ev->reason[sizeof(ev->reason) - 1] = 0;
	ev->text[sizeof(ev->text) - 1] = 0;

	pthread_mutex_lock(&bus.lock);
	if (bus.has_owner && !pthread_equal(bus.owner, pthread_self())) {
		if (bus.q_len == SW_BUS_BACKLOG) {
			bus.q_head = (bus.q_head + 1) % SW_BUS_BACKLOG;
			bus.q_len--;
			bus.dropped++;
		}
		bus.queue[(bus.q_head + bus.q_len++) % SW_BUS_BACKLOG] = *ev;
		wake = bus.wake;
		wake_ctx = bus.wake_ctx;
		queued = true;
	}
	pthread_mutex_unlock(&bus.lock);
	if (queued) {
		wake(wake_ctx);
		return;
	}
	deliver(ev);
}

void sw_bus_emit(enum sw_bus_kind kind, enum sw_log_level level, const char *action, const char *source,
		 const char *reason, const char *fmt, ...)
{
	struct sw_bus_event ev = { .kind = kind, .level = level };
	va_list ap;

	snprintf(ev.action, sizeof(ev.action), "%s", action ? action : "");
	snprintf(ev.source, sizeof(ev.source), "%s", source ? source : "");
	snprintf(ev.reason, sizeof(ev.reason), "%s", reason ? reason : "");
	va_start(ap, fmt);
	vsnprintf(ev.text, sizeof(ev.text), fmt, ap);
	va_end(ap);
	sw_bus_publish(&ev);
}

void sw_bus_set_waker(void (*wake)(void *ctx), void *ctx)
{
	pthread_mutex_lock(&bus.lock);
	bus.wake = wake;
	bus.wake_ctx = ctx;
	bus.has_owner = wake != NULL;
	bus.owner = pthread_self();
	pthread_mutex_unlock(&bus.lock);
	if (!wake)
		sw_bus_drain();
}

void sw_bus_drain(void)
{
	for (;;) {
		struct sw_bus_event ev;
		bool got = false;

		pthread_mutex_lock(&bus.lock);
		if (bus.q_len) {
			ev = bus.queue[bus.q_head];
			bus.q_head = (bus.q_head + 1) % SW_BUS_BACKLOG;
			bus.q_len--;
			got = true;
		}
		pthread_mutex_unlock(&bus.lock);
		if (!got)
			return;
		deliver(&ev);
	}
}

uint64_t sw_bus_dropped(void)
{
	uint64_t n;

	pthread_mutex_lock(&bus.lock);
	n = bus.dropped;
	pthread_mutex_unlock(&bus.lock);
	return n;
}

void sw_bus_backlog(long n, sw_bus_fn fn, void *ctx)
{
	uint64_t kept = bus.ring_n < SW_BUS_BACKLOG ? bus.ring_n : SW_BUS_BACKLOG;
	uint64_t first;

	if (n > 0 && (uint64_t)n < kept)
		kept = (uint64_t)n;
	first = bus.ring_n - kept;
	for (uint64_t i = first; i < bus.ring_n; i++)
		fn(ctx, &bus.ring[i % SW_BUS_BACKLOG]);
}

void sw_bus_reset(void)
{
	pthread_mutex_lock(&bus.lock);
	bus.q_head = bus.q_len = 0;
	bus.dropped = 0;
	bus.has_owner = false;
	bus.wake = NULL;
	pthread_mutex_unlock(&bus.lock);
	bus.n_subs = 0;
	bus.seq = 0;
	bus.ring_n = 0;
}

static void format_ts(uint64_t ts_ns, char *buf, size_t len)
{
	time_t t = (time_t)(ts_ns / 1000000000ULL);
	struct tm tm;
	char day[24];

	gmtime_r(&t, &tm);
	strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03uZ", day, (unsigned)(ts_ns / 1000000ULL % 1000));
}

int sw_bus_json_fields(const struct sw_bus_event *ev, char *buf, size_t len)
{
	char action[64], source[160], account[256 * 6 + 3], reason[64], text[SW_BUS_TEXT_LEN * 6 + 3], ts[32];
	int n;

	if (sw_json_quote(ev->action, action, sizeof(action)) < 0 ||
	    sw_json_quote(ev->source, source, sizeof(source)) < 0 ||
	    sw_json_quote(ev->account, account, sizeof(account)) < 0 ||
	    sw_json_quote(ev->reason, reason, sizeof(reason)) < 0 ||
	    sw_json_quote(ev->text, text, sizeof(text)) < 0)
		return -1;
	format_ts(ev->ts_ns, ts, sizeof(ts));
	n = snprintf(buf, len,
		     "\"seq\":%" PRIu64 ",\"time\":\"%s\",\"kind\":\"%s\",\"severity\":\"%s\",\"action\":%s,"
		     "\"source\":%s,\"reason\":%s,\"duration_s\":%" PRIu64 ",\"count\":%" PRIu64
		     ",\"offence\":%" PRIu64 "%s%s,\"text\":%s",
		     ev->seq, ts, sw_bus_kind_name(ev->kind), sw_log_level_name(ev->level), action, source,
		     reason, ev->duration_s, ev->count, ev->offence, ev->account[0] ? ",\"account\":" : "",
		     ev->account[0] ? account : "", text);
	return n < 0 || (size_t)n >= len ? -1 : n;
}

int sw_bus_format_json(const struct sw_bus_event *ev, char *buf, size_t len)
{
	int n;

	if (len < 4)
		return -1;
	buf[0] = '{';
	n = sw_bus_json_fields(ev, buf + 1, len - 3);
	if (n < 0)
		return -1;
	buf[n + 1] = '}';
	buf[n + 2] = '\n';
	buf[n + 3] = 0;
	return n + 3;
}

int sw_bus_format_text(const struct sw_bus_event *ev, char *buf, size_t len)
{
	char ts[32];
	int n;

	format_ts(ev->ts_ns, ts, sizeof(ts));
	n = snprintf(buf, len, "%s %s: %s\n", ts, sw_bus_kind_name(ev->kind), ev->text);
	return n < 0 || (size_t)n >= len ? -1 : n;
}

void sw_bus_log(void *ctx, const struct sw_bus_event *ev)
{
	char msg[SW_BUS_TEXT_LEN + 32], fields[SW_LOG_LINE_MAX / 2];

	(void)ctx;
	if (!sw_log_enabled(ev->level))
		return;
	snprintf(msg, sizeof(msg), "%s: %s", sw_bus_kind_name(ev->kind), ev->text);
	if (sw_log_get_format() == SW_LOG_JSON && sw_bus_json_fields(ev, fields, sizeof(fields)) >= 0)
		sw_log_line(ev->level, msg, fields);
	else
		sw_log_line(ev->level, msg, NULL);
}
