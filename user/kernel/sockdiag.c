// SPDX-License-Identifier: GPL-2.0
/*
 * The MTA's TCP sockets, through netlink sock_diag (libnl): counting the
 * sessions on the guarded ports, and tearing idle ones down with
 * SOCK_DESTROY (CONFIG_INET_DIAG_DESTROY). A destroyed socket is reset:
 * the client gets a RST, the MTA's read fails at once, and its process is
 * free for the next sender instead of waiting out smtpd_timeout.
 *
 * Sockets are found by their exact 4-tuple, which the session table
 * holds, then destroyed by the cookie of what was found: only a
 * connection, never the MTA's listening socket (which the kernel's exact
 * lookup returns for a tuple whose connection is gone). The daemon must
 * run in the MTA's network namespace.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include "sockdiag.h"

#ifndef SOCK_DESTROY
#define SOCK_DESTROY 21
#endif

/* TCP states a session of the MTA can be in while it holds a process. */
#define SW_DIAG_STATES ((1U << TCP_ESTABLISHED) | (1U << TCP_SYN_RECV) | (1U << TCP_CLOSE_WAIT) | \
			(1U << TCP_FIN_WAIT1) | (1U << TCP_FIN_WAIT2) | (1U << TCP_LAST_ACK))

struct sw_sockdiag {
	struct nl_sock *sk;
};

static int nl_to_errno(int nlerr)
{
	/* libnl folds the kernel's errno into its own codes; these are the ones that matter. */
	switch (-nlerr) {
	case NLE_OBJ_NOTFOUND:
		return -ENOENT;
	case NLE_PERM:
		return -EPERM;
	case NLE_OPNOTSUPP:
		return -EOPNOTSUPP;
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_BUSY:
		return -EBUSY;
	default:
		return -EIO;
	}
}

struct sw_sockdiag *sw_sockdiag_open(char *err, size_t errlen)
{
	struct sw_sockdiag *d = calloc(1, sizeof(*d));
	int r;

	if (!d) {
		snprintf(err, errlen, "sock_diag: out of memory");
		return NULL;
	}
	d->sk = nl_socket_alloc();
	if (!d->sk) {
		snprintf(err, errlen, "sock_diag: cannot allocate a netlink socket");
		free(d);
		return NULL;
	}
	r = nl_connect(d->sk, NETLINK_SOCK_DIAG);
	if (r) {
		snprintf(err, errlen, "sock_diag: cannot open NETLINK_SOCK_DIAG: %s", nl_geterror(r));
		nl_socket_free(d->sk);
		free(d);
		return NULL;
	}
	/* Replies to a dump come back in many parts; the destroy's ACK must be read too. */
	nl_socket_set_buffer_size(d->sk, 1 << 20, 0);
	return d;
}

void sw_sockdiag_close(struct sw_sockdiag *d)
{
	if (!d)
		return;
	nl_socket_free(d->sk);
	free(d);
}

/* The kernel's socket id of the session: the server's side is the local one. */
static void fill_id(struct inet_diag_sockid *id, const struct sw_session_key *key)
{
	memset(id, 0, sizeof(*id));
	id->idiag_sport = key->dport;	/* network order, as the kernel keeps it */
	id->idiag_dport = key->sport;
	if (key->family == SW_AF_INET) {
		id->idiag_src[0] = key->daddr[0];
		id->idiag_dst[0] = key->saddr[0];
	} else {
		memcpy(id->idiag_src, key->daddr, 16);
		memcpy(id->idiag_dst, key->saddr, 16);
	}
	id->idiag_if = 0;
	id->idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	id->idiag_cookie[1] = INET_DIAG_NOCOOKIE;
}

struct find_ctx {
	bool found;
	uint8_t state;
	uint32_t cookie[2];
};

static int find_one(struct nl_msg *msg, void *arg)
{
	struct find_ctx *f = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	const struct inet_diag_msg *m;

	if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || nlmsg_datalen(h) < (int)sizeof(*m))
		return NL_OK;
	m = nlmsg_data(h);
	f->found = true;
	f->state = m->idiag_state;
	f->cookie[0] = m->id.idiag_cookie[0];
	f->cookie[1] = m->id.idiag_cookie[1];
	return NL_STOP;
}

/*
 * The socket with exactly this 4-tuple: its state and cookie. The
 * kernel's exact lookup falls back to the listener when no connection
 * has the tuple (a session record outliving its socket), so what it
 * returns must be checked: destroying that would close the MTA's port.
 */
static int find_socket(struct sw_sockdiag *d, const struct inet_diag_req_v2 *req, struct find_ctx *f)
{
	struct nl_cb *cb;
	int r;

	memset(f, 0, sizeof(*f));
	r = nl_send_simple(d->sk, SOCK_DIAG_BY_FAMILY, 0, (void *)req, sizeof(*req));
	if (r < 0)
		return nl_to_errno(r);
	cb = nl_cb_clone(nl_socket_get_cb(d->sk));
	if (!cb)
		return -ENOMEM;
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, find_one, f);
	r = nl_recvmsgs(d->sk, cb);
	nl_cb_put(cb);
	if (r < 0)
		return nl_to_errno(r);
	if (!f->found)
		return -ENOENT;
	/* The answer came in its own message; the ACK after it is read here. */
	r = nl_wait_for_ack(d->sk);
	return r < 0 ? nl_to_errno(r) : 0;
}

int sw_sockdiag_destroy(struct sw_sockdiag *d, const struct sw_session_key *key)
{
	struct inet_diag_req_v2 req = {
		.sdiag_family = key->family == SW_AF_INET ? AF_INET : AF_INET6,
		.sdiag_protocol = IPPROTO_TCP,
		.idiag_states = SW_DIAG_STATES,
	};
	struct find_ctx f;
	struct nl_msg *msg;
	int r;

	fill_id(&req.id, key);
	r = find_socket(d, &req, &f);
	if (r)
		return r;
	if (f.state >= 32 || !(SW_DIAG_STATES & (1U << f.state)))
		return -ENOENT;	/* the listener, or a socket on its way out: not this session */
	/* The cookie pins the destroy to the socket just found, not to a later one of the same tuple. */
	req.id.idiag_cookie[0] = f.cookie[0];
	req.id.idiag_cookie[1] = f.cookie[1];
	msg = nlmsg_alloc_simple(SOCK_DESTROY, NLM_F_REQUEST | NLM_F_ACK);
	if (!msg)
		return -ENOMEM;
	if (nlmsg_append(msg, &req, sizeof(req), NLMSG_ALIGNTO) < 0) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	r = nl_send_auto(d->sk, msg);
	nlmsg_free(msg);
	if (r < 0)
		return nl_to_errno(r);
	r = nl_wait_for_ack(d->sk);
	return r < 0 ? nl_to_errno(r) : 0;
}

struct count_ctx {
	const uint64_t *ports;	/* SW_PORT_WORDS bitmap */
	long n;
};

static int count_one(struct nl_msg *msg, void *arg)
{
	struct count_ctx *c = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	const struct inet_diag_msg *m;
	uint16_t port;

	if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || nlmsg_datalen(h) < (int)sizeof(*m))
		return NL_OK;
	m = nlmsg_data(h);
	port = ntohs(m->id.idiag_sport);
	if (c->ports[port >> 6] & (1ULL << (port & 63)))
		c->n++;
	return NL_OK;
}

static int dump_family(struct sw_sockdiag *d, int family, struct count_ctx *c)
{
	struct inet_diag_req_v2 req = {
		.sdiag_family = family,
		.sdiag_protocol = IPPROTO_TCP,
		/* Not SYN_RECV: a half-open connection holds no MTA process. */
		.idiag_states = SW_DIAG_STATES & ~(1U << TCP_SYN_RECV),
	};
	struct nl_cb *cb;
	int r;

	r = nl_send_simple(d->sk, SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, &req, sizeof(req));
	if (r < 0)
		return nl_to_errno(r);
	cb = nl_cb_clone(nl_socket_get_cb(d->sk));
	if (!cb)
		return -ENOMEM;
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, count_one, c);
	r = nl_recvmsgs(d->sk, cb);
	nl_cb_put(cb);
	return r < 0 ? nl_to_errno(r) : 0;
}

long sw_sockdiag_count(struct sw_sockdiag *d, const uint64_t *port_bitmap)
{
	struct count_ctx c = { .ports = port_bitmap };
	int r;

	r = dump_family(d, AF_INET, &c);
	if (!r)
		r = dump_family(d, AF_INET6, &c);
	return r ? r : c.n;
}
