/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the MTA's log and the policy service tell about sources, turned
 * into kernel actions: the hints engine. Pure logic over a clock given by
 * the caller; the actions go through @ops (the daemon's: the kernel's
 * penalty and known-good programs and the accounts ledger; the tests':
 * recorders).
 *
 *   failed logins      a source (the kernel's source key: an IPv4 address,
 *                      an IPv6 /64 by default) with auth_failures failed
 *                      logins within auth_window gets a kernel penalty,
 *                      reason auth, through the program's own escalation;
 *   distributed guess  an account whose logins failed from guess_sources
 *                      different sources within guess_window is flagged
 *                      (the ledger's flag: notify, FILTER, optional
 *                      suspension by [accounts] origins_suspend);
 *   logins             a successful login forgives the source's earlier
 *                      failures; a login that sent mail (a client= line
 *                      with its username) makes the source known good
 *                      (emergency mode admits it), unless its account is
 *                      suspended or flagged, and is a login address of
 *                      the account;
 *   suspended account  a source that presented a suspended account's
 *                      credentials suspended_uses times within
 *                      suspended_window is penalised (reason auth);
 *   shared addresses   a source from which shared_accounts different
 *                      accounts logged in within shared_window (a
 *                      carrier-grade NAT, an office) is shared: it is
 *                      never penalised for one account's misuse; its
 *                      failures are still counted and shown.
 *
 * Memory is bounded: at most SW_HINTS_SOURCES sources and SW_HINTS_ACCOUNTS
 * accounts; when full, the entry idle longest is reused, and an
 * observation that finds no room is counted (table_full) and dropped. The
 * source-account links (logins, failures, last seen) are what `show ADDR`
 * and `account show` read: sw_hints_each_link() hands the changed ones to
 * the caller's store each second; sw_hints_load_link() restores them.
 */
#ifndef SW_HINTS_H
#define SW_HINTS_H

#include <stdbool.h>
#include <stdint.h>

#include "postfix_log.h"
#include "smtpwall/config.h"
#include "smtpwall/sources.h"

#define SW_HINTS_SOURCES	65536
#define SW_HINTS_ACCOUNTS	16384
#define SW_HINTS_LINKS		16	/* accounts remembered per source */
#define SW_HINTS_FAILS		64	/* failure times kept per source */
#define SW_HINTS_GUESSERS	64	/* failing sources kept per account */

/* sw_ctl_penalty.detail of a penalty for a suspended account's use */
#define SW_HINT_DETAIL_SUSPENDED 0x80000000u

struct sw_hints_conf {
	unsigned auth_failures;		/* 0: off */
	uint64_t auth_window_ms;
	unsigned guess_sources;		/* 0: off */
	uint64_t guess_window_ms;
	unsigned shared_accounts;	/* 0: no address is shared */
	uint64_t shared_window_ms;
	unsigned suspended_uses;	/* 0: off */
	uint64_t suspended_window_ms;
	bool vouch;			/* a login makes the source known good */
	bool monitor;			/* judge and report, give no penalty */
};

struct sw_hints_ops {
	/* 0, -ENOENT (no kernel state), -EALREADY (already penalised), -errno */
	int (*penalize)(void *ctx, const struct sw_src_key *key, uint32_t reason, uint32_t detail);
	/* @account logged in from @key; -EACCES: the account is not in good standing (not vouched) */
	int (*vouch)(void *ctx, const struct sw_src_key *key, const char *account);
	void (*flag)(void *ctx, const char *account, const char *why);
	/* every judgement, for the log and the event stream */
	void (*note)(void *ctx, const char *action, const struct sw_src_key *key, const char *account,
		     uint64_t count, const char *text);
	void *ctx;
};

struct sw_hints_stats {
	uint64_t failures, logins, suspended_uses;
	uint64_t penalties, penalties_suspended, already, no_state, penalty_errors;
	uint64_t shared_spared;		/* a penalty not given: the source is shared */
	uint64_t monitored;		/* a penalty not given: monitor mode */
	uint64_t vouches, vouch_errors, vouch_refused;
	uint64_t flags;
	uint64_t table_full;
};

/* One source-account link, for the store. */
struct sw_hints_link {
	struct sw_src_key key;
	char account[SW_MLOG_USER_LEN];	/* "" for failures without a username */
	int64_t first_seen, last_seen;	/* unix s */
	uint64_t logins, failures;
	int64_t last_login, last_failure;
};

struct sw_hints;

/* @masks: the kernel's aggregation masks (v4_mask, v6_mask) of sw_config. */
struct sw_hints *sw_hints_new(const struct sw_hints_conf *conf, const struct sw_config *masks,
			      const struct sw_hints_ops *ops);
void sw_hints_free(struct sw_hints *h);
/* A reload: new thresholds, the state is kept. */
void sw_hints_configure(struct sw_hints *h, const struct sw_hints_conf *conf);

/* One log line read by sw_mlog_parse(). */
void sw_hints_line(struct sw_hints *h, const struct sw_mlog *m, int64_t now_ms);
/* The policy service refused @account (suspended) for a request from @family/@addr. */
void sw_hints_suspended_use(struct sw_hints *h, uint8_t family, const uint8_t addr[16], const char *account,
			    int64_t now_ms);

/* The source key of an address under the masks. */
void sw_hints_key(const struct sw_hints *h, uint8_t family, const uint8_t addr[16], struct sw_src_key *key);
/* Is the source shared at @now_ms; *accounts gets the distinct login accounts in the window. */
bool sw_hints_shared(const struct sw_hints *h, const struct sw_src_key *key, int64_t now_ms, unsigned *accounts);
/* Failed logins of the source within auth_window. */
unsigned sw_hints_failures(const struct sw_hints *h, const struct sw_src_key *key, int64_t now_ms);

/* The links changed since the last call (@all: every one), then marked clean. */
void sw_hints_each_link(struct sw_hints *h, bool all, void (*fn)(void *ctx, const struct sw_hints_link *l),
			void *ctx);
/* A link from the store, at start. */
void sw_hints_load_link(struct sw_hints *h, const struct sw_hints_link *l);

/*
 * The failure times (unix ms, oldest first, within auth_window) of each
 * source whose failures changed since the last call (@all: every source),
 * for the store: a restart then keeps counting where it was. n = 0: none
 * left (the store deletes them).
 */
void sw_hints_each_failures(struct sw_hints *h, bool all, int64_t now_ms,
			    void (*fn)(void *ctx, const struct sw_src_key *key, const int64_t *times, unsigned n),
			    void *ctx);
/* Failure times from the store, at start; those in the future are ignored. */
void sw_hints_load_failures(struct sw_hints *h, const struct sw_src_key *key, const int64_t *times, unsigned n,
			    int64_t now_ms);

const struct sw_hints_stats *sw_hints_stats(const struct sw_hints *h);

#endif /* SW_HINTS_H */
