/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The daemon's control socket, state_dir/control.sock (mode 0600): one
 * request line, then the answer.
 *
 *   events [json] [follow] [last=N]
 *
 * sends the bus's backlog (the last N events, all kept if N is absent),
 * one event per line ("TIME kind: text", or a JSON object), and with
 * "follow" keeps streaming new events until the client closes. An error
 * is one line starting "error: ", then the connection closes.
 */
#ifndef SW_CONTROL_H
#define SW_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

#define SW_CONTROL_SOCK	    "control.sock"
#define SW_CONTROL_LINE_MAX 256
/* A follower this far behind is disconnected rather than slowing the daemon. */
#define SW_CONTROL_MAX_BEHIND (1024 * 1024)
#define SW_CONTROL_MAX_CLIENTS 64

/* state_dir/control.sock into @buf; -1 if it does not fit a sockaddr_un. */
int sw_control_path(const char *state_dir, char *buf, size_t len);

struct sw_control_req {
	bool json, follow;
	long last;	/* the last N events of the backlog; 0: all kept; -1: none */
};

/*
 * One request line (without its end of line): 0, or -1 with the line to
 * send back ("error: ...\n") in @err.
 */
int sw_control_parse(const char *line, struct sw_control_req *r, char *err, size_t errlen);

#endif
