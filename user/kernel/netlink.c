// SPDX-License-Identifier: GPL-2.0
/*
 * Link events (libnl-route): an interface that is deleted and created
 * again (a veth recreated, a bond rebuilt, a driver reloaded) gets a new
 * ifindex, and the XDP and egress links of the old one are defunct. The
 * daemon listens on RTNLGRP_LINK and, when a configured interface appears
 * or changes, attaches to it again.
 */
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/object.h>
#include <netlink/socket.h>
#include <netlink/route/link.h>
#include <linux/rtnetlink.h>
#include "log.h"
#include "netlink.h"

struct sw_links {
	struct nl_sock *sk;
	const struct sw_settings *s;
	bool seen;		/* the message being parsed is about a configured interface */
	bool changed;		/* a configured interface appeared or changed */
};

static bool configured(const struct sw_settings *s, const char *name)
{
	for (int i = 0; i < s->n_interfaces; i++)
		if (!strcmp(s->interfaces[i], name))
			return true;
	return false;
}

static void on_link(struct nl_object *obj, void *arg)
{
	struct sw_links *l = arg;
	struct rtnl_link *link = (struct rtnl_link *)obj;
	const char *name = rtnl_link_get_name(link);

	if (!name || !configured(l->s, name))
		return;
	sw_debug("link event: %s (ifindex %d, %s)", name, rtnl_link_get_ifindex(link),
		 (rtnl_link_get_flags(link) & IFF_UP) ? "up" : "down");
	l->seen = true;
}

static int on_msg(struct nl_msg *msg, void *arg)
{
	struct sw_links *l = arg;
	int type = nlmsg_hdr(msg)->nlmsg_type;

	if (type != RTM_NEWLINK && type != RTM_DELLINK)
		return NL_OK;
	l->seen = false;
	nl_msg_parse(msg, on_link, l);
	if (!l->seen)
		return NL_OK;
	if (type == RTM_DELLINK)
		/* Nothing to attach to; said here so that the gap is explained. */
		sw_warn("a configured interface is gone; it is attached again when it returns");
	else
		l->changed = true;
	return NL_OK;
}

struct sw_links *sw_links_open(const struct sw_settings *s, char *err, size_t errlen)
{
	struct sw_links *l = calloc(1, sizeof(*l));
	int r;

	if (!l) {
		snprintf(err, errlen, "link events: out of memory");
		return NULL;
	}
	l->s = s;
	l->sk = nl_socket_alloc();
	if (!l->sk) {
		snprintf(err, errlen, "link events: cannot allocate a netlink socket");
		free(l);
		return NULL;
	}
	nl_socket_disable_seq_check(l->sk);
	nl_socket_modify_cb(l->sk, NL_CB_VALID, NL_CB_CUSTOM, on_msg, l);
	r = nl_connect(l->sk, NETLINK_ROUTE);
	if (!r)
		r = nl_socket_add_membership(l->sk, RTNLGRP_LINK);
	if (!r)
		r = nl_socket_set_nonblocking(l->sk);
	if (r) {
		snprintf(err, errlen, "link events: %s", nl_geterror(r));
		nl_socket_free(l->sk);
		free(l);
		return NULL;
	}
	return l;
}

void sw_links_close(struct sw_links *l)
{
	if (!l)
		return;
	nl_socket_free(l->sk);
	free(l);
}

void sw_links_settings(struct sw_links *l, const struct sw_settings *s)
{
	l->s = s;
}

int sw_links_fd(const struct sw_links *l)
{
	return nl_socket_get_fd(l->sk);
}

bool sw_links_process(struct sw_links *l)
{
	int r;

	l->changed = false;
	do {
		r = nl_recvmsgs_default(l->sk);
	} while (r >= 0 && !l->changed);
	/* -NLE_AGAIN: drained. Overruns lose events: check every interface anyway. */
	if (r < 0 && r != -NLE_AGAIN) {
		if (r == -NLE_NOMEM || r == -NLE_MSG_OVERFLOW)
			l->changed = true;
		else
			sw_debug("link events: %s", nl_geterror(r));
	}
	return l->changed;
}
