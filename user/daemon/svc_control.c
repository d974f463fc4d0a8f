// SPDX-License-Identifier: GPL-2.0
/*
 * The control service: the socket of control.h, for `smtpwall events`.
 * Each client gets one request line (bounded, within 5 s); a follower is
 * fed from the bus as events are published and is disconnected if it
 * falls SW_CONTROL_MAX_BEHIND bytes behind: a stuck reader never holds
 * the loop or the daemon's memory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include "bus.h"
#include "control.h"
#include "log.h"
#include "service.h"

struct client {
	struct control_svc *cs;
	struct bufferevent *bev;
	bool json, follow, closing;
	struct client *next;
};

struct control_svc {
	struct sw_daemon *d;
	struct evconnlistener *listener;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct client *clients;
	int n_clients;
	bool subscribed;
};

static void client_free(struct client *c)
{
	struct control_svc *cs = c->cs;

	for (struct client **p = &cs->clients; *p; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			break;
		}
	}
	cs->n_clients--;
	bufferevent_free(c->bev);
	free(c);
}

/*
 * Once what was queued has gone out: our side is shut, and what the client
 * still sends is read and dropped until it closes (2 s at most). Closing
 * with unread input would reset the connection and lose the answer.
 */
static void on_flushed(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;
	struct timeval linger = { 2, 0 };

	if (!c->closing)
		return;
	shutdown(bufferevent_getfd(bev), SHUT_WR);
	bufferevent_disable(bev, EV_WRITE);
	bufferevent_set_timeouts(bev, &linger, NULL);
	bufferevent_enable(bev, EV_READ);
}

static void close_after_flush(struct client *c)
{
	c->closing = true;
	c->follow = false;
	if (!evbuffer_get_length(bufferevent_get_output(c->bev)))
		on_flushed(c->bev, c);
}

static void put_event(struct client *c, const struct sw_bus_event *ev)
{
	char line[SW_BUS_TEXT_LEN * 7 + 2560];
	int n = c->json ? sw_bus_format_json(ev, line, sizeof(line)) : sw_bus_format_text(ev, line, sizeof(line));

	if (n > 0)
		bufferevent_write(c->bev, line, (size_t)n);
}

static void backlog_one(void *ctx, const struct sw_bus_event *ev)
{
	put_event(ctx, ev);
}

/* The bus's subscriber: every follower gets the event, unless it fell too far behind. */
static void on_bus(void *ctx, const struct sw_bus_event *ev)
{
	struct control_svc *cs = ctx;
	struct client *c = cs->clients, *next;

	for (; c; c = next) {
		next = c->next;
		if (!c->follow || c->closing)
			continue;
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) > SW_CONTROL_MAX_BEHIND) {
			/* Not through the bus: that would call us back while we walk. */
			sw_warn("events: a follower fell %d KiB behind and was disconnected",
				SW_CONTROL_MAX_BEHIND / 1024);
			client_free(c);
			continue;
		}
		put_event(c, ev);
	}
}

static void reply_error(struct client *c, const char *line)
{
	bufferevent_write(c->bev, line, strlen(line));
	close_after_flush(c);
}

static void handle(struct client *c, const char *line)
{
	struct sw_control_req req;
	char err[SW_CONTROL_LINE_MAX + 128];

	if (sw_control_parse(line, &req, err, sizeof(err))) {
		reply_error(c, err);
		return;
	}
	c->json = req.json;
	c->follow = req.follow;
	if (req.last >= 0)
		sw_bus_backlog(req.last, backlog_one, c);
	if (!c->follow)
		close_after_flush(c);
	else
		bufferevent_set_timeouts(c->bev, NULL, NULL);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n;
	char *line;

	if (c->follow || c->closing) {
		/* One request per connection; what a follower sends is ignored. */
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
	if (!line) {
		if (evbuffer_get_length(in) > SW_CONTROL_LINE_MAX)
			reply_error(c, "error: request longer than 256 bytes\n");
		return;
	}
	if (n > SW_CONTROL_LINE_MAX || memchr(line, 0, n)) {
		free(line);
		reply_error(c, n > SW_CONTROL_LINE_MAX ? "error: request longer than 256 bytes\n" :
			    "error: a request is text, without NUL bytes\n");
		return;
	}
	handle(c, line);
	free(line);
}

static void on_client_event(struct bufferevent *bev, short what, void *arg)
{
	struct client *c = arg;

	/* EOF, an error, or no request in time: the client is gone. */
	client_free(c);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int socklen, void *arg)
{
	struct control_svc *cs = arg;
	struct timeval request_within = { 5, 0 };
	struct client *c;

	if (cs->n_clients >= SW_CONTROL_MAX_CLIENTS) {
		static const char busy[] = "error: too many control clients\n";

		if (write(fd, busy, sizeof(busy) - 1) < 0) {
			/* Nothing more to tell it. */
		}
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c || !(c->bev = bufferevent_socket_new(cs->d->base, fd, BEV_OPT_CLOSE_ON_FREE))) {
		free(c);
		close(fd);
		return;
	}
	c->cs = cs;
	c->next = cs->clients;
	cs->clients = c;
	cs->n_clients++;
	bufferevent_setcb(c->bev, on_read, on_flushed, on_client_event, c);
	bufferevent_set_timeouts(c->bev, &request_within, NULL);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static int control_start(struct sw_daemon *d, void **state, char *err, size_t errlen)
{
	struct control_svc *cs = calloc(1, sizeof(*cs));
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	mode_t old;

	if (!cs) {
		snprintf(err, errlen, "control: out of memory");
		return -1;
	}
	cs->d = d;
	if (sw_control_path(d->s.state_dir, cs->path, sizeof(cs->path))) {
		snprintf(err, errlen, "control: %s/%s is too long for a unix socket; `smtpwall events` "
			 "will not work", d->s.state_dir, SW_CONTROL_SOCK);
		free(cs);
		return -1;
	}
	memcpy(sun.sun_path, cs->path, strlen(cs->path) + 1);
	/* We hold the state directory's lock: a socket left there is a dead daemon's. */
	unlink(cs->path);
	old = umask(0177);
	cs->listener = evconnlistener_new_bind(d->base, on_accept, cs,
					       LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16,
					       (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (!cs->listener) {
		snprintf(err, errlen, "control: cannot listen on %s: %s; `smtpwall events` will not work",
			 cs->path, strerror(errno));
		free(cs);
		return -1;
	}
	chmod(cs->path, 0600);
	if (sw_bus_subscribe(on_bus, cs)) {
		snprintf(err, errlen, "control: the event bus has no room for another subscriber");
		evconnlistener_free(cs->listener);
		unlink(cs->path);
		free(cs);
		return -1;
	}
	cs->subscribed = true;
	*state = cs;
	return 0;
}

static void control_stop(struct sw_daemon *d, void *state)
{
	struct control_svc *cs = state;

	sw_bus_unsubscribe(on_bus, cs);
	/* Followers get what was queued for them, as far as the socket takes it at once. */
	while (cs->clients) {
		struct client *c = cs->clients;
		struct evbuffer *out = bufferevent_get_output(c->bev);
		struct evbuffer_iovec vec[64];
		int n = evbuffer_peek(out, -1, NULL, vec, 64);

		/* The bufferevent owns the buffer's front: written from a peek, not drained. */
		if (n > 0 && !c->closing && writev(bufferevent_getfd(c->bev), (struct iovec *)vec,
						   n < 64 ? n : 64) < 0) {
			/* It is going away either way. */
		}
		client_free(c);
	}
	evconnlistener_free(cs->listener);
	unlink(cs->path);
	free(cs);
}

const struct sw_service sw_svc_control = {
	.name = "control",
	.start = control_start,
	.stop = control_stop,
};
