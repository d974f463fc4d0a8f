/* SPDX-License-Identifier: GPL-2.0 */
/* The MTA's sockets through netlink sock_diag: counting and tearing down (SOCK_DESTROY). */
#ifndef SW_SOCKDIAG_H
#define SW_SOCKDIAG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "smtpwall.h"

struct sw_sockdiag;

/* NULL with a message in @err if netlink sock_diag cannot be opened. */
struct sw_sockdiag *sw_sockdiag_open(char *err, size_t errlen);
void sw_sockdiag_close(struct sw_sockdiag *d);

/*
 * Reset the server's socket of session @key (client saddr:sport, server
 * daddr:dport). 0, -ENOENT if there is no such socket (already closed),
 * -EOPNOTSUPP without CONFIG_INET_DIAG_DESTROY, or another -errno.
 */
int sw_sockdiag_destroy(struct sw_sockdiag *d, const struct sw_session_key *key);

/* TCP connections on the guarded local ports (@port_bitmap, SW_PORT_WORDS words) now; -errno on error. */
long sw_sockdiag_count(struct sw_sockdiag *d, const uint64_t *port_bitmap);

#endif
