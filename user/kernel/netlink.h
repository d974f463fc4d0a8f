/* SPDX-License-Identifier: GPL-2.0 */
/* Link events through libnl-route: re-attach to an interface that comes back. */
#ifndef SW_NETLINK_H
#define SW_NETLINK_H

#include <stdbool.h>
#include <stddef.h>
#include "config.h"

struct sw_links;

/* Subscribe to link events for the interfaces of @s. NULL with a message on failure. */
struct sw_links *sw_links_open(const struct sw_settings *s, char *err, size_t errlen);
void sw_links_close(struct sw_links *l);
/* The settings changed (SIGHUP): judge events against these interfaces from now on. */
void sw_links_settings(struct sw_links *l, const struct sw_settings *s);
/* To poll() for readability. */
int sw_links_fd(const struct sw_links *l);
/* Read what is pending; true if a configured interface appeared or changed. */
bool sw_links_process(struct sw_links *l);

#endif
