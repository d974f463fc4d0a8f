/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The daemon's event bus: every decision it makes or sees (a penalty, a
 * teardown, an emergency transition, a list change, a geo reload, a start,
 * a reload, a stop) is one typed event, published once and handed to every
 * subscriber: the log, the control socket's `smtpwall events` streams, and
 * next the metrics, the account ledger and cluster sync.
 *
 * Events are delivered on the event loop's thread only. Once the loop has
 * registered its waker (sw_bus_set_waker), an event published on another
 * thread (a geo build in a worker) is queued and the loop is woken to
 * deliver it (sw_bus_drain); before that, or without a loop (the CLI,
 * tests), publishing delivers at once. The bus keeps the last
 * SW_BUS_BACKLOG events, so a stream opened late still sees what led up
 * to it.
 */
#ifndef SW_BUS_H
#define SW_BUS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "log.h"

enum sw_bus_kind {
	SW_BUS_DAEMON = 0,	/* started, reloaded, stopping, a service failed */
	SW_BUS_PENALTY,		/* the kernel (or the daemon) put a source in the penalty box */
	SW_BUS_TEARDOWN,	/* a session was torn down (or could not be) */
	SW_BUS_IDLE,		/* the idle policy penalised a source */
	SW_BUS_PROBATION,	/* a source failed probation in an emergency */
	SW_BUS_EMERGENCY,	/* emergency mode entered or left */
	SW_BUS_LIST,		/* list entries loaded, removed or expired */
	SW_BUS_GEO,		/* the geo database loaded, failed or removed */
	SW_BUS_LINK,		/* an interface came, went, was attached again */
	SW_BUS_ACCOUNT,		/* an account suspended, resumed, flagged, refused, changed */
	SW_BUS_POLICY,		/* the policy service: listening, failures, malformed requests */
	SW_BUS_MAILLOG,		/* the mail-log follower: its file, and what its hints did to sources */
	SW_BUS_N_KINDS
};

#define SW_BUS_TEXT_LEN	  384
#define SW_BUS_BACKLOG	  1024
#define SW_BUS_MAX_SUBS	  8

struct sw_bus_event {
	uint64_t seq;			/* 1, 2, ... since the daemon started */
	uint64_t ts_ns;			/* CLOCK_REALTIME */
	enum sw_bus_kind kind;
	enum sw_log_level level;	/* how the log shows it */
	char action[24];		/* "dropped", "entered", "left", "loaded", "failed", ... */
	char source[64];		/* the source or session it is about, "" if none */
	char account[256];		/* the account it is about, "" if none */
	char reason[24];		/* machine-readable cause ("idle", "rate", "sessions"...), "" if none */
	uint64_t duration_s;		/* penalty length, 0 if none */
	uint64_t count;			/* the evidence: strikes, idle sessions, entries... */
	uint64_t offence;		/* the source's offence count, 0 if none */
	char text[SW_BUS_TEXT_LEN];	/* the sentence an operator reads (the log line after "kind: ") */
};

typedef void (*sw_bus_fn)(void *ctx, const struct sw_bus_event *ev);

const char *sw_bus_kind_name(enum sw_bus_kind kind);

/* Up to SW_BUS_MAX_SUBS subscribers; 0 or -1 when full. */
int sw_bus_subscribe(sw_bus_fn fn, void *ctx);
void sw_bus_unsubscribe(sw_bus_fn fn, void *ctx);

/* Stamp (seq, ts_ns), keep in the backlog, deliver to every subscriber. */
void sw_bus_publish(struct sw_bus_event *ev);

/* printf-style shorthand: kind, level, action, source, reason, text. */
void sw_bus_emit(enum sw_bus_kind kind, enum sw_log_level level, const char *action, const char *source,
		 const char *reason, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* The backlog, oldest first: calls @fn for the last @n events (n <= 0: all kept). */
void sw_bus_backlog(long n, sw_bus_fn fn, void *ctx);

/*
 * The loop's thread becomes the bus's owner: events published elsewhere
 * are queued (up to SW_BUS_BACKLOG; beyond that the oldest queued are
 * dropped and counted) and @wake(@ctx) is called, which must be safe from
 * any thread; the loop then calls sw_bus_drain(). NULL @wake: no owner.
 */
void sw_bus_set_waker(void (*wake)(void *ctx), void *ctx);
void sw_bus_drain(void);
/* Events lost from the cross-thread queue (it was full). */
uint64_t sw_bus_dropped(void);

/* The log's subscriber: "kind: text" at the event's level (JSON: with the typed fields). */
void sw_bus_log(void *ctx, const struct sw_bus_event *ev);

/* Forget every event and subscriber (the daemon's end; tests). */
void sw_bus_reset(void);

/*
 * One event as a JSON object on one line, or as "TIME kind: text", both
 * ending in '\n'; the length, or -1 if @len is too small.
 * sw_bus_json_fields gives the object's members without the braces.
 */
int sw_bus_json_fields(const struct sw_bus_event *ev, char *buf, size_t len);
int sw_bus_format_json(const struct sw_bus_event *ev, char *buf, size_t len);
int sw_bus_format_text(const struct sw_bus_event *ev, char *buf, size_t len);

#endif
