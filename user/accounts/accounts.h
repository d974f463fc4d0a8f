/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The accounts ledger and its policies: what the policy service decides
 * for one Postfix request. Each account (the SASL login; unauthenticated
 * mail from [accounts] relay_networks is an account named "client:ADDR")
 * has sliding windows of messages and recipients (a minute, an hour, a
 * day, and the overseas window), its source addresses with their
 * countries and last use, and the operator's and the policies' state
 * (store_accounts.h).
 *
 * The windows are 12 buckets of a twelfth of the window each, plus the
 * bucket sliding out, counted in proportion to the part of it still
 * inside the window: a sliding window within 1/12 of a bucket's count.
 *
 * Decisions that change an account (a suspension, a flag, an expired
 * override) are committed to state.db before the answer that depends on
 * them; counts and addresses are written once a second (sw_accounts_flush,
 * or its halves on a writer thread).
 * Accounts live in memory from their first request after a start, read
 * back from state.db then, and leave memory after two days unused.
 */
#ifndef SW_ACCOUNTS_H
#define SW_ACCOUNTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "policy_proto.h"
#include "store_accounts.h"

struct sw_accounts;

/* Where a request comes from, as the service classified it. */
struct sw_origin {
	char key[64];		/* the address, or its /64 for IPv6 (the [limits] prefixes) */
	uint16_t country;	/* SW_COUNTRY_* id; SW_COUNTRY_UNKNOWN or NONE if not known */
	bool abroad;		/* a known country, not one of [geo] home (none configured: never) */
};

enum sw_verdict_kind { SW_V_DUNNO = 0, SW_V_REFUSE, SW_V_WARN, SW_V_FILTER };

/* The policies, for counters and messages. */
enum sw_policy_id {
	SW_POL_NONE = 0,
	SW_POL_SUSPENDED,	/* the account is suspended (by a limit, a flag or an operator) */
	SW_POL_LIMITS,		/* a send limit was reached: the account is suspended */
	SW_POL_OVERSEAS,	/* the overseas cap */
	SW_POL_ABROAD,		/* no sending from abroad */
	SW_POL_MISMATCH,	/* a foreign sender address from abroad */
	SW_POL_ORIGINS,		/* used from too many countries or addresses */
	SW_POL_FILTER,		/* a flagged account's mail routed apart */
	SW_POL_N
};
const char *sw_policy_name(enum sw_policy_id p);

struct sw_verdict {
	enum sw_verdict_kind kind;
	enum sw_policy_id policy;	/* what decided, SW_POL_NONE for DUNNO */
	char action[512];		/* the whole reply line's value, after "action=" */
};

/* Calls the service back when an account is flagged (the notify command). */
typedef void (*sw_accounts_flag_fn)(void *ctx, const char *account, const char *reason);

/* The ledger over an open accounts store (not owned). NULL with @err. */
struct sw_accounts *sw_accounts_new(struct sw_acct_store *as, const struct sw_settings *s, char *err,
				    size_t errlen);
void sw_accounts_free(struct sw_accounts *A);
/* New settings (a reload): kept by pointer. */
void sw_accounts_set_settings(struct sw_accounts *A, const struct sw_settings *s);
void sw_accounts_on_flag(struct sw_accounts *A, sw_accounts_flag_fn fn, void *ctx);

/*
 * The decision for one well-formed request at @now_ms (unix ms). The
 * account is the request's sasl_username, or "client:" + @o->key for an
 * unauthenticated request from a relay network; anything else is DUNNO.
 * Never fails: an internal fault (state.db unwritable) is logged and
 * decided as if it had not happened.
 */
void sw_accounts_decide(struct sw_accounts *A, const struct sw_policy_req *r, const struct sw_origin *o,
			int64_t now_ms, struct sw_verdict *v);

/*
 * Flag @name for what another part saw (the mail-log follower: a
 * distributed guess), committed with its audit record; the notify command
 * runs; @suspend_too suspends its sending as well. @reason is the event's
 * machine-readable cause ("guess"), @source the address it came from.
 * 1 flagged, 0 already flagged, -1 out of memory.
 */
int sw_accounts_flag(struct sw_accounts *A, const char *name, const char *reason, const char *why,
		     const char *source, bool suspend_too, int64_t now_ms);

/* Neither suspended nor flagged (an account not in memory is). */
bool sw_accounts_in_good_standing(struct sw_accounts *A, const char *name, int64_t now_ms);

/*
 * The once-a-second save. sw_accounts_flush does it all on the caller's
 * thread: writes the changed counts and addresses, retries policy writes
 * that failed, follows the CLI's changes and lets unused accounts go.
 * 0 or -1 with @err.
 *
 * Or in halves, so that the write runs on a thread of its own with its own
 * store connection. sw_accounts_take copies the changed counts into a
 * batch and marks them saved: *out is a batch to fill again (one already
 * written, so that nothing is allocated) or NULL; it comes back with the
 * changes, holding none (sw_acct_batch_accounts 0) or NULL if nothing
 * changed. sw_acct_batch_write writes a batch in one transaction (any
 * thread, any connection to the same state.db). After a failed write,
 * sw_accounts_unsaved marks the batch's accounts changed again, for the
 * next batch. sw_accounts_upkeep is the rest of the flush, on the
 * ledger's thread. Only the write may leave the ledger's thread.
 */
struct sw_acct_batch;
int sw_accounts_flush(struct sw_accounts *A, int64_t now_ms, char *err, size_t errlen);
int sw_accounts_take(struct sw_accounts *A, struct sw_acct_batch **out, char *err, size_t errlen);
int sw_acct_batch_write(struct sw_acct_store *as, struct sw_acct_batch *b, char *err, size_t errlen);
void sw_accounts_unsaved(struct sw_accounts *A, const struct sw_acct_batch *b);
int sw_accounts_upkeep(struct sw_accounts *A, int64_t now_ms, char *err, size_t errlen);
size_t sw_acct_batch_accounts(const struct sw_acct_batch *b);
void sw_acct_batch_free(struct sw_acct_batch *b);

/* Accounts in memory, and those suspended or flagged among them. */
void sw_accounts_census(const struct sw_accounts *A, unsigned *in_memory, unsigned *suspended,
			unsigned *flagged);

/* ---- the windows, shared with the CLI ---- */

enum sw_acct_window { SW_W_MINUTE = 0, SW_W_HOUR, SW_W_DAY, SW_W_N };

/* The counts a windows blob holds at @now_ms: messages and recipients by window, overseas messages. */
struct sw_acct_figures {
	uint64_t messages[SW_W_N], recipients[SW_W_N];
	uint64_t overseas;
	uint64_t overseas_window_ms;
};
/* 0, or -1 if @blob is not a windows encoding this build knows. */
int sw_accounts_figures(const void *blob, size_t len, int64_t now_ms, struct sw_acct_figures *f);
const char *sw_acct_window_name(enum sw_acct_window w);

/* Is @sender one of the account's own addresses (login, login@sender_domains, aliases)? */
bool sw_accounts_sender_own(const char *login, const char *sender, const char *sender_domains,
			    const char *aliases);

#endif
