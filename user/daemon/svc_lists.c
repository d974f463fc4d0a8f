// SPDX-License-Identifier: GPL-2.0
/*
 * The lists service: the config's allow and deny entries and state.db's
 * (the CLI's bans and allows) loaded into the kernel at start and on
 * reload. After a damaged state.db was set aside, the CLI's entries still
 * in the kernel's pinned lists are recorded in the fresh one first, so a
 * source judged abusive stays banned.
 */
#include <stdio.h>
#include "bus.h"
#include "lists.h"
#include "log.h"
#include "service.h"

static void loaded(long n, const char *why)
{
	struct sw_bus_event ev = { .kind = SW_BUS_LIST, .level = SW_LOG_INFO, .count = (uint64_t)n };

	snprintf(ev.action, sizeof(ev.action), "loaded");
	snprintf(ev.reason, sizeof(ev.reason), "%s", why);
	snprintf(ev.text, sizeof(ev.text), "loaded %ld allow/deny entries", n);
	sw_bus_publish(&ev);
}

static int lists_start(struct sw_daemon *d, void **state, char *err, size_t errlen)
{
	long n;

	if (*d->state_aside && d->l.adopted) {
		n = sw_lists_recover(&d->l.k, d->store, d->state_aside, err, errlen);
		if (n < 0)
			sw_err("recovering the CLI's bans and allows from the kernel: %s", err);
		else
			sw_warn("recovered %ld CLI bans and allows from the kernel's pinned lists into the fresh "
				"state.db", n);
	}
	n = sw_lists_sync(&d->l.k, &d->s, d->store, err, errlen);
	if (n < 0) {
		char why[256];

		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "lists: %s", why);
		return -1;
	}
	loaded(n, "start");
	return 0;
}

static void lists_reload(struct sw_daemon *d, void *state)
{
	char err[512];
	long n = sw_lists_sync(&d->l.k, &d->s, d->store, err, sizeof(err));

	if (n < 0)
		sw_bus_emit(SW_BUS_LIST, SW_LOG_ERROR, "failed", "", "reload", "reload: %s", err);
	else
		loaded(n, "reload");
}

const struct sw_service sw_svc_lists = {
	.name = "lists",
	.start = lists_start,
	.reload = lists_reload,
	.required = true,
};
