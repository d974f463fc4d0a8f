// SPDX-License-Identifier: GPL-2.0
/*
 * The events service: the kernel's ring buffer (sw_events) read as soon
 * as it has data, each penalty the XDP program gave published on the bus
 * with its source, reason, length and evidence, and handed to session
 * health (the source's sessions may be torn down).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include <event2/event.h>
#include "bus.h"
#include "health.h"
#include "log.h"
#include "parse.h"
#include "service.h"

struct events_svc {
	struct sw_daemon *d;
	struct ring_buffer *rb;
	struct event *ev;
};

/* What the kernel's evidence means, in words: "5 rate strikes", "3 idle sessions"... */
static void evidence_text(const struct sw_event *ev, char *why, size_t len)
{
	switch (ev->reason) {
	case SW_R_IDLE:
		snprintf(why, len, "%u idle sessions", ev->strikes);
		break;
	case SW_R_PREGREET:
		snprintf(why, len, "%u sessions talking before the greeting", ev->strikes);
		break;
	case SW_R_HARVEST:
		snprintf(why, len, "%u rejected recipients (directory harvest)", ev->strikes);
		break;
	case SW_R_AUTH:
		snprintf(why, len, "%u failed logins", ev->strikes);
		break;
	case SW_R_PROBATION: {
		char what[96];

		sw_probation_text(ev->strikes, 0, what, sizeof(what));
		snprintf(why, len, "failed probation in an emergency: %s", what);
		break;
	}
	default:
		snprintf(why, len, "%u %s strikes", ev->strikes, sw_reason_name(ev->reason));
	}
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct events_svc *es = ctx;
	struct sw_daemon *d = es->d;
	const struct sw_event *ev = data;
	struct sw_bus_event be = { .kind = SW_BUS_PENALTY, .level = SW_LOG_INFO };
	struct sw_cidr c;
	char dur[32], why[160];
	uint64_t len_ns;

	if (size < sizeof(*ev) || ev->type != SW_EV_PENALTY)
		return 0;
	sw_source_cidr(d->l.k.config, &ev->src, &c);
	sw_format_cidr(&c, true, be.source, sizeof(be.source));
	len_ns = ev->until_ns > ev->ts_ns ? ev->until_ns - ev->ts_ns : 0;
	sw_format_duration(len_ns, dur, sizeof(dur));
	/* ev->strikes carries the evidence: strikes, or the count the health policy judged. */
	evidence_text(ev, why, sizeof(why));
	snprintf(be.action, sizeof(be.action), "dropped");
	snprintf(be.reason, sizeof(be.reason), "%s", sw_reason_name(ev->reason));
	be.duration_s = (len_ns + 500000000ULL) / 1000000000ULL;
	be.count = ev->strikes;
	be.offence = ev->offences;
	snprintf(be.text, sizeof(be.text), "%s dropped for %s: %s (offence %u)", be.source, dur, why,
		 ev->offences);
	sw_bus_publish(&be);
	sw_health_penalised(&d->health, &d->s, &ev->src, ev->reason);
	return 0;
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct events_svc *es = arg;
	int r = ring_buffer__consume(es->rb);

	if (r < 0 && r != -EINTR)
		sw_warn("events: %s", strerror(-r));
}

static int events_start(struct sw_daemon *d, void **state, char *err, size_t errlen)
{
	struct events_svc *es = calloc(1, sizeof(*es));

	if (!es) {
		snprintf(err, errlen, "events: out of memory");
		return -1;
	}
	es->d = d;
	es->rb = ring_buffer__new(d->l.k.events_fd, on_record, es, NULL);
	if (!es->rb) {
		snprintf(err, errlen, "events: cannot open the ring buffer (%s); penalties will not be logged",
			 strerror(errno));
		free(es);
		return -1;
	}
	es->ev = event_new(d->base, ring_buffer__epoll_fd(es->rb), EV_READ | EV_PERSIST, on_readable, es);
	if (!es->ev || event_add(es->ev, NULL)) {
		snprintf(err, errlen, "events: cannot watch the ring buffer; penalties will not be logged");
		if (es->ev)
			event_free(es->ev);
		ring_buffer__free(es->rb);
		free(es);
		return -1;
	}
	*state = es;
	return 0;
}

static void events_stop(struct sw_daemon *d, void *state)
{
	struct events_svc *es = state;

	/* What the kernel said before the stop still reaches the log. */
	ring_buffer__consume(es->rb);
	event_free(es->ev);
	ring_buffer__free(es->rb);
	free(es);
}

const struct sw_service sw_svc_events = {
	.name = "events",
	.start = events_start,
	.stop = events_stop,
};
