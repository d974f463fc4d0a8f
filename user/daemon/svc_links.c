// SPDX-License-Identifier: GPL-2.0
/*
 * The links service: the program attached to every configured interface
 * (XDP, and the egress side that sees the server's replies), detached
 * from interfaces no longer configured, and attached again when an
 * interface is recreated (a netlink link event, then 100 ms to settle).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>
#include "bus.h"
#include "loader.h"
#include "log.h"
#include "netlink.h"
#include "service.h"

struct links_svc {
	struct sw_daemon *d;
	struct sw_links *links;
	struct event *read_ev, *settle_ev;
};

int sw_daemon_attach_all(struct sw_daemon *d, char *err, size_t errlen)
{
	struct sw_loader *l = &d->l;
	const struct sw_settings *s = &d->s;
	struct sw_attachment att[SW_MAX_IFACES * 2];
	int n, failures = 0, egress = 0;

	for (int i = 0; i < s->n_interfaces; i++) {
		char mode[16], how[8];

		if (sw_loader_attach(l, s->interfaces[i], s->xdp_mode, mode, sizeof(mode), err, errlen)) {
			sw_bus_emit(SW_BUS_LINK, SW_LOG_ERROR, "failed", s->interfaces[i], "attach", "%s", err);
			failures++;
			continue;
		}
		/* Without the egress side, limits still work; session health does not. */
		if (sw_loader_attach_egress(l, s->interfaces[i], how, sizeof(how), err, errlen)) {
			sw_err("%s: the server's side of sessions is not seen (no greeting, replies, "
			       "idle judgement)", err);
			snprintf(how, sizeof(how), "none");
		} else {
			egress++;
		}
		sw_bus_emit(SW_BUS_LINK, SW_LOG_INFO, "attached", s->interfaces[i], mode,
			    "attached to %s (%s XDP, %s egress)", s->interfaces[i], mode, how);
	}
	/* Interfaces no longer in the config. */
	n = sw_attachments(s->bpffs_dir, att, SW_MAX_IFACES * 2);
	for (int i = 0; i < n; i++) {
		bool wanted = false;

		for (int j = 0; j < s->n_interfaces; j++)
			wanted |= !strcmp(att[i].ifname, s->interfaces[j]);
		if (!wanted && !sw_detach_iface(s->bpffs_dir, att[i].ifname, err, errlen))
			sw_bus_emit(SW_BUS_LINK, SW_LOG_INFO, "detached", att[i].ifname, "unconfigured",
				    "detached from %s (no longer configured)", att[i].ifname);
	}
	/* Pregreet is judged only where the server's greeting can be seen on every interface. */
	sw_kernel_config_flag(&l->k, SW_CFG_EGRESS, egress == s->n_interfaces);
	if (failures == s->n_interfaces && failures) {
		snprintf(err, errlen, "could not attach to any interface");
		return -1;
	}
	return 0;
}


static void on_settled(evutil_socket_t fd, short what, void *arg)
{
	struct links_svc *ls = arg;
	char err[512];

	sw_bus_emit(SW_BUS_LINK, SW_LOG_INFO, "changed", "", "netlink",
		    "link change on a configured interface: attaching again");
	if (sw_daemon_attach_all(ls->d, err, sizeof(err)))
		sw_bus_emit(SW_BUS_LINK, SW_LOG_ERROR, "failed", "", "attach", "%s", err);
}

static void on_link_event(evutil_socket_t fd, short what, void *arg)
{
	struct links_svc *ls = arg;
	struct timeval settle = { 0, 100 * 1000 };

	/* Let the link settle; events meanwhile join the same attempt. */
	if (sw_links_process(ls->links) && !evtimer_pending(ls->settle_ev, NULL))
		evtimer_add(ls->settle_ev, &settle);
}

static int links_start(struct sw_daemon *d, void **state, char *err, size_t errlen)
{
	struct links_svc *ls = calloc(1, sizeof(*ls));

	if (!ls) {
		snprintf(err, errlen, "links: out of memory");
		return -1;
	}
	ls->d = d;
	if (sw_daemon_attach_all(d, err, errlen)) {
		free(ls);
		return -1;
	}
	ls->settle_ev = evtimer_new(d->base, on_settled, ls);
	ls->links = sw_links_open(&d->s, err, errlen);
	if (!ls->links)
		sw_warn("%s: an interface that is recreated is attached again only on SIGHUP", err);
	else if (!(ls->read_ev = event_new(d->base, sw_links_fd(ls->links), EV_READ | EV_PERSIST,
					   on_link_event, ls)) ||
		 event_add(ls->read_ev, NULL))
		sw_warn("link events: cannot watch the netlink socket; an interface that is recreated is "
			"attached again only on SIGHUP");
	*state = ls;
	return 0;
}

static void links_reload(struct sw_daemon *d, void *state)
{
	struct links_svc *ls = state;
	char err[512];

	if (sw_daemon_attach_all(d, err, sizeof(err)))
		sw_bus_emit(SW_BUS_LINK, SW_LOG_ERROR, "failed", "", "attach", "reload: %s", err);
	if (ls->links)
		sw_links_settings(ls->links, &d->s);
}

static void links_stop(struct sw_daemon *d, void *state)
{
	struct links_svc *ls = state;

	if (ls->read_ev)
		event_free(ls->read_ev);
	if (ls->settle_ev)
		event_free(ls->settle_ev);
	sw_links_close(ls->links);
	free(ls);
}

const struct sw_service sw_svc_links = {
	.name = "links",
	.start = links_start,
	.reload = links_reload,
	.stop = links_stop,
	.required = true,
};
