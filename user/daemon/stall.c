// SPDX-License-Identifier: GPL-2.0
/*
 * The loop's lateness: while a slow job runs on another thread, a 10 ms
 * timer on the loop measures how late each tick fires; the worst lateness
 * is the longest the loop could not serve its descriptors and timers.
 */
#include <event2/event.h>
#include "clock.h"
#include "service.h"

#define STALL_TICK_NS (10 * 1000000ULL)

static void on_stall_tick(evutil_socket_t fd, short what, void *arg)
{
	struct sw_daemon *d = arg;
	uint64_t now = sw_mono_ns();

	if (now > d->stall_expect_ns && now - d->stall_expect_ns > d->stall_worst_ns)
		d->stall_worst_ns = now - d->stall_expect_ns;
	d->stall_expect_ns = now + STALL_TICK_NS;
}

void sw_daemon_stall_begin(struct sw_daemon *d)
{
	struct timeval tv = { 0, STALL_TICK_NS / 1000 };

	if (d->stall_users++)
		return;
	d->stall_worst_ns = 0;
	if (!d->stall_ev)
		d->stall_ev = event_new(d->base, -1, EV_PERSIST, on_stall_tick, d);
	if (d->stall_ev) {
		d->stall_expect_ns = sw_mono_ns() + STALL_TICK_NS;
		event_add(d->stall_ev, &tv);
	}
}

uint64_t sw_daemon_stall_end(struct sw_daemon *d)
{
	uint64_t worst = d->stall_worst_ns, now = sw_mono_ns();

	/* The tick that is late right now counts too. */
	if (now > d->stall_expect_ns && now - d->stall_expect_ns > worst)
		worst = now - d->stall_expect_ns;
	if (d->stall_users && !--d->stall_users && d->stall_ev)
		event_del(d->stall_ev);
	return worst;
}

