/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The accounts' tables in state.db (schema version 3):
 *
 *   accounts        one row per account with operator or policy state:
 *                   suspension, flag, abroad policy, overseas cap
 *                   override, limit overrides, own addresses. Written at
 *                   once, before the policy answer that depends on it.
 *   account_counts  the sliding windows and totals (an opaque blob the
 *                   ledger encodes), written once a second.
 *   account_addrs   the source addresses an account was used from.
 *   account_audit   every action on an account: when, who, what, why.
 *
 * The policy service and the CLI both write: every write changes only the
 * columns it is about (a suspension never rewrites an override the CLI
 * just set), and each is one transaction.
 */
#ifndef SW_STORE_ACCOUNTS_H
#define SW_STORE_ACCOUNTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "store.h"

#define SW_ACCOUNT_NAME_LEN   256
#define SW_ACCOUNT_REASON_LEN 256
#define SW_ACCOUNT_ACTOR_LEN  64
#define SW_ACCOUNT_ALIASES_LEN 512

/* Per-account limit overrides, by window: messages then recipients. */
enum sw_acct_limit {
	SW_LIM_MSG_MINUTE = 0, SW_LIM_MSG_HOUR, SW_LIM_MSG_DAY,
	SW_LIM_RCPT_MINUTE, SW_LIM_RCPT_HOUR, SW_LIM_RCPT_DAY,
	SW_LIM_N
};

#define SW_SUSPENDED_UNTIL_RESUMED INT64_MAX

/* The operator's and the policies' state of one account. -1: the config's default. */
struct sw_acct_policy {
	char name[SW_ACCOUNT_NAME_LEN];
	int64_t created_at;
	int64_t suspended_at;		/* unix s; 0: not suspended */
	int64_t suspended_until;	/* unix s, SW_SUSPENDED_UNTIL_RESUMED; 0: not suspended */
	char suspend_reason[SW_ACCOUNT_REASON_LEN];
	char suspend_by[SW_ACCOUNT_ACTOR_LEN];
	int64_t flagged_at;		/* 0: not flagged */
	char flag_reason[SW_ACCOUNT_REASON_LEN];
	int abroad;			/* -1 default, 0 allowed, 1 refused */
	int64_t overseas_limit;		/* -1 default */
	int64_t overseas_until;		/* the override's end, unix s; 0: none */
	int64_t limits[SW_LIM_N];	/* -1 default, 0 off */
	char aliases[SW_ACCOUNT_ALIASES_LEN];	/* own sender addresses, comma separated */
};

/* Which columns a write changes. */
enum {
	SW_AP_SUSPEND = 1 << 0,		/* suspended_at, suspended_until, suspend_reason, suspend_by */
	SW_AP_FLAG = 1 << 1,		/* flagged_at, flag_reason */
	SW_AP_ABROAD = 1 << 2,
	SW_AP_OVERSEAS = 1 << 3,	/* overseas_limit, overseas_until */
	SW_AP_LIMITS = 1 << 4,
	SW_AP_ALIASES = 1 << 5,
};

struct sw_acct_counts {
	int64_t first_seen, last_seen;
	uint64_t messages, recipients, refused;
	const void *windows;		/* the ledger's encoding */
	size_t windows_len;
};

struct sw_acct_addr {
	char addr[64];			/* an address or an IPv6 /64 as text */
	char country[3];		/* "" unknown */
	int64_t first_seen, last_seen;
	uint64_t messages;
};

struct sw_acct_audit {
	int64_t id, at;
	char actor[SW_ACCOUNT_ACTOR_LEN];	/* "policy", "cli", "cli:uid" */
	char action[32];			/* suspended, resumed, flagged, set, ... */
	char reason[SW_ACCOUNT_REASON_LEN];
	char detail[SW_ACCOUNT_REASON_LEN];	/* the figures, the settings changed */
};

/* A row of `account list` / `accounts top`. */
struct sw_acct_row {
	struct sw_acct_policy p;
	struct sw_acct_counts c;	/* windows: read them from @blob (rows move when sorted) */
	uint8_t blob[1024];
	bool has_counts;
};

struct sw_acct_store;

/* Statements over an open store; close before the store. NULL with @err on failure. */
struct sw_acct_store *sw_acct_store_open(struct sw_store *st, char *err, size_t errlen);
void sw_acct_store_close(struct sw_acct_store *as);

/* 1 found (into @p), 0 none (@p set to defaults for @name), -1 error. */
int sw_acct_policy_get(struct sw_acct_store *as, const char *name, struct sw_acct_policy *p, char *err,
		       size_t errlen);
/*
 * Write the columns of @fields from @p (creating the row) and, if @audit,
 * one audit record, in one transaction. 0 or -1 with @err.
 */
int sw_acct_policy_put(struct sw_acct_store *as, const struct sw_acct_policy *p, unsigned fields,
		       const struct sw_acct_audit *audit, char *err, size_t errlen);
void sw_acct_policy_defaults(struct sw_acct_policy *p, const char *name);

/* Counters: 1 found, 0 none, -1 error; @blob receives the windows (up to @bloblen). */
int sw_acct_counts_get(struct sw_acct_store *as, const char *name, struct sw_acct_counts *c, void *blob,
		       size_t bloblen, char *err, size_t errlen);

/* The once-a-second flush: begin, any number of puts, commit (rollback on error). */
int sw_acct_begin(struct sw_acct_store *as, char *err, size_t errlen);
int sw_acct_commit(struct sw_acct_store *as, char *err, size_t errlen);
void sw_acct_rollback(struct sw_acct_store *as);
int sw_acct_counts_put(struct sw_acct_store *as, const char *name, const struct sw_acct_counts *c, char *err,
		       size_t errlen);
int sw_acct_addr_put(struct sw_acct_store *as, const char *name, const struct sw_acct_addr *a, char *err,
		     size_t errlen);

/* Addresses of @name, most recently used first, at most @max; *out malloc'd. */
int sw_acct_addrs(struct sw_acct_store *as, const char *name, int max, struct sw_acct_addr **out, int *n,
		  char *err, size_t errlen);
/* The audit trail of @name, oldest first, the last @max; *out malloc'd. */
int sw_acct_audit_list(struct sw_acct_store *as, const char *name, int max, struct sw_acct_audit **out,
		       int *n, char *err, size_t errlen);

enum sw_acct_filter { SW_AF_ALL = 0, SW_AF_SUSPENDED, SW_AF_FLAGGED };
/* Accounts (policy and counts), by name; suspended: those suspended at @now. *out malloc'd. */
int sw_acct_list(struct sw_acct_store *as, enum sw_acct_filter f, int64_t now, struct sw_acct_row **out,
		 int *n, char *err, size_t errlen);

/*
 * The daemon's poll for the CLI's changes: every account row written after
 * @since_ms (unix ms), through @each; *newest_ms is raised to the newest.
 * Returns how many, or -1 with @err.
 */
int sw_acct_changed_since(struct sw_acct_store *as, int64_t since_ms, int64_t *newest_ms,
			  void (*each)(void *ctx, const struct sw_acct_policy *p), void *ctx, char *err,
			  size_t errlen);
/* SQLite's PRAGMA data_version: changes when another connection commits. -1 on error. */
int64_t sw_acct_data_version(struct sw_acct_store *as);

#endif
