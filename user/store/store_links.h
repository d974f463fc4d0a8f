/* SPDX-License-Identifier: GPL-2.0 */
/*
 * state.db's source_links table: which accounts logged in, or failed to,
 * from which source. Written by the mail-log follower once a second (the
 * changed links), read back at its start, and read by the CLI for
 * `show ADDR` (the accounts of a source) and `account show NAME` (the
 * sources of an account, with their kernel state).
 *
 * A source is its kernel key as text: an IPv4 address under [limits]
 * ipv4_prefix ("203.0.113.5", or "203.0.113.0/24"), an IPv6 prefix
 * ("2001:db8:1:2::/64"). The account is "" for failed logins whose
 * username Postfix did not log.
 */
#ifndef SW_STORE_LINKS_H
#define SW_STORE_LINKS_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct sw_link_row {
	char addr[64];
	char name[256];
	int64_t first_seen, last_seen;		/* unix s */
	uint64_t logins, failures;
	int64_t last_login, last_failure;	/* unix s, 0 never */
};

struct sw_link_store;

struct sw_link_store *sw_link_store_open(struct sw_store *st, char *err, size_t errlen);
void sw_link_store_close(struct sw_link_store *ls);

/* A batch of puts in one transaction: begin, put..., commit (rollback on error). */
int sw_link_begin(struct sw_link_store *ls, char *err, size_t errlen);
int sw_link_put(struct sw_link_store *ls, const struct sw_link_row *r, char *err, size_t errlen);
int sw_link_commit(struct sw_link_store *ls, char *err, size_t errlen);
void sw_link_rollback(struct sw_link_store *ls);

/* The links of a source (@by_addr) or of an account, most recent first, at most @max; *out malloc'd. */
int sw_link_list(struct sw_link_store *ls, const char *key, int by_addr, int max, struct sw_link_row **out,
		 int *n, char *err, size_t errlen);
/* Every link seen since @since (unix s), through @fn; the count or -1 with @err. */
long sw_link_each(struct sw_link_store *ls, int64_t since, void (*fn)(void *ctx, const struct sw_link_row *r),
		  void *ctx, char *err, size_t errlen);
/* Delete links not seen since @before; how many, or -1. */
long sw_link_expire(struct sw_link_store *ls, int64_t before, char *err, size_t errlen);

/*
 * The failure times (unix ms) a source's next penalty counts: replaced as
 * a whole; n = 0 deletes. At most 64 times.
 */
#define SW_LINK_FAILS_MAX 64
int sw_fail_put(struct sw_link_store *ls, const char *addr, const int64_t *times, unsigned n, char *err,
		size_t errlen);
/* Every source's failure times, through @fn; the count or -1 with @err. */
long sw_fail_each(struct sw_link_store *ls,
		  void (*fn)(void *ctx, const char *addr, const int64_t *times, unsigned n), void *ctx, char *err,
		  size_t errlen);

#endif
